//! Selective SSM with input-dependent Δ, B, C (Mamba S6; Gu & Dao 2023), batched over
//! (B, L, E) buffers, in the two flavours of the reference:
//!
//! * `MambaSelectiveSSM` of `models/QuantumSSM.py` (1b, 1c; spec §3.3): A_log (N) shared by
//!   all channels, dt_rank = E/16, an extra `out_proj` (E→E) applied to the scan output;
//! * `SelectiveSSM` of `models/TrueClassicalMamba.py` (3b; spec §3.6): A_log (E, N),
//!   dt_rank = ⌈d_model/16⌉, `x_proj` owned by the enclosing block, no out_proj.
//!
//! Both: p = x_proj(x) split \[δ (R) | B (N) | C (N)\], Δ = softplus(dt_proj(δ)),
//! A = −exp(A_log), then the batched scan ([`qssm_kernels::backend::Infer::scan`]), whose
//! states are kept for the backward.
use super::linear::Linear;
use super::proj::{Proj, ProjKind};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use core::ops::Range;
use qssm_kernels::backend::{Act, Backend, Infer, ScanGradBufs, ScanInputs, ScanP};

/// dt_rank of the reference's `SelectiveSSM` (TrueClassicalMamba.py): ⌈d_model/16⌉.
pub fn dt_rank_ceil(d_model: usize) -> usize {
    d_model.div_ceil(16)
}

/// `dt_proj` with the reference's init: W ~ U(±1/√R), bias = softplus⁻¹(dt) with dt
/// log-uniform in [1e-3, 0.1) floored at `floor`.
pub fn dt_proj(lay: &mut ParamLayout, name: &str, r: usize, e: usize, floor: f32) -> Linear {
    let b = 1.0 / libm::sqrtf(r as f32);
    Linear::with_init(
        lay,
        name,
        r,
        e,
        true,
        Init::Uniform(-b, b),
        Init::DtBias { floor },
    )
}

/// One selective SSM over E channels with state size N and dt_rank R.
#[derive(Clone, Debug)]
pub struct SelectiveSsm {
    x_proj: Proj,
    dt_proj: Linear,
    a_log: Range<usize>,
    d: Range<usize>,
    out_proj: Option<Linear>,
    dims: ScanP,
    r: usize,
    a_len: usize,
}

/// Planned activations of one [`SelectiveSsm`] for a batch (B, L).
pub struct SsmActs<B: Infer> {
    xdbl: B::Buf,
    dl: B::Buf,
    bm: B::Buf,
    cm: B::Buf,
    dt_pre: B::Buf,
    delta: B::Buf,
    a: B::Buf,
    /// whether `a` holds A for good ([`SelectiveSsm::prepare`]): the forward does not
    /// recompute it
    a_fixed: bool,
    ys: Option<B::Buf>,
    states: B::Buf,
    /// output (B, L, E)
    pub y: B::Buf,
    /// final states (B, E, N)
    pub h_last: B::Buf,
}

/// Backward scratch of a [`SelectiveSsm`] (shared by the SSMs of a model).
pub struct SsmGrads<B: Infer> {
    dys: Option<B::Buf>,
    ddelta: B::Buf,
    da: B::Buf,
    dbm: B::Buf,
    dcm: B::Buf,
    ddt_pre: B::Buf,
    ddl: B::Buf,
    dxdbl: B::Buf,
}

impl SelectiveSsm {
    /// `MambaSelectiveSSM` (QuantumSSM.py) named `{prefix}.…`, registered in the reference
    /// order: `A_log` (N), `D`, `x_proj`, `dt_proj` (no dt floor), `out_proj`.
    pub fn quantum_ssm(lay: &mut ParamLayout, prefix: &str, e: usize, n: usize) -> Self {
        let r = e / 16;
        let a_log = lay.add(format!("{prefix}.A_log"), &[n], Init::ALog);
        let d = lay.add(format!("{prefix}.D"), &[e], Init::Const(1.0));
        let x_proj = Proj::Linear(Linear::new(
            lay,
            &format!("{prefix}.x_proj"),
            e,
            r + 2 * n,
            false,
        ));
        let dt_proj = dt_proj(lay, &format!("{prefix}.dt_proj"), r, e, 0.0);
        let out_proj = Linear::new(lay, &format!("{prefix}.out_proj"), e, e, false);
        Self {
            x_proj,
            dt_proj,
            a_log,
            d,
            out_proj: Some(out_proj),
            dims: ScanP {
                e,
                n,
                a_row_stride: 0,
                dt_on_b: true,
                reverse: false,
            },
            r,
            a_len: n,
        }
    }

