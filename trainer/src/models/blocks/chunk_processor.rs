//! Attention-pooled chunk processors (spec circuits-and-groups-1-3 §2.5): zero-pad (T, F) to
//! nc·cs rows at the end of time, score each row with `chunk_attention` =
//! Linear(F, F/2) → tanh → Linear(F/2, 1), softmax-pool every chunk of cs rows (pad rows
//! included, as in the reference), run the quantum superposition branches on each chunk
//! summary, then `output_proj` = Linear(branch width, D) → LayerNorm(D) → SiLU. Output (nc, D).
//!
//! Two flavours share this plumbing and differ only in the branch block:
//! * `ChunkedQuantumProcessor` (reference `models/QuantumSSM.py`; 1b, 1c): QSSM-flavour
//!   branches ([`QsbQssm`], 3·3Q = 54 outputs), built by [`ChunkProcessor::new`];
//! * `QuantumFeatureProcessor` (reference `models/QuantumTransformer.py`; 1a): QGR-flavour
//!   branches ([`QsbQgr`], 3Q = 18 outputs), built by [`ChunkProcessor::new_qgr`].
use super::linear::Linear;
use super::norm::{LayerNorm, NormCache};
use super::qsb::{QsbCache, QsbQssm};
use super::qsb_qgr::{QsbQgr, QsbQgrCache};
use crate::params::ParamLayout;
use qssm_kernels::circuit::Program;
use qssm_kernels::ops::activation::{silu_backward, silu_forward, tanh_backward, tanh_forward};
use qssm_kernels::ops::chunk_pool::{chunk_pool_backward, chunk_pool_forward};

/// The quantum superposition branch block of a [`ChunkProcessor`]: (nc, F) → (nc, width).
#[derive(Clone, Debug)]
pub enum Branches {
    /// QSSM flavour (1b, 1c): width 3·3Q
    Qssm(QsbQssm),
    /// QGR flavour (1a): width 3Q
    Qgr(QsbQgr),
}

impl Branches {
    /// Output width per chunk.
    pub fn out_dim(&self) -> usize {
        match self {
            Branches::Qssm(b) => b.out_dim(),
            Branches::Qgr(b) => b.out_dim(),
        }
    }

    /// s (nc, F) → (nc, width); fills the cache of its flavour.
    fn forward(
        &self,
        p: &[f32],
        s: &[f32],
        nc: usize,
        qsb: &mut QsbCache,
        qgr: &mut QsbQgrCache,
    ) -> Vec<f32> {
        match self {
            Branches::Qssm(b) => b.forward(p, s, nc, qsb),
            Branches::Qgr(b) => b.forward(p, s, nc, qgr),
        }
    }

    /// Accumulates parameter gradients and ds (nc, F).
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        s: &[f32],
        nc: usize,
        c: &ChunkProcessorCache,
        dq: &[f32],
        ds: &mut [f32],
    ) {
        match self {
            Branches::Qssm(b) => b.backward(p, g, s, nc, &c.qsb, dq, ds),
            Branches::Qgr(b) => b.backward(p, g, s, nc, &c.qgr, dq, ds),
        }
    }
}

/// The chunk processor over input width F with chunk size cs and output width D.
#[derive(Clone, Debug)]
pub struct ChunkProcessor {
    cs: usize,
    f: usize,
    d: usize,
    att0: Linear,
    att2: Linear,
    qsb: Branches,
    out0: Linear,
    out_ln: LayerNorm,
    /// causal variant: pad rows get no softmax weight (see [`Self::with_pad_mask`])
    mask_pad: bool,
}

/// Activations saved by [`ChunkProcessor::forward`].
#[derive(Clone, Debug, Default)]
pub struct ChunkProcessorCache {
    /// padded input (nc·cs, F)
    up: Vec<f32>,
    /// tanh(chunk_attention.0(up)) (nc·cs, F/2)
    t1: Vec<f32>,
    /// scores (nc·cs)
    pub scores: Vec<f32>,
    /// softmax weights (nc·cs)
    wts: Vec<f32>,
    /// chunk summaries (nc, F)
    pub s: Vec<f32>,
    /// QSSM-flavour branch activations (empty for the QGR flavour)
    qsb: QsbCache,
    /// QGR-flavour branch activations (empty for the QSSM flavour)
    pub qgr: QsbQgrCache,
    /// branch output (nc, 3·3Q) or (nc, 3Q)
    pub q: Vec<f32>,
    o0: Vec<f32>,
    o1: Vec<f32>,
    ln: NormCache,
    /// output (nc, D)
    pub out: Vec<f32>,
}

impl ChunkProcessor {
    /// `ChunkedQuantumProcessor` (QSSM flavour, 1b/1c): registers
    /// `<prefix>chunk_attention.{0,2}`, `<prefix>quantum_branches.*` ([`QsbQssm`]),
    /// `<prefix>output_proj.{0,1}`.
    pub fn new(
        lay: &mut ParamLayout,
        prefix: &str,
        f: usize,
        d: usize,
        cs: usize,
        n_qubits: usize,
        n_layers: usize,
    ) -> Self {
        Self::with_branches(lay, prefix, f, d, cs, |lay, pre| {
            Branches::Qssm(QsbQssm::new(lay, pre, f, n_qubits, n_layers))
        })
    }

