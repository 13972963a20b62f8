//! 1a — `QuantumTransformer` (reference `models/QuantumTransformer.py`, spec §4.1):
//!
//! x (C, T) → (T, C) → Dropout (on the raw EEG) → u = SiLU(Linear(C, C)(·)) (`feature_proj`)
//! → `QuantumFeatureProcessor` (cs = 16, F = C, QGR-flavour branches, 18-d modulus output,
//! Linear(18, D) + LayerNorm + SiLU) (nc, D) → + `pos_encoding`\[:nc\] (frozen sinusoidal table,
//! max_len = nc) → 2 × TransformerBlock (bidirectional attention over the nc chunk tokens) →
//! RMSNorm (`final_norm`) → mean over chunks → Linear(D, 2) (`classifier`).
//! A window classifier only (global attention, spec §6).
use crate::nn::PositionalEncoding;
use crate::nn::{
    ChunkActs, ChunkProcessor, Io, Linear, Net, NormMeanHead, NormMeanPoolActs, StackActs,
    TransformerStack,
};
use crate::params::ParamLayout;
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer};

/// Chunk size of the reference's `QuantumFeatureProcessor` in 1a.
pub const CHUNK_SIZE: usize = 16;
use super::classical_transformer::N_HEADS;
/// MLP expansion of the transformer blocks (E = 2·D).
const EXPAND: usize = 2;
/// Dropout site of the raw-input dropout (the blocks use sites 0..3·layers).
const INPUT_SITE: u32 = 1000;

/// 1a QuantumTransformer. Parameter count (PyTorch `model.parameters()`, frozen
/// `pos_encoding` included) 351,729 + 128·⌈T/16⌉ at the EEG config: 352,753 / 353,777 /
/// 355,825 at T = 125 / 249 / 497.
pub struct QuantumTransformer {
    cfg: ModelConfig,
    lay: ParamLayout,
    pos: PositionalEncoding,
    feature_proj: Linear,
    proc: ChunkProcessor,
    /// `transformer_layers.i`
    layers: TransformerStack,
    head: NormMeanHead,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    /// input (B, T, C) after dropout
    xd: B::Buf,
    mask: B::Buf,
    /// feature_proj output (B, T, C)
    f0: B::Buf,
    u: B::Buf,
    proc: ChunkActs<B>,
    /// chunk tokens + PE (B, nc, D): block 0's input
    h0: B::Buf,
    layers: StackActs<B>,
    pool: NormMeanPoolActs<B>,
    // backward scratch
    dh: B::Buf,
    du: B::Buf,
    df0: B::Buf,
}

impl QuantumTransformer {
    /// Builds the layout for `cfg` (feature_dim = n_channels, max_len = ⌈T/16⌉), in the
    /// reference's `state_dict` order: `pos_encoding` (own parameter) first, then
    /// `feature_proj`, `quantum_processor`, `transformer_layers`, `final_norm`, `classifier`.
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, t) = (cfg.n_channels, cfg.d_model, cfg.n_times);
        let mut lay = ParamLayout::new();
        let nc = t.div_ceil(CHUNK_SIZE);
        let pos = PositionalEncoding::new(&mut lay, "pos_encoding", nc, d);
        let feature_proj = Linear::new(&mut lay, "feature_proj", c, c, true);
        let proc = ChunkProcessor::qgr(
            &mut lay,
            "quantum_processor.",
            (c, d, CHUNK_SIZE),
            cfg.n_qubits,
            cfg.n_layers,
        );
        let layers = TransformerStack::new(
            &mut lay,
            "transformer_layers",
            cfg.n_layers,
            (d, N_HEADS, EXPAND),
            0,
        );
        let head = NormMeanHead::new(&mut lay, d, cfg.n_classes);
        Self {
            cfg,
            lay,
            pos,
            feature_proj,
            proc,
            layers,
            head,
        }
    }
}

impl Net for QuantumTransformer {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        "1a"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (c, t, d) = (self.cfg.n_channels, self.cfg.n_times, self.cfg.d_model);
        let nc = self.proc.n_chunks(t);
        let st = |w: usize| be.alloc(&[b, t, w]);
        let sc = |w: usize| be.alloc(&[b, nc, w]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            xd: st(c),
            mask: st(c),
            f0: st(c),
            u: st(c),
            proc: self.proc.plan(be, b, t),
            h0: sc(d),
            layers: self.layers.plan(be, b, nc),
            pool: self.head.plan(be, b, nc),
            dh: sc(d),
            du: st(c),
            df0: st(c),
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
        be.to_token_major(&mut a.xd, &a.io.x);
        // dropout on the raw input: feature_proj's input gradient is never needed
        if let Some(cfg) = drop {
            be.dropout(&mut a.xd, &mut a.mask, cfg, INPUT_SITE);
        }
        self.feature_proj.forward(be, p, &a.xd, &mut a.f0);
        be.act(Act::Silu, &mut a.u, &a.f0);
        self.proc.forward(be, p, &a.u, &mut a.proc);
        be.copy(&mut a.h0, a.proc.out());
        self.pos.add(be, p, &mut a.h0);
        self.layers.forward(be, p, &a.h0, &mut a.layers, drop);
        let h = TransformerStack::out(&a.layers, &a.h0);
        self.head.forward(be, p, h, &mut a.pool, &mut a.io.out);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.dh, 0.0);
        let h = TransformerStack::out(&a.layers, &a.h0);
        self.head
            .backward(be, p, g, h, &mut a.pool, &a.io.dout, &mut a.dh);
        self.layers
            .backward(be, p, g, &a.h0, &mut a.layers, &mut a.dh);
        // + pos_encoding: frozen, identity for dh
        be.fill(&mut a.du, 0.0);
        self.proc.backward(be, p, g, &mut a.proc, &a.dh, &mut a.du);
        be.fill(&mut a.df0, 0.0);
        be.act_bwd(Act::Silu, &mut a.df0, &a.du, &a.f0);
        self.feature_proj.backward(be, p, g, &a.xd, &a.df0, None);
    }
    fn trace<'a, B: Infer>(&self, _be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            // eval mode: dropout is the identity
            ("dropout".to_string(), &a.xd),
            ("feature_proj".into(), &a.f0),
            (
                "quantum_processor.chunk_attention".into(),
                &a.proc.pool.scores,
            ),
            ("quantum_processor.quantum_branches".into(), &a.proc.br.out),
            ("quantum_processor.output_proj".into(), a.proc.out()),
            ("quantum_processor".into(), a.proc.out()),
        ];
        out.extend(self.layers.trace(&a.layers));
        out.push(("final_norm".into(), a.pool.normed()));
        out.push(("pool".into(), &a.pool.pooled));
        out.push(("classifier".into(), &a.io.out));
        out
    }
}
