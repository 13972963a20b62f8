//! A generated corpus of malformed and suspicious inputs, one case per class of the hardening
//! issue, through every consumer that reads it: the EDF cases through the training loader
//! (`trainer classify` loads the runs with it), `qssm stream` and `trainer classify`; the
//! model-file cases through the engine (`Model::from_bytes`, which the C ABI's
//! `qssm_model_load` wraps and `bindings-c`'s tests exercise), `qssm stream` and `trainer
//! classify`. Each bad input must give a typed error in one line (never a panic or an abort),
//! each suspicious but legal one a `warning:` line. Files are patched copies of the bundled
//! S001 recordings and of a freshly exported model (nothing binary is checked in).
mod support;

use qssm_engine::Model as Engine;
use qssm_formats::model_file::{ModelFile, TensorDtype};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn s001() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb/S001")
}

/// A random-init 3b at the 40 Hz EEG configuration with the EEGMMIDB channels, in mV.
fn good_model(path: &Path) {
    support::write_eeg_model(path, "3b", false, 3);
}

/// `good` with its card changed by `f`, re-serialised.
fn with_card(good: &[u8], f: impl Fn(&mut qssm_formats::model_file::ModelCard)) -> Vec<u8> {
    let file = ModelFile::parse(good).unwrap();
    let mut card = file.card.clone();
    f(&mut card);
    file.to_bytes_with_card(&card, TensorDtype::F32).unwrap()
}

/// Offsets of the EDF header fields of signal `s` of `ns` (label, unit, physical min/max).
fn label_at(s: usize) -> usize {
    256 + s * 16
}
fn unit_at(ns: usize, s: usize) -> usize {
    256 + ns * (16 + 80) + s * 8
}
fn pmax_at(ns: usize, s: usize) -> usize {
    256 + ns * (16 + 80 + 8 + 8) + s * 8
}

fn put(b: &mut [u8], at: usize, width: usize, text: &str) {
    let mut f = text.as_bytes().to_vec();
    f.resize(width, b' ');
    b[at..at + width].copy_from_slice(&f);
}

fn run(bin: &str, args: &[&str]) -> Output {
    let exe = match bin {
        "qssm" => env!("CARGO_BIN_EXE_qssm"),
        _ => env!("CARGO_BIN_EXE_trainer"),
    };
    Command::new(exe).args(args).output().expect("runs")
}

/// A failure with exactly one `error:` line mentioning `needle`, and no panic.
fn one_line_error(what: &str, o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{what}: accepted; stderr: {err}");
    assert!(!err.contains("panicked"), "{what}: panicked: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{what}: {err}");
    assert!(
        errors[0].to_lowercase().contains(&needle.to_lowercase()),
        "{what}: {:?} lacks {needle:?}",
        errors[0]
    );
}

/// A `warning:` line mentioning `needle`, and no panic.
fn warned(what: &str, o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{what}: panicked: {err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning: ") && l.contains(needle)),
        "{what}: no warning about {needle:?}: {err}"
    );
}

#[test]
fn malformed_edf_files_give_typed_errors_or_warnings_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("3b.safetensors");
    good_model(&model);
    let model = model.to_str().unwrap().to_string();
    let good = std::fs::read(s001().join("S001R04.edf")).unwrap();
    let ns = 65;
    // (case, patched bytes, expected of `qssm stream` and of the loader: Err(error needle)
    // or Ok(warning needle))
    type Want = Result<&'static str, &'static str>;
    type Case = (&'static str, Vec<u8>, Want, Want);
    let patched = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: Vec<Case> = vec![
        (
            "truncated",
            good[..good.len() / 3].to_vec(),
            Err("truncated"),
            Err("truncated"),
        ),
        (
            "not EDF",
            b"plain text, not an EDF file at all".repeat(10),
            Err("EDF"),
            Err("EDF"),
        ),
        (
            "zero record duration",
            patched(&|b| put(b, 244, 8, "0")),
            Err("sample rate"),
            Err("sample rate"),
        ),
        (
            "negative record duration",
            patched(&|b| put(b, 244, 8, "-1")),
            Err("record"),
            Err("record"),
        ),
        (
            "subnormal record duration",
            patched(&|b| put(b, 244, 8, "1e-310")),
            Err("sample rate"),
            Err("sample rate"),
        ),
        (
            "huge record duration",
            patched(&|b| put(b, 244, 8, "1e30")),
            Err("sample rate"),
            Err("sample rate"),
        ),
        (
            "absurd record count",
            patched(&|b| put(b, 236, 8, "99999999")),
            Err("truncated"),
            Err("truncated"),
        ),
        (
            "absurd signal count",
            patched(&|b| put(b, 252, 4, "9999")),
            Err("EDF"),
            Err("EDF"),
        ),
        (
            "flat channel",
            patched(&|b| put(b, pmax_at(ns, 3), 8, "-8092")),
            Ok("flat"),
            Ok("flat"),
        ),
        // the model needs Fc3., which the file no longer names: stream names it; the loader
        // (every signal, in file order) warns first
        (
            "duplicate label",
            patched(&|b| put(b, label_at(1), 16, "fc5.")),
            Err("Fc3"),
            Ok("both labelled"),
        ),
        (
            "unit spelling",
            patched(&|b| put(b, unit_at(ns, 2), 8, "UV")),
            Ok("read as"),
            Ok("read as"),
        ),
        (
            "damaged annotation label",
            patched(&|b| put(b, label_at(64), 16, "EDF Annotatoins")),
            Ok("EDF Annotations"),
            Ok("EDF Annotations"),
        ),
    ];
    for (name, bytes, want_stream, want_loader) in cases {
        // `qssm stream` on the file
        let edf = tmp.path().join(format!("{}.edf", name.replace(' ', "_")));
        std::fs::write(&edf, &bytes).unwrap();
        let o = run(
            "qssm",
            &[
                "stream",
                "--model",
                &model,
                "--edf",
                edf.to_str().unwrap(),
                "--trials-only",
            ],
        );
        match want_stream {
            Err(needle) => one_line_error(&format!("stream {name}"), &o, needle),
            Ok(needle) => warned(&format!("stream {name}"), &o, needle),
        }
        // the training loader, through `trainer classify` on a data directory holding the
        // patched run 4 next to the good runs 8 and 12
        let root = tmp.path().join(format!("data_{}", name.replace(' ', "_")));
        std::fs::create_dir_all(root.join("S001")).unwrap();
        std::fs::write(root.join("S001/S001R04.edf"), &bytes).unwrap();
        for r in ["S001R08.edf", "S001R12.edf"] {
            std::fs::copy(s001().join(r), root.join("S001").join(r)).unwrap();
        }
        let cache = tmp.path().join(format!("cache_{}", name.replace(' ', "_")));
        let o = run(
            "trainer",
            &[
                "classify",
                "--model-file",
                &model,
                "--data",
                root.to_str().unwrap(),
                "--subjects",
                "1",
                "--cache-dir",
                cache.to_str().unwrap(),
            ],
        );
        match want_loader {
            Err(needle) => one_line_error(&format!("classify {name}"), &o, needle),
            Ok(needle) => warned(&format!("classify {name}"), &o, needle),
        }
    }
}

