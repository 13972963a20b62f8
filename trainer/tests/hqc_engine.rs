//! The HQC Mamba's classical twin (`hqc-mamba-classical`, spec hqc-mamba-and-quantum-train
//! §3.3: the 3b network with d_inner = 4·d_model over one pixel per step) in the inference
//! engine: its window classification equals the trainer's eval forward, its stream — pushed
//! pixel by pixel, unitless — equals the trainer on every prefix it predicts and the window at
//! the end, and an f16 file gives the same classes; and the same for model A itself
//! (`hqc-mamba`, quantum `in_proj`, `x_proj` and `out_proj`: the trainer's QProj), with its
//! QProj flags read from the card.
use qssm_engine::{Model as Engine, StreamOptions};
use qssm_formats::model_file::{to_bytes, TensorDtype};
use qssm_kernels::circuit::qproj::Affine;
use qssm_trainer::data::image_tasks::ImageTask;
use qssm_trainer::export::{export, model_card, tensors, ExportInfo};
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

/// The network of `proj` (d_model `d`, expand 4) on sdigits windows of `t` pixels.
fn network(d: usize, t: usize, proj: &ProjKind) -> Batched<TrueClassicalMamba> {
    let c = ModelConfig {
        d_model: d,
        n_times: t,
        ..cfg()
    };
    Batched::new(TrueClassicalMamba::hqc_mamba(c, 4, proj))
}

/// Exports `net` with parameters `p` and checks the engine against the trainer on `n` digits:
/// window logits within `tol`, the stream (hop 8, pixel by pixel) against the trainer on each
/// predicted prefix and the window at the end within `tol`, an f16 file's classes. Returns the
/// worst differences (window, stream).
fn check_engine(id: &str, d: usize, proj: &ProjKind, p: &[f32], n: usize, tol: f32) -> (f32, f32) {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(d, 64, proj);
    assert_eq!(net.id(), id);
    let file = tmp.path().join("m.safetensors");
    export(&file, &net, p, &info(), TensorDtype::F32).unwrap();
    let engine = Engine::from_path(&file).unwrap();
    assert_eq!(engine.model_id(), id);
    assert_eq!((engine.n_channels(), engine.n_times()), (1, 64));
    assert!(engine.can_stream());

    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/digits");
    let set = ImageTask::Sdigits.load(&data).unwrap();
    let x = &set.x[..n * 64];
    let want = net.forward_eval_batch(p, x, n);
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
                let prefix = network(d, t + 1, proj).forward_eval_batch(p, &img[..=t], 1);
                worst_stream = worst_stream.max(max_diff(pred.logits, &prefix));
                last = Some(pred.logits.to_vec());
            }
        }
        let last = last.expect("a prediction at 64 pixels");
        worst_stream = worst_stream.max(max_diff(&last, &got.logits));
    }
    eprintln!(
        "{id}: engine vs trainer {worst_window:e}, stream vs trainer/window {worst_stream:e}"
    );
    assert!(
        worst_window <= tol,
        "{id}: engine vs trainer: {worst_window}"
    );
    assert!(
        worst_stream <= tol,
        "{id}: stream vs trainer/window: {worst_stream}"
    );

    // f16 weights: the same classes
    let half = tmp.path().join("m16.safetensors");
    export(&half, &net, p, &info(), TensorDtype::F16).unwrap();
    let h = Engine::from_path(&half).unwrap();
    let arg = |z: &[f32]| (0..z.len()).fold(0, |b, k| if z[k] > z[b] { k } else { b });
    for (i, w) in want.chunks(10).enumerate() {
        let got = h.classify_window(&x[i * 64..(i + 1) * 64]).unwrap();
        assert_eq!(
            got.class,
            arg(w),
            "{id} f16, image {i}: {:?} vs {w:?}",
            got.logits
        );
    }
    (worst_window, worst_stream)
}

/// Initial parameters perturbed so that every tensor matters.
fn params(net: &Batched<TrueClassicalMamba>, seed: u64, spread: f32) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut p = net.layout().init(&mut rng);
    for v in &mut p {
        *v += rng.gen_range(-spread..spread);
    }
    p
}

#[test]
fn the_classical_twin_classifies_and_streams_in_the_engine() {
    let net = network(16, 64, &ProjKind::Linear);
    let p = params(&net, 5, 0.05);
    check_engine("hqc-mamba-classical", 16, &ProjKind::Linear, &p, 12, 1e-5);
}

