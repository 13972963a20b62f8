//! Attention pooling `Pool_h` over blocks of rows (spec groups-2-4 §0): per row
//! score = Linear(h→1)(tanh(Linear(F→h)(r))), softmax over each block, weighted sum.
//!
//! * **ChunkPool(cs, h)** (`chunk_attention` of 2a–2e, 4a–4e): (T, F) is zero-padded at the end
//!   of time to nc·cs rows (nc = ⌈T/cs⌉), each block of cs rows pooled ⇒ (nc, F). The pad rows
//!   are exact zeros and still take part in the softmax with the constant score
//!   Linear(h→1)(tanh(b₀)) — the reference's behaviour.
//! * **SeqPool** (`seq_attention` of 2d, 2e, 4a–4e): one block over all L rows ⇒ (1, F); built
//!   with [`AttentionPool::new`] and run with `cs = L` through [`AttentionPool::forward_block`].
//!
//! Parameter keys: `<name>.0.{weight,bias}` (h, F), `<name>.2.{weight,bias}` (1, h).
//! Source: reference `models/QuantumMixingSSM.py`, `models/QuantumHydraSSM.py`,
//! `models/QuantumE2E.py` (`nn.Sequential(Linear, Tanh, Linear)` + softmax).
use super::linear::Linear;
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::{tanh_backward, tanh_forward};
use qssm_kernels::ops::chunk_pool::{chunk_pool_backward, chunk_pool_forward};

/// `Pool_h` with input width F and hidden width h.
#[derive(Clone, Debug)]
pub struct AttentionPool {
    att0: Linear,
    att2: Linear,
    f: usize,
}

/// Activations saved by the forward.
#[derive(Clone, Debug, Default)]
pub struct AttentionPoolCache {
    /// padded input (nc·cs, F)
    pub up: Vec<f32>,
    /// tanh(att0(up)) (nc·cs, h)
    pub t1: Vec<f32>,
    /// scores (nc·cs)
    pub scores: Vec<f32>,
    /// softmax weights (nc·cs)
    pub wts: Vec<f32>,
    /// rows per block
    cs: usize,
    /// blocks
    nc: usize,
    /// real (unpadded) rows
    t: usize,
}

impl AttentionPool {
    /// Registers `<name>.0` (F → h) and `<name>.2` (h → 1) with PyTorch's default init.
    pub fn new(lay: &mut ParamLayout, name: &str, f: usize, h: usize) -> Self {
        let att0 = Linear::new(lay, &format!("{name}.0"), f, h, true);
        let att2 = Linear::new(lay, &format!("{name}.2"), h, 1, true);
        Self { att0, att2, f }
    }

    /// ChunkPool: u (T, F) → (⌈T/cs⌉, F), pad rows at the end of time.
    pub fn forward(
        &self,
        p: &[f32],
        u: &[f32],
        t: usize,
        cs: usize,
        c: &mut AttentionPoolCache,
    ) -> Vec<f32> {
        self.forward_block(p, u, t, cs, c)
    }

    /// Pools blocks of `cs` rows of u (T, F) (zero-padding to a multiple of cs) → (nc, F).
    /// SeqPool is `cs = T` (one block, no padding).
    pub fn forward_block(
        &self,
        p: &[f32],
        u: &[f32],
        t: usize,
        cs: usize,
        c: &mut AttentionPoolCache,
    ) -> Vec<f32> {
        let f = self.f;
        let nc = t.div_ceil(cs);
        let rows = nc * cs;
        c.up = vec![0.0; rows * f];
        c.up[..t * f].copy_from_slice(&u[..t * f]);
        let a1 = self.att0.apply(p, &c.up, rows);
        c.t1 = vec![0.0; a1.len()];
        tanh_forward(&mut c.t1, &a1);
        c.scores = self.att2.apply(p, &c.t1, rows);
        c.wts = vec![0.0; rows];
        let mut s = vec![0.0; nc * f];
        chunk_pool_forward(&mut s, &mut c.wts, &c.up, &c.scores, nc, cs, f);
        (c.cs, c.nc, c.t) = (cs, nc, t);
        s
    }

    /// The hidden pre-activation att0(up) (nc·cs, h) of a forward (`<name>.0` output; for
    /// traces — recomputed, not cached).
    pub fn hidden_pre(&self, p: &[f32], c: &AttentionPoolCache) -> Vec<f32> {
        self.att0.apply(p, &c.up, c.nc * c.cs)
    }

    /// Backward: accumulates parameter gradients into `g` and du (T, F) from ds (nc, F).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        c: &AttentionPoolCache,
        ds: &[f32],
        du: &mut [f32],
    ) {
        let (f, cs, nc, t) = (self.f, c.cs, c.nc, c.t);
        let rows = nc * cs;
        let mut dup = vec![0.0; rows * f];
        let mut dscores = vec![0.0; rows];
        chunk_pool_backward(&mut dup, &mut dscores, ds, &c.up, &c.wts, nc, cs, f);
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
