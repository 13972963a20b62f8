//! End-to-end tests of `trainer fit` on the bundled EEG sample (`data/eegmmidb`): a short run
//! succeeds and writes its outputs; the same seed gives a bit-identical model file whatever the
//! thread count; bad input gives a one-line error, a non-zero exit and no output files.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bundled() -> PathBuf {
    workspace().join("data").join("eegmmidb")
}

fn trainer(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("trainer runs")
}

fn fit_args<'a>(data: &'a str, out: &'a str, model: &'a str) -> Vec<&'a str> {
    vec![
        "fit",
        "--model",
        model,
        "--data",
        data,
        "--subjects",
        "1-4",
        "--epochs",
        "1",
        "--no-progress",
        "--out",
        out,
        "--sfreq",
        "40",
    ]
}

/// Asserts a failed run: non-zero exit, stderr is exactly one `error: …` line containing
/// `needle`, and nothing was written to `out`.
fn assert_clean_failure(o: &Output, needle: &str, out: &Path) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected a one-line error, got: {err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "error line {:?} lacks {needle:?}",
        lines[0]
    );
    assert!(
        !out.join("model.safetensors").exists(),
        "a model file was written despite the error"
    );
}

#[test]
fn fit_runs_and_is_bit_reproducible_across_thread_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = bundled();
    let data = data.to_str().unwrap();
    let mut files = Vec::new();
    for (i, threads) in ["1", "2"].iter().enumerate() {
        let out = tmp.path().join(format!("run{i}"));
        let out_s = out.to_str().unwrap().to_string();
        let mut args = fit_args(data, &out_s, "3b");
        args.extend(["--threads", threads]);
        let o = trainer(&args, tmp.path());
        assert!(
            o.status.success(),
            "fit failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.contains("test: acc"),
            "no test metrics printed: {stdout}"
        );
        let results: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
        assert_eq!(results["history"].as_array().unwrap().len(), 1);
        assert!(results["metrics"]["test"]["acc"].as_f64().unwrap() >= 0.0);
        files.push(std::fs::read(out.join("model.safetensors")).unwrap());
    }
    assert!(
        files[0] == files[1],
        "same seed, different thread count: model files differ"
    );
}

#[test]
fn missing_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = trainer(
        &fit_args("no/such/dir", out.to_str().unwrap(), "1b"),
        tmp.path(),
    );
    assert_clean_failure(&o, "does not exist", &out);
}

#[test]
fn unknown_model_id() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let data = bundled();
    let o = trainer(
        &fit_args(data.to_str().unwrap(), out.to_str().unwrap(), "9z"),
        tmp.path(),
    );
    assert_clean_failure(&o, "unknown model '9z'", &out);
}

/// `--sfreq 0` is a typed error (it used to panic in the resampler's planner).
#[test]
fn zero_sample_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let data = bundled();
    let mut args = fit_args(data.to_str().unwrap(), out.to_str().unwrap(), "3b");
    *args.last_mut().unwrap() = "0";
    let o = trainer(&args, tmp.path());
    assert_clean_failure(&o, "rates must be finite and positive", &out);
}

/// A data directory with subjects 1..=4 where subject 1's R04 is replaced by `bytes`.
fn data_with_bad_run(root: &Path, bytes: &[u8]) {
    for s in 1..=4u32 {
        let dir = root.join(format!("S{s:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for r in [4u8, 8, 12] {
            let name = format!("S{s:03}R{r:02}.edf");
            let src = bundled().join(format!("S{s:03}")).join(&name);
            if s == 1 && r == 4 {
                std::fs::write(dir.join(&name), bytes).unwrap();
            } else {
                std::fs::copy(src, dir.join(&name)).unwrap();
            }
        }
    }
}

fn run_on_bad_data(bytes: &[u8], needle: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    data_with_bad_run(&data, bytes);
    let out = tmp.path().join("out");
    let o = trainer(
        &fit_args(data.to_str().unwrap(), out.to_str().unwrap(), "1b"),
        tmp.path(),
    );
    assert_clean_failure(&o, needle, &out);
}

fn real_run() -> Vec<u8> {
    std::fs::read(bundled().join("S001").join("S001R04.edf")).unwrap()
}

#[test]
fn non_edf_file() {
    run_on_bad_data(
        b"this is not an EDF file at all, just some text padding it out.",
        "S001R04.edf",
    );
}

#[test]
fn truncated_edf() {
    let full = real_run();
    run_on_bad_data(&full[..full.len() / 2], "truncated");
}

#[test]
fn edf_without_cue_annotations() {
    // turn every T1/T2 cue into T0 (rest): the run then has no usable events
    let mut b = real_run();
    for i in 0..b.len() - 3 {
        if b[i] == 0x14
            && b[i + 1] == b'T'
            && (b[i + 2] == b'1' || b[i + 2] == b'2')
            && b[i + 3] == 0x14
        {
            b[i + 2] = b'0';
        }
    }
    run_on_bad_data(&b, "annotations");
}

/// The reference constructors' hyperparameters from the command line: 1b with 4 qubits,
/// d_model 64, d_state 8 and one layer trains, the model card records them, and the engine
/// classifies the test subjects with the file (`trainer classify`).
#[test]
fn hyperparameters_from_the_command_line_reach_the_card_and_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let data = bundled();
    let data = data.to_str().unwrap();
    let out = tmp.path().join("run");
    let out_s = out.to_str().unwrap().to_string();
    let mut args = fit_args(data, &out_s, "1b");
    args.extend([
        "--n-qubits",
        "4",
        "--d-model",
        "64",
        "--d-state",
        "8",
        "--n-layers",
        "1",
        "--dropout",
        "0.2",
    ]);
    let o = trainer(&args, tmp.path());
    assert!(
        o.status.success(),
        "fit failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let file = qssm_formats::model_file::ModelFile::parse(&bytes).expect("model file parses");
    let h = &file.card.hyperparameters;
    assert_eq!(
        (h.n_qubits, h.d_model, h.d_state, h.n_layers),
        (4, 64, 8, 1),
        "hyperparameters in the card"
    );
    assert!((h.dropout - 0.2).abs() < 1e-6);
    let model = out.join("model.safetensors");
    let o = trainer(
        &[
            "classify",
            "--model-file",
            model.to_str().unwrap(),
            "--data",
            data,
        ],
        tmp.path(),
    );
    assert!(
        o.status.success(),
        "classify failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn impossible_hyperparameters_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let data = bundled();
    let data = data.to_str().unwrap();
    let out = tmp.path().join("run");
    let out_s = out.to_str().unwrap().to_string();
    for (flag, value, needle) in [
        ("--d-model", "100", "--d-model 100"),
        ("--n-qubits", "40", "--n-qubits 40"),
        ("--dropout", "1.5", "--dropout 1.5"),
        ("--hidden-dim", "0", "--hidden-dim must be at least 1"),
        ("--chunk-size", "0", "--chunk-size and --hidden-dim"),
    ] {
        let mut args = fit_args(data, &out_s, "3b");
        args.extend([flag, value]);
        assert_clean_failure(&trainer(&args, tmp.path()), needle, &out);
    }
}
