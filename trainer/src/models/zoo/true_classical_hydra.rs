//! 3c — `TrueClassicalHydra` (reference `models/TrueClassicalHydra.py`, spec §4.6):
//!
//! x (C, T) → Linear(C, D) (`embedding`) → Dropout → 2 × (u = RMSNorm_i(HydraBlock_i(u)) + u)
//! (post-norm residual, `norms.i`) → RMSNorm (`final_norm`) → mean over T → `classifier` =
//! Linear(D, D/2) → GELU(erf) → Dropout → Linear(D/2, 2). Window-only: the backward scan sees
//! the whole window (spec §6).
use crate::models::blocks::pool::{mean_pool_backward, mean_pool_forward};
use crate::models::blocks::{
    ClassicalHydraBlock, ClassicalHydraCache, Dropout, Linear, NormCache, RmsNorm,
};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, SampleModel, ModelConfig, SampleOutput};
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::{gelu_backward, gelu_forward};
use rand_chacha::ChaCha8Rng;

/// 3c TrueClassicalHydra. Parameter count 240,322 at the EEG config, for every T.
pub struct TrueClassicalHydra {
    cfg: ModelConfig,
    lay: ParamLayout,
    embedding: Linear,
    drop: Dropout,
    blocks: Vec<ClassicalHydraBlock>,
    norms: Vec<RmsNorm>,
    final_norm: RmsNorm,
    cls0: Linear,
    cls3: Linear,
}

#[derive(Default)]
struct Cache {
    xt: Vec<f32>,
    emb: Vec<f32>,
    mask: Vec<f32>,
    /// block inputs (T, D)
    inputs: Vec<Vec<f32>>,
    blocks: Vec<ClassicalHydraCache>,
    /// block outputs (T, D), before `norms.i`
    ys: Vec<Vec<f32>>,
    /// `norms.i` outputs (T, D) and their statistics
    ns: Vec<Vec<f32>>,
    ncs: Vec<NormCache>,
    u: Vec<f32>,
    fnorm: Vec<f32>,
    fnc: NormCache,
    pooled: Vec<f32>,
    h0: Vec<f32>,
    h1: Vec<f32>,
    /// Dropout(GELU) (D/2)
    h2: Vec<f32>,
    mask_head: Vec<f32>,
    logits: Vec<f32>,
}

impl TrueClassicalHydra {
    /// Builds the layout for `cfg` (d_inner = 2·d_model).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, e) = (cfg.n_channels, cfg.d_model, 2 * cfg.d_model);
        let mut lay = ParamLayout::new();
        let embedding = Linear::new(&mut lay, "embedding", c, d, true);
        let blocks = (0..cfg.n_layers)
            .map(|i| ClassicalHydraBlock::new(&mut lay, &format!("layers.{i}"), d, e, cfg.d_state))
            .collect();
        let norms = (0..cfg.n_layers)
            .map(|i| RmsNorm::new(&mut lay, &format!("norms.{i}"), d))
            .collect();
        let final_norm = RmsNorm::new(&mut lay, "final_norm", d);
        let cls0 = Linear::new(&mut lay, "classifier.0", d, d / 2, true);
        let cls3 = Linear::new(&mut lay, "classifier.3", d / 2, cfg.n_classes, true);
        let drop = Dropout { p: cfg.dropout };
        Self {
            cfg,
            lay,
            embedding,
            drop,
            blocks,
            norms,
            final_norm,
            cls0,
            cls3,
        }
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let mut k = Cache {
            xt: to_token_major(x, self.cfg.n_channels, t),
            ..Default::default()
        };
        let mut u = self.embedding.apply(p, &k.xt, t);
        k.emb = u.clone();
        k.mask = self.drop.forward(&mut u, rng.as_deref_mut());
        for (blk, norm) in self.blocks.iter().zip(&self.norms) {
            let mut bc = ClassicalHydraCache::default();
            let y = blk.forward(p, &u, t, &mut bc);
            let mut nc = NormCache::default();
            let mut n = vec![0.0; t * d];
            norm.forward(p, &y, t, &mut n, &mut nc);
            let next: Vec<f32> = n.iter().zip(&u).map(|(a, b)| a + b).collect();
            k.inputs.push(std::mem::replace(&mut u, next));
            k.blocks.push(bc);
            k.ys.push(y);
            k.ns.push(n);
            k.ncs.push(nc);
        }
        k.fnorm = vec![0.0; t * d];
        self.final_norm.forward(p, &u, t, &mut k.fnorm, &mut k.fnc);
        k.u = u;
        k.pooled = mean_pool_forward(&k.fnorm, t, d);
        k.h0 = self.cls0.apply(p, &k.pooled, 1);
        k.h1 = vec![0.0; k.h0.len()];
        gelu_forward(&mut k.h1, &k.h0);
        k.h2 = k.h1.clone();
        k.mask_head = self.drop.forward(&mut k.h2, rng);
        k.logits = self.cls3.apply(p, &k.h2, 1);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let mut dh2 = vec![0.0; k.h1.len()];
        self.cls3.backward(p, g, &k.h2, dlogits, 1, Some(&mut dh2));
        self.drop.backward(&mut dh2, &k.mask_head);
        let mut dh0 = vec![0.0; k.h0.len()];
        gelu_backward(&mut dh0, &dh2, &k.h0);
        let mut dpooled = vec![0.0; d];
        self.cls0
            .backward(p, g, &k.pooled, &dh0, 1, Some(&mut dpooled));
        let mut dfn = vec![0.0; t * d];
        mean_pool_backward(&mut dfn, &dpooled, t, d);
        let mut du = vec![0.0; t * d];
        self.final_norm
            .backward(p, g, &k.u, &dfn, t, &k.fnc, &mut du);
        for (i, (blk, norm)) in self.blocks.iter().zip(&self.norms).enumerate().rev() {
            let mut dy = vec![0.0; t * d];
            norm.backward(p, g, &k.ys[i], &du, t, &k.ncs[i], &mut dy);
            // residual path: du stays, the block adds its input gradient
            blk.backward(p, g, &k.inputs[i], t, &k.blocks[i], &dy, &mut du);
        }
        self.drop.backward(&mut du, &k.mask);
        self.embedding.backward(p, g, &k.xt, &du, t, None);
    }
}

impl SampleModel for TrueClassicalHydra {
    fn id(&self) -> &'static str {
        "3c"
    }
    fn class_name(&self) -> &'static str {
        "TrueClassicalHydra"
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
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let mut out = vec![
            ("embedding".into(), k.emb.clone()),
            ("dropout".into(), k.emb.clone()),
        ];
        for (i, (y, n)) in k.ys.iter().zip(&k.ns).enumerate() {
            out.push((format!("layers.{i}"), y.clone()));
            out.push((format!("norms.{i}"), n.clone()));
        }
        out.push(("final_norm".into(), k.fnorm));
        out.push(("pool".into(), k.pooled));
        out.push(("classifier.0".into(), k.h0));
        out.push(("classifier.1".into(), k.h1.clone()));
        out.push(("classifier.2".into(), k.h1));
        out.push(("classifier.3".into(), k.logits.clone()));
        out.push(("classifier".into(), k.logits));
        out
    }
}
