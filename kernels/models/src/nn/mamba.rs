//! Mamba block with its selective SSM, batched over (B, L, D) buffers, in the two flavours of
//! the reference (Gu & Dao 2023; spec circuits-and-groups-1-3 §3.3–3.6):
//!
//! `[v = RMSNorm(u)]; x ‖ z = in_proj(v); x = SiLU(conv1d(x)); y = SSM(x); out = out_proj(y ⊙ SiLU(z)) [+ u]`
//!
//! * 1b (`MambaBlock` of `models/QuantumSSM.py`): no pre-norm (its `norm` LayerNorm is
//!   registered but unused), no inner residual, `MambaSelectiveSSM`: A_log (N) shared,
//!   dt_rank E/16, an inner `out_proj` (E→E), initial state from the previous block.
//! * 3b (`MambaBlock` of `models/TrueClassicalMamba.py`): RMSNorm pre-norm, residual inside,
//!   `SelectiveSSM`: A_log (E, N), dt_rank ⌈D/16⌉, `x_proj` owned by the block.
//!
//! SSM: p = x_proj(x) split [δ (R) | B (N) | C (N)], Δ = softplus(dt_proj(δ)), A = −exp(A_log),
//! then the batched scan ([`qssm_kernels::backend::Infer::scan`]).
use super::linear::Linear;
use super::norm::RmsNorm;
use super::proj::{Proj, ProjKind};
use super::ssm::{SelectiveSsm, SsmActs, SsmGrads};
use crate::params::{default_uniform, Init, ParamLayout};
use crate::prelude::*;
use qssm_kernels::backend::{Act, Backend, ConvP, Infer};

/// Registers a causal depthwise conv1d `{name}.weight` (E, 1, k), `{name}.bias` (E) with
/// PyTorch's default init.
pub fn causal_conv(lay: &mut ParamLayout, name: &str, e: usize, k: usize) -> ConvP {
    let w = lay.add(format!("{name}.weight"), &[e, 1, k], default_uniform(k));
    let b = lay.add(format!("{name}.bias"), &[e], default_uniform(k));
    ConvP { w, b, e, k }
}

/// One Mamba block over sequences of width D with inner width E.
#[derive(Clone, Debug)]
pub struct MambaBlock {
    norm: Option<RmsNorm>,
    in_proj: InProj,
    conv: ConvP,
    ssm: SelectiveSsm,
    out_proj: Proj,
    residual: bool,
    d: usize,
    e: usize,
}

/// `in_proj` (2E outputs): a Linear layer as its two halves x (rows 0..E) and z (rows E..2E),
/// or a projection whose whole (rows, 2E) output is split.
#[derive(Clone, Debug)]
enum InProj {
    Halves { x: Linear, z: Linear },
    Whole(Proj),
}

/// Planned activations of one [`MambaBlock`] for a batch (B, L).
pub struct MambaActs<B: Infer> {
    v: Option<(B::Buf, B::Buf)>,
    /// the whole in_proj output (B, L, 2E) (a whole in_proj only)
    xz: Option<B::Buf>,
    xin: B::Buf,
    z: B::Buf,
    conv: B::Buf,
    xc: B::Buf,
    /// the SSM's activations (its final states: `ssm.h_last`)
    pub ssm: SsmActs<B>,
    sz: B::Buf,
    gated: B::Buf,
    /// block output (B, L, D)
    pub out: B::Buf,
}

/// Recurrent state of a [`MambaBlock`] on `b` streams ([`MambaBlock::step`]).
pub struct MambaState<B: Infer> {
    /// the conv1d's last k−1 inputs (B, k−1, E), oldest first
    pub conv: B::Buf,
    /// the SSM state (B, E, N)
    pub h: B::Buf,
}

impl<B: Infer> MambaState<B> {
    /// `f` on the conv history, then the SSM state (the order of [`Self::named`]).
    pub fn for_each(&mut self, f: &mut dyn FnMut(&mut B::Buf)) {
        f(&mut self.conv);
        f(&mut self.h);
    }

