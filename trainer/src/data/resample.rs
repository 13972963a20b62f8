//! FFT resampling of whole runs, reproducing MNE's `raw.resample(sfreq, npad='auto')`
//! (MNE ≥ 1.7, `method='fft'`, `window='auto'` → boxcar, `pad='auto'` → `'reflect_limited'`),
//! as called per run by the reference loader `data_loaders/Load_PhysioNet_EEG_NoPrompt.py`.
//!
//! # Algorithm (one channel of length n, ratio r = to_sfreq / from_sfreq)
//! This follows `mne.filter.resample` → `_resample_fft` → `mne.cuda._fft_resample`:
//! 1. `final_len = max(round(r·n), 1)` (Python `round`, half to even).
//! 2. `npad = 'auto'`: `min_add = 2·min(n / 8, 100)` (integer division);
//!    `total = 2^⌈log2(n + min_add)⌉ − n`; left pad `total / 2`, right pad `total / 2 +
//!    total % 2`. The padded length `L = n + total` is a power of two
//!    (EEGMMIDB: n = 20 000 → pads 6 384 + 6 384; n = 19 680 → 6 544 + 6 544; L = 32 768).
//! 3. Pad with `'reflect_limited'` (MNE `_smart_pad`): odd reflection about the end samples,
//!    `2·x[0] − x[k]` for k = npad_left…1 on the left and `2·x[n−1] − x[n−1−k]` for
//!    k = 1…npad_right on the right; where the pad is longer than n − 1 the far end is zeros.
//! 4. `new_len = max(round(r·L), 1)`; `X = rfft(padded)`.
//! 5. Nyquist handling: `use_len = new_len` when shortening, else `L`; if `use_len` is even the
//!    bin `use_len/2` is multiplied by 2 (shortening) or 0.5 (lengthening).
//! 6. Multiply by the boxcar window, i.e. by the constant `new_len / L`.
//! 7. `y = irfft(X, new_len)` (spectrum truncated or zero-extended to `new_len/2 + 1` bins; the
//!    imaginary parts of the DC and, for even `new_len`, Nyquist bins are ignored, as in
//!    pocketfft's c2r), normalised by `1/new_len`.
//! 8. Strip `round(r·npad_left)` samples at the start and `new_len − final_len − that` at the
//!    end, leaving `final_len` samples.
//!
//! When `to_sfreq == from_sfreq` the data are returned unchanged (MNE's
//! `_check_resamp_noop`), so 160 Hz EEGMMIDB data are never touched.
//!
//! # Differences from MNE
//! * The FFTs are rustfft complex FFTs of the full length (the real input is promoted to
//!   complex; the inverse is built from the Hermitian-completed half spectrum) instead of
//!   pocketfft's real FFTs. The arithmetic is the same up to floating-point round-off
//!   (≈1e-16 relative in f64). Against MNE 1.13.2's epochs of EEGMMIDB S001 at 40 and 80 Hz
//!   (`shared/fixtures/eeg`, checked by the `data_eegmmidb` integration test) every f32 value
//!   is identical (max abs difference 0).
//! * Only the defaults used by the reference are implemented: boxcar window, `'reflect_limited'`
//!   padding, `npad='auto'` (a fixed npad is available through [`FftResampler::with_npad`]).
//!   No CUDA, no polyphase method, no stim-channel handling (EEG channels only).
//!
//! Data are channel-major `(C, T)` slices of `f64`; units are preserved (volts in, volts out).

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Python's `round()` for floats: round half to even.
pub fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// MNE's `npad='auto'` padding for a signal of `n` samples: `(left, right)`.
pub fn auto_npad(n: usize) -> (usize, usize) {
    let min_add = (n / 8).min(100) * 2;
    let total = (n + min_add).next_power_of_two() - n;
    (total / 2, total / 2 + total % 2)
}

/// Longest FFT (samples per channel, input padded or output) a resampling plan may use: 2^25
/// (58 h at 160 Hz; a complex f64 buffer of 512 MiB). Longer plans come only from absurd
/// rates or lengths, and are refused before anything is allocated ([`check_plan`]).
pub const MAX_PLAN_LEN: usize = 1 << 25;

/// A resampling that cannot be planned.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A rate is not finite and positive.
    #[error(
        "cannot resample from {from_sfreq} Hz to {to_sfreq} Hz: rates must be finite and positive"
    )]
    BadRate {
        /// source rate, Hz
        from_sfreq: f64,
        /// target rate, Hz
        to_sfreq: f64,
    },
    /// The plan would exceed [`MAX_PLAN_LEN`].
    #[error(
        "resampling {n_in} samples from {from_sfreq} Hz to {to_sfreq} Hz needs an FFT of \
         {len:e} samples, more than the {MAX_PLAN_LEN} allowed"
    )]
    TooLarge {
        /// input samples per channel
        n_in: usize,
        /// source rate, Hz
        from_sfreq: f64,
        /// target rate, Hz
        to_sfreq: f64,
        /// the FFT length the plan would need
        len: f64,
    },
}

