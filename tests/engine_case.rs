//! Shared plumbing of the engine tests (`tests/engine_window*.rs`, `tests/engine_stream*.rs`):
//! a trainer model with parameters and input windows ([`Case`]), built from a reference
//! fixture or from the trainer's random init; its model file (the trainer's card, serialised
//! with `qssm_formats::model_file::to_bytes`, f32 or f16); deterministic noise; helpers to
//! slice a (C, T) window into samples and back.
//!
//! Shape legend: B windows, C channels, T time samples. Windows are channel-major (C, T) in
//! millivolts, as the reference models take them.
use crate::{max_abs_diff, Fixture};
use qssm_engine::{EngineError, Model as Engine, ModelFileError, StreamOptions};
use qssm_formats::model_file::{to_bytes, ModelCard, TensorDtype, TensorOut};
use qssm_trainer::export::{model_card, ExportInfo};
use qssm_trainer::models::{registry, Model, ModelConfig};
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A trainer model with parameters and B windows (B, C, T) in mV.
pub struct Case {
    /// label used in assertion messages
    pub name: String,
    /// the trainer model (the oracle)
    pub model: Box<dyn Model>,
    /// its parameters in the model's layout
    pub params: Vec<f32>,
    /// windows (B, C, T), mV
    pub x: Vec<f32>,
    /// B
    pub b: usize,
    /// fixture `output.logits_eval` (B, n_classes), if built from a fixture
    pub want: Option<Vec<f32>>,
}

impl Case {
    /// Window `i` (C, T).
    pub fn window(&self, i: usize) -> &[f32] {
        let n = self.x.len() / self.b;
        &self.x[i * n..(i + 1) * n]
    }

    /// The same weights built for `n_times = t` (for models whose parameters do not depend
    /// on T).
    pub fn model_t(&self, t: usize) -> Box<dyn Model> {
        let cfg = ModelConfig {
            n_times: t,
            ..self.model.config().clone()
        };
        registry::build(self.model.id(), cfg).expect("model in registry")
    }
}

/// Deterministic pseudo-random values in [−1, 1) (splitmix64), n of them.
pub fn noise(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// The reference fixture `name` (`shared/fixtures/reference/<name>.safetensors`) as a case:
/// its model (`model_id` and configuration from the metadata), `param.*`, `input.x` and
/// `output.logits_eval`. `None` (the test skips) where the fixtures are absent.
pub fn from_fixture(name: &str) -> Option<Case> {
    let fx = Fixture::load(name)?;
    let cfg = crate::parity_check::config_from_fixture(&fx);
    let model = registry::build(&fx.metadata["model_id"], cfg).expect("model in registry");
    let mut params = vec![0.0f32; model.layout().len()];
    for spec in model.layout().specs() {
        params[spec.range.clone()].copy_from_slice(&fx.get(&format!("param.{}", spec.name)).data);
    }
    Some(Case {
        name: format!("fixture {name}"),
        model,
        params,
        x: fx.get("input.x").data.clone(),
        b: fx.meta_usize("B"),
        want: Some(fx.get("output.logits_eval").data.clone()),
    })
}

/// Model `id` with the trainer's random init (`ParamLayout::init`, seed `seed`) for `cfg`,
/// with `b` windows of noise at EEG scale (±50 µV = ±0.05 mV).
pub fn random_init(id: &str, cfg: ModelConfig, seed: u64, b: usize) -> Case {
    let model = registry::build(id, cfg).expect("in the registry");
    let params = model.layout().init(&mut ChaCha8Rng::seed_from_u64(seed));
    let n = model.config().n_channels * model.config().n_times;
    let x = noise(seed + 1, b * n).iter().map(|v| v * 0.05).collect();
    Case {
        name: format!("{id} T{} random init (seed {seed})", model.config().n_times),
        model,
        params,
        x,
        b,
        want: None,
    }
}

/// Model `id` for `cfg` with the trainer's random init, every parameter then perturbed by
/// U(−0.1, 0.1) (so zero-initialised biases and imaginary parts are not all zero), and `b`
/// windows of U(−0.5, 0.5) mV — one ChaCha8 stream seeded with `seed`, in that order. The
/// caller names the case.
pub fn perturbed_init(id: &str, cfg: ModelConfig, seed: u64, b: usize, name: String) -> Case {
    let model = registry::build(id, cfg).expect("model in the registry");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let params: Vec<f32> = model
        .layout()
        .init(&mut rng)
        .iter()
        .map(|v| v + rng.gen_range(-0.1..0.1))
        .collect();
    let n = model.config().n_channels * model.config().n_times;
    let x = (0..b * n).map(|_| rng.gen_range(-0.5..0.5)).collect();
    Case {
        name,
        model,
        params,
        x,
        b,
        want: None,
    }
}

/// Engine (f32 file) vs trainer `forward_eval` (≤ 1e-5 abs) and, for a fixture case, vs the
/// fixture's logits (≤ 1e-5); the card names the model and class, the input length is C·T,
/// probabilities sum to 1 and the class is the argmax. Returns max |engine − trainer|.
pub fn check_window_parity(case: &Case) -> f32 {
    check_window_parity_within(case, 1e-5, 1e-5).0
}

/// The largest logit change that 1-ulp perturbations of every parameter cause in the trainer's
/// `forward_eval` (4 independent pseudo-random sign patterns, every sample of `case`): the
/// float conditioning of the model at these weights. A chaotic recurrence (2b/2c at T ≥ 249, spec
/// groups-2-4 §5.1) amplifies rounding so far that two correct implementations that round
/// differently (a blocked GEMM against per-row dot products) can only agree to about this.
pub fn ulp_sensitivity(case: &Case) -> f32 {
    let mut worst = 0.0f32;
    for k in 0..4u32 {
        let shifted: Vec<f32> = case
            .params
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                // parameter i's sign in pattern k: a hash of both (the patterns independent)
                let mut h = (i as u32) ^ k.wrapping_mul(0x9E37_79B9);
                h = (h ^ (h >> 16)).wrapping_mul(0x7FEB_352D);
                h = (h ^ (h >> 15)).wrapping_mul(0x846C_A68B);
                let up = (h ^ (h >> 16)) >> 31 == 1;
                match (v == 0.0, up) {
                    (true, _) => v,
                    (false, true) => f32::from_bits(v.to_bits() + 1),
                    (false, false) => f32::from_bits(v.to_bits() - 1),
                }
            })
            .collect();
        for i in 0..case.b {
            let a = case.model.forward_eval(&case.params, case.window(i));
            let b = case.model.forward_eval(&shifted, case.window(i));
            worst = worst.max(max_abs_diff(&a, &b));
        }
    }
    worst
}

