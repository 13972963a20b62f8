//! 3b — `TrueClassicalMamba` (reference `models/TrueClassicalMamba.py`, spec §4.5):
//!
//! x (C, T) → Linear(C, D) (`embedding`) → Dropout → 2 × Mamba block (RMSNorm pre-norm,
//! residual inside) → RMSNorm (`final_norm`) → mean over T → Linear(D, 2) (`classifier`).
//! Causal up to the mean pool (spec §6).
use crate::models::blocks::pool::{mean_pool_backward, mean_pool_forward};
use crate::models::blocks::{Dropout, Linear, MambaBlock, MambaBlockCache, NormCache, RmsNorm};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, Model, ModelConfig, SampleOutput};
use crate::params::ParamLayout;
use rand_chacha::ChaCha8Rng;

/// 3b TrueClassicalMamba. Parameter count 241,922 at the EEG config, for every T.
pub struct TrueClassicalMamba {
    cfg: ModelConfig,
    lay: ParamLayout,
    embedding: Linear,
    drop: Dropout,
    blocks: Vec<MambaBlock>,
    final_norm: RmsNorm,
    classifier: Linear,
}

#[derive(Default)]
struct Cache {
    xt: Vec<f32>,
    emb: Vec<f32>,
    mask: Vec<f32>,
    inputs: Vec<Vec<f32>>,
    blocks: Vec<MambaBlockCache>,
    u: Vec<f32>,
    fnorm: Vec<f32>,
    fnc: NormCache,
    pooled: Vec<f32>,
    logits: Vec<f32>,
}

impl TrueClassicalMamba {
    /// Builds the layout for `cfg` (d_inner = 2·d_model).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, e) = (cfg.n_channels, cfg.d_model, 2 * cfg.d_model);
        let mut lay = ParamLayout::new();
        let embedding = Linear::new(&mut lay, "embedding", c, d, true);
        let blocks = (0..cfg.n_layers)
            .map(|i| {
                MambaBlock::true_classical(&mut lay, &format!("layers.{i}"), d, e, cfg.d_state)
            })
            .collect();
        let final_norm = RmsNorm::new(&mut lay, "final_norm", d);
        let classifier = Linear::new(&mut lay, "classifier", d, cfg.n_classes, true);
        let drop = Dropout { p: cfg.dropout };
        Self {
            cfg,
            lay,
            embedding,
            drop,
            blocks,
            final_norm,
            classifier,
        }
    }

    fn run(&self, p: &[f32], x: &[f32], rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let mut k = Cache {
            xt: to_token_major(x, self.cfg.n_channels, t),
            ..Default::default()
        };
        let mut u = self.embedding.apply(p, &k.xt, t);
        k.emb = u.clone();
        k.mask = self.drop.forward(&mut u, rng);
        for blk in &self.blocks {
            let mut bc = MambaBlockCache::default();
            let out = blk.forward(p, &u, t, None, &mut bc);
            k.inputs.push(std::mem::replace(&mut u, out));
            k.blocks.push(bc);
        }
        k.fnorm = vec![0.0; t * d];
        self.final_norm.forward(p, &u, t, &mut k.fnorm, &mut k.fnc);
        k.u = u;
        k.pooled = mean_pool_forward(&k.fnorm, t, d);
        k.logits = self.classifier.apply(p, &k.pooled, 1);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let mut dpooled = vec![0.0; d];
        self.classifier
            .backward(p, g, &k.pooled, dlogits, 1, Some(&mut dpooled));
        let mut dfn = vec![0.0; t * d];
        mean_pool_backward(&mut dfn, &dpooled, t, d);
        let mut du = vec![0.0; t * d];
        self.final_norm
            .backward(p, g, &k.u, &dfn, t, &k.fnc, &mut du);
        for (i, blk) in self.blocks.iter().enumerate().rev() {
            let mut dprev = vec![0.0; t * d];
            blk.backward(
                p,
                g,
                &k.inputs[i],
                t,
                &k.blocks[i],
                &du,
                None,
                &mut dprev,
                None,
            );
            du = dprev;
        }
        self.drop.backward(&mut du, &k.mask);
        self.embedding.backward(p, g, &k.xt, &du, t, None);
    }
}

impl Model for TrueClassicalMamba {
    fn id(&self) -> &'static str {
        "3b"
    }
    fn class_name(&self) -> &'static str {
        "TrueClassicalMamba"
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
    fn is_causal(&self) -> bool {
        true
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        // causal up to the mean pool (spec §6): the output after sample t is the classifier of
        // the running mean of final_norm(u_0..u_t)
        let k = self.run(p, x, None);
        let d = self.cfg.d_model;
        let mut sum = vec![0.0f32; d];
        let mut outs = Vec::with_capacity(self.cfg.n_times);
        for (t, row) in k.fnorm.chunks_exact(d).enumerate() {
            sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            let mean: Vec<f32> = sum.iter().map(|s| s / (t + 1) as f32).collect();
            outs.push((t + 1, self.classifier.apply(p, &mean, 1)));
        }
        Some(outs)
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let mut out = vec![
            ("embedding".into(), k.emb.clone()),
            ("dropout".into(), k.emb.clone()),
        ];
        for (i, next) in k
            .inputs
            .iter()
            .skip(1)
            .chain(std::iter::once(&k.u))
            .enumerate()
        {
            out.push((format!("layers.{i}"), next.clone()));
        }
        out.push(("final_norm".into(), k.fnorm));
        out.push(("pool".into(), k.pooled));
        out.push(("classifier".into(), k.logits));
        out
    }
}
