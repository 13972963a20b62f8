//! Per-token normalisations (over the last dim only; nothing normalises over time).

/// LayerNorm over the last dim: `y = (x−μ)/√(var_biased+eps)·w + b`. x, y: (L, D).
/// Saves `mean` (L) and `rstd` (L) for the backward.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward(
    y: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    l: usize,
    d: usize,
    eps: f32,
) {
    if l == 0 || d == 0 {
        return;
    }
    let (w, b) = (&w[..d], &b[..d]);
    let inv_d = 1.0 / d as f32;
    for (t, (yr, xr)) in y[..l * d]
        .chunks_exact_mut(d)
        .zip(x[..l * d].chunks_exact(d))
        .enumerate()
    {
        let mu = xr.iter().sum::<f32>() * inv_d;
        let var = xr.iter().map(|&v| (v - mu) * (v - mu)).sum::<f32>() * inv_d;
        let rs = 1.0 / libm::sqrtf(var + eps);
        for (((yo, &xv), &wv), &bv) in yr.iter_mut().zip(xr).zip(w).zip(b) {
            *yo = (xv - mu) * rs * wv + bv;
        }
        mean[t] = mu;
        rstd[t] = rs;
    }
}

/// Backward of [`layernorm_forward`]; accumulates into dx (L,D), dw (D), db (D).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward(
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    dy: &[f32],
    x: &[f32],
    mean: &[f32],
    rstd: &[f32],
    w: &[f32],
    l: usize,
    d: usize,
) {
    if l == 0 || d == 0 {
        return;
    }
    let (dw, db, w) = (&mut dw[..d], &mut db[..d], &w[..d]);
    let inv_d = 1.0 / d as f32;
    let rows = dx[..l * d]
        .chunks_exact_mut(d)
        .zip(dy[..l * d].chunks_exact(d))
        .zip(x[..l * d].chunks_exact(d));
    for (t, ((dxr, dyr), xr)) in rows.enumerate() {
        let (mu, rs) = (mean[t], rstd[t]);
        // g = dy·w (gradient w.r.t. x̂); dx = rs·(g − mean(g) − x̂·mean(g·x̂)).
        let mut sg = 0.0f32;
        let mut sgx = 0.0f32;
        for (((&g, &xv), &wv), (dwv, dbv)) in dyr
            .iter()
            .zip(xr)
            .zip(w)
            .zip(dw.iter_mut().zip(db.iter_mut()))
        {
            let xh = (xv - mu) * rs;
            let gw = g * wv;
            sg += gw;
            sgx += gw * xh;
            *dwv += g * xh;
            *dbv += g;
        }
        let (mg, mgx) = (sg * inv_d, sgx * inv_d);
        for (((dxo, &g), &xv), &wv) in dxr.iter_mut().zip(dyr).zip(xr).zip(w) {
            let xh = (xv - mu) * rs;
            *dxo += rs * (g * wv - mg - xh * mgx);
        }
    }
}

/// RMSNorm (the reference's own class): `y = w·x/√(mean(x²)+eps)`, eps inside the sqrt, no bias.
/// Saves `rstd` (L).
#[allow(clippy::too_many_arguments)]
pub fn rmsnorm_forward(
    y: &mut [f32],
    rstd: &mut [f32],
    x: &[f32],
    w: &[f32],
    l: usize,
    d: usize,
    eps: f32,
) {
    if l == 0 || d == 0 {
        return;
    }
    let w = &w[..d];
    let inv_d = 1.0 / d as f32;
    for (t, (yr, xr)) in y[..l * d]
        .chunks_exact_mut(d)
        .zip(x[..l * d].chunks_exact(d))
        .enumerate()
    {
        let ms = xr.iter().map(|&v| v * v).sum::<f32>() * inv_d;
        let rs = 1.0 / libm::sqrtf(ms + eps);
        for ((yo, &xv), &wv) in yr.iter_mut().zip(xr).zip(w) {
            *yo = wv * (xv * rs);
        }
        rstd[t] = rs;
    }
}

