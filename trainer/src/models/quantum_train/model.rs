//! Quantum-Train qt-seed as a trainable [`Model`] (spec §5.1–5.2): parameters are the circuit
//! angles `phi` (8, 13) and the mapping MLP (`mapping.fc1.weight` (20, 14), `mapping.fc1.bias`,
//! `mapping.fc2.weight` (1, 20), `mapping.fc2.bias`): 425 in all. Every step generates the
//! CNN's θ once (circuit, then the MLP over the first M basis indices), runs the batch through
//! the CNN, and sends ∂L/∂θ back through the MLP and, by the adjoint method, the circuit.
//!
//! Input: the `smnist-10k` images as (B, 1, 784) (28×28, row-major, normalised); output 10
//! logits. It runs on the host CPU (images in parallel; per-image gradients summed in a fixed
//! order, so results do not depend on the thread count).
use super::generator::{
    circuit_probs, circuit_probs_bwd, generate_theta, generate_theta_bwd, MappingMlp, QT_SEED,
};
use super::tensor_gain;
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{Model, ModelConfig, StepOutput};
use crate::params::{Init, ParamLayout};
use qssm_kernels::ops::target_cnn::{CnnSpec, TargetCnn, N_CLASSES, N_WEIGHTS, SEED_CNN, SIDE};
use rayon::prelude::*;
use std::ops::Range;

/// Hidden width of the mapping MLP.
const HIDDEN: usize = 20;

/// Images per gradient partial: partials are summed in image order.
const SHARD: usize = 8;

/// Quantum-Train, seed variant: 425 trained parameters generating the 6,676 weights of its
/// target CNN (spec §5.1–5.2).
#[derive(Debug)]
pub struct QuantumTrain {
    cfg: ModelConfig,
    layout: ParamLayout,
    phi: Range<usize>,
    fc1_w: Range<usize>,
    fc1_b: Range<usize>,
    fc2_w: Range<usize>,
    fc2_b: Range<usize>,
    /// the per-tensor gains of `--qt-tensor-gain` ([`tensor_gain`]), one per CNN tensor
    gains: Option<Range<usize>>,
}

/// The name of the gain of the CNN tensor `tensor` (`--qt-tensor-gain`): `tensor_gain.fc1.weight`.
pub fn gain_name(tensor: &str) -> String {
    format!("tensor_gain.{tensor}")
}

/// Xavier-uniform bound with gain g for a (fan_out, fan_in) weight.
fn xavier(g: f32, fan_in: usize, fan_out: usize) -> Init {
    let b = g * (6.0 / (fan_in + fan_out) as f32).sqrt();
    Init::Uniform(-b, b)
}

impl QuantumTrain {
    /// The model for `cfg`; refuses a configuration other than one channel of 28×28 = 784
    /// samples and 10 classes (the target CNN's input and output).
    pub fn new(cfg: ModelConfig) -> Result<Self, String> {
        Self::build(cfg, false)
    }

    /// The model with each generated CNN tensor standardised and scaled by a learnable gain
    /// ([`tensor_gain`]; `--qt-tensor-gain`, not the seed's method): 8 more parameters,
    /// `tensor_gain.conv1.weight` … `tensor_gain.fc2.bias` (shape (1) each).
    pub fn with_tensor_gain(cfg: ModelConfig) -> Result<Self, String> {
        Self::build(cfg, true)
    }

