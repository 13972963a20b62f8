//! Per-sample time of the causal models' streaming steps (`StepNet::step`), EEG size (64
//! channels, random init), one stream, planned into a lent arena on the CPU backend, in a
//! one-thread rayon pool (a device's single core): 3b one sample per step and four samples per
//! step, the causal 1b and mg one chunk per step (time divided by the chunk's samples). The
//! engine's stream bench (`cargo bench -p qssm-engine --bench stream`) measures the same models
//! through `Stream::push`.
//!
//! `cargo bench -p qssm-models --bench step -- --warm-up-time 1 --measurement-time 3`
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use qssm_kernels::backend::cpu::{Arena, CpuIn};
use qssm_kernels::backend::Infer;
use qssm_models::nn::StepNet;
use qssm_models::zoo::{QuantumMambaGated, QuantumMambaSsm, TrueClassicalMamba};
use qssm_models::ModelConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Benchmarks steps of `len` samples of `net`, reported per sample.
fn bench_steps<M: StepNet>(c: &mut Criterion, name: &str, net: &M, len: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let p = net.layout().init(&mut rng);
    let ch = net.config().n_channels;
    let x: Vec<f32> = (0..ch * len)
        .map(|_| rng.gen_range(-0.05f32..0.05))
        .collect();
    let sizing = CpuIn::<_, [f32]>::new(Arena::measure());
    drop((net.plan_state(&sizing, 1), net.plan_step(&sizing, 1, len)));
    let mut mem = vec![0.0f32; sizing.memory().used()];
    let be = CpuIn::<_, [f32]>::new(Arena::new(&mut mem));
    let mut st = net.plan_state(&be, 1);
    let mut s = net.plan_step(&be, 1, len);
    // fixed weights, as in a runtime
    net.prepare(&be, &p[..], &mut s);
    be.upload(&mut M::step_io(&mut s).x, &x);
    let mut g = c.benchmark_group("step");
    g.throughput(Throughput::Elements(len as u64));
    g.bench_function(name, |b| b.iter(|| net.step(&be, &p[..], &mut st, &mut s)));
    g.finish();
}

fn steps(c: &mut Criterion) {
    // rayon's global pool with one thread (this binary's only pool): one core, as on a device
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global();
    let cfg = ModelConfig::eeg(160);
    let mamba = TrueClassicalMamba::new(cfg.clone());
    bench_steps(c, "3b_eeg_1_sample", &mamba, 1);
    bench_steps(c, "3b_eeg_4_samples", &mamba, 4);
    let mut causal = cfg.clone();
    causal.causal = true;
    let ssm = QuantumMambaSsm::new(causal);
    bench_steps(c, "causal_1b_eeg_chunk", &ssm, ssm.step_len());
    let gated = QuantumMambaGated::new(cfg);
    bench_steps(c, "mg_eeg_chunk", &gated, gated.step_len());
}

criterion_group!(benches, steps);
criterion_main!(benches);
