//! Training: one optimiser step over a mini-batch ([`step`]), evaluation ([`evaluate`]) and the
//! reference's training loop ([`loop_`]: AdamW, cosine LR per epoch, clip 1.0, early stopping
//! on validation accuracy, best-validation weights kept).
//!
//! Determinism: samples of a batch run in parallel (rayon), each into its own gradient buffer;
//! the buffers are then summed in sample order, so a run with the same seed gives bit-identical
//! weights whatever the number of threads.
pub mod evaluate;
pub mod loop_;
pub mod step;

pub use evaluate::{evaluate, Evaluation};
pub use loop_::{fit, EpochRecord, FitConfig, FitOutcome};
pub use step::{BatchWorkspace, StepOutput};

/// A labelled set of windows: `x` (n, C, T) channel-major, millivolts; `y` (n) class indices.
#[derive(Clone, Copy, Debug)]
pub struct Windows<'a> {
    /// (n, C, T) row-major
    pub x: &'a [f32],
    /// (n)
    pub y: &'a [u8],
    /// C·T, the length of one window
    pub window_len: usize,
}

impl<'a> Windows<'a> {
    /// Number of windows.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    /// Window `i` (C, T).
    pub fn window(&self, i: usize) -> &'a [f32] {
        &self.x[i * self.window_len..(i + 1) * self.window_len]
    }
}
