//! Criterion benchmark of one CPU training step (forward + backward over a batch, ordered
//! gradient reduction, gradient clipping, AdamW) at the reference's timing configuration:
//! B = 32, T = 249 (80 Hz), C = 64 (`shared/spec/reference-step-times.md`: 1b 345 ms and
//! 3b 221 ms per step on an H200 with the PyTorch + PennyLane reference).
//! Run: `cargo bench -p qssm-trainer --bench train_step`.
use criterion::{criterion_group, criterion_main, Criterion};
use qssm_trainer::fit::BatchWorkspace;
use qssm_trainer::models::{registry, ModelConfig, Target};
use qssm_trainer::optim::{clip_grad_norm, AdamW, AdamWConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn train_step(c: &mut Criterion) {
    let (b, t, ch) = (32usize, 249usize, 64usize);
    let mut group = c.benchmark_group("train_step_B32_T249_C64");
    group.sample_size(10);
    for id in ["1b", "3b"] {
        let model = registry::build(id, ModelConfig::eeg(t)).expect("model");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut params = model.layout().init(&mut rng);
        let xs: Vec<Vec<f32>> = (0..b)
            .map(|_| (0..ch * t).map(|_| rng.gen_range(-0.05..0.05)).collect())
            .collect();
        let windows: Vec<&[f32]> = xs.iter().map(|v| v.as_slice()).collect();
        let targets: Vec<Target<'_>> = (0..b).map(|i| Target::Class(i % 2)).collect();
        let seeds: Vec<u64> = (0..b as u64).collect();
        let mut ws = BatchWorkspace::default();
        let mut grads = vec![0.0; params.len()];
        let mut opt = AdamW::new(params.len(), AdamWConfig::reference());
        let active = model.layout().trainable_ranges();
        group.bench_function(id, |bench| {
            bench.iter(|| {
                ws.forward_backward(
                    model.as_ref(),
                    &params,
                    &windows,
                    &targets,
                    Some(&seeds),
                    &mut grads,
                );
                clip_grad_norm(&mut grads, 1.0);
                opt.step(&mut params, &grads, &active, 1e-3).expect("step");
            })
        });
    }
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