/// [`check_window_parity`] with the engine-vs-fixture tolerance `fixture_tol` (2b's chaotic
/// recurrence needs more, see `engine_window_group2_mixing.rs`) and the engine-vs-trainer
/// tolerance `trainer_tol` (1e-5 except where [`ulp_sensitivity`] shows the model cannot be
/// pinned that tightly). Returns (max |engine − trainer|, max |engine − fixture|).
pub fn check_window_parity_within(case: &Case, fixture_tol: f32, trainer_tol: f32) -> (f32, f32) {
    let name = &case.name;
    let engine = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("engine loads");
    assert_eq!(engine.model_id(), case.model.id());
    assert_eq!(engine.card().class_name, case.model.class_name());
    assert_eq!(engine.input_len(), case.x.len() / case.b);
    let (mut d_trainer, mut d_fixture) = (0.0f32, 0.0f32);
    for i in 0..case.b {
        let p = engine.classify_window(case.window(i)).expect("classifies");
        let want = case.model.forward_eval(&case.params, case.window(i));
        let d = max_abs_diff(&p.logits, &want);
        assert!(
            d <= trainer_tol,
            "{name}: engine vs trainer, sample {i}: {d:e} (tolerance {trainer_tol:e})"
        );
        d_trainer = d_trainer.max(d);
        if let Some(fx) = &case.want {
            let k = p.logits.len();
            let d = max_abs_diff(&p.logits, &fx[i * k..(i + 1) * k]);
            assert!(
                d <= fixture_tol,
                "{name}: engine vs fixture, sample {i}: {d:e}"
            );
            d_fixture = d_fixture.max(d);
        }
        let sum: f32 = p.probabilities.iter().sum();
        assert!(
            (sum - 1.0).abs() <= 1e-6,
            "{name}: probabilities sum to {sum}"
        );
        let best = p.logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(p.logits[p.class], best, "{name}: class is the argmax");
    }
    match case.want {
        Some(_) => eprintln!(
            "{name}: max |engine − trainer| = {d_trainer:e}, max |engine − fixture| = {d_fixture:e}"
        ),
        None => eprintln!("{name}: max |engine − trainer| = {d_trainer:e}"),
    }
    (d_trainer, d_fixture)
}

/// A window-only model (its card says `causal = false`): it cannot stream — `stream` and
/// `stream_state_len` are `NotCausal` naming it — and a card claiming causality is rejected
/// at load (`Mismatch`: the architecture has no recurrent mode).
pub fn check_window_only(case: &Case) {
    let id = case.model.id();
    let engine = Engine::from_bytes(&blob(case, TensorDtype::F32)).unwrap();
    assert!(!engine.card().causal, "{id}");
    assert!(!engine.can_stream(), "{id}");
    match engine.stream(StreamOptions::default()) {
        Err(EngineError::NotCausal { id: got, .. }) => assert_eq!(got, id),
        other => panic!("{id} stream: {other:?}"),
    }
    assert!(matches!(
        engine.stream_state_len(),
        Err(EngineError::NotCausal { .. })
    ));
    let mut c = card(case.model.as_ref());
    c.causal = true;
    let e = Engine::from_bytes(&blob_with(case, &c, TensorDtype::F32, |_| true))
        .expect_err("a causal card is rejected");
    assert!(matches!(e, EngineError::Mismatch { .. }), "{id}: {e:?}");
}

