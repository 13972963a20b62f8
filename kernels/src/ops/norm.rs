//! Per-token normalisations (over the last dim only; nothing normalises over time).

/// LayerNorm over the last dim: `y = (x−μ)/√(var_biased+eps)·w + b`. x, y: (L, D).
/// Saves `mean` (L) and `rstd` (L) for the backward.
pub fn layernorm_forward(y: &mut [f32], mean: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], b: &[f32], l: usize, d: usize, eps: f32) {
    todo!("helper: ops")
}

/// Backward of [`layernorm_forward`]; accumulates into dx (L,D), dw (D), db (D).
pub fn layernorm_backward(dx: &mut [f32], dw: &mut [f32], db: &mut [f32], dy: &[f32], x: &[f32], mean: &[f32], rstd: &[f32], w: &[f32], l: usize, d: usize) {
    todo!("helper: ops")
}

/// RMSNorm (the reference's own class): `y = w·x/√(mean(x²)+eps)`, eps inside the sqrt, no bias.
/// Saves `rstd` (L).
pub fn rmsnorm_forward(y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], l: usize, d: usize, eps: f32) {
    todo!("helper: ops")
}

/// Backward of [`rmsnorm_forward`]; accumulates into dx (L,D), dw (D).
pub fn rmsnorm_backward(dx: &mut [f32], dw: &mut [f32], dy: &[f32], x: &[f32], rstd: &[f32], w: &[f32], l: usize, d: usize) {
    todo!("helper: ops")
}
