//! Reference parity of the group-2 "classical features → quantum mixing" models, 2a
//! `ClassicalQuantumAttention`, 2b `ClassicalMambaQuantumSSM` and 2c `ClassicalHydraQuantumSSM`
//! (spec groups-2-4 §3.1–§3.3), against the golden outputs of the published reference
//! implementation (`shared/fixtures/reference/{2a,2b,2c}.safetensors`, T = 90 ⇒ nc = 6 chunks):
//! eval and train logits, every `act.*` intermediate, the loss, every gradient and three AdamW
//! steps; parameter counts at T = 125/249/497 (spec §4.1); one 2b/2c circuit step against the
//! spec's test vector TV7 (the teacher-forced single-step check of spec §6).
//!
//! Tolerances (issue #2): logits ≤ 1e-5 abs; activations ≤ 1e-5 × their max-abs; loss ≤ 1e-5;
//! every gradient within 1e-3 × that tensor's max |grad|; AdamW-step losses ≤ 1e-4 — met by 2a
//! and 2c. **2b** gets the looser, justified tolerances of [`Tol2b`]: its recurrence feeds
//! h_j = π·tanh(⟨Z⟩_j) of one chunk into the RY embedding of the next, and layer 1 starts from
//! layer 0's final state, so f32 rounding differences between any two implementations grow along
//! 2·nc = 12 serial circuit steps (spec §5.1, §6: "2b at T=125 ≤ 5e-4"; the spec's float64 oracle
//! is itself 2.7e-5 away from this fixture's logits).
use qssm_tests::parity_check::{
    check_adamw_within, check_forward_within, check_gradients_within, load, Tolerances,
};
use qssm_trainer::models::{registry, ModelConfig, Target};

qssm_tests::parity_suite!(
    fixture_2a: "2a",
    fixture_2c: "2c",
);

/// Spec §4.1 (PyTorch `sum(p.numel())`, each complex `mix_coeffs` entry once) and the stored
/// scalars (2a: + nc for the (re, im) pairs; Appendix A "real scalars").
#[test]
fn parameter_counts_match_the_spec() {
    for (t, n2a, stored2a) in [
        (125, 43_877, 43_885),
        (249, 43_885, 43_901),
        (497, 43_901, 43_933),
    ] {
        let m = registry::build("2a", ModelConfig::eeg(t)).unwrap();
        assert_eq!(m.layout().n_params(), n2a, "2a at T={t}");
        assert_eq!(m.layout().len(), stored2a, "2a stored scalars at T={t}");
        for (id, n) in [("2b", 86_023), ("2c", 204_433)] {
            let m = registry::build(id, ModelConfig::eeg(t)).unwrap();
            assert_eq!(m.layout().n_params(), n, "{id} at T={t}");
            assert_eq!(m.layout().len(), n, "{id} stored scalars at T={t}");
        }
    }
}

/// Prints the measured distances to the reference (run with `--ignored --nocapture`): eval
/// logits, worst `act.*` relative to its max-abs, loss, and the worst gradient relative to its
/// tensor's max |grad|.
#[test]
#[ignore = "diagnostic report"]
fn report_distances() {
    for name in ["2a", "2b", "2c"] {
        qssm_tests::parity_check::report_distances(name);
    }
}

/// Tolerances of the 2b checks (measured on this fixture, T = 90, nc = 6; see the module docs).
///
/// * Logits ≤ 5e-4 abs (spec §6 for 2b; observed 1.9e-5).
/// * Activations up to `dropout` (the front-end, before any circuit) ≤ 1e-5 × max-abs as for
///   every model; the recurrent layers and everything after them ≤ 5e-3 × max-abs (observed
///   6.3e-4, `quantum_ssm_layers.1` of sample 1).
/// * Gradients ≤ 5e-2 × max |grad| (observed ≤ 2.8e-2, `quantum_ssm_layers.1.dt_proj.bias`).
///   Our own gradients move by 1e-3…4.6e-3 × max |grad| (same tensors) when layer 0's
///   `circuit_params` are shifted by 3e-7 (a few f32 ulps), so the float32 gradient itself is
///   only defined to ~1e-2 here; a gradient bug is still caught — dropping the d loss/d h
///   hand-over from layer 1 to layer 0 gives errors ≈ 1.0 × max |grad| on layer 0.
/// * AdamW-step losses: step 0 ≤ 1e-4 (observed 2.2e-6), steps 1–2 ≤ 5e-3 (observed 4.8e-4,
///   2.2e-3). AdamW's first step moves every parameter by ≈ ±lr whatever its gradient's size,
///   so elements whose gradients sit at the noise level above move in opposite directions in
///   two implementations, and the trajectory then diverges: our own step-2 loss spreads over
///   0.7195…0.7221 when layer 0's `circuit_params` are shifted by ±3e-7 or 1e-6 before
///   training; the reference's 0.7217 lies inside that spread.
const TOL_2B: Tolerances = Tolerances {
    logits: 5e-4,
    act: act_2b,
    loss: 1e-4,
    grad: 5e-2,
    adamw: adamw_2b,
};

