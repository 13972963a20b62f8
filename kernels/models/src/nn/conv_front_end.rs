//! The group-4 front-end written once over the backend (spec groups-2-4 §3.6, reference
//! `models/QuantumE2E.py`, `models/QuantumE2E_Superposition.py`): x (B, C, T) → **Conv3**
//! (`input_conv`, `Conv1d(C→D, k=3, padding=1)`) → LayerNorm (`input_norm`) → **ChunkPool(cs,
//! h)** (`chunk_attention`, zero pad rows at the end of time) ⇒ chunk summaries s (B, nc, D),
//! nc = ⌈T/cs⌉. No dropout anywhere in it.
//!
//! Conv3: `y[t, o] = b[o] + Σ_{c, k∈{0,1,2}} W[o, c, k]·x[c, t+k−1]`, `x[c, −1] = x[c, T] = 0`
//! (centred: a **one-sample look-ahead**). It runs as an im2col (B, T, 3C)
//! ([`Infer::im2col3`]) times W viewed as (D, 3C): exactly a Linear. Streamed by
//! [`ConvFrontEnd::step`]: a step's samples with the next one, and the sample before them as
//! state ([`Infer::im2col3_step`]).
//!
//! Registration order (= state_dict order): `input_conv.{weight,bias}` (D, C, 3), (D)
//! [init U(±1/√(3C)), PyTorch's default, fan_in = 3C]; `input_norm.{weight,bias}` (D);
//! `chunk_attention.{0,2}.*` (h, D), (h), (1, h), (1).
use super::attention_pool::{AttentionPool, PoolActs};
use super::linear::Linear;
use super::norm::{LayerNorm, LayerNormActs};
use crate::params::{default_uniform, ParamLayout};
use crate::prelude::*;
use qssm_kernels::backend::{Backend, Infer, LinearP};

/// Conv3 → LayerNorm → ChunkPool(cs, h).
#[derive(Clone, Debug)]
pub struct ConvFrontEnd {
    conv: Linear,
    norm: LayerNorm,
    pool: AttentionPool,
    d: usize,
}

/// Planned activations of a [`ConvFrontEnd`] for (B, T).
pub struct FrontActs<B: Infer> {
    cols: B::Buf,
    /// Conv3 output, token-major (B, T, D)
    conv: B::Buf,
    /// the same channel-major (B, D, T), as `nn.Conv1d` returns it (trace only, see
    /// [`ConvFrontEnd::trace_views`])
    conv_cm: B::Buf,
    norm: LayerNormActs<B>,
    /// ChunkPool; its `out` (B, nc, D) are the chunk summaries
    pub pool: PoolActs<B>,
    dnorm: B::Buf,
    dconv: B::Buf,
}

impl ConvFrontEnd {
    /// Registers `input_conv` (C → D, k = 3), `input_norm` (D) and `chunk_attention`
    /// (D → h → 1) for chunks of `cs` samples.
    pub fn new(lay: &mut ParamLayout, (c, d, cs, h): (usize, usize, usize, usize)) -> Self {
        // (D, C, 3) row-major is the (D, 3C) weight of the im2col product
        let init = default_uniform(3 * c);
        let w = lay.add_matrix("input_conv.weight", &[d, c, 3], init);
        let b = lay.add("input_conv.bias", &[d], init);
        let conv = Linear {
            p: LinearP {
                w,
                b: Some(b),
                d_in: 3 * c,
                d_out: d,
            },
        };
        let norm = LayerNorm::new(lay, "input_norm", d);
        let pool = AttentionPool::chunks(lay, "chunk_attention", d, h, cs);
        Self {
            conv,
            norm,
            pool,
            d,
        }
    }

    /// Number of chunks ⌈T/cs⌉.
    pub fn n_chunks(&self, t: usize) -> usize {
        self.pool.n_out(t)
    }

