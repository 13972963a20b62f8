//! 3a — `ClassicalTransformer` (reference `models/ClassicalTransformer.py`, spec §4.4):
//!
//! x (B, C, T) → (B, T, C) → Linear(C, D) (`embedding`) → Dropout → + `pos_encoding`\[:T\]
//! (frozen sinusoidal table, max_len = T) → 2 × TransformerBlock (bidirectional attention over
//! all T samples) → RMSNorm (`final_norm`) → mean over T → Linear(D, 2) (`classifier`).
//! A window classifier only (O(T²) global attention, spec §6). Written once over the backend.
use crate::nn::PositionalEncoding;
use crate::nn::{Io, Linear, Net, NormMeanHead, NormMeanPoolActs, StackActs, TransformerStack};
use crate::params::ParamLayout;
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Backend, DropoutCfg, Infer};

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
    /// `layers.i`
    layers: TransformerStack,
    head: NormMeanHead,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    xt: B::Buf,
    emb: B::Buf,
    /// dropped embedding + PE = block 0's input
    u0: B::Buf,
    mask: B::Buf,
    dropped: bool,
    layers: StackActs<B>,
    pool: NormMeanPoolActs<B>,
    du: B::Buf,
    dprev: B::Buf,
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
        // dropout site 0 is the embedding's, then three per block
        let layers =
            TransformerStack::new(&mut lay, "layers", cfg.n_layers, (d, N_HEADS, EXPAND), 1);
        let head = NormMeanHead::new(&mut lay, d, cfg.n_classes);
        Self {
            cfg,
            lay,
            pos,
            embedding,
            layers,
            head,
        }
    }
}

impl Net for ClassicalTransformer {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        "3a"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (t, c, d) = (self.cfg.n_times, self.cfg.n_channels, self.cfg.d_model);
        let s = |w: usize| be.alloc(&[b, t, w]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            xt: s(c),
            emb: s(d),
            u0: s(d),
            mask: s(d),
            dropped: false,
            layers: self.layers.plan(be, b, t),
            pool: self.head.plan(be, b, t),
            du: s(d),
            dprev: s(d),
        }
    }
    fn io<B: Infer>(a: &mut Acts<B>) -> &mut Io<B> {
        &mut a.io
    }
    fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        a: &mut Acts<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        let drop = drop.filter(|c| c.p > 0.0);
        be.to_token_major(&mut a.xt, &a.io.x);
        self.embedding.forward(be, p, &a.xt, &mut a.emb);
        be.copy(&mut a.u0, &a.emb);
        a.dropped = drop.is_some();
        if let Some(cfg) = drop {
            be.dropout(&mut a.u0, &mut a.mask, cfg, 0);
        }
        self.pos.add(be, p, &mut a.u0);
        self.layers.forward(be, p, &a.u0, &mut a.layers, drop);
        let h = TransformerStack::out(&a.layers, &a.u0);
        self.head.forward(be, p, h, &mut a.pool, &mut a.io.out);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.du, 0.0);
        let h = TransformerStack::out(&a.layers, &a.u0);
        self.head
            .backward(be, p, g, h, &mut a.pool, &a.io.dout, &mut a.du);
        self.layers
            .backward(be, p, g, &a.u0, &mut a.layers, &mut a.du);
        // + pos_encoding: frozen, identity for du
        if a.dropped {
            be.mul(&mut a.dprev, &a.du, &a.mask);
            core::mem::swap(&mut a.du, &mut a.dprev);
        }
        self.embedding.backward(be, p, g, &a.xt, &a.du, None);
    }
    fn trace<'a, B: Infer>(&self, _be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            ("embedding".to_string(), &a.emb),
            // eval mode: dropout is the identity
            ("dropout".to_string(), &a.emb),
        ];
        out.extend(self.layers.trace(&a.layers));
        out.push(("final_norm".into(), a.pool.normed()));
        out.push(("pool".into(), &a.pool.pooled));
        out.push(("classifier".into(), &a.io.out));
        out
    }
}
