//! # qssm-models — every block and model written once
//!
//! The blocks ([`nn`]: Mamba, Hydra, selective SSMs, transformer, chunk processors, quantum
//! projections and branches, gated recurrence, heads) and the models of the reference study
//! ([`zoo`]), each a composition of blocks generic over the backend interface: forward passes
//! and streaming steps over its inference half ([`qssm_kernels::backend::Infer`]), backward
//! passes over the training backend ([`qssm_kernels::backend::Backend`]), with its parameters named as the reference's PyTorch
//! `state_dict` ([`params::ParamLayout`]). The trainer trains them on the CPU or a GPU; the
//! engine runs the same descriptions for inference. A causal model's streaming form
//! ([`nn::StepNet`]) sits next to its window forward.
//!
//! Input windows are (C, T) channel-major in **millivolts** (the reference's layout and scale),
//! batches (B, C, T); outputs are `n_classes` logits (or regression values) per window.
//!
//! The crate is `no_std` (with `alloc`) so the engine can use it on a microcontroller; feature
//! `std` (default) makes the CPU backend parallel, feature `init` adds random initialisation.
#![cfg_attr(not(feature = "std"), no_std)]
extern crate alloc;

pub mod config_check;
pub mod nn;
pub mod params;
pub mod zoo;

mod prelude {
    //! What `std`'s prelude would give, from `alloc`.
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

use serde::{Deserialize, Serialize};

/// Circuit ansatz of the gated models (spec gated-and-protocols §1.2): the current code's
/// unified 5-angle ansatz, or the legacy 4-angle one behind the published gated numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnsatzKind {
    /// RX, RY, RZ per wire, forward and backward CRX rings (5·Q angles per layer)
    #[default]
    Unified5,
    /// RY, forward CRX ring, RY, backward CRX ring (4·Q angles per layer)
    Legacy4,
}

/// Hyperparameters shared by the zoo (names as in the reference's `create_model`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// C: input channels (64 EEG electrodes; 2 for the synthetic tasks)
    pub n_channels: usize,
    /// T: samples per window (125/249/497 at 40/80/160 Hz)
    pub n_times: usize,
    /// D: `d_model`
    pub d_model: usize,
    /// N: `d_state`
    pub d_state: usize,
    /// Q: qubits per circuit
    pub n_qubits: usize,
    /// number of model blocks and of circuit layers (the reference's `--n-layers`)
    pub n_layers: usize,
    /// the reference's `output_dim`: logits (classification) or regression outputs
    pub n_classes: usize,
    /// dropout probability in training
    pub dropout: f32,
    /// H: hidden size of the gated recurrence (gated models)
    pub hidden_dim: usize,
    /// chunk size of the gated recurrence (gated models; 8 in the gated EEG runs)
    pub chunk_size: usize,
    /// circuit ansatz of the gated models
    pub ansatz: AnsatzKind,
    /// causal variant (streamable models only): see the registry
    pub causal: bool,
}

impl ModelConfig {
    /// The configuration a model card records: its hyperparameters, its causal flag and the
    /// circuit layout's chunk size (the gated models' recurrence chunk). What the card does not
    /// record keeps [`Self::eeg`]'s value (the gated models' hidden size and ansatz: the engine
    /// reads them from the stored tensors and the layout's ansatz name).
    pub fn from_card(card: &qssm_formats::model_file::ModelCard) -> Self {
        let h = &card.hyperparameters;
        let mut c = Self::eeg(h.n_times);
        c.n_channels = h.n_channels;
        c.d_model = h.d_model;
        c.d_state = h.d_state;
        c.n_qubits = h.n_qubits;
        c.n_layers = h.n_layers;
        c.n_classes = h.n_classes;
        c.dropout = h.dropout;
        c.causal = card.causal;
        if let Some(circ) = &card.circuit {
            c.chunk_size = circ.chunk_size;
        }
        c
    }

    /// The EEG ablation configuration of the reference (spec §0) for a window of `n_times`.
    pub fn eeg(n_times: usize) -> Self {
        Self {
            n_channels: 64,
            n_times,
            d_model: 128,
            d_state: 16,
            n_qubits: 6,
            n_layers: 2,
            n_classes: 2,
            dropout: 0.1,
            hidden_dim: 64,
            chunk_size: 8,
            ansatz: AnsatzKind::Unified5,
            causal: false,
        }
    }
}
