//! Attention pooling inside fixed-size chunks (the reference's `ChunkedQuantumProcessor` /
//! `QuantumFeatureProcessor` steps 4–5): per chunk j, `w = softmax(a[j·cs .. (j+1)·cs])` and
//! `s_j = Σ_t w_t·u_t`. The caller pads u with zero rows to nc·cs and computes the scores `a`
//! (pad rows included, as in the reference). [`online_pool_forward`] is the streaming form of
//! one block over every row so far (the online softmax).

use alloc::vec;

/// u: (nc·cs, F) padded rows; a: (nc·cs) scores; writes s (nc, F) and the softmax weights
/// `w` (nc·cs), saved for the backward. The softmax is max-shifted (no overflow).
#[allow(clippy::too_many_arguments)]
pub fn chunk_pool_forward(
    s: &mut [f32],
    w: &mut [f32],
    u: &[f32],
    a: &[f32],
    nc: usize,
    cs: usize,
    f: usize,
) {
    if nc == 0 || cs == 0 {
        return;
    }
    let (w, a, u) = (&mut w[..nc * cs], &a[..nc * cs], &u[..nc * cs * f]);
    for j in 0..nc {
        let aj = &a[j * cs..(j + 1) * cs];
        let wj = &mut w[j * cs..(j + 1) * cs];
        let m = aj.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut z = 0.0f32;
        for (wo, &av) in wj.iter_mut().zip(aj) {
            let ev = libm::expf(av - m);
            *wo = ev;
            z += ev;
        }
        let inv = 1.0 / z;
        for wo in wj.iter_mut() {
            *wo *= inv;
        }
        if f == 0 {
            continue;
        }
        let sj = &mut s[j * f..(j + 1) * f];
        sj.fill(0.0);
        for (t, &wt) in wj.iter().enumerate() {
            let ur = &u[(j * cs + t) * f..(j * cs + t + 1) * f];
            for (so, &uv) in sj.iter_mut().zip(ur) {
                *so += wt * uv;
            }
        }
    }
}

/// Backward of [`chunk_pool_forward`]; accumulates du (nc·cs, F) and da (nc·cs).
#[allow(clippy::too_many_arguments)]
pub fn chunk_pool_backward(
    du: &mut [f32],
    da: &mut [f32],
    ds: &[f32],
    u: &[f32],
    w: &[f32],
    nc: usize,
    cs: usize,
    f: usize,
) {
    if nc == 0 || cs == 0 || f == 0 {
        return;
    }
    let (w, u, du) = (&w[..nc * cs], &u[..nc * cs * f], &mut du[..nc * cs * f]);
    let mut g = vec![0.0f32; cs];
    for j in 0..nc {
        let dsj = &ds[j * f..(j + 1) * f];
        let wj = &w[j * cs..(j + 1) * cs];
        // g_t = ds·u_t (gradient w.r.t. w_t); da_t = w_t·(g_t − Σ_τ w_τ g_τ); du_t = w_t·ds.
        let mut gw = 0.0f32;
        for (t, (&wt, gt)) in wj.iter().zip(g.iter_mut()).enumerate() {
            let row = (j * cs + t) * f;
            let ur = &u[row..row + f];
            let dur = &mut du[row..row + f];
            let mut acc = 0.0f32;
            for ((duo, &uv), &dv) in dur.iter_mut().zip(ur).zip(dsj) {
                acc += dv * uv;
                *duo += wt * dv;
            }
            *gt = acc;
            gw += wt * acc;
        }
        for ((dao, &wt), &gt) in da[j * cs..(j + 1) * cs].iter_mut().zip(wj).zip(&g) {
            *dao += wt * (gt - gw);
        }
    }
}

