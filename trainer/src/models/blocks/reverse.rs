//! Time reversal of token-major sequences (the backward direction of the Hydra models).

/// Time reversal of a token-major sequence: x (L, W) → rows in the order L−1, …, 0.
pub fn reverse_time(x: &[f32], l: usize, w: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(l * w);
    for t in (0..l).rev() {
        y.extend_from_slice(&x[t * w..(t + 1) * w]);
    }
    y
}
