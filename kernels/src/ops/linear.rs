//! Fully connected layer, PyTorch `nn.Linear` semantics: `y = x·Wᵀ + b`, `W` stored `(out, in)`.

/// `y (L, out) = x (L, in) · Wᵀ + b`. `w`: (out, in) row-major; `b`: (out) or `None`.
/// `y` is overwritten.
pub fn linear_forward(y: &mut [f32], x: &[f32], w: &[f32], b: Option<&[f32]>, l: usize, d_in: usize, d_out: usize) {
    todo!("helper: ops")
}

/// Backward of [`linear_forward`]. Accumulates `dx (L,in) += dy·W`, `dw (out,in) += dyᵀ·x`,
/// `db (out) += Σ_t dy`. `dx = None` skips the input gradient.
pub fn linear_backward(dx: Option<&mut [f32]>, dw: &mut [f32], db: Option<&mut [f32]>, dy: &[f32], x: &[f32], w: &[f32], l: usize, d_in: usize, d_out: usize) {
    todo!("helper: ops")
}
