//! Losses.

/// Softmax cross-entropy of one sample: logits (K), target class `y`; writes `probs` (K) and
/// returns −ln p_y. Numerically stable (max-shifted): the loss is computed as
/// `ln Σ_k e^{l_k−m} − (l_y − m)`, so it stays finite even when p_y underflows in f32.
///
/// Panics if `y ≥ K` or `probs` is shorter than `logits`.
pub fn cross_entropy_forward(probs: &mut [f32], logits: &[f32], y: usize) -> f32 {
    assert!(
        y < logits.len(),
        "cross_entropy_forward: target {y} out of range"
    );
    let probs = &mut probs[..logits.len()];
    let m = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut z = 0.0f32;
    for (p, &l) in probs.iter_mut().zip(logits) {
        let e = libm::expf(l - m);
        *p = e;
        z += e;
    }
    let inv = 1.0 / z;
    for p in probs.iter_mut() {
        *p *= inv;
    }
    libm::logf(z) - (logits[y] - m)
}

/// Backward of [`cross_entropy_forward`] scaled by `scale` (1/B for a batch mean):
/// `dlogits += scale·(p − onehot(y))`.
pub fn cross_entropy_backward(dlogits: &mut [f32], probs: &[f32], y: usize, scale: f32) {
    assert!(
        y < probs.len(),
        "cross_entropy_backward: target {y} out of range"
    );
    for (k, (g, &p)) in dlogits.iter_mut().zip(probs).enumerate() {
        let oh = if k == y { 1.0 } else { 0.0 };
        *g += scale * (p - oh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    #[test]
    fn forward_matches_reference_and_is_stable() {
        let logits = [1.0f32, -2.0, 0.5, 3.0];
        let mut p = [0.0f32; 4];
        let loss = cross_entropy_forward(&mut p, &logits, 2);
        let z: f64 = logits.iter().map(|&v| (v as f64).exp()).sum();
        for k in 0..4 {
            assert!((p[k] as f64 - (logits[k] as f64).exp() / z).abs() < 1e-7);
        }
        assert!((loss as f64 - (z.ln() - 0.5)).abs() < 1e-6);
        // Huge logits: no overflow, and a loss of ~1000 for a hopeless target (p_y underflows).
        let big = [1000.0f32, 0.0];
        let mut p2 = [0.0f32; 2];
        assert_eq!(cross_entropy_forward(&mut p2, &big, 0), 0.0);
        assert_eq!(p2, [1.0, 0.0]);
        let l1 = cross_entropy_forward(&mut p2, &big, 1);
        assert!((l1 - 1000.0).abs() < 1e-3, "{l1}");
    }

    #[test]
    fn fd_gradients() {
        let mut rng = rng(50);
        for y in [0usize, 3] {
            let inputs = vec![grid_uniform(&mut rng, 5, -3.0, 3.0)];
            let scale = 0.25f32;
            // Output = the loss, scaled like the backward (so r·y ↔ dlogits = r·scale·(p − e_y)).
            let fwd = |p: &[Vec<f32>]| {
                let mut pr = vec![0.0; 5];
                vec![scale * cross_entropy_forward(&mut pr, &p[0], y)]
            };
            let bwd = |p: &[Vec<f32>], r: &[f32], g: &mut [Vec<f32>]| {
                let mut pr = vec![0.0; 5];
                cross_entropy_forward(&mut pr, &p[0], y);
                cross_entropy_backward(&mut g[0], &pr, y, scale * r[0]);
            };
            let errs = gradcheck(&mut rng, &inputs, fwd, bwd, FD_STEP);
            report(&format!("cross_entropy y={y}"), &["dlogits"], &errs, 2e-3);
        }
    }
}
