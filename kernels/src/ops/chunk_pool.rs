//! Attention pooling inside fixed-size chunks (the reference's `ChunkedQuantumProcessor` /
//! `QuantumFeatureProcessor` steps 4–5): per chunk j, `w = softmax(a[j·cs .. (j+1)·cs])` and
//! `s_j = Σ_t w_t·u_t`. The caller pads u with zero rows to nc·cs and computes the scores `a`
//! (pad rows included, as in the reference).

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

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