/// Checks, before planning, that [`FftResampler::new`]`(n_in, from_sfreq, to_sfreq)` can be
/// planned: both rates finite and positive, and every FFT within [`MAX_PLAN_LEN`].
///
/// # Errors
/// [`PlanError::BadRate`], [`PlanError::TooLarge`] (with the length the plan would need).
pub fn check_plan(n_in: usize, from_sfreq: f64, to_sfreq: f64) -> Result<(), PlanError> {
    if !(from_sfreq.is_finite() && from_sfreq > 0.0 && to_sfreq.is_finite() && to_sfreq > 0.0) {
        return Err(PlanError::BadRate {
            from_sfreq,
            to_sfreq,
        });
    }
    let (l, r) = auto_npad(n_in.min(MAX_PLAN_LEN));
    let padded = (n_in + l + r) as f64;
    let len = padded.max(padded * to_sfreq / from_sfreq);
    if n_in > MAX_PLAN_LEN || len > MAX_PLAN_LEN as f64 {
        return Err(PlanError::TooLarge {
            n_in,
            from_sfreq,
            to_sfreq,
            len,
        });
    }
    Ok(())
}

/// A planned resampler for signals of a fixed length `n_in` and a fixed ratio.
pub struct FftResampler {
    n_in: usize,
    final_len: usize,
    npads: (usize, usize),
    padded_len: usize,
    new_len: usize,
    to_remove_left: usize,
    identity: bool,
    fwd: Option<Arc<dyn Fft<f64>>>,
    inv: Option<Arc<dyn Fft<f64>>>,
}

impl std::fmt::Debug for FftResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FftResampler")
            .field("n_in", &self.n_in)
            .field("final_len", &self.final_len)
            .field("npads", &self.npads)
            .field("padded_len", &self.padded_len)
            .field("new_len", &self.new_len)
            .field("identity", &self.identity)
            .finish()
    }
}

impl FftResampler {
    /// Plan resampling of `n_in`-sample signals from `from_sfreq` to `to_sfreq` (Hz) with
    /// MNE's `npad='auto'`.
    ///
    /// # Panics
    /// If a rate is not finite and positive.
    pub fn new(n_in: usize, from_sfreq: f64, to_sfreq: f64) -> Self {
        Self::with_npad(n_in, from_sfreq, to_sfreq, auto_npad(n_in))
    }

    /// As [`FftResampler::new`] for rates and lengths that come from input (a file's header, a
    /// model card): checked by [`check_plan`] before anything is planned or allocated.
    ///
    /// # Errors
    /// [`PlanError::BadRate`], [`PlanError::TooLarge`].
    pub fn try_new(n_in: usize, from_sfreq: f64, to_sfreq: f64) -> Result<Self, PlanError> {
        check_plan(n_in, from_sfreq, to_sfreq)?;
        Ok(Self::new(n_in, from_sfreq, to_sfreq))
    }

    /// As [`FftResampler::new`] with explicit `(left, right)` padding (MNE's integer `npad`
    /// gives `(npad, npad)`).
    ///
    /// # Panics
    /// If a rate is not finite and positive.
    pub fn with_npad(n_in: usize, from_sfreq: f64, to_sfreq: f64, npads: (usize, usize)) -> Self {
        assert!(
            from_sfreq.is_finite() && from_sfreq > 0.0 && to_sfreq.is_finite() && to_sfreq > 0.0,
            "sample rates must be finite and positive ({from_sfreq} → {to_sfreq})"
        );
        let identity = from_sfreq == to_sfreq || n_in == 0;
        let ratio = to_sfreq / from_sfreq;
        let final_len = if identity {
            n_in
        } else {
            (round_half_even(ratio * n_in as f64) as usize).max(1)
        };
        let padded_len = n_in + npads.0 + npads.1;
        let new_len = (round_half_even(ratio * padded_len as f64) as usize).max(1);
        let to_remove_left = round_half_even(ratio * npads.0 as f64) as usize;
        let (fwd, inv) = if identity {
            (None, None)
        } else {
            let mut planner = FftPlanner::<f64>::new();
            (
                Some(planner.plan_fft_forward(padded_len)),
                Some(planner.plan_fft_inverse(new_len)),
            )
        };
        FftResampler {
            n_in,
            final_len,
            npads,
            padded_len,
            new_len,
            to_remove_left,
            identity,
            fwd,
            inv,
        }
    }

    /// Input length n this plan accepts.
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// Output length `max(round(r·n), 1)` (n when the rates are equal).
    pub fn n_out(&self) -> usize {
        self.final_len
    }

