//! `trainer export --dtype f16` end to end: a model file written by the trainer's exporter
//! (f32, random init) is converted; the new file keeps every tensor name and shape and the
//! card (except `dtype` = `f16`), its values are the f32 ones rounded to nearest f16 (the
//! printed per-tensor and overall errors agree), the engine loads it and classifies like the
//! f32 file; overflow and bad input files give one-line errors. Also the library function
//! ([`qssm_trainer::convert`]) directly.
use qssm_engine::Model as Engine;
use qssm_formats::model_file::{ModelFile, TensorDtype};
use qssm_trainer::convert::{convert_bytes, convert_file, ConvertError};
use qssm_trainer::export::{export, ExportInfo};
use qssm_trainer::models::{registry, Model, ModelConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::process::{Command, Output};

fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .expect("trainer runs")
}

fn info(m: &dyn Model) -> ExportInfo {
    ExportInfo {
        sfreq: 40.0,
        channels: (1..=m.config().n_channels)
            .map(|i| format!("Ch{i}"))
            .collect(),
        unit: "mV".into(),
        preprocessing: serde_json::json!({ "note": "test" }),
        split: None,
        training: serde_json::json!({ "epochs": 0 }),
        metrics: serde_json::json!({}),
    }
}

/// Writes a random-init model `id` (EEG config at 40 Hz, T = 125) as f32 to `path`; returns
/// the model and its parameters.
fn write_f32(path: &Path, id: &str, scale: f32) -> (Box<dyn Model>, Vec<f32>) {
    let model = registry::build(id, ModelConfig::eeg(125)).unwrap();
    let mut params = model.layout().init(&mut ChaCha8Rng::seed_from_u64(5));
    params.iter_mut().for_each(|v| *v *= scale);
    export(
        path,
        model.as_ref(),
        &params,
        &info(model.as_ref()),
        TensorDtype::F32,
    )
    .unwrap();
    (model, params)
}

#[test]
fn export_f16_cli_converts_and_the_engine_loads_it() {
    let tmp = tempfile::tempdir().unwrap();
    for id in ["3b", "1c"] {
        let src = tmp.path().join(format!("{id}.safetensors"));
        let dst = tmp.path().join(format!("{id}-half.safetensors"));
        let (model, _) = write_f32(&src, id, 1.0);
        let o = trainer(&[
            "export",
            "--model-file",
            src.to_str().unwrap(),
            "--dtype",
            "f16",
            "--out",
            dst.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{id}: export failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // one line per tensor with its error, and the overall error
        let n_tensors = model.layout().specs().len();
        for s in model.layout().specs() {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("{} ", s.name))),
                "{id}: no line for {}",
                s.name
            );
        }
        let overall: f64 = stdout
            .lines()
            .find_map(|l| l.strip_prefix("overall max |err| = "))
            .expect("overall error printed")
            .trim()
            .parse()
            .unwrap();
        assert!(stdout.contains("engine: loads the f16 file"), "{stdout}");

        let (a, b) = (std::fs::read(&src).unwrap(), std::fs::read(&dst).unwrap());
        let (fa, fb) = (ModelFile::parse(&a).unwrap(), ModelFile::parse(&b).unwrap());
        assert_eq!(fb.card.dtype, "f16");
        let mut card = fb.card.clone();
        card.dtype = "f32".into();
        assert_eq!(card, fa.card, "{id}: card changed beyond dtype");
        assert_eq!(fb.tensors.len(), n_tensors);
        let mut max_err = 0.0f64;
        for t in &fa.tensors {
            let u = fb.expect(&t.name, &t.shape).expect("same name and shape");
            assert_eq!(u.dtype, TensorDtype::F16);
            for (x, y) in t.to_f32().iter().zip(u.to_f32()) {
                // round to nearest: within half an f16 ulp (relative 2^-11), or 2^-25 near 0
                let tol = (x.abs() as f64 * 2f64.powi(-11)).max(2f64.powi(-25));
                let d = (*x as f64 - y as f64).abs();
                assert!(d <= tol, "{id} {}: {x} stored as {y}", t.name);
                max_err = max_err.max(d);
            }
        }
        assert!(
            (overall - max_err).abs() <= 1e-4 * max_err.max(1e-12),
            "{id}: printed {overall:e}, measured {max_err:e}"
        );
        assert!(b.len() < a.len() * 6 / 10, "{id}: f16 file not ~half size");

        let (e32, e16) = (
            Engine::from_bytes(&a).unwrap(),
            Engine::from_bytes(&b).unwrap(),
        );
        assert_eq!(e16.card().dtype, "f16");
        assert!(e16.weight_bytes() < e32.weight_bytes());
        let x: Vec<f32> = (0..e32.input_len())
            .map(|i| 0.02 * ((i as f32) * 0.37).sin())
            .collect();
        let (p32, p16) = (
            e32.classify_window(&x).unwrap(),
            e16.classify_window(&x).unwrap(),
        );
        assert_eq!(p32.class, p16.class, "{id}");
        let d = p32
            .logits
            .iter()
            .zip(&p16.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(d <= 1e-2, "{id}: logits differ by {d}");
        eprintln!(
            "{id}: {} -> {} bytes, overall max |err| {overall:e}, logits differ by {d:e}",
            a.len(),
            b.len()
        );
    }
}