#[test]
fn malformed_model_files_give_typed_errors_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("good.safetensors");
    good_model(&path);
    let good = std::fs::read(&path).unwrap();
    let edf = s001().join("S001R04.edf");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() / 2].to_vec(), "safetensors"),
        ("garbage", vec![0xFF; 4096], "safetensors"),
        (
            "sfreq extreme",
            with_card(&good, |c| c.input.sfreq = 1e12),
            "input.sfreq",
        ),
        (
            "sfreq zero",
            with_card(&good, |c| c.input.sfreq = 0.0),
            "input.sfreq",
        ),
        (
            "n_times contradiction",
            with_card(&good, |c| c.input.n_times = 124),
            "input.n_times",
        ),
        (
            "duplicate channel",
            with_card(&good, |c| c.input.channels[1] = c.input.channels[0].clone()),
            "input.channels",
        ),
        (
            "dropout out of range",
            with_card(&good, |c| c.hyperparameters.dropout = 2.0),
            "dropout",
        ),
        (
            "unit",
            with_card(&good, |c| c.input.unit = "mv".into()),
            "input.unit",
        ),
        (
            "d_model mismatch",
            with_card(&good, |c| c.hyperparameters.d_model = 64),
            "shape",
        ),
    ];
    for (name, bytes, needle) in cases {
        // the engine (the C ABI's qssm_model_load wraps it)
        match Engine::from_bytes(&bytes) {
            Ok(_) => panic!("engine accepted {name}"),
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.contains('\n'), "{name}: {msg}");
                assert!(
                    msg.to_lowercase().contains(&needle.to_lowercase()),
                    "{name}: {msg:?} lacks {needle:?}"
                );
            }
        }
        let bad = tmp
            .path()
            .join(format!("{}.safetensors", name.replace(' ', "_")));
        std::fs::write(&bad, &bytes).unwrap();
        let bad = bad.to_str().unwrap();
        let o = run(
            "qssm",
            &["stream", "--model", bad, "--edf", edf.to_str().unwrap()],
        );
        one_line_error(&format!("stream {name}"), &o, needle);
        let o = run(
            "trainer",
            &["classify", "--model-file", bad, "--subjects", "1"],
        );
        one_line_error(&format!("classify {name}"), &o, needle);
    }
}

/// Zero sizes on the command line of `trainer bench` are one-line errors (a zero window
/// length or channel count used to panic inside the model or its initialiser).
#[test]
fn zero_sizes_on_the_bench_command_line_are_errors() {
    for flag in [
        "--batch-size",
        "--n-times",
        "--channels",
        "--chunk-size",
        "--steps",
    ] {
        let o = run("trainer", &["bench", "--model", "3b", flag, "0"]);
        one_line_error(&format!("bench {flag} 0"), &o, flag);
    }
}

/// `qssm stream --duration` must be a positive number of seconds (a negative or NaN value used
/// to replay the whole recording without a word).
#[test]
fn bad_stream_durations_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("3b.safetensors");
    good_model(&model);
    let edf = s001().join("S001R04.edf");
    for d in ["0", "-1", "nan", "inf", "ten"] {
        let o = run(
            "qssm",
            &[
                "stream",
                "--model",
                model.to_str().unwrap(),
                "--edf",
                edf.to_str().unwrap(),
                &format!("--duration={d}"),
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "--duration {d} accepted: {err}");
        assert!(err.contains("positive number of seconds"), "{err}");
    }
}
