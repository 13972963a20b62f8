//! Training objectives of the reference: cross-entropy on logits for classification (EEG),
//! mean-squared error on raw outputs for regression (synthetic tasks, spec
//! gated-and-protocols §3.4).
use qssm_kernels::ops::loss::{cross_entropy_backward, cross_entropy_forward};

/// The target of one sample.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// class index for cross-entropy over `output_dim` logits
    Class(usize),
    /// regression targets (`output_dim` values) for MSE
    Values(&'a [f32]),
}

/// Loss of one sample's outputs (n) and d loss/d outputs × `scale`.
///
/// * `Class(y)`: −ln softmax(outputs)_y.
/// * `Values(v)`: mean over the n outputs of (ŷ − v)², so that averaging over a batch with
///   `scale` = 1/B gives PyTorch's `MSELoss` (mean over all B·n elements).
pub fn loss_with_grad(outputs: &[f32], target: Target<'_>, scale: f32) -> (f32, Vec<f32>) {
    let mut d = vec![0.0; outputs.len()];
    match target {
        Target::Class(y) => {
            let mut probs = vec![0.0; outputs.len()];
            let loss = cross_entropy_forward(&mut probs, outputs, y);
            cross_entropy_backward(&mut d, &probs, y, scale);
            (loss, d)
        }
        Target::Values(v) => {
            let n = outputs.len() as f32;
            let mut loss = 0.0;
            for ((di, o), t) in d.iter_mut().zip(outputs).zip(v) {
                let e = o - t;
                loss += e * e / n;
                *di = 2.0 * e / n * scale;
            }
            (loss, d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_gradient_matches_finite_differences() {
        let (o, t) = ([0.3f32, -1.2, 2.0], [0.0f32, -1.0, 2.5]);
        let (_, d) = loss_with_grad(&o, Target::Values(&t), 0.5);
        for i in 0..3 {
            let (mut a, mut b) = (o, o);
            a[i] += 1e-3;
            b[i] -= 1e-3;
            let fd = (loss_with_grad(&a, Target::Values(&t), 1.0).0
                - loss_with_grad(&b, Target::Values(&t), 1.0).0)
                / 2e-3;
            assert!(
                (d[i] - 0.5 * fd).abs() < 1e-3,
                "{i}: {} vs {}",
                d[i],
                0.5 * fd
            );
        }
    }
}
