//! The Lab Streaming Layer transport (feature `lsl`; the LSL project's Rust binding, the `lsl`
//! crate, which builds liblsl 1.13 from source — see the README for the one build flag glibc
//! ≥ 2.34 needs): an EEG inlet as a [`SampleSource`] ([`LslInlet`]), a prediction outlet as a
//! [`PredictionSink`] ([`LslPredictionOutlet`]), and a recording published as a live EEG
//! stream ([`publish_recording`], `qssm replay --lsl-out`).
//!
//! Stream descriptions follow the XDF meta-data convention that LSL amplifier apps use:
//! `desc/channels/channel/{label, unit, type}` with units written as words (`microvolts`).
//! Timestamps are LSL's `local_clock()`; an inlet adds the outlet's clock offset
//! (`time_correction`, measured once when the stream opens), so latency = local_clock() at the
//! prediction − (sample timestamp + offset).
//!
//! LSL discovery uses UDP multicast and broadcast unless its configuration (`LSLAPICFG`, an
//! `lsl_api.cfg`) restricts it; `.ci/lsl/lsl_api.cfg` keeps everything on 127.0.0.1, and the
//! project's tests run inside a private network namespace (`unshare -n`).
use super::layout::StreamLayout;
use super::session::{LivePrediction, PredictionSink, Pulled, SampleSource};
use super::source::RecordingSource;
use super::LiveError;
use crate::replay::Recording;
use ::lsl::{ExPushable, Pullable};
use qssm_engine::{Model, Unit};

fn lsl_err(what: &str, e: ::lsl::Error) -> LiveError {
    LiveError::Lsl(format!("{what}: {e}"))
}

/// The unit as LSL metadata writes it (`microvolts`, `millivolts`, `volts`).
pub fn unit_word(unit: Unit) -> &'static str {
    match unit {
        Unit::Microvolt => "microvolts",
        Unit::Millivolt => "millivolts",
        Unit::Volt => "volts",
    }
}

/// The description of `info` (a full info, from an inlet): channel labels and units from
/// `desc/channels/channel`.
fn layout_of(info: &mut ::lsl::StreamInfo) -> StreamLayout {
    let (mut labels, mut units) = (Vec::new(), Vec::new());
    let desc = info.desc();
    let mut ch = desc.child("channels").child("channel");
    while !ch.empty() {
        labels.push(ch.child_value_named("label"));
        units.push(ch.child_value_named("unit"));
        ch = ch.next_sibling_named("channel");
    }
    StreamLayout {
        name: info.stream_name(),
        channel_count: usize::try_from(info.channel_count()).unwrap_or(0),
        sfreq: info.nominal_srate(),
        labels,
        units,
    }
}

/// Adds `desc/channels/channel/{label, unit, type}` for every label.
fn describe_channels(info: &mut ::lsl::StreamInfo, labels: &[String], unit: &str, kind: &str) {
    let mut desc = info.desc();
    let mut chans = desc.append_child("channels");
    for l in labels {
        let mut ch = chans.append_child("channel");
        ch.append_child_value("label", l);
        ch.append_child_value("unit", unit);
        ch.append_child_value("type", kind);
    }
}

/// An open LSL inlet on an EEG stream.
pub struct LslInlet {
    inlet: ::lsl::StreamInlet,
    buf: Vec<f32>,
    /// the outlet's clock offset, seconds (added to every timestamp)
    offset: f64,
}