    /// Whether a model file's tensor names are those of the `--qt-tensor-gain` form.
    pub fn names_have_tensor_gain<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
        let first = gain_name(SEED_CNN.tensors()[0].0);
        names.any(|n| n == first)
    }

    /// Whether the generated tensors are standardised with learnable gains.
    pub fn has_tensor_gain(&self) -> bool {
        self.gains.is_some()
    }

    fn build(cfg: ModelConfig, gain: bool) -> Result<Self, String> {
        check_config("quantum-train", &cfg)?;
        let n = QT_SEED.n_wires;
        let mut layout = ParamLayout::new();
        let phi = layout.add("phi", &[QT_SEED.n_blocks, n], Init::Normal(0.1));
        let fc1_w = layout.add(
            "mapping.fc1.weight",
            &[HIDDEN, n + 1],
            xavier(0.5, n + 1, HIDDEN),
        );
        let fc1_b = layout.add("mapping.fc1.bias", &[HIDDEN], Init::Const(0.0));
        let fc2_w = layout.add("mapping.fc2.weight", &[1, HIDDEN], xavier(0.5, HIDDEN, 1));
        let fc2_b = layout.add("mapping.fc2.bias", &[1], Init::Const(0.0));
        let gains = gain.then(|| {
            let init = tensor_gain::initial_gains(&SEED_CNN);
            let names = SEED_CNN.tensors();
            let first = layout.len();
            for ((name, _), g) in names.iter().zip(init) {
                layout.add(gain_name(name), &[1], Init::Const(g));
            }
            first..layout.len()
        });
        Ok(Self {
            cfg,
            layout,
            phi,
            fc1_w,
            fc1_b,
            fc2_w,
            fc2_b,
            gains,
        })
    }

    fn phi(&self, p: &[f32]) -> Vec<f64> {
        p[self.phi.clone()].iter().map(|&v| v as f64).collect()
    }

    fn mlp(&self, p: &[f32]) -> MappingMlp {
        MappingMlp {
            fc1_w: p[self.fc1_w.clone()].to_vec(),
            fc1_b: p[self.fc1_b.clone()].to_vec(),
            fc2_w: p[self.fc2_w.clone()].to_vec(),
            fc2_b: p[self.fc2_b.start],
        }
    }

    /// The circuit's probabilities (2^13) and the CNN weights θ (M) the parameters generate
    /// (with `--qt-tensor-gain`, after the per-tensor standardisation and gains).
    pub fn generate(&self, p: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (probs, raw) = self.generate_raw(p);
        let theta = match &self.gains {
            Some(r) => tensor_gain::forward(&SEED_CNN, &raw, &p[r.clone()]),
            None => raw,
        };
        (probs, theta)
    }

    /// The probabilities and the mapping MLP's outputs θ before any gain.
    fn generate_raw(&self, p: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let probs = circuit_probs(&QT_SEED, &self.phi(p));
        let theta = generate_theta(&probs, QT_SEED.n_wires, &self.mlp(p), N_WEIGHTS);
        (probs, theta)
    }
}

/// The CNN `spec` with weights θ on a batch x (B, 784): logits (B, 10), images in parallel.
pub(super) fn cnn_logits(spec: CnnSpec, theta: &[f32], x: &[f32], b: usize) -> Vec<f32> {
    let cnn = TargetCnn::new(spec, theta);
    x[..b * SIDE * SIDE]
        .par_chunks(SIDE * SIDE)
        .flat_map_iter(|img| cnn.logits(img))
        .collect()
}

