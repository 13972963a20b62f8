//! Private numerical helpers shared by the ops: a branch-free, auto-vectorisable `exp` and
//! fixed-order 8-lane reductions. Everything here is `no_std` and deterministic (the result does
//! not depend on the SIMD width the compiler picks).

/// Σ v, with 8 independent partial sums (vectorisable; order differs from a serial sum).
#[inline]
pub(crate) fn sum(v: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for j in 0..8 {
            acc[j] += c[j];
        }
    }
    let mut s = tail.iter().sum::<f32>();
    for p in acc {
        s += p;
    }
    s
}

/// Σ a·b, with 8 independent partial sums.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut s = ta.iter().zip(tb).map(|(x, y)| x * y).sum::<f32>();
    for p in acc {
        s += p;
    }
    s
}

/// eˣ = y·2ᵏ for x in [−104, 88.75]: the Cody–Waite reduction x = k·ln2 + r (k rounded to
/// nearest, |r| ≤ ln2/2) and the Cephes degree-6 polynomial y = e^r ∈ [0.70, 1.42]. Shared by
/// [`exp_f32`] and [`exp_clamped`], which differ only in their clamps and in how they apply 2ᵏ.
#[inline(always)]
fn exp_reduced(x: f32) -> (f32, i32) {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const MAGIC: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_4; // 0.693359375, few mantissa bits: k·LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    let t = x * LOG2E + MAGIC;
    let kf = t - MAGIC;
    let k = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let r = x - kf * LN2_HI - kf * LN2_LO;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    (p * r * r + r + 1.0, k)
}

/// Branch-free `eˣ` in f32 (Cody–Waite reduction `x = k·ln2 + r`, Cephes degree-6 polynomial,
/// scale by 2ᵏ as two exact power-of-two factors): ≤ 2 ulp for normal results, `+∞` above
/// ln(f32::MAX), gradual underflow to 0 below, NaN in ⇒ NaN out. Written with selects and bit
/// operations only so loops calling it auto-vectorise (libm's `expf` branches).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LO: f32 = -104.0; // e^LO < 2^-150: rounds to 0
    const HI: f32 = 88.75; // e^HI > f32::MAX: overflows to +∞
                           // NaN compares false and passes through unchanged.
    let (y, k) = exp_reduced(x.clamp(LO, HI));
    // 2^k = 2^k1 · 2^k2 with k1, k2 ∈ [−75, 64]: both factors are normal floats.
    let k1 = k >> 1;
    let k2 = k.wrapping_sub(k1);
    let s1 = f32::from_bits((k1.wrapping_add(127) as u32) << 23);
    let s2 = f32::from_bits((k2.wrapping_add(127) as u32) << 23);
    y * s1 * s2
}

/// [`exp_f32`] with its argument clamped to [−87, 88.7], where eˣ and every intermediate of the
/// reduction are normal floats, so 2ᵏ is applied by adding k to the exponent bits instead of
/// two multiplications, and the clamp is a max and a min (one instruction each on FPUs with
/// `vmaxnm`/`vminnm` or SIMD) instead of two compare-and-selects: about 12 fewer instructions
/// per call on a Cortex-M7, for the streaming scan's 2·E·N calls per token.
///
/// **Bit-identical to [`exp_f32`] for x ∈ [−87, 88.7]** (the same operations in the same order;
/// the scaling is exact in both, tested). Outside: x < −87 gives e⁻⁸⁷ ≈ 1.6e−38 instead of a
/// subnormal or 0 (absolute error < 1.7e−38), x > 88.7 gives e^88.7 ≈ 3.3e38 instead of a larger
/// value or +∞, and NaN gives e⁻⁸⁷ (the caller passes finite values: the scan's Δ·A, Δ ≥ 0,
/// A < 0).
#[inline(always)]
pub(crate) fn exp_clamped(x: f32) -> f32 {
    const LO: f32 = -87.0; // e^LO > 2^-126 with k = round(LO·log2 e) = -126 and r < 0.35: normal
    const HI: f32 = 88.7; // k = 128, r < 0: e^HI < f32::MAX
                          // max/min, not clamp: NaN maps into the range (one instruction each, no compare-and-select)
    #[allow(clippy::manual_clamp)]
    let (y, k) = exp_reduced(x.max(LO).min(HI));
    // y ∈ [0.70, 1.42] and −126 ≤ k ≤ 128 with y < 1 at k = 128: y·2ᵏ is normal, so adding k
    // to the biased exponent is exactly the multiplication
    f32::from_bits((y.to_bits() as i32).wrapping_add(k << 23) as u32)
}