/// Model A itself (d_model 128, expand 4, one entangling layer per projection: circuits of
/// 10, 9 and 9 qubits per token and block): the engine runs the trainer's QProj, so the
/// window and the stream equal the trainer's forward.
#[test]
fn the_hqc_mamba_classifies_and_streams_in_the_engine() {
    let proj = ProjKind::Quantum(QProjOptions::default());
    let net = network(128, 64, &proj);
    let p = params(&net, 6, 0.05);
    check_engine("hqc-mamba", 128, &proj, &p, 4, 1e-4);
}

/// The other QProj flags (scalar affine, no rescale, two entangling layers) are read from the
/// card; a card without the options is refused with one line.
#[test]
fn qproj_flags_come_from_the_card() {
    let proj = ProjKind::Quantum(QProjOptions {
        layers: 2,
        affine: Affine::Scalar,
        rescale: false,
        ..QProjOptions::default()
    });
    let net = network(32, 64, &proj);
    let p = params(&net, 7, 0.05);
    check_engine("hqc-mamba", 32, &proj, &p, 2, 1e-4);

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("m.safetensors");
    let mut card = model_card(&net, &info());
    card.architecture.as_mut().unwrap().qproj = None;
    let outs = tensors(&net, &p);
    std::fs::write(&file, to_bytes(&card, &outs, TensorDtype::F32).unwrap()).unwrap();
    let err = Engine::from_path(&file)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hqc-mamba") && err.contains("qproj") && !err.contains('\n'),
        "{err}"
    );
}

/// The twin's stream runs 4 pixels per step between predictions, holding the others back in
/// its state: a prediction after any number of pixels (hop 1, or on demand mid-block) first
/// runs them, and gives the trainer's prefix logits; a snapshot taken with pixels held back
/// continues like the stream it came from; one whose held-back count is not an integer below
/// 4 is refused.
#[test]
fn held_back_pixels_run_before_every_prediction() {
    let tmp = tempfile::tempdir().unwrap();
    let net = network(16, 64, &ProjKind::Linear);
    let p = params(&net, 7, 0.05);
    let file = tmp.path().join("m.safetensors");
    export(&file, &net, &p, &info(), TensorDtype::F32).unwrap();
    let engine = Engine::from_path(&file).unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/digits");
    let set = ImageTask::Sdigits.load(&data).unwrap();
    let img = &set.x[..64];
    let prefix = |t: usize| network(16, t, &ProjKind::Linear).forward_eval_batch(&p, &img[..t], 1);
    let tol = 1e-5;
    // a prediction after every pixel
    let mut s = engine.stream(StreamOptions { hop: 1 }).unwrap();
    for (t, &v) in img.iter().enumerate().take(20) {
        let pred = s.push(&[v]).unwrap().expect("hop 1 predicts every pixel");
        assert!(max_diff(pred.logits, &prefix(t + 1)) <= tol, "hop 1, t {t}");
    }
    // hop 8, and on demand after 2, 5, 8, … pixels (1 or 2 held back, or none)
    let mut s = engine.stream(StreamOptions { hop: 8 }).unwrap();
    for (t, &v) in img.iter().enumerate().take(23) {
        s.push(&[v]).unwrap();
        if t % 3 == 1 {
            let pred = s.prediction().unwrap().expect("a prediction");
            assert!(
                max_diff(pred.logits, &prefix(t + 1)) <= tol,
                "on demand, t {t}"
            );
        }
    }
    // snapshots after 1, 2, 3, 4 pixels: the held-back count is 1, 2, 3, then 0
    let n = engine.stream_state_len().unwrap();
    let mut s = engine.stream(StreamOptions { hop: 8 }).unwrap();
    let snaps: Vec<Vec<f32>> = (0..4)
        .map(|t| {
            s.push(&[img[t]]).unwrap();
            let mut v = vec![0.0; n];
            s.snapshot(&mut v).unwrap();
            v
        })
        .collect();
    let held = (0..n)
        .find(|&i| (0..4).all(|t| snaps[t][i] == ((t + 1) % 4) as f32))
        .expect("the held-back count in the state");
    // restored with 3 pixels held back: the 4th completes the block, as in the stream
    let mut r = engine.stream(StreamOptions { hop: 8 }).unwrap();
    r.restore(&snaps[2]).unwrap();
    r.push(&[img[3]]).unwrap();
    let mut v = vec![0.0; n];
    r.snapshot(&mut v).unwrap();
    assert_eq!(v, snaps[3], "restored stream vs the original");
    let pred = r.prediction().unwrap().expect("a prediction");
    assert!(max_diff(pred.logits, &prefix(4)) <= tol);
    for bad in [2.5, 4.0, -1.0] {
        let mut w = snaps[2].clone();
        w[held] = bad;
        assert!(r.restore(&w).is_err(), "held-back count {bad} accepted");
    }
}
