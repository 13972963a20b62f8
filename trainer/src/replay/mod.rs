//! Replaying a recorded EEG session through the **inference engine** as an amplifier would
//! deliver it (`qssm stream`): an EDF+ file ([`Recording`]: channels in the card's order,
//! resampled to the model's rate) is pushed sample by sample into an engine
//! [`Stream`](qssm_engine::Stream) for causal models ([`Mode::Streamed`]), with a prediction
//! every hop and one per trial; models the engine cannot stream are classified trial by trial
//! with [`Model::classify_window`] instead ([`Mode::Windowed`]).
//!
//! Trials follow the protocol of the training data (spec gated-and-protocols §2.1, as
//! [`crate::data::eegmmidb`]): for every T1/T2 cue at onset sample o, the trial window is the
//! T samples from o + round(1.0 s · sfreq) (T = the model's `n_times`: 125 / 249 / 497 at
//! 40 / 80 / 160 Hz, i.e. 1.0 … 4.1 s after the cue, both ends included). In streamed mode the
//! stream is **reset at the window start** and the trial prediction is read after its T-th
//! sample — prefix-exact, so it equals `classify_window` on that window. A window that leaves
//! the recording (or the replayed part of it) is skipped, as the training loader drops it; a
//! trial still open when the next one starts is skipped too (one stream, one trial at a time).
//!
//! Units: samples are converted from the file's volts to the replay unit ([`ReplayOptions::unit`],
//! default the card's) in f64, rounded to f32, and handed to the engine in that unit
//! ([`Stream::push_in`](qssm_engine::Stream::push_in) scales them to the card's unit; with the
//! card's own unit the values are bit-identical to the training loader's windows).
//!
//! Timing: every `push` (streamed) or `classify_window` (windowed) call is timed
//! ([`Latency`]); with [`ReplayOptions::realtime`] sample i is pushed no earlier than i / sfreq
//! seconds after the start (windowed: a trial is classified when its last sample would have
//! arrived).
mod channels;
mod latency;
mod recording;
mod streamed;
mod windowed;

pub use channels::pick_channels;
pub use latency::Latency;
pub use recording::{Cue, Recording};
pub use streamed::open_stream;

use crate::data::resample::round_half_even;
use qssm_engine::{EngineError, Model, Unit};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Start of a trial window after its cue, seconds (reference `tmin`).
pub const TMIN_S: f64 = 1.0;

/// Default spacing of hop predictions, seconds (rounded up to the model's step).
pub const DEFAULT_HOP_S: f64 = 0.25;

/// Errors of a replay. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The EDF file cannot be read or its picked signals cannot be converted to volts.
    #[error("{path}: {source}")]
    Edf {
        /// file
        path: PathBuf,
        /// reader error
        #[source]
        source: qssm_formats::edf::EdfError,
    },
    /// The file lacks channels the model needs.
    #[error("{path}: no signal for the model's channel(s) {missing:?} (the file has {available} EEG signals)")]
    MissingChannels {
        /// file
        path: PathBuf,
        /// card channel names without a matching EDF signal, in card order
        missing: Vec<String>,
        /// number of ordinary (non-annotation) signals in the file
        available: usize,
    },
    /// A sampling rate is not finite and positive.
    #[error("the {what}'s sampling rate {sfreq} Hz is not finite and positive")]
    BadRate {
        /// `model` or `recording`
        what: &'static str,
        /// the rate
        sfreq: f64,
    },
    /// The recording holds no samples.
    #[error("{0}: the recording holds no samples")]
    Empty(PathBuf),
    /// The recording cannot be resampled to the model's rate (an absurdly long FFT).
    #[error("{path}: {source}")]
    Resample {
        /// the recording
        path: PathBuf,
        /// the plan that was refused
        source: crate::data::resample::PlanError,
    },
    /// A sample is NaN or ±∞ after resampling.
    #[error("{path}: non-finite sample in channel {channel} at sample {sample}")]
    NonFinite {
        /// file
        path: PathBuf,
        /// channel index (card order)
        channel: usize,
        /// sample index at the replay rate
        sample: usize,
    },
    /// The card's input unit is not µV / mV / V, so volts cannot be converted to it.
    #[error("the model card's input unit '{0}' is not µV, mV or V")]
    UnknownCardUnit(String),
    /// The engine refused a model, stream or input.
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
}

/// How a replay runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayOptions {
    /// unit of the values handed to the engine (default: the card's `input.unit`)
    pub unit: Option<Unit>,
    /// samples between hop predictions (streamed mode; must be a positive multiple of the
    /// model's step). Default: [`DEFAULT_HOP_S`] · sfreq rounded up to the model's step.
    pub hop: Option<usize>,
    /// pace the replay at the recording's rate (wall clock) instead of as fast as possible
    pub realtime: bool,
    /// replay only the first this-many seconds of the recording
    pub duration_s: Option<f64>,
}

/// Streamed or windowed.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// sample by sample through an engine `Stream` (causal models)
    Streamed {
        /// samples between hop predictions
        hop: usize,
    },
    /// one `classify_window` per trial (models the engine cannot stream)
    Windowed {
        /// why the model cannot stream (the engine's error message)
        reason: String,
    },
}

/// A prediction of the stream at a hop boundary.
#[derive(Clone, Debug, PartialEq)]
pub struct HopPrediction {
    /// index of the last sample pushed (replay rate); its time is (sample + 1) / sfreq
    pub sample: usize,
    /// samples the prediction covers (since the last reset)
    pub samples_seen: u64,
    /// predicted class
    pub class: usize,
    /// softmax probabilities (K)
    pub probabilities: Vec<f32>,
    /// the trial whose window is being streamed, if any (index into the recording's cues)
    pub trial: Option<usize>,
}

