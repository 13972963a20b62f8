//! LSL round trip on loopback (feature `lsl`): `qssm replay --lsl-out` publishes a bundled
//! EDF+ recording (S001R04) as a live EEG stream, `qssm stream --lsl-in … --lsl-out …` runs it
//! through a random-init 3b (64 channels, 40 Hz, mV) and publishes the predictions, and this
//! test reads them back over LSL. They must equal the same live session run in-process on the
//! file (`qssm stream --edf … --continuous`): same count, same classes, same logits (the f32
//! samples cross LSL unchanged, so the difference is 0; the bound is 1e-6).
//!
//! * at the model's rate (the replay resamples the file with the trainer's FFT first);
//! * at the file's 160 Hz (the stream resamples causally, as the in-process session does);
//! * a stream lacking the model's channels: `qssm stream` gives one error line before any
//!   sample is pushed;
//! * the stream stopping: `qssm stream` ends with a timeout message, exit status 0, the
//!   latency percentiles printed.
//!
//! **Network**: LSL discovery uses multicast/broadcast unless configured. This test refuses to
//! run unless `LSLAPICFG` is set (`.ci/lsl/lsl_api.cfg`, loopback only) and the process is in
//! a network namespace with only the loopback interface. Run it through `.ci/lsl/run-local.sh`
//! (see `.ci/lsl/roundtrip.sh`).
#![cfg(feature = "lsl")]

mod support;

use qssm_engine::{Model as Engine, Unit};
use qssm_trainer::data::EEGMMIDB_CHANNELS;
use qssm_trainer::live::{self, LiveEvent, LiveOptions, NoSink, RecordingSource};
use qssm_trainer::replay::Recording;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

fn edf() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb/S001/S001R04.edf")
}

/// Panics unless LSL is confined to this machine (see the module docs).
fn require_loopback_only() {
    let cfg = std::env::var("LSLAPICFG").unwrap_or_default();
    assert!(
        !cfg.is_empty() && Path::new(&cfg).is_file(),
        "LSLAPICFG must name the loopback-only lsl_api.cfg: run this test through .ci/lsl/run-local.sh"
    );
    let dev = std::fs::read_to_string("/proc/self/net/dev").expect("/proc/self/net/dev");
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(
        ifaces,
        ["lo"],
        "LSL tests run only in a network namespace with just the loopback interface (.ci/lsl/run-local.sh)"
    );
}