    /// The state tensors of blocks `{prefix}.0`, `{prefix}.1`, … by name (`{prefix}.i.conv1d`,
    /// `{prefix}.i.ssm`), for [`super::StepNet::state`].
    pub fn named<'a>(prefix: &str, states: &'a mut [Self]) -> Vec<(String, &'a mut B::Buf)> {
        let mut out = Vec::with_capacity(2 * states.len());
        for (i, st) in states.iter_mut().enumerate() {
            out.push((format!("{prefix}.{i}.conv1d"), &mut st.conv));
            out.push((format!("{prefix}.{i}.ssm"), &mut st.h));
        }
        out
    }
}

/// Activation-gradient scratch of a [`MambaBlock`], shared by all blocks of a model (the
/// backward runs one block at a time).
pub struct MambaGrads<B: Infer> {
    dv: Option<B::Buf>,
    dxz: Option<B::Buf>,
    dxin: B::Buf,
    dz: B::Buf,
    dconv: B::Buf,
    dxc: B::Buf,
    dy: B::Buf,
    dsz: B::Buf,
    dgated: B::Buf,
    ssm: SsmGrads<B>,
}

impl MambaBlock {
    /// 1b's block `mamba_layers.i` (QuantumSSM.py): d_conv 4, dt_rank E/16, A_log (N) shared.
    pub fn quantum_ssm(lay: &mut ParamLayout, prefix: &str, d: usize, e: usize, n: usize) -> Self {
        let in_proj = Linear::new(lay, &format!("{prefix}.in_proj"), d, 2 * e, false);
        let conv = causal_conv(lay, &format!("{prefix}.conv1d"), e, 4);
        let ssm = SelectiveSsm::quantum_ssm(lay, &format!("{prefix}.ssm"), e, n);
        let out_proj = Proj::Linear(Linear::new(lay, &format!("{prefix}.out_proj"), e, d, false));
        lay.add_unused(format!("{prefix}.norm.weight"), &[d], Init::Const(1.0));
        lay.add_unused(format!("{prefix}.norm.bias"), &[d], Init::Const(0.0));
        Self {
            norm: None,
            in_proj: InProj::Halves {
                x: in_proj.out_rows(0..e),
                z: in_proj.out_rows(e..2 * e),
            },
            conv,
            ssm,
            out_proj,
            residual: false,
            d,
            e,
        }
    }

    /// 3b's block `layers.i` (TrueClassicalMamba.py): RMSNorm pre-norm, d_conv 4,
    /// dt_rank ⌈D/16⌉, A_log (E, N), residual inside; `in_proj`, `x_proj` and `out_proj` of
    /// the given kind (Linear: 3b and the HQC Mamba's classical twin; quantum: the HQC Mamba,
    /// spec hqc-mamba-and-quantum-train §3.2).
    pub fn true_classical(
        lay: &mut ParamLayout,
        prefix: &str,
        (d, e, n): (usize, usize, usize),
        proj: &ProjKind,
    ) -> Self {
        let in_proj = match proj.build(lay, &format!("{prefix}.in_proj"), d, 2 * e) {
            Proj::Linear(l) => InProj::Halves {
                x: l.out_rows(0..e),
                z: l.out_rows(e..2 * e),
            },
            whole => InProj::Whole(whole),
        };
        let ssm = SelectiveSsm::true_classical(lay, prefix, (d, e, n), proj);
        let conv = causal_conv(lay, &format!("{prefix}.conv1d"), e, 4);
        let out_proj = proj.build(lay, &format!("{prefix}.out_proj"), e, d);
        let norm = RmsNorm::new(lay, &format!("{prefix}.norm"), d);
        Self {
            norm: Some(norm),
            in_proj,
            conv,
            ssm,
            out_proj,
            residual: true,
            d,
            e,
        }
    }