    /// `SelectiveSSM` (TrueClassicalMamba.py) of block `{prefix}`: `{prefix}.x_proj` (owned by
    /// the block in the reference), then `{prefix}.ssm.A_log` (E, N), `.ssm.D`, `.ssm.dt_proj`
    /// (dt floored at 1e-4); dt_rank ⌈d_model/16⌉. `x_proj` of the given kind (the HQC
    /// Mamba's is quantum).
    pub fn true_classical(
        lay: &mut ParamLayout,
        prefix: &str,
        (d_model, e, n): (usize, usize, usize),
        x_proj: &ProjKind,
    ) -> Self {
        let r = dt_rank_ceil(d_model);
        let x_proj = x_proj.build(lay, &format!("{prefix}.x_proj"), e, r + 2 * n);
        let a_log = lay.add(format!("{prefix}.ssm.A_log"), &[e, n], Init::ALog);
        let d = lay.add(format!("{prefix}.ssm.D"), &[e], Init::Const(1.0));
        let dt_proj = dt_proj(lay, &format!("{prefix}.ssm.dt_proj"), r, e, 1e-4);
        Self {
            x_proj,
            dt_proj,
            a_log,
            d,
            out_proj: None,
            dims: ScanP {
                e,
                n,
                a_row_stride: n,
                dt_on_b: true,
                reverse: false,
            },
            r,
            a_len: e * n,
        }
    }

    /// This SSM scanning from the last time step to the first (a bidirectional SSM's backward
    /// branch): the same as reversing x in time, running [`Self::forward`] and reversing y,
    /// since everything but the scan is row-wise ([`ScanP::reverse`]); h0 is then the state
    /// before the last time step and the final state the one after the first.
    pub fn reversed(mut self) -> Self {
        self.dims.reverse = true;
        self
    }

    /// N, the state size per channel.
    pub fn d_state(&self) -> usize {
        self.dims.n
    }

