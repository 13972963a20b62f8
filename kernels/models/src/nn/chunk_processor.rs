//! Attention-pooled chunk processors written once over the backend (spec
//! circuits-and-groups-1-3 §2.5): zero-pad u (B, T, F) to nc·cs rows at the end of time, score
//! every row with `chunk_attention` = Linear(F, F/2) → tanh → Linear(F/2, 1), softmax-pool each
//! chunk of cs rows (pad rows included, as in the reference), run the quantum superposition
//! [`Branches`] on each chunk summary, then `output_proj` = Linear(width, D) → LayerNorm(D) →
//! SiLU ([`OutputProj`], no dropout). Output (B, nc, D).
//!
//! * `ChunkedQuantumProcessor` (reference `models/QuantumSSM.py`; 1b, 1c): QSSM-flavour
//!   branches, [`ChunkProcessor::qssm`];
//! * `QuantumFeatureProcessor` (reference `models/QuantumTransformer.py`; 1a): QGR-flavour
//!   branches on the unified ansatz without encoding, [`ChunkProcessor::qgr`].
use super::attention_pool::{AttentionPool, PoolActs};
use super::branches::{BranchActs, Branches};
use super::output_proj::{OutputProj, OutputProjActs};
use crate::params::ParamLayout;
use crate::prelude::*;
use qssm_kernels::backend::{Backend, Infer};
use qssm_kernels::circuit::Program;

/// The chunk processor over input width F, chunk size cs, output width D.
#[derive(Clone, Debug)]
pub struct ChunkProcessor {
    f: usize,
    /// `chunk_attention` (ChunkPool(cs, F/2))
    pool: AttentionPool,
    branches: Branches,
    /// `output_proj` (width → D)
    output_proj: OutputProj,
}

/// Planned activations (and backward scratch) of a [`ChunkProcessor`] for (B, T).
pub struct ChunkActs<B: Infer> {
    /// the chunk pooling: scores (B, nc·cs, 1), chunk summaries `out` (B, nc, F)
    pub pool: PoolActs<B>,
    /// the branch block
    pub br: BranchActs<B>,
    /// `output_proj`; its `out` (B, nc, D) is the processor's output ([`Self::out`])
    pub op: OutputProjActs<B>,
    // backward scratch
    dq: B::Buf,
    ds: B::Buf,
}

impl<B: Infer> ChunkActs<B> {
    /// Processes only the first `l` rows of the planned sequence from now on
    /// ([`PoolActs::set_len`]; exact for the causal variant, whose pool masks pad rows).
    pub fn set_len(&mut self, l: usize) {
        self.pool.set_len(l);
    }

    /// The processor's output (B, nc, D).
    pub fn out(&self) -> &B::Buf {
        &self.op.out
    }
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
        // no dropout in the processor: the site is never used
        let output_proj = OutputProj::new(
            lay,
            &format!("{prefix}output_proj"),
            branches.out_dim(),
            d,
            0,
        );
        Self {
            f,
            pool,
            branches,
            output_proj,
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
        self.plan_with(be, b, t, true)
    }

    /// [`Self::plan`] for the eval forward only (a streaming step): no kept circuit states,
    /// no backward scratch (those buffers are empty).
    pub fn plan_eval<B: Infer>(&self, be: &B, b: usize, t: usize) -> ChunkActs<B> {
        self.plan_with(be, b, t, false)
    }

    fn plan_with<B: Infer>(&self, be: &B, b: usize, t: usize, train: bool) -> ChunkActs<B> {
        let nc = self.n_chunks(t);
        let w = |n: usize| if train { n } else { 0 };
        ChunkActs {
            pool: self.pool.plan_with(be, b, t, train),
            br: if train {
                self.branches.plan(be, b, nc)
            } else {
                self.branches.plan_eval(be, b, nc)
            },
            op: self.output_proj.plan(be, b, nc),
            dq: be.alloc(&[b, nc, w(self.branches.out_dim())]),
            ds: be.alloc(&[b, nc, w(self.f)]),
        }
    }

    /// u (B, T, F) → `a.out` (B, nc, D).
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, u: &B::Buf, a: &mut ChunkActs<B>) {
        self.pool.forward(be, p, u, &mut a.pool);
        self.branches.forward(be, p, &a.pool.out, &mut a.br);
        self.output_proj.forward(be, p, &a.br.out, &mut a.op, None);
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
        be.fill(&mut a.dq, 0.0);
        self.output_proj
            .backward(be, p, g, &a.br.out, &mut a.op, dout, Some(&mut a.dq));
        be.fill(&mut a.ds, 0.0);
        self.branches
            .backward(be, p, g, &a.pool.out, &mut a.br, &a.dq, &mut a.ds);
        self.pool.backward(be, p, g, &mut a.pool, &a.ds, du);
    }
}