    /// Allocates the activations of a batch (b, l).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> MambaActs<B> {
        self.plan_with(be, b, l, true)
    }

    /// [`Self::plan`] for the eval forward and [`Self::step`] only (the scan keeps no states
    /// for a backward).
    pub fn plan_eval<B: Infer>(&self, be: &B, b: usize, l: usize) -> MambaActs<B> {
        self.plan_with(be, b, l, false)
    }

    fn plan_with<B: Infer>(&self, be: &B, b: usize, l: usize, train: bool) -> MambaActs<B> {
        let (d, e) = (self.d, self.e);
        let s = |w: usize| be.alloc(&[b, l, w]);
        MambaActs {
            v: self.norm.as_ref().map(|_| (s(d), be.alloc(&[b, l]))),
            xz: self.whole_in_proj().then(|| s(2 * e)),
            xin: s(e),
            z: s(e),
            conv: s(e),
            xc: s(e),
            ssm: if train {
                self.ssm.plan(be, b, l)
            } else {
                self.ssm.plan_eval(be, b, l)
            },
            sz: s(e),
            gated: s(e),
            out: s(d),
        }
    }

    fn whole_in_proj(&self) -> bool {
        matches!(self.in_proj, InProj::Whole(_))
    }

    /// Allocates the backward scratch of a batch (b, l).
    pub fn plan_grads<B: Infer>(&self, be: &B, b: usize, l: usize) -> MambaGrads<B> {
        let (d, e) = (self.d, self.e);
        let s = |w: usize| be.alloc(&[b, l, w]);
        MambaGrads {
            dv: self.norm.as_ref().map(|_| s(d)),
            dxz: self.whole_in_proj().then(|| s(2 * e)),
            dxin: s(e),
            dz: s(e),
            dconv: s(e),
            dxc: s(e),
            dy: s(e),
            dsz: s(e),
            dgated: s(e),
            ssm: self.ssm.plan_grads(be, b, l),
        }
    }

    /// u (B, L, D) → `a.out` (B, L, D), SSM from `h0` (B, E, N) (zeros if `None`); the final
    /// states land in `a.ssm.h_last`.
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        u: &B::Buf,
        h0: Option<&B::Buf>,
        a: &mut MambaActs<B>,
    ) {
        self.run(be, p, u, h0, None, a);
    }

    /// Allocates the recurrent state of `b` streams (zeros: the start of a stream).
    pub fn plan_state<B: Infer>(&self, be: &B, b: usize) -> MambaState<B> {
        MambaState {
            conv: be.alloc(&[b, self.conv.k - 1, self.e]),
            h: be.alloc(&[b, self.e, self.ssm.d_state()]),
        }
    }

    /// Computes the parameter-derived buffers of `a` once (the SSM's A): steps on `a` then
    /// skip them; the parameters must not change while `a` is used
    /// ([`crate::nn::StepNet::prepare`]).
    pub fn prepare<B: Infer>(&self, be: &B, p: &B::Params, a: &mut MambaActs<B>) {
        self.ssm.prepare(be, p, &mut a.ssm);
    }

    /// Streaming form of [`Self::forward`]: the next L tokens u (B, L, D) (activations `a`
    /// planned for L) continuing from `st` (the conv1d's last inputs and the SSM state), which
    /// then holds the state after them. Steps over the chunks of a sequence equal the forward
    /// over the whole of it from zero states.
    pub fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        u: &B::Buf,
        st: &mut MambaState<B>,
        a: &mut MambaActs<B>,
    ) {
        self.run(be, p, u, Some(&st.h), Some(&mut st.conv), a);
        // the final states become the state; the old state's buffer takes the next step's
        // final states (no copy)
        core::mem::swap(&mut st.h, &mut a.ssm.h_last);
    }

    /// The forward, whole-sequence (`conv_hist` `None`: zero padding) or streamed.
    fn run<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        u: &B::Buf,
        h0: Option<&B::Buf>,
        conv_hist: Option<&mut B::Buf>,
        a: &mut MambaActs<B>,
    ) {
        let v = match (&self.norm, &mut a.v) {
            (Some(norm), Some((v, rstd))) => {
                norm.forward(be, p, u, v, rstd);
                &*v
            }
            _ => u,
        };
        match (&self.in_proj, &mut a.xz) {
            (InProj::Halves { x, z }, _) => {
                x.forward(be, p, v, &mut a.xin);
                z.forward(be, p, v, &mut a.z);
            }
            (InProj::Whole(proj), Some(xz)) => {
                proj.forward(be, p, v, xz);
                be.split_cols(xz, &mut [&mut a.xin, &mut a.z]);
            }
            (InProj::Whole(_), None) => unreachable!("planned with the block"),
        }
        match conv_hist {
            Some(hist) => be.conv1d_step(&mut a.conv, &a.xin, hist, p, &self.conv),
            None => be.conv1d(&mut a.conv, &a.xin, p, &self.conv),
        }
        be.act(Act::Silu, &mut a.xc, &a.conv);
        self.ssm.forward(be, p, &a.xc, h0, &mut a.ssm);
        be.act(Act::Silu, &mut a.sz, &a.z);
        be.mul(&mut a.gated, &a.ssm.y, &a.sz);
        self.out_proj.forward(be, p, &a.gated, &mut a.out);
        if self.residual {
            be.add_assign(&mut a.out, u);
        }
    }

    /// Backward of [`Self::forward`] (same u, h0): accumulates parameter gradients into `g`,
    /// du (B, L, D) and, if given, dh0 (B, E, N); `dh_last` is the upstream gradient of the
    /// final states.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        u: &B::Buf,
        h0: Option<&B::Buf>,
        a: &MambaActs<B>,
        dout: &B::Buf,
        dh_last: Option<&B::Buf>,
        du: &mut B::Buf,
        dh0: Option<&mut B::Buf>,
        k: &mut MambaGrads<B>,
    ) {
        if self.residual {
            be.add_assign(du, dout);
        }
        be.fill(&mut k.dgated, 0.0);
        self.out_proj
            .backward(be, p, g, &a.gated, dout, Some(&mut k.dgated));
        be.mul(&mut k.dy, &k.dgated, &a.sz);
        be.mul(&mut k.dsz, &k.dgated, &a.ssm.y);
        be.fill(&mut k.dz, 0.0);
        be.act_bwd(Act::Silu, &mut k.dz, &k.dsz, &a.z);
        for buf in [&mut k.dxc, &mut k.dconv, &mut k.dxin] {
            be.fill(buf, 0.0);
        }
        self.ssm.backward(
            be, p, g, &a.xc, h0, &a.ssm, &k.dy, dh_last, &mut k.dxc, dh0, &mut k.ssm,
        );
        // conv, in_proj, norm
        be.act_bwd(Act::Silu, &mut k.dconv, &k.dxc, &a.conv);
        be.conv1d_bwd(&mut k.dxin, g, &k.dconv, &a.xin, p, &self.conv);
        match (&self.norm, &a.v, &mut k.dv) {
            (Some(norm), Some((v, rstd)), Some(dv)) => {
                be.fill(dv, 0.0);
                let d = (&k.dxin, &k.dz, k.dxz.as_mut());
                self.in_proj_backward(be, p, g, v, d, dv);
                norm.backward(be, p, g, u, rstd, dv, du);
            }
            _ => {
                let d = (&k.dxin, &k.dz, k.dxz.as_mut());
                self.in_proj_backward(be, p, g, u, d, du);
            }
        }
    }

    /// in_proj's backward from (dx, dz) into `dv` (+=); `dxz`: scratch of a whole in_proj.
    fn in_proj_backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        v: &B::Buf,
        (dxin, dz, dxz): (&B::Buf, &B::Buf, Option<&mut B::Buf>),
        dv: &mut B::Buf,
    ) {
        match (&self.in_proj, dxz) {
            (InProj::Halves { x, z }, _) => {
                x.backward(be, p, g, v, dxin, Some(dv));
                z.backward(be, p, g, v, dz, Some(dv));
            }
            (InProj::Whole(proj), Some(dxz)) => {
                be.concat_cols(dxz, &[dxin, dz]);
                proj.backward(be, p, g, v, dxz, Some(dv));
            }
            (InProj::Whole(_), None) => unreachable!("planned with the block"),
        }
    }
}
