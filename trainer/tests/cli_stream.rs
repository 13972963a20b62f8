//! `qssm stream` on a bundled EDF+ file (S001R04, 160 Hz, replayed at a model's 40 Hz): the
//! library function ([`qssm_trainer::replay`]) and the binary end to end.
//!
//! Models: random-init 3b at the EEG configuration (64 channels, T = 125; streamed sample by
//! sample), the causal 1b (streamed chunk by chunk, 32 samples) and 1c (not streamable:
//! classified window by window). For each, every trial prediction must equal the engine's
//! `classify_window` on the training loader's window of that trial (same class, logits
//! within 1e-4), the trial labels and count must be the loader's, and the hop predictions
//! must fall on hop boundaries. Errors (missing channel, bad hop, bad unit) are one line. A
//! card with input conditioning (filter + normalisation) is checked the same way against the
//! loader's conditioned windows, streamed (3b) and windowed (1c).
use qssm_engine::{Model as Engine, Unit};
use qssm_formats::model_file::TensorDtype;
use qssm_kernels::signal::design::{design, FilterSpec};
use qssm_trainer::data::input_filter::{
    apply_stats, card_entry, channel_stats, normalisation_card,
};
use qssm_trainer::data::{load_subject, EegmmidbConfig, EpochSet, EEGMMIDB_CHANNELS};
use qssm_trainer::export::{export, ExportInfo};
use qssm_trainer::models::{registry, ModelConfig};
use qssm_trainer::replay::{replay, Mode, Recording, ReplayEvent, ReplayOptions};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn bundled() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb")
}

fn edf() -> PathBuf {
    bundled().join("S001/S001R04.edf")
}

/// Writes a random-init model `id` (EEG configuration at 40 Hz) with the EEGMMIDB channels
/// (or `channels`) to `path`.
fn write_model(path: &Path, id: &str, causal: bool, channels: Option<Vec<String>>) {
    write_model_with(
        path,
        id,
        causal,
        channels,
        serde_json::json!({ "resample_hz": 40 }),
    );
}

/// [`write_model`] with the card's `preprocessing`.
fn write_model_with(
    path: &Path,
    id: &str,
    causal: bool,
    channels: Option<Vec<String>>,
    preprocessing: serde_json::Value,
) {
    let cfg = ModelConfig {
        causal,
        ..ModelConfig::eeg(125)
    };
    let model = registry::build(id, cfg).unwrap();
    let params = model.layout().init(&mut ChaCha8Rng::seed_from_u64(3));
    let info = ExportInfo {
        sfreq: 40.0,
        channels: channels
            .unwrap_or_else(|| EEGMMIDB_CHANNELS.iter().map(|s| s.to_string()).collect()),
        unit: "mV".into(),
        preprocessing,
        split: None,
        training: serde_json::json!({}),
        metrics: serde_json::json!({}),
    };
    export(path, model.as_ref(), &params, &info, TensorDtype::F32).unwrap();
}

/// The training loader's windows of S001 run 4 at 40 Hz.
fn loader_windows() -> EpochSet {
    let mut cfg = EegmmidbConfig::new(bundled(), 40);
    cfg.runs = vec![4];
    load_subject(&cfg, 1).unwrap()
}

fn qssm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_qssm"))
        .args(args)
        .output()
        .expect("qssm runs")
}

fn one_line_error(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure; stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{:?} lacks {needle:?}",
        lines[0]
    );
}

