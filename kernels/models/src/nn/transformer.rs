//! `TransformerBlock` of 1a and 3a (reference `models/QuantumTransformer.py` and
//! `models/ClassicalTransformer.py`, identical code; spec circuits-and-groups-1-3 §3.1), batched
//! over (B, L, D) buffers, pre-norm with a gated MLP, E = 2·D:
//!
//! ```text
//! x ← x + Dropout(MHSA(RMSNorm₁(x)))
//! g ‖ v = in_proj(RMSNorm₂(x))          in_proj: Linear(D, 2E), first E = gate g, last E = v
//! x ← x + Dropout(out_proj(SiLU(g) ⊙ v)) out_proj: Linear(E, D)
//! ```
//!
//! MHSA (`MultiHeadSelfAttention`): Q, K, V = `q_proj`, `k_proj`, `v_proj` (Linear(D, D) with
//! bias); per head softmax(Q_h·K_hᵀ/√d_h) over all L tokens (no mask), Dropout on the
//! probabilities in training, ·V_h; heads concatenated; `out_proj` (Linear(D, D) with bias).
//!
//! Parameters (registration order): `norm1.weight`, `norm2.weight`, `attention.*`,
//! `in_proj.{weight,bias}`, `out_proj.{weight,bias}` — 165,248 at D = 128.
use super::linear::Linear;
use super::norm::RmsNorm;
use crate::params::ParamLayout;
use crate::prelude::*;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer};

/// One pre-norm transformer block.
#[derive(Clone, Debug)]
pub struct TransformerBlock {
    norm1: RmsNorm,
    norm2: RmsNorm,
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    att_out: Linear,
    /// `in_proj` (2E outputs) as its two halves: gate g (rows 0..E) and value v (rows E..2E)
    in_gate: Linear,
    in_val: Linear,
    out_proj: Linear,
    heads: usize,
    d: usize,
    e: usize,
    /// dropout sites: attention probabilities, attention output, MLP output
    sites: [u32; 3],
}

/// Planned activations of one [`TransformerBlock`] for a batch (B, L).
pub struct TransformerActs<B: Infer> {
    n1: B::Buf,
    r1: B::Buf,
    q: B::Buf,
    k: B::Buf,
    v: B::Buf,
    probs: B::Buf,
    mask_probs: B::Buf,
    o: B::Buf,
    att: B::Buf,
    mask_att: B::Buf,
    x1: B::Buf,
    n2: B::Buf,
    r2: B::Buf,
    gate: B::Buf,
    val: B::Buf,
    sg: B::Buf,
    m: B::Buf,
    mask_mlp: B::Buf,
    dropped: bool,
    /// block output (B, L, D)
    pub out: B::Buf,
}

/// Backward scratch of a [`TransformerBlock`], shared by all blocks of a model.
pub struct TransformerGrads<B: Infer> {
    dx1: B::Buf,
    dy: B::Buf,
    dm: B::Buf,
    dsg: B::Buf,
    dval: B::Buf,
    dgate: B::Buf,
    dn2: B::Buf,
    da: B::Buf,
    d_o: B::Buf,
    dq: B::Buf,
    dk: B::Buf,
    dv: B::Buf,
    dn1: B::Buf,
}

impl TransformerBlock {
    /// Registers block `name` (D = `d`, `heads` heads, E = `expand`·D); `site0` is the first
    /// of the three dropout sites it uses.
    ///
    /// # Panics
    /// If D is not a multiple of the number of heads (a configuration error the CLI checks).
    pub fn new(
        lay: &mut ParamLayout,
        name: &str,
        d: usize,
        heads: usize,
        expand: usize,
        site0: u32,
    ) -> Self {
        assert!(
            heads > 0 && d.is_multiple_of(heads),
            "d_model {d} must be divisible by n_heads {heads}"
        );
        let e = expand * d;
        let norm1 = RmsNorm::new(lay, &format!("{name}.norm1"), d);
        let norm2 = RmsNorm::new(lay, &format!("{name}.norm2"), d);
        let lin = |lay: &mut ParamLayout, w: &str| {
            Linear::new(lay, &format!("{name}.attention.{w}_proj"), d, d, true)
        };
        let q_proj = lin(lay, "q");
        let k_proj = lin(lay, "k");
        let v_proj = lin(lay, "v");
        let att_out = lin(lay, "out");
        let in_proj = Linear::new(lay, &format!("{name}.in_proj"), d, 2 * e, true);
        let out_proj = Linear::new(lay, &format!("{name}.out_proj"), e, d, true);
        Self {
            norm1,
            norm2,
            q_proj,
            k_proj,
            v_proj,
            att_out,
            in_gate: in_proj.out_rows(0..e),
            in_val: in_proj.out_rows(e..2 * e),
            out_proj,
            heads,
            d,
            e,
            sites: [site0, site0 + 1, site0 + 2],
        }
    }

