//! Global-norm gradient clipping, `torch.nn.utils.clip_grad_norm_(params, max_norm)` with
//! `norm_type = 2`, `error_if_nonfinite = False`.
//!
//! PyTorch takes the L2 norm of each parameter's gradient, then the L2 norm of those norms
//! (= the L2 norm of the concatenation), all in `f32`; parameters without a gradient do not
//! contribute. Here the gradient buffer is flat, so the norm is taken over the whole buffer; the
//! gradients of inactive parameters are expected to be zero (they then contribute nothing, as in
//! PyTorch). The sum of squares is accumulated in `f64` (deterministic and more accurate than
//! PyTorch's `f32` reductions; the two agree to `f32` rounding), and the result is rounded to
//! `f32` before the clipping coefficient is formed in `f32` exactly as PyTorch does:
//! `clip_coef = max_norm / (total_norm + 1e-6)`, applied only when `clip_coef < 1` (PyTorch
//! multiplies by `clamp(clip_coef, max = 1)`, and multiplying by 1 is the identity).

/// L2 norm of a gradient buffer, accumulated in `f64`.
pub fn grad_norm(grads: &[f32]) -> f64 {
    grads
        .iter()
        .map(|&g| f64::from(g) * f64::from(g))
        .sum::<f64>()
        .sqrt()
}

/// Scales `grads` in place so that their global L2 norm is at most `max_norm` (up to the 1e-6
/// guard) and returns the total norm **before** clipping, like `clip_grad_norm_`.
///
/// Non-finite gradients behave as in PyTorch with `error_if_nonfinite = False`: an infinite
/// norm gives `clip_coef = 0` (finite entries become 0, infinite ones NaN); a NaN norm leaves
/// the buffer unchanged (it already holds a NaN). The returned norm is then `inf` / `NaN`.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let total_norm = grad_norm(grads) as f32;
    let clip_coef = max_norm / (total_norm + 1e-6_f32);
    if clip_coef < 1.0 {
        for g in grads.iter_mut() {
            *g *= clip_coef;
        }
    }
    total_norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_to_max_norm_and_returns_pre_clip_norm() {
        let mut g = vec![3.0_f32, 0.0, -4.0, 0.0];
        let n = clip_grad_norm(&mut g, 1.0);
        assert_eq!(n, 5.0);
        let coef = 1.0_f32 / (5.0 + 1e-6);
        assert_eq!(g, vec![3.0 * coef, 0.0, -4.0 * coef, 0.0]);
        assert!((grad_norm(&g) - 1.0).abs() < 1e-6);
        assert!(grad_norm(&g) < 1.0);
    }

    #[test]
    fn leaves_small_gradients_unchanged() {
        let mut g = vec![0.3_f32, -0.4];
        let n = clip_grad_norm(&mut g, 1.0);
        assert!((n - 0.5).abs() < 1e-7);
        assert_eq!(g, vec![0.3, -0.4]);
        // Exactly at the threshold: coef = 1/(1 + 1e-6) < 1 ⇒ PyTorch scales (by ~1 − 1e-6).
        let mut g = vec![0.6_f32, 0.8];
        let n = clip_grad_norm(&mut g, 1.0);
        assert!((n - 1.0).abs() < 1e-7);
        assert!(g[0] <= 0.6 && g[1] <= 0.8);
        // Empty buffer: norm 0, nothing to do.
        let mut e: Vec<f32> = vec![];
        assert_eq!(clip_grad_norm(&mut e, 1.0), 0.0);
    }

    #[test]
    fn large_buffer_norm_is_accurate() {
        // 1e6 entries of 1e-3: norm 1 exactly in f64 accumulation.
        let mut g = vec![1e-3_f32; 1_000_000];
        let n = clip_grad_norm(&mut g, 0.5);
        assert!((n - 1.0).abs() < 1e-6);
        assert!((grad_norm(&g) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn non_finite_gradients() {
        let mut g = vec![1.0_f32, f32::INFINITY];
        assert_eq!(clip_grad_norm(&mut g, 1.0), f32::INFINITY);
        assert_eq!(g[0], 0.0);
        assert!(g[1].is_nan());
        let mut g = vec![1.0_f32, f32::NAN];
        assert!(clip_grad_norm(&mut g, 1.0).is_nan());
        assert_eq!(g[0], 1.0);
    }
}
