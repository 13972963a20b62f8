//! Filter designs as cascades of second-order sections, computed in f64:
//!
//! * **Butterworth high-/low-pass of order M** (1 ≤ M ≤ 8): the analog prototype's pole pairs
//!   (quality factors `Q_k = 1 / (2·sin((2k−1)π/(2M)))`, plus one real pole for odd M), each
//!   mapped by the bilinear transform with the cutoff pre-warped, as in R. Bristow-Johnson's
//!   *Cookbook formulae for audio EQ biquad filter coefficients* (LPF/HPF). The cascade is the
//!   bilinear-transformed Butterworth filter, `|H(f)|² = 1 / (1 + (tan(πf/fs) /
//!   tan(πf_c/fs))^{±2M})`, the filter `scipy.signal.butter(M, f_c, fs=fs, output="sos")`
//!   designs (up to the order and scaling of its sections). −3.01 dB at the cutoff.
//! * **Band-pass** = a Butterworth high-pass at the low edge cascaded with a Butterworth
//!   low-pass at the high edge, each of order M (not scipy's band-pass transform of a
//!   low-pass prototype, which places the poles differently).
//! * **Notch** (Bristow-Johnson's "notch"): zero gain at f₀, −3 dB bandwidth f₀/Q (scipy's
//!   `iirnotch(f0, Q, fs)` designs the same filter; line noise: f₀ = 50 or 60 Hz, Q = 30).
//!
//! Frequencies in Hz; `fs` is the sampling rate of the signal the filter will run on.
use super::sos::{Section, Sos, SosError, MAX_SECTIONS};
use core::f64::consts::PI;

/// Why a design was refused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DesignError {
    /// The order is outside 1..=8.
    Order(usize),
    /// A frequency outside (0, fs/2) (what, value in Hz, fs).
    Frequency(&'static str, f64, f64),
    /// The band-pass edges are not low < high.
    Band(f64, f64),
    /// A notch quality factor that is not positive and finite.
    Quality(f64),
    /// The cascade would be invalid (too many sections, …).
    Sos(SosError),
}

impl core::fmt::Display for DesignError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DesignError::Order(m) => write!(f, "filter order {m} is outside 1..=8"),
            DesignError::Frequency(what, hz, fs) => write!(
                f,
                "{what} frequency {hz} Hz is outside (0, {}) Hz (half the {fs} Hz sampling rate)",
                fs / 2.0
            ),
            DesignError::Band(lo, hi) => {
                write!(
                    f,
                    "band-pass edges {lo}–{hi} Hz: the low edge must be below the high edge"
                )
            }
            DesignError::Quality(q) => write!(f, "notch quality factor {q} must be positive"),
            DesignError::Sos(e) => write!(f, "{e}"),
        }
    }
}

/// What to design: every part optional; the cascade is high-pass, then low-pass, then the
/// notches, in that order.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FilterSpec {
    /// sampling rate of the signal, Hz
    pub fs: f64,
    /// Butterworth high-pass cutoff, Hz
    pub highpass_hz: Option<f64>,
    /// Butterworth low-pass cutoff, Hz
    pub lowpass_hz: Option<f64>,
    /// Butterworth order M of the high- and the low-pass
    pub order: usize,
    /// notch centre, Hz (line noise)
    pub notch_hz: Option<f64>,
    /// notch quality factor Q = f₀ / bandwidth
    pub notch_q: f64,
}

