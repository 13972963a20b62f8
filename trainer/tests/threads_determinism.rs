//! Same seed → bit-identical parameters whatever the number of threads: every registry model
//! trains two steps (dropout on, gradient clipping, AdamW) in a rayon pool of 1 and of 2
//! threads, and the parameter buffers must agree bit for bit. B = 12 runs as two data-parallel
//! shards (8 + 4, `nn::net::HOST_SHARD`), so the shard split and the ordered shard sum are
//! covered too. (Inside a pool the CPU backend
//! runs its GEMMs on the calling worker; the split GEMMs of a top-level caller are covered by
//! `kernels`' gemm test and by `cli_fit`'s `--threads 1` vs `--threads 2` model files.)
use qssm_trainer::fit::BatchWorkspace;
use qssm_trainer::models::{registry, ModelConfig, Target};
use qssm_trainer::optim::{clip_grad_norm, AdamW, AdamWConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const B: usize = 12;
const T: usize = 64;

fn two_steps(id: &str, threads: usize) -> Vec<u32> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    pool.install(|| {
        let cfg = ModelConfig {
            n_channels: 8,
            d_model: 32,
            d_state: 8,
            n_qubits: 4,
            hidden_dim: 16,
            ..ModelConfig::eeg(T)
        };
        let model = registry::build(id, cfg).expect("registry model");
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut params = model.layout().init(&mut rng);
        let xs: Vec<Vec<f32>> = (0..B)
            .map(|_| (0..8 * T).map(|_| rng.gen_range(-0.05..0.05)).collect())
            .collect();
        let windows: Vec<&[f32]> = xs.iter().map(|v| v.as_slice()).collect();
        let targets: Vec<Target<'_>> = (0..B).map(|i| Target::Class(i % 2)).collect();
        let mut ws = BatchWorkspace::default();
        let mut grads = vec![0.0f32; params.len()];
        let mut opt = AdamW::new(params.len(), AdamWConfig::reference());
        let active = model.layout().trainable_ranges();
        for step in 0..2u64 {
            let seeds: Vec<u64> = (0..B as u64).map(|i| 1000 * step + i).collect();
            let out = ws.forward_backward(
                model.as_ref(),
                &params,
                &windows,
                &targets,
                Some(&seeds),
                &mut grads,
            );
            assert!(out.loss.is_finite(), "{id}: loss {}", out.loss);
            clip_grad_norm(&mut grads, 1.0);
            opt.step(&mut params, &grads, &active, 1e-3)
                .expect("valid step");
        }
        params.iter().map(|v| v.to_bits()).collect()
    })
}

#[test]
fn two_training_steps_are_bit_identical_with_one_and_two_threads() {
    for entry in registry::zoo() {
        let one = two_steps(entry.id, 1);
        let two = two_steps(entry.id, 2);
        let differ = one.iter().zip(&two).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{}: {differ} parameters differ", entry.id);
    }
}
