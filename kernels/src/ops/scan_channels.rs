//! The selective scan of [`super::scan`] (same recurrence, same gradients) with the state held
//! **channel-minor**, (N, E) per time step, so every inner loop runs over the E channels:
//! independent lanes, no reduction inside the recurrence, one SIMD vector per 8 or 16
//! channels (the layout of Mamba's CUDA kernels, where a thread owns a channel). For the
//! batched backends, which keep the states between forward and backward; the (E, N) kernels
//! of [`super::scan`] stay the single-step oracle and the engine's streaming kernels.
//!
//! `h_t[n,e] = exp(Δ_t[e]·A[e,n])·h_{t−1}[n,e] + (Δ_t[e] if dt_on_b else 1)·B_t[n]·x_t[e]`,
//! `y_t[e] = D[e]·x_t[e] + Σ_n C_t[n]·h_t[n,e]` (summed in n order).
//!
//! Shapes: x, Δ, y (L, E); B, C (L, N); A transposed to `at` (N, E) by [`transpose_a`];
//! states (L+1, N, E); h0 / h_last / dh0 in the usual (E, N) layout. With `reverse`, step s
//! consumes time L−1−s (a bidirectional SSM's backward branch without reversal copies): the
//! states are stored by step, y and every gradient at their own time rows.
//!
//! Arithmetic: every multiply-add of the recurrence, its gradients and its `exp` is one fused
//! multiply-add (`fastmath::fma`: one rounding), which the AVX-512/AVX2+FMA builds execute as one
//! instruction; a fused operation has one exact definition, so every build still gives
//! bit-identical results. The results differ from the unfused oracle of [`super::scan`] by a
//! few ulp (the tests bound the difference).
use super::fastmath::{exp_fma, fma};
pub use super::scan::ScanDims;
use super::simd::simd_dispatch;

/// A (N) shared or (E, N) (`dims.a_row_stride` 0 or N) → `at` (N, E), the layout of the
/// kernels here (for the shared case every row repeats A\[n\]).
pub fn transpose_a(at: &mut [f32], a: &[f32], dims: ScanDims) {
    let (e, n, ars) = (dims.e, dims.n, dims.a_row_stride);
    for nn in 0..n {
        for ei in 0..e {
            at[nn * e + ei] = a[ei * ars + nn];
        }
    }
}

/// Length of the states buffer of one sample that [`forward`] fills for [`backward`]:
/// (L+1, N, E).
pub fn states_len(dims: ScanDims) -> usize {
    (dims.l + 1) * dims.n * dims.e
}

fn check(dims: &ScanDims, x: usize, delta: usize, at: usize, bm: usize, cm: usize) {
    let ScanDims { l, e, n, .. } = *dims;
    assert!(x >= l * e && delta >= l * e, "scan_channels: x/Δ too short");
    assert!(at >= n * e, "scan_channels: A too short");
    assert!(bm >= l * n && cm >= l * n, "scan_channels: B/C too short");
}

/// Forward over one sample: y (L, E) overwritten, every state written to `hs` (L+1, N, E)
/// (`hs[0]` = h0 or zeros); the final state is `hs[L]`. With `hs` exactly 2·N·E long and
/// L > 1 it is a ring of two states instead (state t in slot t % 2; see [`final_state`]):
/// the same y, without the state history (inference).
///
/// # Panics
/// If a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    y: &mut [f32],
    hs: &mut [f32],
    x: &[f32],
    delta: &[f32],
    at: &[f32],
    bm: &[f32],
    cm: &[f32],
    d: &[f32],
    h0: Option<&[f32]>,
    dims: ScanDims,
    reverse: bool,
) {
    let ScanDims { l, e, n, .. } = dims;
    let ring = hs.len() == 2 * n * e && l > 1;
    assert!(
        ring || hs.len() >= (l + 1) * n * e,
        "scan_channels: states too short"
    );
    check(&dims, x.len(), delta.len(), at.len(), bm.len(), cm.len());
    assert!(
        y.len() >= l * e && d.len() >= e,
        "scan_channels: y/D too short"
    );
    let ne = n * e;
    match h0 {
        Some(h0) => {
            for ei in 0..e {
                for nn in 0..n {
                    hs[nn * e + ei] = h0[ei * n + nn];
                }
            }
        }
        None => hs[..ne].fill(0.0),
    }
    dispatch_fwd(Fwd {
        y,
        hs,
        x,
        delta,
        at,
        bm,
        cm,
        d,
        dims,
        reverse,
    });
}

struct Fwd<'a> {
    y: &'a mut [f32],
    hs: &'a mut [f32],
    x: &'a [f32],
    delta: &'a [f32],
    at: &'a [f32],
    bm: &'a [f32],
    cm: &'a [f32],
    d: &'a [f32],
    dims: ScanDims,
    reverse: bool,
}

