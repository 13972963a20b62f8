//! Reference parity of the transformer models 1a `QuantumTransformer` and 3a
//! `ClassicalTransformer` against the golden outputs of the published reference
//! (`shared/fixtures/reference/{1a,3a}.safetensors`): eval and train logits, every `act.*`
//! intermediate, the loss, every gradient and three AdamW steps; plus the parameter counts of
//! spec §5 (which include the frozen `pos_encoding` table, sized by T).
//!
//! Tolerances (issue #2, as in `tests/parity.rs`): logits ≤ 1e-5 abs; activations ≤ 1e-5 ×
//! their max-abs; loss ≤ 1e-5; every gradient within 1e-3 × that tensor's max |grad|; AdamW-step
//! losses ≤ 1e-4. The frozen `pos_encoding` has no gradient in the reference (grad None) and
//! none in ours ([`qssm_trainer::params::ParamSpec::receives_grad`]).
use qssm_tests::Fixture;
use qssm_trainer::models::nn::positional::fill_sinusoidal;
use qssm_trainer::models::{registry, ModelConfig};

qssm_tests::parity_suite!(
    fixture_1a: "1a",
    fixture_3a: "3a",
);

/// `model.parameters()` counts of spec §5 (what the reference logs as n_params): the
/// trainable part is T-independent, the frozen `pos_encoding` adds 128 per chunk (1a,
/// ⌈T/16⌉ chunks) or per sample (3a).
#[test]
fn parameter_counts_match_the_spec() {
    let want = [
        ("1a", [352_753, 353_777, 355_825], 351_729),
        ("3a", [355_202, 371_074, 402_818], 339_202),
    ];
    for (id, counts, trainable) in want {
        for (t, n) in [125, 249, 497].into_iter().zip(counts) {
            let m = registry::build(id, ModelConfig::eeg(t)).unwrap();
            let lay = m.layout();
            assert_eq!(lay.n_params(), n, "{id} at T={t}");
            assert_eq!(lay.len(), n, "{id} at T={t}: no complex parameters");
            let n_trainable: usize = lay.trainable_ranges().iter().map(|r| r.len()).sum();
            assert_eq!(n_trainable, trainable, "{id} at T={t}: trainable");
            let pe = lay.get("pos_encoding").expect("pos_encoding");
            let len = if id == "1a" { t.div_ceil(16) } else { t };
            assert_eq!(pe.shape, vec![1, len, 128], "{id} at T={t}");
            assert!(!pe.receives_grad());
        }
    }
}

/// Our generated table (what a freshly initialised model holds) against the reference's
/// stored `pos_encoding` (torch f32 arithmetic; SLEEF vs libm `exp`/`sin`/`cos` may differ by
/// an ulp or so of the angle).
#[test]
fn sinusoidal_table_matches_the_reference() {
    for id in ["1a", "3a"] {
        let Some(fx) = Fixture::load(id) else { return };
        let t = fx.get("param.pos_encoding");
        let mut ours = vec![0.0f32; t.data.len()];
        fill_sinusoidal(&mut ours, *t.shape.last().unwrap());
        let d = qssm_tests::max_abs_diff(&ours, &t.data);
        println!("{id}: pos_encoding max |diff| {d:e}");
        assert!(d <= 1e-6, "{id}: pos_encoding differs by {d:e}");
    }
}

/// Train mode with dropout (the fixtures use dropout 0): the gradient of one sample with fixed
/// dropout masks (same ChaCha8 stream for every evaluation) against central differences, on
/// a small config, for the largest-gradient entry of every trainable tensor. Covers the three
/// dropout sites of the transformer blocks, 1a's input dropout and 3a's embedding dropout.
#[test]
fn dropout_gradients_match_finite_differences() {
    use qssm_trainer::models::Target;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    for id in ["1a", "3a"] {
        let cfg = ModelConfig {
            n_channels: 4,
            n_times: 37,
            d_model: 16,
            n_qubits: 3,
            n_layers: 2,
            dropout: 0.3,
            ..ModelConfig::eeg(37)
        };
        let m = registry::build(id, cfg).unwrap();
        let lay = m.layout();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p0 = lay.init(&mut rng);
        let x: Vec<f32> = (0..4 * 37).map(|_| rng.gen_range(-1.0..1.0)).collect();
        // one sample, dropout masks from seed 11 (the same masks for every call)
        let loss = |p: &[f32]| {
            let mut g = vec![0.0f32; p.len()];
            m.train_batch(p, &x, 1, &[Target::Class(1)], Some(&[11]), &mut g)
                .loss as f64
        };
        let mut g = vec![0.0f32; p0.len()];
        m.train_batch(&p0, &x, 1, &[Target::Class(1)], Some(&[11]), &mut g);
        let mut checked = 0;
        for spec in lay.specs().iter().filter(|s| s.receives_grad()) {
            let (j, an) = spec
                .range
                .clone()
                .map(|j| (j, g[j]))
                .fold(
                    (0, 0.0f32),
                    |b, c| if c.1.abs() > b.1.abs() { c } else { b },
                );
            if an.abs() < 1e-3 {
                continue; // e.g. k_proj.bias (exactly 0) and tiny gradients: FD noise
            }
            let h = 1e-2f32;
            let mut p = p0.clone();
            p[j] = p0[j] + h;
            let lp = loss(&p);
            p[j] = p0[j] - h;
            let lm = loss(&p);
            let fd = (lp - lm) / (2.0 * h as f64);
            let err = (fd - an as f64).abs();
            assert!(
                err <= 2e-2 * an.abs() as f64 + 2e-4,
                "{id}: {} [{}]: fd {fd:e} vs backward {an:e}",
                spec.name,
                j - spec.range.start
            );
            checked += 1;
        }
        assert!(checked > 20, "{id}: only {checked} tensors checked");
    }
}
