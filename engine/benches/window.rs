//! Latency of the window path: one `Model::classify_window` of an EEG-size window (64
//! channels, random weights with PyTorch-style init scales; see `window/models.rs`) for the
//! window-only models, from an f32 and from an f16 model file:
//! * 1c `QuantumHydraSSM` (D 128, E 256, N 16, Q 6, 2 Hydra blocks; T 497 = 3.1 s at 160 Hz:
//!   16 chunks × 3 processors × 3 circuits, 2 × 2 selective scans over 16 chunk tokens);
//! * hg `QuantumHydraGated` (n 6, H 64, chunk 8, unified ansatz; T 249 = 3.1 s at 80 Hz),
//!   benched only if this engine build runs it (`supported_models`).
//!
//! Besides criterion's statistics the bench prints each model's weight bytes (f32 and f16
//! files) and the distribution of single-window times (mean, median, p99, max).
//!
//! `cargo bench -p qssm-engine --bench window -- --warm-up-time 1 --measurement-time 3`
#[path = "window/models.rs"]
mod models;
#[path = "common/tensors.rs"]
mod tensors;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use models::{model_file, SPECS};
use qssm_engine::{supported_models, Model};
use qssm_formats::model_file::TensorDtype;
use std::time::Instant;
use tensors::{Lcg, C};

/// Windows timed one by one for the printed distribution.
const RUNS: usize = 30;

/// Prints the weight bytes of `model` and the distribution of [`RUNS`] single-window times.
fn print_latency(name: &str, model: &Model, x: &[f32]) {
    let mut times: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            black_box(model.classify_window(black_box(x)).expect("classifies"));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let q = |f: f64| times[((times.len() - 1) as f64 * f) as usize];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "{name}: weights {} bytes; classify_window over {RUNS} runs: mean {mean:.3} ms, median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        model.weight_bytes(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
}

fn window(c: &mut Criterion) {
    for spec in &SPECS {
        if !supported_models().any(|m| m.id == spec.id) {
            println!("{}: not supported by this engine build, skipped", spec.id);
            continue;
        }
        let x = Lcg(7).uniform(C * spec.t, -0.05, 0.05);
        for (label, dtype) in [("f32", TensorDtype::F32), ("f16", TensorDtype::F16)] {
            let model = Model::from_bytes(&model_file(spec, dtype)).expect("model loads");
            let name = format!("window_{}_eeg_{label}", spec.id);
            print_latency(&format!("{name} (T {})", spec.t), &model, &x);
            c.bench_function(&name, |b| {
                b.iter(|| {
                    black_box(
                        model
                            .classify_window(black_box(&x))
                            .expect("classifies")
                            .class,
                    )
                })
            });
        }
    }
}

criterion_group!(benches, window);
criterion_main!(benches);
