//! The self-describing header at the start of every stream state (and so of every snapshot):
//! four f32 slots holding only exact small integers, so a snapshot is a plain `[f32]` copy
//! that can be validated when it comes back.
//!
//! | slot | value |
//! |---|---|
//! | 0 | [`FORMAT`] (layout version of the state) |
//! | 1 | total state length in floats (header included), exact below 2^24 |
//! | 2 | samples seen mod 2^16 |
//! | 3 | samples seen / 2^16 (exact below 2^24, i.e. fewer than 2^40 samples ≈ 218 years at 160 Hz) |
//!
//! The architecture's own state follows (see each architecture's `CausalStep` impl).

/// Floats of the header.
pub(crate) const LEN: usize = 4;
/// Layout version of the stream state.
pub(crate) const FORMAT: f32 = 1.0;
/// Low part of the count.
const LOW: u64 = 1 << 16;
/// Largest value a header slot holds exactly.
const EXACT: f32 = (1u32 << 24) as f32;

/// Writes the header for a state of `state_len` floats after `count` samples.
pub(crate) fn write(h: &mut [f32], state_len: usize, count: u64) {
    h[0] = FORMAT;
    h[1] = state_len as f32;
    write_count(h, count);
}

/// Updates the sample count only.
#[inline]
pub(crate) fn write_count(h: &mut [f32], count: u64) {
    h[2] = (count % LOW) as f32;
    h[3] = (count / LOW) as f32;
}

/// Checks a header against a state of `state_len` floats; returns the sample count.
pub(crate) fn read(h: &[f32], state_len: usize) -> Result<u64, &'static str> {
    if h.len() < LEN {
        return Err("shorter than its header");
    }
    if h[0] != FORMAT {
        return Err("not a stream state (format tag)");
    }
    if h[1] != state_len as f32 {
        return Err("state of another model (length tag)");
    }
    let int = |v: f32| (0.0..EXACT).contains(&v) && v == libm::truncf(v);
    if !int(h[2]) || !int(h[3]) || h[2] >= LOW as f32 {
        return Err("corrupt sample count");
    }
    Ok(h[3] as u64 * LOW + h[2] as u64)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let mut h = [0.0f32; LEN];
        for count in [0u64, 1, 65_535, 65_536, 123_456_789, (1u64 << 40) - 1] {
            write(&mut h, 777, count);
            assert_eq!(read(&h, 777), Ok(count));
        }
        assert!(read(&h, 778).is_err());
        let mut bad = h;
        bad[0] = 2.0;
        assert!(read(&bad, 777).is_err());
        for v in [f32::NAN, -1.0, 0.5, 65_536.0] {
            let mut bad = h;
            bad[2] = v;
            assert!(read(&bad, 777).is_err(), "{v}");
        }
        assert!(read(&h[..3], 777).is_err());
    }
}