impl LslInlet {
    /// Resolves the stream `query` (a stream name, or an LSL predicate such as
    /// `name='amp' and type='EEG'` when it contains `=`), waiting at most `timeout_s`
    /// seconds, opens an inlet, reads its full description and the outlet's clock offset.
    /// Samples flow from [`SampleSource::start`] on (after the session's checks).
    ///
    /// Errors: [`LiveError::NotFound`], [`LiveError::ChannelFormat`] (string or undefined
    /// samples), [`LiveError::Lsl`].
    pub fn open(query: &str, timeout_s: f64) -> Result<(Self, StreamLayout), LiveError> {
        let found = if query.contains('=') {
            ::lsl::resolve_bypred(query, 1, timeout_s)
        } else {
            ::lsl::resolve_byprop("name", query, 1, timeout_s)
        }
        .map_err(|e| lsl_err("resolving the stream", e))?;
        let Some(info) = found.first() else {
            return Err(LiveError::NotFound {
                query: query.to_string(),
                timeout_s,
            });
        };
        let format = info.channel_format();
        if matches!(
            format,
            ::lsl::ChannelFormat::String | ::lsl::ChannelFormat::Undefined
        ) {
            return Err(LiveError::ChannelFormat {
                stream: info.stream_name(),
                format: format.to_string(),
            });
        }
        // a few seconds of buffer, samples as the outlet sends them, recover a restarted source
        let inlet = ::lsl::StreamInlet::new(info, 10, 0, true)
            .map_err(|e| lsl_err("opening an inlet", e))?;
        let mut full = inlet
            .info(timeout_s)
            .map_err(|e| lsl_err("reading the stream description", e))?;
        let layout = layout_of(&mut full);
        let offset = inlet.time_correction(timeout_s.min(5.0)).unwrap_or(0.0);
        Ok((
            Self {
                inlet,
                buf: Vec::with_capacity(layout.channel_count),
                offset,
            },
            layout,
        ))
    }
}

impl SampleSource for LslInlet {
    fn pull(&mut self, buf: &mut [f32], timeout_s: f64) -> Result<Pulled, LiveError> {
        match self.inlet.pull_sample_buf(&mut self.buf, timeout_s) {
            Ok(0.0) => Ok(Pulled::Timeout),
            Ok(ts) => {
                if self.buf.len() != buf.len() {
                    return Err(LiveError::Lsl(format!(
                        "a sample of {} values from a stream of {} channels",
                        self.buf.len(),
                        buf.len()
                    )));
                }
                buf.copy_from_slice(&self.buf);
                Ok(Pulled::Sample(ts + self.offset))
            }
            Err(::lsl::Error::StreamLost) => Ok(Pulled::Ended),
            Err(::lsl::Error::Timeout) => Ok(Pulled::Timeout),
            Err(e) => Err(lsl_err("pulling a sample", e)),
        }
    }

    fn clock(&self) -> f64 {
        ::lsl::local_clock()
    }

    fn start(&mut self, timeout_s: f64) -> Result<(), LiveError> {
        self.inlet
            .open_stream(timeout_s)
            .map_err(|e| lsl_err("opening the stream", e))
    }
}

/// The channel labels of a prediction stream with K classes: `p0 … p{K−1}` (softmax
/// probabilities), then `logit0 … logit{K−1}`.
pub fn prediction_labels(k: usize) -> Vec<String> {
    (0..k)
        .map(|i| format!("p{i}"))
        .chain((0..k).map(|i| format!("logit{i}")))
        .collect()
}

/// An LSL outlet publishing predictions: type `Classification`, 2K float32 channels
/// ([`prediction_labels`]), nominal rate sfreq / hop, each sample stamped with the timestamp
/// of the input sample that completed it; `desc/model` names the model (`id`, `class`,
/// `file`, `sfreq`, `hop`, `n_classes`).
pub struct LslPredictionOutlet {
    outlet: ::lsl::StreamOutlet,
    sample: Vec<f32>,
}

impl LslPredictionOutlet {
    /// Creates the outlet `name` for `model` with predictions every `hop` samples. Errors:
    /// [`LiveError::Lsl`].
    pub fn new(name: &str, model: &Model, hop: usize, file: &str) -> Result<Self, LiveError> {
        let k = model.n_classes();
        let card = model.card();
        let mut info = ::lsl::StreamInfo::new(
            name,
            "Classification",
            (2 * k) as u32,
            model.sfreq() / hop.max(1) as f64,
            ::lsl::ChannelFormat::Float32,
            &format!("qssm-{name}"),
        )
        .map_err(|e| lsl_err("describing the prediction stream", e))?;
        describe_channels(&mut info, &prediction_labels(k), "", "Classification");
        let mut desc = info.desc();
        let mut m = desc.append_child("model");
        m.append_child_value("id", &card.model_id);
        m.append_child_value("class", &card.class_name);
        m.append_child_value("file", file);
        m.append_child_value("sfreq", &model.sfreq().to_string());
        m.append_child_value("hop", &hop.to_string());
        m.append_child_value("n_classes", &k.to_string());
        let outlet = ::lsl::StreamOutlet::new(&info, 1, 60)
            .map_err(|e| lsl_err("creating the prediction outlet", e))?;
        Ok(Self {
            outlet,
            sample: vec![0.0; 2 * k],
        })
    }
}

