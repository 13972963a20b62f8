//! The live loop ([`run`]): samples from a [`SampleSource`] (an LSL inlet, or anything that
//! delivers timestamped samples) go through the [`InputMap`] (card channels, card unit), the
//! causal resampler when the stream's rate is not the model's, and the engine: a
//! [`Stream`](qssm_engine::Stream) for causal models (one prediction per hop), or, for models
//! the engine cannot stream, a sliding window of the last T conditioned samples classified
//! with [`Model::classify_window`] every hop once T samples have arrived. Each prediction goes
//! to a [`PredictionSink`] (an LSL outlet) with the timestamp of the input sample that
//! completed it, and the latency from that timestamp to the prediction is recorded.
//!
//! The stream is never reset: a live stream has no trials (a marker stream would bring them),
//! so hop predictions cover everything since the start, as `qssm stream --edf … --continuous`.
//!
//! Stopping: after `max_samples` input samples, when the source ends, or when no sample
//! arrives for `timeout_s` seconds (a stream that stopped sending): every case ends cleanly
//! with the predictions so far ([`StopReason`]).
//!
//! Bad samples: a sample with a NaN/±∞ in a channel the model uses is refused as the engine
//! refuses it (nothing is pushed; the state is unchanged), counted and reported
//! ([`LiveEvent::Refused`]); the session goes on with the next sample.
use super::layout::{InputMap, StreamLayout};
use super::resample::CausalResampler;
use super::LiveError;
use crate::replay::{open_stream, Latency, DEFAULT_HOP_S};
use qssm_engine::{Model, Unit};
use std::time::{Duration, Instant};

/// What a source delivered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pulled {
    /// a sample, stamped with this time (seconds, the source's clock, [`SampleSource::clock`])
    Sample(f64),
    /// nothing within the timeout
    Timeout,
    /// the source has no more samples (its outlet is gone, or a finite source is exhausted)
    Ended,
}

/// A live source of timestamped samples.
pub trait SampleSource {
    /// Waits at most `timeout_s` seconds for the next sample and writes it into `buf` (the
    /// stream's channel count, in its order and units).
    fn pull(&mut self, buf: &mut [f32], timeout_s: f64) -> Result<Pulled, LiveError>;
    /// Now, on the clock of the timestamps (seconds).
    fn clock(&self) -> f64;
    /// Starts the flow of samples (an LSL inlet subscribes to its stream here), called once
    /// after every check, right before the first pull; nothing by default.
    fn start(&mut self, _timeout_s: f64) -> Result<(), LiveError> {
        Ok(())
    }
}

/// A consumer of predictions.
pub trait PredictionSink {
    /// Takes one prediction.
    fn publish(&mut self, p: &LivePrediction<'_>) -> Result<(), LiveError>;
}

/// A prediction of the live session.
#[derive(Clone, Copy, Debug)]
pub struct LivePrediction<'a> {
    /// samples at the model's rate seen so far (the prediction covers them all)
    pub samples_seen: u64,
    /// timestamp of the input sample that completed this prediction (source clock, s)
    pub timestamp: f64,
    /// predicted class
    pub class: usize,
    /// softmax probabilities (K)
    pub probabilities: &'a [f32],
    /// logits (K)
    pub logits: &'a [f32],
}

/// Something that happened, as it happens (for printing).
#[derive(Clone, Copy, Debug)]
pub enum LiveEvent<'a> {
    /// a prediction (already published)
    Prediction(&'a LivePrediction<'a>),
    /// an input sample refused (non-finite value in a channel the model uses)
    Refused {
        /// index of the input sample (stream rate, from 0)
        sample: u64,
        /// card name of the channel
        channel: &'a str,
    },
}

/// How a live session runs.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveOptions {
    /// samples (model rate) between predictions; default [`DEFAULT_HOP_S`] · sfreq rounded up
    /// to the model's step
    pub hop: Option<usize>,
    /// the unit of every channel, overriding the stream's description
    pub unit: Option<Unit>,
    /// seconds without a sample after which the stream counts as stopped
    pub timeout_s: f64,
    /// stop after this many input samples
    pub max_samples: Option<u64>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            hop: None,
            unit: None,
            timeout_s: 5.0,
            max_samples: None,
        }
    }
}

/// Why the session ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StopReason {
    /// `max_samples` reached
    MaxSamples,
    /// no sample for `timeout_s` seconds
    Timeout(f64),
    /// the source ended
    Ended,
}