simd_dispatch!(
    /// Runs [`fwd_kernel`] in the widest build the CPU supports (bit-identical results).
    fn dispatch_fwd(p: Fwd<'_>) => fwd_kernel
);

#[inline(always)]
fn fwd_kernel(p: Fwd<'_>) {
    let Fwd {
        y,
        hs,
        x,
        delta,
        at,
        bm,
        cm,
        d,
        dims,
        reverse,
    } = p;
    let ScanDims {
        l, e, n, dt_on_b, ..
    } = dims;
    let ne = n * e;
    let ring = hs.len() == 2 * ne && l > 1;
    for t in 0..l {
        // step t consumes time `tt`; the states are stored by step
        let tt = if reverse { l - 1 - t } else { t };
        let (prev, next): (&[f32], &mut [f32]) = if ring {
            let (s0, s1) = hs.split_at_mut(ne);
            if t % 2 == 0 {
                (s0, s1)
            } else {
                (s1, s0)
            }
        } else {
            let (done, rest) = hs.split_at_mut((t + 1) * ne);
            (&done[t * ne..], &mut rest[..ne])
        };
        let (xt, dt) = (&x[tt * e..][..e], &delta[tt * e..][..e]);
        let yt = &mut y[tt * e..][..e];
        for ((yv, &dv), &xv) in yt.iter_mut().zip(&d[..e]).zip(xt) {
            *yv = dv * xv;
        }
        for nn in 0..n {
            let (b, c) = (bm[tt * n + nn], cm[tt * n + nn]);
            fwd_lane(
                &mut next[nn * e..][..e],
                yt,
                &prev[nn * e..][..e],
                &at[nn * e..][..e],
                dt,
                xt,
                b,
                c,
                dt_on_b,
            );
        }
    }
}

/// One state row n over all channels: h_t\[n,·\] and y += C\[n\]·h_t\[n,·\].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fwd_lane(
    hn: &mut [f32],
    yt: &mut [f32],
    hp: &[f32],
    ar: &[f32],
    dt: &[f32],
    xt: &[f32],
    b: f32,
    c: f32,
    dt_on_b: bool,
) {
    let e = hn.len();
    let (yt, hp, ar, dt, xt) = (&mut yt[..e], &hp[..e], &ar[..e], &dt[..e], &xt[..e]);
    for i in 0..e {
        let bx = if dt_on_b { dt[i] * xt[i] } else { xt[i] };
        let h = fma(exp_fma(dt[i] * ar[i]), hp[i], bx * b);
        hn[i] = h;
        yt[i] = fma(c, h, yt[i]);
    }
}

/// Copies the final state of a [`forward`] over L steps from `hs` (full history or ring)
/// into `h` (E, N).
pub fn final_state(h: &mut [f32], hs: &[f32], dims: ScanDims) {
    let (l, e, n) = (dims.l, dims.e, dims.n);
    let ne = n * e;
    let slot = if hs.len() == 2 * ne && l > 1 {
        l % 2
    } else {
        l
    };
    let last = &hs[slot * ne..][..ne];
    for ei in 0..e {
        for nn in 0..n {
            h[ei * n + nn] = last[nn * e + ei];
        }
    }
}

/// One time step in the states' own (E, N) layout: `h` (E, N) ← the step from `h0` (E, N;
/// zeros if `None`), `y` (E) overwritten; x, Δ (E), B, C (N), D (E), A in its own layout (N
/// shared or (E, N), `dims.a_row_stride`); `dims.l` is not read. The same fused operations in
/// the same order as [`forward`] over one step followed by [`final_state`], so
/// **bit-identical** to them (tested), without transposing A or the states: a streaming
/// step's scan.
///
/// # Panics
/// If a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn step(
    y: &mut [f32],
    h: &mut [f32],
    x: &[f32],
    delta: &[f32],
    a: &[f32],
    bm: &[f32],
    cm: &[f32],
    d: &[f32],
    h0: Option<&[f32]>,
    dims: ScanDims,
) {
    let ScanDims {
        e, n, a_row_stride, ..
    } = dims;
    let one = ScanDims { l: 1, ..dims };
    check(&one, x.len(), delta.len(), n * e, bm.len(), cm.len());
    let na = if a_row_stride == 0 { n } else { e * n };
    assert!(a.len() >= na, "scan_channels::step: A too short");
    assert!(
        y.len() >= e && d.len() >= e && h.len() >= e * n,
        "scan_channels::step: y/D/h too short"
    );
    assert!(
        h0.is_none_or(|h0| h0.len() >= e * n),
        "scan_channels::step: h0 too short"
    );
    let p = Step {
        y,
        h,
        x,
        delta,
        a,
        bm,
        cm,
        d,
        h0,
        dims,
    };
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if n == 16 && std::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F support was just checked.
            return unsafe { step_n16_avx512(p) };
        }
    }
    dispatch_step(p);
}

struct Step<'a> {
    y: &'a mut [f32],
    h: &'a mut [f32],
    x: &'a [f32],
    delta: &'a [f32],
    a: &'a [f32],
    bm: &'a [f32],
    cm: &'a [f32],
    d: &'a [f32],
    h0: Option<&'a [f32]>,
    dims: ScanDims,
}

