//! The live session ([`qssm_trainer::live`]) without a network: a bundled EDF+ recording
//! (S001R04, 160 Hz) played as a live source into random-init models at the EEG configuration
//! (64 channels, 40 Hz).
//!
//! * 3b (streamed): every prediction equals the engine's `Stream` fed the same samples
//!   directly (bit for bit), one per hop;
//! * 1c (windowed): every prediction equals `classify_window` on the last T samples;
//! * a NaN sample is refused and changes nothing; the session goes on;
//! * a source that stops sending ends the session cleanly with the predictions so far;
//! * a stream at 160 Hz is resampled causally to the model's 40 Hz (one model sample per 4);
//! * a stream whose labels, units or rate do not fit the card is refused before any sample is
//!   pulled, with one line naming the problem.
mod support;

use qssm_engine::{Model as Engine, StreamOptions, Unit};
use qssm_trainer::data::EEGMMIDB_CHANNELS;
use qssm_trainer::live::{
    self, LiveError, LiveEvent, LiveOptions, NoSink, Pulled, RecordingSource, SampleSource,
    StopReason, StreamLayout,
};
use qssm_trainer::replay::Recording;
use std::path::PathBuf;

fn edf() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb/S001/S001R04.edf")
}

/// A random-init model `id` at 40 Hz (T = 125), EEGMMIDB channels, millivolts.
fn model(id: &str, causal: bool) -> Engine {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    support::write_eeg_model(&path, id, causal, 5);
    Engine::from_path(&path).unwrap()
}

/// One published prediction: (samples seen, class, logits).
type Seen = (u64, usize, Vec<f32>);

/// Runs a session and collects its predictions.
fn session(
    engine: &Engine,
    layout: &StreamLayout,
    src: &mut dyn SampleSource,
    opts: &LiveOptions,
) -> Result<(live::LiveReport, Vec<Seen>, u64), LiveError> {
    let (mut seen, mut refused) = (Vec::new(), 0u64);
    let report = live::run(engine, layout, src, &mut NoSink, opts, &mut |ev| match ev {
        LiveEvent::Prediction(p) => seen.push((p.samples_seen, p.class, p.logits.to_vec())),
        LiveEvent::Refused { .. } => refused += 1,
    })?;
    Ok((report, seen, refused))
}

/// A source over fixed samples (one Vec per sample) that then times out.
struct Scripted {
    samples: Vec<Vec<f32>>,
    next: usize,
}

impl SampleSource for Scripted {
    fn pull(&mut self, buf: &mut [f32], _timeout_s: f64) -> Result<Pulled, LiveError> {
        let Some(s) = self.samples.get(self.next) else {
            return Ok(Pulled::Timeout);
        };
        buf.copy_from_slice(s);
        self.next += 1;
        Ok(Pulled::Sample(self.next as f64))
    }
    fn clock(&self) -> f64 {
        self.next as f64
    }
}

/// The first `n` samples of the recording at 40 Hz in mV, card order.
fn samples(rec: &Recording, n: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|t| {
            let mut s = vec![0.0; rec.n_channels()];
            rec.sample_into(t, 1e3, &mut s);
            s
        })
        .collect()
}

fn layout_mv(name: &str, sfreq: f64) -> StreamLayout {
    StreamLayout {
        name: name.into(),
        channel_count: EEGMMIDB_CHANNELS.len(),
        sfreq,
        labels: EEGMMIDB_CHANNELS.iter().map(|s| s.to_string()).collect(),
        units: vec!["millivolts".into(); EEGMMIDB_CHANNELS.len()],
    }
}

#[test]
fn streamed_session_equals_the_engine_stream() {
    let engine = model("3b", false);
    let rec = Recording::load(&edf(), engine.channels(), 40.0).unwrap();
    let n = 400;
    let mut src = RecordingSource::new(&rec, Unit::Millivolt, Some(n), None);
    let layout = src.layout("S001R04");
    let (report, seen, _) = session(&engine, &layout, &mut src, &LiveOptions::default()).unwrap();
    assert_eq!(report.stop, StopReason::Ended);
    assert!(report.streamed);
    assert_eq!(
        (report.samples_in, report.samples_model),
        (n as u64, n as u64)
    );
    // the engine directly
    let mut stream = engine.stream(StreamOptions { hop: report.hop }).unwrap();
    let mut want = Vec::new();
    for s in samples(&rec, n) {
        if let Some(p) = stream.push(&s).unwrap() {
            want.push((p.samples_seen, p.class, p.logits.to_vec()));
        }
    }
    assert_eq!(report.hop, 10, "0.25 s at 40 Hz");
    assert_eq!(seen.len(), n / 10);
    assert_eq!(seen, want);
    assert_eq!(report.latency.count(), seen.len());
    assert_eq!(report.engine.count(), n);
}

#[test]
fn windowed_session_classifies_the_last_t_samples_every_hop() {
    let engine = model("1c", false);
    assert!(engine.stream_state_len().is_err(), "1c cannot stream");
    let rec = Recording::load(&edf(), engine.channels(), 40.0).unwrap();
    let (n, t, hop) = (200usize, 125usize, 25usize);
    let mut src = RecordingSource::new(&rec, Unit::Millivolt, Some(n), None);
    let layout = src.layout("S001R04");
    let opts = LiveOptions {
        hop: Some(hop),
        ..LiveOptions::default()
    };
    let (report, seen, _) = session(&engine, &layout, &mut src, &opts).unwrap();
    assert!(!report.streamed);
    let ends: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(ends, vec![125, 150, 175, 200]);
    for (end, class, logits) in &seen {
        let start = *end as usize - t;
        let w = rec.window(start, t, 1e3);
        let p = engine.classify_window(&w).unwrap();
        assert_eq!(
            (*class, logits),
            (p.class, &p.logits),
            "window ending at {end}"
        );
    }
}

