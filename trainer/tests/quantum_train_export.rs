//! A trained Quantum-Train is purely classical at inference (spec hqc-mamba-and-quantum-train
//! §5.1): `trainer export --format generated-cnn` writes the CNN its parameters generate as a
//! `qt-cnn` model file, and the inference engine classifies MNIST images with it exactly as the
//! trainer's Quantum-Train does (the same network description, `qssm_kernels::ops::target_cnn`);
//! an f16 file gives the same classes. Another model's file is refused with one line.
use qssm_engine::Model as Engine;
use qssm_formats::model_file::TensorDtype;
use qssm_trainer::data::image_tasks::ImageTask;
use qssm_trainer::export::{export, ExportInfo};
use qssm_trainer::models::quantum_train::{QuantumTrain, QuantumTrainLiu};
use qssm_trainer::models::{registry, Model, ModelConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .expect("trainer runs")
}

fn info() -> ExportInfo {
    ExportInfo {
        sfreq: 1.0,
        channels: vec!["pixel".into()],
        unit: "none".into(),
        preprocessing: serde_json::json!({"task": "smnist-10k", "scale": "(pixel / 255 - 0.1307) / 0.3081"}),
        split: None,
        training: serde_json::json!(null),
        metrics: serde_json::json!(null),
    }
}

fn image_config() -> ModelConfig {
    ModelConfig {
        n_channels: 1,
        n_classes: 10,
        ..ModelConfig::eeg(784)
    }
}