    /// Buffers for (B, C, T) inputs.
    pub fn plan<B: Infer>(&self, be: &B, b: usize, c: usize, t: usize) -> FrontActs<B> {
        self.plan_with(be, b, c, t, true)
    }

    /// [`Self::plan`], without the backward's and the trace's buffers unless `train` (those
    /// empty): a streaming step's plan.
    pub fn plan_with<B: Infer>(
        &self,
        be: &B,
        b: usize,
        c: usize,
        t: usize,
        train: bool,
    ) -> FrontActs<B> {
        let d = self.d;
        let tt = if train { t } else { 0 };
        FrontActs {
            cols: be.alloc(&[b, t, 3 * c]),
            conv: be.alloc(&[b, t, d]),
            conv_cm: be.alloc(&[b, d, tt]),
            norm: self.norm.plan(be, &[b, t, d]),
            pool: self.pool.plan_with(be, b, t, train),
            dnorm: be.alloc(&[b, tt, d]),
            dconv: be.alloc(&[b, tt, d]),
        }
    }

    /// x (B, C, T) → `a.pool.out` (B, nc, D).
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, x: &B::Buf, a: &mut FrontActs<B>) {
        be.im2col3(&mut a.cols, x);
        self.conv.forward(be, p, &a.cols, &mut a.conv);
        self.norm.forward(be, p, &a.conv, &mut a.norm);
        self.pool.forward(be, p, &a.norm.y, &mut a.pool);
    }

    /// Streaming form of [`Self::forward`] over a step of L samples (`a` planned for T = L):
    /// x (B, C, L+1) holds them and the next sample, `prev` (B, C) the sample before them
    /// (state, zeros at the start of a stream; advanced here) → `a.pool.out`, the summaries of
    /// the step's chunks. The samples at or after `valid` (≤ L + 1) are the window's end: Conv3
    /// reads them as its zero edge and their rows are the chunk pool's zero pad rows (a step
    /// over a prefix, or the window's last, short chunk).
    pub fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        prev: &mut B::Buf,
        a: &mut FrontActs<B>,
        valid: usize,
    ) {
        be.im2col3_step(&mut a.cols, prev, x, valid);
        self.conv.forward(be, p, &a.cols, &mut a.conv);
        self.norm.forward(be, p, &a.conv, &mut a.norm);
        let planned = a.pool.pooled_rows();
        a.pool.set_len(valid.min(planned));
        self.pool.forward(be, p, &a.norm.y, &mut a.pool);
        a.pool.set_len(planned);
    }

    /// Accumulates parameter gradients from ds (B, nc, D) (the input needs no gradient).
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        a: &mut FrontActs<B>,
        ds: &B::Buf,
    ) {
        be.fill(&mut a.dnorm, 0.0);
        self.pool.backward(be, p, g, &mut a.pool, ds, &mut a.dnorm);
        be.fill(&mut a.dconv, 0.0);
        self.norm
            .backward(be, p, g, &a.conv, &a.norm, &a.dnorm, &mut a.dconv);
        self.conv.backward(be, p, g, &a.cols, &a.dconv, None);
    }

    /// Fills the views [`Self::trace`] reports that a training step does not need (the
    /// channel-major copy of the Conv3 output).
    pub fn trace_views<B: Infer>(&self, be: &B, a: &mut FrontActs<B>) {
        be.to_token_major(&mut a.conv_cm, &a.conv);
    }

    /// After [`Self::trace_views`]: reference names (`act.*` of the fixtures): `input_conv` (D, T) channel-major,
    /// `input_norm` (T, D), `chunk_attention.0` (pre-tanh), `.1` (tanh), `.2` and
    /// `chunk_attention` (scores).
    pub fn trace<'a, B: Infer>(&self, a: &'a FrontActs<B>) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            ("input_conv".to_string(), &a.conv_cm),
            ("input_norm".into(), &a.norm.y),
        ];
        out.extend(self.pool.trace("chunk_attention", &a.pool));
        out
    }
}