/// Front-end activations of 2a–2c (computed before any circuit): exact up to f32 rounding.
const FRONT_ACTS: [&str; 8] = [
    "feature_extractor.embedding",
    "feature_extractor.dropout",
    "feature_extractor",
    "chunk_attention.0",
    "chunk_attention.1",
    "chunk_attention.2",
    "chunk_attention",
    "dropout",
];

/// 2b activations: the front-end ≤ 1e-5, the recurrent layers and after ≤ 5e-3 (× max-abs).
fn act_2b(name: &str) -> f32 {
    if FRONT_ACTS.contains(&name) {
        1e-5
    } else {
        5e-3
    }
}

/// 2b AdamW-step losses: step 0 ≤ 1e-4, steps 1–2 ≤ 5e-3.
fn adamw_2b(step: usize) -> f32 {
    if step == 0 {
        1e-4
    } else {
        5e-3
    }
}

#[test]
fn forward_2b() {
    if let Some(n) = check_forward_within("2b", &TOL_2B) {
        assert_eq!(n, 2 * 17, "2b: every act.* of both samples checked");
    }
}

#[test]
fn gradients_2b() {
    check_gradients_within("2b", &TOL_2B);
}

#[test]
fn adamw_steps_2b() {
    check_adamw_within("2b", &TOL_2B);
}

/// 2b/2c's `x_proj` rows r..r+2N ("B", "C" of a Mamba SSM) are computed and never used
/// (spec groups-2-4 §5.3): their gradient is exactly zero.
#[test]
fn unused_x_proj_rows_get_no_gradient_2b() {
    let Some(l) = load("2b") else { return };
    let x = &l.fx.get("input.x").data;
    let y = &l.fx.get("input.y").data;
    let mut g = vec![0.0f32; l.params.len()];
    let targets: Vec<Target<'_>> = y.iter().map(|v| Target::Class(*v as usize)).collect();
    l.model
        .train_batch(&l.params, x, l.b, &targets, None, &mut g);
    let mut n = 0;
    for spec in l.model.layout().specs() {
        if spec.name.ends_with("x_proj.weight") {
            let ours = &g[spec.range.clone()];
            assert!(ours[..8 * 128].iter().any(|v| *v != 0.0), "{}", spec.name);
            assert!(ours[8 * 128..].iter().all(|v| *v == 0.0), "{}", spec.name);
            n += 1;
        }
    }
    assert_eq!(n, 2, "2b: both layers' x_proj checked");
}

/// One 2b/2c circuit step through [`QssmCore::circuit_step`] (the backend ops of the
/// batched core, on the CPU) against the spec's TV7
/// (E(h)·D²(θ; ds)·E(ds·u), PennyLane float64 inputs): from f32 inputs ≤ 1e-6 (spec §6).
#[test]
fn qssm_circuit_step_matches_tv7() {
    use qssm_trainer::models::nn::QssmCore;
    use qssm_trainer::params::ParamLayout;
    let mut lay = ParamLayout::new();
    let core = QssmCore::new(&mut lay, "core", (128, 16), 6, 2);
    let mut p = vec![0.0f32; lay.len()];
    let cp = lay.get("core.circuit_params").unwrap().range.clone();
    for (k, v) in p[cp].iter_mut().enumerate() {
        *v = (0.05 * (k as f64 + 1.0) - 1.0) as f32;
    }
    let h: Vec<f32> = (0..6).map(|i| (0.3 * i as f64 - 0.8) as f32).collect();
    let u: Vec<f32> = (0..6).map(|i| (0.5 - 0.2 * i as f64) as f32).collect();
    let q = core.circuit_step(&p, &h, 0.62, &u);
    let tv7: [f64; 18] = [
        -0.343999438741,
        0.174697006746,
        0.199353772086,
        0.199457816318,
        0.211528699468,
        0.564879648711,
        0.284838046792,
        -0.408031019930,
        -0.276458926915,
        -0.287702448629,
        -0.472066738344,
        0.002903715315,
        0.536780900233,
        0.551246674244,
        0.318267482820,
        0.034470972082,
        -0.107187264424,
        0.478449695867,
    ];
    let d = q
        .iter()
        .zip(&tv7)
        .map(|(a, b)| (*a as f64 - b).abs())
        .fold(0.0, f64::max);
    assert!(d <= 1e-6, "TV7: max deviation {d:e}");
}

