//! A cascade of second-order IIR sections ("biquads", scipy's `sos` layout) run in the
//! transposed direct form II, one sample at a time: causal by construction (output n depends
//! on inputs 0..=n only), two state values per section and channel, f32 arithmetic in a fixed
//! order, so a whole run filtered at once ([`Sos::filter_channel`]) and the same run pushed
//! sample by sample ([`Sos::step`]) give bit-identical outputs.
//!
//! Section: `H(z) = (b0 + b1·z⁻¹ + b2·z⁻²) / (1 + a1·z⁻¹ + a2·z⁻²)`;
//! `y = b0·x + s1`, `s1 ← b1·x − a1·y + s2`, `s2 ← b2·x − a2·y`
//! (J. O. Smith, *Introduction to Digital Filters*, "Transposed Direct-Forms").

/// Most sections a cascade may hold (an order-8 high-pass, an order-8 low-pass and two notches
/// fit in 10).
pub const MAX_SECTIONS: usize = 16;

/// One second-order section, normalised so that a0 = 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Section {
    /// numerator b0, b1, b2
    pub b: [f32; 3],
    /// denominator a1, a2 (a0 = 1)
    pub a: [f32; 2],
}

/// Why a list of coefficients is not a usable cascade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SosError {
    /// More than [`MAX_SECTIONS`] sections.
    TooManySections(usize),
    /// A row that is not 6 numbers `b0 b1 b2 a0 a1 a2`.
    RowLength(usize),
    /// a0 is not 1 (the rows must be normalised), at this section.
    NotNormalised(usize),
    /// A non-finite coefficient, at this section.
    NonFinite(usize),
    /// Poles on or outside the unit circle (|a2| ≥ 1 or |a1| ≥ 1 + a2): the section is not
    /// stable, at this section.
    Unstable(usize),
}

impl core::fmt::Display for SosError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SosError::TooManySections(n) => {
                write!(
                    f,
                    "{n} filter sections, at most {MAX_SECTIONS} are supported"
                )
            }
            SosError::RowLength(i) => write!(
                f,
                "filter section {i} is not 6 coefficients b0 b1 b2 a0 a1 a2"
            ),
            SosError::NotNormalised(i) => write!(f, "filter section {i} has a0 ≠ 1"),
            SosError::NonFinite(i) => write!(f, "filter section {i} has a non-finite coefficient"),
            SosError::Unstable(i) => {
                write!(
                    f,
                    "filter section {i} has poles on or outside the unit circle"
                )
            }
        }
    }
}

/// A validated cascade of at most [`MAX_SECTIONS`] sections (fixed size, no allocation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sos {
    sections: [Section; MAX_SECTIONS],
    len: usize,
}

impl Sos {
    /// The identity (no section).
    pub const fn identity() -> Self {
        Self {
            sections: [Section {
                b: [1.0, 0.0, 0.0],
                a: [0.0, 0.0],
            }; MAX_SECTIONS],
            len: 0,
        }
    }

    /// A cascade of `sections`, checked: finite, stable (both poles inside the unit circle:
    /// |a2| < 1 and |a1| < 1 + a2).
    ///
    /// # Errors
    /// [`SosError::TooManySections`], [`SosError::NonFinite`], [`SosError::Unstable`].
    pub fn new(sections: &[Section]) -> Result<Self, SosError> {
        if sections.len() > MAX_SECTIONS {
            return Err(SosError::TooManySections(sections.len()));
        }
        let mut out = Self::identity();
        for (i, s) in sections.iter().enumerate() {
            if !s.b.iter().chain(&s.a).all(|v| v.is_finite()) {
                return Err(SosError::NonFinite(i));
            }
            let [a1, a2] = s.a;
            if a2.abs() >= 1.0 || a1.abs() >= 1.0 + a2 {
                return Err(SosError::Unstable(i));
            }
            out.sections[i] = *s;
        }
        out.len = sections.len();
        Ok(out)
    }

