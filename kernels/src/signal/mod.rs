//! Causal signal conditioning of a continuous recording before a model sees it: IIR filters as
//! cascades of second-order sections ([`Sos`], run sample by sample with a fixed state, so the
//! trainer's data path and the engine's `push` run the same code) and their designs
//! ([`design`]: Butterworth high-/low-pass and notch), and the per-channel normalisation with
//! statistics fixed at training time ([`zscore`]). `no_std`, no allocation when running.
pub mod design;
mod sos;
pub mod zscore;

pub use sos::{Section, Sos, SosError, MAX_SECTIONS};
