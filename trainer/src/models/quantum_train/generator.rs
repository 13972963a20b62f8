//! Weight generation (spec §5.2): the circuit's probabilities p (2^N, float64 state, rounded
//! to f32) and, for each target weight i < M, θ_i = fc2(ReLU(fc1([bits of i, MSB first; p_i]))).
use num_complex::Complex64;
use qssm_kernels::circuit::entangling::{marginal_probs, marginal_probs_backward, RyChain};

/// The qt-seed circuit: 13 wires, 8 blocks (2^13 = 8,192 ≥ 6,676 target weights).
pub const QT_SEED: RyChain = RyChain {
    n_wires: 13,
    n_blocks: 8,
};

/// The mapping MLP Linear(N + 1 → H), ReLU, Linear(H → 1); PyTorch layouts (W (out, in)).
#[derive(Clone, Debug, PartialEq)]
pub struct MappingMlp {
    /// fc1.weight (H, N + 1)
    pub fc1_w: Vec<f32>,
    /// fc1.bias (H)
    pub fc1_b: Vec<f32>,
    /// fc2.weight (1, H)
    pub fc2_w: Vec<f32>,
    /// fc2.bias (1)
    pub fc2_b: f32,
}

impl MappingMlp {
    /// H: hidden width.
    pub fn hidden(&self) -> usize {
        self.fc1_b.len()
    }

    /// Zeros of this MLP's shapes (a gradient accumulator).
    pub fn zeros_like(&self) -> Self {
        Self {
            fc1_w: vec![0.0; self.fc1_w.len()],
            fc1_b: vec![0.0; self.fc1_b.len()],
            fc2_w: vec![0.0; self.fc2_w.len()],
            fc2_b: 0.0,
        }
    }

    /// fc1's pre-activation of hidden unit j for the input row v.
    fn pre(&self, j: usize, v: &[f32]) -> f32 {
        let d = v.len();
        let row = &self.fc1_w[j * d..(j + 1) * d];
        self.fc1_b[j] + row.iter().zip(v).map(|(a, x)| a * x).sum::<f32>()
    }

    /// θ for the input row v (N + 1 values).
    fn apply(&self, v: &[f32]) -> f32 {
        let mut out = self.fc2_b;
        for (j, &w2) in self.fc2_w.iter().enumerate() {
            out += w2 * self.pre(j, v).max(0.0);
        }
        out
    }

    /// Backward of [`Self::apply`] for the row v and g = ∂L/∂θ: accumulates the MLP's
    /// gradients into `grad` and returns ∂L/∂v\[N\] (the probability's).
    fn apply_bwd(&self, v: &[f32], g: f32, grad: &mut Self) -> f32 {
        let d = v.len();
        grad.fc2_b += g;
        let mut dp = 0.0f32;
        for (j, &w2) in self.fc2_w.iter().enumerate() {
            let pre = self.pre(j, v);
            if pre <= 0.0 {
                continue;
            }
            grad.fc2_w[j] += g * pre;
            let dh = g * w2;
            grad.fc1_b[j] += dh;
            for (dw, &x) in grad.fc1_w[j * d..(j + 1) * d].iter_mut().zip(v) {
                *dw += dh * x;
            }
            dp += dh * self.fc1_w[j * d + d - 1];
        }
        dp
    }
}

/// The MLP input row of weight index i: the N bits of i (MSB first, as 0/1), then p_i.
fn input_row(v: &mut [f32], i: usize, n_wires: usize, p: &[f32]) {
    for (b, o) in v[..n_wires].iter_mut().enumerate() {
        *o = ((i >> (n_wires - 1 - b)) & 1) as f32;
    }
    v[n_wires] = p[i];
}

/// The circuit's basis probabilities for angles φ (B, N), as f32 (2^N).
pub fn circuit_probs(chain: &RyChain, phi: &[f64]) -> Vec<f32> {
    let n = chain.n_wires;
    let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
    chain.forward(phi, &mut psi);
    let mut p = vec![0.0f64; 1 << n];
    marginal_probs(&psi, n, n, &mut p);
    p.iter().map(|&v| v as f32).collect()
}

/// θ (M) from the probabilities `p` (2^N) and the MLP. Panics if M > 2^N or the MLP's input
/// width is not N + 1.
pub fn generate_theta(p: &[f32], n_wires: usize, mlp: &MappingMlp, m: usize) -> Vec<f32> {
    assert!(
        m <= p.len() && p.len() == 1 << n_wires,
        "generate_theta: M {m} of {} probabilities",
        p.len()
    );
    assert_eq!(
        mlp.fc1_w.len(),
        mlp.hidden() * (n_wires + 1),
        "generate_theta: fc1 width"
    );
    let mut v = vec![0.0f32; n_wires + 1];
    (0..m)
        .map(|i| {
            input_row(&mut v, i, n_wires, p);
            mlp.apply(&v)
        })
        .collect()
}

/// Backward of [`generate_theta`] for dθ = ∂L/∂θ (M): the MLP's gradients and ∂L/∂p (2^N;
/// zero beyond M). Rows in index order (deterministic).
pub fn generate_theta_bwd(
    p: &[f32],
    n_wires: usize,
    mlp: &MappingMlp,
    dtheta: &[f32],
) -> (MappingMlp, Vec<f32>) {
    let mut grad = mlp.zeros_like();
    let mut dp = vec![0.0f32; p.len()];
    let mut v = vec![0.0f32; n_wires + 1];
    for (i, &g) in dtheta.iter().enumerate() {
        input_row(&mut v, i, n_wires, p);
        dp[i] = mlp.apply_bwd(&v, g, &mut grad);
    }
    (grad, dp)
}

