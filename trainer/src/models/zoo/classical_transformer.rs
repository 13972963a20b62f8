//! 3a — `ClassicalTransformer` (reference `models/ClassicalTransformer.py`, spec §4.4):
//!
//! x (C, T) → (T, C) → Linear(C, D) (`embedding`) → Dropout → + `pos_encoding`\[:T\] (frozen
//! sinusoidal table, max_len = T) → 2 × TransformerBlock (bidirectional attention over all T
//! samples) → RMSNorm (`final_norm`) → mean over T → Linear(D, 2) (`classifier`).
//! A window classifier only (O(T²) global attention, spec §6).
use crate::models::blocks::pool::{mean_pool_backward, mean_pool_forward};
use crate::models::blocks::{
    Dropout, Linear, NormCache, PositionalEncoding, RmsNorm, TransformerBlock,
    TransformerBlockCache,
};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, SampleModel, ModelConfig, SampleOutput};
use crate::params::ParamLayout;
use rand_chacha::ChaCha8Rng;

/// Attention heads of the reference's transformer blocks (default `n_heads`).
pub const N_HEADS: usize = 4;
/// MLP expansion of the transformer blocks (`expand`, E = 2·D).
const EXPAND: usize = 2;

/// 3a ClassicalTransformer. Parameter count (PyTorch `model.parameters()`, frozen
/// `pos_encoding` included) 339,202 + 128·T at the EEG config: 355,202 / 371,074 / 402,818
/// at T = 125 / 249 / 497.
pub struct ClassicalTransformer {
    cfg: ModelConfig,
    lay: ParamLayout,
    pos: PositionalEncoding,
    embedding: Linear,
    drop: Dropout,
    blocks: Vec<TransformerBlock>,
    final_norm: RmsNorm,
    classifier: Linear,
}

#[derive(Default)]
struct Cache {
    /// input (T, C)
    xt: Vec<f32>,
    /// embedding output (T, D)
    emb: Vec<f32>,
    mask: Vec<f32>,
    /// block inputs (T, D); inputs\[0\] = dropped embedding + PE
    inputs: Vec<Vec<f32>>,
    blocks: Vec<TransformerBlockCache>,
    /// last block output (T, D)
    h: Vec<f32>,
    fnorm: Vec<f32>,
    fnc: NormCache,
    pooled: Vec<f32>,
    logits: Vec<f32>,
}

impl ClassicalTransformer {
    /// Builds the layout for `cfg` (max_len = T), in the reference's `state_dict` order:
    /// `pos_encoding` (own parameter) first, then `embedding`, `layers`, `final_norm`,
    /// `classifier`.
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, t) = (cfg.n_channels, cfg.d_model, cfg.n_times);
        let mut lay = ParamLayout::new();
        let pos = PositionalEncoding::new(&mut lay, "pos_encoding", t, d);
        let embedding = Linear::new(&mut lay, "embedding", c, d, true);
        let blocks = (0..cfg.n_layers)
            .map(|i| {
                TransformerBlock::new(
                    &mut lay,
                    &format!("layers.{i}"),
                    d,
                    N_HEADS,
                    EXPAND,
                    cfg.dropout,
                )
            })
            .collect();
        let final_norm = RmsNorm::new(&mut lay, "final_norm", d);
        let classifier = Linear::new(&mut lay, "classifier", d, cfg.n_classes, true);
        let drop = Dropout { p: cfg.dropout };
        Self {
            cfg,
            lay,
            pos,
            embedding,
            drop,
            blocks,
            final_norm,
            classifier,
        }
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let mut k = Cache {
            xt: to_token_major(x, self.cfg.n_channels, t),
            ..Default::default()
        };
        k.emb = self.embedding.apply(p, &k.xt, t);
        let mut h = k.emb.clone();
        k.mask = self.drop.forward(&mut h, rng.as_deref_mut());
        self.pos.add(p, &mut h, t);
        for blk in &self.blocks {
            let mut bc = TransformerBlockCache::default();
            let out = blk.forward(p, &h, t, rng.as_deref_mut(), &mut bc);
            k.inputs.push(std::mem::replace(&mut h, out));
            k.blocks.push(bc);
        }
        k.fnorm = vec![0.0; t * d];
        self.final_norm.forward(p, &h, t, &mut k.fnorm, &mut k.fnc);
        k.h = h;
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
        let mut dh = vec![0.0; t * d];
        self.final_norm
            .backward(p, g, &k.h, &dfn, t, &k.fnc, &mut dh);
        for (i, blk) in self.blocks.iter().enumerate().rev() {
            let mut dprev = vec![0.0; t * d];
            blk.backward(p, g, &k.inputs[i], t, &k.blocks[i], &dh, &mut dprev);
            dh = dprev;
        }
        // + pos_encoding: frozen, identity for dh
        self.drop.backward(&mut dh, &k.mask);
        self.embedding.backward(p, g, &k.xt, &dh, t, None);
    }
}

impl SampleModel for ClassicalTransformer {
    fn id(&self) -> &'static str {
        "3a"
    }
    fn class_name(&self) -> &'static str {
        "ClassicalTransformer"
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
            // eval mode: dropout is the identity
            ("dropout".into(), k.emb.clone()),
        ];
        for (i, next) in k
            .inputs
            .iter()
            .skip(1)
            .chain(std::iter::once(&k.h))
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
