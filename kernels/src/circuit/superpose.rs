//! State-level combinations of simulated circuits (spec groups-2-4 §2.3): weighted sums of
//! state vectors, renormalised — classical linear algebra on the states, **not** a unitary
//! circuit (the reference's "superposition" cores of 2d/2e/4d/4e and the LCU of 2a).
//!
//! * [`superpose_forward`]: φ = v/(‖v‖₂ + 1e-9), v = Σ_i w_i·ψ_i (complex weights w);
//! * [`s3_weights`]: the S3 core's weights w = (α, β, γ)/√(|α|²+|β|²+|γ|²+1e-9) from six real
//!   parameters (`alpha_real, alpha_imag, beta_real, …`; reference
//!   `models/QuantumHydraSSM.py`, `models/QuantumE2E_Superposition.py`);
//! * [`lcu_weights`]: 2a's w_j = m_j/(Σ_k |m_k| + 1e-8) (reference `models/QuantumMixingSSM.py`).
//!
//! Global phases are kept (they matter here, spec §2.1). Arithmetic is f64; the reference ran
//! it in complex64, which differs by f32 rounding (~1e-7 relative). Every function has a
//! backward; state and complex-weight gradients use the convention of
//! [`super::simulate`]: G = ∂L/∂Re z + i·∂L/∂Im z.
use num_complex::Complex64;

/// Norm guard of the renormalisation (reference: `/ (norm + 1e-9)`).
pub const NORM_EPS: f64 = 1e-9;
/// Guard of the S3 coefficient norm (reference: `sqrt(|α|²+|β|²+|γ|²+1e-9)`).
pub const S3_EPS: f64 = 1e-9;
/// Guard of the LCU L1 normalisation (reference: `/ (sum(|m|) + 1e-8)`).
pub const LCU_EPS: f64 = 1e-8;

/// φ (2^Q) = v/(‖v‖₂ + 1e-9) with v = Σ_i w_i·ψ_i; `states` are the ψ_i (each 2^Q). Returns
/// r = ‖v‖₂ (needed by the backward). Panics if lengths differ.
pub fn superpose_forward(w: &[Complex64], states: &[&[Complex64]], phi: &mut [Complex64]) -> f64 {
    assert_eq!(
        w.len(),
        states.len(),
        "superpose_forward: one weight per state"
    );
    phi.fill(Complex64::new(0.0, 0.0));
    for (&wi, psi) in w.iter().zip(states) {
        assert_eq!(psi.len(), phi.len(), "superpose_forward: state length");
        phi.iter_mut()
            .zip(psi.iter())
            .for_each(|(o, &a)| *o += wi * a);
    }
    let r = libm::sqrt(phi.iter().map(|z| z.norm_sqr()).sum::<f64>());
    let inv = 1.0 / (r + NORM_EPS);
    phi.iter_mut().for_each(|z| *z *= inv);
    r
}

/// Backward of [`superpose_forward`]. `phi` and `r` are its outputs, `g_phi` = G w.r.t. φ.
/// **Accumulates** G w.r.t. every ψ_i into `g_states[i]` (skipped where `None`) and w.r.t.
/// every weight into `g_w`.
pub fn superpose_backward(
    w: &[Complex64],
    states: &[&[Complex64]],
    phi: &[Complex64],
    r: f64,
    g_phi: &[Complex64],
    g_states: &mut [Option<&mut [Complex64]>],
    g_w: &mut [Complex64],
) {
    let n = phi.len();
    // v = φ·(r + ε);  G_v = G_φ/(r+ε) − v·Re⟨G_φ, v⟩/(r·(r+ε)²)
    let re = r + NORM_EPS;
    let dot: f64 = g_phi
        .iter()
        .zip(phi)
        .map(|(g, p)| g.re * p.re + g.im * p.im)
        .sum::<f64>()
        * re; // Re⟨G_φ, v⟩
    let coef = if r > 0.0 { dot / (r * re * re) } else { 0.0 };
    let mut g_v = [Complex64::new(0.0, 0.0); 64];
    let mut heap;
    let g_v: &mut [Complex64] = if n <= 64 {
        &mut g_v[..n]
    } else {
        heap = alloc::vec![Complex64::new(0.0, 0.0); n];
        &mut heap[..]
    };
    for ((gv, &gp), &p) in g_v.iter_mut().zip(g_phi).zip(phi) {
        *gv = gp / re - p * (re * coef);
    }
    for (i, (&wi, psi)) in w.iter().zip(states).enumerate() {
        // v = Σ w_i ψ_i: G_ψi = conj(w_i)·G_v, G_wi = Σ_k conj(ψ_i[k])·G_v[k]
        let mut acc = Complex64::new(0.0, 0.0);
        for (&a, &gv) in psi.iter().zip(g_v.iter()) {
            acc += a.conj() * gv;
        }
        g_w[i] += acc;
        if let Some(Some(gs)) = g_states.get_mut(i) {
            let cw = wi.conj();
            gs.iter_mut()
                .zip(g_v.iter())
                .for_each(|(o, &gv)| *o += cw * gv);
        }
    }
}