/// Replays S001R04 through `model` with `opts` and checks the trials against the loader's
/// windows; returns (mode, hop predictions seen).
fn check_replay(
    what: &str,
    model: &Engine,
    set: &EpochSet,
    opts: &ReplayOptions,
    tol: f32,
) -> (Mode, usize) {
    let rec = Recording::load(&edf(), model.channels(), model.sfreq()).unwrap();
    assert_eq!((rec.source_sfreq, rec.sfreq), (160.0, 40.0));
    let mut hops = Vec::new();
    let mut skipped = 0;
    let report = replay(model, &rec, opts, &mut |ev| match ev {
        ReplayEvent::Hop(h) => hops.push((h.samples_seen, h.sample)),
        ReplayEvent::Skipped { .. } => skipped += 1,
        ReplayEvent::Trial(_) => {}
    })
    .unwrap();
    assert_eq!(report.skipped, skipped);
    assert_eq!(
        report.trials.len(),
        set.n_trials(),
        "{what}: trials vs the loader's windows"
    );
    let mut dmax = 0.0f32;
    for (i, t) in report.trials.iter().enumerate() {
        assert_eq!(t.cue.label, set.y[i] as usize, "{what}: label of trial {i}");
        let want = model.classify_window(set.trial(i)).unwrap();
        let d = t
            .logits
            .iter()
            .zip(&want.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(d <= tol, "{what}: trial {i} logits differ by {d:e}");
        assert_eq!(t.class, want.class, "{what}: class of trial {i}");
        dmax = dmax.max(d);
    }
    if let Mode::Streamed { hop } = report.mode {
        assert_eq!(report.latency.count(), report.samples);
        assert_eq!(report.hops, hops.len());
        assert!(!hops.is_empty());
        assert!(hops.iter().all(|(n, _)| n % hop as u64 == 0));
    } else {
        assert_eq!(report.latency.count(), report.trials.len());
        assert!(hops.is_empty());
    }
    eprintln!(
        "{what}: {:?}, {} trials ({} skipped), accuracy {:.3}, max |stream − window| logit {dmax:e}, p50 {:.1} µs p99 {:.1} µs",
        report.mode,
        report.trials.len(),
        report.skipped,
        report.accuracy().unwrap(),
        report.latency.percentile_us(50.0).unwrap(),
        report.latency.percentile_us(99.0).unwrap()
    );
    (report.mode, hops.len())
}

/// A card with input conditioning (1–15 Hz order-4 band-pass, per-channel z-score of the
/// training windows): the streamed 3b (filter and normalisation in every push) and the windowed
/// 1c (the whole recording conditioned first) give the predictions of `classify_window` on the
/// loader's conditioned windows.
#[test]
fn replay_of_a_conditioned_model_matches_the_conditioned_loader_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = FilterSpec {
        fs: 40.0,
        highpass_hz: Some(1.0),
        lowpass_hz: Some(15.0),
        order: 4,
        notch_hz: None,
        notch_q: 30.0,
    };
    let sos = design(&spec).unwrap();
    let mut cfg = EegmmidbConfig::new(bundled(), 40);
    cfg.runs = vec![4];
    cfg.filter = sos;
    let mut set = load_subject(&cfg, 1).unwrap();
    let stats = channel_stats(&set).unwrap();
    apply_stats(&mut set, &stats);
    let pre = serde_json::json!({
        "filter": card_entry(&sos, &spec),
        "normalisation": normalisation_card(&stats),
    });
    for (id, tol) in [("3b", 1e-4f32), ("1c", 1e-6)] {
        let path = tmp.path().join(format!("{id}-conditioned.safetensors"));
        write_model_with(&path, id, false, None, pre.clone());
        let model = Engine::from_path(&path).unwrap();
        assert!(!model.input_filter().is_identity() && model.normalisation().is_some());
        let (mode, _) = check_replay(
            &format!("{id} conditioned"),
            &model,
            &set,
            &ReplayOptions::default(),
            tol,
        );
        assert_eq!(
            matches!(mode, Mode::Streamed { .. }),
            id == "3b",
            "{mode:?}"
        );
    }
}

