//! The engine's typed errors ([`EngineError`]). Every message is one line; the C ABI maps each
//! variant to an error code. The variants a [`crate::Stream`] returns while streaming
//! ([`EngineError::WrongChannelCount`], [`EngineError::NonFiniteInput`],
//! [`EngineError::NonFiniteOutput`], [`EngineError::UnknownInputUnit`]) hold no heap data, so
//! failing a push does not allocate either.
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
    /// [`crate::supported_models`]): not in the registry, or a file that holds no inference
    /// model (Quantum-Train's generator).
    #[error(
        "unsupported model '{id}' (the engine runs the registry's inference models, `trainer \
         models`; a Quantum-Train file runs after `trainer export --format generated-cnn`)"
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
    /// The window (or a streamed sample) holds NaN or ±∞ (first one reported, channel-major
    /// order). A stream's state is left unchanged.
    #[error("input is not finite at channel {channel}, sample {sample}")]
    NonFiniteInput {
        /// channel index (0-based, card order)
        channel: usize,
        /// sample index within the window (0-based); for a stream, the index the sample would
        /// have had (`samples_seen` before the push, saturated to `usize::MAX`)
        sample: usize,
    },
    /// The logits came out NaN or ±∞ (finite input and weights, but an overflow inside the
    /// model, e.g. an input far outside the training range).
    #[error("model output is not finite (logit {index}); input far outside the training range?")]
    NonFiniteOutput {
        /// index of the first non-finite logit
        index: usize,
    },
    /// Streaming was asked of a model that cannot stream: its card says `causal = false`
    /// (e.g. the reference 1b), or the engine has no recurrent mode for the architecture
    /// (e.g. 1c, hg).
    #[error("model {id} cannot stream: {reason}")]
    NotCausal {
        /// the card's `model_id`
        id: String,
        /// why
        reason: &'static str,
    },
    /// A streamed sample does not hold one value per channel.
    #[error("sample has {found} values, expected {expected} (one per channel)")]
    WrongChannelCount {
        /// C from the card
        expected: usize,
        /// length given
        found: usize,
    },
    /// A caller-provided buffer (stream state, scratch, snapshot) is too short.
    #[error("{what} buffer holds {found} floats, needs {needed}")]
    BufferTooSmall {
        /// which buffer (`state`, `scratch`, `snapshot`)
        what: &'static str,
        /// floats needed
        needed: usize,
        /// floats given
        found: usize,
    },
    /// A snapshot passed to [`crate::Stream::restore`] is not a state of this model's stream
    /// (wrong layout tag or length, corrupt sample count, non-finite values). The stream's
    /// state is left unchanged.
    #[error("invalid stream snapshot: {what}")]
    InvalidSnapshot {
        /// what is wrong
        what: &'static str,
    },
    /// [`crate::Stream::push_in`] cannot convert units: the card's `input.unit` is not one of
    /// µV / mV / V (see [`crate::Unit::parse`]). Push values in the card's unit with
    /// [`crate::Stream::push`] instead.
    #[error("the model card's input unit is not µV, mV or V: push samples in the card's unit")]
    UnknownInputUnit,
    /// The stream's hop (samples between predictions) is 0 or not a multiple of the model's
    /// step size.
    #[error("hop {hop} must be a positive multiple of the model's step of {chunk} samples")]
    InvalidHop {
        /// hop asked for
        hop: usize,
        /// the model's step size (samples per recurrent step: 1 for 3b, the chunk size for
        /// causal 1b and mg)
        chunk: usize,
    },
}