    /// `QuantumFeatureProcessor` (QGR flavour, 1a; reference `models/QuantumTransformer.py`):
    /// the same registrations with `<prefix>quantum_branches.*` a [`QsbQgr`] on the unified
    /// ansatz without data encoding (`n_qubits` qubits, `n_layers` layers).
    pub fn new_qgr(
        lay: &mut ParamLayout,
        prefix: &str,
        f: usize,
        d: usize,
        cs: usize,
        n_qubits: usize,
        n_layers: usize,
    ) -> Self {
        Self::with_branches(lay, prefix, f, d, cs, |lay, pre| {
            let program = Program::unified_ansatz(n_qubits, n_layers, false);
            Branches::Qgr(QsbQgr::new(lay, pre, f, program))
        })
    }

    /// Shared constructor: `branches(lay, "<prefix>quantum_branches.")` registers the branch
    /// block between `chunk_attention` and `output_proj` (the reference's registration order).
    fn with_branches(
        lay: &mut ParamLayout,
        prefix: &str,
        f: usize,
        d: usize,
        cs: usize,
        branches: impl FnOnce(&mut ParamLayout, &str) -> Branches,
    ) -> Self {
        let att0 = Linear::new(lay, &format!("{prefix}chunk_attention.0"), f, f / 2, true);
        let att2 = Linear::new(lay, &format!("{prefix}chunk_attention.2"), f / 2, 1, true);
        let qsb = branches(lay, &format!("{prefix}quantum_branches."));
        let out0 = Linear::new(
            lay,
            &format!("{prefix}output_proj.0"),
            qsb.out_dim(),
            d,
            true,
        );
        let out_ln = LayerNorm::new(lay, &format!("{prefix}output_proj.1"), d);
        Self {
            cs,
            f,
            d,
            att0,
            att2,
            qsb,
            out0,
            out_ln,
            mask_pad: false,
        }
    }

    /// Causal variant (qssm extension, not in the reference): the zero pad rows of the last
    /// chunk are excluded from its softmax (score −∞) instead of taking weight, so a chunk
    /// summary depends only on samples that have arrived and a stream can pool a partial
    /// last chunk exactly.
    pub fn with_pad_mask(mut self, on: bool) -> Self {
        self.mask_pad = on;
        self
    }

    /// The branch block.
    pub fn branches(&self) -> &Branches {
        &self.qsb
    }

    /// Number of chunks ⌈T/cs⌉.
    pub fn n_chunks(&self, t: usize) -> usize {
        t.div_ceil(self.cs)
    }

    /// u (T, F) → (nc, D), kept in `c.out`.
    pub fn forward(&self, p: &[f32], u: &[f32], t: usize, c: &mut ChunkProcessorCache) {
        let (cs, f, d) = (self.cs, self.f, self.d);
        let nc = self.n_chunks(t);
        let rows = nc * cs;
        c.up = vec![0.0; rows * f];
        c.up[..t * f].copy_from_slice(&u[..t * f]);
        let a1 = self.att0.apply(p, &c.up, rows);
        c.t1 = vec![0.0; a1.len()];
        tanh_forward(&mut c.t1, &a1);
        c.scores = self.att2.apply(p, &c.t1, rows);
        if self.mask_pad {
            c.scores[t..]
                .iter_mut()
                .for_each(|v| *v = f32::NEG_INFINITY);
        }
        c.s = vec![0.0; nc * f];
        c.wts = vec![0.0; rows];
        chunk_pool_forward(&mut c.s, &mut c.wts, &c.up, &c.scores, nc, cs, f);
        c.q = self.qsb.forward(p, &c.s, nc, &mut c.qsb, &mut c.qgr);
        c.o0 = self.out0.apply(p, &c.q, nc);
        c.o1 = vec![0.0; nc * d];
        self.out_ln.forward(p, &c.o0, nc, &mut c.o1, &mut c.ln);
        c.out = vec![0.0; nc * d];
        silu_forward(&mut c.out, &c.o1);
    }

    /// Backward: accumulates parameter gradients into `g` and du (T, F).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        t: usize,
        c: &ChunkProcessorCache,
        dout: &[f32],
        du: &mut [f32],
    ) {
        let (cs, f, d) = (self.cs, self.f, self.d);
        let nc = self.n_chunks(t);
        let rows = nc * cs;
        let mut do1 = vec![0.0; nc * d];
        silu_backward(&mut do1, dout, &c.o1);
        let mut do0 = vec![0.0; nc * d];
        self.out_ln.backward(p, g, &c.o0, &do1, nc, &c.ln, &mut do0);
        let mut dq = vec![0.0; c.q.len()];
        self.out0.backward(p, g, &c.q, &do0, nc, Some(&mut dq));
        let mut ds = vec![0.0; nc * f];
        self.qsb.backward(p, g, &c.s, nc, c, &dq, &mut ds);
        let mut dup = vec![0.0; rows * f];
        let mut dscores = vec![0.0; rows];
        chunk_pool_backward(&mut dup, &mut dscores, &ds, &c.up, &c.wts, nc, cs, f);
        let mut dt1 = vec![0.0; c.t1.len()];
        self.att2
            .backward(p, g, &c.t1, &dscores, rows, Some(&mut dt1));
        let mut da1 = vec![0.0; c.t1.len()];
        tanh_backward(&mut da1, &dt1, &c.t1);
        self.att0.backward(p, g, &c.up, &da1, rows, Some(&mut dup));
        du[..t * f]
            .iter_mut()
            .zip(&dup[..t * f])
            .for_each(|(a, b)| *a += b);
    }
}
