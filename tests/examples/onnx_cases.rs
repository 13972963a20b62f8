//! Writes the cases of the ONNX check (`.ci/onnx/check.sh`): for every model the exporter
//! expresses, its window graph (f32 and f16 weights) with inputs and the inference engine's
//! logits for them, as raw little-endian f32 files and a `cases.json` manifest:
//!
//! * `<id>_fixture`: the reference fixture's parameters and `input.x` (B = 2, T = 90);
//! * `<id>_eeg`: the trainer's random init at the EEG configuration (64 channels, 40 Hz,
//!   T = 125) on the first 8 windows of the bundled S001R04 (the training loader's, mV).
//!
//! For the models that stream (3b, causal 1b (`1b_causal_eeg`), mg, 2d, 2e, 4a–4e;
//! `qssm_trainer::onnx::step_graph`), also the step graph
//! `<name>.step.onnx` (one sample per step) with the engine's streamed logits
//! (`<name>.stream.bin`, one row per prediction of every window: every `hop` samples, the
//! chunk length of the chunked models, from `lookahead + hop` on) and the engine's median time
//! per sample.
//!
//! The engine's logits come from model files of the same weights (f32, and f16 for the f16
//! graph), with the engine's median `classify_window` latency on one window (this thread) for
//! the speed comparison. Models the exporter refuses are listed with the refusal. Usage:
//! `cargo run --release -p qssm-tests --example onnx_cases -- OUT_DIR`.
use qssm_engine::Model as Engine;
use qssm_formats::model_file::{ModelFile, TensorDtype};
use qssm_tests::engine_case::{blob, from_fixture, random_init, ulp_sensitivity, Case};
use qssm_trainer::data::{load_subject, EegmmidbConfig};
use qssm_trainer::models::registry::zoo;
use qssm_trainer::models::ModelConfig;
use qssm_trainer::onnx::{step_graph, to_f16_initializers, window_graph};
use std::path::{Path, PathBuf};

fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// Engine logits (B, K) of the case's windows from a model file of `dtype`.
fn engine_logits(case: &Case, dtype: TensorDtype) -> Vec<f32> {
    let engine = Engine::from_bytes(&blob(case, dtype)).expect("engine loads the model");
    (0..case.b)
        .flat_map(|i| {
            engine
                .classify_window(case.window(i))
                .expect("classify")
                .logits
        })
        .collect()
}

