//! Single-token fully connected layer — the matrix–vector product of `nn.Linear` applied to
//! one token, `y (out) = W (out, in)·x (in) + b` — over f32 **or f16** weights with f32
//! accumulation, for the streaming path (one sample per step: the window path's `sgemm` would
//! allocate packing buffers and is slow for one row).
//!
//! Nothing is allocated. The portable kernel keeps 8-lane partial sums per row (the compiler
//! vectorises them); with feature `std` on x86_64 an AVX2 + FMA + F16C kernel (8 rows at a
//! time, explicit intrinsics) is picked at run time. The summation orders differ from each
//! other and from the window path's `sgemm`, so results agree to rounding (≈ 1e-7 relative),
//! not bit for bit.
//!
//! f16 weights are widened in registers by [`f16_to_f32`] (exact for every finite binary16
//! value; the loader rejects ±∞/NaN), so an f16 model streams from half the weight memory.

/// Rows per block of the x86 kernel.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const ROWS: usize = 8;
/// Lanes of the partial sums.
const LANES: usize = 8;

/// A weight element that widens to f32.
pub(crate) trait Widen: Copy {
    /// The value as f32 (exact).
    fn widen(self) -> f32;
}

impl Widen for f32 {
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

/// IEEE binary16 bit pattern.
impl Widen for u16 {
    #[inline(always)]
    fn widen(self) -> f32 {
        f16_to_f32(self)
    }
}

/// IEEE binary16 bits → f32, exact for every **finite** value (normal and subnormal; ±∞/NaN
/// are not handled: the loader rejects them). Branch-free so loops over it vectorise: the
/// magnitude bits shifted into f32 position are an f32 with the exponent off by 127 − 15, fixed
/// by an exact multiplication with 2^112 (which also normalises f16 subnormals), then the sign is
/// put back.
#[cfg(not(all(feature = "cortex-m-fpu", target_arch = "arm")))]
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    /// 2^112
    const SCALE: f32 = f32::from_bits((112 + 127) << 23);
    let h = u32::from(h);
    let mag = f32::from_bits((h & 0x7fff) << 13) * SCALE;
    f32::from_bits(mag.to_bits() | ((h & 0x8000) << 16))
}

/// IEEE binary16 bits → f32 with the FPU's half-precision conversion (feature `cortex-m-fpu`:
/// Cortex-M4F/M7 FPv4/FPv5, M33/M55): `vcvtb.f32.f16` is exact, as the portable version, and
/// takes 2 instructions instead of ~8 in the device's hot loop (Arm Architecture Reference
/// Manual, "VCVTB, VCVTT").
#[cfg(all(feature = "cortex-m-fpu", target_arch = "arm"))]
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let out: f32;
    // SAFETY: register-only conversion; the feature is only for FPUs with FP16 conversions.
    unsafe {
        core::arch::asm!(
            "vmov {o}, {h}",
            "vcvtb.f32.f16 {o}, {o}",
            h = in(reg) u32::from(h),
            o = out(sreg) out,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    out
}

/// `y (d_out) = W (d_out, d_in)·x (d_in) + b`, f32 weights. `y` is overwritten.
/// Panics if a slice is shorter than its shape.
pub(crate) fn matvec_f32(
    y: &mut [f32],
    w: &[f32],
    x: &[f32],
    b: Option<&[f32]>,
    d_in: usize,
    d_out: usize,
) {
    check(y, w.len(), x, b, d_in, d_out);
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if x86::available() {
            // SAFETY: the CPU features were just checked; lengths by `check`.
            return unsafe { x86::matvec(y, w, x, b, d_in, d_out) };
        }
    }
    kernel(y, w, x, b, d_in, d_out)
}

/// `y (d_out) = W (d_out, d_in)·x (d_in) + b`, f16 weights (binary16 bits, finite), f32
/// accumulation. `y` is overwritten. Panics if a slice is shorter than its shape.
pub(crate) fn matvec_f16(
    y: &mut [f32],
    w: &[u16],
    x: &[f32],
    b: Option<&[f32]>,
    d_in: usize,
    d_out: usize,
) {
    check(y, w.len(), x, b, d_in, d_out);
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if x86::available() {
            // SAFETY: the CPU features were just checked; lengths by `check`.
            return unsafe { x86::matvec(y, w, x, b, d_in, d_out) };
        }
    }
    kernel(y, w, x, b, d_in, d_out)
}