#[test]
fn a_nan_sample_is_refused_and_changes_nothing() {
    let engine = model("3b", false);
    let rec = Recording::load(&edf(), engine.channels(), 40.0).unwrap();
    let clean = samples(&rec, 60);
    let mut dirty = clean.clone();
    let mut bad = clean[30].clone();
    bad[7] = f32::NAN;
    dirty.insert(30, bad);
    let layout = layout_mv("scripted", 40.0);
    let opts = LiveOptions::default();
    let (_, want, _) = session(
        &engine,
        &layout,
        &mut Scripted {
            samples: clean,
            next: 0,
        },
        &opts,
    )
    .unwrap();
    let (report, got, refused) = session(
        &engine,
        &layout,
        &mut Scripted {
            samples: dirty,
            next: 0,
        },
        &opts,
    )
    .unwrap();
    assert_eq!((refused, report.refused, report.samples_in), (1, 1, 61));
    assert_eq!(got, want);
    // a source that stops sending: a clean end with the predictions so far
    assert_eq!(report.stop, StopReason::Timeout(opts.timeout_s));
    assert_eq!(got.len(), 6);
}

#[test]
fn a_faster_stream_is_resampled_causally() {
    let engine = model("3b", false);
    let rec160 = Recording::load(&edf(), engine.channels(), 160.0).unwrap();
    let mut src = RecordingSource::new(&rec160, Unit::Microvolt, Some(1600), None);
    let layout = src.layout("S001R04 at 160 Hz");
    let (report, seen, _) = session(&engine, &layout, &mut src, &LiveOptions::default()).unwrap();
    assert_eq!(report.resampled, Some((1, 4)));
    assert_eq!((report.samples_in, report.samples_model), (1600, 400));
    assert_eq!(seen.len(), 40);
    assert!((report.resampler_delay_s - 0.25).abs() < 1e-12);
    // after the filter's delay, the model sees the FFT-resampled signal, delayed: the
    // predictions track the ones of the 40 Hz file shifted by the delay (10 model samples)
    let rec40 = Recording::load(&edf(), engine.channels(), 40.0).unwrap();
    let mut stream = engine.stream(StreamOptions { hop: 1 }).unwrap();
    let mut direct = vec![vec![0.0f32; 64]; 10]; // the delay, as zeros
    direct.extend(samples(&rec40, 390));
    let mut want = Vec::new();
    for (k, s) in direct.iter().enumerate() {
        if let Some(p) = stream.push(s).unwrap() {
            if (k + 1) % 10 == 0 {
                want.push(p.logits.to_vec());
            }
        }
    }
    let mut worst = 0.0f32;
    for ((_, _, got), want) in seen.iter().zip(&want).skip(8) {
        for (a, b) in got.iter().zip(want) {
            worst = worst.max((a - b).abs());
        }
    }
    // measured 7.5e-4 (the FIR's transition band near 20 Hz vs the FFT's brick wall)
    assert!(
        worst < 3e-3,
        "causal vs FFT resampling, logits differ by {worst}"
    );
}

#[test]
fn streams_that_do_not_fit_the_card_are_refused_before_any_sample() {
    let engine = model("3b", false);
    let good = layout_mv("amp", 40.0);
    let cases: Vec<(StreamLayout, Option<Unit>, &str)> = vec![
        (
            StreamLayout {
                labels: vec![],
                ..good.clone()
            },
            None,
            "does not label its 64 channels",
        ),
        (
            StreamLayout {
                labels: good.labels.iter().map(|l| format!("X{l}")).collect(),
                ..good.clone()
            },
            None,
            "lacks the model's channel(s)",
        ),
        (
            StreamLayout {
                units: vec![String::new(); 64],
                ..good.clone()
            },
            None,
            "gives no unit for channel",
        ),
        (
            StreamLayout {
                units: vec!["counts".into(); 64],
                ..good.clone()
            },
            None,
            "the unit 'counts'",
        ),
        (
            StreamLayout {
                sfreq: 0.0,
                ..good.clone()
            },
            None,
            "no regular sampling rate",
        ),
        (
            StreamLayout {
                sfreq: 160.0001,
                ..good.clone()
            },
            None,
            "cannot resample 160.0001 Hz to 40 Hz",
        ),
        (
            StreamLayout {
                channel_count: 0,
                labels: vec![],
                units: vec![],
                ..good.clone()
            },
            None,
            "has no channels",
        ),
    ];
    for (layout, unit, needle) in cases {
        let mut src = Scripted {
            samples: vec![vec![0.0; layout.channel_count]; 3],
            next: 0,
        };
        let opts = LiveOptions {
            unit,
            ..LiveOptions::default()
        };
        let e = session(&engine, &layout, &mut src, &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(needle) && e.contains('\'') && !e.contains('\n'),
            "{e:?} lacks {needle:?}"
        );
        assert_eq!(src.next, 0, "{needle}: a sample was pulled");
    }
    // a declared unit overrides a missing one
    let layout = StreamLayout {
        units: vec![String::new(); 64],
        ..good
    };
    let mut src = Scripted {
        samples: vec![vec![0.0; 64]; 3],
        next: 0,
    };
    let opts = LiveOptions {
        unit: Some(Unit::Microvolt),
        ..LiveOptions::default()
    };
    assert_eq!(
        session(&engine, &layout, &mut src, &opts)
            .unwrap()
            .0
            .samples_in,
        3
    );
}
