//! Attention-pooled chunk processors written once over the backend (spec
//! circuits-and-groups-1-3 §2.5): zero-pad u (B, T, F) to nc·cs rows at the end of time, score
//! every row with `chunk_attention` = Linear(F, F/2) → tanh → Linear(F/2, 1), softmax-pool each
//! chunk of cs rows (pad rows included, as in the reference), run the quantum superposition
//! [`Branches`] on each chunk summary, then `output_proj` = Linear(width, D) → LayerNorm(D) →
//! SiLU. Output (B, nc, D).
//!
//! * `ChunkedQuantumProcessor` (reference `models/QuantumSSM.py`; 1b, 1c): QSSM-flavour
//!   branches, [`ChunkProcessor::qssm`];
//! * `QuantumFeatureProcessor` (reference `models/QuantumTransformer.py`; 1a): QGR-flavour
//!   branches on the unified ansatz without encoding, [`ChunkProcessor::qgr`].
use super::attention_pool::{AttentionPool, PoolActs};
use super::branches::{BranchActs, Branches};
use super::linear::Linear;
use super::norm::{LayerNorm, LayerNormActs};
use crate::params::ParamLayout;
use crate::prelude::*;
use qssm_kernels::backend::{Act, Backend, Infer};
use qssm_kernels::circuit::Program;

/// The chunk processor over input width F, chunk size cs, output width D.
#[derive(Clone, Debug)]
pub struct ChunkProcessor {
    f: usize,
    d: usize,
    /// `chunk_attention` (ChunkPool(cs, F/2))
    pool: AttentionPool,
    branches: Branches,
    out0: Linear,
    out_ln: LayerNorm,
}

/// Planned activations (and backward scratch) of a [`ChunkProcessor`] for (B, T).
pub struct ChunkActs<B: Infer> {
    /// the chunk pooling: scores (B, nc·cs, 1), chunk summaries `out` (B, nc, F)
    pub pool: PoolActs<B>,
    /// the branch block
    pub br: BranchActs<B>,
    o0: B::Buf,
    ln: LayerNormActs<B>,
    /// output (B, nc, D)
    pub out: B::Buf,
    // backward scratch
    do1: B::Buf,
    do0: B::Buf,
    dq: B::Buf,
    ds: B::Buf,
}

impl ChunkProcessor {
    /// `ChunkedQuantumProcessor` (QSSM flavour): registers `<prefix>chunk_attention.{0,2}`,
    /// `<prefix>quantum_branches.*`, `<prefix>output_proj.{0,1}`.
    pub fn qssm(
        lay: &mut ParamLayout,
        prefix: &str,
        (f, d, cs): (usize, usize, usize),
        n_qubits: usize,
        n_layers: usize,
    ) -> Self {
        Self::with_branches(lay, prefix, (f, d, cs), |lay, pre| {
            Branches::qssm(lay, pre, f, n_qubits, n_layers)
        })
    }

    /// `QuantumFeatureProcessor` (QGR flavour, unified ansatz without data encoding).
    pub fn qgr(
        lay: &mut ParamLayout,
        prefix: &str,
        (f, d, cs): (usize, usize, usize),
        n_qubits: usize,
        n_layers: usize,
    ) -> Self {
        Self::with_branches(lay, prefix, (f, d, cs), |lay, pre| {
            Branches::qgr(
                lay,
                pre,
                f,
                Program::unified_ansatz(n_qubits, n_layers, false),
            )
        })
    }

    /// Shared constructor in the reference's registration order.
    fn with_branches(
        lay: &mut ParamLayout,
        prefix: &str,
        (f, d, cs): (usize, usize, usize),
        branches: impl FnOnce(&mut ParamLayout, &str) -> Branches,
    ) -> Self {
        let pool = AttentionPool::chunks(lay, &format!("{prefix}chunk_attention"), f, f / 2, cs);
        let branches = branches(lay, &format!("{prefix}quantum_branches."));
        let out0 = Linear::new(
            lay,
            &format!("{prefix}output_proj.0"),
            branches.out_dim(),
            d,
            true,
        );
        let out_ln = LayerNorm::new(lay, &format!("{prefix}output_proj.1"), d);
        Self {
            f,
            d,
            pool,
            branches,
            out0,
            out_ln,
        }
    }

    /// Causal variant (qssm extension, not in the reference): the zero pad rows of the last
    /// chunk take no softmax weight, so a chunk summary depends only on samples that have
    /// arrived and a stream can pool a partial last chunk exactly.
    pub fn with_pad_mask(mut self, on: bool) -> Self {
        self.pool = self.pool.with_pad_mask(on);
        self
    }

    /// The branch block.
    pub fn branches(&self) -> &Branches {
        &self.branches
    }

    /// Number of chunks ⌈T/cs⌉.
    pub fn n_chunks(&self, t: usize) -> usize {
        self.pool.n_out(t)
    }

    /// Buffers for (B, T).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, t: usize) -> ChunkActs<B> {
        let nc = self.n_chunks(t);
        let (f, d) = (self.f, self.d);
        let w = self.branches.out_dim();
        ChunkActs {
            pool: self.pool.plan(be, b, t),
            br: self.branches.plan(be, b, nc),
            o0: be.alloc(&[b, nc, d]),
            ln: self.out_ln.plan(be, &[b, nc, d]),
            out: be.alloc(&[b, nc, d]),
            do1: be.alloc(&[b, nc, d]),
            do0: be.alloc(&[b, nc, d]),
            dq: be.alloc(&[b, nc, w]),
            ds: be.alloc(&[b, nc, f]),
        }
    }

    /// u (B, T, F) → `a.out` (B, nc, D).
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, u: &B::Buf, a: &mut ChunkActs<B>) {
        self.pool.forward(be, p, u, &mut a.pool);
        self.branches.forward(be, p, &a.pool.out, &mut a.br);
        self.out0.forward(be, p, &a.br.out, &mut a.o0);
        self.out_ln.forward(be, p, &a.o0, &mut a.ln);
        be.act(Act::Silu, &mut a.out, &a.ln.y);
    }

    /// Backward from d out (B, nc, D): accumulates parameter gradients into `g` and du
    /// (B, T, F).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        a: &mut ChunkActs<B>,
        dout: &B::Buf,
        du: &mut B::Buf,
    ) {
        be.fill(&mut a.do1, 0.0);
        be.act_bwd(Act::Silu, &mut a.do1, dout, &a.ln.y);
        be.fill(&mut a.do0, 0.0);
        self.out_ln
            .backward(be, p, g, &a.o0, &a.ln, &a.do1, &mut a.do0);
        be.fill(&mut a.dq, 0.0);
        self.out0
            .backward(be, p, g, &a.br.out, &a.do0, Some(&mut a.dq));
        be.fill(&mut a.ds, 0.0);
        self.branches
            .backward(be, p, g, &a.pool.out, &mut a.br, &a.dq, &mut a.ds);
        self.pool.backward(be, p, g, &mut a.pool, &a.ds, du);
    }
}
