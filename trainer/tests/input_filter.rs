//! The causal input filter end to end (issue "Live EEG in": causal preprocessing identical in
//! training and streaming): S001R04 (bundled, 160 Hz) with a 1–30 Hz Butterworth band-pass
//! (order 4) and a 50 Hz notch. The trainer's filtered epochs (data loader) must equal what the
//! engine's stream feeds its model (`Stream::last_input`) when the raw recording is pushed
//! sample by sample through a causal 3b whose card records the filter (≤ 1e-5); a card filter
//! the engine cannot run is refused at load; `reset` keeps the filter running, `restart`
//! zeroes it. With `--normalise` statistics in the card too, the normalised epochs equal the
//! stream's input the same way; bad normalisation entries are refused at load.
use qssm_engine::{Model as Engine, StreamOptions};
use qssm_formats::edf::Edf;
use qssm_formats::model_file::TensorDtype;
use qssm_kernels::signal::design::{design, FilterSpec};
use qssm_trainer::data::input_filter::{
    apply_stats, card_entry, channel_stats, normalisation_card,
};
use qssm_trainer::data::{load_subject, EegmmidbConfig, EEGMMIDB_CHANNELS};
use qssm_trainer::export::{export, ExportInfo};
use qssm_trainer::models::{registry, ModelConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

fn bundled() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb")
}

fn spec() -> FilterSpec {
    FilterSpec {
        fs: 160.0,
        highpass_hz: Some(1.0),
        lowpass_hz: Some(30.0),
        order: 4,
        notch_hz: Some(50.0),
        notch_q: 30.0,
    }
}

/// A random-init causal 3b at 160 Hz (T = 497) whose card has `filter`.
fn model_bytes(filter: serde_json::Value) -> Vec<u8> {
    model_bytes_with(serde_json::json!({ "filter": filter }))
}

