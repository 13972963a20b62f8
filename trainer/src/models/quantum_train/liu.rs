//! Quantum-Train, the authors' variant "qt-liu" (spec hqc-mamba-and-quantum-train §5.3; the
//! MNIST TorchQuantum notebook of `Hon-Hai-Quantum-Computing/QuantumTrain`, class
//! `LewHybridNN`), as a trainable [`Model`] (`trainer fit --model quantum-train --qt-variant
//! liu`, registry id `qt-liu`):
//! 1. a 13-qubit circuit of 16 blocks of U3 on every wire and CU3 on every circular neighbour
//!    pair ([`U3Ring`]) gives the basis probabilities p (2^13);
//! 2. the first M = 6,690 are post-processed, p′ = (β·tanh(γ·2^{N−1}·p))^α with β = 0.8,
//!    γ = 0.1, α = 0.3, then centred (minus their mean);
//! 3. a mapping network of four Linear layers 14 → 4 → 20 → 4 → 1 **without** activations
//!    takes [the 13 bits of i as ±1, MSB first; p′_i] to a raw weight; the M raw weights are
//!    centred and become θ, the weights of the target CNN [`LIU_CNN`] (no ReLUs);
//! 4. the CNN classifies the batch with θ.
//!
//! Parameters (1,497 trained): `QuantumNN.u3_layers` and `QuantumNN.cu3_layers`, each
//! (16, 13, 3) (TorchQuantum keeps one (1, 3) tensor per gate, `u3_layers.b.ops.w.params`),
//! initialised U(−π, π) as TorchQuantum's trainable operators; `MappingNetwork.input_layer`,
//! `hidden_layers.0`, `hidden_layers.1`, `output_layer` (weight and bias each), PyTorch's
//! default Linear initialisation U(±1/√fan_in).
//!
//! Gradients flow back through the CNN, both centrings, the mapping network, the
//! post-processing and, by the adjoint method, the circuit. Images run in parallel (the same
//! fixed-order sums as qt-seed).
use super::model::{check_config, cnn_batch, cnn_logits};
use crate::models::objective::Target;
use crate::models::{Model, ModelConfig, StepOutput};
use crate::params::{Init, ParamLayout};
use qssm_kernels::circuit::u3_ring::U3Ring;
use qssm_kernels::ops::target_cnn::LIU_CNN;
use std::f32::consts::PI;
use std::ops::Range;

/// The qt-liu circuit: 13 wires (2^13 ≥ 6,690), 16 blocks.
pub const QT_LIU: U3Ring = U3Ring {
    n_wires: 13,
    n_blocks: 16,
};

/// The post-processing's (β, γ, α) (the notebook's constants).
const POST: (f64, f64, f64) = (0.8, 0.1, 0.3);

/// Widths of the mapping network's activations: input (N + 1) … output (1).
const WIDTHS: [usize; 5] = [14, 4, 20, 4, 1];

/// Where each layer's activations start in [`QuantumTrainLiu::map_row`]'s buffer.
const OFFSETS: [usize; 5] = [0, 14, 18, 38, 42];

/// The buffer's length: every activation of the mapping network.
const N_ACTS: usize = 43;

/// Quantum-Train, the authors' variant (see the module docs).
#[derive(Debug)]
pub struct QuantumTrainLiu {
    cfg: ModelConfig,
    layout: ParamLayout,
    /// the circuit's angles: `u3_layers` then `cu3_layers`, interleaved per block at run time
    u3: Range<usize>,
    cu3: Range<usize>,
    /// (weight, bias) of the four mapping layers
    layers: [(Range<usize>, Range<usize>); 4],
}

/// What the generator computes on the way to θ, kept for its backward.
struct Generated {
    /// circuit angles in [`U3Ring`]'s order
    angles: Vec<f64>,
    /// post-processed probabilities before centring (M), and their base β·tanh(γ·2^{N−1}·p)
    post: Vec<f64>,
    base: Vec<f64>,
    /// the tanh's argument's derivative factor per index: γ·2^{N−1}·(1 − tanh²)
    dtanh: Vec<f64>,
    /// mapping inputs (M, 14)
    inputs: Vec<f64>,
    /// θ (M), f32
    theta: Vec<f32>,
}