fn qssm(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_qssm"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qssm runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Reads the prediction stream `name` until it is quiet for 5 s: (probabilities, logits) per
/// prediction; checks its description on the way.
fn read_predictions(name: &str) -> Vec<(Vec<f32>, Vec<f32>)> {
    use lsl::Pullable;
    let found = lsl::resolve_byprop("name", name, 1, 30.0).unwrap();
    let info = found.first().expect("the prediction stream appears");
    assert_eq!(info.stream_type(), "Classification");
    assert_eq!(info.channel_count(), 4);
    let inlet = lsl::StreamInlet::new(info, 60, 0, false).unwrap();
    let mut full = inlet.info(10.0).unwrap();
    let desc = full.desc();
    assert_eq!(desc.child("model").child_value_named("id"), "3b");
    let mut ch = desc.child("channels").child("channel");
    let mut labels = Vec::new();
    while !ch.empty() {
        labels.push(ch.child_value_named("label"));
        ch = ch.next_sibling_named("channel");
    }
    assert_eq!(labels, ["p0", "p1", "logit0", "logit1"]);
    inlet.open_stream(10.0).unwrap();
    let mut got = Vec::new();
    // quiet for 5 s, or the outlet gone (the stream ended): done; a missing prediction fails
    // the count check of the caller
    while let Ok((s, _ts)) = Pullable::<f32>::pull_sample(&inlet, 5.0) {
        if s.is_empty() {
            break;
        }
        got.push((s[..2].to_vec(), s[2..].to_vec()));
    }
    got
}

/// The same session in-process: the recording at `sfreq` (as `qssm replay` publishes it, in
/// µV) through `live::run`: (samples seen, class, logits) per prediction.
fn expected(model: &Path, sfreq: f64, seconds: f64) -> Vec<(u64, usize, Vec<f32>)> {
    let engine = Engine::from_path(model).unwrap();
    let labels: Vec<String> = EEGMMIDB_CHANNELS.iter().map(|s| s.to_string()).collect();
    let rec = Recording::load(&edf(), &labels, sfreq).unwrap();
    let n = (seconds * sfreq) as usize;
    let mut src = RecordingSource::new(&rec, Unit::Microvolt, Some(n), None);
    let layout = src.layout("in-process");
    let mut out = Vec::new();
    live::run(
        &engine,
        &layout,
        &mut src,
        &mut NoSink,
        &LiveOptions::default(),
        &mut |ev| {
            if let LiveEvent::Prediction(p) = ev {
                out.push((p.samples_seen, p.class, p.logits.to_vec()));
            }
        },
    )
    .unwrap();
    out
}

/// One round trip: replay at `sfreq` (None: the file's 160 Hz) for `seconds`, stream, read
/// back, compare with the in-process session.
fn round_trip(model: &Path, tag: &str, sfreq: Option<f64>, seconds: f64) {
    let (eeg, pred) = (
        format!("qssm-test-eeg-{tag}"),
        format!("qssm-test-pred-{tag}"),
    );
    let e = edf().display().to_string();
    let secs = seconds.to_string();
    let mut replay_args = vec![
        "replay",
        "--edf",
        &e,
        "--lsl-out",
        &eeg,
        "--duration",
        &secs,
        "--speed",
        "4",
        "--wait-consumer",
        "60",
    ];
    let rate = sfreq.map(|s| s.to_string());
    if let Some(r) = &rate {
        replay_args.extend(["--sfreq", r]);
    }
    let replay = qssm(&replay_args);
    let m = model.display().to_string();
    let stream = qssm(&[
        "stream",
        "--model",
        &m,
        "--lsl-in",
        &eeg,
        "--lsl-out",
        &pred,
        "--wait-consumer",
        "60",
        "--timeout",
        "3",
        "--trials-only",
    ]);
    let got = read_predictions(&pred);
    let (so, se) = text(&stream.wait_with_output().unwrap());
    let (ro, re) = text(&replay.wait_with_output().unwrap());
    eprintln!("--- replay ({tag})\n{ro}{re}--- stream ({tag})\n{so}{se}");
    let published = (seconds * sfreq.unwrap_or(160.0)) as usize;
    assert!(
        ro.contains(&format!("published {published} samples")),
        "{ro}{re}"
    );
    assert!(
        so.contains("stopped: the stream stopped: no sample for 3 s"),
        "{so}{se}"
    );
    assert!(
        so.contains("latency (sample timestamp → prediction): p50"),
        "{so}"
    );
    if sfreq.is_none() {
        assert!(so.contains("resampled causally ×1/4"), "{so}");
    }
    let want = expected(model, sfreq.unwrap_or(160.0), seconds);
    assert_eq!(got.len(), want.len(), "{tag}: predictions");
    assert!(!want.is_empty());
    let mut worst = 0.0f32;
    for ((probs, logits), (_, class, w)) in got.iter().zip(&want) {
        let argmax = usize::from(logits[1] > logits[0]);
        assert_eq!(argmax, *class, "{tag}: class");
        assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        for (a, b) in logits.iter().zip(w) {
            worst = worst.max((a - b).abs());
        }
    }
    eprintln!("{tag}: {} predictions, max |Δlogit| = {worst:e}", got.len());
    assert!(worst <= 1e-6, "{tag}: logits differ by {worst}");
}

#[test]
fn lsl_round_trip_equals_the_file_replay_and_refuses_a_misfit_stream() {
    require_loopback_only();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("3b.safetensors");
    support::write_eeg_model(&model, "3b", false, 11);
    round_trip(&model, "40hz", Some(40.0), 10.0);
    round_trip(&model, "160hz", None, 10.0);

    // a stream without the model's channels: one error line, nothing pushed
    let e = edf().display().to_string();
    let mut replay = qssm(&[
        "replay",
        "--edf",
        &e,
        "--lsl-out",
        "qssm-test-eeg-misfit",
        "--channels",
        "C3..,C4..",
        "--wait-consumer",
        "20",
    ]);
    let m = model.display().to_string();
    let o = qssm(&[
        "stream",
        "--model",
        &m,
        "--lsl-in",
        "qssm-test-eeg-misfit",
        "--timeout",
        "3",
    ])
    .wait_with_output()
    .unwrap();
    let _ = replay.kill();
    let _ = replay.wait();
    let (so, se) = text(&o);
    assert!(!o.status.success(), "{so}{se}");
    let errors: Vec<&str> = se.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{se}");
    assert!(
        errors[0].contains("lacks the model's channel(s)")
            && errors[0].contains("qssm-test-eeg-misfit"),
        "{}",
        errors[0]
    );
    assert!(!so.contains("hop"), "no prediction: {so}");
}
