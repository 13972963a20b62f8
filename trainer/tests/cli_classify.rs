//! `trainer classify` end to end: a freshly trained model file runs through the engine and
//! reproduces the trainer's test accuracy; corrupt or mismatched model files give a one-line
//! error and a non-zero exit.
use qssm_formats::model_file::{to_bytes, ModelFile, TensorDtype, TensorOut};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bundled() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("data")
        .join("eegmmidb")
}

fn trainer(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("trainer runs")
}

/// Trains 1b for one epoch on subjects 1–4 at 40 Hz and returns (out dir, fit stdout).
fn train(tmp: &Path) -> (PathBuf, String) {
    let out = tmp.join("run");
    let data = bundled();
    let o = trainer(
        &[
            "fit",
            "--model",
            "1b",
            "--data",
            data.to_str().unwrap(),
            "--subjects",
            "1-4",
            "--epochs",
            "1",
            "--sfreq",
            "40",
            "--no-progress",
            "--out",
            out.to_str().unwrap(),
        ],
        tmp,
    );
    assert!(
        o.status.success(),
        "fit failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (out, String::from_utf8_lossy(&o.stdout).into_owned())
}

fn classify(model: &Path, tmp: &Path) -> Output {
    let data = bundled();
    trainer(
        &[
            "classify",
            "--model-file",
            model.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
        tmp,
    )
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

/// Rewrites `src` with `edit` applied to its tensor list.
fn rewrite(src: &Path, dst: &Path, edit: impl Fn(&mut Vec<(String, Vec<usize>, Vec<f32>)>)) {
    let bytes = std::fs::read(src).unwrap();
    let file = ModelFile::parse(&bytes).unwrap();
    let mut ts: Vec<(String, Vec<usize>, Vec<f32>)> = file
        .tensors
        .iter()
        .map(|t| (t.name.clone(), t.shape.clone(), t.to_f32()))
        .collect();
    edit(&mut ts);
    let outs: Vec<TensorOut<'_>> = ts
        .iter()
        .map(|(n, s, d)| TensorOut {
            name: n,
            shape: s,
            data: d,
        })
        .collect();
    std::fs::write(dst, to_bytes(&file.card, &outs, TensorDtype::F32).unwrap()).unwrap();
}

#[test]
fn engine_reproduces_fit_metrics_and_rejects_bad_model_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, fit_stdout) = train(tmp.path());
    let model = out.join("model.safetensors");

    // the engine's accuracy on the card's test subjects equals the trainer's
    let o = classify(&model, tmp.path());
    assert!(
        o.status.success(),
        "classify failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let acc = |s: &str| {
        s.split("acc ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_string)
    };
    assert_eq!(
        acc(&stdout),
        acc(&fit_stdout),
        "engine: {stdout}\ntrainer: {fit_stdout}"
    );

    // missing tensor
    let missing = tmp.path().join("missing.safetensors");
    rewrite(&model, &missing, |ts| {
        ts.retain(|(n, _, _)| n != "output_norm.weight")
    });
    one_line_error(&classify(&missing, tmp.path()), "output_norm.weight");

    // wrong shape
    let wrong = tmp.path().join("wrong.safetensors");
    rewrite(&model, &wrong, |ts| {
        let t = ts
            .iter_mut()
            .find(|(n, _, _)| n == "output_layer.0.bias")
            .unwrap();
        t.1 = vec![64, 2];
    });
    one_line_error(&classify(&wrong, tmp.path()), "output_layer.0.bias");

    // truncated and non-model files
    let bytes = std::fs::read(&model).unwrap();
    let truncated = tmp.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    one_line_error(&classify(&truncated, tmp.path()), "truncated.safetensors");
    let garbage = tmp.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"definitely not a model").unwrap();
    one_line_error(&classify(&garbage, tmp.path()), "garbage.safetensors");
}