/// One training pass of the CNN `spec` with weights θ over a batch x (B, 784): the mean loss,
/// the logits (B, 10) and ∂(mean loss)/∂θ (M). Images in parallel, in shards of [`SHARD`]
/// whose partial gradients are summed in shard order.
pub(super) fn cnn_batch(
    spec: CnnSpec,
    theta: &[f32],
    x: &[f32],
    b: usize,
    targets: &[Target<'_>],
) -> (f32, Vec<f32>, Vec<f32>) {
    let cnn = TargetCnn::new(spec, theta);
    let m = spec.n_weights();
    let scale = 1.0 / b as f32;
    let img = SIDE * SIDE;
    let shards: Vec<(f32, Vec<f32>, Vec<f32>)> = x[..b * img]
        .par_chunks(SHARD * img)
        .zip(targets.par_chunks(SHARD))
        .map(|(xs, ts)| {
            let mut dtheta = vec![0.0f32; m];
            let (mut loss, mut logits) = (0.0f32, Vec::with_capacity(ts.len() * N_CLASSES));
            for (xi, &t) in xs.chunks(img).zip(ts) {
                let a = cnn.forward(xi);
                let (l, d) = loss_with_grad(&a.logits, t, scale);
                loss += l;
                cnn.backward(xi, &a, &d, &mut dtheta);
                logits.extend_from_slice(&a.logits);
            }
            (loss, logits, dtheta)
        })
        .collect();
    let mut dtheta = vec![0.0f32; m];
    let (mut loss, mut logits) = (0.0f32, Vec::with_capacity(b * N_CLASSES));
    for (l, z, d) in shards {
        loss += l;
        logits.extend(z);
        dtheta.iter_mut().zip(&d).for_each(|(a, v)| *a += v);
    }
    (loss * scale, logits, dtheta)
}

/// The configuration check the Quantum-Train models share: one 28×28 image in, 10 classes out.
pub(super) fn check_config(id: &str, cfg: &ModelConfig) -> Result<(), String> {
    if cfg.n_channels != 1 || cfg.n_times != SIDE * SIDE || cfg.n_classes != N_CLASSES {
        return Err(format!(
            "{id}'s target CNN takes one 28×28 image (1 channel, 784 samples) and gives \
             {N_CLASSES} classes; got {} channel(s), {} samples, {} classes (use --task \
             smnist-10k)",
            cfg.n_channels, cfg.n_times, cfg.n_classes
        ));
    }
    Ok(())
}

/// A Quantum-Train target CNN trained directly (spec §5.5 B11 (i), the baseline of every
/// Quantum-Train claim), and the model of a CNN that Quantum-Train generated
/// (`trainer export --format generated-cnn`): `qt-cnn` (qt-seed's CNN, 6,676 weights) or
/// `qt-liu-cnn` (qt-liu's, 6,690). Its weights are the parameters, named as the sources'
/// `state_dict` (`conv1.weight`, …, [`CnnSpec::tensors`]), PyTorch's default initialisation
/// (U(±1/√fan_in) for weights and biases).
#[derive(Debug)]
pub struct TargetCnnModel {
    id: &'static str,
    spec: CnnSpec,
    cfg: ModelConfig,
    layout: ParamLayout,
}

impl TargetCnnModel {
    /// `qt-cnn` for `cfg` (one 28×28 image, 10 classes; refused otherwise).
    pub fn new(cfg: ModelConfig) -> Result<Self, String> {
        Self::with_spec("qt-cnn", SEED_CNN, cfg)
    }

    /// The CNN `spec` under registry id `id` (`qt-cnn`, `qt-liu-cnn`) for `cfg`.
    pub fn with_spec(id: &'static str, spec: CnnSpec, cfg: ModelConfig) -> Result<Self, String> {
        check_config(id, &cfg)?;
        let mut layout = ParamLayout::new();
        let tensors = spec.tensors();
        for (name, shape) in &tensors {
            // fan_in of the weight this tensor belongs to: the product after the first dim
            let weight_shape = tensors
                .iter()
                .find(|(n, _)| *n == name.replace(".bias", ".weight"))
                .map_or(shape, |(_, s)| s);
            let fan_in: usize = weight_shape[1..].iter().product();
            let bound = 1.0 / (fan_in as f32).sqrt();
            layout.add(*name, shape, Init::Uniform(-bound, bound));
        }
        debug_assert_eq!(layout.len(), spec.n_weights());
        Ok(Self {
            id,
            spec,
            cfg,
            layout,
        })
    }
}

impl Model for TargetCnnModel {
    fn id(&self) -> &'static str {
        self.id
    }

    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    fn forward_eval_batch(&self, p: &[f32], x: &[f32], b: usize) -> Vec<f32> {
        cnn_logits(self.spec, p, x, b)
    }

    fn train_batch(
        &self,
        p: &[f32],
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        _dropout_seeds: Option<&[u64]>,
        g: &mut [f32],
    ) -> StepOutput {
        let (loss, logits, dtheta) = cnn_batch(self.spec, p, x, b, targets);
        g.copy_from_slice(&dtheta);
        StepOutput { loss, logits }
    }

    fn trace(&self, _p: &[f32], _x: &[f32]) -> Vec<(String, Vec<f32>)> {
        Vec::new()
    }
}