#[test]
fn replay_matches_the_loader_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let set = loader_windows();
    assert!(set.n_trials() >= 10);

    // 3b streams sample by sample; default hop 0.25 s = 10 samples at 40 Hz
    let p3b = tmp.path().join("3b.safetensors");
    write_model(&p3b, "3b", false, None);
    let m3b = Engine::from_path(&p3b).unwrap();
    let (mode, _) = check_replay("3b", &m3b, &set, &ReplayOptions::default(), 1e-4);
    assert_eq!(mode, Mode::Streamed { hop: 10 });
    // the same samples handed over in µV (the engine converts to mV): same classes
    let opts = ReplayOptions {
        unit: Some(Unit::Microvolt),
        hop: Some(25),
        ..ReplayOptions::default()
    };
    let (mode, _) = check_replay("3b in µV", &m3b, &set, &opts, 1e-4);
    assert_eq!(mode, Mode::Streamed { hop: 25 });

    // causal 1b streams chunk by chunk: the default hop rounds up to its 32-sample step
    let p1b = tmp.path().join("1b-causal.safetensors");
    write_model(&p1b, "1b", true, None);
    let m1b = Engine::from_path(&p1b).unwrap();
    assert!(m1b.can_stream());
    let (mode, _) = check_replay("causal 1b", &m1b, &set, &ReplayOptions::default(), 1e-4);
    assert_eq!(mode, Mode::Streamed { hop: 32 });

    // 1c cannot stream: one classify_window per trial, no hops
    let p1c = tmp.path().join("1c.safetensors");
    write_model(&p1c, "1c", false, None);
    let m1c = Engine::from_path(&p1c).unwrap();
    let (mode, hops) = check_replay("1c", &m1c, &set, &ReplayOptions::default(), 0.0);
    assert!(
        matches!(&mode, Mode::Windowed { reason } if reason.contains("cannot stream")),
        "{mode:?}"
    );
    assert_eq!(hops, 0);
}

#[test]
fn replay_duration_limits_and_paces() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("3b.safetensors");
    write_model(&p, "3b", false, None);
    let m = Engine::from_path(&p).unwrap();
    let rec = Recording::load(&edf(), m.channels(), m.sfreq()).unwrap();
    // 0.6 s: no trial window fits (the first cue of S001R04 is at 4.2 s)
    let opts = ReplayOptions {
        duration_s: Some(0.6),
        realtime: true,
        ..ReplayOptions::default()
    };
    let t0 = Instant::now();
    let report = replay(&m, &rec, &opts, &mut |_| {}).unwrap();
    let wall = t0.elapsed().as_secs_f64();
    assert_eq!(report.samples, 24);
    assert!(report.trials.is_empty());
    assert!(
        wall >= 0.55,
        "real-time replay of 0.6 s took {wall:.3} s of wall time"
    );
}

#[test]
fn qssm_stream_binary_prints_hops_trials_accuracy_and_latency() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("3b.safetensors");
    write_model(&p, "3b", false, None);
    let o = qssm(&[
        "stream",
        "--model",
        p.to_str().unwrap(),
        "--edf",
        edf().to_str().unwrap(),
        "--hop",
        "20",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("mode: streaming sample by sample"), "{out}");
    assert!(out.contains("resampled to 40 Hz"), "{out}");
    let n_trials = loader_windows().n_trials();
    let trial_lines = out
        .lines()
        .filter(|l| l.starts_with("trial") && !l.contains("skipped"))
        .count();
    assert_eq!(trial_lines, n_trials, "{out}");
    assert!(out.lines().any(|l| l.starts_with("hop ")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("trials: {n_trials} classified"))
                && l.contains("accuracy")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("push latency: p50") && l.contains("p99")),
        "{out}"
    );

    // --trials-only: no hop lines; a not-streamable model says it classifies windows
    let p1c = tmp.path().join("1c.safetensors");
    write_model(&p1c, "1c", false, None);
    let o = qssm(&[
        "stream",
        "--model",
        p1c.to_str().unwrap(),
        "--edf",
        edf().to_str().unwrap(),
        "--trials-only",
        "--unit",
        "uV",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("cannot stream") && out.contains("classify_window instead"),
        "{out}"
    );
    assert!(!out.lines().any(|l| l.starts_with("hop ")), "{out}");
    assert!(out.contains("classify_window latency: p50"), "{out}");
}

