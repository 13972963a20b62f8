//! The paper models' circuit blocks against the spec's golden vectors (hqc-mamba-and-quantum-
//! train §2.6, checked there against PennyLane 0.45.1): G1a (probabilities, f, ∂f/∂x, ∂f/∂W),
//! G1b, G2 (Quantum-Train's RY chain); the adjoint gradients against parameter shift (W) and central differences (x);
//! PennyLane's ranges; a 13-qubit register.
use super::entangling::*;
use alloc::vec;
use alloc::vec::Vec;
use num_complex::Complex64;

const PI_2: f64 = core::f64::consts::FRAC_PI_2;

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: {g} vs {w}");
    }
}

/// x_k = (−1)^k·(0.3 + 0.7k), W[l,i,k] = 0.1·(1 + 9l + 3i + k) (spec G1).
fn g1_inputs(d: usize, l: usize, m: usize) -> (Vec<f64>, Vec<f64>) {
    let x = (0..d)
        .map(|k| if k % 2 == 0 { 1.0 } else { -1.0 } * (0.3 + 0.7 * k as f64))
        .collect();
    let mut w = Vec::new();
    for li in 0..l {
        for i in 0..m {
            for k in 0..3 {
                w.push(0.1 * (1 + 9 * li + 3 * i + k) as f64);
            }
        }
    }
    (x, w)
}

/// f = Σ_j (j+1)·q_j of the G1a circuit, with q.
fn g1a_f(x: &[f64], w: &[f64]) -> (f64, Vec<f64>) {
    let (n, m) = (3, 2);
    let sel = EntanglingLayers::new(n, 2);
    let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
    amplitude_encode(x, &mut psi);
    sel.forward(w, &mut psi, n);
    let mut q = vec![0.0; 1 << m];
    marginal_probs(&psi, n, m, &mut q);
    (
        q.iter().enumerate().map(|(j, v)| (j + 1) as f64 * v).sum(),
        q,
    )
}

#[test]
fn g1a_probabilities_value_and_gradients() {
    let (n, m) = (3, 2);
    let (x, w) = g1_inputs(5, 2, 3);
    let (f, q) = g1a_f(&x, &w);
    close(
        &q,
        &[0.26740488, 0.13430473, 0.15338395, 0.44490644],
        5e-9,
        "q",
    );
    assert!((f - 2.77579194).abs() < 5e-9, "f = {f}");
    // adjoint backward
    let sel = EntanglingLayers::new(n, 2);
    let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
    let norm = amplitude_encode(&x, &mut psi);
    let psi0 = psi.clone();
    sel.forward(&w, &mut psi, n);
    let gq: Vec<f64> = (0..1 << m).map(|j| (j + 1) as f64).collect();
    let mut lam = vec![Complex64::new(0.0, 0.0); 1 << n];
    marginal_probs_backward(&psi, n, m, &gq, &mut lam);
    let mut dw = vec![0.0; sel.n_params()];
    sel.backward(&w, &mut psi, &mut lam, n, &mut dw);
    for (a, b) in psi.iter().zip(&psi0) {
        assert!((a - b).norm_sqr() < 1e-28, "the sweep returns ψ to ψ0");
    }
    let g: Vec<f64> = lam.iter().map(|l| 2.0 * l.re).collect();
    let mut dx = vec![0.0; x.len()];
    amplitude_encode_backward(&psi0, norm, &g, &mut dx);
    close(
        &dx,
        &[0.07879431, -0.32657459, -0.11997011, 0.08602318, 0.01941675],
        5e-9,
        "df/dx",
    );
    #[rustfmt::skip]
    let want_w = [
        -0.00157174, 0.01254688, 0.10461258, 0.16465488, -0.43587281, 0.05187739,
        -0.11826660, 0.07930575, -0.17098751,
        0.33952517, 0.17125275, 0.0, -0.23816383, -0.54265385, 0.0,
        -0.06121700, 0.15170766, 0.0,
    ];
    close(&dw, &want_w, 5e-9, "df/dW");
    // (P1): the last layer's ω has exactly zero gradient under probability readout
    for i in 0..3 {
        assert!(dw[9 + 3 * i + 2].abs() < 1e-15);
    }
    // parameter shift (each angle is a rotation exp(−iθP/2): ±π/2 is exact)
    for k in 0..w.len() {
        let (mut up, mut dn) = (w.clone(), w.clone());
        up[k] += PI_2;
        dn[k] -= PI_2;
        let ps = (g1a_f(&x, &up).0 - g1a_f(&x, &dn).0) / 2.0;
        assert!(
            (ps - dw[k]).abs() < 1e-12,
            "W[{k}]: shift {ps} vs adjoint {}",
            dw[k]
        );
    }
    // central differences through the normalisation
    for k in 0..x.len() {
        let h = 1e-6;
        let (mut up, mut dn) = (x.clone(), x.clone());
        up[k] += h;
        dn[k] -= h;
        let fd = (g1a_f(&up, &w).0 - g1a_f(&dn, &w).0) / (2.0 * h);
        assert!(
            (fd - dx[k]).abs() < 1e-8,
            "x[{k}]: fd {fd} vs adjoint {}",
            dx[k]
        );
    }
}

