//! One training step over a mini-batch: the windows are gathered into one (B, C, T) batch and
//! run through the model's batched passes ([`Model::train_batch`]).
use crate::models::{Model, StepOutput, Target};

/// Reusable host staging for the (B, C, T) batch of a step, so a step allocates no batch
/// memory after the first.
#[derive(Default)]
pub struct BatchWorkspace {
    x: Vec<f32>,
}

impl BatchWorkspace {
    /// Gathers `windows` (each (C, T)) into one (B, C, T) buffer.
    pub fn gather(&mut self, windows: &[&[f32]]) -> &[f32] {
        self.x.clear();
        for w in windows {
            self.x.extend_from_slice(w);
        }
        &self.x
    }

    /// Computes the mean loss over the batch and writes d(mean loss)/d params into `grads`
    /// (overwritten). `windows[i]` is (C, T) in millivolts, `targets[i]` its class or
    /// regression values. `dropout_seeds`: one seed per sample for its dropout masks (`None` =
    /// no dropout, as in the parity fixtures).
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
        let x = self.gather(windows);
        model.train_batch(params, x, b, targets, dropout_seeds, grads)
    }
}
