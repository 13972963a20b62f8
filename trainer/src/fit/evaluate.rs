//! Eval-mode pass over a set of windows (dropout off), in batches as the reference's loader.
use super::Windows;
use crate::metrics::ClassificationMetrics;
use crate::models::Model;
use qssm_kernels::ops::loss::cross_entropy_forward;
use rayon::prelude::*;

/// Logits and metrics of an eval pass.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// (n, n_classes)
    pub logits: Vec<f32>,
    /// accuracy, AUC, weighted F1, confusion matrix, loss (mean of per-batch mean losses, as
    /// the reference logs it)
    pub metrics: ClassificationMetrics,
}

/// Evaluates `model` on `data` with batches of `batch_size` (affects only how the loss is
/// averaged).
pub fn evaluate(
    model: &dyn Model,
    params: &[f32],
    data: Windows<'_>,
    batch_size: usize,
) -> Evaluation {
    let k = model.config().n_classes;
    let per: Vec<(Vec<f32>, f32)> = (0..data.len())
        .into_par_iter()
        .map(|i| {
            let logits = model.forward_eval(params, data.window(i));
            let mut probs = vec![0.0; k];
            let loss = cross_entropy_forward(&mut probs, &logits, data.y[i] as usize);
            (logits, loss)
        })
        .collect();
    let mut batch_losses = Vec::new();
    for chunk in per.chunks(batch_size.max(1)) {
        batch_losses.push(chunk.iter().map(|(_, l)| *l as f64).sum::<f64>() / chunk.len() as f64);
    }
    let loss = if batch_losses.is_empty() {
        0.0
    } else {
        batch_losses.iter().sum::<f64>() / batch_losses.len() as f64
    };
    let logits: Vec<f32> = per.into_iter().flat_map(|(l, _)| l).collect();
    let labels: Vec<usize> = data.y.iter().map(|v| *v as usize).collect();
    let metrics = ClassificationMetrics::compute(&logits, &labels, k, loss);
    Evaluation { logits, metrics }
}
