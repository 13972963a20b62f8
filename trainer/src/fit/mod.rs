//! Training: one optimiser step over a mini-batch ([`step`]), evaluation ([`evaluate()`]) and the
//! reference's training loop ([`loop_`]: AdamW, cosine LR per epoch, clip 1.0, early stopping
//! on validation accuracy, best-validation weights kept).
//!
//! Determinism: a batch runs through the model's batched passes, whose ops reduce over the
//! batch in a fixed order (see `qssm_kernels::backend`), so a run with the same seed gives
//! bit-identical weights whatever the number of threads.
pub mod checkpoint;
pub mod evaluate;
pub mod health;
pub mod loop_;
pub mod step;

use crate::models::Target;

pub use crate::models::StepOutput;
pub use checkpoint::{Checkpoint, CheckpointError, Checkpointing};
pub use evaluate::{evaluate, Evaluation, Metrics};
pub use health::OnNonFinite;
pub use loop_::{fit, fit_with, EpochRecord, FitConfig, FitOutcome, Recipe};
pub use step::BatchWorkspace;

/// Labels of a set of windows.
#[derive(Clone, Copy, Debug)]
pub enum Labels<'a> {
    /// class indices (n): cross-entropy, accuracy/AUC/F1, selection on validation accuracy
    Classes(&'a [u8]),
    /// regression targets (n, dim): MSE, R², selection on validation MSE
    Values {
        /// (n, dim) row-major
        v: &'a [f32],
        /// outputs per window
        dim: usize,
    },
}

/// A labelled set of windows: `x` (n, C, T) channel-major (EEG: millivolts).
#[derive(Clone, Copy, Debug)]
pub struct Windows<'a> {
    /// (n, C, T) row-major
    pub x: &'a [f32],
    /// labels of the n windows
    pub labels: Labels<'a>,
    /// C·T, the length of one window
    pub window_len: usize,
}

impl<'a> Windows<'a> {
    /// Number of windows.
    pub fn len(&self) -> usize {
        match self.labels {
            Labels::Classes(y) => y.len(),
            Labels::Values { v, dim } => v.len() / dim.max(1),
        }
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Window `i` (C, T).
    pub fn window(&self, i: usize) -> &'a [f32] {
        &self.x[i * self.window_len..(i + 1) * self.window_len]
    }
    /// Target of window `i`.
    pub fn target(&self, i: usize) -> Target<'a> {
        match self.labels {
            Labels::Classes(y) => Target::Class(y[i] as usize),
            Labels::Values { v, dim } => Target::Values(&v[i * dim..(i + 1) * dim]),
        }
    }
}
