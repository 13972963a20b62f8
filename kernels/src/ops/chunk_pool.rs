//! Attention pooling inside fixed-size chunks (the reference's `ChunkedQuantumProcessor` /
//! `QuantumFeatureProcessor` steps 4–5): per chunk j, `w = softmax(a[j·cs .. (j+1)·cs])` and
//! `s_j = Σ_t w_t·u_t`. The caller pads u with zero rows to nc·cs and computes the scores `a`
//! (pad rows included, as in the reference).

/// u: (nc·cs, F) padded rows; a: (nc·cs) scores; writes s (nc, F) and the softmax weights
/// `w` (nc·cs), saved for the backward.
pub fn chunk_pool_forward(s: &mut [f32], w: &mut [f32], u: &[f32], a: &[f32], nc: usize, cs: usize, f: usize) {
    todo!("helper: ops")
}

/// Backward of [`chunk_pool_forward`]; accumulates du (nc·cs, F) and da (nc·cs).
pub fn chunk_pool_backward(du: &mut [f32], da: &mut [f32], ds: &[f32], u: &[f32], w: &[f32], nc: usize, cs: usize, f: usize) {
    todo!("helper: ops")
}
