//! Causal rational resampling of a live multichannel stream ([`CausalResampler`]), sample by
//! sample: a live amplifier's rate (e.g. 160 Hz) to the model's (e.g. 80 Hz) as samples
//! arrive, without looking ahead.
//!
//! Method: polyphase FIR resampling by L/M (upsample by L, low-pass, downsample by M), the
//! filter designed as `scipy.signal.resample_poly` designs it (`firwin(2·10·max(L, M) + 1,
//! 1/max(L, M), window=('kaiser', 5.0))`, unit DC gain, × L). scipy shifts the output by the
//! filter's group delay to make it zero-phase, which needs samples from the future; here the
//! output is the causal filter's, so it lags the input by [`CausalResampler::delay_s`]
//! (half the filter: 10·max(L, M)/L input samples, e.g. 125 ms for 160 → 80 Hz). Output
//! sample m is the filtered up-sampled signal at up-sampled index m·M, produced as soon as
//! the input sample ⌊m·M / L⌋ arrives (Crochiere & Rabiner, *Multirate Digital Signal
//! Processing*, 1983, §4.3).
//!
//! The training loader resamples whole runs with an FFT (MNE's method, non-causal), so a
//! causally resampled stream differs from a replayed file by the filter's delay and its
//! transition band; stream at the model's rate where exact agreement with training matters.

/// Largest up- or down-sampling factor accepted (rates must be in a ratio L/M with both
/// ≤ this after reduction, e.g. 250 → 80 Hz is 8/25).
pub const MAX_FACTOR: u64 = 1000;

/// Half-length of the filter per max(L, M), as scipy's `resample_poly`.
const HALF_LEN_PER_FACTOR: usize = 10;

/// Kaiser window β, as scipy's `resample_poly` default (`('kaiser', 5.0)`).
const KAISER_BETA: f64 = 5.0;

/// Why a rate pair cannot be resampled.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RateError {
    /// A rate is not finite and positive.
    #[error("sampling rate {0} Hz is not finite and positive")]
    BadRate(f64),
    /// The ratio needs factors above [`MAX_FACTOR`].
    #[error("cannot resample {from} Hz to {to} Hz: the ratio is not a fraction L/M with L, M ≤ {MAX_FACTOR} (use rates with at most 3 decimals)")]
    Ratio {
        /// input rate, Hz
        from: f64,
        /// output rate, Hz
        to: f64,
    },
}

/// Greatest common divisor.
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// (L, M) with `to / from` = L / M, reduced, both ≤ [`MAX_FACTOR`]; rates are read to
/// 1 mHz.
pub fn ratio(from: f64, to: f64) -> Result<(u64, u64), RateError> {
    for r in [from, to] {
        if !(r.is_finite() && r > 0.0) {
            return Err(RateError::BadRate(r));
        }
    }
    let milli = |r: f64| (r * 1e3).round();
    let (a, b) = (milli(to), milli(from));
    // a rate with more than 3 decimals (beyond f64 rounding of the × 1e3) has no exact ratio
    let exact = (a - to * 1e3).abs() < 1e-6 && (b - from * 1e3).abs() < 1e-6;
    if !exact || a < 1.0 || b < 1.0 || a > 1e15 || b > 1e15 {
        return Err(RateError::Ratio { from, to });
    }
    let (a, b) = (a as u64, b as u64);
    let g = gcd(a, b);
    let (l, m) = (a / g, b / g);
    if l > MAX_FACTOR || m > MAX_FACTOR {
        return Err(RateError::Ratio { from, to });
    }
    Ok((l, m))
}

/// Zeroth-order modified Bessel function of the first kind (power series; converges for the
/// Kaiser window's arguments ≤ β).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, q) = (1.0, 1.0, x * x / 4.0);
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// `sin(πx)/(πx)`.
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = core::f64::consts::PI * x;
        px.sin() / px
    }
}

