//! Multi-head scaled dot-product self-attention core of one sample, no mask (the reference's
//! `MultiHeadSelfAttention` between the q/k/v projections and `out_proj`,
//! `models/QuantumTransformer.py` and `models/ClassicalTransformer.py`; spec
//! circuits-and-groups-1-3 §3.1):
//!
//! for every head h (columns `h·d_h .. (h+1)·d_h` of Q, K, V, O, d_h = D/H):
//! `S_h = Q_h·K_hᵀ / √d_h`, `P_h = softmax(S_h)` over the last dim (keys), optionally
//! `P̃_h = P_h ⊙ M_h` (a dropout mask on the probabilities, training only), `O_h = P̃_h·V_h`;
//! the heads are concatenated in order, so O is (L, D) token-major like the inputs.
//!
//! Shapes: Q, K, V, O (L, D); probabilities and mask (H, L, L), head-major, row = query.
//! The products are `matrixmultiply::sgemm` calls on strided views (no per-head copies).

use super::fastmath::{dot, exp_f32, sum};
use super::simd::simd_dispatch;
use alloc::vec;

/// Checks the slice lengths every `sgemm` below relies on: (name, length, required length).
fn check_shapes(slices: &[(&str, usize, usize)]) {
    for &(n, len, need) in slices {
        assert!(len >= need, "attention: {n} too short ({len} < {need})");
    }
}

/// C (m×n) = α·A (m×k)·B (k×n) + β·C with explicit row/column strides: the `gemm` crate
/// (AVX-512 kernels, on the calling thread) with feature `std`, `matrixmultiply` without.
///
/// # Safety
/// Every element `A[i·rsa + p·csa]`, `B[p·rsb + j·csb]`, `C[i·rsc + j·csc]` for i < m, p < k,
/// j < n must be in bounds of the respective pointer's allocation.
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn gemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: (*const f32, usize, usize),
    b: (*const f32, usize, usize),
    beta: f32,
    c: (*mut f32, usize, usize),
) {
    #[cfg(feature = "std")]
    {
        // gemm::gemm computes dst ← α_dst·dst + β·lhs·rhs (dst read only if read_dst)
        gemm::gemm(
            m,
            n,
            k,
            c.0,
            c.2 as isize,
            c.1 as isize,
            beta != 0.0,
            a.0,
            a.2 as isize,
            a.1 as isize,
            b.0,
            b.2 as isize,
            b.1 as isize,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    #[cfg(not(feature = "std"))]
    matrixmultiply::sgemm(
        m,
        k,
        n,
        alpha,
        a.0,
        a.1 as isize,
        a.2 as isize,
        b.0,
        b.1 as isize,
        b.2 as isize,
        beta,
        c.0,
        c.1 as isize,
        c.2 as isize,
    );
}

/// In place: `row ← softmax(row / scale)` (max-shifted). Separate passes so each loop
/// vectorises (the divide, the 8-lane max, the branch-free `exp`, the 8-lane sum).
#[inline(always)]
fn softmax_row(row: &mut [f32], scale: f32) {
    row.iter_mut().for_each(|s| *s /= scale);
    let mut acc = [f32::NEG_INFINITY; 8];
    let chunks = row.chunks_exact(8);
    let mut m = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = a.max(v);
        }
    }
    for a in acc {
        m = m.max(a);
    }
    row.iter_mut().for_each(|s| *s = exp_f32(*s - m));
    let inv = 1.0 / sum(row);
    row.iter_mut().for_each(|s| *s *= inv);
}

/// Operands of [`softmax_kernel`]: the L×L scores of one head, and optionally a dropout mask
/// with the buffer that receives the masked probabilities.
struct Softmax<'a> {
    p: &'a mut [f32],
    l: usize,
    scale: f32,
    mask: Option<(&'a [f32], &'a mut [f32])>,
}

/// Every row of `p` ← softmax(row / scale); then `dropped = p ⊙ mask` if a mask is given.
#[inline(always)]
fn softmax_kernel(s: Softmax<'_>) {
    for row in s.p.chunks_exact_mut(s.l) {
        softmax_row(row, s.scale);
    }
    if let Some((m, dropped)) = s.mask {
        mul_kernel(Mul {
            out: dropped,
            a: s.p,
            b: m,
        });
    }
}

