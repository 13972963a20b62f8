//! The gated models' (mg, hg) training gradients against central differences, both ansätze,
//! dropout on (the models are written once in `qssm_models`; this runs them as the trainer does).
use qssm_trainer::models::{registry, AnsatzKind, ModelConfig, Target};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Per parameter tensor: the directional derivative of the training loss (dropout 0.1 on
/// every site, identical masks in every evaluation) against a central difference, for mg
/// and hg, both ansätze, on the sidecar's small shapes (n=3, F=5, T=11, chunk 4, H=6).
#[test]
fn gated_models_gradients_match_central_differences() {
    for id in ["mg", "hg"] {
        for ansatz in [AnsatzKind::Unified5, AnsatzKind::Legacy4] {
            let cfg = ModelConfig {
                n_channels: 5,
                n_times: 11,
                n_qubits: 3,
                n_layers: 2,
                hidden_dim: 6,
                chunk_size: 4,
                ansatz,
                dropout: 0.1,
                ..ModelConfig::eeg(11)
            };
            let m = registry::build(id, cfg).unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            // perturb every parameter (the zero-initialised imaginary parts make |·| kinks)
            let p: Vec<f32> = m
                .layout()
                .init(&mut rng)
                .iter()
                .map(|v| v + rng.gen_range(-0.05..0.05))
                .collect();
            let x: Vec<f32> = (0..55).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let t = [Target::Class(1)];
            let loss = |p: &[f32]| -> f64 {
                let mut g = vec![0.0; p.len()];
                m.train_batch(p, &x, 1, &t, Some(&[11]), &mut g).loss as f64
            };
            let mut g = vec![0.0; p.len()];
            let out = m.train_batch(&p, &x, 1, &t, Some(&[11]), &mut g);
            let eval = m.forward_eval(&p, &x);
            assert_ne!(out.logits, eval, "{id}: dropout active in training");
            let mut g0 = vec![0.0; p.len()];
            let out0 = m.train_batch(&p, &x, 1, &t, None, &mut g0);
            assert_eq!(out0.logits, eval, "{id}: no rng = eval forward");
            let eps = 4e-3f32;
            for s in m.layout().specs() {
                let v: Vec<f32> = (0..s.range.len())
                    .map(|_| rng.gen_range(-1.0..1.0))
                    .collect();
                let an: f64 = g[s.range.clone()]
                    .iter()
                    .zip(&v)
                    .map(|(a, b)| (a * b) as f64)
                    .sum();
                let shifted = |sign: f32| {
                    let mut q = p.clone();
                    q[s.range.clone()]
                        .iter_mut()
                        .zip(&v)
                        .for_each(|(a, b)| *a += sign * eps * b);
                    loss(&q)
                };
                let fd = (shifted(1.0) - shifted(-1.0)) / (2.0 * eps as f64);
                assert!(
                    (fd - an).abs() <= 2e-2 * an.abs().max(fd.abs()) + 3e-4,
                    "{id} {ansatz:?} {}: analytic {an:e} vs central difference {fd:e}",
                    s.name
                );
            }
        }
    }
}