/// a·b + c with one rounding (IEEE fusedMultiplyAdd): one instruction where the caller is
/// compiled with FMA (the AVX-512 and AVX2+FMA builds of `simd_dispatch!`) and on an Arm
/// microcontroller's FPU (feature `cortex-m-fpu`: `vfma.f32`, FPv4-SP and later), the same
/// value everywhere (`libm::fmaf`, a software routine, otherwise without `std`).
#[inline(always)]
pub(crate) fn fma(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        a.mul_add(b, c)
    }
    #[cfg(all(not(feature = "std"), feature = "cortex-m-fpu", target_arch = "arm"))]
    {
        let mut acc = c;
        // SAFETY: a register-only instruction of every FPU the feature is for ("VFMA", Arm
        // Architecture Reference Manual: fused, one rounding, IEEE round-to-nearest by
        // default as FPSCR is left at reset).
        unsafe {
            core::arch::asm!(
                "vfma.f32 {acc}, {a}, {b}",
                acc = inout(sreg) acc,
                a = in(sreg) a,
                b = in(sreg) b,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        acc
    }
    #[cfg(all(
        not(feature = "std"),
        not(all(feature = "cortex-m-fpu", target_arch = "arm"))
    ))]
    {
        libm::fmaf(a, b, c)
    }
}

/// `eˣ` on [−87, 88.7] with every multiply-add fused (the same Cody–Waite reduction and Cephes
/// polynomial as [`exp_f32`]), for the selective scan's decay exp(Δ·A): ≤ 2 ulp (tested). The
/// argument is clamped to the range with a max and a min as in [`exp_clamped`], so 2ᵏ is applied
/// by adding k to the exponent bits (exact: every intermediate is a normal float), and the same
/// out-of-range results: x < −87 (a decay below 1.6e−38) gives e⁻⁸⁷, x > 88.7 gives e^88.7 and
/// NaN gives e⁻⁸⁷ (the scan's Δ·A is finite and ≤ 0: Δ ≥ 0, A < 0). About 8 fewer operations
/// per element than two-factor scaling, on the scan's hot path.
#[inline(always)]
pub(crate) fn exp_fma(x: f32) -> f32 {
    use exp_fma_consts::*;
    // max/min, not clamp: one instruction each (see `exp_clamped`)
    #[allow(clippy::manual_clamp)]
    let x = x.max(LO).min(HI);
    let t = fma(x, LOG2E, MAGIC);
    let kf = t - MAGIC;
    let k = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let r = fma(kf, -LN2_LO, fma(kf, -LN2_HI, x));
    let mut p = P[0];
    for &c in &P[1..] {
        p = fma(p, r, c);
    }
    let y = fma(p, r * r, r) + 1.0;
    f32::from_bits((y.to_bits() as i32).wrapping_add(k << 23) as u32)
}

/// The constants of [`exp_fma`] (and of its vector forms, which must give the same bits).
pub(crate) mod exp_fma_consts {
    /// the argument's range [LO, HI]
    pub(crate) const LO: f32 = -87.0;
    pub(crate) const HI: f32 = 88.7;
    pub(crate) const LOG2E: f32 = core::f32::consts::LOG2_E;
    /// 1.5·2²³: adding it rounds to an integer in the low mantissa bits
    pub(crate) const MAGIC: f32 = 12_582_912.0;
    /// ln 2 in two parts (Cody–Waite)
    pub(crate) const LN2_HI: f32 = 0.693_359_4;
    pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
    /// the Cephes polynomial's coefficients, highest degree first
    pub(crate) const P: [f32; 6] = [
        1.987_569_2e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];
}

