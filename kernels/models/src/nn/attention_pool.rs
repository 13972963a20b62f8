//! Attention pooling `Pool_h` over blocks of rows, written once over the backend (spec
//! groups-2-4 §0, circuits-and-groups-1-3 §2.5): per row score = Linear(h→1)(tanh(Linear(F→h)(r))),
//! softmax over each block, weighted sum of the rows.
//!
//! * **ChunkPool(cs, h)** (`chunk_attention` of 1a–1c, 2a–2e, 4a–4e): u (B, T, F) is
//!   zero-padded at the end of time to nc·cs rows (nc = ⌈T/cs⌉), each block of cs rows pooled
//!   ⇒ (B, nc, F). The pad rows take part in the softmax with the constant score of a zero row
//!   (the reference's behaviour), or no weight at all in the causal variant
//!   ([`AttentionPool::with_pad_mask`]).
//! * **SeqPool** (`seq_attention` of 2d, 2e, 4a–4e): one block over all L rows ⇒ (B, 1, F)
//!   ([`AttentionPool::whole`]); streamed by [`AttentionPool::step`], the online softmax over
//!   every row so far ([`SoftmaxPoolState`], [`Infer::online_softmax_pool`]).
//!
//! Parameter keys: `<name>.0.{weight,bias}` (h, F), `<name>.2.{weight,bias}` (1, h). Source:
//! reference `models/QuantumSSM.py`, `models/QuantumE2E.py` (`nn.Sequential(Linear, Tanh,
//! Linear)` + softmax).
use super::linear::Linear;
use crate::params::ParamLayout;
use crate::prelude::*;
use qssm_kernels::backend::{Act, Backend, Infer};

/// `Pool_h` with input width F and hidden width h.
#[derive(Clone, Debug)]
pub struct AttentionPool {
    att0: Linear,
    att2: Linear,
    /// rows per block; `None`: one block over the whole sequence
    cs: Option<usize>,
    f: usize,
    mask_pad: bool,
}

/// Planned activations (and backward scratch) of an [`AttentionPool`] for (B, L).
pub struct PoolActs<B: Infer> {
    /// rows of the sequence pooled (the others pad)
    l: usize,
    /// rows of the input planned for
    planned: usize,
    /// planned rows (whole blocks) and rows per block
    rows: usize,
    block: usize,
    up: B::Buf,
    /// `<name>.0` output, before tanh (B, nc·cs, h)
    pub a1: B::Buf,
    /// tanh of it (B, nc·cs, h)
    pub t1: B::Buf,
    /// scores (B, nc·cs, 1)
    pub scores: B::Buf,
    wts: B::Buf,
    /// pooled rows (B, nc, F)
    pub out: B::Buf,
    dup: B::Buf,
    dscores: B::Buf,
    dt1: B::Buf,
    da1: B::Buf,
}

impl<B: Infer> PoolActs<B> {
    /// Rows of the sequence pooled ([`Self::set_len`]; the planned length by default).
    pub fn pooled_rows(&self) -> usize {
        self.l
    }

    /// Pools only the first `l` rows of the planned sequence from now on, the rest as pad rows
    /// (zero rows with their score, or without weight when the pool masks pads): a step over
    /// a full chunk's plan of which only the first samples have arrived. `l` must leave every
    /// planned block at least one row (the same number of pooled rows); panics otherwise (a
    /// caller's bug).
    pub fn set_len(&mut self, l: usize) {
        assert!(
            l <= self.rows && l + self.block > self.rows,
            "pool: {l} rows do not fill the planned {} rows' blocks of {}",
            self.rows,
            self.block
        );
        self.l = l;
    }
}

/// The state of a streamed SeqPool ([`AttentionPool::step`]; zeros at the start of a stream):
/// the running max of the scores (B, 1), the softmax denominator (B, 1) and the weighted row
/// sum (B, F) ([`Infer::online_softmax_pool`]).
pub struct SoftmaxPoolState<B: Infer> {
    max: B::Buf,
    denominator: B::Buf,
    weighted_sum: B::Buf,
}

impl<B: Infer> SoftmaxPoolState<B> {
    /// Zero state of `b` streams of rows of width `f`.
    pub fn plan(be: &B, b: usize, f: usize) -> Self {
        Self {
            max: be.alloc(&[b, 1]),
            denominator: be.alloc(&[b, 1]),
            weighted_sum: be.alloc(&[b, f]),
        }
    }

    /// The tensors by name: `<name>.max`, `<name>.denominator`, `<name>.weighted_sum`.
    pub fn named(&mut self, name: &str) -> Vec<(String, &mut B::Buf)> {
        vec![
            (format!("{name}.max"), &mut self.max),
            (format!("{name}.denominator"), &mut self.denominator),
            (format!("{name}.weighted_sum"), &mut self.weighted_sum),
        ]
    }

    /// `f` on every tensor in the order of [`Self::named`].
    pub fn for_each(&mut self, f: &mut dyn FnMut(&mut B::Buf)) {
        f(&mut self.max);
        f(&mut self.denominator);
        f(&mut self.weighted_sum);
    }
}

impl AttentionPool {
    /// ChunkPool(cs, h): registers `<name>.0` (F → h) and `<name>.2` (h → 1).
    pub fn chunks(lay: &mut ParamLayout, name: &str, f: usize, h: usize, cs: usize) -> Self {
        Self {
            att0: Linear::new(lay, &format!("{name}.0"), f, h, true),
            att2: Linear::new(lay, &format!("{name}.2"), h, 1, true),
            cs: Some(cs),
            f,
            mask_pad: false,
        }
    }