#[test]
fn g1b_probabilities() {
    let n = 4;
    let (x, w) = g1_inputs(11, 1, 4);
    let sel = EntanglingLayers::new(n, 1);
    let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
    amplitude_encode(&x, &mut psi);
    sel.forward(&w, &mut psi, n);
    let mut q = vec![0.0; 8];
    marginal_probs(&psi, n, 3, &mut q);
    #[rustfmt::skip]
    let want = [0.01674467, 0.03957768, 0.24937895, 0.10329865, 0.01329741, 0.00479658,
        0.42113648, 0.15176957];
    close(&q, &want, 5e-9, "q");
}

#[test]
fn g2_ry_blocks_with_a_cnot_chain() {
    let n = 3;
    let chain = RyChain {
        n_wires: n,
        n_blocks: 2,
    };
    let phi: Vec<f64> = (0..6).map(|i| 0.1 * (1 + i) as f64).collect(); // 0.1·(1 + 3b + q)
    let probs = |phi: &[f64]| {
        let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
        chain.forward(phi, &mut psi);
        let mut p = vec![0.0; 8];
        marginal_probs(&psi, n, 3, &mut p);
        (p, psi)
    };
    let (p, psi_end) = probs(&phi);
    #[rustfmt::skip]
    let want = [0.72609341, 0.15097852, 0.03566709, 0.04162892, 0.00123528, 0.00764621,
        0.00469197, 0.03205861];
    close(&p, &want, 5e-9, "probs");
    // adjoint = parameter shift for f = Σ_k k·p_k
    let gk: Vec<f64> = (0..8).map(|k| k as f64).collect();
    let f = |phi: &[f64]| {
        probs(phi)
            .0
            .iter()
            .zip(&gk)
            .map(|(a, b)| a * b)
            .sum::<f64>()
    };
    let mut psi = psi_end;
    let mut lam = vec![Complex64::new(0.0, 0.0); 8];
    marginal_probs_backward(&psi, n, 3, &gk, &mut lam);
    let mut dphi = vec![0.0; 6];
    chain.backward(&phi, &mut psi, &mut lam, &mut dphi);
    assert!((psi[0].re - 1.0).abs() < 1e-14, "ψ back to |000⟩");
    for k in 0..6 {
        let (mut up, mut dn) = (phi.clone(), phi.clone());
        up[k] += PI_2;
        dn[k] -= PI_2;
        let ps = (f(&up) - f(&dn)) / 2.0;
        assert!((ps - dphi[k]).abs() < 1e-12, "φ[{k}]: {ps} vs {}", dphi[k]);
    }
}

#[test]
fn pennylane_ranges_and_a_13_qubit_register() {
    assert_eq!(EntanglingLayers::new(3, 2).ranges, [1, 2]);
    assert_eq!(EntanglingLayers::new(4, 5).ranges, [1, 2, 3, 1, 2]);
    assert_eq!(EntanglingLayers::new(1, 2).ranges, [0, 0]);
    assert_eq!(EntanglingLayers::new(13, 2).n_params(), 78);
    // M = 2: CNOT(0→1) then CNOT(1→0) maps |10⟩ (index 2) to |11⟩ then |01⟩ (index 1)
    let sel = EntanglingLayers::new(2, 1);
    let mut psi = vec![Complex64::new(0.0, 0.0); 4];
    psi[2] = Complex64::new(1.0, 0.0);
    sel.forward(&[0.0; 6], &mut psi, 2);
    assert!((psi[1].re - 1.0).abs() < 1e-15, "{psi:?}");
    // 13 qubits (8192 amplitudes): norm kept, adjoint = parameter shift on a few angles
    let n = 13;
    let sel = EntanglingLayers::new(n, 1);
    let (x, w) = g1_inputs(784, 1, n);
    let f = |w: &[f64]| {
        let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
        amplitude_encode(&x, &mut psi);
        sel.forward(w, &mut psi, n);
        let mut q = vec![0.0; 16];
        marginal_probs(&psi, n, 4, &mut q);
        (
            q.iter()
                .enumerate()
                .map(|(j, v)| (j as f64 - 7.5) * v)
                .sum::<f64>(),
            psi,
        )
    };
    let (_, psi_end) = f(&w);
    let norm: f64 = psi_end.iter().map(|a| a.norm_sqr()).sum();
    assert!((norm - 1.0).abs() < 1e-12);
    let mut psi = psi_end.clone();
    let gq: Vec<f64> = (0..16).map(|j| j as f64 - 7.5).collect();
    let mut lam = vec![Complex64::new(0.0, 0.0); 1 << n];
    marginal_probs_backward(&psi, n, 4, &gq, &mut lam);
    let mut dw = vec![0.0; sel.n_params()];
    sel.backward(&w, &mut psi, &mut lam, n, &mut dw);
    for k in [0, 4, 17, 38] {
        let (mut up, mut dn) = (w.clone(), w.clone());
        up[k] += PI_2;
        dn[k] -= PI_2;
        let ps = (f(&up).0 - f(&dn).0) / 2.0;
        assert!((ps - dw[k]).abs() < 1e-11, "W[{k}]: {ps} vs {}", dw[k]);
    }
}
