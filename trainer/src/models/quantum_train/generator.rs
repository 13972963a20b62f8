//! Weight generation (spec §5.2): the circuit's probabilities p (2^N, float64 state, rounded
//! to f32) and, for each target weight i < M, θ_i = fc2(ReLU(fc1([bits of i, MSB first; p_i]))).
use num_complex::Complex64;
use qssm_kernels::circuit::entangling::{marginal_probs, RyChain};

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

    /// θ for the input row v (N + 1 values).
    fn apply(&self, v: &[f32]) -> f32 {
        let d = v.len();
        let mut out = self.fc2_b;
        for (j, (&b, &w2)) in self.fc1_b.iter().zip(&self.fc2_w).enumerate() {
            let row = &self.fc1_w[j * d..(j + 1) * d];
            let h = b + row.iter().zip(v).map(|(a, x)| a * x).sum::<f32>();
            out += w2 * h.max(0.0);
        }
        out
    }
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
            for (b, o) in v[..n_wires].iter_mut().enumerate() {
                *o = ((i >> (n_wires - 1 - b)) & 1) as f32;
            }
            v[n_wires] = p[i];
            mlp.apply(&v)
        })
        .collect()
}
