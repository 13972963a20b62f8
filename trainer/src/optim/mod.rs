//! Optimisers, learning-rate schedules and gradient clipping, reproducing PyTorch.
//!
//! Everything works on the trainer's flat parameter layout ([`crate::params`]): one `f32`
//! parameter buffer, a gradient buffer of the same length, and a list of the ranges that
//! receive a gradient (`ParamLayout::trainable_ranges`).
//!
//! * [`AdamW`] — `torch.optim.AdamW` (decoupled weight decay), the optimiser of the EEG
//!   ablation and synthetic recipes (spec circuits-and-groups-1-3 §7, gated-and-protocols §2.4,
//!   §3.4): lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-4, one parameter group.
//!   Ranges outside `active` are skipped entirely, as PyTorch skips parameters whose `.grad`
//!   is `None` (no decay, no moment update, no step count).
//! * [`Adam`] — `torch.optim.Adam` (L2 weight decay added to the gradient), the optimiser of the
//!   gated recipe (gated-and-protocols §1.13, no weight decay).
//! * [`clip_grad_norm`] — `torch.nn.utils.clip_grad_norm_` over the whole gradient buffer.
//! * [`CosineAnnealingLR`] — `torch.optim.lr_scheduler.CosineAnnealingLR`, stepped once per
//!   epoch (ablation: `T_max` = 50, `eta_min` = 0; synthetic: `T_max` = 100).
//! * [`ReduceLROnPlateau`] — `torch.optim.lr_scheduler.ReduceLROnPlateau` (gated recipe: mode
//!   max on validation accuracy, factor 0.5, patience 5, threshold 1e-4 relative).
//!
//! A training step in the reference order (`loss.backward()`, `clip_grad_norm_`,
//! `optimizer.step()`; the schedule is stepped after validation at the end of the epoch):
//!
//! ```
//! use qssm_trainer::optim::{clip_grad_norm, AdamW, AdamWConfig, CosineAnnealingLR};
//! let mut params = vec![0.5_f32, -0.25, 1.0];
//! let mut grads = vec![3.0_f32, 4.0, 0.0];
//! let mut opt = AdamW::new(params.len(), AdamWConfig::reference());
//! let mut sched = CosineAnnealingLR::new(opt.config().lr, 50, 0.0);
//! let norm = clip_grad_norm(&mut grads, 1.0);
//! assert!((norm - 5.0).abs() < 1e-6);
//! opt.step(&mut params, &grads, &[0..3], sched.lr()).unwrap();
//! let _next_epoch_lr = sched.step();
//! ```
//!
//! Learning rates and hyperparameters are `f64` because PyTorch keeps them as Python floats and
//! does the scalar arithmetic (bias corrections, `1 − lr·wd`, schedules) in double precision
//! before the element-wise `f32` kernels; this module does the same.
mod adamw;
mod clip;
mod groups;
mod schedule;

pub use adamw::{bias_scalars, ranges_from_mask, Adam, AdamConfig, AdamState, AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, grad_norm};
pub use groups::{intersect, ParamGroup};
pub use schedule::{
    CosineAnnealingLR, PlateauConfig, PlateauMode, ReduceLROnPlateau, ThresholdMode,
};

/// Errors of the optimisers (shape and hyperparameter checks).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// A buffer does not have the length of the optimiser state.
    #[error("{what} has {got} elements, expected {expected}")]
    LengthMismatch {
        /// Which buffer (`params`, `grads`, `state.m`, ...).
        what: &'static str,
        /// Length of the optimiser state.
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// An active range is out of bounds, reversed, or not after the previous one (ranges must be
    /// ascending and disjoint so that no element is stepped twice).
    #[error("active range {start}..{end} is out of bounds (n = {len}), reversed or overlaps/precedes the previous range")]
    BadRange {
        /// Range start.
        start: usize,
        /// Range end (exclusive).
        end: usize,
        /// Number of parameters.
        len: usize,
    },
    /// A hyperparameter outside the domain PyTorch accepts (`lr ≥ 0`, `eps ≥ 0`,
    /// `0 ≤ β < 1`, `weight_decay ≥ 0`, all finite).
    #[error("invalid hyperparameter {name} = {value}")]
    InvalidHyperparameter {
        /// Name of the hyperparameter.
        name: &'static str,
        /// Offending value.
        value: f64,
    },
}