    /// Allocates the activations of a batch (b, l).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> SsmActs<B> {
        self.plan_with(be, b, l, true)
    }

    /// [`Self::plan`] for the eval forward only (a streaming step): the scan keeps no states
    /// for a backward (that buffer is empty), only the final ones.
    pub fn plan_eval<B: Infer>(&self, be: &B, b: usize, l: usize) -> SsmActs<B> {
        self.plan_with(be, b, l, false)
    }

    fn plan_with<B: Infer>(&self, be: &B, b: usize, l: usize, train: bool) -> SsmActs<B> {
        let (e, n, r) = (self.dims.e, self.dims.n, self.r);
        let s = |w: usize| be.alloc(&[b, l, w]);
        SsmActs {
            xdbl: s(r + 2 * n),
            dl: s(r),
            bm: s(n),
            cm: s(n),
            dt_pre: s(e),
            delta: s(e),
            a: be.alloc(&[self.a_len]),
            a_fixed: false,
            ys: self.out_proj.as_ref().map(|_| s(e)),
            states: be.alloc(&[b, if train { l + 1 } else { 0 }, e, n]),
            y: s(e),
            h_last: be.alloc(&[b, e, n]),
        }
    }

    /// Allocates the backward scratch of a batch (b, l).
    pub fn plan_grads<B: Infer>(&self, be: &B, b: usize, l: usize) -> SsmGrads<B> {
        let (e, n, r) = (self.dims.e, self.dims.n, self.r);
        let s = |w: usize| be.alloc(&[b, l, w]);
        SsmGrads {
            dys: self.out_proj.as_ref().map(|_| s(e)),
            ddelta: s(e),
            da: be.alloc(&[self.a_len]),
            dbm: s(n),
            dcm: s(n),
            ddt_pre: s(e),
            ddl: s(r),
            dxdbl: s(r + 2 * n),
        }
    }

    /// Computes A = −exp(A_log) into `a` once: later forwards on `a` read it instead of
    /// recomputing it, so the parameters must not change while `a` is used (a runtime's
    /// fixed weights; see [`crate::nn::StepNet::prepare`]).
    pub fn prepare<B: Infer>(&self, be: &B, p: &B::Params, a: &mut SsmActs<B>) {
        be.neg_exp(&mut a.a, p, self.a_log.clone());
        a.a_fixed = true;
    }

    /// x (B, L, E) → `a.y` (B, L, E) from initial states `h0` (B, E, N) (zeros if `None`);
    /// the final states land in `a.h_last`.
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        h0: Option<&B::Buf>,
        a: &mut SsmActs<B>,
    ) {
        self.x_proj.forward(be, p, x, &mut a.xdbl);
        be.split_cols(&a.xdbl, &mut [&mut a.dl, &mut a.bm, &mut a.cm]);
        self.dt_proj.forward(be, p, &a.dl, &mut a.dt_pre);
        be.act(Act::Softplus, &mut a.delta, &a.dt_pre);
        if !a.a_fixed {
            be.neg_exp(&mut a.a, p, self.a_log.clone());
        }
        let inputs = ScanInputs {
            x,
            delta: &a.delta,
            a: &a.a,
            bm: &a.bm,
            cm: &a.cm,
            h0,
        };
        // an eval plan keeps no states (only the final ones)
        let keep = be.numel(&a.states) > 0;
        let (hl, st) = (Some(&mut a.h_last), keep.then_some(&mut a.states));
        match (&self.out_proj, &mut a.ys) {
            (Some(op), Some(ys)) => {
                be.scan(ys, hl, st, inputs, p, self.d.clone(), self.dims);
                op.forward(be, p, ys, &mut a.y);
            }
            _ => be.scan(&mut a.y, hl, st, inputs, p, self.d.clone(), self.dims),
        }
    }

    /// Backward of [`Self::forward`] (same x, h0): accumulates parameter gradients into `g`,
    /// dx (B, L, E) and, if given, dh0 (B, E, N); `dh_last` (B, E, N) is the upstream gradient
    /// of the final states.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        h0: Option<&B::Buf>,
        a: &SsmActs<B>,
        dy: &B::Buf,
        dh_last: Option<&B::Buf>,
        dx: &mut B::Buf,
        dh0: Option<&mut B::Buf>,
        k: &mut SsmGrads<B>,
    ) {
        let dys = match (&self.out_proj, &mut k.dys, &a.ys) {
            (Some(op), Some(dys), Some(ys)) => {
                be.fill(dys, 0.0);
                op.backward(be, p, g, ys, dy, Some(dys));
                &*dys
            }
            _ => dy,
        };
        for buf in [
            &mut k.ddelta,
            &mut k.da,
            &mut k.dbm,
            &mut k.dcm,
            &mut k.ddt_pre,
            &mut k.ddl,
        ] {
            be.fill(buf, 0.0);
        }
        let inputs = ScanInputs {
            x,
            delta: &a.delta,
            a: &a.a,
            bm: &a.bm,
            cm: &a.cm,
            h0,
        };
        let grads = ScanGradBufs {
            dx: &mut *dx,
            ddelta: &mut k.ddelta,
            da: &mut k.da,
            dbm: &mut k.dbm,
            dcm: &mut k.dcm,
            dh0,
        };
        let st = Some(&a.states);
        be.scan_bwd(
            grads,
            g,
            dys,
            dh_last,
            st,
            inputs,
            p,
            self.d.clone(),
            self.dims,
        );
        be.neg_exp_bwd(g, self.a_log.clone(), &k.da, &a.a);
        be.act_bwd(Act::Softplus, &mut k.ddt_pre, &k.ddelta, &a.dt_pre);
        self.dt_proj
            .backward(be, p, g, &a.dl, &k.ddt_pre, Some(&mut k.ddl));
        be.concat_cols(&mut k.dxdbl, &[&k.ddl, &k.dbm, &k.dcm]);
        self.x_proj.backward(be, p, g, x, &k.dxdbl, Some(dx));
    }
}