/// What the session did.
#[derive(Clone, Debug)]
pub struct LiveReport {
    /// streamed (the engine's `Stream`) or windowed (`classify_window` every hop)
    pub streamed: bool,
    /// samples between predictions (model rate)
    pub hop: usize,
    /// (L, M) when the stream was resampled causally
    pub resampled: Option<(u64, u64)>,
    /// group delay of the resampler, seconds (0 without)
    pub resampler_delay_s: f64,
    /// input samples received
    pub samples_in: u64,
    /// samples the model consumed (model rate)
    pub samples_model: u64,
    /// input samples refused (non-finite)
    pub refused: u64,
    /// predictions published
    pub predictions: u64,
    /// input timestamp → prediction published, per prediction
    pub latency: Latency,
    /// engine calls (`push` / `classify_window`)
    pub engine: Latency,
    /// why it ended
    pub stop: StopReason,
    /// wall time, seconds
    pub wall_s: f64,
}

/// The model side: an engine stream, or a sliding window for models that cannot stream.
enum Runner<'m> {
    Streamed(qssm_engine::Stream<'m>),
    Windowed {
        /// (T, C) ring of conditioned samples, slot = count mod T
        ring: Vec<f32>,
        /// input-filter state
        filter_state: Vec<f32>,
        /// (C, T) channel-major window
        window: Vec<f32>,
        count: u64,
        hop: usize,
    },
}

/// The hop (model-rate samples between predictions) a session of `model` uses for the option
/// `hop`: the engine stream's (default [`DEFAULT_HOP_S`] · sfreq rounded up to the model's
/// step) for causal models, `hop` or [`DEFAULT_HOP_S`] · sfreq for windowed ones. Errors: a hop
/// the engine refuses, [`LiveError::ZeroHop`].
pub fn session_hop(model: &Model, hop: Option<usize>) -> Result<usize, LiveError> {
    if model.stream_state_len().is_ok() {
        return Ok(open_stream(model, hop)?.hop());
    }
    match hop {
        Some(0) => Err(LiveError::ZeroHop),
        Some(h) => Ok(h),
        None => Ok(((DEFAULT_HOP_S * model.sfreq()).round() as usize).max(1)),
    }
}

/// A sink that drops every prediction (the session still reports them to its event callback).
pub struct NoSink;

impl PredictionSink for NoSink {
    fn publish(&mut self, _p: &LivePrediction<'_>) -> Result<(), LiveError> {
        Ok(())
    }
}

impl<'m> Runner<'m> {
    fn new(model: &'m Model, hop: Option<usize>) -> Result<Self, LiveError> {
        if model.stream_state_len().is_ok() {
            return Ok(Self::Streamed(open_stream(model, hop)?));
        }
        let hop = session_hop(model, hop)?;
        let (c, t) = (model.n_channels(), model.n_times());
        Ok(Self::Windowed {
            ring: vec![0.0; c * t],
            filter_state: vec![0.0; model.input_filter().state_len(c)],
            window: vec![0.0; c * t],
            count: 0,
            hop,
        })
    }

    fn hop(&self) -> usize {
        match self {
            Self::Streamed(s) => s.hop(),
            Self::Windowed { hop, .. } => *hop,
        }
    }

    /// Feeds one model-rate sample (card order and unit); calls `done` with a prediction when
    /// one is due.
    fn feed(
        &mut self,
        model: &Model,
        x: &mut [f32],
        engine: &mut Latency,
        mut done: impl FnMut(u64, usize, &[f32], &[f32]) -> Result<(), LiveError>,
    ) -> Result<(), LiveError> {
        match self {
            Self::Streamed(s) => {
                let t = Instant::now();
                let out = s.push(x)?;
                engine.record(t.elapsed());
                if let Some(p) = out {
                    done(p.samples_seen, p.class, p.probabilities, p.logits)?;
                }
            }
            Self::Windowed {
                ring,
                filter_state,
                window,
                count,
                hop,
            } => {
                let (c, t) = (model.n_channels(), model.n_times());
                model.input_filter().step(x, filter_state);
                model.normalise(x, 1)?;
                let slot = (*count % t as u64) as usize;
                ring[slot * c..(slot + 1) * c].copy_from_slice(x);
                *count += 1;
                if *count >= t as u64 && *count % *hop as u64 == 0 {
                    // oldest sample at slot count mod T
                    let first = (*count % t as u64) as usize;
                    for k in 0..t {
                        let s = (first + k) % t;
                        for ch in 0..c {
                            window[ch * t + k] = ring[s * c + ch];
                        }
                    }
                    let t0 = Instant::now();
                    let p = model.classify_window(window)?;
                    engine.record(t0.elapsed());
                    done(*count, p.class, &p.probabilities, &p.logits)?;
                }
            }
        }
        Ok(())
    }
}