/// The case's model file without tensor `gone` fails to load with
/// `ModelFileError::MissingTensor` naming exactly that tensor.
pub fn check_missing_tensor_named(case: &Case, gone: &str) {
    let bytes = blob_with(case, &card(case.model.as_ref()), TensorDtype::F32, |n| {
        n != gone
    });
    match Engine::from_bytes(&bytes) {
        Err(EngineError::File(ModelFileError::MissingTensor(name))) => assert_eq!(name, gone),
        other => panic!("{} without {gone}: {:?}", case.name, other.map(|_| ())),
    }
}

/// [`check_window_parity`] and [`check_f16`]: (max |engine − trainer|, max |f16 − f32|).
pub fn check_window_and_f16(case: &Case) -> (f32, f32) {
    (check_window_parity(case), check_f16(case))
}

/// f16 file vs f32 file of the same case: smaller weights, card dtype `f16`, same class and
/// logits within 1e-2 on every window. Returns max |f16 − f32| logits.
pub fn check_f16(case: &Case) -> f32 {
    let name = &case.name;
    let e32 = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("f32 file loads");
    let e16 = Engine::from_bytes(&blob(case, TensorDtype::F16)).expect("f16 file loads");
    assert_eq!(e16.card().dtype, "f16");
    assert!(e16.weight_bytes() < e32.weight_bytes());
    let mut dmax = 0.0f32;
    for i in 0..case.b {
        let (p32, p16) = (
            e32.classify_window(case.window(i)).unwrap(),
            e16.classify_window(case.window(i)).unwrap(),
        );
        let d = max_abs_diff(&p32.logits, &p16.logits);
        assert!(d <= 1e-2, "{name}: f16 vs f32 logits, sample {i}: {d:e}");
        assert_eq!(
            p32.class, p16.class,
            "{name}: f16 changes the class of sample {i} ({:?} vs {:?})",
            p32.logits, p16.logits
        );
        dmax = dmax.max(d);
    }
    eprintln!(
        "{name}: weights {} bytes (f32 file), {} bytes (f16 file); max |f16 − f32| logits = {dmax:e}",
        e32.weight_bytes(),
        e16.weight_bytes()
    );
    dmax
}

/// The trainer's model card for `m`: input in mV at 160 Hz, channels `Ch1..ChC`.
pub fn card(m: &dyn Model) -> ModelCard {
    model_card(
        m,
        &ExportInfo {
            sfreq: 160.0,
            channels: (1..=m.config().n_channels)
                .map(|i| format!("Ch{i}"))
                .collect(),
            unit: "mV".into(),
            preprocessing: serde_json::json!({ "note": "test model" }),
            split: None,
            training: serde_json::json!({}),
            metrics: serde_json::json!({}),
        },
    )
}

/// The model file of `model` with `params` and `card` in `dtype`, keeping the layout tensors
/// `keep` accepts (drop some to test missing-tensor errors).
pub fn model_blob(
    model: &dyn Model,
    params: &[f32],
    card: &ModelCard,
    dtype: TensorDtype,
    keep: impl Fn(&str) -> bool,
) -> Vec<u8> {
    let tensors: Vec<TensorOut<'_>> = model
        .layout()
        .specs()
        .iter()
        .filter(|s| keep(&s.name))
        .map(|s| TensorOut {
            name: &s.name,
            shape: &s.shape,
            data: &params[s.range.clone()],
        })
        .collect();
    to_bytes(card, &tensors, dtype).expect("serialises")
}

/// [`model_blob`] of a case.
pub fn blob_with(
    case: &Case,
    card: &ModelCard,
    dtype: TensorDtype,
    keep: impl Fn(&str) -> bool,
) -> Vec<u8> {
    model_blob(case.model.as_ref(), &case.params, card, dtype, keep)
}

/// The complete model file of a case with the trainer's [`card`].
pub fn blob(case: &Case, dtype: TensorDtype) -> Vec<u8> {
    blob_with(case, &card(case.model.as_ref()), dtype, |_| true)
}

/// The first `t` samples of a (C, T) channel-major window, as a (C, t) window.
pub fn prefix(window: &[f32], big_t: usize, t: usize) -> Vec<f32> {
    window
        .chunks_exact(big_t)
        .flat_map(|row| row[..t].iter().copied())
        .collect()
}

/// Sample `t` (C values) of a (C, T = `big_t`) window.
pub fn sample(window: &[f32], big_t: usize, t: usize) -> Vec<f32> {
    window.chunks_exact(big_t).map(|row| row[t]).collect()
}

/// Samples (each C values) back into a (C, T) window.
pub fn window_of(xs: &[Vec<f32>]) -> Vec<f32> {
    let c = xs[0].len();
    (0..c)
        .flat_map(|ci| xs.iter().map(move |x| x[ci]))
        .collect()
}

/// A tiny deterministic generator (splitmix64) for random push patterns.
pub struct Rng(pub u64);

impl Rng {
    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % n as u64) as usize
    }

    /// A value in [−1, 1] on a 1e-3 grid.
    pub fn value(&mut self) -> f32 {
        self.below(2001) as f32 / 1000.0 - 1.0
    }
}
