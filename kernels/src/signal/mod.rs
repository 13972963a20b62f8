//! Causal signal conditioning of a continuous recording before a model sees it: IIR filters as
//! cascades of second-order sections ([`Sos`], run sample by sample with a fixed state, so the
//! trainer's data path and the engine's `push` run the same code) and their designs
//! ([`design`]: Butterworth high-/low-pass and notch). `no_std`, no allocation when running.
pub mod design;
mod sos;

pub use sos::{Section, Sos, SosError, MAX_SECTIONS};