/// Logistic σ(x) = 1/(1+e^{−x}), branch-free. Relative error of a few ulp for all x (no
/// cancellation for either sign); 0 below x ≈ −88.7, 1 above x ≈ 17.
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// tanh x, branch-free (the method of Cephes `tanhf`): the odd polynomial x + x³·P(x²) for
/// |x| < 0.625, 1 − 2/(e^{2|x|} + 1) with [`exp_f32`] above (no cancellation there: the result
/// is ≥ 0.55), the sign put back last. ≤ 2 ulp (see the test); ±1 from |x| ≈ 9.01, ±0 kept,
/// NaN in ⇒ NaN out. Selects only, so loops calling it auto-vectorise (libm's `tanhf`
/// branches and calls `expm1f`).
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let ax = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3f32;
    p = p * z + 2.063_909e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 1.333_144_2e-1;
    p = p * z - 3.333_328e-1;
    let small = p * z * ax + ax;
    // e^{2·9.5} ≈ 1.8e8: 1 − 2/(e+1) rounds to 1 well before the clamp
    let e = exp_f32(2.0 * ax.min(9.5));
    let big = 1.0 - 2.0 / (e + 1.0);
    let r = if ax < 0.625 { small } else { big };
    // r ≥ 0: the sign bit of x is the sign of the result
    let r = f32::from_bits(r.to_bits() | (x.to_bits() & 0x8000_0000));
    if x.is_nan() {
        x
    } else {
        r
    }
}