/// The cascade of `spec` (the identity when nothing is asked for).
///
/// # Errors
/// [`DesignError`] for an order outside 1..=8, a frequency outside (0, fs/2), a band with
/// low ≥ high, a non-positive Q.
pub fn design(spec: &FilterSpec) -> Result<Sos, DesignError> {
    let mut secs = [Section {
        b: [0.0; 3],
        a: [0.0; 2],
    }; MAX_SECTIONS];
    let mut n = 0;
    let fs = spec.fs;
    let check = |what: &'static str, hz: f64| {
        if hz.is_finite() && fs.is_finite() && hz > 0.0 && hz < fs / 2.0 {
            Ok(hz)
        } else {
            Err(DesignError::Frequency(what, hz, fs))
        }
    };
    if let (Some(lo), Some(hi)) = (spec.highpass_hz, spec.lowpass_hz) {
        if lo >= hi {
            return Err(DesignError::Band(lo, hi));
        }
    }
    for (hz, high) in [(spec.highpass_hz, true), (spec.lowpass_hz, false)] {
        let Some(hz) = hz else { continue };
        let what = if high { "high-pass" } else { "low-pass" };
        let f0 = check(what, hz)?;
        for s in butterworth(spec.order, f0, fs, high)?.iter().flatten() {
            *secs
                .get_mut(n)
                .ok_or(DesignError::Sos(SosError::TooManySections(n + 1)))? = *s;
            n += 1;
        }
    }
    if let Some(hz) = spec.notch_hz {
        let f0 = check("notch", hz)?;
        let q = spec.notch_q;
        if !(q.is_finite() && q > 0.0) {
            return Err(DesignError::Quality(q));
        }
        *secs
            .get_mut(n)
            .ok_or(DesignError::Sos(SosError::TooManySections(n + 1)))? = notch(f0, q, fs);
        n += 1;
    }
    Sos::new(&secs[..n]).map_err(DesignError::Sos)
}

/// Sections of a Butterworth high-pass (`high`) or low-pass of order M at f0 (at most 4 used).
fn butterworth(
    m: usize,
    f0: f64,
    fs: f64,
    high: bool,
) -> Result<[Option<Section>; 4], DesignError> {
    if !(1..=8).contains(&m) {
        return Err(DesignError::Order(m));
    }
    let w0 = 2.0 * PI * f0 / fs;
    let (sw, cw) = (libm::sin(w0), libm::cos(w0));
    let mut out = [None; 4];
    for (k, slot) in (1..=m / 2).zip(out.iter_mut()) {
        let q = 1.0 / (2.0 * libm::sin((2 * k - 1) as f64 * PI / (2 * m) as f64));
        let alpha = sw / (2.0 * q);
        let a0 = 1.0 + alpha;
        let (b0, b1) = if high {
            ((1.0 + cw) / 2.0, -(1.0 + cw))
        } else {
            ((1.0 - cw) / 2.0, 1.0 - cw)
        };
        *slot = Some(section([b0, b1, b0], [a0, -2.0 * cw, 1.0 - alpha]));
    }
    if m % 2 == 1 {
        // the real pole: first-order bilinear section, K = tan(w0/2)
        let k = libm::tan(w0 / 2.0);
        let (b0, b1) = if high { (1.0, -1.0) } else { (k, k) };
        out[m / 2] = Some(section([b0, b1, 0.0], [1.0 + k, k - 1.0, 0.0]));
    }
    Ok(out)
}

/// Notch at f0 with quality factor q.
fn notch(f0: f64, q: f64, fs: f64) -> Section {
    let w0 = 2.0 * PI * f0 / fs;
    let alpha = libm::sin(w0) / (2.0 * q);
    let c = -2.0 * libm::cos(w0);
    section([1.0, c, 1.0], [1.0 + alpha, c, 1.0 - alpha])
}

/// Normalises by a0 = `a[0]`.
fn section(b: [f64; 3], a: [f64; 3]) -> Section {
    let n = |v: f64| (v / a[0]) as f32;
    Section {
        b: [n(b[0]), n(b[1]), n(b[2])],
        a: [n(a[1]), n(a[2])],
    }
}