    /// SeqPool: one block over all rows.
    pub fn whole(lay: &mut ParamLayout, name: &str, f: usize, h: usize) -> Self {
        Self {
            cs: None,
            ..Self::chunks(lay, name, f, h, 1)
        }
    }

    /// Causal variant (qssm extension, not in the reference): the zero pad rows of the last
    /// chunk take no softmax weight, so a chunk summary depends only on samples that have
    /// arrived and a stream can pool a partial last chunk exactly.
    pub fn with_pad_mask(mut self, on: bool) -> Self {
        self.mask_pad = on;
        self
    }

    /// Rows per block for a sequence of `l` rows.
    fn block(&self, l: usize) -> usize {
        self.cs.unwrap_or(l).max(1)
    }

    /// Number of pooled rows ⌈L/cs⌉ (1 for SeqPool).
    pub fn n_out(&self, l: usize) -> usize {
        l.div_ceil(self.block(l))
    }

    /// Buffers for (B, L).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> PoolActs<B> {
        self.plan_with(be, b, l, true)
    }

    /// [`Self::plan`], without the backward scratch unless `train` (those buffers empty).
    pub fn plan_with<B: Infer>(&self, be: &B, b: usize, l: usize, train: bool) -> PoolActs<B> {
        let rows = self.n_out(l) * self.block(l);
        let (f, h) = (self.f, self.att0.d_out());
        let bw = |w: usize| be.alloc(&[b, if train { rows } else { 0 }, w]);
        PoolActs {
            l,
            planned: l,
            rows,
            block: self.block(l),
            up: be.alloc(&[b, rows, f]),
            a1: be.alloc(&[b, rows, h]),
            t1: be.alloc(&[b, rows, h]),
            scores: be.alloc(&[b, rows, 1]),
            wts: be.alloc(&[b, rows]),
            out: be.alloc(&[b, self.n_out(l), f]),
            dup: bw(f),
            dscores: bw(1),
            dt1: bw(h),
            da1: bw(h),
        }
    }

    /// u (B, L, F) → `a.out` (B, nc, F).
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, u: &B::Buf, a: &mut PoolActs<B>) {
        be.pad_time(&mut a.up, u);
        if !self.mask_pad && a.l < a.planned {
            // rows past the set length are the reference's zero pad rows
            be.zero_rows_from(&mut a.up, a.l);
        }
        self.att0.forward(be, p, &a.up, &mut a.a1);
        be.act(Act::Tanh, &mut a.t1, &a.a1);
        self.att2.forward(be, p, &a.t1, &mut a.scores);
        let valid = self.mask_pad.then_some(a.l);
        be.chunk_pool(&mut a.out, &mut a.wts, &a.up, &a.scores, valid);
    }

    /// Streaming SeqPool: the next L rows u (B, L, F) (`a` planned for L) advance the pool
    /// over every row so far, `st`, and `a.out` (B, 1, F) ← its pooled row; after a
    /// sequence's rows, the forward's output to rounding (online softmax). For a pool of one
    /// block ([`Self::whole`]).
    pub fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        u: &B::Buf,
        a: &mut PoolActs<B>,
        st: &mut SoftmaxPoolState<B>,
    ) {
        debug_assert!(self.cs.is_none(), "pool: only SeqPool streams");
        self.att0.forward(be, p, u, &mut a.a1);
        be.act(Act::Tanh, &mut a.t1, &a.a1);
        self.att2.forward(be, p, &a.t1, &mut a.scores);
        let SoftmaxPoolState {
            max,
            denominator,
            weighted_sum,
        } = st;
        be.online_softmax_pool(&mut a.out, u, &a.scores, max, denominator, weighted_sum);
    }

    /// Backward from d out (B, nc, F): accumulates parameter gradients into `g` and du
    /// (B, L, F).
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        a: &mut PoolActs<B>,
        dout: &B::Buf,
        du: &mut B::Buf,
    ) {
        be.fill(&mut a.dup, 0.0);
        be.fill(&mut a.dscores, 0.0);
        be.chunk_pool_bwd(&mut a.dup, &mut a.dscores, dout, &a.up, &a.wts);
        be.fill(&mut a.dt1, 0.0);
        self.att2
            .backward(be, p, g, &a.t1, &a.dscores, Some(&mut a.dt1));
        be.fill(&mut a.da1, 0.0);
        be.act_bwd(Act::Tanh, &mut a.da1, &a.dt1, &a.t1);
        self.att0
            .backward(be, p, g, &a.up, &a.da1, Some(&mut a.dup));
        be.pad_time_bwd(du, &a.dup);
    }

    /// `<name>.0` (pre-tanh), `<name>.1` (tanh), `<name>.2` and `<name>` (scores), each
    /// (B, nc·cs, ·).
    pub fn trace<'a, B: Infer>(&self, name: &str, a: &'a PoolActs<B>) -> Vec<(String, &'a B::Buf)> {
        vec![
            (format!("{name}.0"), &a.a1),
            (format!("{name}.1"), &a.t1),
            (format!("{name}.2"), &a.scores),
            (name.to_string(), &a.scores),
        ]
    }
}