/// `ln(1+u)` for `u ∈ [0, 1]` (the range softplus needs), branch-free: `w = 1+u` is reduced to
/// `m = w` or `w/2` in [√½, √2] (both exact), `ln m` by the Cephes `logf` polynomial, and the
/// rounding of `w` is undone with Goldberg's correction `ln(w)·u/(w−1)` (`u` itself when
/// `w` rounds to 1). ≤ 2 ulp on the range (see the test); outside it the result is unspecified.
#[inline(always)]
pub(crate) fn log1p_unit_f32(u: f32) -> f32 {
    const SQRT2: f32 = core::f32::consts::SQRT_2;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let w = 1.0 + u;
    let big = w > SQRT2;
    let m = if big { 0.5 * w } else { w };
    let e = if big { 1.0f32 } else { 0.0 };
    let f = m - 1.0; // exact (Sterbenz)
    let z = f * f;
    let mut p = 7.037_683_6e-2f32;
    p = p * f - 1.151_461e-1;
    p = p * f + 1.167_699_9e-1;
    p = p * f - 1.242_014_1e-1;
    p = p * f + 1.424_932_3e-1;
    p = p * f - 1.666_805_8e-1;
    p = p * f + 2.000_071_4e-1;
    p = p * f - 2.499_999_4e-1;
    p = p * f + 3.333_333e-1;
    let ln_w = f + (p * f * z - 0.5 * z + e * LN2_LO) + e * LN2_HI;
    let wm1 = w - 1.0; // exact: w ∈ [1, 2]
    if wm1 == 0.0 {
        u
    } else {
        ln_w * (u / wm1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    #[test]
    fn exp_f32_accuracy() {
        exp_accuracy("exp_f32", exp_f32);
    }

    /// The fused variant meets the same bound on its range, and gives the ends' values outside.
    #[test]
    fn exp_fma_accuracy() {
        let mut rng = rng(61);
        let mut xs = uniform(&mut rng, 200_000, -87.0, 88.7);
        xs.extend(uniform(&mut rng, 100_000, -1.0, 1.0));
        xs.extend(uniform(&mut rng, 100_000, -20.0, 0.0));
        xs.extend_from_slice(&[-87.0, 88.7, 0.0, -0.0, 1e-30, -1e-30, 0.34657, -0.34657]);
        let mut worst = 0.0f64;
        for &x in &xs {
            let r = (x as f64).exp();
            let ulp = (r as f32).abs() as f64 * f32::EPSILON as f64;
            worst = worst.max((exp_fma(x) as f64 - r).abs() / ulp);
        }
        println!(
            "exp_fma: worst error {worst:.2} ulp over {} samples",
            xs.len()
        );
        assert!(worst <= 2.0, "exp_fma: {worst} ulp");
        for x in [-87.5, -104.0, -1e30, f32::NEG_INFINITY, f32::NAN] {
            assert_eq!(exp_fma(x), exp_fma(-87.0), "exp({x})");
        }
        for x in [88.72, 100.0, f32::INFINITY] {
            assert_eq!(exp_fma(x), exp_fma(88.7), "exp({x})");
        }
        assert!(exp_fma(88.7).is_finite() && exp_fma(-87.0) > 0.0);
    }

    fn exp_accuracy(name: &str, exp_f32: fn(f32) -> f32) {
        let mut rng = rng(60);
        let mut xs = uniform(&mut rng, 200_000, -104.0, 89.0);
        xs.extend(uniform(&mut rng, 100_000, -1.0, 1.0));
        xs.extend(uniform(&mut rng, 100_000, -20.0, 0.0));
        xs.extend_from_slice(&[
            0.0, -0.0, 1e-30, -1e-30, 88.72, -87.3, -87.4, -100.0, 0.34657, -0.34657,
        ]);
        let mut worst = 0.0f64;
        for &x in &xs {
            let r = (x as f64).exp();
            let v = exp_f32(x) as f64;
            if r >= f32::MIN_POSITIVE as f64 && r <= f32::MAX as f64 {
                // error in units of the f32 spacing at the reference value
                let ulp = (r as f32).abs() as f64 * f32::EPSILON as f64;
                let err = (v - r).abs() / ulp;
                worst = worst.max(err);
            } else if r < f32::MIN_POSITIVE as f64 {
                assert!((v - r).abs() <= 2.0 * 1.4e-45, "exp({x}) = {v} vs {r}");
            }
        }
        println!(
            "{name}: worst error {worst:.2} ulp over {} samples",
            xs.len()
        );
        assert!(worst <= 2.0, "{worst} ulp");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(-105.0), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp_f32(88.72).is_finite());
    }

    /// The clamped variant equals [`exp_f32`] bit for bit on [−87, 88.7] (every float of
    /// [−1, 1] at a stride, a dense grid of the whole range, the ends), and outside gives the
    /// values at the ends of the range.
    #[test]
    fn exp_clamped_is_exp_f32_in_range() {
        let (lo, hi) = (-87.0f32, 88.7f32);
        let grid = (0..=2_000_000).map(|i| lo + (hi - lo) * (i as f32 / 2_000_000.0));
        // every 7th float bit pattern of [0, 1], both signs (generated, not stored)
        let unit = (0..1.0f32.to_bits()).step_by(7).map(f32::from_bits);
        let xs = grid
            .chain(unit.clone())
            .chain(unit.map(|v| -v))
            .chain([lo, hi, -86.99, 88.376, 88.38, -0.0, 0.34657, -0.34657]);
        let mut n = 0usize;
        for x in xs.filter(|x| (lo..=hi).contains(x)) {
            assert_eq!(exp_clamped(x).to_bits(), exp_f32(x).to_bits(), "exp({x:e})");
            n += 1;
        }
        assert!(n > 150_000_000, "{n} arguments checked");
        for x in [-87.5, -104.0, -1e30, f32::NEG_INFINITY, f32::NAN] {
            assert_eq!(exp_clamped(x), exp_f32(lo), "exp({x})");
        }
        for x in [88.71, 1e30, f32::INFINITY] {
            assert_eq!(exp_clamped(x), exp_f32(hi), "exp({x})");
            assert!(exp_clamped(x).is_finite());
        }
    }

    #[test]
    fn reductions_match_f64() {
        let mut r = rng(62);
        for n in [0usize, 1, 7, 8, 9, 16, 23, 64] {
            let a = uniform(&mut r, n, -1.0, 1.0);
            let b = uniform(&mut r, n, -1.0, 1.0);
            let s: f64 = a.iter().map(|&v| v as f64).sum();
            let d: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            assert!((sum(&a) as f64 - s).abs() < 1e-6 * (n as f64 + 1.0));
            assert!((dot(&a, &b) as f64 - d).abs() < 1e-6 * (n as f64 + 1.0));
        }
    }

    /// Max error of `f32` results against an f64 reference, in units of f32 spacing at the reference.
    fn worst_ulp(xs: &[f32], f: impl Fn(f32) -> f32, r: impl Fn(f64) -> f64) -> f64 {
        let mut worst = 0.0f64;
        for &x in xs {
            let rv = r(x as f64);
            let v = f(x) as f64;
            if rv.abs() >= f32::MIN_POSITIVE as f64 {
                worst =
                    worst.max((v - rv).abs() / ((rv as f32).abs() as f64 * f32::EPSILON as f64));
            } else {
                assert!((v - rv).abs() < 1e-37, "x={x}: {v} vs {rv}");
            }
        }
        worst
    }

    #[test]
    fn tanh_f32_accuracy() {
        let mut r = rng(64);
        let mut xs = uniform(&mut r, 200_000, -12.0, 12.0);
        xs.extend(uniform(&mut r, 200_000, -1.0, 1.0));
        xs.extend(uniform(&mut r, 50_000, 0.6, 0.65));
        // tiny arguments down to subnormals, both signs
        xs.extend((0..2000).flat_map(|i| {
            let v = 2f32.powf(-(i as f32) * 0.07);
            [v, -v]
        }));
        xs.extend_from_slice(&[0.625, -0.625, 0.624_999_9, 9.0, 9.5, 20.0, 1e30, -1e30]);
        let w = worst_ulp(&xs, tanh_f32, f64::tanh);
        println!("tanh_f32: worst error {w:.2} ulp over {} samples", xs.len());
        assert!(w <= 2.0, "{w} ulp");
        assert_eq!(tanh_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(10.0), 1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        // odd: exactly −tanh(−x)
        for &x in &xs {
            assert_eq!(tanh_f32(-x).to_bits(), (-tanh_f32(x)).to_bits(), "x={x}");
        }
    }

    #[test]
    fn log1p_unit_and_sigmoid_accuracy() {
        let mut r = rng(63);
        let mut us = uniform(&mut r, 200_000, 0.0, 1.0);
        us.extend((0..2000).map(|i| 2f32.powf(-(i as f32) * 0.07))); // 1 down to ~1e-42
        us.extend_from_slice(&[
            0.0,
            1.0,
            core::f32::consts::SQRT_2 - 1.0,
            0.414_213_5,
            0.414_213_6,
            1e-8,
            6e-8,
            1.2e-7,
        ]);
        let wl = worst_ulp(&us, log1p_unit_f32, f64::ln_1p);
        println!("log1p_unit_f32: worst error {wl:.2} ulp");
        assert!(wl <= 2.0, "{wl}");
        assert_eq!(log1p_unit_f32(0.0), 0.0);
        let xs = uniform(&mut r, 200_000, -90.0, 30.0);
        let ws = worst_ulp(&xs, sigmoid_f32, |x| 1.0 / (1.0 + (-x).exp()));
        println!("sigmoid_f32: worst error {ws:.2} ulp");
        assert!(ws <= 3.0, "{ws}");
        assert_eq!(sigmoid_f32(-200.0), 0.0);
        assert_eq!(sigmoid_f32(200.0), 1.0);
        assert_eq!(sigmoid_f32(0.0), 0.5);
    }
}
