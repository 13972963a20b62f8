//! The group-2 classical front-end of 2a, 2b and 2c, written once over the backend (spec
//! groups-2-4 §3.1 steps 1–2, reference `models/QuantumMixingSSM.py`:
//! `ClassicalFeatureExtractor` + `_chunk_aggregate` + `self.dropout`):
//!
//! x (B, C, T) mV → e = Drop(`feature_extractor.embedding`(x_t)) (B, T, D) → ChunkPool(cs, D/2)
//! with `chunk_attention` (zero pad rows at the end of time, taking part in the softmax as in
//! the reference) → Drop ⇒ s (B, nc, D), nc = ⌈T/cs⌉.
//!
//! Registration order (= state_dict order): `feature_extractor.embedding.{weight,bias}`,
//! `chunk_attention.{0,2}.{weight,bias}`.
use super::attention_pool::{AttentionPool, PoolActs};
use super::linear::Linear;
use crate::params::ParamLayout;
use crate::prelude::*;
use qssm_kernels::backend::{Backend, DropoutCfg, Infer};

/// Embedding → Dropout → ChunkPool → Dropout.
#[derive(Clone, Debug)]
pub struct ChunkFront {
    emb: Linear,
    pool: AttentionPool,
    d: usize,
    /// dropout sites of e and of s
    sites: [u32; 2],
}

/// Planned activations of a [`ChunkFront`] for (B, T).
pub struct ChunkFrontActs<B: Infer> {
    /// input, token-major (B, T, C)
    xt: B::Buf,
    /// `feature_extractor.embedding` output (B, T, D)
    emb: B::Buf,
    /// after the feature extractor's dropout (B, T, D)
    e: B::Buf,
    mask_e: B::Buf,
    pool: PoolActs<B>,
    /// chunk summaries after the dropout: the block's output s (B, nc, D)
    pub s: B::Buf,
    mask_s: B::Buf,
    dropped: bool,
    ds: B::Buf,
    de: B::Buf,
    dem: B::Buf,
}

impl ChunkFront {
    /// Registers the embedding Linear(C → D) and the chunk-attention MLP (D → D/2 → 1) for
    /// chunks of `cs` samples; `sites` are the dropout sites of e and of s.
    pub fn new(lay: &mut ParamLayout, (c, d, cs): (usize, usize, usize), sites: [u32; 2]) -> Self {
        let emb = Linear::new(lay, "feature_extractor.embedding", c, d, true);
        let pool = AttentionPool::chunks(lay, "chunk_attention", d, d / 2, cs);
        Self {
            emb,
            pool,
            d,
            sites,
        }
    }

    /// Number of chunks nc = ⌈T/cs⌉.
    pub fn n_chunks(&self, t: usize) -> usize {
        self.pool.n_out(t)
    }

    /// Buffers for (B, C, T) inputs.
    pub fn plan<B: Infer>(&self, be: &B, b: usize, c: usize, t: usize) -> ChunkFrontActs<B> {
        let d = self.d;
        let nc = self.n_chunks(t);
        ChunkFrontActs {
            xt: be.alloc(&[b, t, c]),
            emb: be.alloc(&[b, t, d]),
            e: be.alloc(&[b, t, d]),
            mask_e: be.alloc(&[b, t, d]),
            pool: self.pool.plan(be, b, t),
            s: be.alloc(&[b, nc, d]),
            mask_s: be.alloc(&[b, nc, d]),
            dropped: false,
            ds: be.alloc(&[b, nc, d]),
            de: be.alloc(&[b, t, d]),
            dem: be.alloc(&[b, t, d]),
        }
    }

    /// x (B, C, T) → `a.s` (B, nc, D); train mode (dropout) when `drop` is given.
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        a: &mut ChunkFrontActs<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        be.to_token_major(&mut a.xt, x);
        self.emb.forward(be, p, &a.xt, &mut a.emb);
        be.copy(&mut a.e, &a.emb);
        a.dropped = drop.is_some();
        if let Some(cfg) = drop {
            be.dropout(&mut a.e, &mut a.mask_e, cfg, self.sites[0]);
        }
        self.pool.forward(be, p, &a.e, &mut a.pool);
        be.copy(&mut a.s, &a.pool.out);
        if let Some(cfg) = drop {
            be.dropout(&mut a.s, &mut a.mask_s, cfg, self.sites[1]);
        }
    }

    /// Accumulates parameter gradients from ds (B, nc, D) (the input needs no gradient).
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        a: &mut ChunkFrontActs<B>,
        ds: &B::Buf,
    ) {
        let ds = if a.dropped {
            be.mul(&mut a.ds, ds, &a.mask_s);
            &a.ds
        } else {
            ds
        };
        be.fill(&mut a.de, 0.0);
        self.pool.backward(be, p, g, &mut a.pool, ds, &mut a.de);
        let de = if a.dropped {
            be.mul(&mut a.dem, &a.de, &a.mask_e);
            &a.dem
        } else {
            &a.de
        };
        self.emb.backward(be, p, g, &a.xt, de, None);
    }

    /// The reference's `act.*` intermediates of this stage after an eval forward:
    /// `feature_extractor{,.embedding,.dropout}` (B, T, D), `chunk_attention.{0,1}`
    /// (B, nc·cs, D/2), `chunk_attention{,.2}` (B, nc·cs, 1) scores, `dropout` (B, nc, D) (its
    /// first call).
    pub fn trace<'a, B: Infer>(&self, a: &'a ChunkFrontActs<B>) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            ("feature_extractor.embedding".to_string(), &a.emb),
            ("feature_extractor.dropout".into(), &a.e),
            ("feature_extractor".into(), &a.e),
        ];
        out.extend(self.pool.trace("chunk_attention", &a.pool));
        out.push(("dropout".into(), &a.s));
        out
    }
}
