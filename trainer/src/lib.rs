//! # qssm-trainer — offline training of the model zoo
//!
//! Data flows EDF → [`data`] (EEGMMIDB epochs, subject split) → [`models`] (forward/backward on
//! the CPU kernels, parameters in [`params`]) → [`fit`] (training loop, [`optim`],
//! [`metrics`]) → [`export`] (model file); [`convert`] re-stores a model file in f16;
//! [`replay`] runs a recorded EDF+ session through the inference engine (`qssm stream`);
//! [`sweep`] plans and runs grids of fits (here or as SLURM job arrays) and [`report`]
//! aggregates their results into the study's table and figures.
pub mod cli;
pub mod convert;
pub mod data;
pub mod device;
pub mod export;
pub mod fit;
pub mod live;
pub mod metrics;
pub mod models;
pub mod onnx;
pub mod optim;
pub mod params;
pub mod replay;
pub mod report;
pub mod sweep;