simd_dispatch!(
    /// Runs [`softmax_kernel`] in the widest build the CPU supports (bit-identical results).
    fn softmax_dispatch(s: Softmax<'_>) => softmax_kernel
);

/// Operands of [`mul_kernel`].
struct Mul<'a> {
    out: &'a mut [f32],
    a: &'a [f32],
    b: &'a [f32],
}

/// out = a ⊙ b.
#[inline(always)]
fn mul_kernel(m: Mul<'_>) {
    m.out
        .iter_mut()
        .zip(m.a.iter().zip(m.b))
        .for_each(|(o, (x, y))| *o = x * y);
}

simd_dispatch!(
    /// Runs [`mul_kernel`] in the widest build the CPU supports (bit-identical results).
    fn mul_dispatch(m: Mul<'_>) => mul_kernel
);

/// Operands of [`softmax_bwd_kernel`]: dP̃ of one head (L×L, becomes dS in place), the saved
/// probabilities P and the dropout mask.
struct SoftmaxBwd<'a> {
    dp: &'a mut [f32],
    p: &'a [f32],
    mask: Option<&'a [f32]>,
    l: usize,
    scale: f32,
}

/// dP = dP̃ ⊙ M; per row, dS = P ⊙ (dP − Σ P ⊙ dP) / scale (softmax backward and the 1/√d_h
/// of the scores).
#[inline(always)]
fn softmax_bwd_kernel(s: SoftmaxBwd<'_>) {
    let SoftmaxBwd {
        dp,
        p,
        mask,
        l,
        scale,
    } = s;
    if let Some(mh) = mask {
        dp.iter_mut().zip(mh).for_each(|(a, m)| *a *= m);
    }
    for (dr, pr) in dp.chunks_exact_mut(l).zip(p.chunks_exact(l)) {
        let rs = dot(dr, pr);
        dr.iter_mut()
            .zip(pr)
            .for_each(|(a, &pv)| *a = pv * (*a - rs) / scale);
    }
}

simd_dispatch!(
    /// Runs [`softmax_bwd_kernel`] in the widest build the CPU supports (bit-identical results).
    fn softmax_bwd_dispatch(s: SoftmaxBwd<'_>) => softmax_bwd_kernel
);

/// Forward: writes O (L, D) and the softmax probabilities `probs` (H, L, L) (before the
/// dropout mask; saved for the backward). `drop_mask` (H, L, L), if given, multiplies the
/// probabilities before they weight V (0 or 1/(1−p) per element, the reference's
/// `Dropout(attn_weights)`). Scores are divided by √d_h after the product (as the reference
/// does) and the softmax is max-shifted (no overflow).
///
/// # Panics
/// If D is not a multiple of H or a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    o: &mut [f32],
    probs: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    drop_mask: Option<&[f32]>,
    l: usize,
    d: usize,
    h: usize,
) {
    let mut scratch = match drop_mask {
        Some(_) => vec![0.0f32; l * l],
        None => vec![],
    };
    attention_forward_in(o, probs, q, k, v, drop_mask, l, d, h, &mut scratch);
}

/// Working storage of [`attention_forward_in`] (L·L with a dropout mask, else 0) and of
/// [`attention_backward_in`] (2·L·L), in floats.
pub fn attention_scratch_len(l: usize, backward: bool) -> usize {
    if backward {
        2 * l * l
    } else {
        l * l
    }
}

