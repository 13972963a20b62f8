//! Mean pooling over the sequence (`AdaptiveAvgPool1d(1)` / `.mean(dim=1)`).

/// x (L, D) → y (D) = mean over L.
pub fn mean_pool_forward(x: &[f32], l: usize, d: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; d];
    for row in x.chunks_exact(d).take(l) {
        y.iter_mut().zip(row).for_each(|(a, b)| *a += b);
    }
    let inv = 1.0 / l as f32;
    y.iter_mut().for_each(|v| *v *= inv);
    y
}

/// Accumulates dx (L, D) += dy (D)/L.
pub fn mean_pool_backward(dx: &mut [f32], dy: &[f32], l: usize, d: usize) {
    let inv = 1.0 / l as f32;
    for row in dx.chunks_exact_mut(d).take(l) {
        row.iter_mut().zip(dy).for_each(|(a, b)| *a += b * inv);
    }
}
