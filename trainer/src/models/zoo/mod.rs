//! The models of the reference study, each composed of the backend-generic blocks of [`super::nn`].
mod classical_quantum_attention;
mod classical_transformer;
mod quantum_e2e;
mod quantum_e2e_superposition;
mod quantum_hydra_gated;
mod quantum_hydra_ssm;
mod quantum_hydra_superposition;
mod quantum_mamba_gated;
mod quantum_mamba_ssm;
mod quantum_mixing_ssm;
mod quantum_transformer;
mod true_classical_hydra;
mod true_classical_mamba;

pub use classical_quantum_attention::{ClassicalQuantumAttention, CHUNK_SIZE as CHUNK_SIZE_2A};
pub use classical_transformer::ClassicalTransformer;
pub use quantum_e2e::{E2eVariant, QuantumE2e, CHUNK_SIZE as CHUNK_SIZE_4X};
pub use quantum_e2e_superposition::QuantumE2eSuperposition;
pub use quantum_hydra_gated::QuantumHydraGated;
pub use quantum_hydra_ssm::{QuantumHydraSsm, CHUNK_SIZE as CHUNK_SIZE_1C};
pub use quantum_hydra_superposition::{QuantumHydraSuperposition, CHUNK_SIZE as CHUNK_SIZE_2D};
pub use quantum_mamba_gated::QuantumMambaGated;
pub use quantum_mamba_ssm::{QuantumMambaSsm, CHUNK_SIZE as CHUNK_SIZE_1B};
pub use quantum_mixing_ssm::{QuantumMixingSsm, CHUNK_SIZE as CHUNK_SIZE_2BC};
pub use quantum_transformer::{QuantumTransformer, CHUNK_SIZE as CHUNK_SIZE_1A};
pub use true_classical_hydra::TrueClassicalHydra;
pub use true_classical_mamba::TrueClassicalMamba;
