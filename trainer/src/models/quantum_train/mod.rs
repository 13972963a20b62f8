//! Quantum-Train, seed variant "qt-seed" (spec hqc-mamba-and-quantum-train §5.1–5.2): a
//! parameter-only 13-qubit circuit ([`qssm_kernels::circuit::entangling::RyChain`], 8 blocks)
//! gives 2^13 basis probabilities p; a mapping MLP turns [the 13 bits of i, p_i] into weight i
//! of a classical target CNN ([`generator`]); the CNN then classifies 28×28 images with those
//! weights ([`target_cnn`]). Only the circuit angles and the MLP are trained; inference is
//! classical.
//!
//! What exists today: the functional forward path of a trained checkpoint (weight generation
//! and the CNN's eval forward), checked against the spec's golden test G3 (the published
//! epoch-5 checkpoint on the MNIST test set, `trainer/tests/quantum_train_g3.rs`). Training
//! (the backward through the CNN, the mapping MLP and the circuit) is not written yet.
pub mod generator;
pub mod target_cnn;

pub use generator::{circuit_probs, generate_theta, MappingMlp, QT_SEED};
pub use target_cnn::{TargetCnn, N_WEIGHTS};
