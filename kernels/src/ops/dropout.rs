//! Counter-based dropout masks: element `i` of dropout site `site` of a sample with seed `seed`
//! is dropped iff [`dropout_draw`]`(seed, site, i) <` [`dropout_threshold`]`(p)`, so a mask
//! depends on neither the order of execution nor the number of threads, and a device draws the
//! same mask without a sequential RNG (`kernels/cuda/elementwise.cu` mirrors [`dropout_draw`]).
//! The draw is splitmix64's finaliser (Steele, Lea & Flood 2014) of a hash of (seed, site, i/2).

use super::simd::simd_dispatch;

/// Multiplier of the site number in the hashed counter.
const SITE_K: u64 = 0xD6E8_FEB8_6659_FD93;
/// Multiplier of the element-pair index in the hashed counter (the golden-ratio increment).
const PAIR_K: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's finaliser.
#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 32-bit uniform draw of element `i` of dropout site `site` of a sample with seed
/// `seed`: one 64-bit hash of (seed, site, i / 2) serves two elements (high half for even i,
/// low half for odd i).
#[inline(always)]
pub fn dropout_draw(seed: u64, site: u32, i: u64) -> u32 {
    let h = mix64(seed ^ u64::from(site).wrapping_mul(SITE_K) ^ (i >> 1).wrapping_mul(PAIR_K));
    if i & 1 == 0 {
        (h >> 32) as u32
    } else {
        h as u32
    }
}

/// The draw below which an element is dropped: ⌊p·2³²⌋ (p clamped to [0, 1]).
pub fn dropout_threshold(p: f32) -> u64 {
    (f64::from(p.clamp(0.0, 1.0)) * 4_294_967_296.0) as u64
}

/// Operands of [`fill_kernel`].
struct Fill<'a> {
    mask: &'a mut [f32],
    seed: u64,
    site: u32,
    thr: u64,
    keep: f32,
}

/// The mask of one sample, a pair of elements per hash (the loop vectorises: no branch on the
/// element's parity, one 64-bit hash per lane).
#[inline(always)]
fn fill_kernel(p: Fill<'_>) {
    let Fill {
        mask,
        seed,
        site,
        thr,
        keep,
    } = p;
    let base = seed ^ u64::from(site).wrapping_mul(SITE_K);
    let n = mask.len();
    let mut pairs = mask.chunks_exact_mut(2);
    for (j, pair) in (&mut pairs).enumerate() {
        let h = mix64(base ^ (j as u64).wrapping_mul(PAIR_K));
        pair[0] = if h >> 32 < thr { 0.0 } else { keep };
        pair[1] = if h & 0xFFFF_FFFF < thr { 0.0 } else { keep };
    }
    if let [last] = pairs.into_remainder() {
        let drop = u64::from(dropout_draw(seed, site, (n - 1) as u64)) < thr;
        *last = if drop { 0.0 } else { keep };
    }
}

simd_dispatch!(
    /// Runs [`fill_kernel`] in the widest build the CPU supports (bit-identical results).
    fn fill_dispatch(p: Fill<'_>) => fill_kernel
);

/// Writes the dropout mask of one sample: `mask[i]` = 0 where element `i` of site `site` is
/// dropped ([`dropout_draw`] below [`dropout_threshold`]`(p)`), else the inverted-dropout
/// scale 1/(1−p).
pub fn fill_mask(mask: &mut [f32], seed: u64, site: u32, p: f32) {
    fill_dispatch(Fill {
        mask,
        seed,
        site,
        thr: dropout_threshold(p),
        keep: 1.0 / (1.0 - p),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// The pairwise, vectorised fill equals the per-element definition, odd lengths included.
    #[test]
    fn fill_matches_per_element_draws() {
        for (n, seed, site, p) in [
            (0usize, 1u64, 0u32, 0.1f32),
            (1, 7, 3, 0.5),
            (2, 7, 3, 0.5),
            (257, 0xDEAD_BEEF, 11, 0.1),
            (4096, u64::MAX, 2, 0.3),
        ] {
            let mut m = vec![f32::NAN; n];
            fill_mask(&mut m, seed, site, p);
            let thr = dropout_threshold(p);
            let keep = 1.0 / (1.0 - p);
            for (i, &v) in m.iter().enumerate() {
                let want = if u64::from(dropout_draw(seed, site, i as u64)) < thr {
                    0.0
                } else {
                    keep
                };
                assert_eq!(v.to_bits(), want.to_bits(), "n={n} i={i}");
            }
            if n > 1000 {
                let dropped = m.iter().filter(|&&v| v == 0.0).count() as f32 / n as f32;
                assert!((dropped - p).abs() < 0.03, "drop rate {dropped} for p={p}");
            }
        }
    }
}
