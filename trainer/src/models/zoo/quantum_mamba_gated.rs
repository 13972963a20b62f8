//! mg — `QuantumMambaGated` (reference `models/QuantumGatedRecurrence.py`; spec
//! gated-and-protocols §1.6):
//!
//! x (C, T) → token-major (T, F), F = C → Dropout → x_p = SiLU(Linear(F, F)) (T, F) →
//! [`ChunkedGatedSuperposition`] (chunk size C = `chunk_size`) h (H) → Linear(H, H) → ReLU →
//! Dropout → Linear(H, O). Dropout sites (§1.8): the input, u_c in every chunk, after the ReLU.
//!
//! Fully causal (§1.11): every per-step op acts on one time step, the gated update fires once
//! per chunk (latency ≤ C samples) and the classifier reads h after the last, possibly short,
//! chunk; `ModelConfig::causal` therefore changes nothing. Parameter count at the EEG config
//! (F = 64, n = 6, 2 circuit layers, H = 64, O = 2): 54,704 with the unified ansatz, 52,328 with
//! the legacy one, for every T and C.
use crate::models::blocks::gated_recurrence::gated_program;
use crate::models::blocks::{CgsCache, ChunkedGatedSuperposition, Dropout, Linear};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, ModelConfig, SampleModel, SampleOutput};
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::{relu_backward, relu_forward, silu_backward, silu_forward};
use rand_chacha::ChaCha8Rng;

/// mg QuantumMambaGated.
pub struct QuantumMambaGated {
    cfg: ModelConfig,
    lay: ParamLayout,
    feature_proj: Linear,
    cgs: ChunkedGatedSuperposition,
    head0: Linear,
    head3: Linear,
    drop: Dropout,
}

#[derive(Default)]
struct Cache {
    /// dropout(x) (T, F)
    xd: Vec<f32>,
    mask_in: Vec<f32>,
    /// feature_proj output before SiLU (T, F)
    a: Vec<f32>,
    /// x_p (T, F)
    xp: Vec<f32>,
    cgs: CgsCache,
    h: Vec<f32>,
    o0: Vec<f32>,
    r: Vec<f32>,
    mask_head: Vec<f32>,
    /// dropout(ReLU) output (H)
    rd: Vec<f32>,
    logits: Vec<f32>,
}

impl QuantumMambaGated {
    /// Builds the layout for `cfg`: F = `n_channels`, n = `n_qubits`, circuit layers =
    /// `n_layers`, H = `hidden_dim`, C = `chunk_size`, O = `n_classes`, circuit from `ansatz`.
    pub fn new(cfg: ModelConfig) -> Self {
        let (f, h) = (cfg.n_channels, cfg.hidden_dim);
        let mut lay = ParamLayout::new();
        let feature_proj = Linear::new(&mut lay, "feature_proj", f, f, true);
        let cgs = ChunkedGatedSuperposition::new(
            &mut lay,
            "gated_recurrence.",
            f,
            h,
            cfg.chunk_size,
            gated_program(&cfg),
            cfg.dropout,
        );
        let head0 = Linear::new(&mut lay, "output_layer.0", h, h, true);
        let head3 = Linear::new(&mut lay, "output_layer.3", h, cfg.n_classes, true);
        let drop = Dropout { p: cfg.dropout };
        Self {
            cfg,
            lay,
            feature_proj,
            cgs,
            head0,
            head3,
            drop,
        }
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (f, t) = (self.cfg.n_channels, self.cfg.n_times);
        let mut k = Cache {
            xd: to_token_major(x, f, t),
            ..Default::default()
        };
        k.mask_in = self.drop.forward(&mut k.xd, rng.as_deref_mut());
        k.a = self.feature_proj.apply(p, &k.xd, t);
        k.xp = vec![0.0; t * f];
        silu_forward(&mut k.xp, &k.a);
        k.h = self
            .cgs
            .forward(p, &k.xp, t, rng.as_deref_mut(), &mut k.cgs);
        k.o0 = self.head0.apply(p, &k.h, 1);
        k.r = vec![0.0; k.o0.len()];
        relu_forward(&mut k.r, &k.o0);
        k.rd = k.r.clone();
        k.mask_head = self.drop.forward(&mut k.rd, rng);
        k.logits = self.head3.apply(p, &k.rd, 1);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (f, t, h) = (self.cfg.n_channels, self.cfg.n_times, self.cfg.hidden_dim);
        let mut dr = vec![0.0; h];
        self.head3.backward(p, g, &k.rd, dlogits, 1, Some(&mut dr));
        self.drop.backward(&mut dr, &k.mask_head);
        let mut do0 = vec![0.0; h];
        relu_backward(&mut do0, &dr, &k.o0);
        let mut dh = vec![0.0; h];
        self.head0.backward(p, g, &k.h, &do0, 1, Some(&mut dh));
        let mut dxp = vec![0.0; t * f];
        self.cgs.backward(p, g, &k.xp, t, &k.cgs, &dh, &mut dxp);
        let mut da = vec![0.0; t * f];
        silu_backward(&mut da, &dxp, &k.a);
        self.feature_proj.backward(p, g, &k.xd, &da, t, None);
    }
}

impl SampleModel for QuantumMambaGated {
    fn id(&self) -> &'static str {
        "mg"
    }
    fn class_name(&self) -> &'static str {
        "QuantumMambaGated"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn forward_eval(&self, p: &[f32], x: &[f32]) -> Vec<f32> {
        self.run(p, x, None).logits
    }
    fn forward_backward(
        &self,
        p: &[f32],
        x: &[f32],
        target: Target<'_>,
        scale: f32,
        rng: Option<&mut ChaCha8Rng>,
        g: &mut [f32],
    ) -> SampleOutput {
        let k = self.run(p, x, rng);
        let (loss, dlogits) = loss_with_grad(&k.logits, target, scale);
        self.backward(p, g, &k, &dlogits);
        SampleOutput {
            loss,
            logits: k.logits,
        }
    }
    /// `dropout` (T, F), `feature_proj` (T, F, before the functional SiLU), the
    /// `gated_recurrence*` names of [`ChunkedGatedSuperposition::trace`], `output_layer.{0..3}`
    /// and `output_layer` (logits).
    fn is_causal(&self) -> bool {
        true
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        // causal chunk by chunk (spec gated §1.11): after chunk c the head reads h_c
        let (t, h, c) = (
            self.cfg.n_times,
            self.cfg.hidden_dim,
            self.cfg.chunk_size.max(1),
        );
        let k = self.run(p, x, None);
        let outs = k
            .cgs
            .states
            .chunks_exact(h)
            .enumerate()
            .map(|(i, hc)| {
                let mut r = self.head0.apply(p, hc, 1);
                r.iter_mut().for_each(|v| *v = v.max(0.0));
                (((i + 1) * c).min(t), self.head3.apply(p, &r, 1))
            })
            .collect();
        Some(outs)
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let mut out = vec![
            ("dropout".into(), k.xd.clone()),
            ("feature_proj".into(), k.a.clone()),
            ("feature_proj.silu".into(), k.xp.clone()),
        ];
        out.extend(self.cgs.trace("gated_recurrence", &k.cgs));
        out.push(("output_layer.0".into(), k.o0.clone()));
        out.push(("output_layer.1".into(), k.r.clone()));
        out.push(("output_layer.2".into(), k.rd.clone()));
        out.push(("output_layer.3".into(), k.logits.clone()));
        out.push(("output_layer".into(), k.logits));
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::models::{registry, AnsatzKind, ModelConfig, Target};
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
}