/// The anti-aliasing filter of L/M resampling: `firwin(2·h + 1, 1/max, kaiser(5))` (unit DC
/// gain) × L, h = 10·max(L, M).
pub fn design(l: u64, m: u64) -> Vec<f64> {
    let max = l.max(m) as usize;
    let n = 2 * HALF_LEN_PER_FACTOR * max + 1;
    let fc = 1.0 / max as f64; // cutoff relative to the up-sampled Nyquist rate
    let alpha = (n - 1) as f64 / 2.0;
    let i0_beta = bessel_i0(KAISER_BETA);
    let mut h: Vec<f64> = (0..n)
        .map(|k| {
            let x = k as f64 - alpha;
            let r = x / alpha;
            let w = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
            fc * sinc(fc * x) * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v *= l as f64 / sum;
    }
    h
}

/// A causal L/M resampler for C channels (see the [module docs](self)). Memory: the filter
/// and ⌈taps / L⌉ past input frames; nothing is allocated per sample.
#[derive(Clone, Debug)]
pub struct CausalResampler {
    up: u64,
    down: u64,
    channels: usize,
    /// the filter, f64 (taps)
    h: Vec<f64>,
    /// ring of past input frames, (H, C); frame of input i at slot i mod H
    history: Vec<f32>,
    /// H: frames kept
    frames: usize,
    /// inputs consumed
    inputs: u64,
    /// index of the next output
    next_out: u64,
}

impl CausalResampler {
    /// A resampler from `from` Hz to `to` Hz for `channels` channels (≥ 1). Errors:
    /// [`RateError`].
    pub fn new(from: f64, to: f64, channels: usize) -> Result<Self, RateError> {
        let (up, down) = ratio(from, to)?;
        let h = design(up, down);
        let frames = h.len().div_ceil(up as usize);
        Ok(Self {
            up,
            down,
            channels,
            h,
            history: vec![0.0; frames * channels.max(1)],
            frames,
            inputs: 0,
            next_out: 0,
        })
    }

    /// (L, M): the output rate is the input rate × L / M.
    pub fn factors(&self) -> (u64, u64) {
        (self.up, self.down)
    }

    /// The filter's group delay, seconds at the input rate `from` Hz.
    pub fn delay_s(&self, from: f64) -> f64 {
        (self.h.len() - 1) as f64 / 2.0 / self.up as f64 / from
    }

    /// Consumes one input frame (C values) and calls `emit` with every output frame (C values)
    /// it completes: 0 or more (at most ⌈L / M⌉). `frame.len()` must be C (debug-asserted;
    /// the caller checked the stream's channel count).
    pub fn push(&mut self, frame: &[f32], out: &mut [f32], mut emit: impl FnMut(&[f32])) {
        let c = self.channels;
        debug_assert_eq!(frame.len(), c);
        let slot = (self.inputs % self.frames as u64) as usize;
        self.history[slot * c..(slot + 1) * c].copy_from_slice(frame);
        let newest = self.inputs;
        self.inputs += 1;
        // output m needs the up-sampled index m·M, i.e. input ⌊m·M / L⌋ ≤ newest
        while self.next_out * self.down < self.inputs * self.up {
            let j = self.next_out * self.down;
            let (i0, phase) = (j / self.up, (j % self.up) as usize);
            debug_assert!(i0 <= newest);
            self.output(i0, phase, &mut out[..c]);
            emit(&out[..c]);
            self.next_out += 1;
        }
    }

    /// y at up-sampled index i0·L + phase: Σ_k h[phase + k·L] · x[i0 − k] over the kept
    /// inputs (inputs before the first are zero).
    fn output(&self, i0: u64, phase: usize, out: &mut [f32]) {
        let c = self.channels;
        let mut acc = [0.0f64; 64];
        for chunk in 0..c.div_ceil(64) {
            let (lo, hi) = (chunk * 64, (chunk * 64 + 64).min(c));
            acc[..hi - lo].fill(0.0);
            let mut tap = phase;
            let mut k = 0u64;
            while tap < self.h.len() && k <= i0 {
                let slot = ((i0 - k) % self.frames as u64) as usize;
                let x = &self.history[slot * c + lo..slot * c + hi];
                let w = self.h[tap];
                for (a, &v) in acc.iter_mut().zip(x) {
                    *a += w * v as f64;
                }
                tap += self.up as usize;
                k += 1;
            }
            for (o, a) in out[lo..hi].iter_mut().zip(&acc) {
                *o = *a as f32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a single-channel signal through the resampler.
    fn run(from: f64, to: f64, x: &[f32]) -> Vec<f32> {
        let mut r = CausalResampler::new(from, to, 1).unwrap();
        let (mut out, mut y) = (vec![0.0f32; 1], Vec::new());
        for &v in x {
            r.push(&[v], &mut out, |f| y.push(f[0]));
        }
        y
    }

    #[test]
    fn ratios_reduce_and_refuse() {
        assert_eq!(ratio(160.0, 80.0), Ok((1, 2)));
        assert_eq!(ratio(250.0, 80.0), Ok((8, 25)));
        assert_eq!(ratio(80.0, 160.0), Ok((2, 1)));
        assert_eq!(ratio(512.0, 80.0), Ok((5, 32)));
        assert_eq!(ratio(80.0, 80.0), Ok((1, 1)));
        assert!(matches!(ratio(0.0, 80.0), Err(RateError::BadRate(_))));
        assert!(matches!(ratio(f64::NAN, 80.0), Err(RateError::BadRate(_))));
        assert!(matches!(
            ratio(160.0001, 80.0),
            Err(RateError::Ratio { .. })
        ));
        assert!(matches!(
            ratio(1009.0, 1013.0),
            Err(RateError::Ratio { .. })
        ));
    }

    #[test]
    fn filter_matches_scipy_firwin_properties() {
        // scipy.signal.firwin(41, 0.5, window=('kaiser', 5.0)) × 1: symmetric, unit DC gain,
        // centre tap = cutoff (0.5) / its window-weighted sum
        let h = design(1, 2);
        assert_eq!(h.len(), 41);
        let sum: f64 = h.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12);
        for k in 0..h.len() {
            assert!((h[k] - h[h.len() - 1 - k]).abs() < 1e-15);
        }
        // every second tap but the centre is zero (half-band filter)
        for k in (0..h.len()).filter(|k| (k % 2 == 0) && *k != 20) {
            assert!(h[k].abs() < 1e-15, "tap {k} = {}", h[k]);
        }
        // up-sampling by L scales the taps so the DC gain per output phase is 1
        let h2 = design(2, 1);
        let even: f64 = h2.iter().step_by(2).sum();
        let odd: f64 = h2.iter().skip(1).step_by(2).sum();
        assert!(
            (even - 1.0).abs() < 1e-3 && (odd - 1.0).abs() < 1e-3,
            "{even} {odd}"
        );
    }

    #[test]
    fn output_count_follows_the_ratio() {
        for (from, to, n_in, n_out) in [
            (160.0, 80.0, 1000, 500),
            (80.0, 160.0, 100, 200),
            (250.0, 80.0, 2500, 800),
            (80.0, 80.0, 77, 77),
        ] {
            assert_eq!(
                run(from, to, &vec![0.0; n_in]).len(),
                n_out,
                "{from} → {to}"
            );
        }
    }

    #[test]
    fn passband_tone_is_kept_with_the_stated_delay() {
        // 10 Hz (mu band) at 160 Hz → 80 Hz: after the transient, y[m] = x(t_m − delay)
        for (from, to) in [(160.0, 80.0), (250.0, 80.0), (80.0, 160.0)] {
            let f = 10.0;
            let x: Vec<f32> = (0..(from as usize * 4))
                .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / from).sin() as f32)
                .collect();
            let y = run(from, to, &x);
            let r = CausalResampler::new(from, to, 1).unwrap();
            let delay = r.delay_s(from);
            let mut worst = 0.0f64;
            for (m, &v) in y.iter().enumerate().skip(to as usize) {
                let t = m as f64 / to - delay;
                let want = (2.0 * std::f64::consts::PI * f * t).sin();
                worst = worst.max((v as f64 - want).abs());
            }
            assert!(worst < 2e-3, "{from} → {to}: worst {worst}");
        }
    }

    #[test]
    fn tone_above_the_new_nyquist_is_suppressed() {
        // 60 Hz at 160 Hz would alias to 20 Hz at 80 Hz: the filter removes it (> 40 dB)
        let x: Vec<f32> = (0..640)
            .map(|i| (2.0 * std::f64::consts::PI * 60.0 * i as f64 / 160.0).sin() as f32)
            .collect();
        let y = run(160.0, 80.0, &x);
        let peak = y[80..].iter().fold(0.0f32, |a, v| a.max(v.abs()));
        assert!(peak < 0.01, "aliased peak {peak}");
    }

    #[test]
    fn is_causal_and_channels_are_independent() {
        // editing input n changes no output produced before input n arrived
        let x: Vec<f32> = (0..300).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
        let mut x2 = x.clone();
        x2[200] += 100.0;
        let (a, b) = (run(160.0, 80.0, &x), run(160.0, 80.0, &x2));
        // inputs 0..=199 produce outputs m with ⌊2m⌋ ≤ 199, i.e. m ≤ 99
        assert_eq!(a[..100], b[..100]);
        assert_ne!(a[100..], b[100..]);
        // two channels = each channel alone
        let mut r = CausalResampler::new(250.0, 80.0, 2).unwrap();
        let (mut out, mut y) = (vec![0.0f32; 2], Vec::new());
        for (&u, &v) in x.iter().zip(&x2) {
            r.push(&[u, v], &mut out, |f| y.push((f[0], f[1])));
        }
        let (ya, yb) = (run(250.0, 80.0, &x), run(250.0, 80.0, &x2));
        assert_eq!(y.iter().map(|p| p.0).collect::<Vec<_>>(), ya);
        assert_eq!(y.iter().map(|p| p.1).collect::<Vec<_>>(), yb);
    }
}
