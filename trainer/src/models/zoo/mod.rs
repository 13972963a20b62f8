//! The models of the reference study, each composed of [`super::blocks`].
mod quantum_mamba_ssm;
mod true_classical_mamba;

pub use quantum_mamba_ssm::{QuantumMambaSsm, CHUNK_SIZE as CHUNK_SIZE_1B};
pub use true_classical_mamba::TrueClassicalMamba;