impl QuantumTrainLiu {
    /// The model for `cfg`; refuses a configuration other than one channel of 28×28 = 784
    /// samples and 10 classes.
    pub fn new(cfg: ModelConfig) -> Result<Self, String> {
        check_config("qt-liu", &cfg)?;
        let n = QT_LIU.n_wires;
        let mut layout = ParamLayout::new();
        let angles = Init::Uniform(-PI, PI);
        let shape = [QT_LIU.n_blocks, n, 3];
        let u3 = layout.add("QuantumNN.u3_layers", &shape, angles);
        let cu3 = layout.add("QuantumNN.cu3_layers", &shape, angles);
        let names = [
            "input_layer",
            "hidden_layers.0",
            "hidden_layers.1",
            "output_layer",
        ];
        let layers = core::array::from_fn(|l| {
            let (i, o) = (WIDTHS[l], WIDTHS[l + 1]);
            let bound = 1.0 / (i as f32).sqrt();
            let name = format!("MappingNetwork.{}", names[l]);
            (
                layout.add(
                    format!("{name}.weight"),
                    &[o, i],
                    Init::Uniform(-bound, bound),
                ),
                layout.add(format!("{name}.bias"), &[o], Init::Uniform(-bound, bound)),
            )
        });
        Ok(Self {
            cfg,
            layout,
            u3,
            cu3,
            layers,
        })
    }

    /// The circuit's angles in [`U3Ring`]'s order (per block: the U3 layer, then the CU3's).
    fn angles(&self, p: &[f32]) -> Vec<f64> {
        let per = 3 * QT_LIU.n_wires;
        let (u3, cu3) = (&p[self.u3.clone()], &p[self.cu3.clone()]);
        u3.chunks_exact(per)
            .zip(cu3.chunks_exact(per))
            .flat_map(|(a, b)| a.iter().chain(b))
            .map(|&v| v as f64)
            .collect()
    }

    /// The mapping network applied to one input row in f64: `acts` holds every layer's
    /// activations one after another (14, 4, 20, 4, 1 at [`OFFSETS`]); the row is written
    /// into its first 14 by the caller. No allocation (it runs for every weight index, twice
    /// per training step).
    fn map_row(&self, p: &[f32], acts: &mut [f64; N_ACTS]) {
        for (l, (w, b)) in self.layers.iter().enumerate() {
            let (i, o) = (WIDTHS[l], WIDTHS[l + 1]);
            let (w, b) = (&p[w.clone()], &p[b.clone()]);
            let (prev, next) = acts.split_at_mut(OFFSETS[l + 1]);
            let prev = &prev[OFFSETS[l]..];
            for (r, out) in next[..o].iter_mut().enumerate() {
                *out = b[r] as f64
                    + w[r * i..(r + 1) * i]
                        .iter()
                        .zip(prev)
                        .map(|(&a, v)| a as f64 * v)
                        .sum::<f64>();
            }
        }
    }

    fn generate_full(&self, p: &[f32]) -> Generated {
        let (n, m) = (QT_LIU.n_wires, LIU_CNN.n_weights());
        let angles = self.angles(p);
        let probs = QT_LIU.probs(&angles);
        let (beta, gamma, alpha) = POST;
        let scale = gamma * (1u64 << (n - 1)) as f64;
        let mut base = Vec::with_capacity(m);
        let mut dtanh = Vec::with_capacity(m);
        for &pi in &probs[..m] {
            let t = (scale * pi).tanh();
            base.push(beta * t);
            dtanh.push(scale * (1.0 - t * t));
        }
        let post: Vec<f64> = base.iter().map(|b| b.powf(alpha)).collect();
        let mean = post.iter().sum::<f64>() / m as f64;
        let mut inputs = vec![0.0f64; m * (n + 1)];
        let mut raw = vec![0.0f64; m];
        for (i, (row, r)) in inputs.chunks_exact_mut(n + 1).zip(&mut raw).enumerate() {
            for (b, o) in row[..n].iter_mut().enumerate() {
                *o = if (i >> (n - 1 - b)) & 1 == 1 {
                    1.0
                } else {
                    -1.0
                };
            }
            row[n] = post[i] - mean;
            let mut acts = [0.0f64; N_ACTS];
            acts[..n + 1].copy_from_slice(row);
            self.map_row(p, &mut acts);
            *r = acts[OFFSETS[4]];
        }
        let mean_raw = raw.iter().sum::<f64>() / m as f64;
        let theta = raw.iter().map(|&v| (v - mean_raw) as f32).collect();
        Generated {
            angles,
            post,
            base,
            dtanh,
            inputs,
            theta,
        }
    }