impl LslPredictionOutlet {
    /// Waits until a consumer has subscribed. Errors: none within `timeout_s` seconds.
    pub fn wait_for_consumer(&self, timeout_s: f64) -> Result<(), LiveError> {
        if self.outlet.wait_for_consumers(timeout_s) {
            Ok(())
        } else {
            Err(LiveError::Lsl(format!(
                "no consumer of the predictions within {timeout_s} s"
            )))
        }
    }
}

impl PredictionSink for LslPredictionOutlet {
    fn publish(&mut self, p: &LivePrediction<'_>) -> Result<(), LiveError> {
        let k = p.probabilities.len();
        self.sample[..k].copy_from_slice(p.probabilities);
        self.sample[k..2 * k].copy_from_slice(p.logits);
        self.outlet
            .push_sample_ex(&self.sample, p.timestamp, true)
            .map_err(|e| lsl_err("publishing a prediction", e))
    }
}

/// How [`publish_recording`] runs.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// samples in this unit (written as the channels' unit)
    pub unit: Unit,
    /// pace at this multiple of real time
    pub speed: f64,
    /// publish only the first this-many samples
    pub max_samples: Option<usize>,
    /// wait this long for a consumer before the first sample, seconds
    pub wait_consumer_s: f64,
}

/// Publishes `rec` as a live LSL EEG stream `name` (type `EEG`, float32, the recording's
/// labels and rate, units as [`unit_word`], `desc/acquisition/{manufacturer, source}`),
/// paced at `opts.speed` × real time, each sample stamped with `local_clock()` when it is
/// pushed. It waits for a consumer first (so none misses the start) and lingers one second
/// after the last sample so consumers receive it. Returns the number of samples published.
///
/// Errors: [`LiveError::Lsl`], or no consumer within `opts.wait_consumer_s`.
pub fn publish_recording(
    rec: &Recording,
    name: &str,
    source: &str,
    opts: &PublishOptions,
) -> Result<usize, LiveError> {
    let mut info = ::lsl::StreamInfo::new(
        name,
        "EEG",
        rec.n_channels() as u32,
        rec.sfreq,
        ::lsl::ChannelFormat::Float32,
        &format!("qssm-replay-{name}"),
    )
    .map_err(|e| lsl_err("describing the EEG stream", e))?;
    describe_channels(&mut info, &rec.channels, unit_word(opts.unit), "EEG");
    let mut desc = info.desc();
    let mut acq = desc.append_child("acquisition");
    acq.append_child_value("manufacturer", "qssm replay");
    acq.append_child_value("source", source);
    let outlet = ::lsl::StreamOutlet::new(&info, 1, 60)
        .map_err(|e| lsl_err("creating the EEG outlet", e))?;
    if !outlet.wait_for_consumers(opts.wait_consumer_s) {
        return Err(LiveError::Lsl(format!(
            "no consumer connected to '{name}' within {} s",
            opts.wait_consumer_s
        )));
    }
    let mut src = RecordingSource::new(rec, opts.unit, opts.max_samples, Some(opts.speed));
    let mut sample = vec![0.0f32; rec.n_channels()];
    let mut n = 0;
    while let Pulled::Sample(_) = src.pull(&mut sample, 0.0)? {
        outlet
            .push_sample_ex(&sample, ::lsl::local_clock(), true)
            .map_err(|e| lsl_err("publishing a sample", e))?;
        n += 1;
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    Ok(n)
}