simd_dispatch!(
    /// Runs [`step_kernel`] in the widest build the CPU supports (bit-identical results).
    fn dispatch_step(p: Step<'_>) => step_kernel
);

/// Channels whose output sums run side by side in [`step_kernel`] (independent chains).
const STEP_BLOCK: usize = 8;

/// The states of channels e0..e0 + w of a [`step`] (vectorised over n): h (E, N).
#[inline(always)]
fn step_states(p: &mut Step<'_>, e0: usize, w: usize) {
    let ScanDims {
        n,
        a_row_stride,
        dt_on_b,
        ..
    } = p.dims;
    let bm = &p.bm[..n];
    for ei in e0..e0 + w {
        let dt = p.delta[ei];
        let bx = if dt_on_b { dt * p.x[ei] } else { p.x[ei] };
        let ar = &p.a[ei * a_row_stride..][..n];
        let hr = &mut p.h[ei * n..][..n];
        match p.h0 {
            Some(h0) => {
                let hp = &h0[ei * n..][..n];
                for nn in 0..n {
                    hr[nn] = fma(exp_fma(dt * ar[nn]), hp[nn], bx * bm[nn]);
                }
            }
            None => {
                for nn in 0..n {
                    hr[nn] = fma(exp_fma(dt * ar[nn]), 0.0, bx * bm[nn]);
                }
            }
        }
    }
}

/// [`step_kernel`] for N = 16 in an AVX-512F build: a channel's 16 states are one vector
/// (its decays through [`exp_fma_16`], the same fused operations as [`exp_fma`]), and per
/// block of 16 channels the block of states is transposed in registers, so that the outputs
/// y = D·x + Σ_n C\[n\]·h\[n\] run as 16 vector multiply-adds in n order — the same fused
/// operations in the same order per element as the scalar chains, so **bit-identical**
/// (tested through [`step`]); the last E mod 16 channels as [`step_kernel`].
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx512f")]
unsafe fn step_n16_avx512(mut p: Step<'_>) {
    use core::arch::x86_64::*;
    const N: usize = 16;
    let ScanDims {
        e,
        a_row_stride,
        dt_on_b,
        ..
    } = p.dims;
    let full = e - e % N;
    let cm: [f32; N] = p.cm[..N].try_into().expect("N = 16");
    // SAFETY: AVX-512F is enabled for this function. `step` checked the lengths: x, Δ, D,
    // y ≥ E, h (and h0) ≥ E·N, B, C ≥ N, A ≥ N (shared, stride 0) or E·N (stride N); every
    // load and store below reads or writes 16 floats at a channel e < `full` ≤ E inside them.
    unsafe {
        let bm = _mm512_loadu_ps(p.bm.as_ptr());
        for e0 in (0..full).step_by(N) {
            // a loop, not a closure: a closure would not inherit the target feature
            let mut r = [_mm512_setzero_ps(); N];
            for (j, rj) in r.iter_mut().enumerate() {
                let ei = e0 + j;
                let dt = p.delta[ei];
                let bx = if dt_on_b { dt * p.x[ei] } else { p.x[ei] };
                let ar = _mm512_loadu_ps(p.a.as_ptr().add(ei * a_row_stride));
                let decay = exp_fma_16(_mm512_mul_ps(_mm512_set1_ps(dt), ar));
                let prev = match p.h0 {
                    Some(h0) => _mm512_loadu_ps(h0.as_ptr().add(ei * N)),
                    None => _mm512_setzero_ps(),
                };
                let h = _mm512_fmadd_ps(decay, prev, _mm512_mul_ps(_mm512_set1_ps(bx), bm));
                _mm512_storeu_ps(p.h.as_mut_ptr().add(ei * N), h);
                *rj = h;
            }
            let cols = transpose16(r);
            let mut acc = _mm512_mul_ps(
                _mm512_loadu_ps(p.d.as_ptr().add(e0)),
                _mm512_loadu_ps(p.x.as_ptr().add(e0)),
            );
            for (nn, col) in cols.iter().enumerate() {
                acc = _mm512_fmadd_ps(_mm512_set1_ps(cm[nn]), *col, acc);
            }
            _mm512_storeu_ps(p.y.as_mut_ptr().add(e0), acc);
        }
    }
    if full < e {
        step_states(&mut p, full, e - full);
        step_outputs(&mut p, full, e - full);
    }
}

/// [`exp_fma`] on 16 lanes: the same clamp (max then min: NaN → the lower end, as
/// `f32::max`), reduction, fused polynomial and exponent-bit scaling, operation for
/// operation, so bit-identical per lane.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn exp_fma_16(x: core::arch::x86_64::__m512) -> core::arch::x86_64::__m512 {
    use super::fastmath::exp_fma_consts as k;
    use core::arch::x86_64::*;
    let c = |v: f32| _mm512_set1_ps(v);
    // max(x, LO) returns LO for a NaN x (its second operand), as f32::max
    let x = _mm512_min_ps(_mm512_max_ps(x, c(k::LO)), c(k::HI));
    let t = _mm512_fmadd_ps(x, c(k::LOG2E), c(k::MAGIC));
    let kf = _mm512_sub_ps(t, c(k::MAGIC));
    let ki = _mm512_sub_epi32(
        _mm512_castps_si512(t),
        _mm512_set1_epi32(k::MAGIC.to_bits() as i32),
    );
    let r = _mm512_fmadd_ps(kf, c(-k::LN2_LO), _mm512_fmadd_ps(kf, c(-k::LN2_HI), x));
    let mut p = c(k::P[0]);
    for &coef in &k::P[1..] {
        p = _mm512_fmadd_ps(p, r, c(coef));
    }
    let y = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), c(1.0));
    _mm512_castsi512_ps(_mm512_add_epi32(
        _mm512_castps_si512(y),
        _mm512_slli_epi32::<23>(ki),
    ))
}