/// S3 weights from the six real parameters `[α_re, α_im, β_re, β_im, γ_re, γ_im]`:
/// w = (α, β, γ)/n, n = √(|α|²+|β|²+|γ|²+1e-9) (spec groups-2-4 §2.3).
pub fn s3_weights(params: &[f32]) -> [Complex64; 3] {
    assert_eq!(params.len(), 6, "s3_weights: six parameters");
    let a: [Complex64; 3] =
        core::array::from_fn(|i| Complex64::new(params[2 * i] as f64, params[2 * i + 1] as f64));
    let n = libm::sqrt(a.iter().map(|z| z.norm_sqr()).sum::<f64>() + S3_EPS);
    a.map(|z| z / n)
}

/// Backward of [`s3_weights`]: given G w.r.t. the three weights, **accumulates** d loss/d
/// params (6). With c = a/n: G_a = G_c/n − a·Σ_j Re(conj(G_cj)·a_j)/n³.
pub fn s3_weights_backward(params: &[f32], g_w: &[Complex64; 3], dparams: &mut [f32]) {
    let a: [Complex64; 3] =
        core::array::from_fn(|i| Complex64::new(params[2 * i] as f64, params[2 * i + 1] as f64));
    let n = libm::sqrt(a.iter().map(|z| z.norm_sqr()).sum::<f64>() + S3_EPS);
    let s: f64 = g_w
        .iter()
        .zip(&a)
        .map(|(g, z)| g.re * z.re + g.im * z.im)
        .sum();
    for i in 0..3 {
        let ga = g_w[i] / n - a[i] * (s / (n * n * n));
        dparams[2 * i] += ga.re as f32;
        dparams[2 * i + 1] += ga.im as f32;
    }
}

/// LCU weights of 2a: w_j = m_j/(Σ_k |m_k| + 1e-8), m given as (nc, 2) (re, im) pairs
/// (the fixture/model-file layout of the complex64 `mix_coeffs`). Writes `w` (nc).
pub fn lcu_weights(m: &[f32], w: &mut [Complex64]) {
    assert_eq!(
        m.len(),
        2 * w.len(),
        "lcu_weights: m must hold (nc, 2) reals"
    );
    let s: f64 = m
        .chunks_exact(2)
        .map(|c| libm::hypot(c[0] as f64, c[1] as f64))
        .sum::<f64>()
        + LCU_EPS;
    for (o, c) in w.iter_mut().zip(m.chunks_exact(2)) {
        *o = Complex64::new(c[0] as f64 / s, c[1] as f64 / s);
    }
}

/// Backward of [`lcu_weights`]: **accumulates** dm (nc, 2) from G w.r.t. w (nc).
/// With s = Σ|m_k| + ε: G_mj = G_wj/s − (m_j/|m_j|)·Σ_i Re(conj(G_wi)·m_i)/s² (|m_j| = 0: the
/// second term is taken as 0, the subgradient PyTorch uses).
pub fn lcu_weights_backward(m: &[f32], g_w: &[Complex64], dm: &mut [f32]) {
    let mc: alloc::vec::Vec<Complex64> = m
        .chunks_exact(2)
        .map(|c| Complex64::new(c[0] as f64, c[1] as f64))
        .collect();
    let s: f64 = mc.iter().map(|z| libm::hypot(z.re, z.im)).sum::<f64>() + LCU_EPS;
    let t: f64 = g_w
        .iter()
        .zip(&mc)
        .map(|(g, z)| g.re * z.re + g.im * z.im)
        .sum();
    for (j, z) in mc.iter().enumerate() {
        let a = libm::hypot(z.re, z.im);
        let unit = if a > 0.0 {
            z / a
        } else {
            Complex64::new(0.0, 0.0)
        };
        let g = g_w[j] / s - unit * (t / (s * s));
        dm[2 * j] += g.re as f32;
        dm[2 * j + 1] += g.im as f32;
    }
}