/// Backward of [`circuit_probs`]: ∂L/∂φ for dp = ∂L/∂p (2^N), by the adjoint method (the
/// state recomputed, then swept back with λ = diag(dp)·ψ).
pub fn circuit_probs_bwd(chain: &RyChain, phi: &[f64], dp: &[f32]) -> Vec<f64> {
    let n = chain.n_wires;
    let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
    chain.forward(phi, &mut psi);
    let g: Vec<f64> = dp.iter().map(|&v| v as f64).collect();
    let mut lam = vec![Complex64::new(0.0, 0.0); 1 << n];
    marginal_probs_backward(&psi, n, n, &g, &mut lam);
    let mut dphi = vec![0.0f64; chain.n_params()];
    chain.backward(phi, &mut psi, &mut lam, &mut dphi);
    dphi
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// ∂(Σ w·p)/∂φ of the adjoint sweep against central differences of the float64
    /// probabilities (a 5-wire chain of 3 blocks), and through `circuit_probs_bwd` on qt-seed.
    #[test]
    fn circuit_gradient_matches_central_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for chain in [
            RyChain {
                n_wires: 5,
                n_blocks: 3,
            },
            QT_SEED,
        ] {
            let n = chain.n_wires;
            let mut phi: Vec<f64> = (0..chain.n_params())
                .map(|_| rng.gen_range(-1.5..1.5))
                .collect();
            let w: Vec<f32> = (0..1 << n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let f = |phi: &[f64]| -> f64 {
                let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
                chain.forward(phi, &mut psi);
                let mut p = vec![0.0f64; 1 << n];
                marginal_probs(&psi, n, n, &mut p);
                p.iter().zip(&w).map(|(a, b)| a * *b as f64).sum()
            };
            let g = circuit_probs_bwd(&chain, &phi, &w);
            for k in (0..phi.len()).step_by(7) {
                let (v, h) = (phi[k], 1e-5);
                phi[k] = v + h;
                let up = f(&phi);
                phi[k] = v - h;
                let down = f(&phi);
                phi[k] = v;
                let fd = (up - down) / (2.0 * h);
                assert!(
                    (fd - g[k]).abs() < 1e-8,
                    "{n} wires, φ[{k}]: {} vs {fd}",
                    g[k]
                );
            }
        }
    }

    /// ∂(Σ c·θ)/∂(MLP weights, p) of `generate_theta_bwd` against central differences; the
    /// inactive unit gets no gradient.
    #[test]
    fn mapping_gradient_matches_central_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (n, m) = (5usize, 27usize);
        let mut u = |k: usize, a: f32| (0..k).map(|_| rng.gen_range(-a..a)).collect::<Vec<f32>>();
        // hidden units 0–4 always active and unit 5 never (|fc1·v| ≤ 1.8 < |bias|): no ReLU
        // kink within a step, so central differences are exact up to rounding
        let mlp = MappingMlp {
            fc1_w: u(6 * (n + 1), 0.3),
            fc1_b: vec![3.0, 3.0, 3.0, 3.0, 3.0, -3.0],
            fc2_w: u(6, 1.0),
            fc2_b: 0.1,
        };
        let p: Vec<f32> = u(1 << n, 1.0);
        let c: Vec<f32> = u(m, 1.0);
        let loss = |mlp: &MappingMlp, p: &[f32]| -> f64 {
            let t = generate_theta(p, n, mlp, m);
            t.iter()
                .zip(&c)
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum()
        };
        let (g, dp) = generate_theta_bwd(&p, n, &mlp, &c);
        assert!(dp[m..].iter().all(|&v| v == 0.0));
        let h = 1e-2f32;
        for i in 0..m {
            let (mut a, mut b) = (p.clone(), p.clone());
            a[i] += h;
            b[i] -= h;
            let fd = (loss(&mlp, &a) - loss(&mlp, &b)) / (2.0 * h as f64);
            assert!(
                (fd - dp[i] as f64).abs() < 1e-3,
                "p[{i}]: {} vs {fd}",
                dp[i]
            );
        }
        for k in 0..mlp.fc1_w.len() {
            let (mut a, mut b) = (mlp.clone(), mlp.clone());
            a.fc1_w[k] += h;
            b.fc1_w[k] -= h;
            let fd = (loss(&a, &p) - loss(&b, &p)) / (2.0 * h as f64);
            assert!(
                (fd - g.fc1_w[k] as f64).abs() < 1e-3,
                "fc1_w[{k}]: {} vs {fd}",
                g.fc1_w[k]
            );
        }
        assert!(g.fc1_w[5 * (n + 1)..].iter().all(|&v| v == 0.0) && g.fc2_w[5] == 0.0);
        let (mut a, mut b) = (mlp.clone(), mlp.clone());
        a.fc2_b += h;
        b.fc2_b -= h;
        let fd = (loss(&a, &p) - loss(&b, &p)) / (2.0 * h as f64);
        assert!((fd - g.fc2_b as f64).abs() < 1e-3);
    }
}
