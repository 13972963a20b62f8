//! Losses.

/// Softmax cross-entropy of one sample: logits (K), target class `y`; writes `probs` (K) and
/// returns −ln p_y. Numerically stable (max-shifted).
pub fn cross_entropy_forward(probs: &mut [f32], logits: &[f32], y: usize) -> f32 {
    todo!("helper: ops")
}

/// Backward of [`cross_entropy_forward`] scaled by `scale` (1/B for a batch mean):
/// `dlogits += scale·(p − onehot(y))`.
pub fn cross_entropy_backward(dlogits: &mut [f32], probs: &[f32], y: usize, scale: f32) {
    todo!("helper: ops")
}