#[test]
fn qssm_stream_errors_are_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("3b.safetensors");
    write_model(&p, "3b", false, None);
    let (model, edf) = (p.to_str().unwrap(), edf());
    let edf = edf.to_str().unwrap();
    one_line_error(
        &qssm(&["stream", "--model", model, "--edf", edf, "--hop", "0"]),
        "hop 0",
    );
    let o = qssm(&["stream", "--model", model, "--edf", edf, "--unit", "kV"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown unit"));
    one_line_error(
        &qssm(&["stream", "--model", model, "--edf", "/nonexistent.edf"]),
        "nonexistent.edf",
    );
    // a card channel the file lacks is named
    let mut chans: Vec<String> = EEGMMIDB_CHANNELS.iter().map(|s| s.to_string()).collect();
    chans[5] = "Xq9".into();
    let bad = tmp.path().join("bad.safetensors");
    write_model(&bad, "3b", false, Some(chans));
    one_line_error(
        &qssm(&["stream", "--model", bad.to_str().unwrap(), "--edf", edf]),
        "Xq9",
    );
    // labels match without the BCI2000 padding dots, case-insensitively
    let chans: Vec<String> = EEGMMIDB_CHANNELS
        .iter()
        .map(|s| s.trim_end_matches('.').to_uppercase())
        .collect();
    let loose = tmp.path().join("loose.safetensors");
    write_model(&loose, "3b", false, Some(chans));
    let m = Engine::from_path(&loose).unwrap();
    let rec = Recording::load(Path::new(edf), m.channels(), m.sfreq()).unwrap();
    assert_eq!(rec.source_labels[8], "C3..");
    assert_eq!(rec.channels[8], "C3");
}

/// `--continuous`: the file as a live stream (no trials, one prediction per hop over everything
/// so far, the live summary); `--lsl-in`/`--lsl-out` and `qssm replay` need feature `lsl`
/// (without it, one error line that says how to build it; with it, `lsl_roundtrip.rs`).
#[test]
fn qssm_stream_continuous_and_lsl_without_the_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("3b.safetensors");
    write_model(&p, "3b", false, None);
    let (model, edf) = (p.to_str().unwrap(), edf());
    let edf = edf.to_str().unwrap();
    let o = qssm(&[
        "stream",
        "--model",
        model,
        "--edf",
        edf,
        "--continuous",
        "--duration",
        "10",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("mode: the recording as a live stream"),
        "{out}"
    );
    let hops: Vec<&str> = out.lines().filter(|l| l.starts_with("hop ")).collect();
    assert_eq!(hops.len(), 40, "10 s at 40 Hz, hop 10: {out}");
    assert!(hops[39].contains("n =    400"), "{}", hops[39]);
    assert!(!out.lines().any(|l| l.starts_with("trial")), "{out}");
    assert!(out.contains("stopped: the stream ended"), "{out}");
    assert!(
        out.contains("latency (sample timestamp → prediction): p50"),
        "{out}"
    );
    // --lsl-out needs a live session
    one_line_error(
        &qssm(&["stream", "--model", model, "--edf", edf, "--lsl-out", "x"]),
        "--lsl-in or --continuous",
    );
    if cfg!(not(feature = "lsl")) {
        one_line_error(
            &qssm(&["stream", "--model", model, "--lsl-in", "amp"]),
            "built without LSL support",
        );
        one_line_error(
            &qssm(&["replay", "--edf", edf, "--lsl-out", "amp"]),
            "built without LSL support",
        );
    }
}

/// A flat channel (physical minimum = maximum) in a recording is read (as its constant) and
/// reported: in [`Recording::warnings`] and as a `warning:` line of `qssm stream`.
#[test]
fn qssm_stream_warns_about_a_flat_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(edf()).unwrap();
    // signal 3's physical maximum (after the labels, transducers, units and minima of the 65
    // signals) := its minimum
    let ns = 65;
    let pmax = 256 + ns * (16 + 80 + 8 + 8) + 3 * 8;
    bytes[pmax..pmax + 8].copy_from_slice(b"-8092   ");
    let flat = tmp.path().join("flat.edf");
    std::fs::write(&flat, &bytes).unwrap();
    let model = tmp.path().join("m.safetensors");
    write_model(&model, "3b", false, None);
    let m = Engine::from_path(&model).unwrap();
    let rec = Recording::load(&flat, m.channels(), m.sfreq()).unwrap();
    assert_eq!(rec.warnings.len(), 1, "{:?}", rec.warnings);
    assert!(rec.warnings[0].contains("flat"), "{:?}", rec.warnings);
    let o = qssm(&[
        "stream",
        "--model",
        model.to_str().unwrap(),
        "--edf",
        flat.to_str().unwrap(),
        "--trials-only",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning: ") && l.contains("signal 3") && l.contains("flat")),
        "{err}"
    );
}
