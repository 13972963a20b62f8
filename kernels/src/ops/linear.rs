//! Fully connected layer, PyTorch `nn.Linear` semantics: `y = x·Wᵀ + b`, `W` stored `(out, in)`.
//!
//! Both passes are single `matrixmultiply::sgemm` calls (strided views, no transposed copies).

/// `y (L, out) = x (L, in) · Wᵀ + b`. `w`: (out, in) row-major; `b`: (out) or `None`.
/// `y` is overwritten.
///
/// Panics if a slice is shorter than its shape (`y`: L·out, `x`: L·in, `w`: out·in, `b`: out).
pub fn linear_forward(
    y: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    l: usize,
    d_in: usize,
    d_out: usize,
) {
    assert!(y.len() >= l * d_out, "linear_forward: y too short");
    assert!(x.len() >= l * d_in, "linear_forward: x too short");
    assert!(w.len() >= d_out * d_in, "linear_forward: w too short");
    let y = &mut y[..l * d_out];
    let beta = match b {
        Some(b) => {
            assert!(b.len() >= d_out, "linear_forward: b too short");
            for row in y.chunks_exact_mut(d_out.max(1)) {
                row.copy_from_slice(&b[..row.len()]);
            }
            1.0
        }
        None => 0.0,
    };
    if l == 0 || d_out == 0 {
        return;
    }
    // C (L×out) = A (L×in, x) · B (in×out, Wᵀ: B[i][o] = w[o·in + i]).
    // SAFETY: the asserts above bound every element the strides can reach.
    unsafe {
        matrixmultiply::sgemm(
            l,
            d_in,
            d_out,
            1.0,
            x.as_ptr(),
            d_in as isize,
            1,
            w.as_ptr(),
            1,
            d_in as isize,
            beta,
            y.as_mut_ptr(),
            d_out as isize,
            1,
        );
    }
}