/// Backward of 2a, 2b (incl. the h hand-over between layers) and 2c against central finite
/// differences of the model's own loss along a random ±1 direction, on a small configuration
/// (C = 4, T = 40 ⇒ nc = 3, D = 32, Q = 4, 3 outputs) with dropout 0.1 (masks from the same
/// seed for every evaluation), step 1e-4 per parameter: |g·v − FD| ≤ 2e-3 × |g·v|.
#[test]
fn gradients_match_finite_differences_small_config() {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    let cfg = ModelConfig {
        n_channels: 4,
        n_times: 40,
        d_model: 32,
        d_state: 4,
        n_qubits: 4,
        n_layers: 2,
        n_classes: 3,
        dropout: 0.1,
        ..ModelConfig::eeg(40)
    };
    for id in ["2a", "2b", "2c"] {
        let m = registry::build(id, cfg.clone()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let p = m.layout().init(&mut rng);
        let x: Vec<f32> = (0..4 * 40).map(|_| rng.gen_range(-1.0..1.0)).collect();
        // one sample, dropout masks from seed 11 (the same masks for every call)
        let loss_grad = |p: &[f32], g: &mut [f32]| {
            m.train_batch(p, &x, 1, &[Target::Class(1)], Some(&[11]), g)
                .loss as f64
        };
        let mut g = vec![0.0f32; p.len()];
        loss_grad(&p, &mut g);
        let v: Vec<f32> = (0..p.len())
            .map(|_| if rng.gen::<bool>() { 1.0 } else { -1.0 })
            .collect();
        let gv: f64 = g.iter().zip(&v).map(|(a, b)| *a as f64 * *b as f64).sum();
        let shifted = |s: f32| -> Vec<f32> { p.iter().zip(&v).map(|(a, b)| a + s * b).collect() };
        let mut scratch = vec![0.0f32; p.len()];
        // the 2b recurrence is strongly curved: with the batched dropout masks of seed 11 the
        // central difference of 2b moves from 1.3e-4 (h = 1e-4) to 2.9e-3 (3e-4) and 1.1e-2
        // (6e-4) relative to g·v, converging on it as h shrinks; below 1e-4 the f32 loss
        // rounding takes over (2a: 2.3e-4 at 1e-4)
        let h = 1e-4f32;
        let fd = (loss_grad(&shifted(h), &mut scratch) - loss_grad(&shifted(-h), &mut scratch))
            / (2.0 * h as f64);
        eprintln!("{id}: g·v {gv:.6e}, finite difference {fd:.6e}");
        assert!(
            (gv - fd).abs() <= 2e-3 * gv.abs(),
            "{id}: g·v {gv:e} vs finite difference {fd:e}"
        );
    }
}

/// Initialisers of the tensors with non-default init (spec §3.1–§3.3): `circuit_params` and
/// `qff_params` 0.1·N(0,1), `mix_coeffs` re/im U[0,1), `D` ones, `dt_proj.bias` =
/// softplus⁻¹(dt) ∈ [−6.91, −2.25], α = β = 1, γ = 0.5.
#[test]
fn initialisers_follow_the_spec() {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    let m = registry::build("2c", ModelConfig::eeg(125)).unwrap();
    let p = m.layout().init(&mut ChaCha8Rng::seed_from_u64(1));
    let get = |n: &str| &p[m.layout().get(n).unwrap().range.clone()];
    let mut cp = Vec::new();
    for l in 0..2 {
        for dir in ["forward_ssm", "backward_ssm"] {
            let pre = format!("quantum_hydra_layers.{l}.{dir}");
            cp.extend_from_slice(get(&format!("{pre}.circuit_params")));
            assert!(get(&format!("{pre}.D")).iter().all(|v| *v == 1.0));
            assert!(get(&format!("{pre}.dt_proj.bias"))
                .iter()
                .all(|v| (-6.92..=-2.25).contains(v)));
        }
        let pre = format!("quantum_hydra_layers.{l}");
        assert_eq!(get(&format!("{pre}.alpha")), &[1.0]);
        assert_eq!(get(&format!("{pre}.beta")), &[1.0]);
        assert_eq!(get(&format!("{pre}.gamma")), &[0.5]);
    }
    let n = cp.len() as f32;
    let mean = cp.iter().sum::<f32>() / n;
    let sd = (cp.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt();
    assert!(
        mean.abs() < 0.02 && (0.085..0.115).contains(&sd),
        "{mean} {sd}"
    );
    let m = registry::build("2a", ModelConfig::eeg(249)).unwrap();
    let p = m.layout().init(&mut ChaCha8Rng::seed_from_u64(1));
    let mix = &p[m
        .layout()
        .get("quantum_attention.mix_coeffs")
        .unwrap()
        .range
        .clone()];
    assert_eq!(mix.len(), 2 * 16);
    assert!(mix.iter().all(|v| (0.0..1.0).contains(v)));
    let qff = &p[m
        .layout()
        .get("quantum_attention.qff_params")
        .unwrap()
        .range
        .clone()];
    assert!(qff.iter().all(|v| v.abs() < 0.6) && qff.iter().any(|v| *v != 0.0));
}
