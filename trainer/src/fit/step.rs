//! One training step over a mini-batch: per-sample forward/backward in parallel, ordered
//! gradient reduction, mean loss (cross-entropy or MSE).
use crate::models::{Model, Target};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Reusable per-sample gradient buffers (one per batch slot), so a step allocates no gradient
/// memory after the first.
#[derive(Default)]
pub struct BatchWorkspace {
    bufs: Vec<Vec<f32>>,
}

/// Result of [`BatchWorkspace::forward_backward`].
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// mean loss (cross-entropy or MSE) over the batch
    pub loss: f32,
    /// logits (B, n_classes)
    pub logits: Vec<f32>,
}

impl BatchWorkspace {
    /// Computes the mean loss over the batch and writes d(mean loss)/d params into `grads`
    /// (overwritten). `windows[i]` is (C, T) in millivolts, `targets[i]` its class or regression values.
    /// `dropout_seeds`: one seed per sample for its dropout masks (`None` = no dropout, as in
    /// the parity fixtures).
    pub fn forward_backward(
        &mut self,
        model: &dyn Model,
        params: &[f32],
        windows: &[&[f32]],
        targets: &[Target<'_>],
        dropout_seeds: Option<&[u64]>,
        grads: &mut [f32],
    ) -> StepOutput {
        let b = windows.len();
        let n = params.len();
        if self.bufs.len() < b {
            self.bufs.resize_with(b, Vec::new);
        }
        let scale = 1.0 / b as f32;
        let outs: Vec<_> = self.bufs[..b]
            .par_iter_mut()
            .enumerate()
            .map(|(i, g)| {
                g.clear();
                g.resize(n, 0.0);
                let mut rng = dropout_seeds.map(|s| ChaCha8Rng::seed_from_u64(s[i]));
                model.forward_backward(params, windows[i], targets[i], scale, rng.as_mut(), g)
            })
            .collect();
        grads.iter_mut().for_each(|v| *v = 0.0);
        for g in &self.bufs[..b] {
            grads.iter_mut().zip(g).for_each(|(a, v)| *a += v);
        }
        let loss = outs.iter().map(|o| o.loss).sum::<f32>() / b as f32;
        let logits = outs.into_iter().flat_map(|o| o.logits).collect();
        StepOutput { loss, logits }
    }
}
