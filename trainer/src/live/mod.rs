//! Live EEG through the inference engine: a stream of timestamped samples (an LSL inlet with
//! feature `lsl`, or a recording played as if live) checked against the model card, mapped to
//! its channels and unit, resampled causally when its rate differs ([`resample`]), pushed into
//! the engine as it arrives, and the predictions published (an LSL outlet) — `qssm stream
//! --lsl-in … --lsl-out …` and `qssm replay --lsl-out …`.
//!
//! * [`layout`]: what a stream says about itself, checked against the card before any sample.
//! * [`session`]: the loop (engine stream or sliding window, sinks, latency, stopping).
//! * [`source`]: a recording as a live source (replay, tests).
//! * [`resample`]: causal rational resampling.
//! * `lsl` (feature `lsl`): the LSL inlet, outlets and stream descriptions.
pub mod layout;
#[cfg(feature = "lsl")]
pub mod lsl;
pub mod resample;
pub mod session;
pub mod source;

pub use layout::{InputMap, StreamLayout};
pub use resample::{CausalResampler, RateError};
pub use session::{
    run, session_hop, LiveEvent, LiveOptions, LivePrediction, LiveReport, NoSink, PredictionSink,
    Pulled, SampleSource, StopReason,
};
pub use source::RecordingSource;

use qssm_engine::EngineError;

/// Errors of a live session. Each message is one line and names the stream.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The card's unit is not µV / mV / V.
    #[error("the model card's input unit '{0}' is not µV, mV or V")]
    UnknownCardUnit(String),
    /// The stream has no channels.
    #[error("stream '{stream}' has no channels")]
    NoChannels {
        /// stream name
        stream: String,
    },
    /// The stream has no regular rate.
    #[error("stream '{stream}' has no regular sampling rate (nominal rate {sfreq} Hz); the model needs a regular stream (it runs at {model} Hz)")]
    IrregularRate {
        /// stream name
        stream: String,
        /// its nominal rate
        sfreq: f64,
        /// the model's rate
        model: f64,
    },
    /// The stream does not label its channels.
    #[error("stream '{stream}' does not label its {channels} channels (desc/channels/channel/label), so the model's {needed} channels cannot be matched by name")]
    NoLabels {
        /// stream name
        stream: String,
        /// channels in the stream
        channels: usize,
        /// channels the model needs
        needed: usize,
    },
    /// Card channels the stream lacks.
    #[error(
        "stream '{stream}' lacks the model's channel(s) {missing:?} (it has {available} channels)"
    )]
    MissingChannels {
        /// stream name
        stream: String,
        /// card channels without a match, card order
        missing: Vec<String>,
        /// channels in the stream
        available: usize,
    },
    /// A channel the model uses has no unit in the description.
    #[error("stream '{stream}' gives no unit for channel '{channel}' (desc/channels/channel/unit); declare the stream's unit with --unit uV|mV|V")]
    NoUnit {
        /// stream name
        stream: String,
        /// channel label
        channel: String,
    },
    /// A channel the model uses has a unit that is not a voltage.
    #[error("stream '{stream}' gives channel '{channel}' the unit '{unit}', not µV, mV or V (declare the unit with --unit if the description is wrong)")]
    BadUnit {
        /// stream name
        stream: String,
        /// channel label
        channel: String,
        /// the unit as written
        unit: String,
    },
    /// The stream's rate cannot be resampled to the model's.
    #[error("stream '{stream}': {source}")]
    Rate {
        /// stream name
        stream: String,
        /// why
        #[source]
        source: RateError,
    },
    /// A hop of zero samples.
    #[error("the hop must be at least 1 sample")]
    ZeroHop,
    /// The engine refused the model, a hop or a sample.
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    /// No stream matched the query in time.
    #[error("no LSL stream matching '{query}' found within {timeout_s} s")]
    NotFound {
        /// the query (a name or an LSL predicate)
        query: String,
        /// how long the resolver waited, s
        timeout_s: f64,
    },
    /// The stream's samples are not numbers.
    #[error("stream '{stream}' has channel format '{format}'; EEG needs numeric samples")]
    ChannelFormat {
        /// stream name
        stream: String,
        /// the format
        format: String,
    },
    /// An LSL call failed.
    #[error("LSL: {0}")]
    Lsl(String),
    /// This build has no LSL support.
    #[error("this qssm was built without LSL support: rebuild with `cargo build --release -p qssm-trainer --features lsl` (see the README)")]
    NoLsl,
}