/// The 16 × 16 transpose of rows `r` (`r[j][n]` → `out[n][j]`): two unpack stages within
/// 128-bit lanes, then two lane shuffles.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(r: [core::arch::x86_64::__m512; 16]) -> [core::arch::x86_64::__m512; 16] {
    use core::arch::x86_64::*;
    let (lo, hi) = (
        |a, b| _mm512_unpacklo_ps(a, b),
        |a, b| _mm512_unpackhi_ps(a, b),
    );
    let pd = |a: __m512| _mm512_castps_pd(a);
    let ps = |a: __m512d| _mm512_castpd_ps(a);
    // t[2i], t[2i+1]: rows 2i, 2i+1 interleaved
    let t: [__m512; 16] = core::array::from_fn(|k| {
        let i = k / 2 * 2;
        if k % 2 == 0 {
            lo(r[i], r[i + 1])
        } else {
            hi(r[i], r[i + 1])
        }
    });
    // u[4g + m]: per 128-bit lane L, column 4L + m of rows 4g..4g + 4
    let u: [__m512; 16] = core::array::from_fn(|k| {
        let (g, m) = (k / 4, k % 4);
        let (a, b) = (t[4 * g + m / 2], t[4 * g + 2 + m / 2]);
        if m % 2 == 0 {
            ps(_mm512_unpacklo_pd(pd(a), pd(b)))
        } else {
            ps(_mm512_unpackhi_pd(pd(a), pd(b)))
        }
    });
    // v[m] (m < 4): lanes 0, 2 of u[m] and u[4 + m]; v[4 + m]: lanes 1, 3; the same for rows
    // 8..16 in v[8..16]
    let v: [__m512; 16] = core::array::from_fn(|k| {
        let (half, kk) = (k / 8, k % 8);
        let (a, b) = (u[8 * half + kk % 4], u[8 * half + 4 + kk % 4]);
        if kk < 4 {
            _mm512_shuffle_f32x4::<0x88>(a, b)
        } else {
            _mm512_shuffle_f32x4::<0xDD>(a, b)
        }
    });
    // column n = 4L + m: lane L of the rows' groups
    core::array::from_fn(|n| {
        let (l, m) = (n / 4, n % 4);
        let k = if l % 2 == 0 { m } else { 4 + m };
        if l < 2 {
            _mm512_shuffle_f32x4::<0x88>(v[k], v[8 + k])
        } else {
            _mm512_shuffle_f32x4::<0xDD>(v[k], v[8 + k])
        }
    })
}

/// The outputs y = D·x + Σ_n C\[n\]·h\[n\] of channels e0..e0 + w (≤ [`STEP_BLOCK`]) in n
/// order ([`fwd_kernel`]'s), w chains side by side.
#[inline(always)]
fn step_outputs(p: &mut Step<'_>, e0: usize, w: usize) {
    let n = p.dims.n;
    let cm = &p.cm[..n];
    let (yb, hb) = (&mut p.y[e0..e0 + w], &p.h[e0 * n..(e0 + w) * n]);
    let (db, xb) = (&p.d[e0..e0 + w], &p.x[e0..e0 + w]);
    for (j, v) in yb.iter_mut().enumerate() {
        *v = db[j] * xb[j];
    }
    for (nn, &c) in cm.iter().enumerate() {
        for (j, v) in yb.iter_mut().enumerate() {
            *v = fma(c, hb[j * n + nn], *v);
        }
    }
}

#[inline(always)]
fn step_kernel(mut p: Step<'_>) {
    let ScanDims { e, n, .. } = p.dims;
    for e0 in (0..e).step_by(STEP_BLOCK) {
        let w = STEP_BLOCK.min(e - e0);
        step_states(&mut p, e0, w);
        if w < STEP_BLOCK {
            step_outputs(&mut p, e0, w);
            continue;
        }
        // y = D·x + Σ_n C[n]·h[n] in n order ([`fwd_kernel`]'s), w chains side by side; a
        // constant count: the sums stay in registers
        let cm = &p.cm[..n];
        let (yb, hb) = (&mut p.y[e0..e0 + w], &p.h[e0 * n..(e0 + w) * n]);
        let (db, xb) = (&p.d[e0..e0 + w], &p.x[e0..e0 + w]);
        {
            let mut acc = [0.0f32; STEP_BLOCK];
            for j in 0..STEP_BLOCK {
                acc[j] = db[j] * xb[j];
            }
            for (nn, &c) in cm.iter().enumerate() {
                for j in 0..STEP_BLOCK {
                    acc[j] = fma(c, hb[j * n + nn], acc[j]);
                }
            }
            yb.copy_from_slice(&acc);
        }
    }
}

/// Gradient outputs of [`backward`] (accumulated into).
pub struct Grads<'a> {
    /// (L, E)
    pub dx: &'a mut [f32],
    /// (L, E)
    pub ddelta: &'a mut [f32],
    /// dA in the transposed layout (N, E) (the caller folds it back to A's layout)
    pub dat: &'a mut [f32],
    /// (L, N)
    pub dbm: &'a mut [f32],
    /// (L, N)
    pub dcm: &'a mut [f32],
    /// (E)
    pub dd: &'a mut [f32],
    /// (E, N), if wanted
    pub dh0: Option<&'a mut [f32]>,
}

/// Working storage of [`backward`]: dh (N, E) and two (E) accumulators.
pub fn backward_scratch_len(dims: ScanDims) -> usize {
    dims.n * dims.e + 2 * dims.e
}