/// A random-init causal 3b at 160 Hz (T = 497) whose card has `preprocessing`.
fn model_bytes_with(preprocessing: serde_json::Value) -> Vec<u8> {
    let cfg = ModelConfig {
        causal: true,
        ..ModelConfig::eeg(497)
    };
    let model = registry::build("3b", cfg).unwrap();
    let params = model.layout().init(&mut ChaCha8Rng::seed_from_u64(5));
    let info = ExportInfo {
        sfreq: 160.0,
        channels: EEGMMIDB_CHANNELS.iter().map(|s| s.to_string()).collect(),
        unit: "mV".into(),
        preprocessing,
        split: None,
        training: serde_json::json!({}),
        metrics: serde_json::json!({}),
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "qssm-input-filter-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("3b.safetensors");
    export(&path, model.as_ref(), &params, &info, TensorDtype::F32).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}

#[test]
fn trainer_epochs_equal_engine_stream_filtering() {
    trainer_epochs_equal_engine_stream(false);
}

#[test]
fn trainer_epochs_equal_engine_stream_filtering_and_normalisation() {
    trainer_epochs_equal_engine_stream(true);
}

/// The trainer's epochs (filtered, and normalised with their own statistics if `normalise`)
/// against the engine's streamed input under a card recording the same conditioning.
fn trainer_epochs_equal_engine_stream(normalise: bool) {
    let sos = design(&spec()).unwrap();
    assert_eq!(sos.sections().len(), 5);
    // the trainer's data path
    let mut cfg = EegmmidbConfig::new(bundled(), 160);
    cfg.runs = vec![4];
    cfg.filter = sos;
    let mut epochs = load_subject(&cfg, 1).unwrap();
    let unfiltered = {
        let mut c = cfg.clone();
        c.filter = qssm_kernels::signal::Sos::identity();
        load_subject(&c, 1).unwrap()
    };
    assert_ne!(epochs.x, unfiltered.x, "the filter changed nothing");
    let mut pre = serde_json::json!({ "filter": card_entry(&sos, &spec()) });
    if normalise {
        let stats = channel_stats(&epochs).unwrap();
        apply_stats(&mut epochs, &stats);
        pre["normalisation"] = normalisation_card(&stats);
        // the statistics normalise the training windows: mean ≈ 0, std ≈ 1 per channel
        let again = channel_stats(&epochs).unwrap();
        assert!(
            again.mean.iter().all(|m| m.abs() < 1e-4),
            "{:?}",
            again.mean
        );
        assert!(
            again.std.iter().all(|s| (s - 1.0).abs() < 1e-4),
            "{:?}",
            again.std
        );
    }

    // the engine's stream over the raw recording (160 Hz: no resampling), in millivolts
    let engine = Engine::from_bytes(&model_bytes_with(pre)).unwrap();
    assert_eq!(engine.input_filter().sections(), sos.sections());
    assert_eq!(engine.normalisation().is_some(), normalise);
    let edf = Edf::open(bundled().join("S001/S001R04.edf")).unwrap();
    let block = edf.data_volts(&edf.ordinary_signals()).unwrap();
    let (c, n) = (block.n_channels, block.n_times);
    let mut stream = engine.stream(StreamOptions { hop: 1 << 20 }).unwrap();
    let mut seen = vec![0.0f32; c * n];
    let mut sample = vec![0.0f32; c];
    for t in 0..n {
        for (ch, v) in sample.iter_mut().enumerate() {
            *v = (block.data[ch * n + t] * 1e3) as f32;
        }
        stream.push(&sample).unwrap();
        for (ch, &v) in stream.last_input().iter().enumerate() {
            seen[ch * n + t] = v;
        }
    }
    // the loader's windows: cue onsets (T1/T2, by onset) + 1.0 s, T = 497
    let mut onsets: Vec<i64> = edf
        .annotations()
        .iter()
        .filter(|a| matches!(a.text.trim(), "T1" | "T2"))
        .map(|a| (a.onset_s * 160.0).round() as i64)
        .collect();
    onsets.sort_unstable();
    let (t_len, w0) = (epochs.n_times, cfg.window_start());
    let mut k = 0;
    let mut worst = 0.0f32;
    for onset in onsets {
        let start = onset + w0;
        if start < 0 || start as usize + t_len > n {
            continue;
        }
        let trial = epochs.trial(k);
        for ch in 0..c {
            for i in 0..t_len {
                let d = (trial[ch * t_len + i] - seen[ch * n + start as usize + i]).abs();
                worst = worst.max(d);
            }
        }
        k += 1;
    }
    assert_eq!(k, epochs.n_trials());
    assert!(worst <= 1e-5, "trainer vs engine filtering: {worst}");
}

#[test]
fn reset_keeps_the_filter_restart_zeroes_it() {
    let sos = design(&spec()).unwrap();
    let engine = Engine::from_bytes(&model_bytes(card_entry(&sos, &spec()))).unwrap();
    let mut a = engine.stream(StreamOptions { hop: 1 << 20 }).unwrap();
    let mut b = engine.stream(StreamOptions { hop: 1 << 20 }).unwrap();
    let s1 = vec![0.1f32; 64];
    let s2 = vec![-0.05f32; 64];
    for s in [&s1, &s2, &s1] {
        a.push(s).unwrap();
        b.push(s).unwrap();
    }
    a.reset();
    a.push(&s2).unwrap();
    b.push(&s2).unwrap();
    // the filter continued through the reset: same conditioned input as without it
    assert_eq!(a.last_input(), b.last_input());
    assert_eq!(a.samples_seen(), 1);
    a.restart();
    let mut fresh = engine.stream(StreamOptions { hop: 1 << 20 }).unwrap();
    a.push(&s1).unwrap();
    fresh.push(&s1).unwrap();
    assert_eq!(a.last_input(), fresh.last_input());
    assert_eq!(a.state(), fresh.state());
}

#[test]
fn a_filter_the_engine_cannot_run_is_refused_at_load() {
    let filter = |f: serde_json::Value| serde_json::json!({ "filter": f });
    let zscore = |mean: serde_json::Value, std: serde_json::Value| {
        serde_json::json!({"filter": "none", "normalisation":
            {"kind": "per_channel_zscore", "mean": mean, "std": std}})
    };
    for (pre, entry, needle) in [
        (
            filter(serde_json::json!({"kind": "fir", "taps": [1.0]})),
            "preprocessing.filter",
            "not supported",
        ),
        (
            filter(serde_json::json!({"kind": "sos", "sos": [[1.0, 0.0, 0.0, 1.0, 0.0]]})),
            "preprocessing.filter",
            "section 0",
        ),
        (
            filter(serde_json::json!({"kind": "sos", "sos": [[1.0, 0.0, 0.0, 1.0, -2.5, 1.2]]})),
            "preprocessing.filter",
            "unit circle",
        ),
        (
            filter(serde_json::json!("butterworth 1-30 Hz")),
            "preprocessing.filter",
            "not supported",
        ),
        (
            zscore(
                serde_json::json!(vec![0.0; 63]),
                serde_json::json!(vec![1.0; 64]),
            ),
            "preprocessing.normalisation",
            "mean is not 64",
        ),
        (
            zscore(
                serde_json::json!(vec![0.0; 64]),
                serde_json::json!(vec![0.0; 64]),
            ),
            "preprocessing.normalisation",
            "not positive",
        ),
        (
            serde_json::json!({"normalisation": {"kind": "robust"}}),
            "preprocessing.normalisation",
            "not supported",
        ),
        (
            serde_json::json!({"normalisation": "per trial"}),
            "preprocessing.normalisation",
            "not supported",
        ),
    ] {
        let err = match Engine::from_bytes(&model_bytes_with(pre.clone())) {
            Ok(_) => panic!("a card with preprocessing {pre} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(entry) && err.contains(needle), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