    /// The CNN weights θ (M = 6,690) the parameters generate.
    pub fn generate(&self, p: &[f32]) -> Vec<f32> {
        self.generate_full(p).theta
    }

    /// ∂L/∂parameters (into `g`, overwritten) from ∂L/∂θ.
    fn generate_bwd(&self, p: &[f32], gen: &Generated, dtheta: &[f32], g: &mut [f32]) {
        let (n, m) = (QT_LIU.n_wires, LIU_CNN.n_weights());
        g.fill(0.0);
        // θ = raw − mean(raw): d raw = dθ − mean(dθ)
        let mean_d = dtheta.iter().map(|&v| v as f64).sum::<f64>() / m as f64;
        let mut gw: Vec<Vec<f64>> = self
            .layers
            .iter()
            .map(|(w, b)| vec![0.0; w.len() + b.len()])
            .collect();
        let mut dx_last = vec![0.0f64; m];
        for i in 0..m {
            let row = &gen.inputs[i * (n + 1)..(i + 1) * (n + 1)];
            let mut acts = [0.0f64; N_ACTS];
            acts[..n + 1].copy_from_slice(row);
            self.map_row(p, &mut acts);
            // ∂L/∂(layer l's output), the widest layer is 20
            let mut d = [0.0f64; 20];
            d[0] = dtheta[i] as f64 - mean_d;
            for l in (0..4).rev() {
                let (ni, no) = (WIDTHS[l], WIDTHS[l + 1]);
                let w = &p[self.layers[l].0.clone()];
                let a = &acts[OFFSETS[l]..OFFSETS[l] + ni];
                let (gwl, gbl) = gw[l].split_at_mut(ni * no);
                let mut dprev = [0.0f64; 20];
                for (r, &dr) in d[..no].iter().enumerate() {
                    gbl[r] += dr;
                    for k in 0..ni {
                        gwl[r * ni + k] += dr * a[k];
                        dprev[k] += dr * w[r * ni + k] as f64;
                    }
                }
                d = dprev;
            }
            dx_last[i] = d[n];
        }
        for (l, (w, b)) in self.layers.iter().enumerate() {
            let (gwl, gbl) = gw[l].split_at(w.len());
            for (o, v) in g[w.clone()].iter_mut().zip(gwl) {
                *o = *v as f32;
            }
            for (o, v) in g[b.clone()].iter_mut().zip(gbl) {
                *o = *v as f32;
            }
        }
        // p′ centred: d post = dx − mean(dx); post = base^α, base = β·tanh(s·p)
        let (beta, _, alpha) = POST;
        let mean_dx = dx_last.iter().sum::<f64>() / m as f64;
        let mut dp = vec![0.0f64; 1 << n];
        for i in 0..m {
            // the derivative of base^α at base = 0 (p = 0) is unbounded; such an index has no
            // finite gradient and contributes none
            if gen.base[i] > 0.0 {
                let dpost = dx_last[i] - mean_dx;
                dp[i] = dpost * alpha * gen.post[i] / gen.base[i] * beta * gen.dtanh[i];
            }
        }
        let dangles = QT_LIU.probs_backward(&gen.angles, &dp);
        // back to the two tensors' layouts
        let per = 3 * n;
        for (b, chunk) in dangles.chunks_exact(2 * per).enumerate() {
            let (du3, dcu3) = chunk.split_at(per);
            for (o, v) in g[self.u3.start + b * per..][..per].iter_mut().zip(du3) {
                *o = *v as f32;
            }
            for (o, v) in g[self.cu3.start + b * per..][..per].iter_mut().zip(dcu3) {
                *o = *v as f32;
            }
        }
    }
}