/// Median latency of the engine's `classify_window` on window 0 (f32 file, this thread), µs.
fn engine_window_us(case: &Case) -> f64 {
    let engine = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("engine loads");
    let w = case.window(0);
    for _ in 0..5 {
        std::hint::black_box(engine.classify_window(w).unwrap());
    }
    let mut t: Vec<f64> = (0..50)
        .map(|_| {
            let s = std::time::Instant::now();
            std::hint::black_box(engine.classify_window(w).unwrap());
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// The engine's streamed logits of every window of the case (f32 file), one row per
/// prediction (every `len` samples from `la + len` on): (B, (T − la) / len, K); and the
/// median time per sample of a hop (the `push`es of its `len` samples together, divided by
/// `len`; this thread), µs.
fn engine_stream(case: &Case, len: usize, la: usize) -> (Vec<f32>, f64) {
    let engine = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("engine loads");
    let cfg = case.model.config();
    let (c, t) = (cfg.n_channels, cfg.n_times);
    let opts = qssm_engine::StreamOptions { hop: len };
    let mut logits = Vec::new();
    let mut step_us = Vec::new();
    let mut sample = vec![0.0f32; c];
    for i in 0..case.b {
        let w = case.window(i);
        let mut s = engine.stream(opts).expect("the model streams");
        let mut spent = 0.0;
        for k in 0..la + (t - la) / len * len {
            for (ch, v) in sample.iter_mut().enumerate() {
                *v = w[ch * t + k];
            }
            let t0 = std::time::Instant::now();
            let out = s.push(&sample).expect("push");
            spent += t0.elapsed().as_secs_f64() * 1e6;
            if let Some(p) = out {
                step_us.push(std::mem::take(&mut spent));
                logits.extend_from_slice(p.logits);
            }
        }
    }
    step_us.sort_by(f64::total_cmp);
    (logits, step_us[step_us.len() / 2] / len as f64)
}

/// Writes one case; returns its manifest entry, or the refusal.
fn write_case(dir: &Path, name: &str, case: &Case) -> serde_json::Value {
    let bytes = blob(case, TensorDtype::F32);
    let file = ModelFile::parse(&bytes).unwrap();
    let mut graph = match window_graph(&file) {
        Ok(g) => g,
        Err(e) => return serde_json::json!({ "name": name, "refused": e.to_string() }),
    };
    graph.write(&dir.join(format!("{name}.onnx"))).unwrap();
    to_f16_initializers(&mut graph);
    graph.write(&dir.join(format!("{name}.f16.onnx"))).unwrap();
    let cfg = case.model.config();
    write_f32(&dir.join(format!("{name}.x.bin")), &case.x);
    write_f32(
        &dir.join(format!("{name}.logits.bin")),
        &engine_logits(case, TensorDtype::F32),
    );
    write_f32(
        &dir.join(format!("{name}.logits_f16.bin")),
        &engine_logits(case, TensorDtype::F16),
    );
    // the step graph of a model that streams: the engine's stream over the same windows
    let step = match step_graph(&file) {
        Ok(g) => {
            g.write(&dir.join(format!("{name}.step.onnx"))).unwrap();
            let meta = |key: &str| -> usize {
                g.metadata
                    .iter()
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or_else(|| panic!("{key} in the metadata"))
            };
            let (len, la) = (meta("qssm.hop"), meta("qssm.lookahead"));
            let (logits, us) = engine_stream(case, len, la);
            write_f32(&dir.join(format!("{name}.stream.bin")), &logits);
            serde_json::json!({ "hop": len, "lookahead": la, "engine_sample_us": us })
        }
        Err(e) => serde_json::json!({ "refused": e.to_string() }),
    };
    serde_json::json!({
        "name": name,
        "step": step,
        "model_id": case.model.id(),
        "shape": [case.b, cfg.n_channels, cfg.n_times],
        "n_classes": cfg.n_classes,
        "engine_window_us": engine_window_us(case),
        // the logit change 1-ulp weight perturbations cause: two correct implementations
        // that round differently agree only to about this (2b/2c's chaotic recurrence)
        "ulp_sensitivity": ulp_sensitivity(case),
    })
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: onnx_cases OUT_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb");
    let mut cfg = EegmmidbConfig::new(data, 40);
    cfg.runs = vec![4];
    let eeg = load_subject(&cfg, 1).expect("bundled S001R04");
    let per = eeg.x.len() / eeg.y.len();
    let mut cases = Vec::new();
    for m in zoo() {
        let id = m.id;
        if let Some(case) = from_fixture(id) {
            cases.push(write_case(&dir, &format!("{id}_fixture"), &case));
        }
        let mut case = random_init(id, ModelConfig::eeg(125), 7, 8);
        case.x = eeg.x[..8 * per].to_vec();
        cases.push(write_case(&dir, &format!("{id}_eeg"), &case));
        if id == "1b" {
            // the causal variant, which streams chunk by chunk
            let mut cfg = ModelConfig::eeg(125);
            cfg.causal = true;
            let mut case = random_init(id, cfg, 7, 8);
            case.x = eeg.x[..8 * per].to_vec();
            cases.push(write_case(&dir, "1b_causal_eeg", &case));
        }
    }
    let manifest = serde_json::json!({ "cases": cases });
    std::fs::write(
        dir.join("cases.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    println!("wrote {} cases to {}", cases.len(), dir.display());
}