impl Model for QuantumTrain {
    fn id(&self) -> &'static str {
        "quantum-train"
    }

    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    fn forward_eval_batch(&self, p: &[f32], x: &[f32], b: usize) -> Vec<f32> {
        cnn_logits(SEED_CNN, &self.generate(p).1, x, b)
    }

    fn train_batch(
        &self,
        p: &[f32],
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        _dropout_seeds: Option<&[u64]>,
        g: &mut [f32],
    ) -> StepOutput {
        let (probs, raw) = self.generate_raw(p);
        g.fill(0.0);
        let (loss, logits, dtheta) = match &self.gains {
            Some(r) => {
                let theta = tensor_gain::forward(&SEED_CNN, &raw, &p[r.clone()]);
                let (loss, logits, d) = cnn_batch(SEED_CNN, &theta, x, b, targets);
                let (dtheta, dg) = tensor_gain::backward(&SEED_CNN, &raw, &p[r.clone()], &d);
                g[r.clone()].copy_from_slice(&dg);
                (loss, logits, dtheta)
            }
            None => cnn_batch(SEED_CNN, &raw, x, b, targets),
        };
        let mlp = self.mlp(p);
        let (gm, dp) = generate_theta_bwd(&probs, QT_SEED.n_wires, &mlp, &dtheta);
        let dphi = circuit_probs_bwd(&QT_SEED, &self.phi(p), &dp);
        for (o, v) in g[self.phi.clone()].iter_mut().zip(dphi) {
            *o = v as f32;
        }
        g[self.fc1_w.clone()].copy_from_slice(&gm.fc1_w);
        g[self.fc1_b.clone()].copy_from_slice(&gm.fc1_b);
        g[self.fc2_w.clone()].copy_from_slice(&gm.fc2_w);
        g[self.fc2_b.start] = gm.fc2_b;
        StepOutput { loss, logits }
    }

    fn trace(&self, p: &[f32], _x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let (probs, theta) = self.generate(p);
        vec![("probs".into(), probs), ("theta".into(), theta)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn model() -> QuantumTrain {
        QuantumTrain::new(super::super::image_config()).expect("the 28×28 configuration")
    }

    /// The spec's counts (§5.4): 104 circuit angles + 321 mapping weights = 425.
    #[test]
    fn parameter_counts_are_the_specs() {
        let m = model();
        assert_eq!(m.layout().n_params(), 425);
        assert_eq!(m.phi.len(), 104);
        let mut bad = m.config().clone();
        bad.n_times = 64;
        assert!(QuantumTrain::new(bad).unwrap_err().contains("smnist-10k"));
    }

    /// The training loss's gradient of every circuit angle and a sample of the mapping
    /// weights against central differences (the whole chain θ → MLP → p → φ), for the seed's
    /// form and the `--qt-tensor-gain` form (whose gains are checked too).
    #[test]
    fn loss_gradient_matches_central_differences() {
        check_loss_gradient(&model(), 2e-5, true);
        // standardised tensors make the loss about 40× steeper in φ at this point, and the
        // central differences of its f32 logits spread by ~1e-3 over the three steps: the
        // absolute term follows (a wrong sign or factor on the larger gradients still fails).
        // fc1's weights and biases shift the MLP's pre-activations of thousands of indices,
        // whose ReLU kinks then fall inside every step of that steeper loss (fc1 biases 2–8 %
        // off at every step); they are left out (the MLP's backward is the seed form's, checked
        // above): φ, fc2 (θ is linear in it) and the gains are checked, which is the chain
        // through the standardisation.
        let gain = QuantumTrain::with_tensor_gain(super::super::image_config()).unwrap();
        assert_eq!(gain.layout().n_params(), 433);
        let g = check_loss_gradient(&gain, 1e-3, false);
        // a constant added to every θ_i (fc2.bias) is removed by the standardisation
        assert!(g[gain.fc2_b.start].abs() < 1e-6, "{}", g[gain.fc2_b.start]);
    }

    /// Checks the gradient with the bound `abs_tol` + 0.5 % (every circuit angle, gain and
    /// fc2 weight and bias; with `fc1`, every 17th fc1 weight and every fc1 bias); returns
    /// the gradient.
    fn check_loss_gradient(m: &QuantumTrain, abs_tol: f64, fc1: bool) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut p = m.layout().init(&mut rng);
        // larger angles than the init, so that p spreads over the basis, and a large weight
        // on p_i in the mapping, so that θ depends on p well above the f32 forward's rounding
        for v in &mut p[m.phi.clone()] {
            *v = rng.gen_range(-1.5..1.5);
        }
        let n_in = QT_SEED.n_wires + 1;
        for j in 0..HIDDEN {
            p[m.fc1_w.start + j * n_in + n_in - 1] = if j % 2 == 0 { 400.0 } else { -400.0 };
        }
        let b = 3;
        let x: Vec<f32> = (0..b * SIDE * SIDE)
            .map(|_| rng.gen_range(-0.4..2.8))
            .collect();
        let targets = [1usize, 7, 4].map(Target::Class);
        let mut g = vec![0.0f32; p.len()];
        let out = m.train_batch(&p, &x, b, &targets, None, &mut g);
        assert!(out.loss.is_finite() && out.logits.len() == b * N_CLASSES);
        let labels = [1usize, 7, 4];
        // mean cross-entropy in f64 from the f32 logits
        let loss =
            |q: &[f32]| super::super::mean_cross_entropy(&m.forward_eval_batch(q, &x, b), &labels);
        assert!((loss(&p) - out.loss as f64).abs() < 1e-4 * (1.0 + loss(&p)));
        let fc1_picks = m.fc1_w.clone().step_by(17).chain(m.fc1_b.clone());
        let picks: Vec<usize> = m
            .phi
            .clone()
            .chain(fc1_picks.filter(|_| fc1))
            .chain(m.fc2_w.clone())
            .chain(m.fc2_b.clone())
            .chain(m.gains.clone().unwrap_or(0..0))
            .collect();
        // the loss is piecewise smooth in φ (ReLUs and max pools over 6,676 generated weights)
        // and computed from f32 logits: central differences agree to about 2e-5 + 0.5 %, which
        // still tells a wrong sign, index or factor apart
        super::super::assert_gradient_matches(&loss, &mut p, &g, picks, (abs_tol, 5e-3));
        assert!(g[m.phi.clone()].iter().any(|&v| v != 0.0));
        g
    }
}
