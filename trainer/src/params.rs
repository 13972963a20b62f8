//! Parameter storage (one flat `f32` buffer with named views): `qssm_models::params`, shared
//! with the engine.
pub use qssm_models::params::*;
