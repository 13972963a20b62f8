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
//!
//! [`linear_rows`] applies the layer to a few tokens at once (a
//! streaming model that holds back a handful of samples, see `cmamba.rs`). On 32-bit Arm
//! (Cortex-M) it and the single-token [`matvec`] run [`blocked`]: a register block of 4 output
//! rows × up to 4 tokens, so each weight is loaded and widened once per block of tokens instead
//! of once per token (two f16 weights per 32-bit load, `vcvtb`/`vcvtt`); each output is one
//! sequential sum over the inputs, so a token's result does not depend on how many tokens share
//! the call. On x86_64 with AVX2 (feature `std`) up to 4 tokens share each load of the weights
//! in the AVX2 kernel, each bit-identical to its single-token result; elsewhere it loops over
//! the tokens with the single-token kernels.

/// Rows per block of the x86 kernel.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const ROWS: usize = 8;
/// Lanes of the partial sums.
#[cfg_attr(target_arch = "arm", allow(dead_code))]
const LANES: usize = 8;

/// A weight element that widens to f32.
pub trait Widen: Copy {
    /// The value as f32 (exact).
    fn widen(self) -> f32;
    /// Two adjacent elements as f32 (exact).
    #[inline(always)]
    fn widen_pair(pair: &[Self; 2]) -> (f32, f32) {
        (pair[0].widen(), pair[1].widen())
    }
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

