//! QProj (spec hqc-mamba-and-quantum-train §3.4) against the golden vector G1a (its circuit is
//! QProj(5 → 4) without affine and rescale: q = (y + 1)/4), central differences for every
//! input of the backward (x, W, γ, β, in each affine and rescale mode), the sign invariance
//! E1, and the register sizes of the HQC configuration.
use super::qproj::{Affine, QProj};
use alloc::vec;
use alloc::vec::Vec;

/// Deterministic values in [lo, hi).
fn values(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (hi - lo) * ((s >> 40) as f32 / (1u64 << 24) as f32)
        })
        .collect()
}

#[test]
fn g1a_through_qproj() {
    let qp = QProj::new(5, 4, 2, Affine::None, false);
    assert_eq!((qp.n, qp.m, qp.n_weights()), (3, 2, 18));
    let x: Vec<f32> = (0..5)
        .map(|k| if k % 2 == 0 { 1.0 } else { -1.0 } * (0.3 + 0.7 * k as f32))
        .collect();
    let mut w = Vec::new();
    for l in 0..2 {
        for i in 0..3 {
            for k in 0..3 {
                w.push(0.1 * (1 + 9 * l + 3 * i + k) as f32);
            }
        }
    }
    let mut s = qp.scratch();
    let mut y = vec![0.0f32; 4];
    qp.forward(&x, &w, &[], &[], &mut y, &mut s);
    let q: Vec<f32> = y.iter().map(|v| (v + 1.0) / 4.0).collect();
    for (g, want) in q
        .iter()
        .zip([0.26740488, 0.13430473, 0.15338395, 0.44490644])
    {
        assert!((g - want).abs() < 2e-6, "q {q:?}");
    }
    // f = Σ (j+1)·q_j = Σ (j+1)·(y_j + 1)/4: dy_j = (j+1)/4
    let dy: Vec<f32> = (0..4).map(|j| (j + 1) as f32 / 4.0).collect();
    let (mut dx, mut dw) = (vec![0.0f32; 5], vec![0.0f64; 18]);
    qp.backward(
        &x,
        &w,
        &[],
        &[],
        &dy,
        Some(&mut dx),
        &mut dw,
        &mut [],
        &mut [],
        &mut s,
    );
    let want_dx: [f64; 5] = [0.07879431, -0.32657459, -0.11997011, 0.08602318, 0.01941675];
    for (g, w) in dx.iter().zip(want_dx) {
        assert!((*g as f64 - w).abs() < 1e-5, "dx {dx:?}");
    }
    let want_dw0: [f64; 9] = [
        -0.00157174,
        0.01254688,
        0.10461258,
        0.16465488,
        -0.43587281,
        0.05187739,
        -0.11826660,
        0.07930575,
        -0.17098751,
    ];
    let want_dw1: [f64; 9] = [
        0.33952517,
        0.17125275,
        0.0,
        -0.23816383,
        -0.54265385,
        0.0,
        -0.06121700,
        0.15170766,
        0.0,
    ];
    for (g, w) in dw.iter().zip(want_dw0.iter().chain(&want_dw1)) {
        assert!((g - w).abs() < 1e-5, "dw {dw:?}");
    }
}