/// Panics unless every operand is at least as long as its shape.
fn check(y: &[f32], w_len: usize, x: &[f32], b: Option<&[f32]>, d_in: usize, d_out: usize) {
    assert!(y.len() >= d_out, "matvec: y too short");
    assert!(x.len() >= d_in, "matvec: x too short");
    assert!(
        d_out.checked_mul(d_in).is_some_and(|n| w_len >= n),
        "matvec: w too short"
    );
    if let Some(b) = b {
        assert!(b.len() >= d_out, "matvec: b too short");
    }
}

/// The portable kernel (any target; the reference for the x86 one): per row, [`LANES`]-lane
/// partial sums (vectorisable), a scalar tail for `d_in mod 8`, a fixed-order reduction and
/// the bias. Lengths already checked.
pub(crate) fn kernel<T: Widen>(
    y: &mut [f32],
    w: &[T],
    x: &[f32],
    b: Option<&[f32]>,
    d_in: usize,
    d_out: usize,
) {
    let x = &x[..d_in];
    let split = d_in - d_in % LANES;
    let (xv, xt) = x.split_at(split);
    for (o, yo) in y[..d_out].iter_mut().enumerate() {
        let row = &w[o * d_in..(o + 1) * d_in];
        let mut acc = [0.0f32; LANES];
        for (wc, xc) in row[..split].chunks_exact(LANES).zip(xv.chunks_exact(LANES)) {
            for j in 0..LANES {
                acc[j] += wc[j].widen() * xc[j];
            }
        }
        *yo = reduce(&acc) + tail(&row[split..], xt) + b.map_or(0.0, |b| b[o]);
    }
}

/// AVX2 + FMA + F16C kernel (x86_64 with feature `std`, picked at run time): blocks of
/// [`ROWS`] rows, one 8-wide FMA accumulator per row (independent chains sharing each load of
/// x), f16 rows widened by `vcvtph2ps`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
mod x86 {
    use super::{tail, ROWS};
    use core::arch::x86_64::*;

    /// Whether the CPU runs this kernel (cached by std after the first call).
    #[inline]
    pub(super) fn available() -> bool {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
    }

    /// Eight weights from `p` as f32 lanes.
    pub(super) trait Load8: super::Widen {
        /// # Safety
        /// `p` points at 8 readable elements; the CPU has AVX2 and F16C.
        unsafe fn load8(p: *const Self) -> __m256;
    }

    impl Load8 for f32 {
        #[inline(always)]
        unsafe fn load8(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
    }

    impl Load8 for u16 {
        #[inline(always)]
        unsafe fn load8(p: *const u16) -> __m256 {
            _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
        }
    }

    /// Σ of the 8 lanes.
    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// `R` rows starting at row `o`.
    #[inline(always)]
    unsafe fn rows<T: Load8, const R: usize>(
        y: &mut [f32],
        w: &[T],
        x: &[f32],
        b: Option<&[f32]>,
        d_in: usize,
        o: usize,
    ) {
        let split = d_in - d_in % 8;
        let base = w.as_ptr().add(o * d_in);
        let mut acc = [_mm256_setzero_ps(); R];
        let mut i = 0;
        while i < split {
            let xv = _mm256_loadu_ps(x.as_ptr().add(i));
            for (r, a) in acc.iter_mut().enumerate() {
                *a = _mm256_fmadd_ps(T::load8(base.add(r * d_in + i)), xv, *a);
            }
            i += 8;
        }
        for (r, a) in acc.iter().enumerate() {
            let row = &w[(o + r) * d_in..(o + r + 1) * d_in];
            y[o + r] =
                hsum(*a) + tail(&row[split..], &x[split..d_in]) + b.map_or(0.0, |b| b[o + r]);
        }
    }

    /// # Safety
    /// The CPU has AVX2, FMA and F16C ([`available`]); operands hold their shapes.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn matvec<T: Load8>(
        y: &mut [f32],
        w: &[T],
        x: &[f32],
        b: Option<&[f32]>,
        d_in: usize,
        d_out: usize,
    ) {
        let mut o = 0;
        while o + ROWS <= d_out {
            rows::<T, ROWS>(y, w, x, b, d_in, o);
            o += ROWS;
        }
        while o < d_out {
            rows::<T, 1>(y, w, x, b, d_in, o);
            o += 1;
        }
    }
}

