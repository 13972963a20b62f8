//! The blocks and the [`Net`] interface every model is written against (`qssm_models::nn`,
//! shared with the engine), plus what the trainer adds to run a [`Net`]: [`Batched`] (batches
//! from the host, data-parallel shards on the CPU) and device training sessions ([`session`]).
pub use qssm_models::nn::*;

pub mod batched;
pub mod session;

pub use batched::{Batched, StepTargets, HOST_SHARD};