/// Backward over one sample, from the states `hs` of [`forward`] with the same inputs:
/// accumulates every field of `g`; `dh_last` (E, N) is the upstream gradient of the final
/// state; `scratch` has [`backward_scratch_len`] elements.
///
/// # Panics
/// If a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    g: Grads<'_>,
    scratch: &mut [f32],
    dy: &[f32],
    dh_last: Option<&[f32]>,
    hs: &[f32],
    x: &[f32],
    delta: &[f32],
    at: &[f32],
    bm: &[f32],
    cm: &[f32],
    d: &[f32],
    dims: ScanDims,
    reverse: bool,
) {
    let ScanDims { l, e, n, .. } = dims;
    assert!(
        hs.len() >= (l + 1) * n * e,
        "scan_channels: states too short"
    );
    check(&dims, x.len(), delta.len(), at.len(), bm.len(), cm.len());
    assert!(dy.len() >= l * e, "scan_channels: dy too short");
    assert!(
        scratch.len() >= backward_scratch_len(dims),
        "scan_channels: scratch"
    );
    let ne = n * e;
    let (dh, rest) = scratch.split_at_mut(ne);
    match dh_last {
        Some(h) => {
            for ei in 0..e {
                for nn in 0..n {
                    dh[nn * e + ei] = h[ei * n + nn];
                }
            }
        }
        None => dh.fill(0.0),
    }
    let Grads {
        dx,
        ddelta,
        dat,
        dbm,
        dcm,
        dd,
        dh0,
    } = g;
    dispatch_bwd(Bwd {
        dx,
        ddelta,
        dat,
        dbm,
        dcm,
        dd,
        dh,
        sums: rest,
        dy,
        hs,
        x,
        delta,
        at,
        bm,
        cm,
        d,
        dims,
        reverse,
    });
    if let Some(dh0) = dh0 {
        let dh = &scratch[..ne];
        for ei in 0..e {
            for nn in 0..n {
                dh0[ei * n + nn] += dh[nn * e + ei];
            }
        }
    }
}

struct Bwd<'a> {
    dx: &'a mut [f32],
    ddelta: &'a mut [f32],
    dat: &'a mut [f32],
    dbm: &'a mut [f32],
    dcm: &'a mut [f32],
    dd: &'a mut [f32],
    dh: &'a mut [f32],
    sums: &'a mut [f32],
    dy: &'a [f32],
    hs: &'a [f32],
    x: &'a [f32],
    delta: &'a [f32],
    at: &'a [f32],
    bm: &'a [f32],
    cm: &'a [f32],
    d: &'a [f32],
    dims: ScanDims,
    reverse: bool,
}

simd_dispatch!(
    /// Runs [`bwd_kernel`] in the widest build the CPU supports (bit-identical results).
    fn dispatch_bwd(p: Bwd<'_>) => bwd_kernel
);

#[inline(always)]
fn bwd_kernel(p: Bwd<'_>) {
    let Bwd {
        dx,
        ddelta,
        dat,
        dbm,
        dcm,
        dd,
        dh,
        sums,
        dy,
        hs,
        x,
        delta,
        at,
        bm,
        cm,
        d,
        dims,
        reverse,
    } = p;
    let ScanDims {
        l, e, n, dt_on_b, ..
    } = dims;
    let ne = n * e;
    let (s_dt, s_bx) = sums.split_at_mut(e);
    let (s_dt, s_bx) = (&mut s_dt[..e], &mut s_bx[..e]);
    for t in (0..l).rev() {
        // step t consumed time `tt`; the states are stored by step
        let tt = if reverse { l - 1 - t } else { t };
        let hprev = &hs[t * ne..][..ne];
        let hcur = &hs[(t + 1) * ne..][..ne];
        let (xt, dt, gy) = (&x[tt * e..][..e], &delta[tt * e..][..e], &dy[tt * e..][..e]);
        s_dt.fill(0.0);
        s_bx.fill(0.0);
        for nn in 0..n {
            let (b, c) = (bm[tt * n + nn], cm[tt * n + nn]);
            let (dc, db) = bwd_lane(
                &mut dh[nn * e..][..e],
                &mut dat[nn * e..][..e],
                s_dt,
                s_bx,
                &hcur[nn * e..][..e],
                &hprev[nn * e..][..e],
                &at[nn * e..][..e],
                dt,
                xt,
                gy,
                b,
                c,
                dt_on_b,
            );
            dcm[tt * n + nn] += dc;
            dbm[tt * n + nn] += db;
        }
        let (dxt, ddt) = (&mut dx[tt * e..][..e], &mut ddelta[tt * e..][..e]);
        let (dd, d, s_dt, s_bx) = (&mut dd[..e], &d[..e], &s_dt[..e], &s_bx[..e]);
        for i in 0..e {
            dd[i] += gy[i] * xt[i];
        }
        if dt_on_b {
            for i in 0..e {
                ddt[i] += s_dt[i] + s_bx[i] * xt[i];
                dxt[i] += gy[i] * d[i] + s_bx[i] * dt[i];
            }
        } else {
            for i in 0..e {
                ddt[i] += s_dt[i];
                dxt[i] += gy[i] * d[i] + s_bx[i];
            }
        }
    }
}

/// One state row n over all channels of the backward at step t; returns (∂L/∂C_t\[n\],
/// ∂L/∂B_t\[n\]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn bwd_lane(
    dh: &mut [f32],
    dat: &mut [f32],
    s_dt: &mut [f32],
    s_bx: &mut [f32],
    hc: &[f32],
    hp: &[f32],
    ar: &[f32],
    dt: &[f32],
    xt: &[f32],
    gy: &[f32],
    b: f32,
    c: f32,
    dt_on_b: bool,
) -> (f32, f32) {
    // ∂L/∂C_t[n] and ∂L/∂B_t[n] are sums over channels: 16 fixed partial sums (lane j takes
    // channels ≡ j mod 16, then the tail), folded pairwise, so the order is the code's, not the
    // SIMD width's
    let mut dc = [0.0f32; LANES];
    let mut db = [0.0f32; LANES];
    let e = dh.len();
    let full = e - e % LANES;
    for i0 in (0..full).step_by(LANES) {
        let r = i0..i0 + LANES;
        lane_block::<LANES>(
            arr_mut(&mut dh[r.clone()]),
            arr_mut(&mut dat[r.clone()]),
            arr_mut(&mut s_dt[r.clone()]),
            arr_mut(&mut s_bx[r.clone()]),
            [
                arr(&hc[r.clone()]),
                arr(&hp[r.clone()]),
                arr(&ar[r.clone()]),
            ],
            [arr(&dt[r.clone()]), arr(&xt[r.clone()]), arr(&gy[r])],
            (b, c, dt_on_b),
            &mut dc,
            &mut db,
        );
    }
    for i in full..e {
        let j = i - full;
        let r = i..i + 1;
        let (mut c1, mut b1) = ([dc[j]], [db[j]]);
        lane_block::<1>(
            arr_mut(&mut dh[r.clone()]),
            arr_mut(&mut dat[r.clone()]),
            arr_mut(&mut s_dt[r.clone()]),
            arr_mut(&mut s_bx[r.clone()]),
            [
                arr(&hc[r.clone()]),
                arr(&hp[r.clone()]),
                arr(&ar[r.clone()]),
            ],
            [arr(&dt[r.clone()]), arr(&xt[r.clone()]), arr(&gy[r])],
            (b, c, dt_on_b),
            &mut c1,
            &mut b1,
        );
        (dc[j], db[j]) = (c1[0], b1[0]);
    }
    (fold(&dc), fold(&db))
}

