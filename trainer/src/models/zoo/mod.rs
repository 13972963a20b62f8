//! The models of the reference study, each composed of [`super::blocks`].
mod classical_transformer;
mod quantum_hydra_gated;
mod quantum_hydra_ssm;
mod quantum_mamba_gated;
mod quantum_mamba_ssm;
mod quantum_transformer;
mod true_classical_hydra;
mod true_classical_mamba;

pub use classical_transformer::ClassicalTransformer;
pub use quantum_hydra_gated::QuantumHydraGated;
pub use quantum_hydra_ssm::{QuantumHydraSsm, CHUNK_SIZE as CHUNK_SIZE_1C};
pub use quantum_mamba_gated::QuantumMambaGated;
pub use quantum_mamba_ssm::{QuantumMambaSsm, CHUNK_SIZE as CHUNK_SIZE_1B};
pub use quantum_transformer::{QuantumTransformer, CHUNK_SIZE as CHUNK_SIZE_1A};
pub use true_classical_hydra::TrueClassicalHydra;
pub use true_classical_mamba::TrueClassicalMamba;