/// [`attention_forward`] with caller-lent working storage (`scratch`: at least
/// [`attention_scratch_len`]`(L, false)` floats when a mask is given; any contents), so a
/// training step allocates nothing per call.
///
/// # Panics
/// As [`attention_forward`], or if `scratch` is too short.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_in(
    o: &mut [f32],
    probs: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    drop_mask: Option<&[f32]>,
    l: usize,
    d: usize,
    h: usize,
    scratch: &mut [f32],
) {
    assert!(
        h > 0 && d.is_multiple_of(h),
        "attention: D={d} not divisible by H={h}"
    );
    if l == 0 || d == 0 {
        return;
    }
    let dh = d / h;
    let (ld, ll) = (l * d, l * l);
    check_shapes(&[
        ("q", q.len(), ld),
        ("k", k.len(), ld),
        ("v", v.len(), ld),
        ("o", o.len(), ld),
        ("probs", probs.len(), h * ll),
        ("drop_mask", drop_mask.map_or(h * ll, <[f32]>::len), h * ll),
    ]);
    let scale = libm::sqrtf(dh as f32);
    let dropped: &mut [f32] = match drop_mask {
        Some(_) => {
            assert!(scratch.len() >= ll, "attention: scratch too short");
            &mut scratch[..ll]
        }
        None => &mut [],
    };
    for hh in 0..h {
        let off = hh * dh;
        let p = &mut probs[hh * ll..(hh + 1) * ll];
        // S (L×L) = Q_h (L×d_h) · K_hᵀ (d_h×L), K_hᵀ[j][s] = k[s·D + off + j].
        // SAFETY: rows < L, columns < d_h with row stride D stay inside l·d (checked above);
        // p holds L·L.
        unsafe {
            gemm(
                l,
                dh,
                l,
                1.0,
                (q[off..].as_ptr(), d, 1),
                (k[off..].as_ptr(), 1, d),
                0.0,
                (p.as_mut_ptr(), l, 1),
            );
        }
        let mh = drop_mask.map(|m| &m[hh * ll..(hh + 1) * ll]);
        softmax_dispatch(Softmax {
            p,
            l,
            scale,
            mask: mh.map(|m| (m, &mut dropped[..])),
        });
        let pv: &[f32] = if mh.is_some() { dropped } else { p };
        // O_h (L×d_h, row stride D) = P̃ (L×L) · V_h (L×d_h, row stride D).
        // SAFETY: as above.
        unsafe {
            gemm(
                l,
                l,
                dh,
                1.0,
                (pv.as_ptr(), l, 1),
                (v[off..].as_ptr(), d, 1),
                0.0,
                (o[off..].as_mut_ptr(), d, 1),
            );
        }
    }
}

/// Backward of [`attention_forward`] from the saved `probs` (and the same `drop_mask`):
/// accumulates dQ, dK, dV (L, D) given dO (L, D).
///
/// Per head: `dV += P̃ᵀ·dO`, `dP = (dO·Vᵀ) ⊙ M`, `dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √d_h`,
/// `dQ += dS·K`, `dK += dSᵀ·Q`.
///
/// # Panics
/// If D is not a multiple of H or a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    drop_mask: Option<&[f32]>,
    l: usize,
    d: usize,
    h: usize,
) {
    let mut scratch = vec![0.0f32; attention_scratch_len(l, true)];
    attention_backward_in(
        [dq, dk, dv],
        dout,
        [q, k, v],
        probs,
        drop_mask,
        (l, d, h),
        &mut scratch,
    );
}