#[test]
fn export_default_output_name_and_round_trip_to_f32() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("model.safetensors");
    write_f32(&src, "3b", 1.0);
    let o = trainer(&["export", "--model-file", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let half = tmp.path().join("model.f16.safetensors");
    assert!(half.is_file(), "default output {half:?} missing");
    // f16 → f32 is exact: converting back reports zero error, and the engine agrees to
    // rounding (an f16 file's weight matrices run the matrix-vector kernels, an f32 file's the
    // GEMM: the same products, summed in another order)
    let back = tmp.path().join("back.safetensors");
    let conv = convert_file(&half, &back, TensorDtype::F32).unwrap();
    assert_eq!(conv.from, "f16");
    assert_eq!(conv.max_abs_err(), 0.0);
    let (h, b) = (
        Engine::from_path(&half).unwrap(),
        Engine::from_path(&back).unwrap(),
    );
    assert_eq!(b.card().dtype, "f32");
    let x = vec![0.01f32; h.input_len()];
    let (lh, lb) = (
        h.classify_window(&x).unwrap().logits,
        b.classify_window(&x).unwrap().logits,
    );
    let d = lh
        .iter()
        .zip(&lb)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        d <= 1e-5,
        "f16 vs its f32 widening: logits {lh:?} vs {lb:?}"
    );
    // no temporary files left next to the outputs
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn overflow_and_bad_files_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // weights × 1e6 exceed f16's range (65 504)
    let src = tmp.path().join("big.safetensors");
    write_f32(&src, "3b", 1e6);
    match convert_bytes(&std::fs::read(&src).unwrap(), TensorDtype::F16) {
        Err(ConvertError::Overflow { dtype, value, .. }) => {
            assert_eq!(dtype, "f16");
            assert!(value.abs() >= 65_504.0);
        }
        other => panic!("overflow: {:?}", other.map(|c| c.max_abs_err())),
    }
    let dst = tmp.path().join("big.f16.safetensors");
    let o = trainer(&["export", "--model-file", src.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("overflows f16"),
        "{err}"
    );
    assert!(!dst.exists(), "nothing written on error");

    let junk = tmp.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model").unwrap();
    for path in [junk, tmp.path().join("absent.safetensors")] {
        let o = trainer(&["export", "--model-file", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}

/// `--format onnx`: the window graph next to the model file (`<stem>.onnx`, `<stem>.f16.onnx`
/// with `--dtype f16`); a damaged file gives one error line and writes nothing.
#[test]
fn export_onnx_writes_the_window_graph_or_names_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("m3b.safetensors");
    write_f32(&p, "3b", 1.0);
    let o = trainer(&[
        "export",
        "--model-file",
        p.to_str().unwrap(),
        "--format",
        "onnx",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("ONNX opset 17") && out.contains("(f32 weights)"),
        "{out}"
    );
    let f32_len = std::fs::metadata(tmp.path().join("m3b.onnx"))
        .unwrap()
        .len();
    let o = trainer(&[
        "export",
        "--model-file",
        p.to_str().unwrap(),
        "--format",
        "onnx",
        "--dtype",
        "f16",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f16_len = std::fs::metadata(tmp.path().join("m3b.f16.onnx"))
        .unwrap()
        .len();
    assert!(f16_len < f32_len * 6 / 10, "{f16_len} vs {f32_len}");
    // a file that is not a model: one error line, nothing written
    let bad = tmp.path().join("bad.safetensors");
    std::fs::write(&bad, b"not a model file").unwrap();
    let o = trainer(&[
        "export",
        "--model-file",
        bad.to_str().unwrap(),
        "--format",
        "onnx",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.safetensors"), "{err}");
    assert!(!tmp.path().join("bad.onnx").exists());
}

/// `--graph step`: the streaming step graph of a causal model (`<stem>.step.onnx`), one sample
/// per step (also for a chunked model), with the sample and every state tensor as inputs, the logits and the next state as outputs; a model
/// without a streaming form, or `--graph step` without `--format onnx`, gives one error line
/// and writes nothing.
#[test]
fn export_onnx_step_graph_of_a_causal_model_or_a_clear_refusal() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("m3b.safetensors");
    write_f32(&p, "3b", 1.0);
    let args = |p: &Path| {
        vec![
            "export".to_string(),
            "--model-file".into(),
            p.to_str().unwrap().into(),
            "--format".into(),
            "onnx".into(),
            "--graph".into(),
            "step".into(),
        ]
    };
    let run = |a: Vec<String>| trainer(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(args(&p));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for want in [
        "sample (batch, 64)",
        "state.layers.0.conv1d (batch, 3, 256)",
        "state.layers.1.ssm (batch, 256, 16)",
        "state.pool.count (batch, 1)",
        "logits (batch, 2)",
        "next_state.pool.sum (batch, 128)",
    ] {
        assert!(out.contains(want), "{want} missing: {out}");
    }
    assert!(tmp.path().join("m3b.step.onnx").exists());
    // a chunked model (mg, chunks of 8) also steps one sample at a time: the chunk's samples so
    // far, the position in it and the last chunk's logits are state too
    let m = tmp.path().join("mmg.safetensors");
    write_f32(&m, "mg", 1.0);
    let o = run(args(&m));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for want in [
        "inputs sample (batch, 64),",
        "state.chunk (batch, 64, 7)",
        "state.position (1)",
        "state.logits (batch, 2)",
        "outputs logits (batch, 2),",
        "next_state.position (1)",
    ] {
        assert!(out.contains(want), "{want} missing: {out}");
    }
    // a model that does not stream: one line naming it
    let q = tmp.path().join("m1c.safetensors");
    write_f32(&q, "1c", 1.0);
    let o = run(args(&q));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("'1c'") && err.contains("no step graph"),
        "{err}"
    );
    assert!(!tmp.path().join("m1c.step.onnx").exists());
    // a model whose step reads one sample ahead (4b's centred Conv3, chunks of 16): the graph
    // keeps the chunk and that sample
    let q = tmp.path().join("m4b.safetensors");
    write_f32(&q, "4b", 1.0);
    let o = run(args(&q));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for want in ["state.chunk (batch, 64, 16)", "state.position (1)"] {
        assert!(out.contains(want), "{want} missing: {out}");
    }
    assert!(tmp.path().join("m4b.step.onnx").exists());
    // a step graph is an ONNX graph
    let mut a = args(&p);
    a.truncate(3);
    a.extend(["--graph".into(), "step".into()]);
    let o = run(a);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("--format onnx"),
        "{err}"
    );
}