    /// `(left, right)` padding in input samples.
    pub fn npads(&self) -> (usize, usize) {
        self.npads
    }

    /// Resample one channel (`x.len() == n_in`), returning `n_out()` samples in the same units.
    ///
    /// # Panics
    /// If `x.len() != n_in()`.
    pub fn process(&self, x: &[f64]) -> Vec<f64> {
        assert_eq!(
            x.len(),
            self.n_in,
            "resampler planned for {} samples",
            self.n_in
        );
        if self.identity {
            return x.to_vec();
        }
        let (fwd, inv) = match (&self.fwd, &self.inv) {
            (Some(f), Some(i)) => (f, i),
            _ => return x.to_vec(),
        };
        let l = self.padded_len;
        let m = self.new_len;
        // 1. reflect_limited padding, promoted to complex.
        let mut buf: Vec<Complex64> = smart_pad_reflect_limited(x, self.npads)
            .into_iter()
            .map(|v| Complex64::new(v, 0.0))
            .collect();
        fwd.process(&mut buf);
        // 2. half spectrum X[0..=L/2], Nyquist tweak, window gain.
        let half_in = l / 2 + 1;
        let shorter = m < l;
        let use_len = if shorter { m } else { l };
        let gain = m as f64 / l as f64;
        let mut spec: Vec<Complex64> = buf[..half_in].iter().map(|c| c * gain).collect();
        if use_len % 2 == 0 {
            let nyq = use_len / 2;
            if nyq < spec.len() {
                spec[nyq] *= if shorter { 2.0 } else { 0.5 };
            }
        }
        // 3. irfft(spec, m): truncate / zero-extend to m/2+1 bins, Hermitian completion.
        let half_out = m / 2 + 1;
        let get = |k: usize| -> Complex64 {
            if k < spec.len() {
                spec[k]
            } else {
                Complex64::new(0.0, 0.0)
            }
        };
        let mut out = vec![Complex64::new(0.0, 0.0); m];
        out[0] = Complex64::new(get(0).re, 0.0);
        for k in 1..half_out {
            let v = if m & 1 == 0 && k == m / 2 {
                Complex64::new(get(k).re, 0.0)
            } else {
                get(k)
            };
            out[k] = v;
            out[m - k] = v.conj();
        }
        inv.process(&mut out);
        let norm = 1.0 / m as f64;
        let start = self.to_remove_left;
        (start..start + self.final_len)
            .map(|i| out.get(i).map_or(0.0, |c| c.re * norm))
            .collect()
    }

    /// Resample channel-major `(C, n_in)` data to `(C, n_out())`, channels in parallel.
    ///
    /// # Panics
    /// If `data.len()` is not a multiple of `n_in()` (C = `data.len() / n_in`).
    pub fn process_channels(&self, data: &[f64]) -> Vec<f64> {
        use rayon::prelude::*;
        if self.identity {
            return data.to_vec();
        }
        assert!(
            self.n_in > 0 && (data.len() / self.n_in) * self.n_in == data.len(),
            "data length {} is not a multiple of n_in = {}",
            data.len(),
            self.n_in
        );
        let rows: Vec<Vec<f64>> = data
            .par_chunks(self.n_in)
            .map(|row| self.process(row))
            .collect();
        rows.concat()
    }
}

/// MNE's `_smart_pad(x, (left, right), 'reflect_limited')`.
fn smart_pad_reflect_limited(x: &[f64], (left, right): (usize, usize)) -> Vec<f64> {
    let n = x.len();
    let mut out = Vec::with_capacity(n + left + right);
    if n == 0 {
        out.resize(left + right, 0.0);
        return out;
    }
    // left: zeros for k > n-1, then 2·x0 − x[k] for k = min(left, n-1) down to 1
    let refl_l = left.min(n - 1);
    out.resize(left - refl_l, 0.0);
    for k in (1..=refl_l).rev() {
        out.push(2.0 * x[0] - x[k]);
    }
    out.extend_from_slice(x);
    let refl_r = right.min(n - 1);
    for k in 1..=refl_r {
        out.push(2.0 * x[n - 1] - x[n - 1 - k]);
    }
    out.resize(n + left + right, 0.0);
    out
}