/// One sample's step of the streaming attention pool over every row so far (the online
/// softmax: Milakov & Gimelshein 2018, "Online normalizer calculation for softmax"): the L rows
/// u (L, F) with scores a (L) advance the state — running max `m`, softmax denominator `z`
/// (0: no row yet, `m` then ignored), weighted row sum `acc` (F) — and y (F) ← acc / z, the
/// softmax-weighted mean of every row so far. With m′ = max(m, maxₜ aₜ) and r = e^(m − m′):
/// z ← r·z + Σₜ e^(aₜ − m′), acc ← r·acc + Σₜ e^(aₜ − m′)·uₜ, in time order. Every exponent is
/// ≤ 0 (no overflow). After a sequence's rows, y is [`chunk_pool_forward`]'s s with one chunk,
/// to rounding.
///
/// # Panics
/// If u is shorter than L·F rows or `acc`/`y` shorter than F.
pub fn online_pool_forward(
    y: &mut [f32],
    m: &mut f32,
    z: &mut f32,
    acc: &mut [f32],
    u: &[f32],
    a: &[f32],
    f: usize,
) {
    let l = a.len();
    assert!(
        u.len() >= l * f && acc.len() >= f && y.len() >= f,
        "online_pool_forward: u (L, F), acc and y (F)"
    );
    if l == 0 {
        return;
    }
    let prev = if *z > 0.0 { *m } else { f32::NEG_INFINITY };
    let m_new = a.iter().fold(prev, |m, &v| m.max(v));
    // e^(−∞) = 0: an empty state contributes nothing
    let r = libm::expf(prev - m_new);
    let (acc, y) = (&mut acc[..f], &mut y[..f]);
    let mut zn = r * *z;
    acc.iter_mut().for_each(|v| *v *= r);
    for (t, &at) in a.iter().enumerate() {
        let e = libm::expf(at - m_new);
        zn += e;
        for (o, &uv) in acc.iter_mut().zip(&u[t * f..(t + 1) * f]) {
            *o += e * uv;
        }
    }
    *m = m_new;
    *z = zn;
    let inv = 1.0 / zn;
    for (o, &v) in y.iter_mut().zip(acc.iter()) {
        *o = v * inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    #[test]
    fn online_pool_over_pieces_equals_one_block() {
        // rows arriving 1, 3, then 4 at a time (and a huge score: no overflow) pool as one
        // block of all 8
        let mut rng = rng(41);
        let (l, f) = (8, 5);
        let u = uniform(&mut rng, l * f, -1.0, 1.0);
        let mut a = uniform(&mut rng, l, -3.0, 3.0);
        a[5] = 300.0;
        let (mut s, mut w) = (vec![0.0; f], vec![0.0; l]);
        chunk_pool_forward(&mut s, &mut w, &u, &a, 1, l, f);
        let (mut m, mut z, mut acc, mut y) = (0.0f32, 0.0f32, vec![0.0; f], vec![0.0; f]);
        let mut at = 0;
        for n in [1, 3, 4] {
            online_pool_forward(
                &mut y,
                &mut m,
                &mut z,
                &mut acc,
                &u[at * f..],
                &a[at..at + n],
                f,
            );
            at += n;
            // after each piece: the pool of the rows so far
            let (mut sp, mut wp) = (vec![0.0; f], vec![0.0; at]);
            chunk_pool_forward(&mut sp, &mut wp, &u, &a[..at], 1, at, f);
            for (g, want) in y.iter().zip(&sp) {
                assert!((g - want).abs() < 1e-6, "after {at} rows: {g} vs {want}");
            }
        }
        assert!(y.iter().zip(&s).all(|(g, w)| (g - w).abs() < 1e-6));
        assert_eq!(m, 300.0);
    }

    #[test]
    fn forward_matches_reference_and_is_stable() {
        let mut rng = rng(40);
        let (nc, cs, f) = (3, 5, 4);
        let u = uniform(&mut rng, nc * cs * f, -1.0, 1.0);
        let mut a = uniform(&mut rng, nc * cs, -3.0, 3.0);
        a[cs] = 500.0; // would overflow exp without the max shift
        a[cs + 1] = 499.0;
        let (mut s, mut w) = (vec![f32::NAN; nc * f], vec![0.0; nc * cs]);
        chunk_pool_forward(&mut s, &mut w, &u, &a, nc, cs, f);
        for j in 0..nc {
            let m = (0..cs)
                .map(|t| a[j * cs + t] as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = (0..cs).map(|t| (a[j * cs + t] as f64 - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for t in 0..cs {
                assert!((w[j * cs + t] as f64 - e[t] / z).abs() < 1e-6);
            }
            for c in 0..f {
                let r: f64 = (0..cs)
                    .map(|t| e[t] / z * u[(j * cs + t) * f + c] as f64)
                    .sum();
                assert!((s[j * f + c] as f64 - r).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn fd_gradients() {
        let mut rng = rng(41);
        let (nc, cs, f) = (2, 4, 3);
        let inputs = vec![
            grid_uniform(&mut rng, nc * cs * f, -1.0, 1.0),
            grid_uniform(&mut rng, nc * cs, -2.0, 2.0),
        ];
        let fwd = |p: &[Vec<f32>]| {
            let (mut s, mut w) = (vec![0.0; nc * f], vec![0.0; nc * cs]);
            chunk_pool_forward(&mut s, &mut w, &p[0], &p[1], nc, cs, f);
            s
        };
        let bwd = |p: &[Vec<f32>], ds: &[f32], g: &mut [Vec<f32>]| {
            let (mut s, mut w) = (vec![0.0; nc * f], vec![0.0; nc * cs]);
            chunk_pool_forward(&mut s, &mut w, &p[0], &p[1], nc, cs, f);
            let [gu, ga] = g else { unreachable!() };
            chunk_pool_backward(gu, ga, ds, &p[0], &w, nc, cs, f);
        };
        let errs = gradcheck(&mut rng, &inputs, fwd, bwd, FD_STEP);
        report("chunk_pool", &["du", "da"], &errs, 2e-3);
    }
}