/// `W` channels of one state row of the backward (fixed width: one or two SIMD vectors).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lane_block<const W: usize>(
    dh: &mut [f32; W],
    dat: &mut [f32; W],
    s_dt: &mut [f32; W],
    s_bx: &mut [f32; W],
    [hc, hp, ar]: [&[f32; W]; 3],
    [dt, xt, gy]: [&[f32; W]; 3],
    (b, c, dt_on_b): (f32, f32, bool),
    dc: &mut [f32; W],
    db: &mut [f32; W],
) {
    for j in 0..W {
        // y_t = D·x + Σ C·h_t  ⇒  ∂L/∂h_t += dy·C,  ∂L/∂C_t += dy·h_t
        let dhk = fma(gy[j], c, dh[j]);
        dc[j] = fma(gy[j], hc[j], dc[j]);
        // h_t = exp(Δ·A)·h_{t−1} + bx·B
        let ea = exp_fma(dt[j] * ar[j]);
        let q = dhk * hp[j] * ea; // ∂L/∂(Δ·A)
        s_dt[j] = fma(q, ar[j], s_dt[j]);
        dat[j] = fma(q, dt[j], dat[j]);
        let bx = if dt_on_b { dt[j] * xt[j] } else { xt[j] };
        db[j] = fma(dhk, bx, db[j]);
        s_bx[j] = fma(dhk, b, s_bx[j]);
        dh[j] = dhk * ea; // ∂L/∂h_{t−1}
    }
}

#[inline(always)]
fn arr<const W: usize>(s: &[f32]) -> &[f32; W] {
    s.try_into().expect("block width")
}

#[inline(always)]
fn arr_mut<const W: usize>(s: &mut [f32]) -> &mut [f32; W] {
    s.try_into().expect("block width")
}

/// Partial sums of the channel reductions of the backward.
const LANES: usize = 16;

