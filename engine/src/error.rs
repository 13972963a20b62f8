//! The engine's typed errors ([`EngineError`]). Every message is one line; the C ABI maps each
//! variant to an error code.
use alloc::string::String;
use qssm_formats::model_file::ModelFileError;

/// Everything that can go wrong loading a model or classifying a window. Loading never
/// panics on bad bytes, and classification never panics on bad input: each problem is one of
/// these variants.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model file itself is unreadable or incomplete: not safetensors (truncated,
    /// garbage), not a qssm model file, unparsable card, unsupported dtype, and — from tensor
    /// validation — [`ModelFileError::MissingTensor`] / [`ModelFileError::ShapeMismatch`]
    /// for a tensor the architecture needs (shape computed from the card's hyperparameters).
    #[error("model file: {0}")]
    File(#[from] ModelFileError),
    /// The card's `model_id` is not an architecture this engine runs (see
    /// [`crate::SUPPORTED_MODELS`]).
    #[error(
        "unsupported model '{id}' (this engine runs 1b QuantumMambaSSM and 3b TrueClassicalMamba)"
    )]
    UnsupportedModel {
        /// the card's `model_id`
        id: String,
    },
    /// The card contradicts itself or the tensors' storage (e.g. `hyperparameters.n_times`
    /// ≠ `input.n_times`, channel list of the wrong length, circuit layout ≠ hyperparameters,
    /// a zero or out-of-range dimension, card dtype ≠ tensor dtype).
    #[error("inconsistent model card: {what}")]
    Mismatch {
        /// what disagrees, with both values
        what: String,
    },
    /// The file holds a tensor the architecture does not have (a file for another variant).
    #[error("model file has tensor '{name}', which model {model} does not have")]
    UnexpectedTensor {
        /// tensor name
        name: String,
        /// model id
        model: String,
    },
    /// A weight is NaN or ±∞.
    #[error("tensor '{name}' holds a non-finite value at index {index}")]
    NonFiniteWeight {
        /// tensor name
        name: String,
        /// flat (row-major) index of the first non-finite element
        index: usize,
    },
    /// The window does not hold C·T values.
    #[error("input window has {found} values, expected {expected} (C·T, channel-major)")]
    WrongInputLength {
        /// C·T from the card
        expected: usize,
        /// length given
        found: usize,
    },
    /// The window holds NaN or ±∞ (first one reported, channel-major order).
    #[error("input window is not finite at channel {channel}, sample {sample}")]
    NonFiniteInput {
        /// channel index (0-based, card order)
        channel: usize,
        /// sample index within the window (0-based)
        sample: usize,
    },
    /// The logits came out NaN or ±∞ (finite input and weights, but an overflow inside the
    /// model, e.g. an input far outside the training range).
    #[error("model output is not finite (logit {index}); input far outside the training range?")]
    NonFiniteOutput {
        /// index of the first non-finite logit
        index: usize,
    },
}
