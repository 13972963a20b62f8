//! The HQC Mamba's classical twin (`hqc-mamba-classical`, spec hqc-mamba-and-quantum-train
//! §3.3: the 3b network with d_inner = 4·d_model over one pixel per step) in the inference
//! engine: its window classification equals the trainer's eval forward, its stream — pushed
//! pixel by pixel, unitless — equals the trainer on every prefix it predicts and the window at
//! the end, an f16 file gives
//! the same classes, and the quantum `hqc-mamba`, which the engine cannot run yet, is refused
//! by name.
use qssm_engine::{EngineError, Model as Engine, StreamOptions};
use qssm_formats::model_file::TensorDtype;
use qssm_trainer::data::image_tasks::ImageTask;
use qssm_trainer::export::{export, ExportInfo};
use qssm_trainer::models::nn::{Batched, ProjKind, QProjOptions};
use qssm_trainer::models::zoo::TrueClassicalMamba;
use qssm_trainer::models::{Model, ModelConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

/// sdigits (§6.3): 8×8 digits as 64 steps of one feature; d_model 16, expand 4.
fn cfg() -> ModelConfig {
    ModelConfig {
        n_channels: 1,
        d_model: 16,
        d_state: 16,
        n_layers: 2,
        n_classes: 10,
        dropout: 0.0,
        ..ModelConfig::eeg(64)
    }
}

fn info() -> ExportInfo {
    ExportInfo {
        sfreq: 1.0,
        channels: vec!["pixel".into()],
        unit: "none".into(),
        preprocessing: serde_json::json!({"task": "sdigits"}),
        split: None,
        training: serde_json::json!(null),
        metrics: serde_json::json!(null),
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn the_classical_twin_classifies_and_streams_in_the_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let net = Batched::new(TrueClassicalMamba::hqc_mamba(cfg(), 4, &ProjKind::Linear));
    assert_eq!(net.id(), "hqc-mamba-classical");
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    // trained-looking parameters: the init, perturbed so that every tensor matters
    let mut p = net.layout().init(&mut rng);
    for v in &mut p {
        *v += rng.gen_range(-0.05..0.05);
    }
    let file = tmp.path().join("twin.safetensors");
    export(&file, &net, &p, &info(), TensorDtype::F32).unwrap();
    let engine = Engine::from_path(&file).unwrap();
    assert_eq!(engine.model_id(), "hqc-mamba-classical");
    assert_eq!((engine.n_channels(), engine.n_times()), (1, 64));
    assert!(engine.can_stream());

    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/digits");
    let set = ImageTask::Sdigits.load(&data).unwrap();
    let n = 12;
    let x = &set.x[..n * 64];
    let want = net.forward_eval_batch(&p, x, n);
    let (mut worst_window, mut worst_stream) = (0.0f32, 0.0f32);
    for (i, w) in want.chunks(10).enumerate() {
        let img = &x[i * 64..(i + 1) * 64];
        let got = engine.classify_window(img).unwrap();
        worst_window = worst_window.max(max_diff(&got.logits, w));
        // pixel by pixel, a prediction every 8 pixels (the last at 64 = the window)
        let mut s = engine.stream(StreamOptions { hop: 8 }).unwrap();
        let mut last = None;
        for (t, &v) in img.iter().enumerate() {
            if let Some(pred) = s.push(&[v]).unwrap() {
                assert_eq!(pred.samples_seen, t as u64 + 1);
                // the trainer's network on the prefix (no parameter depends on T)
                let short = Batched::new(TrueClassicalMamba::hqc_mamba(
                    ModelConfig {
                        n_times: t + 1,
                        ..cfg()
                    },
                    4,
                    &ProjKind::Linear,
                ));
                let prefix = short.forward_eval_batch(&p, &img[..=t], 1);
                worst_stream = worst_stream.max(max_diff(pred.logits, &prefix));
                last = Some(pred.logits.to_vec());
            }
        }
        let last = last.expect("a prediction at 64 pixels");
        worst_stream = worst_stream.max(max_diff(&last, &got.logits));
    }
    eprintln!("engine vs trainer {worst_window:e}, stream vs trainer/window {worst_stream:e}");
    assert!(worst_window <= 1e-5, "engine vs trainer: {worst_window}");
    assert!(
        worst_stream <= 1e-5,
        "stream vs trainer/window: {worst_stream}"
    );

    // f16 weights: the same classes
    let half = tmp.path().join("twin16.safetensors");
    export(&half, &net, &p, &info(), TensorDtype::F16).unwrap();
    let h = Engine::from_path(&half).unwrap();
    let arg = |z: &[f32]| (0..z.len()).fold(0, |b, k| if z[k] > z[b] { k } else { b });
    for (i, w) in want.chunks(10).enumerate() {
        let got = h.classify_window(&x[i * 64..(i + 1) * 64]).unwrap();
        assert_eq!(got.class, arg(w), "image {i}");
    }
}

/// The quantum HQC Mamba has no engine form yet: its file is refused with the model's name.
#[test]
fn the_quantum_hqc_mamba_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let net = Batched::new(TrueClassicalMamba::hqc_mamba(
        ModelConfig {
            d_model: 8,
            d_state: 4,
            ..cfg()
        },
        2,
        &ProjKind::Quantum(QProjOptions::default()),
    ));
    let p = net.layout().init(&mut ChaCha8Rng::seed_from_u64(1));
    let file = tmp.path().join("hqc.safetensors");
    export(&file, &net, &p, &info(), TensorDtype::F32).unwrap();
    match Engine::from_path(&file) {
        Err(e @ EngineError::UnsupportedModel { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("'hqc-mamba'") && !msg.contains('\n'), "{msg}");
        }
        other => panic!("{:?}", other.map(|m| m.model_id().to_string())),
    }
}
