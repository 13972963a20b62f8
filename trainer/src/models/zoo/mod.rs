//! The models of the reference study, each composed of [`super::blocks`].
mod quantum_mamba_ssm;
mod true_classical_mamba;

pub use quantum_mamba_ssm::{QuantumMambaSsm, CHUNK_SIZE as CHUNK_SIZE_1B};
pub use true_classical_mamba::TrueClassicalMamba;

use qssm_kernels::ops::loss::{cross_entropy_backward, cross_entropy_forward};

/// Cross-entropy of one sample and d loss/d logits × scale.
pub(crate) fn ce_with_grad(logits: &[f32], y: usize, scale: f32) -> (f32, Vec<f32>) {
    let mut probs = vec![0.0; logits.len()];
    let loss = cross_entropy_forward(&mut probs, logits, y);
    let mut d = vec![0.0; logits.len()];
    cross_entropy_backward(&mut d, &probs, y, scale);
    (loss, d)
}
