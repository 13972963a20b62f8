//! # qssm-trainer — offline training of the model zoo
//!
//! Data flows EDF → [`data`] (EEGMMIDB epochs, subject split) → [`models`] (forward/backward on
//! the CPU kernels, parameters in [`params`]) → [`fit`] (training loop, [`optim`],
//! [`metrics`]) → [`export`] (model file).
pub mod cli;
pub mod data;
pub mod export;
pub mod fit;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod params;
