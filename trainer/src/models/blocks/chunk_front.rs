//! The group-2 classical front-end of 2a, 2b and 2c (spec groups-2-4 §3.1 steps 1–2,
//! reference `models/QuantumMixingSSM.py`: `ClassicalFeatureExtractor` + `_chunk_aggregate` +
//! `self.dropout`):
//!
//! x (C, T) mV → e_t = Drop(`feature_extractor.embedding`(x_t)) (T, D) → ChunkPool(cs, D/2) with
//! `chunk_attention` (zero pad rows at the end of time) → Drop ⇒ s (nc, D), nc = ⌈T/cs⌉.
//!
//! Registration order (= state_dict order): `feature_extractor.embedding.{weight,bias}`,
//! `chunk_attention.{0,2}.{weight,bias}`.
use super::attention_pool::{AttentionPool, AttentionPoolCache};
use super::dropout::Dropout;
use super::linear::Linear;
use crate::models::to_token_major;
use crate::params::ParamLayout;
use rand_chacha::ChaCha8Rng;

/// Embedding → Dropout → ChunkPool → Dropout.
#[derive(Clone, Debug)]
pub struct ChunkFront {
    emb: Linear,
    pool: AttentionPool,
    drop: Dropout,
    c: usize,
    d: usize,
    cs: usize,
}

/// Activations of a [`ChunkFront`] forward.
#[derive(Clone, Debug, Default)]
pub struct ChunkFrontCache {
    /// input, token-major (T, C)
    xt: Vec<f32>,
    /// `feature_extractor.embedding` output (T, D)
    pub emb: Vec<f32>,
    /// after the feature extractor's dropout (T, D)
    pub e: Vec<f32>,
    mask_e: Vec<f32>,
    /// chunk pooling
    pub pool: AttentionPoolCache,
    /// chunk summaries after the dropout, s (nc, D)
    pub s: Vec<f32>,
    mask_s: Vec<f32>,
    t: usize,
}

impl ChunkFront {
    /// Registers the embedding Linear(C→D) and the chunk-attention MLP (D → D/2 → 1);
    /// `cs` = chunk size (16 in 2a–2c), `dropout` = p of both dropouts.
    pub fn new(lay: &mut ParamLayout, c: usize, d: usize, cs: usize, dropout: f32) -> Self {
        let emb = Linear::new(lay, "feature_extractor.embedding", c, d, true);
        let pool = AttentionPool::new(lay, "chunk_attention", d, d / 2);
        Self {
            emb,
            pool,
            drop: Dropout { p: dropout },
            c,
            d,
            cs,
        }
    }

    /// Number of chunks nc = ⌈T/cs⌉.
    pub fn n_chunks(&self, t: usize) -> usize {
        t.div_ceil(self.cs)
    }

    /// x (C, T) channel-major → s (nc, D) (in `c.s`). Dropout masks from `rng` (None = eval).
    pub fn forward(
        &self,
        p: &[f32],
        x: &[f32],
        t: usize,
        mut rng: Option<&mut ChaCha8Rng>,
        c: &mut ChunkFrontCache,
    ) {
        c.t = t;
        c.xt = to_token_major(x, self.c, t);
        c.emb = self.emb.apply(p, &c.xt, t);
        c.e = c.emb.clone();
        c.mask_e = self.drop.forward(&mut c.e, rng.as_deref_mut());
        c.s = self.pool.forward(p, &c.e, t, self.cs, &mut c.pool);
        c.mask_s = self.drop.forward(&mut c.s, rng);
    }

    /// Accumulates parameter gradients from ds (nc, D) (consumed).
    pub fn backward(&self, p: &[f32], g: &mut [f32], c: &ChunkFrontCache, mut ds: Vec<f32>) {
        self.drop.backward(&mut ds, &c.mask_s);
        let mut de = vec![0.0; c.t * self.d];
        self.pool.backward(p, g, &c.pool, &ds, &mut de);
        self.drop.backward(&mut de, &c.mask_e);
        self.emb.backward(p, g, &c.xt, &de, c.t, None);
    }

    /// The reference's `act.*` intermediates of this stage (eval forward in `c`):
    /// `feature_extractor{,.embedding,.dropout}` (T, D), `chunk_attention.{0,1}` (nc·cs, D/2),
    /// `chunk_attention{,.2}` (nc·cs) scores, `dropout` (nc, D) (its first call).
    pub fn trace(&self, p: &[f32], c: &ChunkFrontCache) -> Vec<(String, Vec<f32>)> {
        vec![
            ("feature_extractor.embedding".into(), c.emb.clone()),
            ("feature_extractor.dropout".into(), c.e.clone()),
            ("feature_extractor".into(), c.e.clone()),
            ("chunk_attention.0".into(), self.pool.hidden_pre(p, &c.pool)),
            ("chunk_attention.1".into(), c.pool.t1.clone()),
            ("chunk_attention.2".into(), c.pool.scores.clone()),
            ("chunk_attention".into(), c.pool.scores.clone()),
            ("dropout".into(), c.s.clone()),
        ]
    }
}