    /// Allocates the activations of a batch (b, l).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> TransformerActs<B> {
        let (d, e, h) = (self.d, self.e, self.heads);
        let s = |w: usize| be.alloc(&[b, l, w]);
        TransformerActs {
            n1: s(d),
            r1: be.alloc(&[b, l]),
            q: s(d),
            k: s(d),
            v: s(d),
            probs: be.alloc(&[b, h, l, l]),
            mask_probs: be.alloc(&[b, h, l, l]),
            o: s(d),
            att: s(d),
            mask_att: s(d),
            x1: s(d),
            n2: s(d),
            r2: be.alloc(&[b, l]),
            gate: s(e),
            val: s(e),
            sg: s(e),
            m: s(e),
            mask_mlp: s(d),
            dropped: false,
            out: s(d),
        }
    }

    /// Allocates the backward scratch of a batch (b, l).
    pub fn plan_grads<B: Infer>(&self, be: &B, b: usize, l: usize) -> TransformerGrads<B> {
        let (d, e) = (self.d, self.e);
        let s = |w: usize| be.alloc(&[b, l, w]);
        TransformerGrads {
            dx1: s(d),
            dy: s(d),
            dm: s(e),
            dsg: s(e),
            dval: s(e),
            dgate: s(e),
            dn2: s(d),
            da: s(d),
            d_o: s(d),
            dq: s(d),
            dk: s(d),
            dv: s(d),
            dn1: s(d),
        }
    }

    /// x (B, L, D) → `a.out`; train mode when `drop` is given.
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        a: &mut TransformerActs<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        let drop = drop.filter(|c| c.p > 0.0);
        a.dropped = drop.is_some();
        self.norm1.forward(be, p, x, &mut a.n1, &mut a.r1);
        self.q_proj.forward(be, p, &a.n1, &mut a.q);
        self.k_proj.forward(be, p, &a.n1, &mut a.k);
        self.v_proj.forward(be, p, &a.n1, &mut a.v);
        let mask = match drop {
            Some(cfg) => {
                // the reference drops elements of the attention weights: a mask per probability
                be.dropout_mask(&mut a.mask_probs, cfg, self.sites[0]);
                Some(&a.mask_probs)
            }
            None => None,
        };
        be.attention(&mut a.o, &mut a.probs, &a.q, &a.k, &a.v, mask, self.heads);
        self.att_out.forward(be, p, &a.o, &mut a.att);
        if let Some(cfg) = drop {
            be.dropout(&mut a.att, &mut a.mask_att, cfg, self.sites[1]);
        }
        be.copy(&mut a.x1, &a.att);
        be.add_assign(&mut a.x1, x);
        self.norm2.forward(be, p, &a.x1, &mut a.n2, &mut a.r2);
        self.in_gate.forward(be, p, &a.n2, &mut a.gate);
        self.in_val.forward(be, p, &a.n2, &mut a.val);
        be.act(Act::Silu, &mut a.sg, &a.gate);
        be.mul(&mut a.m, &a.sg, &a.val);
        self.out_proj.forward(be, p, &a.m, &mut a.out);
        if let Some(cfg) = drop {
            be.dropout(&mut a.out, &mut a.mask_mlp, cfg, self.sites[2]);
        }
        be.add_assign(&mut a.out, &a.x1);
    }

    /// Backward of [`Self::forward`] (same x): accumulates parameter gradients into `g` and
    /// dx (B, L, D).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        a: &TransformerActs<B>,
        dout: &B::Buf,
        dx: &mut B::Buf,
        k: &mut TransformerGrads<B>,
    ) {
        for buf in [
            &mut k.dm,
            &mut k.dsg,
            &mut k.dval,
            &mut k.dgate,
            &mut k.dn2,
            &mut k.d_o,
            &mut k.dq,
            &mut k.dk,
            &mut k.dv,
            &mut k.dn1,
        ] {
            be.fill(buf, 0.0);
        }
        // MLP branch: out = x1 + drop(out_proj(m))
        be.copy(&mut k.dx1, dout);
        if a.dropped {
            be.mul(&mut k.dy, dout, &a.mask_mlp);
        } else {
            be.copy(&mut k.dy, dout);
        }
        self.out_proj
            .backward(be, p, g, &a.m, &k.dy, Some(&mut k.dm));
        be.mul_acc(&mut k.dsg, &k.dm, &a.val);
        be.mul_acc(&mut k.dval, &k.dm, &a.sg);
        be.act_bwd(Act::Silu, &mut k.dgate, &k.dsg, &a.gate);
        self.in_gate
            .backward(be, p, g, &a.n2, &k.dgate, Some(&mut k.dn2));
        self.in_val
            .backward(be, p, g, &a.n2, &k.dval, Some(&mut k.dn2));
        self.norm2
            .backward(be, p, g, &a.x1, &a.r2, &k.dn2, &mut k.dx1);
        // attention branch: x1 = x + drop(mhsa(norm1(x)))
        if a.dropped {
            be.mul(&mut k.da, &k.dx1, &a.mask_att);
        } else {
            be.copy(&mut k.da, &k.dx1);
        }
        self.att_out
            .backward(be, p, g, &a.o, &k.da, Some(&mut k.d_o));
        let mask = a.dropped.then_some(&a.mask_probs);
        be.attention_bwd(
            &mut k.dq,
            &mut k.dk,
            &mut k.dv,
            &k.d_o,
            [&a.q, &a.k, &a.v],
            &a.probs,
            mask,
            self.heads,
        );
        self.q_proj
            .backward(be, p, g, &a.n1, &k.dq, Some(&mut k.dn1));
        self.k_proj
            .backward(be, p, g, &a.n1, &k.dk, Some(&mut k.dn1));
        self.v_proj
            .backward(be, p, g, &a.n1, &k.dv, Some(&mut k.dn1));
        self.norm1.backward(be, p, g, x, &a.r1, &k.dn1, dx);
        be.add_assign(dx, &k.dx1);
    }
}