/// Pairwise sum of the 16 partial sums.
#[inline(always)]
fn fold(v: &[f32; LANES]) -> f32 {
    let mut w = *v;
    let mut k = LANES / 2;
    while k > 0 {
        for j in 0..k {
            w[j] += w[j + k];
        }
        k /= 2;
    }
    w[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::scan::{scan_backward, scan_forward, ScanGrads};
    use crate::ops::testutil::*;

    /// Random scan inputs of one sample (A in the kernels' (N, E) layout, negative).
    struct Inputs {
        x: Vec<f32>,
        delta: Vec<f32>,
        at: Vec<f32>,
        bm: Vec<f32>,
        cm: Vec<f32>,
        d: Vec<f32>,
        h0: Vec<f32>,
    }

    fn inputs(r: &mut TestRng, l: usize, e: usize, n: usize) -> Inputs {
        Inputs {
            x: grid_uniform(r, l * e, -1.0, 1.0),
            delta: grid_uniform(r, l * e, 0.05, 1.0),
            at: grid_uniform(r, n * e, -2.0, -0.2),
            bm: grid_uniform(r, l * n, -1.0, 1.0),
            cm: grid_uniform(r, l * n, -1.0, 1.0),
            d: grid_uniform(r, e, 0.5, 1.5),
            h0: grid_uniform(r, e * n, -1.0, 1.0),
        }
    }

    /// One [`step`] in the (E, N) layout equals a one-step [`forward`] and [`final_state`],
    /// bit for bit: with and without h0, A per channel or shared, Δ on B or not, E not a
    /// multiple of the kernel's block.
    /// The 16-lane exp is [`exp_fma`] bit for bit, inside the range, at its ends and outside
    /// (NaN and ±∞ included).
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn exp_fma_16_is_exp_fma() {
        use core::arch::x86_64::*;
        if !std::is_x86_feature_detected!("avx512f") {
            return;
        }
        let mut xs: Vec<f32> = (0..=160_000)
            .map(|i| -87.5 + 176.5 * (i as f32 / 160_000.0))
            .collect();
        xs.extend([
            -1e30,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NAN,
            -0.0,
            0.0,
            88.72,
        ]);
        xs.resize(xs.len().next_multiple_of(16), 0.5);
        for v in xs.chunks_exact(16) {
            let mut out = [0.0f32; 16];
            // SAFETY: AVX-512F was just detected; 16 floats in and out.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), exp_fma_16(_mm512_loadu_ps(v.as_ptr()))) };
            for (x, y) in v.iter().zip(out) {
                assert_eq!(y.to_bits(), exp_fma(*x).to_bits(), "exp({x})");
            }
        }
    }

    #[test]
    fn step_equals_one_step_forward() {
        let mut r = rng(31);
        for (e, n, shared, dt_on_b, with_h0) in [
            (19, 3, false, true, true),
            (19, 3, false, true, false),
            (32, 16, false, true, true),
            // N = 16 (the AVX-512 transposed build where the CPU has it): a tail of 5 channels
            (37, 16, false, true, true),
            (37, 16, true, false, false),
            (21, 5, true, false, true),
            (8, 4, true, true, false),
        ] {
            let dims = ScanDims {
                l: 1,
                e,
                n,
                a_row_stride: if shared { 0 } else { n },
                dt_on_b,
            };
            let inp = inputs(&mut r, 1, e, n);
            // A in its own layout, and the kernels' transpose of it
            let a = if shared {
                inp.at[..n].to_vec()
            } else {
                grid_uniform(&mut r, e * n, -2.0, -0.2)
            };
            let mut at = vec![0.0; n * e];
            transpose_a(&mut at, &a, dims);
            let h0 = with_h0.then_some(&inp.h0[..]);
            let (mut y0, mut y1) = (vec![0.0; e], vec![0.0; e]);
            let mut hs = vec![0.0; 2 * n * e];
            let (mut h_ref, mut h) = (vec![0.0; e * n], vec![f32::NAN; e * n]);
            forward(
                &mut y0, &mut hs, &inp.x, &inp.delta, &at, &inp.bm, &inp.cm, &inp.d, h0, dims,
                false,
            );
            final_state(&mut h_ref, &hs, dims);
            step(
                &mut y1, &mut h, &inp.x, &inp.delta, &a, &inp.bm, &inp.cm, &inp.d, h0, dims,
            );
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y1), bits(&y0), "y (e {e}, n {n})");
            assert_eq!(bits(&h), bits(&h_ref), "h (e {e}, n {n})");
        }
    }

    /// The ring-of-two forward gives the full forward's y and final state, bit for bit.
    #[test]
    fn ring_forward_equals_full_forward() {
        let mut r = rng(29);
        for l in [0usize, 1, 2, 5, 6] {
            let (e, n) = (19, 3);
            let dims = ScanDims {
                l,
                e,
                n,
                a_row_stride: n,
                dt_on_b: true,
            };
            let Inputs {
                x,
                delta,
                at,
                bm,
                cm,
                d,
                h0,
            } = inputs(&mut r, l, e, n);
            let (mut y0, mut y1) = (vec![0.0; l * e], vec![0.0; l * e]);
            let mut hs = vec![0.0; (l + 1) * n * e];
            let mut ring = vec![0.0; 2 * n * e];
            forward(
                &mut y0,
                &mut hs,
                &x,
                &delta,
                &at,
                &bm,
                &cm,
                &d,
                Some(&h0),
                dims,
                false,
            );
            forward(
                &mut y1,
                &mut ring,
                &x,
                &delta,
                &at,
                &bm,
                &cm,
                &d,
                Some(&h0),
                dims,
                false,
            );
            assert_eq!(y0, y1, "L = {l}");
            let (mut h0f, mut h1f) = (vec![0.0; e * n], vec![0.0; e * n]);
            final_state(&mut h0f, &hs, dims);
            final_state(&mut h1f, &ring, dims);
            assert_eq!(h0f, h1f, "L = {l}");
        }
    }

    /// Forward and every gradient against the (E, N) kernels of `scan` (the oracle), for both
    /// A layouts and input terms, with initial and final-state gradients.
    #[test]
    fn matches_the_channel_major_kernels() {
        let mut r = rng(23);
        for (ars_full, dt_on_b, l, e, n) in [
            (true, true, 9, 37, 5),
            (false, true, 6, 16, 4),
            (true, false, 7, 24, 3),
        ] {
            let dims = ScanDims {
                l,
                e,
                n,
                a_row_stride: if ars_full { n } else { 0 },
                dt_on_b,
            };
            let na = if ars_full { e * n } else { n };
            let x = grid_uniform(&mut r, l * e, -1.0, 1.0);
            let delta = grid_uniform(&mut r, l * e, 0.05, 1.0);
            let a = grid_uniform(&mut r, na, -2.0, -0.2);
            let bm = grid_uniform(&mut r, l * n, -1.0, 1.0);
            let cm = grid_uniform(&mut r, l * n, -1.0, 1.0);
            let d = grid_uniform(&mut r, e, 0.5, 1.5);
            let h0 = grid_uniform(&mut r, e * n, -1.0, 1.0);
            let dy = grid_uniform(&mut r, l * e, -1.0, 1.0);
            let dhl = grid_uniform(&mut r, e * n, -1.0, 1.0);
            // oracle
            let mut y0 = vec![0.0f32; l * e];
            let mut hs0 = vec![0.0f32; (l + 1) * e * n];
            scan_forward(
                &mut y0,
                &mut hs0,
                &x,
                &delta,
                &a,
                &bm,
                &cm,
                &d,
                Some(&h0),
                dims,
            );
            let z = |k: usize| vec![0.0f32; k];
            let (mut dx0, mut ddl0, mut da0) = (z(l * e), z(l * e), z(na));
            let (mut db0, mut dc0, mut dd0, mut dh00) = (z(l * n), z(l * n), z(e), z(e * n));
            scan_backward(
                ScanGrads {
                    dx: &mut dx0,
                    ddelta: &mut ddl0,
                    da: &mut da0,
                    dbm: &mut db0,
                    dcm: &mut dc0,
                    dd: &mut dd0,
                    dh0: Some(&mut dh00),
                },
                &dy,
                Some(&dhl),
                &hs0,
                &x,
                &delta,
                &a,
                &bm,
                &cm,
                &d,
                dims,
            );
            // channel-minor kernels
            let mut at = z(n * e);
            transpose_a(&mut at, &a, dims);
            let mut y1 = z(l * e);
            let mut hs1 = z((l + 1) * n * e);
            forward(
                &mut y1,
                &mut hs1,
                &x,
                &delta,
                &at,
                &bm,
                &cm,
                &d,
                Some(&h0),
                dims,
                false,
            );
            let (mut dx1, mut ddl1, mut dat) = (z(l * e), z(l * e), z(n * e));
            let (mut db1, mut dc1, mut dd1, mut dh01) = (z(l * n), z(l * n), z(e), z(e * n));
            let mut scratch = z(backward_scratch_len(dims));
            backward(
                Grads {
                    dx: &mut dx1,
                    ddelta: &mut ddl1,
                    dat: &mut dat,
                    dbm: &mut db1,
                    dcm: &mut dc1,
                    dd: &mut dd1,
                    dh0: Some(&mut dh01),
                },
                &mut scratch,
                &dy,
                Some(&dhl),
                &hs1,
                &x,
                &delta,
                &at,
                &bm,
                &cm,
                &d,
                dims,
                false,
            );
            let mut da1 = z(na);
            for ei in 0..e {
                for nn in 0..n {
                    da1[ei * dims.a_row_stride + nn] += dat[nn * e + ei];
                }
            }
            let close = |what: &str, a: &[f32], b: &[f32]| {
                let scale = a.iter().fold(1.0f32, |m, v| m.max(v.abs()));
                for (i, (u, v)) in a.iter().zip(b).enumerate() {
                    assert!((u - v).abs() <= 2e-6 * scale, "{what}[{i}]: {u} vs {v}");
                }
            };
            close("y", &y0, &y1);
            let mut last = z(e * n);
            for ei in 0..e {
                for nn in 0..n {
                    last[ei * n + nn] = hs1[l * n * e + nn * e + ei];
                }
            }
            close("h_last", &hs0[l * e * n..], &last);
            close("dx", &dx0, &dx1);
            close("dΔ", &ddl0, &ddl1);
            close("dA", &da0, &da1);
            close("dB", &db0, &db1);
            close("dC", &dc0, &dc1);
            close("dD", &dd0, &dd1);
            close("dh0", &dh00, &dh01);
        }
    }

    /// `reverse` equals scanning the time-reversed inputs and reversing the outputs, bit for
    /// bit: y, the final state, and every gradient.
    #[test]
    fn reverse_equals_scanning_reversed_time() {
        let mut r = rng(41);
        let (l, e, n) = (7, 21, 3);
        for dt_on_b in [true, false] {
            let dims = ScanDims {
                l,
                e,
                n,
                a_row_stride: n,
                dt_on_b,
            };
            let Inputs {
                x,
                delta,
                at,
                bm,
                cm,
                d,
                h0,
            } = inputs(&mut r, l, e, n);
            let dy = grid_uniform(&mut r, l * e, -1.0, 1.0);
            let dhl = grid_uniform(&mut r, e * n, -1.0, 1.0);
            let rev = |v: &[f32], w: usize| -> Vec<f32> {
                v.chunks_exact(w).rev().flatten().copied().collect()
            };
            let z = |k: usize| vec![0.0f32; k];
            // (inputs, reverse flag) → (y, states, dx, dΔ, dA, dB, dC, dD, dh0)
            let run = |x: &[f32], dl: &[f32], bm: &[f32], cm: &[f32], dy: &[f32], rv: bool| {
                let (mut y, mut hs) = (z(l * e), z((l + 1) * n * e));
                forward(&mut y, &mut hs, x, dl, &at, bm, cm, &d, Some(&h0), dims, rv);
                let (mut dx, mut ddl, mut dat) = (z(l * e), z(l * e), z(n * e));
                let (mut db, mut dc, mut dd, mut dh0) = (z(l * n), z(l * n), z(e), z(e * n));
                let mut scratch = z(backward_scratch_len(dims));
                backward(
                    Grads {
                        dx: &mut dx,
                        ddelta: &mut ddl,
                        dat: &mut dat,
                        dbm: &mut db,
                        dcm: &mut dc,
                        dd: &mut dd,
                        dh0: Some(&mut dh0),
                    },
                    &mut scratch,
                    dy,
                    Some(&dhl),
                    &hs,
                    x,
                    dl,
                    &at,
                    bm,
                    cm,
                    &d,
                    dims,
                    rv,
                );
                (y, hs, dx, ddl, dat, db, dc, dd, dh0)
            };
            let a = run(&x, &delta, &bm, &cm, &dy, true);
            let b = run(
                &rev(&x, e),
                &rev(&delta, e),
                &rev(&bm, n),
                &rev(&cm, n),
                &rev(&dy, e),
                false,
            );
            assert_eq!(a.0, rev(&b.0, e), "y");
            assert_eq!(a.1, b.1, "states (stored by step)");
            assert_eq!(a.2, rev(&b.2, e), "dx");
            assert_eq!(a.3, rev(&b.3, e), "dΔ");
            assert_eq!(a.4, b.4, "dA");
            assert_eq!(a.5, rev(&b.5, n), "dB");
            assert_eq!(a.6, rev(&b.6, n), "dC");
            assert_eq!(a.7, b.7, "dD");
            assert_eq!(a.8, b.8, "dh0");
        }
    }
}