    /// A cascade from rows `[b0, b1, b2, a0, a1, a2]` (scipy's `sos` array), a0 = 1 within
    /// 1e-6.
    ///
    /// # Errors
    /// [`SosError::RowLength`], [`SosError::NotNormalised`] and those of [`Self::new`].
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self, SosError> {
        if rows.len() > MAX_SECTIONS {
            return Err(SosError::TooManySections(rows.len()));
        }
        let mut secs = [Section {
            b: [0.0; 3],
            a: [0.0; 2],
        }; MAX_SECTIONS];
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != 6 {
                return Err(SosError::RowLength(i));
            }
            if !r.iter().all(|v| v.is_finite()) {
                return Err(SosError::NonFinite(i));
            }
            if (r[3] - 1.0).abs() > 1e-6 {
                return Err(SosError::NotNormalised(i));
            }
            secs[i] = Section {
                b: [r[0] as f32, r[1] as f32, r[2] as f32],
                a: [r[4] as f32, r[5] as f32],
            };
        }
        Self::new(&secs[..rows.len()])
    }

    /// The sections.
    pub fn sections(&self) -> &[Section] {
        &self.sections[..self.len]
    }

    /// Whether there is no section (the filter passes the signal unchanged).
    pub fn is_identity(&self) -> bool {
        self.len == 0
    }

    /// Floats of state for `channels` channels: 2 per section and channel.
    pub fn state_len(&self, channels: usize) -> usize {
        2 * self.len * channels
    }

    /// One time sample of C channels, filtered in place; `state` (C, sections, 2) from
    /// [`Self::state_len`], zero at the start of the recording.
    ///
    /// # Panics
    /// If `state` is shorter than [`Self::state_len`] of `x.len()` channels.
    #[inline]
    pub fn step(&self, x: &mut [f32], state: &mut [f32]) {
        let per = 2 * self.len;
        for (v, s) in x.iter_mut().zip(state.chunks_exact_mut(per.max(1))) {
            *v = self.run(*v, s);
        }
    }

    /// One channel's whole recording (T samples) filtered in place from `state` (sections × 2,
    /// zero at the start), which is left as after the last sample: the same outputs as T calls
    /// of [`Self::step`].
    ///
    /// # Panics
    /// If `state` is shorter than 2 × sections.
    pub fn filter_channel(&self, x: &mut [f32], state: &mut [f32]) {
        for v in x.iter_mut() {
            *v = self.run(*v, state);
        }
    }

    /// A (C, T) channel-major recording filtered in place, every channel from a zero state at
    /// its first sample: what the trainer does to each run before cutting windows, and what a
    /// stream does sample by sample (the same outputs, bit for bit). No allocation.
    ///
    /// # Panics
    /// If `x.len()` is not a multiple of `t` (t > 0).
    pub fn filter_recording(&self, x: &mut [f32], t: usize) {
        if self.is_identity() || t == 0 {
            return;
        }
        assert!(
            x.len().is_multiple_of(t),
            "filter_recording: x is not (C, T)"
        );
        let mut state = [0.0f32; 2 * MAX_SECTIONS];
        for row in x.chunks_exact_mut(t) {
            state.fill(0.0);
            self.filter_channel(row, &mut state);
        }
    }

    /// The cascade on one input value; `s` holds (s1, s2) per section.
    #[inline(always)]
    fn run(&self, x: f32, s: &mut [f32]) -> f32 {
        let mut v = x;
        for (sec, st) in self.sections().iter().zip(s.chunks_exact_mut(2)) {
            let [b0, b1, b2] = sec.b;
            let [a1, a2] = sec.a;
            let y = b0 * v + st[0];
            st[0] = b1 * v - a1 * y + st[1];
            st[1] = b2 * v - a2 * y;
            v = y;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    fn lowpass() -> Sos {
        // a stable pair of sections (an order-4 low-pass, roughly)
        Sos::new(&[
            Section {
                b: [0.02, 0.04, 0.02],
                a: [-1.56, 0.64],
            },
            Section {
                b: [1.0, 2.0, 1.0],
                a: [-1.3, 0.45],
            },
        ])
        .unwrap()
    }

    /// Whole-run filtering and sample-by-sample stepping agree bit for bit, per channel.
    #[test]
    fn step_equals_filter_channel() {
        let sos = lowpass();
        let (c, t) = (3, 200);
        let x: Vec<f32> = (0..c * t)
            .map(|i| ((i * 37) % 101) as f32 * 0.01 - 0.5)
            .collect();
        let mut whole = x.clone();
        for ch in 0..c {
            let mut st = vec![0.0; sos.state_len(1)];
            sos.filter_channel(&mut whole[ch * t..(ch + 1) * t], &mut st);
        }
        let mut rec = x.clone();
        sos.filter_recording(&mut rec, t);
        assert_eq!(rec, whole, "filter_recording");
        let mut state = vec![0.0; sos.state_len(c)];
        for n in 0..t {
            let mut sample: Vec<f32> = (0..c).map(|ch| x[ch * t + n]).collect();
            sos.step(&mut sample, &mut state);
            for ch in 0..c {
                assert_eq!(
                    sample[ch].to_bits(),
                    whole[ch * t + n].to_bits(),
                    "ch {ch} n {n}"
                );
            }
        }
    }

    /// Causal: an impulse at n0 leaves every earlier output at 0, and changing inputs after n
    /// changes no output up to n.
    #[test]
    fn causal() {
        let sos = lowpass();
        let t = 64;
        let mut x = vec![0.0f32; t];
        x[20] = 1.0;
        let mut st = vec![0.0; sos.state_len(1)];
        sos.filter_channel(&mut x, &mut st);
        assert!(x[..20].iter().all(|&v| v == 0.0));
        assert!(x[20] != 0.0);
        let base: Vec<f32> = (0..t).map(|i| (i as f32 * 0.3).sin()).collect();
        let mut a = base.clone();
        let mut b = base.clone();
        for v in &mut b[40..] {
            *v += 5.0;
        }
        let (mut sa, mut sb) = (vec![0.0; 4], vec![0.0; 4]);
        sos.filter_channel(&mut a, &mut sa);
        sos.filter_channel(&mut b, &mut sb);
        assert_eq!(a[..40], b[..40]);
        assert_ne!(a[40], b[40]);
    }

    #[test]
    fn identity_passes_through() {
        let sos = Sos::identity();
        let mut x = [1.5f32, -2.0];
        sos.step(&mut x, &mut []);
        assert_eq!(x, [1.5, -2.0]);
        assert!(sos.is_identity());
    }

    #[test]
    fn rejects_bad_coefficients() {
        let ok = [1.0, 0.0, 0.0, 1.0, -0.5, 0.1];
        assert!(Sos::from_rows(&[ok]).is_ok());
        assert_eq!(
            Sos::from_rows(&[[1.0, 0.0, 0.0, 2.0, -0.5, 0.1]]),
            Err(SosError::NotNormalised(0))
        );
        assert_eq!(
            Sos::from_rows(&[ok, [1.0, 0.0, 0.0, 1.0, -2.5, 1.2]]),
            Err(SosError::Unstable(1))
        );
        assert_eq!(
            Sos::from_rows(&[[1.0, f64::NAN, 0.0, 1.0, 0.0, 0.0]]),
            Err(SosError::NonFinite(0))
        );
        assert_eq!(Sos::from_rows(&[vec![1.0; 5]]), Err(SosError::RowLength(0)));
        assert_eq!(
            Sos::from_rows(&vec![ok; MAX_SECTIONS + 1]),
            Err(SosError::TooManySections(MAX_SECTIONS + 1))
        );
    }
}