impl Model for QuantumTrainLiu {
    fn id(&self) -> &'static str {
        "qt-liu"
    }

    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    fn forward_eval_batch(&self, p: &[f32], x: &[f32], b: usize) -> Vec<f32> {
        cnn_logits(LIU_CNN, &self.generate(p), x, b)
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
        let gen = self.generate_full(p);
        let (loss, logits, dtheta) = cnn_batch(LIU_CNN, &gen.theta, x, b, targets);
        self.generate_bwd(p, &gen, &dtheta, g);
        StepOutput { loss, logits }
    }

    fn trace(&self, p: &[f32], _x: &[f32]) -> Vec<(String, Vec<f32>)> {
        vec![("theta".into(), self.generate(p))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qssm_kernels::ops::target_cnn::SIDE;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn model() -> QuantumTrainLiu {
        QuantumTrainLiu::new(super::super::image_config()).expect("the 28×28 configuration")
    }

    /// The spec's counts (§5.4): 1,248 circuit angles + 249 mapping weights = 1,497; θ is
    /// centred.
    #[test]
    fn parameter_counts_are_the_specs() {
        let m = model();
        assert_eq!(m.layout().n_params(), 1_497);
        assert_eq!(m.u3.len() + m.cu3.len(), 1_248);
        let p = m.layout().init(&mut ChaCha8Rng::seed_from_u64(1));
        let theta = m.generate(&p);
        assert_eq!(theta.len(), 6_690);
        let mean = theta.iter().map(|&v| v as f64).sum::<f64>() / theta.len() as f64;
        assert!(mean.abs() < 1e-6, "{mean}");
    }

    /// The training loss's gradient of a sample of circuit angles and every mapping
    /// parameter against central differences (the whole chain θ → mapping → p′ → p → angles).
    #[test]
    fn loss_gradient_matches_central_differences() {
        let m = model();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut p = m.layout().init(&mut rng);
        // a large weight on p′_i in the mapping, so that θ depends on the circuit well above
        // the f32 forward's rounding
        let w0 = m.layers[0].0.start;
        for r in 0..WIDTHS[1] {
            p[w0 + r * WIDTHS[0] + WIDTHS[0] - 1] = if r % 2 == 0 { 30.0 } else { -30.0 };
        }
        let b = 2;
        let x: Vec<f32> = (0..b * SIDE * SIDE)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let labels = [3usize, 8];
        let targets = labels.map(Target::Class);
        let mut g = vec![0.0f32; p.len()];
        let out = m.train_batch(&p, &x, b, &targets, None, &mut g);
        assert!(out.loss.is_finite());
        let loss =
            |q: &[f32]| super::super::mean_cross_entropy(&m.forward_eval_batch(q, &x, b), &labels);
        let picks: Vec<usize> =
            m.u3.clone()
                .step_by(97)
                .chain(m.cu3.clone().step_by(89))
                .chain(
                    m.layers
                        .iter()
                        .flat_map(|(w, b)| w.clone().step_by(3).chain(b.clone())),
                )
                .collect();
        // piecewise smooth (max pools) and from f32 logits: the closest of three steps; the
        // bound is the chain's sanity check (a wrong sign, index or factor shows); the
        // generator alone is checked tightly below
        super::super::assert_gradient_matches(&loss, &mut p, &g, picks, (1e-4, 3e-2));
        assert!(g[m.u3.clone()].iter().any(|&v| v != 0.0));
    }

    /// The generator's backward alone (circuit, post-processing, both centrings, mapping)
    /// for the smooth functional L = Σ w_i·θ_i, against central differences.
    #[test]
    fn generator_gradient_matches_central_differences() {
        let m = model();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut p = m.layout().init(&mut rng);
        let w0 = m.layers[0].0.start;
        for r in 0..WIDTHS[1] {
            p[w0 + r * WIDTHS[0] + WIDTHS[0] - 1] = if r % 2 == 0 { 30.0 } else { -30.0 };
        }
        let w: Vec<f32> = (0..LIU_CNN.n_weights())
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let gen = m.generate_full(&p);
        let mut g = vec![0.0f32; p.len()];
        m.generate_bwd(&p, &gen, &w, &mut g);
        let f = |q: &[f32]| -> f64 {
            m.generate(q)
                .iter()
                .zip(&w)
                .map(|(&t, &c)| t as f64 * c as f64)
                .sum()
        };
        let picks: Vec<usize> =
            m.u3.clone()
                .step_by(41)
                .chain(m.cu3.clone().step_by(43))
                .chain(
                    m.layers
                        .iter()
                        .flat_map(|(w, b)| w.clone().chain(b.clone())),
                )
                .collect();
        for k in picks {
            let v = p[k];
            let h = 1e-3f32;
            p[k] = v + h;
            let up = f(&p);
            p[k] = v - h;
            let down = f(&p);
            p[k] = v;
            let fd = (up - down) / (2.0 * h as f64);
            assert!(
                (fd - g[k] as f64).abs() <= 2e-3 * (1.0 + fd.abs()),
                "parameter {k}: gradient {} vs central difference {fd}",
                g[k]
            );
        }
    }
}
