//! Circuit state vectors for the streaming path: the 2^Q complex128 amplitudes that
//! [`qssm_kernels::circuit::circuit_forward`] works in, carved out of the stream's f32 scratch
//! ([`carve`]) so that evaluating a circuit per pushed sample allocates nothing. The window
//! path keeps using an owned `Vec<Complex64>`.
//!
//! A state of n amplitudes takes [`scratch_floats`]`(n)` floats: 4 per amplitude (two f64)
//! plus the slack needed to start on a `Complex64` boundary (the f32 buffer is only 4-byte
//! aligned; a caller-lent buffer may start anywhere a f32 can).
use core::mem::{align_of, size_of};
use num_complex::Complex64;

/// Largest Q the engine simulates (a state of 2^Q complex128 amplitudes per circuit; 64 KiB
/// at Q = 12).
pub(crate) const MAX_QUBITS: usize = 12;

/// Floats per amplitude.
const FLOATS: usize = size_of::<Complex64>() / size_of::<f32>();
/// Floats that may be skipped to reach a `Complex64` boundary.
const SLACK: usize = align_of::<Complex64>().saturating_sub(align_of::<f32>()) / size_of::<f32>();

/// Floats of scratch [`carve`] needs for a state of `n` amplitudes (4·n + alignment slack).
pub(crate) const fn scratch_floats(n: usize) -> usize {
    FLOATS * n + SLACK
}

/// A `Complex64` state of `n` amplitudes inside `scratch` (≥ [`scratch_floats`]`(n)` floats):
/// the first n·4 floats from the first `Complex64`-aligned one. The contents are whatever the
/// floats held (`circuit_forward` overwrites them). Panics if `scratch` is too short (the
/// callers size it from [`scratch_floats`]).
pub(crate) fn carve(scratch: &mut [f32], n: usize) -> &mut [Complex64] {
    let align = align_of::<Complex64>();
    let misaligned = scratch.as_ptr() as usize % align;
    // an f32 slice is f32-aligned, so the distance to the next boundary is whole floats
    let skip = if misaligned == 0 {
        0
    } else {
        (align - misaligned) / size_of::<f32>()
    };
    let floats = &mut scratch[skip..skip + FLOATS * n];
    // SAFETY: `floats` is exclusively borrowed for the returned lifetime, holds exactly
    // n·size_of::<Complex64>() bytes, and starts on an `align_of::<Complex64>()` boundary
    // (checked above). `Complex64` is `#[repr(C)]` { re: f64, im: f64 }: every bit pattern is a
    // valid value, so viewing f32 storage as it is sound.
    unsafe { core::slice::from_raw_parts_mut(floats.as_mut_ptr().cast::<Complex64>(), n) }
}

/// Floats of scratch [`carve_f64`] needs for `n` f64 values.
pub(crate) const fn f64_scratch_floats(n: usize) -> usize {
    scratch_floats(n.div_ceil(2))
}

/// `n` f64 values inside `scratch` (≥ [`f64_scratch_floats`]`(n)` floats), on an f64 boundary;
/// the contents are whatever the floats held. Panics if `scratch` is too short.
pub(crate) fn carve_f64(scratch: &mut [f32], n: usize) -> &mut [f64] {
    let pairs = carve(scratch, n.div_ceil(2));
    // SAFETY: `Complex64` is `#[repr(C)]` { re: f64, im: f64 }, so `pairs` is 2·len f64s,
    // f64-aligned and exclusively borrowed; every bit pattern is a valid f64; n ≤ 2·len.
    unsafe { core::slice::from_raw_parts_mut(pairs.as_mut_ptr().cast::<f64>(), n) }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn carved_states_are_aligned_and_in_bounds_at_every_offset() {
        let mut buf = alloc::vec![0.0f32; scratch_floats(16) + 3];
        for off in 0..3 {
            let len = scratch_floats(16);
            let s = &mut buf[off..off + len];
            let (lo, hi) = (s.as_ptr() as usize, s.as_ptr() as usize + 4 * len);
            let psi = carve(s, 16);
            assert_eq!(psi.len(), 16);
            let p = psi.as_ptr() as usize;
            assert_eq!(p % align_of::<Complex64>(), 0);
            assert!(p >= lo && p + 16 * size_of::<Complex64>() <= hi);
            psi.iter_mut().for_each(|a| *a = Complex64::new(1.0, -1.0));
            assert!(psi.iter().all(|a| *a == Complex64::new(1.0, -1.0)));
        }
    }
}