/// The prediction for one trial window.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialResult {
    /// index of the cue in [`Recording::cues`]
    pub cue_index: usize,
    /// the cue
    pub cue: Cue,
    /// first sample of the window (replay rate)
    pub start: usize,
    /// T: samples in the window
    pub len: usize,
    /// predicted class
    pub class: usize,
    /// logits (K)
    pub logits: Vec<f32>,
    /// softmax probabilities (K)
    pub probabilities: Vec<f32>,
}

impl TrialResult {
    /// Whether the prediction matches the cue's label.
    pub fn correct(&self) -> bool {
        self.class == self.cue.label
    }
}

/// Something that happened during a replay, as it happens (for printing).
#[derive(Clone, Copy, Debug)]
pub enum ReplayEvent<'a> {
    /// a hop prediction (streamed mode)
    Hop(&'a HopPrediction),
    /// a trial window classified
    Trial(&'a TrialResult),
    /// a cue whose window was not classified
    Skipped {
        /// index of the cue in [`Recording::cues`]
        cue_index: usize,
        /// the cue
        cue: &'a Cue,
        /// why
        reason: &'static str,
    },
}

/// The outcome of a replay.
#[derive(Clone, Debug)]
pub struct ReplayReport {
    /// streamed or windowed
    pub mode: Mode,
    /// unit the samples were handed to the engine in
    pub unit: Unit,
    /// samples replayed per channel
    pub samples: usize,
    /// hop predictions produced
    pub hops: usize,
    /// classified trials, in time order
    pub trials: Vec<TrialResult>,
    /// cues whose window was not classified
    pub skipped: usize,
    /// durations of `Stream::push` (streamed) or `classify_window` (windowed) calls
    pub latency: Latency,
    /// wall time of the replay, seconds
    pub wall_s: f64,
}

impl ReplayReport {
    /// Fraction of classified trials predicted correctly (`None` without trials).
    pub fn accuracy(&self) -> Option<f64> {
        let n = self.trials.len();
        (n > 0).then(|| self.trials.iter().filter(|t| t.correct()).count() as f64 / n as f64)
    }
}

/// Values per volt of `unit` (1e6, 1e3, 1), exact powers of ten as the training loader's
/// `× 1e3`.
pub fn per_volt(unit: Unit) -> f64 {
    match unit {
        Unit::Microvolt => 1e6,
        Unit::Millivolt => 1e3,
        Unit::Volt => 1.0,
    }
}

/// The trial windows of `rec` for a model of T = `len` samples: (cue index, start) for each
/// cue whose window fits in the first `n` samples, or the reason it does not.
fn trial_windows(
    rec: &Recording,
    len: usize,
    n: usize,
) -> Vec<(usize, Result<usize, &'static str>)> {
    let w0 = round_half_even(TMIN_S * rec.sfreq) as i64;
    rec.cues
        .iter()
        .enumerate()
        .map(|(i, cue)| {
            let start = cue.onset + w0;
            let fits = start >= 0 && (start as u64).saturating_add(len as u64) <= n as u64;
            let r = if !fits {
                Err("window leaves the replayed recording")
            } else {
                Ok(start as usize)
            };
            (i, r)
        })
        .collect()
}

/// What both modes need.
struct Context<'a> {
    model: &'a Model,
    rec: &'a Recording,
    /// unit of the values handed to the engine
    unit: Unit,
    /// samples to replay (≤ N)
    n: usize,
    realtime: bool,
}

/// Sleeps until `offset_s` seconds after `t0` (no-op if already past).
fn pace(t0: Instant, offset_s: f64) {
    let due = t0 + Duration::from_secs_f64(offset_s.max(0.0));
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
}

/// Replays `rec` through `model` (see the [module docs](self)), reporting hops, trials and
/// skipped cues to `on_event` as they happen.
///
/// Errors: [`ReplayError::UnknownCardUnit`] (the card's unit is not a voltage unit),
/// [`ReplayError::Engine`] (e.g. [`EngineError::InvalidHop`], a channel count that differs
/// from the card's, non-finite model output).
pub fn replay(
    model: &Model,
    rec: &Recording,
    opts: &ReplayOptions,
    on_event: &mut dyn FnMut(ReplayEvent<'_>),
) -> Result<ReplayReport, ReplayError> {
    let card_unit = model
        .unit()
        .ok_or_else(|| ReplayError::UnknownCardUnit(model.input_unit().to_string()))?;
    let unit = opts.unit.unwrap_or(card_unit);
    if rec.n_channels() != model.n_channels() {
        return Err(EngineError::WrongChannelCount {
            expected: model.n_channels(),
            found: rec.n_channels(),
        }
        .into());
    }
    let n = match opts.duration_s {
        Some(s) if s.is_finite() && s >= 0.0 => rec.n_times.min((s * rec.sfreq).floor() as usize),
        _ => rec.n_times,
    };
    let trials = trial_windows(rec, model.n_times(), n);
    let ctx = Context {
        model,
        rec,
        unit,
        n,
        realtime: opts.realtime,
    };
    match model.stream_state_len() {
        Ok(_) => streamed::run(&ctx, &trials, opts.hop, on_event),
        Err(e) => windowed::run(&ctx, &trials, card_unit, e.to_string(), on_event),
    }
}