fn export_cnn(file: &Path, dtype: &str) -> PathBuf {
    let out = file.with_file_name(format!("cnn-{dtype}.safetensors"));
    let o = trainer(&[
        "export",
        "--model-file",
        file.to_str().unwrap(),
        "--format",
        "generated-cnn",
        "--dtype",
        dtype,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("the engine loads it"));
    out
}

/// The largest |engine − trainer| logit difference over the images of `x` (784 each) against
/// the trainer's logits `want` (10 per image).
fn max_logit_difference(engine: &Engine, x: &[f32], want: &[f32]) -> f32 {
    let mut worst = 0.0f32;
    for (i, w) in want.chunks(10).enumerate() {
        let got = engine
            .classify_window(&x[i * 784..(i + 1) * 784])
            .unwrap()
            .logits;
        for (a, b) in got.iter().zip(w) {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

#[test]
fn the_generated_cnn_classifies_through_the_engine_as_quantum_train_does() {
    let tmp = tempfile::tempdir().unwrap();
    let qt = QuantumTrain::new(image_config()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // spread angles and a visible weight on p, so that the circuit shapes θ
    let mut p = qt.layout().init(&mut rng);
    for s in qt.layout().specs() {
        if s.name == "phi" {
            for v in &mut p[s.range.clone()] {
                *v = rng.gen_range(-1.5..1.5);
            }
        }
    }
    let file = tmp.path().join("qt.safetensors");
    export(&file, &qt, &p, &info(), TensorDtype::F32).unwrap();

    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    let set = ImageTask::Smnist10k.load(&data).unwrap();
    let n = 16;
    let x = &set.x[..n * 784];
    let want = qt.forward_eval_batch(&p, x, n);

    let f32_file = export_cnn(&file, "f32");
    let engine = Engine::from_path(&f32_file).unwrap();
    assert_eq!(engine.model_id(), "qt-cnn");
    assert_eq!((engine.n_channels(), engine.n_classes()), (1, 10));
    let worst = max_logit_difference(&engine, x, &want);
    assert!(worst <= 1e-5, "engine vs trainer: {worst}");

    let f16_file = export_cnn(&file, "f16");
    let half = Engine::from_path(&f16_file).unwrap();
    for (i, w) in want.chunks(10).enumerate() {
        let got = half
            .classify_window(&x[i * 784..(i + 1) * 784])
            .unwrap()
            .logits;
        let arg = |z: &[f32]| (0..10).fold(0, |b, k| if z[k] > z[b] { k } else { b });
        assert_eq!(arg(&got), arg(w), "image {i}: {got:?} vs {w:?}");
        let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let d = got
            .iter()
            .zip(w)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        // f16 weights: relative error ~1e-4 of the logits (measured ≤ 1.1e-4)
        assert!(
            d <= 5e-4 * scale,
            "image {i}: f16 logits differ by {d} (scale {scale})"
        );
    }

    // another model's file: one line, nothing written
    let m = registry::build("3b", ModelConfig::eeg(125)).unwrap();
    let other = tmp.path().join("m3b.safetensors");
    let p3 = m.layout().init(&mut rng);
    export(&other, m.as_ref(), &p3, &info(), TensorDtype::F32).unwrap();
    let o = trainer(&[
        "export",
        "--model-file",
        other.to_str().unwrap(),
        "--format",
        "generated-cnn",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("quantum-train") && err.contains("'3b'"),
        "{err}"
    );
    assert!(!tmp.path().join("m3b.cnn.f32.safetensors").exists());
}

/// qt-liu (spec §5.3): its generated CNN (no activations, 6,690 weights) is written as a
/// `qt-liu-cnn` file, which the engine runs exactly as the trainer's qt-liu does; the file
/// records the notebook's (0.5, 0.5) scaling only as text, the images here are scaled so.
#[test]
fn the_qt_liu_cnn_classifies_through_the_engine_as_qt_liu_does() {
    let tmp = tempfile::tempdir().unwrap();
    let qt = QuantumTrainLiu::new(image_config()).unwrap();
    assert_eq!(qt.id(), "qt-liu");
    let p = qt.layout().init(&mut ChaCha8Rng::seed_from_u64(4));
    let file = tmp.path().join("liu.safetensors");
    export(&file, &qt, &p, &info(), TensorDtype::F32).unwrap();

    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    let set = ImageTask::Smnist10k
        .load_normalised(&data, (0.5, 0.5))
        .unwrap();
    let n = 8;
    let x = &set.x[..n * 784];
    let want = qt.forward_eval_batch(&p, x, n);

    let engine = Engine::from_path(export_cnn(&file, "f32")).unwrap();
    assert_eq!(engine.model_id(), "qt-liu-cnn");
    assert_eq!(engine.card().class_name, "CNNModel");
    let mut worst = 0.0f32;
    for (i, w) in want.chunks(10).enumerate() {
        let got = engine
            .classify_window(&x[i * 784..(i + 1) * 784])
            .unwrap()
            .logits;
        let scale = w.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (a, b) in got.iter().zip(w) {
            worst = worst.max((a - b).abs() / scale);
        }
    }
    // one network description, the same θ, one image at a time on both sides
    assert!(worst <= 1e-6, "engine vs trainer (relative): {worst}");
}

/// qt-seed with `--qt-tensor-gain`: the exporter tells the form by its gain tensors, and the
/// CNN it writes is the standardised, scaled one the trainer classifies with; a trained gain
/// (not its initial value) is what the file carries.
#[test]
fn the_tensor_gain_form_exports_its_standardised_cnn() {
    let tmp = tempfile::tempdir().unwrap();
    let qt = QuantumTrain::with_tensor_gain(image_config()).unwrap();
    assert!(qt.has_tensor_gain());
    assert_eq!(qt.layout().n_params(), 425 + 8);
    let mut p = qt.layout().init(&mut ChaCha8Rng::seed_from_u64(21));
    let gain = qt
        .layout()
        .specs()
        .iter()
        .find(|s| s.name == "tensor_gain.fc1.weight")
        .expect("fc1's gain")
        .range
        .start;
    p[gain] *= 1.7;
    let file = tmp.path().join("qt-gain.safetensors");
    export(&file, &qt, &p, &info(), TensorDtype::F32).unwrap();

    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    let set = ImageTask::Smnist10k.load(&data).unwrap();
    let n = 8;
    let x = &set.x[..n * 784];
    let want = qt.forward_eval_batch(&p, x, n);
    let engine = Engine::from_path(export_cnn(&file, "f32")).unwrap();
    assert_eq!(engine.model_id(), "qt-cnn");
    let worst = max_logit_difference(&engine, x, &want);
    assert!(worst <= 1e-5, "engine vs trainer: {worst}");
    // the plain form's CNN from the same mapping differs: the gains are applied
    let plain = QuantumTrain::new(image_config()).unwrap();
    let mut q = vec![0.0f32; plain.layout().n_params()];
    for s in plain.layout().specs() {
        let src = qt
            .layout()
            .specs()
            .iter()
            .find(|t| t.name == s.name)
            .unwrap();
        q[s.range.clone()].copy_from_slice(&p[src.range.clone()]);
    }
    assert_ne!(plain.generate(&q).1, qt.generate(&p).1);
}