/// L = Σ_j c_j·y_j: the backward against central differences in f64 of the f32 forward's
/// inputs (step 2e-3 on values of order 1; the tolerance allows for the f32 outputs' rounding).
#[test]
fn backward_matches_central_differences() {
    for (d_in, d_out, layers, affine, rescale) in [
        (5, 4, 1, Affine::PerOutput, true),
        (7, 12, 2, Affine::Scalar, true),
        (9, 3, 1, Affine::None, false),
        (3, 8, 2, Affine::PerOutput, false),
    ] {
        let qp = QProj::new(d_in, d_out, layers, affine, rescale);
        let na = affine.len(d_out);
        let x = values(1, d_in, -1.0, 1.0);
        let w = values(2, qp.n_weights(), 0.0, core::f32::consts::TAU);
        let gamma = values(3, na, 0.5, 1.5);
        let beta = values(4, na, -0.5, 0.5);
        let c = values(5, d_out, -1.0, 1.0);
        let mut s = qp.scratch();
        let loss = |x: &[f32], w: &[f32], g: &[f32], b: &[f32], s: &mut _| {
            let mut y = vec![0.0f32; d_out];
            qp.forward(x, w, g, b, &mut y, s);
            y.iter().zip(&c).map(|(a, b)| (a * b) as f64).sum::<f64>()
        };
        let mut dx = vec![0.0f32; d_in];
        let mut dw = vec![0.0f64; qp.n_weights()];
        let (mut dg, mut db) = (vec![0.0f64; na], vec![0.0f64; na]);
        qp.backward(
            &x,
            &w,
            &gamma,
            &beta,
            &c,
            Some(&mut dx),
            &mut dw,
            &mut dg,
            &mut db,
            &mut s,
        );
        let h = 2e-3f32;
        let mut check = |which: usize, i: usize, got: f64| {
            let mut args = [x.clone(), w.clone(), gamma.clone(), beta.clone()];
            args[which][i] += h;
            let up = loss(&args[0], &args[1], &args[2], &args[3], &mut s);
            args[which][i] -= 2.0 * h;
            let down = loss(&args[0], &args[1], &args[2], &args[3], &mut s);
            let fd = (up - down) / (2.0 * h as f64);
            assert!(
                (fd - got).abs() <= 2e-3 * (1.0 + fd.abs()),
                "({d_in}→{d_out}, {affine:?}, rescale {rescale}) input {which}[{i}]: adjoint {got} vs fd {fd}"
            );
        };
        for (i, &g) in dx.iter().enumerate() {
            check(0, i, g as f64);
        }
        for (i, &g) in dw.iter().enumerate() {
            check(1, i, g);
        }
        for (i, &g) in dg.iter().enumerate() {
            check(2, i, g);
        }
        for (i, &g) in db.iter().enumerate() {
            check(3, i, g);
        }
    }
}

/// E1: probabilities cannot see a global sign, so QProj(−x) = QProj(x).
#[test]
fn sign_invariance() {
    let qp = QProj::new(6, 5, 1, Affine::PerOutput, true);
    let x = values(7, 6, -1.0, 1.0);
    let neg: Vec<f32> = x.iter().map(|v| -v).collect();
    let w = values(8, qp.n_weights(), 0.0, core::f32::consts::TAU);
    let (g, b) = (values(9, 5, 0.5, 1.5), values(10, 5, -0.5, 0.5));
    let mut s = qp.scratch();
    let (mut y1, mut y2) = (vec![0.0f32; 5], vec![0.0f32; 5]);
    qp.forward(&x, &w, &g, &b, &mut y1, &mut s);
    qp.forward(&neg, &w, &g, &b, &mut y2, &mut s);
    assert_eq!(y1, y2);
}

/// The registers of the HQC configuration (spec §3.4 table): in_proj 128 → 1024 on 10
/// qubits, x_proj 512 → 40 on 9 (6 read out), out_proj 512 → 128 on 9 (7 read out); 30, 27,
/// 27 circuit weights at L = 1.
#[test]
fn hqc_register_sizes() {
    for (d_in, d_out, n, m, k) in [
        (128, 1024, 10, 10, 30),
        (512, 40, 9, 6, 27),
        (512, 128, 9, 7, 27),
    ] {
        let qp = QProj::new(d_in, d_out, 1, Affine::PerOutput, true);
        assert_eq!((qp.n, qp.m, qp.n_weights()), (n, m, k), "{d_in} → {d_out}");
    }
}

/// With the input-RMS rescale and β = 0, QProj is positively homogeneous like a Linear layer
/// (spec §3.4 step 6): QProj(αx) = α·QProj(x) for α > 0, up to the ε of the norm; without the
/// rescale it is scale invariant.
#[test]
fn positive_homogeneity_with_rescale() {
    let x = values(11, 12, -1.0, 1.0);
    for rescale in [true, false] {
        let qp = QProj::new(12, 20, 2, Affine::PerOutput, rescale);
        let w = values(12, qp.n_weights(), 0.0, core::f32::consts::TAU);
        let g = values(13, 20, 0.5, 1.5);
        let b = vec![0.0f32; 20];
        let mut s = qp.scratch();
        let mut y1 = vec![0.0f32; 20];
        qp.forward(&x, &w, &g, &b, &mut y1, &mut s);
        for alpha in [0.25f32, 3.0, 40.0] {
            let xs: Vec<f32> = x.iter().map(|v| alpha * v).collect();
            let mut y2 = vec![0.0f32; 20];
            qp.forward(&xs, &w, &g, &b, &mut y2, &mut s);
            let k = if rescale { alpha } else { 1.0 };
            for (a, c) in y1.iter().zip(&y2) {
                assert!(
                    (k * a - c).abs() <= 1e-5 * (1.0 + c.abs()),
                    "rescale {rescale}, α = {alpha}: {} vs {c}",
                    k * a
                );
            }
        }
    }
}