/// Pairwise sum of the 8 lanes (fixed order).
#[inline(always)]
fn reduce(a: &[f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// Σ w·x over the `d_in mod 8` tail.
#[inline(always)]
fn tail<T: Widen>(w: &[T], x: &[f32]) -> f32 {
    w.iter().zip(x).map(|(&wv, &xv)| wv.widen() * xv).sum()
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// splitmix64 → uniform [−1, 1)
    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = s;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// Reference f16 → f32 decoding (IEEE 754 binary16, by cases).
    fn f16_reference(h: u16) -> f64 {
        let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
        let e = i32::from((h >> 10) & 0x1f);
        let m = f64::from(h & 0x3ff);
        if e == 0 {
            sign * m * 2f64.powi(-24)
        } else {
            sign * (1.0 + m / 1024.0) * 2f64.powi(e - 15)
        }
    }

    #[test]
    fn f16_widening_is_exact_for_every_finite_value() {
        for h in 0..=u16::MAX {
            if h & 0x7c00 == 0x7c00 {
                continue; // ±∞ / NaN: rejected at load
            }
            let v = f16_to_f32(h);
            assert_eq!(v as f64, f16_reference(h), "bits {h:#06x}");
            assert_eq!(v.is_sign_negative(), h & 0x8000 != 0, "sign of {h:#06x}");
        }
    }

    /// f64 reference of y = W·x + b with W given as f32 values.
    fn reference(w: &[f32], x: &[f32], b: Option<&[f32]>, d_in: usize, d_out: usize) -> Vec<f64> {
        (0..d_out)
            .map(|o| {
                let dot: f64 = (0..d_in)
                    .map(|i| f64::from(w[o * d_in + i]) * f64::from(x[i]))
                    .sum();
                dot + b.map_or(0.0, |b| f64::from(b[o]))
            })
            .collect()
    }

    #[test]
    fn matches_f64_reference_for_odd_shapes() {
        let shapes = [
            (1, 1),
            (8, 4),
            (7, 5),
            (64, 128),
            (13, 9),
            (256, 40),
            (8, 256),
            (19, 17),
            (0, 3),
        ];
        for &(d_in, d_out) in &shapes {
            for with_bias in [false, true] {
                let w = noise(d_in as u64 * 31 + d_out as u64, d_in * d_out);
                let x = noise(7 + d_in as u64, d_in);
                let bias = noise(99, d_out);
                let b = with_bias.then_some(&bias[..]);
                let want = reference(&w, &x, b, d_in, d_out);
                let mut y = alloc::vec![f32::NAN; d_out];
                matvec_f32(&mut y, &w, &x, b, d_in, d_out);
                let mut y_portable = alloc::vec![f32::NAN; d_out];
                kernel(&mut y_portable, &w, &x, b, d_in, d_out);
                let tol = 1e-6 * (d_in as f64).sqrt().max(1.0);
                for o in 0..d_out {
                    // dispatched (x86: AVX2/FMA) and portable kernels, both against f64
                    let e = (f64::from(y[o]) - want[o]).abs();
                    assert!(e < tol, "({d_in},{d_out}) row {o}: {e}");
                    let e = (f64::from(y_portable[o]) - want[o]).abs();
                    assert!(e < tol, "portable ({d_in},{d_out}) row {o}: {e}");
                }
                // f16: the f16-rounded weights through the f16 path = those weights as f32,
                // bit for bit, in both kernels
                let w16: Vec<u16> = w.iter().map(|&v| f32_to_f16_bits(v)).collect();
                let w16f: Vec<f32> = w16.iter().map(|&h| f16_to_f32(h)).collect();
                let same =
                    |p: &[f32], q: &[f32]| p.iter().zip(q).all(|(u, v)| u.to_bits() == v.to_bits());
                let mut y16 = alloc::vec![f32::NAN; d_out];
                matvec_f16(&mut y16, &w16, &x, b, d_in, d_out);
                let mut y16f = alloc::vec![f32::NAN; d_out];
                matvec_f32(&mut y16f, &w16f, &x, b, d_in, d_out);
                assert!(same(&y16, &y16f));
                kernel(&mut y16, &w16, &x, b, d_in, d_out);
                kernel(&mut y16f, &w16f, &x, b, d_in, d_out);
                assert!(same(&y16, &y16f));
            }
        }
    }

    /// Round-to-nearest f32 → binary16 bits for values of magnitude < 65504 (test helper).
    fn f32_to_f16_bits(v: f32) -> u16 {
        let sign = if v.is_sign_negative() { 0x8000u16 } else { 0 };
        let a = f64::from(v.abs());
        if a == 0.0 {
            return sign;
        }
        // search the nearest of the 31·1024 finite magnitudes (exact, slow; small tests only)
        let mut lo = 0u16;
        let mut hi = 0x7bffu16;
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if f16_reference(mid) <= a {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let up = (lo + 1).min(0x7bff);
        let pick = if (f16_reference(up) - a).abs() < (a - f16_reference(lo)).abs() {
            up
        } else {
            lo
        };
        sign | pick
    }
}