/// Backward of [`rmsnorm_forward`]; accumulates into dx (L,D), dw (D).
#[allow(clippy::too_many_arguments)]
pub fn rmsnorm_backward(
    dx: &mut [f32],
    dw: &mut [f32],
    dy: &[f32],
    x: &[f32],
    rstd: &[f32],
    w: &[f32],
    l: usize,
    d: usize,
) {
    if l == 0 || d == 0 {
        return;
    }
    let (dw, w) = (&mut dw[..d], &w[..d]);
    let inv_d = 1.0 / d as f32;
    let rows = dx[..l * d]
        .chunks_exact_mut(d)
        .zip(dy[..l * d].chunks_exact(d))
        .zip(x[..l * d].chunks_exact(d));
    for (t, ((dxr, dyr), xr)) in rows.enumerate() {
        let rs = rstd[t];
        // g = dy·w; dx = rs·(g − x̂·mean(g·x̂)), x̂ = x·rs.
        let mut sgx = 0.0f32;
        for (((&g, &xv), &wv), dwv) in dyr.iter().zip(xr).zip(w).zip(dw.iter_mut()) {
            let xh = xv * rs;
            sgx += g * wv * xh;
            *dwv += g * xh;
        }
        let mgx = sgx * inv_d;
        for (((dxo, &g), &xv), &wv) in dxr.iter_mut().zip(dyr).zip(xr).zip(w) {
            *dxo += rs * (g * wv - xv * rs * mgx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    #[test]
    fn layernorm_matches_formula() {
        let mut rng = rng(10);
        let (l, d) = (7, 33);
        let x = uniform(&mut rng, l * d, -3.0, 2.0);
        let w = uniform(&mut rng, d, 0.5, 1.5);
        let b = uniform(&mut rng, d, -0.5, 0.5);
        let (mut y, mut mean, mut rstd) = (vec![0.0; l * d], vec![0.0; l], vec![0.0; l]);
        layernorm_forward(&mut y, &mut mean, &mut rstd, &x, &w, &b, l, d, 1e-5);
        let mut r = vec![0.0f64; l * d];
        for t in 0..l {
            let xr: Vec<f64> = x[t * d..(t + 1) * d].iter().map(|&v| v as f64).collect();
            let mu = xr.iter().sum::<f64>() / d as f64;
            let var = xr.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / d as f64;
            assert!((mean[t] as f64 - mu).abs() < 1e-6);
            assert!((rstd[t] as f64 - 1.0 / (var + 1e-5).sqrt()).abs() < 1e-5);
            for i in 0..d {
                r[t * d + i] = (xr[i] - mu) / (var + 1e-5).sqrt() * w[i] as f64 + b[i] as f64;
            }
        }
        assert!(max_abs_diff(&y, &r) < 2e-6, "{}", max_abs_diff(&y, &r));
    }

    #[test]
    fn rmsnorm_matches_formula() {
        let mut rng = rng(11);
        let (l, d) = (7, 33);
        let x = uniform(&mut rng, l * d, -3.0, 2.0);
        let w = uniform(&mut rng, d, 0.5, 1.5);
        let (mut y, mut rstd) = (vec![0.0; l * d], vec![0.0; l]);
        rmsnorm_forward(&mut y, &mut rstd, &x, &w, l, d, 1e-5);
        let mut r = vec![0.0f64; l * d];
        for t in 0..l {
            let xr: Vec<f64> = x[t * d..(t + 1) * d].iter().map(|&v| v as f64).collect();
            let ms = xr.iter().map(|v| v * v).sum::<f64>() / d as f64;
            for i in 0..d {
                r[t * d + i] = w[i] as f64 * xr[i] / (ms + 1e-5).sqrt();
            }
        }
        assert!(max_abs_diff(&y, &r) < 2e-6, "{}", max_abs_diff(&y, &r));
        // eps inside the sqrt: an all-zero row gives 0, finite rstd = 1/√eps.
        let z = vec![0.0f32; d];
        let (mut y1, mut rs1) = (vec![1.0; d], vec![0.0; 1]);
        rmsnorm_forward(&mut y1, &mut rs1, &z, &w, 1, d, 1e-5);
        assert!(y1.iter().all(|&v| v == 0.0));
        assert!((rs1[0] as f64 - 1e-5f64.powf(-0.5)).abs() < 1e-2);
    }

    #[test]
    fn layernorm_fd_gradients() {
        let mut rng = rng(12);
        let (l, d) = (3, 6);
        let inputs = vec![
            grid_uniform(&mut rng, l * d, -2.0, 2.0),
            grid_uniform(&mut rng, d, 0.5, 1.5),
            grid_uniform(&mut rng, d, -0.5, 0.5),
        ];
        let fwd = |p: &[Vec<f32>]| {
            let (mut y, mut m, mut r) = (vec![0.0; l * d], vec![0.0; l], vec![0.0; l]);
            layernorm_forward(&mut y, &mut m, &mut r, &p[0], &p[1], &p[2], l, d, 1e-5);
            y
        };
        let bwd = |p: &[Vec<f32>], dy: &[f32], g: &mut [Vec<f32>]| {
            let (mut y, mut m, mut r) = (vec![0.0; l * d], vec![0.0; l], vec![0.0; l]);
            layernorm_forward(&mut y, &mut m, &mut r, &p[0], &p[1], &p[2], l, d, 1e-5);
            let [gx, gw, gb] = g else { unreachable!() };
            layernorm_backward(gx, gw, gb, dy, &p[0], &m, &r, &p[1], l, d);
        };
        let errs = gradcheck(&mut rng, &inputs, fwd, bwd, FD_STEP);
        report("layernorm", &["dx", "dw", "db"], &errs, 2e-3);
    }

    #[test]
    fn rmsnorm_fd_gradients() {
        let mut rng = rng(13);
        let (l, d) = (3, 6);
        let inputs = vec![
            grid_uniform(&mut rng, l * d, -2.0, 2.0),
            grid_uniform(&mut rng, d, 0.5, 1.5),
        ];
        let fwd = |p: &[Vec<f32>]| {
            let (mut y, mut r) = (vec![0.0; l * d], vec![0.0; l]);
            rmsnorm_forward(&mut y, &mut r, &p[0], &p[1], l, d, 1e-5);
            y
        };
        let bwd = |p: &[Vec<f32>], dy: &[f32], g: &mut [Vec<f32>]| {
            let (mut y, mut r) = (vec![0.0; l * d], vec![0.0; l]);
            rmsnorm_forward(&mut y, &mut r, &p[0], &p[1], l, d, 1e-5);
            let [gx, gw] = g else { unreachable!() };
            rmsnorm_backward(gx, gw, dy, &p[0], &r, &p[1], l, d);
        };
        let errs = gradcheck(&mut rng, &inputs, fwd, bwd, FD_STEP);
        report("rmsnorm", &["dx", "dw"], &errs, 2e-3);
    }
}
