//! Training health: what a step does with a non-finite loss or gradient, and a detector of
//! loss and gradient-norm outliers (after llm.c's `llmc/outlier_detector.h`: the z-score of a
//! value against the mean and standard deviation of the previous [`WINDOW`] values).
use serde::{Deserialize, Serialize};

/// Values the outlier statistics are taken over (llm.c's `OUTLIER_DETECTOR_WINDOW_SIZE`).
pub const WINDOW: usize = 128;
/// Values needed before a z-score is reported.
const WARM_UP: usize = 32;
/// z-score above which a value is reported as an outlier.
pub const Z_OUTLIER: f64 = 5.0;

/// What a training step does when its loss or gradient is NaN or infinite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnNonFinite {
    /// stop the run with an error naming the epoch, the step and the tensor
    #[default]
    Stop,
    /// skip the step (no parameter update), count and report it, and go on
    Skip,
}

/// Sliding-window z-scores of a scalar series.
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    buf: [f64; WINDOW],
    /// values seen (the window holds the last min(n, WINDOW))
    n: usize,
    sum: f64,
    sum_sq: f64,
}

impl Default for OutlierDetector {
    fn default() -> Self {
        Self {
            buf: [0.0; WINDOW],
            n: 0,
            sum: 0.0,
            sum_sq: 0.0,
        }
    }
}

impl OutlierDetector {
    /// The z-score of `v` against the window so far (`None` during the first values or when
    /// the window has no spread), then `v` joins the window. Non-finite values are not added.
    pub fn update(&mut self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            return None;
        }
        let k = self.n.min(WINDOW) as f64;
        let z = (self.n >= WARM_UP)
            .then(|| {
                let mean = self.sum / k;
                let var = (self.sum_sq / k - mean * mean).max(0.0);
                let sd = var.sqrt();
                (sd > 1e-12 * mean.abs().max(1e-30)).then(|| (v - mean) / sd)
            })
            .flatten();
        let slot = self.n % WINDOW;
        if self.n >= WINDOW {
            let old = self.buf[slot];
            self.sum -= old;
            self.sum_sq -= old * old;
        }
        self.buf[slot] = v;
        self.sum += v;
        self.sum_sq += v * v;
        self.n += 1;
        z
    }
}

/// The first parameter tensor (in layout order) holding a non-finite gradient: its name.
pub fn first_nonfinite(layout: &crate::params::ParamLayout, grads: &[f32]) -> Option<String> {
    layout
        .specs()
        .iter()
        .find(|e| grads[e.range.clone()].iter().any(|g| !g.is_finite()))
        .map(|e| e.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spike_is_an_outlier_and_noise_is_not() {
        let mut d = OutlierDetector::default();
        let mut worst = 0.0f64;
        for i in 0..300 {
            // a deterministic wiggle around 1.0 (spread ≈ 0.03)
            let v = 1.0 + 0.05 * ((i * 37 % 11) as f64 / 11.0 - 0.5);
            if let Some(z) = d.update(v) {
                worst = worst.max(z.abs());
            }
        }
        assert!(worst < Z_OUTLIER, "noise scored z = {worst}");
        let z = d.update(3.0).expect("warm");
        assert!(z > 20.0, "spike scored z = {z}");
        assert_eq!(d.update(f64::NAN), None);
    }

    #[test]
    fn no_score_before_warm_up() {
        let mut d = OutlierDetector::default();
        for i in 0..WARM_UP {
            assert_eq!(d.update(i as f64), None);
        }
        assert!(d.update(1.0).is_some());
    }
}