    /// One 32-bit load and the FPU's two half-precision conversions (feature `cortex-m-fpu`).
    #[cfg(all(feature = "cortex-m-fpu", target_arch = "arm"))]
    #[inline(always)]
    fn widen_pair(pair: &[u16; 2]) -> (f32, f32) {
        // SAFETY: `pair` is 4 readable bytes; the unaligned read is a plain `ldr` on Armv7-M.
        let bits = unsafe { core::ptr::read_unaligned(pair.as_ptr().cast::<u32>()) };
        let (lo, hi): (f32, f32);
        // SAFETY: register-only conversions; the feature is only for FPUs with FP16 conversions.
        unsafe {
            core::arch::asm!(
                "vmov {lo}, {bits}",
                "vcvtt.f32.f16 {hi}, {lo}",
                "vcvtb.f32.f16 {lo}, {lo}",
                bits = in(reg) bits,
                lo = out(sreg) lo,
                hi = out(sreg) hi,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        (lo, hi)
    }
}

/// IEEE binary16 bits → f32, exact for every **finite** value (normal and subnormal; ±∞/NaN
/// are not handled: the loader rejects them). Branch-free so loops over it vectorise: the
/// magnitude bits shifted into f32 position are an f32 with the exponent off by 127 − 15, fixed
/// by an exact multiplication with 2^112 (which also normalises f16 subnormals), then the sign is
/// put back.
#[cfg(not(all(feature = "cortex-m-fpu", target_arch = "arm")))]
#[inline(always)]
pub fn f16_to_f32(h: u16) -> f32 {
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
pub fn f16_to_f32(h: u16) -> f32 {
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

/// Runs `$kernel::<T, NT>(y, y_stride, w, x, x_stride, b, d_in, d_out)` over the `nb` tokens in
/// groups of up to 4 (NT = the group's size), each group's rows starting at its first token.
macro_rules! token_groups {
    ($kernel:ident, $t:ty, $y:expr, $ys:expr, $w:expr, $x:expr, $xs:expr, $b:expr, $di:expr, $do:expr, $nb:expr) => {{
        let (y, y_stride, x, x_stride, nb) = ($y, $ys, $x, $xs, $nb);
        let mut t0 = 0;
        while t0 < nb {
            let nt = (nb - t0).min(4);
            let (ys, xs) = (&mut y[t0 * y_stride..], &x[t0 * x_stride..]);
            match nt {
                1 => $kernel::<$t, 1>(ys, y_stride, $w, xs, x_stride, $b, $di, $do),
                2 => $kernel::<$t, 2>(ys, y_stride, $w, xs, x_stride, $b, $di, $do),
                3 => $kernel::<$t, 3>(ys, y_stride, $w, xs, x_stride, $b, $di, $do),
                _ => $kernel::<$t, 4>(ys, y_stride, $w, xs, x_stride, $b, $di, $do),
            }
            t0 += nt;
        }
    }};
}

/// A weight element type the kernels read: f32, or IEEE binary16 bits (`u16`, finite).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub trait Weight: Widen + x86::Load8 {}
/// A weight element type the kernels read: f32, or IEEE binary16 bits (`u16`, finite).
#[cfg(not(all(feature = "std", target_arch = "x86_64")))]
pub trait Weight: Widen {}

impl Weight for f32 {}
impl Weight for u16 {}

/// `y (d_out) = W (d_out, d_in)·x (d_in) + b` over f32 or f16 weights (f32 accumulation). `y`
/// is overwritten. Panics if a slice is shorter than its shape.
pub fn matvec<T: Weight>(
    y: &mut [f32],
    w: &[T],
    x: &[f32],
    b: Option<&[f32]>,
    d_in: usize,
    d_out: usize,
) {
    check(y, w.len(), x, b, d_in, d_out);
    #[cfg(target_arch = "arm")]
    return blocked(y, d_out, w, x, d_in, b, d_in, d_out, 1);
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if x86::available() {
            // SAFETY: the CPU features were just checked; lengths by `check`.
            return unsafe { x86::matvec(y, w, x, b, d_in, d_out) };
        }
    }
    #[cfg(not(target_arch = "arm"))]
    kernel(y, w, x, b, d_in, d_out)
}

/// `y_i (d_out) = W (d_out, d_in)·x_i (d_in) + b` for the `nb` tokens i < nb, token i's input
/// at `x[i·x_stride..]` and output at `y[i·y_stride..]`, over f32 or f16 weights. Each token's
/// output equals [`matvec`] on that token, bit for bit. Panics if a slice is shorter than its
/// shape.
#[allow(clippy::too_many_arguments)]
pub fn linear_rows<T: Weight>(
    y: &mut [f32],
    y_stride: usize,
    w: &[T],
    x: &[f32],
    x_stride: usize,
    b: Option<&[f32]>,
    d_in: usize,
    d_out: usize,
    nb: usize,
) {
    if nb == 0 {
        return;
    }
    check_rows(y.len(), y_stride, x.len(), x_stride, d_in, d_out, nb);
    check(y, w.len(), x, b, d_in, d_out);
    #[cfg(target_arch = "arm")]
    return blocked(y, y_stride, w, x, x_stride, b, d_in, d_out, nb);
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if nb > 1 && x86::available() {
            // SAFETY: the CPU features were just checked; every token row by `check_rows`.
            return unsafe { x86::matmul(y, y_stride, w, x, x_stride, b, d_in, d_out, nb) };
        }
    }
    #[cfg(not(target_arch = "arm"))]
    for i in 0..nb {
        let yi = &mut y[i * y_stride..][..d_out];
        matvec(yi, w, &x[i * x_stride..][..d_in], b, d_in, d_out);
    }
}

/// Panics unless the `nb` strided token rows of x and y fit their slices.
fn check_rows(
    y_len: usize,
    y_stride: usize,
    x_len: usize,
    x_stride: usize,
    d_in: usize,
    d_out: usize,
    nb: usize,
) {
    let fits = |len: usize, stride: usize, width: usize| {
        (nb - 1)
            .checked_mul(stride)
            .and_then(|v| v.checked_add(width))
            .is_some_and(|need| len >= need)
    };
    assert!(
        fits(y_len, y_stride, d_out),
        "matvec: y too short for the tokens"
    );
    assert!(
        fits(x_len, x_stride, d_in),
        "matvec: x too short for the tokens"
    );
}

/// Output rows per register block of [`blocked`].
const BLOCK_ROWS: usize = 4;

/// The blocked kernel (the one 32-bit Arm runs; compiled and tested everywhere): for each group
/// of up to 4 tokens and each block of `BLOCK_ROWS` (4) output rows, a 4 × NT block of
/// accumulators in registers; every pair of weights is loaded and widened once
/// ([`Widen::widen_pair`]) and multiplied into all NT tokens. Each accumulator is one
/// sequential sum over j = 0..d_in (products rounded, then added, in order), then the bias, so
/// the result for a token does not depend on `nb` or on which rows share its block. Lengths are
/// the caller's to check ([`linear_rows`] and [`matvec`]): panics otherwise.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
#[allow(clippy::too_many_arguments)]
pub fn blocked<T: Widen>(
    y: &mut [f32],
    y_stride: usize,
    w: &[T],
    x: &[f32],
    x_stride: usize,
    b: Option<&[f32]>,
    d_in: usize,
    d_out: usize,
    nb: usize,
) {
    token_groups!(block, T, y, y_stride, w, x, x_stride, b, d_in, d_out, nb);
}

/// NT tokens (x rows at stride `x_stride`) through all `d_out` rows of W, 4 rows at a time
/// (a last partial block repeats its last row and keeps only the real ones).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block<T: Widen, const NT: usize>(
    y: &mut [f32],
    y_stride: usize,
    w: &[T],
    x: &[f32],
    x_stride: usize,
    b: Option<&[f32]>,
    d_in: usize,
    d_out: usize,
) {
    let pairs = d_in / 2;
    let xr: [&[f32]; NT] = core::array::from_fn(|t| &x[t * x_stride..][..d_in]);
    // the paired part of every row sliced to its exact length, so that the pair loop's index
    // is in bounds by construction (no check in the loop, whatever the inliner did around it)
    let xp: [&[f32]; NT] = core::array::from_fn(|t| &xr[t][..2 * pairs]);
    let mut o = 0;
    while o < d_out {
        let nr = (d_out - o).min(BLOCK_ROWS);
        let wr: [&[T]; BLOCK_ROWS] =
            core::array::from_fn(|r| &w[(o + r.min(nr - 1)) * d_in..][..d_in]);
        let wp: [&[T]; BLOCK_ROWS] = core::array::from_fn(|r| &wr[r][..2 * pairs]);
        let mut acc = [[0.0f32; NT]; BLOCK_ROWS];
        for p in 0..pairs {
            let j = 2 * p;
            let wv: [(f32, f32); BLOCK_ROWS] = core::array::from_fn(|r| {
                let pair: &[T; 2] = wp[r][j..j + 2].try_into().expect("two weights");
                T::widen_pair(pair)
            });
            for t in 0..NT {
                let (x0, x1) = (xp[t][j], xp[t][j + 1]);
                for r in 0..BLOCK_ROWS {
                    acc[r][t] += wv[r].0 * x0;
                    acc[r][t] += wv[r].1 * x1;
                }
            }
        }
        if d_in % 2 == 1 {
            let j = d_in - 1;
            for t in 0..NT {
                for r in 0..BLOCK_ROWS {
                    acc[r][t] += wr[r][j].widen() * xr[t][j];
                }
            }
        }
        for (t, yt) in y.chunks_mut(y_stride.max(1)).take(NT).enumerate() {
            // the accumulators read at fixed indices (a copy indexed by the run-time `nr`), so
            // that they can stay in registers through the pair loop
            let rows: [f32; BLOCK_ROWS] = core::array::from_fn(|r| acc[r][t]);
            for r in 0..nr {
                yt[o + r] = rows[r] + b.map_or(0.0, |b| b[o + r]);
            }
        }
        o += nr;
    }
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

/// The portable kernel (any target; the reference for the x86 one): per row, `LANES` (8)-lane
/// partial sums (vectorisable), a scalar tail for `d_in mod 8`, a fixed-order reduction and
/// the bias. Lengths already checked.
#[cfg_attr(target_arch = "arm", allow(dead_code))]
pub fn kernel<T: Widen>(
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
/// `ROWS` (8) rows, one 8-wide FMA accumulator per row (independent chains sharing each load of
/// x), f16 rows widened by `vcvtph2ps`.
/// The AVX2 + FMA + F16C kernels (picked at run time by [`matvec`] and [`linear_rows`]).
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[doc(hidden)]
pub mod x86 {
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
    pub trait Load8: super::Widen {
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

    /// `R` rows starting at row `o` for `NT` tokens (x rows at stride `x_stride`, y rows at
    /// `y_stride`): each weight vector is loaded (and widened) once for all NT tokens, and each
    /// (row, token) accumulates exactly as [`rows`] does for that token alone (same lanes,
    /// same order, same reduction), so the result is bit-identical to [`matvec`] per token.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn rows_tokens<T: Load8, const R: usize, const NT: usize>(
        y: &mut [f32],
        y_stride: usize,
        w: &[T],
        x: &[f32],
        x_stride: usize,
        b: Option<&[f32]>,
        d_in: usize,
        o: usize,
    ) {
        let split = d_in - d_in % 8;
        let base = w.as_ptr().add(o * d_in);
        let mut acc = [[_mm256_setzero_ps(); NT]; R];
        let mut i = 0;
        while i < split {
            let xv: [__m256; NT] =
                core::array::from_fn(|t| _mm256_loadu_ps(x.as_ptr().add(t * x_stride + i)));
            for (r, ar) in acc.iter_mut().enumerate() {
                let wv = T::load8(base.add(r * d_in + i));
                for (a, &xt) in ar.iter_mut().zip(&xv) {
                    *a = _mm256_fmadd_ps(wv, xt, *a);
                }
            }
            i += 8;
        }
        for (r, ar) in acc.iter().enumerate() {
            let row = &w[(o + r) * d_in..(o + r + 1) * d_in];
            for (t, a) in ar.iter().enumerate() {
                let xt = &x[t * x_stride..][..d_in];
                y[t * y_stride + o + r] =
                    hsum(*a) + tail(&row[split..], &xt[split..]) + b.map_or(0.0, |b| b[o + r]);
            }
        }
    }

    /// All rows for `NT` tokens, two rows at a time (8 + 4 + 2 of the 16 vector registers).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn tokens<T: Load8, const NT: usize>(
        y: &mut [f32],
        y_stride: usize,
        w: &[T],
        x: &[f32],
        x_stride: usize,
        b: Option<&[f32]>,
        d_in: usize,
        d_out: usize,
    ) {
        let mut o = 0;
        while o + 2 <= d_out {
            rows_tokens::<T, 2, NT>(y, y_stride, w, x, x_stride, b, d_in, o);
            o += 2;
        }
        if o < d_out {
            rows_tokens::<T, 1, NT>(y, y_stride, w, x, x_stride, b, d_in, o);
        }
    }

    /// `nb` tokens, up to 4 sharing each load of the weights (a stream that runs several
    /// samples at once reads the weight matrices once per 4 tokens instead of once per token);
    /// per token bit-identical to [`matvec`].
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C ([`available`]); operands hold their shapes (checked by
    /// the caller for every token row).
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn matmul<T: Load8>(
        y: &mut [f32],
        y_stride: usize,
        w: &[T],
        x: &[f32],
        x_stride: usize,
        b: Option<&[f32]>,
        d_in: usize,
        d_out: usize,
        nb: usize,
    ) {
        token_groups!(tokens, T, y, y_stride, w, x, x_stride, b, d_in, d_out, nb);
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
#[cfg_attr(target_arch = "arm", allow(dead_code))]
#[inline(always)]
fn reduce(a: &[f32; LANES]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// Σ w·x over the `d_in mod 8` tail.
#[cfg_attr(target_arch = "arm", allow(dead_code))]
#[inline(always)]
fn tail<T: Widen>(w: &[T], x: &[f32]) -> f32 {
    w.iter().zip(x).map(|(&wv, &xv)| wv.widen() * xv).sum()
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use alloc::vec;
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
                matvec(&mut y, &w, &x, b, d_in, d_out);
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
                matvec(&mut y16, &w16, &x, b, d_in, d_out);
                let mut y16f = alloc::vec![f32::NAN; d_out];
                matvec(&mut y16f, &w16f, &x, b, d_in, d_out);
                assert!(same(&y16, &y16f));
                kernel(&mut y16, &w16, &x, b, d_in, d_out);
                kernel(&mut y16f, &w16f, &x, b, d_in, d_out);
                assert!(same(&y16, &y16f));
            }
        }
    }

    /// The blocked kernel (what a Cortex-M runs) against f64, and its invariance: a token's
    /// output is the same bits whatever the number of tokens in the call and whichever rows
    /// share its register block (odd widths, row tails, strides), for f32 and f16 weights; and
    /// [`linear_rows`] gives each token exactly the single-token result on this target.
    #[test]
    fn blocked_kernel_is_accurate_and_independent_of_the_blocking() {
        for &(d_in, d_out) in &[
            (1, 1),
            (7, 5),
            (64, 128),
            (13, 9),
            (256, 40),
            (8, 256),
            (2, 3),
        ] {
            let nb = 7;
            let (xs, ys) = (d_in + 3, d_out + 2); // token strides with gaps
            let w = noise(d_in as u64 * 7 + d_out as u64, d_in * d_out);
            let w16: Vec<u16> = w.iter().map(|&v| f32_to_f16_bits(v)).collect();
            let w16f: Vec<f32> = w16.iter().map(|&h| f16_to_f32(h)).collect();
            let x = noise(3 + d_in as u64, nb * xs);
            let bias = noise(5, d_out);
            for b in [None, Some(&bias[..])] {
                let all32 = {
                    let mut y = vec![f32::NAN; nb * ys];
                    blocked(&mut y, ys, &w, &x, xs, b, d_in, d_out, nb);
                    y
                };
                let all16 = {
                    let mut y = vec![f32::NAN; nb * ys];
                    blocked(&mut y, ys, &w16, &x, xs, b, d_in, d_out, nb);
                    y
                };
                for i in 0..nb {
                    let xi = &x[i * xs..][..d_in];
                    let want = reference(&w16f, xi, b, d_in, d_out);
                    let tol = 1e-6 * (d_in as f64).sqrt().max(1.0);
                    let y16 = &all16[i * ys..][..d_out];
                    for o in 0..d_out {
                        let e = (f64::from(y16[o]) - want[o]).abs();
                        assert!(e < tol, "({d_in},{d_out}) token {i} row {o}: {e}");
                    }
                    // the f16 weights widened = the same floats as f32 weights
                    let mut y = vec![f32::NAN; d_out];
                    blocked(&mut y, d_out, &w16f, xi, d_in, b, d_in, d_out, 1);
                    assert_eq!(bits(&y), bits(y16), "({d_in},{d_out}) token {i}: f16");
                    // alone, or as the first of 1..=4 tokens
                    for n in 1..=4.min(nb - i) {
                        let mut y = vec![f32::NAN; n * ys];
                        blocked(&mut y, ys, &w, &x[i * xs..], xs, b, d_in, d_out, n);
                        let got = &y[..d_out];
                        assert_eq!(bits(got), bits(&all32[i * ys..][..d_out]), "n {n}");
                    }
                    // linear_rows = the single-token matvec, bit for bit
                    let mut one = vec![f32::NAN; d_out];
                    matvec(&mut one, &w16, xi, b, d_in, d_out);
                    let mut rows = vec![f32::NAN; nb * ys];
                    linear_rows(&mut rows, ys, &w16, &x, xs, b, d_in, d_out, nb);
                    assert_eq!(bits(&one), bits(&rows[i * ys..][..d_out]));
                    matvec(&mut one, &w, xi, b, d_in, d_out);
                    linear_rows(&mut rows, ys, &w, &x, xs, b, d_in, d_out, nb);
                    assert_eq!(bits(&one), bits(&rows[i * ys..][..d_out]));
                }
            }
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
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
