//! Causality of every model the registry marks as streamable: the output at chunk boundary k
//! (`Model::boundary_outputs`) does not change when any later sample is perturbed, and the
//! last boundary output equals the full-window eval forward.
use qssm_trainer::models::{registry, ModelConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn small_config(t: usize) -> ModelConfig {
    ModelConfig {
        n_channels: 8,
        d_model: 16,
        d_state: 4,
        n_qubits: 3,
        hidden_dim: 8,
        chunk_size: 4,
        causal: true,
        ..ModelConfig::eeg(t)
    }
}

#[test]
fn streamable_models_are_causal_at_every_boundary() {
    let t = 40;
    let mut checked = 0;
    for entry in registry::zoo().filter(|e| e.streamable) {
        let model = registry::build(entry.id, small_config(t)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let p = model.layout().init(&mut rng);
        let c = model.config().n_channels;
        let x: Vec<f32> = (0..c * t).map(|_| rng.gen_range(-0.1..0.1)).collect();
        let base = model
            .boundary_outputs(&p, &x)
            .unwrap_or_else(|| panic!("{}: streamable but no boundary outputs", entry.id));
        let full = model.forward_eval(&p, &x);
        let last = base.last().unwrap();
        assert_eq!(
            last.0, t,
            "{}: the last boundary must cover the whole window",
            entry.id
        );
        let d = full
            .iter()
            .zip(&last.1)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            d <= 1e-5,
            "{}: last boundary output differs from the window output by {d}",
            entry.id
        );
        // boundary k covers samples [0, n_k); perturb one sample at a time: every third
        // sample, plus the first sample after and the last sample inside every boundary
        // (catches a boundary that misses a look-ahead, e.g. the group-4 Conv3's one sample)
        let mut samples: Vec<usize> = (0..t).step_by(3).collect();
        for (end, _) in &base {
            samples.extend([end.saturating_sub(1), *end].into_iter().filter(|&s| s < t));
        }
        samples.sort_unstable();
        samples.dedup();
        for s in samples {
            let mut xp = x.clone();
            for ch in 0..c {
                xp[ch * t + s] += 0.5;
            }
            let outs = model.boundary_outputs(&p, &xp).unwrap();
            for (k, ((end, a), (_, b))) in base.iter().zip(&outs).enumerate() {
                if s >= *end {
                    assert_eq!(
                        a, b,
                        "{}: boundary {k} (samples < {end}) changed when sample {s} was perturbed",
                        entry.id
                    );
                }
            }
            // and the perturbation is visible somewhere at or after its own boundary
            assert_ne!(
                base.last(),
                outs.last(),
                "{}: perturbing sample {s} changed nothing",
                entry.id
            );
        }
        checked += 1;
    }
    assert!(checked >= 1, "no streamable model in the registry");
}