/// Backward of [`linear_forward`]. Accumulates `dx (L,in) += dy·W`, `dw (out,in) += dyᵀ·x`,
/// `db (out) += Σ_t dy`. `dx = None` skips the input gradient.
///
/// Panics if a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: Option<&mut [f32]>,
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    l: usize,
    d_in: usize,
    d_out: usize,
) {
    assert!(dy.len() >= l * d_out, "linear_backward: dy too short");
    assert!(x.len() >= l * d_in, "linear_backward: x too short");
    assert!(w.len() >= d_out * d_in, "linear_backward: w too short");
    assert!(dw.len() >= d_out * d_in, "linear_backward: dw too short");
    if let Some(db) = db {
        assert!(db.len() >= d_out, "linear_backward: db too short");
        let db = &mut db[..d_out];
        for row in dy[..l * d_out].chunks_exact(d_out.max(1)) {
            for (g, &v) in db.iter_mut().zip(row) {
                *g += v;
            }
        }
    }
    if l == 0 || d_in == 0 || d_out == 0 {
        return;
    }
    if let Some(dx) = dx {
        assert!(dx.len() >= l * d_in, "linear_backward: dx too short");
        // dx (L×in) += dy (L×out) · W (out×in).
        // SAFETY: bounded by the asserts above.
        unsafe {
            matrixmultiply::sgemm(
                l,
                d_out,
                d_in,
                1.0,
                dy.as_ptr(),
                d_out as isize,
                1,
                w.as_ptr(),
                d_in as isize,
                1,
                1.0,
                dx.as_mut_ptr(),
                d_in as isize,
                1,
            );
        }
    }
    // dw (out×in) += dyᵀ (out×L: A[o][t] = dy[t·out + o]) · x (L×in).
    // SAFETY: bounded by the asserts above.
    unsafe {
        matrixmultiply::sgemm(
            d_out,
            l,
            d_in,
            1.0,
            dy.as_ptr(),
            1,
            d_out as isize,
            x.as_ptr(),
            d_in as isize,
            1,
            1.0,
            dw.as_mut_ptr(),
            d_in as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    fn naive(
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        l: usize,
        di: usize,
        dout: usize,
    ) -> Vec<f64> {
        let mut y = vec![0.0f64; l * dout];
        for t in 0..l {
            for o in 0..dout {
                let mut s = b.map_or(0.0, |b| b[o] as f64);
                for i in 0..di {
                    s += x[t * di + i] as f64 * w[o * di + i] as f64;
                }
                y[t * dout + o] = s;
            }
        }
        y
    }

    #[test]
    fn forward_matches_naive_triple_loop() {
        let mut rng = rng(1);
        for &(l, di, dout) in &[
            (1, 1, 1),
            (3, 5, 7),
            (17, 33, 9),
            (64, 128, 48),
            (5, 256, 512),
        ] {
            let x = uniform(&mut rng, l * di, -1.0, 1.0);
            let w = uniform(&mut rng, dout * di, -1.0, 1.0);
            let b = uniform(&mut rng, dout, -1.0, 1.0);
            for bias in [false, true] {
                let bo = if bias { Some(&b[..]) } else { None };
                let mut y = vec![f32::NAN; l * dout]; // overwritten, NaN must not leak (β = 0)
                linear_forward(&mut y, &x, &w, bo, l, di, dout);
                let r = naive(&x, &w, bo, l, di, dout);
                let err = max_abs_diff(&y, &r);
                assert!(
                    err < 1e-5 * (di as f64).sqrt() * 4.0,
                    "({l},{di},{dout}) bias={bias}: {err}"
                );
            }
        }
    }

    #[test]
    fn backward_matches_naive_and_accumulates() {
        let mut rng = rng(2);
        let (l, di, dout) = (13, 11, 7);
        let x = uniform(&mut rng, l * di, -1.0, 1.0);
        let w = uniform(&mut rng, dout * di, -1.0, 1.0);
        let dy = uniform(&mut rng, l * dout, -1.0, 1.0);
        let dx0 = uniform(&mut rng, l * di, -1.0, 1.0);
        let dw0 = uniform(&mut rng, dout * di, -1.0, 1.0);
        let db0 = uniform(&mut rng, dout, -1.0, 1.0);
        let (mut dx, mut dw, mut db) = (dx0.clone(), dw0.clone(), db0.clone());
        linear_backward(
            Some(&mut dx),
            &mut dw,
            Some(&mut db),
            &dy,
            &x,
            &w,
            l,
            di,
            dout,
        );
        for t in 0..l {
            for i in 0..di {
                let s: f64 = (0..dout)
                    .map(|o| dy[t * dout + o] as f64 * w[o * di + i] as f64)
                    .sum();
                assert!((dx[t * di + i] as f64 - dx0[t * di + i] as f64 - s).abs() < 1e-5);
            }
        }
        for o in 0..dout {
            for i in 0..di {
                let s: f64 = (0..l)
                    .map(|t| dy[t * dout + o] as f64 * x[t * di + i] as f64)
                    .sum();
                assert!((dw[o * di + i] as f64 - dw0[o * di + i] as f64 - s).abs() < 1e-5);
            }
            let s: f64 = (0..l).map(|t| dy[t * dout + o] as f64).sum();
            assert!((db[o] as f64 - db0[o] as f64 - s).abs() < 1e-5);
        }
        // dx = None leaves the weight gradients identical.
        let (mut dw2, mut db2) = (dw0.clone(), db0.clone());
        linear_backward(None, &mut dw2, Some(&mut db2), &dy, &x, &w, l, di, dout);
        assert_eq!(dw, dw2);
        assert_eq!(db, db2);
    }

    #[test]
    fn fd_gradients() {
        let mut rng = rng(3);
        let (l, di, dout) = (4, 5, 3);
        let inputs = vec![
            grid_uniform(&mut rng, l * di, -1.0, 1.0),
            grid_uniform(&mut rng, dout * di, -1.0, 1.0),
            grid_uniform(&mut rng, dout, -1.0, 1.0),
        ];
        let fwd = |p: &[Vec<f32>]| {
            let mut y = vec![0.0; l * dout];
            linear_forward(&mut y, &p[0], &p[1], Some(&p[2]), l, di, dout);
            y
        };
        let bwd = |p: &[Vec<f32>], r: &[f32], g: &mut [Vec<f32>]| {
            let (gx, rest) = g.split_at_mut(1);
            let (gw, gb) = rest.split_at_mut(1);
            linear_backward(
                Some(&mut gx[0]),
                &mut gw[0],
                Some(&mut gb[0]),
                r,
                &p[0],
                &p[1],
                l,
                di,
                dout,
            );
        };
        let errs = gradcheck(&mut rng, &inputs, fwd, bwd, FD_STEP);
        report("linear", &["dx", "dw", "db"], &errs, 2e-3);
    }
}