/// Resample channel-major `(C, T)` data from `from_sfreq` to `to_sfreq` as MNE's
/// `raw.resample(to_sfreq, npad='auto')` does; returns `(data (C, T'), T')` with
/// `T' = round(T·to/from)`. Units are preserved. Equal rates return the input unchanged.
///
/// # Panics
/// If a rate is not finite and positive, or `data.len() != C·T`.
pub fn resample_channels(
    data: &[f64],
    n_channels: usize,
    n_times: usize,
    from_sfreq: f64,
    to_sfreq: f64,
) -> (Vec<f64>, usize) {
    assert_eq!(data.len(), n_channels * n_times, "data is not (C, T)");
    let plan = FftResampler::new(n_times, from_sfreq, to_sfreq);
    if n_channels == 0 {
        return (Vec::new(), plan.n_out());
    }
    (plan.process_channels(data), plan.n_out())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_even_matches_python() {
        for (x, r) in [
            (0.5, 0.0),
            (1.5, 2.0),
            (2.5, 2.0),
            (-0.5, -0.0),
            (-1.5, -2.0),
            (2.4, 2.0),
            (2.6, 3.0),
            (4919.5, 4920.0),
            (4920.5, 4920.0),
        ] {
            assert_eq!(round_half_even(x), r, "{x}");
        }
    }

    #[test]
    fn plans_are_bounded() {
        assert_eq!(check_plan(20_000, 160.0, 40.0), Ok(()));
        assert_eq!(check_plan(20_000, 128.0, 160.0), Ok(()));
        // a 1 mHz file resampled to 100 kHz
        let e = check_plan(10_000, 1e-3, 1e5).unwrap_err();
        assert!(
            matches!(e, PlanError::TooLarge { len, .. } if len > 1e12),
            "{e}"
        );
        assert!(check_plan(MAX_PLAN_LEN + 1, 1.0, 1.0).is_err());
        // the fallible constructor refuses what check_plan refuses, before planning
        assert!(FftResampler::try_new(10_000, 1e-3, 1e5).is_err());
        assert!(FftResampler::try_new(100, 0.0, 80.0).is_err());
        assert_eq!(FftResampler::try_new(160, 160.0, 80.0).unwrap().n_out(), 80);
        for (a, b) in [
            (0.0, 40.0),
            (160.0, 0.0),
            (f64::NAN, 40.0),
            (160.0, f64::INFINITY),
        ] {
            assert!(matches!(
                check_plan(100, a, b),
                Err(PlanError::BadRate { .. })
            ));
        }
    }

    #[test]
    fn auto_npad_eegmmidb() {
        assert_eq!(auto_npad(20_000), (6384, 6384));
        assert_eq!(auto_npad(19_680), (6544, 6544));
        assert_eq!(auto_npad(10), (3, 3)); // 10 + 2 = 12 → 16
        assert_eq!(auto_npad(5), (1, 2)); // 5 + 0 → 8
    }

    #[test]
    fn smart_pad_matches_numpy() {
        let x = [1.0, 2.0, 4.0];
        // left = 2·1 − [4, 2] = [-2, 0]; right = 2·4 − [2, 1] = [6, 7]
        assert_eq!(
            smart_pad_reflect_limited(&x, (2, 2)),
            vec![-2.0, 0.0, 1.0, 2.0, 4.0, 6.0, 7.0]
        );
        // longer than n − 1: zeros beyond
        assert_eq!(
            smart_pad_reflect_limited(&x, (4, 3)),
            vec![0.0, 0.0, -2.0, 0.0, 1.0, 2.0, 4.0, 6.0, 7.0, 0.0]
        );
    }

    #[test]
    fn identity_and_lengths() {
        let x: Vec<f64> = (0..100).map(|i| (i as f64 * 0.3).sin()).collect();
        let (y, n) = resample_channels(&x, 1, 100, 160.0, 160.0);
        assert_eq!((y, n), (x.clone(), 100));
        let (_, n) = resample_channels(&x, 1, 100, 160.0, 40.0);
        assert_eq!(n, 25);
        let (_, n) = resample_channels(&x, 1, 100, 128.0, 160.0);
        assert_eq!(n, 125);
    }

    #[test]
    fn band_limited_signal_survives_down_and_up() {
        // A low-frequency sinusoid (2 Hz at 160 Hz) far from the edges is preserved.
        let n = 1600;
        let f = |t: f64| (2.0 * std::f64::consts::PI * 2.0 * t).sin() + 0.5;
        let x: Vec<f64> = (0..n).map(|i| f(i as f64 / 160.0)).collect();
        for to in [40.0, 80.0, 200.0] {
            let (y, m) = resample_channels(&x, 1, n, 160.0, to);
            assert_eq!(m, (n as f64 * to / 160.0).round() as usize);
            let mut err = 0.0f64;
            // Middle half only: the boxcar FFT resampler rings (Gibbs) from the padded signal's
            // wrap-around jump; the ringing decays as 1/distance and is ~1e-3 here.
            for (i, v) in y.iter().enumerate().skip(m / 4).take(m / 2) {
                err = err.max((v - f(i as f64 / to)).abs());
            }
            assert!(err < 5e-3, "to {to}: err {err}");
        }
        // DC is preserved exactly (up to round-off) everywhere.
        let c = vec![3.25; 999];
        let (y, _) = resample_channels(&c, 1, 999, 160.0, 40.0);
        assert!(y.iter().all(|v| (v - 3.25).abs() < 1e-12));
    }
}