/// Runs a live session of `model` over `source` (described by `layout`), publishing to
/// `sink` and reporting to `on_event` (see the [module docs](self)). Everything about the
/// stream is checked before the first sample is pulled ([`InputMap::new`], the resampling
/// ratio, the hop).
///
/// Errors: the layout errors of [`InputMap::new`]; [`LiveError::Rate`] (a ratio the
/// resampler cannot do); [`LiveError::Engine`] (a hop the model refuses, non-finite model
/// output); the source's and sink's own errors.
pub fn run(
    model: &Model,
    layout: &StreamLayout,
    source: &mut dyn SampleSource,
    sink: &mut dyn PredictionSink,
    opts: &LiveOptions,
    on_event: &mut dyn FnMut(LiveEvent<'_>),
) -> Result<LiveReport, LiveError> {
    let map = InputMap::new(model, layout, opts.unit)?;
    let c = model.n_channels();
    let mut resampler = if layout.sfreq == model.sfreq() {
        None
    } else {
        let r = CausalResampler::new(layout.sfreq, model.sfreq(), c);
        Some(r.map_err(|source| LiveError::Rate {
            stream: layout.name.clone(),
            source,
        })?)
    };
    let mut runner = Runner::new(model, opts.hop)?;
    let mut raw = vec![0.0f32; layout.channel_count];
    let mut mapped = vec![0.0f32; c];
    let mut frame = vec![0.0f32; c];
    let mut pending: Vec<f32> = Vec::new(); // resampled frames of one input sample
    let (mut latency, mut engine) = (Latency::default(), Latency::default());
    let (mut samples_in, mut samples_model, mut refused, mut predictions) =
        (0u64, 0u64, 0u64, 0u64);
    source.start(opts.timeout_s)?;
    let wall = Instant::now();
    let stop = loop {
        if opts.max_samples.is_some_and(|n| samples_in >= n) {
            break StopReason::MaxSamples;
        }
        let ts = match source.pull(&mut raw, opts.timeout_s)? {
            Pulled::Sample(ts) => ts,
            Pulled::Timeout => break StopReason::Timeout(opts.timeout_s),
            Pulled::Ended => break StopReason::Ended,
        };
        let index = samples_in;
        samples_in += 1;
        map.map(&raw, &mut mapped);
        if let Some(ch) = mapped.iter().position(|v| !v.is_finite()) {
            refused += 1;
            on_event(LiveEvent::Refused {
                sample: index,
                channel: &model.channels()[ch],
            });
            continue;
        }
        pending.clear();
        match &mut resampler {
            Some(r) => r.push(&mapped, &mut frame, |f| pending.extend_from_slice(f)),
            None => pending.extend_from_slice(&mapped),
        }
        for x in pending.chunks_exact_mut(c) {
            samples_model += 1;
            runner.feed(
                model,
                x,
                &mut engine,
                |seen, class, probabilities, logits| {
                    let p = LivePrediction {
                        samples_seen: seen,
                        timestamp: ts,
                        class,
                        probabilities,
                        logits,
                    };
                    sink.publish(&p)?;
                    predictions += 1;
                    // a timestamp from the future or a non-finite one counts as 0 (never a panic)
                    latency.record(
                        Duration::try_from_secs_f64(source.clock() - ts).unwrap_or_default(),
                    );
                    on_event(LiveEvent::Prediction(&p));
                    Ok(())
                },
            )?;
        }
    };
    Ok(LiveReport {
        streamed: matches!(runner, Runner::Streamed(_)),
        hop: runner.hop(),
        resampled: resampler.as_ref().map(|r| r.factors()),
        resampler_delay_s: resampler.as_ref().map_or(0.0, |r| r.delay_s(layout.sfreq)),
        samples_in,
        samples_model,
        refused,
        predictions,
        latency,
        engine,
        stop,
        wall_s: wall.elapsed().as_secs_f64(),
    })
}
