//! Shared plumbing of the engine tests (`tests/engine_window*.rs`, `tests/engine_stream*.rs`):
//! a trainer model with parameters and input windows ([`Case`]), built from a reference
//! fixture or from the trainer's random init; its model file (the trainer's card, serialised
//! with `qssm_formats::model_file::to_bytes`, f32 or f16); deterministic noise; helpers to
//! slice a (C, T) window into samples and back.
//!
//! Shape legend: B windows, C channels, T time samples. Windows are channel-major (C, T) in
//! millivolts, as the reference models take them.
use crate::Fixture;
use qssm_formats::model_file::{to_bytes, ModelCard, TensorDtype, TensorOut};
use qssm_trainer::export::{model_card, ExportInfo};
use qssm_trainer::models::{registry, Model, ModelConfig};
use rand::SeedableRng;
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
        name: format!("{id} random init (seed {seed})"),
        model,
        params,
        x,
        b,
        want: None,
    }
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
