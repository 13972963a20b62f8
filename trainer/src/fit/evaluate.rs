//! Eval-mode pass over a set of windows (dropout off), in batches as the reference's loader.
use super::{Labels, Windows};
use crate::metrics::{ClassificationMetrics, RegressionMetrics};
use crate::models::objective::loss_with_grad;
use crate::models::Model;
use serde::{Deserialize, Serialize};

/// Metrics of one evaluation: classification (EEG) or regression (synthetic tasks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Metrics {
    /// accuracy, AUC, weighted F1, confusion matrix, loss
    Classification(ClassificationMetrics),
    /// MSE, MAE, R², loss
    Regression(RegressionMetrics),
}

impl Metrics {
    /// The loss (mean of per-batch mean losses, as the reference logs it).
    pub fn loss(&self) -> f64 {
        match self {
            Metrics::Classification(m) => m.loss,
            Metrics::Regression(m) => m.loss,
        }
    }
    /// Model-selection score, higher is better: accuracy (classification, spec §2.4) or −MSE
    /// (regression, spec §3.4).
    pub fn score(&self) -> f64 {
        match self {
            Metrics::Classification(m) => m.acc,
            Metrics::Regression(m) => -m.mse,
        }
    }
    /// One-line summary, e.g. `acc 71.2 %  AUC 78.0 %  F1 70.9 %` or `MSE 0.0012  R² 0.993`.
    pub fn summary(&self) -> String {
        match self {
            Metrics::Classification(m) => format!(
                "acc {:.2} %  AUC {:.2} %  F1 {:.2} %",
                100.0 * m.acc,
                100.0 * m.auc,
                100.0 * m.f1
            ),
            Metrics::Regression(m) => format!("MSE {:.6}  MAE {:.4}  R² {:.4}", m.mse, m.mae, m.r2),
        }
    }
}

/// Outputs and metrics of an eval pass.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// model outputs (n, output_dim)
    pub outputs: Vec<f32>,
    /// metrics of the pass
    pub metrics: Metrics,
}

/// Evaluates `model` on `data` with batches of `batch_size` (affects only how the loss is
/// averaged).
pub fn evaluate(
    model: &dyn Model,
    params: &[f32],
    data: Windows<'_>,
    batch_size: usize,
) -> Evaluation {
    // whole batches through the model's batched forward (contiguous windows of data.x)
    let n = data.len();
    let bs = batch_size.max(1);
    let k = model.config().n_classes;
    let mut per: Vec<(Vec<f32>, f32)> = Vec::with_capacity(n);
    for start in (0..n).step_by(bs) {
        let b = bs.min(n - start);
        let x = &data.x[start * data.window_len..(start + b) * data.window_len];
        let outs = model.forward_eval_batch(params, x, b);
        for (j, out) in outs.chunks_exact(k.max(1)).enumerate() {
            let (loss, _) = loss_with_grad(out, data.target(start + j), 1.0);
            per.push((out.to_vec(), loss));
        }
    }
    let mut batch_losses = Vec::new();
    for chunk in per.chunks(batch_size.max(1)) {
        batch_losses.push(chunk.iter().map(|(_, l)| *l as f64).sum::<f64>() / chunk.len() as f64);
    }
    let loss = if batch_losses.is_empty() {
        0.0
    } else {
        batch_losses.iter().sum::<f64>() / batch_losses.len() as f64
    };
    let outputs: Vec<f32> = per.into_iter().flat_map(|(l, _)| l).collect();
    let metrics = match data.labels {
        Labels::Classes(y) => {
            let labels: Vec<usize> = y.iter().map(|v| *v as usize).collect();
            Metrics::Classification(ClassificationMetrics::compute(
                &outputs,
                &labels,
                model.config().n_classes,
                loss,
            ))
        }
        Labels::Values { v, .. } => {
            Metrics::Regression(RegressionMetrics::compute(&outputs, v, loss))
        }
    };
    Evaluation { outputs, metrics }
}