/// |H(e^{j2πf/fs})| of a cascade, in f64 from its (f32) coefficients.
pub fn magnitude(sos: &Sos, f: f64, fs: f64) -> f64 {
    let w = 2.0 * PI * f / fs;
    let (c1, s1, c2, s2) = (
        libm::cos(w),
        -libm::sin(w),
        libm::cos(2.0 * w),
        -libm::sin(2.0 * w),
    );
    let mut g = 1.0;
    for s in sos.sections() {
        let [b0, b1, b2] = s.b.map(f64::from);
        let [a1, a2] = s.a.map(f64::from);
        let (nr, ni) = (b0 + b1 * c1 + b2 * c2, b1 * s1 + b2 * s2);
        let (dr, di) = (1.0 + a1 * c1 + a2 * c2, a1 * s1 + a2 * s2);
        g *= libm::sqrt((nr * nr + ni * ni) / (dr * dr + di * di));
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fs: f64) -> FilterSpec {
        FilterSpec {
            fs,
            order: 4,
            notch_q: 30.0,
            ..FilterSpec::default()
        }
    }

    /// The cascade has the bilinear Butterworth magnitude for every order, high and low.
    #[test]
    fn butterworth_magnitude() {
        let fs = 160.0;
        // worst relative error in the pass band (|H| ≥ 0.5) and in the stop band
        let mut worst = [0.0f64; 2];
        for m in 1..=8 {
            for (hp, lp) in [
                (Some(0.5), None),
                (None, Some(40.0)),
                (Some(8.0), Some(30.0)),
            ] {
                let sp = FilterSpec {
                    order: m,
                    highpass_hz: hp,
                    lowpass_hz: lp,
                    ..spec(fs)
                };
                let sos = design(&sp).unwrap();
                assert_eq!(
                    sos.sections().len(),
                    (hp.is_some() as usize + lp.is_some() as usize) * m.div_ceil(2)
                );
                for f in [0.1, 0.5, 1.0, 5.0, 8.0, 12.0, 30.0, 40.0, 60.0, 79.0] {
                    let wt = |f0: f64, high: bool| {
                        let r = libm::tan(PI * f / fs) / libm::tan(PI * f0 / fs);
                        let r = if high { 1.0 / r } else { r };
                        1.0 / libm::sqrt(1.0 + libm::pow(r, 2.0 * m as f64))
                    };
                    let want =
                        hp.map_or(1.0, |f0| wt(f0, true)) * lp.map_or(1.0, |f0| wt(f0, false));
                    let got = magnitude(&sos, f, fs);
                    let rel = (got - want).abs() / want;
                    let band = if want >= 0.5 { 0 } else { 1 };
                    worst[band] = worst[band].max(rel);
                }
            }
        }
        println!(
            "relative error: pass band {:.1e}, stop band {:.1e}",
            worst[0], worst[1]
        );
        // the coefficients are stored in f32: measured 4.4e-5 in the pass band and 2.7e-4 in
        // the stop band (poles near z = 1, 0.5 Hz at 160 Hz, are the most sensitive)
        assert!(worst[0] <= 1e-4, "pass band {}", worst[0]);
        assert!(worst[1] <= 5e-4, "stop band {}", worst[1]);
    }

    #[test]
    fn notch_zero_at_centre() {
        let sos = design(&FilterSpec {
            notch_hz: Some(50.0),
            ..spec(160.0)
        })
        .unwrap();
        assert!(magnitude(&sos, 50.0, 160.0) < 1e-5);
        // −3 dB at f0 ± bandwidth/2 (bandwidth f0/Q), near 1 far away
        assert!((magnitude(&sos, 10.0, 160.0) - 1.0).abs() < 1e-3);
        assert!((magnitude(&sos, 0.0, 160.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn refusals() {
        let s = spec(160.0);
        let e = |sp: FilterSpec| design(&sp).unwrap_err();
        assert!(matches!(
            e(FilterSpec {
                lowpass_hz: Some(80.0),
                ..s
            }),
            DesignError::Frequency(..)
        ));
        assert!(matches!(
            e(FilterSpec {
                highpass_hz: Some(0.0),
                ..s
            }),
            DesignError::Frequency(..)
        ));
        assert!(matches!(
            e(FilterSpec {
                highpass_hz: Some(f64::NAN),
                ..s
            }),
            DesignError::Frequency(..)
        ));
        assert!(matches!(
            e(FilterSpec {
                highpass_hz: Some(30.0),
                lowpass_hz: Some(8.0),
                ..s
            }),
            DesignError::Band(..)
        ));
        assert!(matches!(
            e(FilterSpec {
                lowpass_hz: Some(30.0),
                order: 9,
                ..s
            }),
            DesignError::Order(9)
        ));
        assert!(matches!(
            e(FilterSpec {
                notch_hz: Some(50.0),
                notch_q: 0.0,
                ..s
            }),
            DesignError::Quality(_)
        ));
        assert!(design(&s).unwrap().is_identity());
    }
}