/// [`attention_backward`] with caller-lent working storage (`scratch`: at least
/// [`attention_scratch_len`]`(L, true)` floats, any contents); shapes (L, D, H).
///
/// # Panics
/// As [`attention_backward`], or if `scratch` is too short.
pub fn attention_backward_in(
    [dq, dk, dv]: [&mut [f32]; 3],
    dout: &[f32],
    [q, k, v]: [&[f32]; 3],
    probs: &[f32],
    drop_mask: Option<&[f32]>,
    (l, d, h): (usize, usize, usize),
    scratch: &mut [f32],
) {
    assert!(
        h > 0 && d.is_multiple_of(h),
        "attention: D={d} not divisible by H={h}"
    );
    if l == 0 || d == 0 {
        return;
    }
    let dh = d / h;
    let (ld, ll) = (l * d, l * l);
    check_shapes(&[
        ("q", q.len(), ld),
        ("k", k.len(), ld),
        ("v", v.len(), ld),
        ("dout", dout.len(), ld),
        ("dq", dq.len(), ld),
        ("dk", dk.len(), ld),
        ("dv", dv.len(), ld),
        ("probs", probs.len(), h * ll),
        ("drop_mask", drop_mask.map_or(h * ll, <[f32]>::len), h * ll),
    ]);
    let scale = libm::sqrtf(dh as f32);
    assert!(scratch.len() >= 2 * ll, "attention: scratch too short");
    let (dp, dropped) = scratch[..2 * ll].split_at_mut(ll);
    for hh in 0..h {
        let off = hh * dh;
        let p = &probs[hh * ll..(hh + 1) * ll];
        let mh = drop_mask.map(|m| &m[hh * ll..(hh + 1) * ll]);
        if let Some(mh) = mh {
            mul_dispatch(Mul {
                out: dropped,
                a: p,
                b: mh,
            });
        }
        let pv: &[f32] = if mh.is_some() { dropped } else { p };
        // SAFETY (all four products): head columns off..off+d_h with row stride D stay inside
        // l·d (checked above); the L×L buffers hold L·L.
        unsafe {
            // dV_h (L×d_h) += P̃ᵀ (L×L: A[s][t] = P̃[t][s]) · dO_h.
            gemm(
                l,
                l,
                dh,
                1.0,
                (pv.as_ptr(), 1, l),
                (dout[off..].as_ptr(), d, 1),
                1.0,
                (dv[off..].as_mut_ptr(), d, 1),
            );
            // dP̃ (L×L) = dO_h · V_hᵀ.
            gemm(
                l,
                dh,
                l,
                1.0,
                (dout[off..].as_ptr(), d, 1),
                (v[off..].as_ptr(), 1, d),
                0.0,
                (dp.as_mut_ptr(), l, 1),
            );
        }
        softmax_bwd_dispatch(SoftmaxBwd {
            dp,
            p,
            mask: mh,
            l,
            scale,
        });
        unsafe {
            // dQ_h += dS (L×L) · K_h.
            gemm(
                l,
                l,
                dh,
                1.0,
                (dp.as_ptr(), l, 1),
                (k[off..].as_ptr(), d, 1),
                1.0,
                (dq[off..].as_mut_ptr(), d, 1),
            );
            // dK_h += dSᵀ · Q_h.
            gemm(
                l,
                l,
                dh,
                1.0,
                (dp.as_ptr(), 1, l),
                (q[off..].as_ptr(), d, 1),
                1.0,
                (dk[off..].as_mut_ptr(), d, 1),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    /// f64 reference on f32 inputs: (O, P).
    fn naive(
        q: &[f32],
        k: &[f32],
        v: &[f32],
        mask: Option<&[f32]>,
        l: usize,
        d: usize,
        h: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let w = |x: &[f32]| x.iter().map(|&a| a as f64).collect::<Vec<_>>();
        naive64(&w(q), &w(k), &w(v), mask, l, d, h)
    }

    #[test]
    fn forward_matches_naive_and_is_stable() {
        let mut rng = rng(60);
        for &(l, d, h) in &[(1, 4, 1), (5, 8, 2), (17, 32, 4), (40, 128, 4)] {
            let mut q = uniform(&mut rng, l * d, -1.0, 1.0);
            let k = uniform(&mut rng, l * d, -1.0, 1.0);
            let v = uniform(&mut rng, l * d, -1.0, 1.0);
            let mask: Vec<f32> = uniform(&mut rng, h * l * l, 0.0, 1.0)
                .iter()
                .map(|u| if *u < 0.2 { 0.0 } else { 1.25 })
                .collect();
            if l > 1 {
                // huge scores in one row would overflow an unshifted softmax
                q[..d].iter_mut().for_each(|x| *x *= 400.0);
            }
            for m in [None, Some(&mask[..])] {
                let mut o = vec![f32::NAN; l * d]; // overwritten: NaN must not leak
                let mut p = vec![f32::NAN; h * l * l];
                attention_forward(&mut o, &mut p, &q, &k, &v, m, l, d, h);
                let (ro, rp) = naive(&q, &k, &v, m, l, d, h);
                assert!(o.iter().all(|x| x.is_finite()));
                let (eo, ep) = (max_abs_diff(&o, &ro), max_abs_diff(&p, &rp));
                assert!(eo < 2e-5 && ep < 2e-6, "({l},{d},{h}): O {eo:e} P {ep:e}");
            }
        }
    }

    fn fd_case(seed: u64, l: usize, d: usize, h: usize, with_mask: bool) {
        let mut rng = rng(seed);
        let inputs = vec![
            grid_uniform(&mut rng, l * d, -1.0, 1.0),
            grid_uniform(&mut rng, l * d, -1.0, 1.0),
            grid_uniform(&mut rng, l * d, -1.0, 1.0),
        ];
        let mask: Vec<f32> = uniform(&mut rng, h * l * l, 0.0, 1.0)
            .iter()
            .map(|u| if *u < 0.3 { 0.0 } else { 1.0 / 0.7 })
            .collect();
        let m = with_mask.then_some(&mask[..]);
        let fwd = |p: &[Vec<f32>]| {
            let (mut o, mut pr) = (vec![0.0; l * d], vec![0.0; h * l * l]);
            attention_forward(&mut o, &mut pr, &p[0], &p[1], &p[2], m, l, d, h);
            o
        };
        let bwd = |p: &[Vec<f32>], r: &[f32], g: &mut [Vec<f32>]| {
            let (mut o, mut pr) = (vec![0.0; l * d], vec![0.0; h * l * l]);
            attention_forward(&mut o, &mut pr, &p[0], &p[1], &p[2], m, l, d, h);
            let [gq, gk, gv] = g else { unreachable!() };
            attention_backward(gq, gk, gv, r, &p[0], &p[1], &p[2], &pr, m, l, d, h);
        };
        let errs = gradcheck(&mut rng, &inputs, fwd, bwd, FD_STEP);
        let name = format!("attention L={l} D={d} H={h} mask={with_mask}");
        report(&name, &["dq", "dk", "dv"], &errs, 2e-3);
    }

    /// The f32 FD check above is limited by f32 rounding of the forward (its error grows when
    /// the step shrinks); this one differentiates the f64 reference forward instead, so the
    /// backward is pinned to ~1e-6 of the largest gradient.
    #[test]
    fn backward_matches_f64_differences() {
        let mut rng = rng(65);
        let (l, d, h) = (7, 12, 3);
        let x: Vec<Vec<f32>> = (0..3)
            .map(|_| uniform(&mut rng, l * d, -1.5, 1.5))
            .collect();
        let mask: Vec<f32> = uniform(&mut rng, h * l * l, 0.0, 1.0)
            .iter()
            .map(|u| if *u < 0.25 { 0.0 } else { 1.0 / 0.75 })
            .collect();
        let r = uniform(&mut rng, l * d, -1.0, 1.0);
        for m in [None, Some(&mask[..])] {
            let (mut o, mut pr) = (vec![0.0; l * d], vec![0.0; h * l * l]);
            attention_forward(&mut o, &mut pr, &x[0], &x[1], &x[2], m, l, d, h);
            let mut g = vec![vec![0.0f32; l * d]; 3];
            let [gq, gk, gv] = &mut g[..] else {
                unreachable!()
            };
            attention_backward(gq, gk, gv, &r, &x[0], &x[1], &x[2], &pr, m, l, d, h);
            // loss(x) = Σ r·O in f64 on an f64 perturbation of one input element
            let loss = |xs: &[Vec<f64>]| -> f64 {
                naive64(&xs[0], &xs[1], &xs[2], m, l, d, h)
                    .0
                    .iter()
                    .zip(&r)
                    .map(|(a, &b)| a * b as f64)
                    .sum()
            };
            let base: Vec<Vec<f64>> = x
                .iter()
                .map(|v| v.iter().map(|&a| a as f64).collect())
                .collect();
            for (i, gi) in g.iter().enumerate() {
                let gmax = gi.iter().fold(0.0f32, |a, b| a.max(b.abs())) as f64;
                for j in 0..l * d {
                    let hstep = 1e-5;
                    let mut xp = base.clone();
                    xp[i][j] += hstep;
                    let mut xm = base.clone();
                    xm[i][j] -= hstep;
                    let fd = (loss(&xp) - loss(&xm)) / (2.0 * hstep);
                    let err = (fd - gi[j] as f64).abs();
                    assert!(
                        err <= 2e-5 * gmax.max(1e-3),
                        "input {i} elem {j}: fd {fd:e} vs {:e} (gmax {gmax:e})",
                        gi[j]
                    );
                }
            }
        }
    }

    /// f64 reference: (O (L, D), P (H, L, L)) for H heads, optional dropout mask.
    fn naive64(
        q: &[f64],
        k: &[f64],
        v: &[f64],
        mask: Option<&[f32]>,
        l: usize,
        d: usize,
        h: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let dh = d / h;
        let mut o = vec![0.0f64; l * d];
        let mut pr = vec![0.0f64; h * l * l];
        for hh in 0..h {
            for t in 0..l {
                let s: Vec<f64> = (0..l)
                    .map(|u| {
                        (0..dh)
                            .map(|j| q[t * d + hh * dh + j] * k[u * d + hh * dh + j])
                            .sum::<f64>()
                            / (dh as f64).sqrt()
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
                for u in 0..l {
                    let idx = hh * l * l + t * l + u;
                    pr[idx] = (s[u] - m).exp() / z;
                    let pm = pr[idx] * mask.map_or(1.0, |m| m[idx] as f64);
                    for j in 0..dh {
                        o[t * d + hh * dh + j] += pm * v[u * d + hh * dh + j];
                    }
                }
            }
        }
        (o, pr)
    }

    #[test]
    fn fd_gradients() {
        fd_case(61, 5, 8, 2, false);
        fd_case(62, 6, 12, 3, true);
        fd_case(63, 1, 4, 1, false);
        fd_case(64, 4, 6, 1, true);
    }
}