/// The encoder of 3a and 1a: `n` [`TransformerBlock`]s `<name>.i` in sequence, block i + 1
/// reading block i's output (the residuals are inside the blocks), on (B, L, D).
#[derive(Clone, Debug)]
pub struct TransformerStack {
    blocks: Vec<TransformerBlock>,
    name: String,
}

/// Planned activations (and backward scratch) of a [`TransformerStack`] for (B, L).
pub struct StackActs<B: Infer> {
    /// block i's activations; its `out` (B, L, D) is block i + 1's input
    pub blocks: Vec<TransformerActs<B>>,
    k: Option<TransformerGrads<B>>,
    dprev: B::Buf,
}

impl TransformerStack {
    /// Registers blocks `<name>.0` … `<name>.{n−1}` (D = `d`, `heads` heads, E = `expand`·D);
    /// block i uses the dropout sites `site0 + 3i` … `site0 + 3i + 2`.
    ///
    /// # Panics
    /// As [`TransformerBlock::new`].
    pub fn new(
        lay: &mut ParamLayout,
        name: &str,
        n: usize,
        (d, heads, expand): (usize, usize, usize),
        site0: u32,
    ) -> Self {
        let blocks = (0..n)
            .map(|i| {
                let site = site0 + 3 * i as u32;
                TransformerBlock::new(lay, &format!("{name}.{i}"), d, heads, expand, site)
            })
            .collect();
        Self {
            blocks,
            name: name.into(),
        }
    }

    /// Allocates the activations of a batch (b, l) (D wide).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> StackActs<B> {
        let d = self.blocks.first().map_or(0, |k| k.d);
        StackActs {
            blocks: self.blocks.iter().map(|k| k.plan(be, b, l)).collect(),
            k: self.blocks.first().map(|k| k.plan_grads(be, b, l)),
            dprev: be.alloc(&[b, l, d]),
        }
    }

    /// u (B, L, D) → the last block's output ([`Self::out`]); dropout when `drop` is given.
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        u: &B::Buf,
        a: &mut StackActs<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        for (i, blk) in self.blocks.iter().enumerate() {
            let (done, rest) = a.blocks.split_at_mut(i);
            let x = done.last().map_or(u, |b| &b.out);
            blk.forward(be, p, x, &mut rest[0], drop);
        }
    }

    /// The stack's output after [`Self::forward`] on `u`: the last block's (`u` itself without
    /// blocks).
    pub fn out<'a, B: Infer>(a: &'a StackActs<B>, u: &'a B::Buf) -> &'a B::Buf {
        a.blocks.last().map_or(u, |b| &b.out)
    }

    /// Backward of [`Self::forward`] (same u): accumulates the parameter gradients into `g`;
    /// `d` holds d out (B, L, D) on entry and d u on return.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        u: &B::Buf,
        a: &mut StackActs<B>,
        d: &mut B::Buf,
    ) {
        let Some(k) = a.k.as_mut() else { return };
        for i in (0..self.blocks.len()).rev() {
            be.fill(&mut a.dprev, 0.0);
            let x = if i == 0 { u } else { &a.blocks[i - 1].out };
            self.blocks[i].backward(be, p, g, x, &a.blocks[i], d, &mut a.dprev, k);
            core::mem::swap(d, &mut a.dprev);
        }
    }

    /// Every block's output, named as the reference's submodules (`<name>.i`).
    pub fn trace<'a, B: Infer>(&self, a: &'a StackActs<B>) -> Vec<(String, &'a B::Buf)> {
        let name = &self.name;
        a.blocks
            .iter()
            .enumerate()
            .map(|(i, blk)| (format!("{name}.{i}"), &blk.out))
            .collect()
    }
}
