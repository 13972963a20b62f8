//! Causal depthwise conv1d: PyTorch `Conv1d(E, E, k, groups=E, padding=k−1)` truncated to the
//! first L outputs: `y[t,c] = b[c] + Σ_{j<k} w[c,j]·x[t−(k−1)+j, c]`, `x[<0] = 0`
//! (`w[c,k−1]` multiplies the current sample).

/// x, y: (L, E) token-major; w: (E, k) (the PyTorch (E,1,k) weight); b: (E).
pub fn conv1d_causal_forward(y: &mut [f32], x: &[f32], w: &[f32], b: &[f32], l: usize, e: usize, k: usize) {
    todo!("helper: ops")
}

/// Backward of [`conv1d_causal_forward`]; accumulates dx (L,E), dw (E,k), db (E).
pub fn conv1d_causal_backward(dx: &mut [f32], dw: &mut [f32], db: &mut [f32], dy: &[f32], x: &[f32], w: &[f32], l: usize, e: usize, k: usize) {
    todo!("helper: ops")
}
