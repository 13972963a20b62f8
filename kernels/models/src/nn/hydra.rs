//! 3c's Hydra block (`SelectiveSSM` + `HydraBlock` of reference
//! `models/TrueClassicalHydra.py`, spec §3.7), batched over (B, L, D) buffers. No pre-norm:
//!
//! `z ‖ x ‖ B ‖ C ‖ δ = in_proj(u)` (widths E, E, N, N, R); `x = SiLU(conv1d(x))` (causal);
//! `Δ = softplus(ssm.dt_proj(δ))`; `y_f = scan(x, Δ, B, C)`,
//! `y_b = rev(scan(rev x, rev Δ, rev B, rev C))` (run as one scan from the last time step,
//! [`ScanP::reverse`]: no reversal copies) — one set of SSM parameters and the same
//! streams for both directions, input term B·x **without Δ**, A = −exp(A_log) (E, N);
//! `out = out_proj(RMSNorm(y_f + y_b) ⊙ SiLU(z))` (D·x enters twice, as in the reference).
//! The conv runs before the reversal, so it is anti-causal for the backward direction.
use super::linear::Linear;
use super::mamba::causal_conv;
use super::norm::RmsNorm;
use super::ssm::{dt_proj, dt_rank_ceil};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use core::ops::Range;
use qssm_kernels::backend::{Act, Backend, ConvP, Infer, ScanGradBufs, ScanInputs, ScanP};

/// One bidirectional Hydra block over width D, inner width E, state N.
#[derive(Clone, Debug)]
pub struct ClassicalHydraBlock {
    in_proj: Linear,
    conv: ConvP,
    a_log: Range<usize>,
    d_skip: Range<usize>,
    dt_proj: Linear,
    out_proj: Linear,
    norm: RmsNorm,
    dims: ScanP,
    d: usize,
    r: usize,
}

/// Planned activations of one [`ClassicalHydraBlock`] for a batch (B, L).
pub struct ClassicalHydraActs<B: Infer> {
    zx: B::Buf,
    z: B::Buf,
    xin: B::Buf,
    conv: B::Buf,
    x: B::Buf,
    dl: B::Buf,
    dt_pre: B::Buf,
    delta: B::Buf,
    bm: B::Buf,
    cm: B::Buf,
    a: B::Buf,
    states: [B::Buf; 2],
    ysum: B::Buf,
    ybr: B::Buf,
    rstd: B::Buf,
    yn: B::Buf,
    sz: B::Buf,
    gated: B::Buf,
    /// block output (B, L, D)
    pub out: B::Buf,
}

/// Backward scratch of a [`ClassicalHydraBlock`], shared by all blocks of a model.
pub struct ClassicalHydraGrads<B: Infer> {
    dgated: B::Buf,
    dyn_: B::Buf,
    dsz: B::Buf,
    dz: B::Buf,
    dysum: B::Buf,
    /// dx, dΔ, dB, dC (both directions accumulate into them)
    fwd: [B::Buf; 4],
    da: B::Buf,
    ddt_pre: B::Buf,
    ddl: B::Buf,
    dconv: B::Buf,
    dxin: B::Buf,
    dzx: B::Buf,
}

impl ClassicalHydraBlock {
    /// Registers `{prefix}.in_proj`, `.conv1d`, `.ssm.A_log`, `.ssm.D`, `.ssm.dt_proj`,
    /// `.out_proj`, `.norm` (reference order).
    pub fn new(lay: &mut ParamLayout, prefix: &str, d: usize, e: usize, n: usize) -> Self {
        let r = dt_rank_ceil(d);
        let in_proj = Linear::new(
            lay,
            &format!("{prefix}.in_proj"),
            d,
            2 * e + 2 * n + r,
            false,
        );
        let conv = causal_conv(lay, &format!("{prefix}.conv1d"), e, 4);
        let a_log = lay.add(format!("{prefix}.ssm.A_log"), &[e, n], Init::ALog);
        let d_skip = lay.add(format!("{prefix}.ssm.D"), &[e], Init::Const(1.0));
        let dt_proj = dt_proj(lay, &format!("{prefix}.ssm.dt_proj"), r, e, 1e-4);
        let out_proj = Linear::new(lay, &format!("{prefix}.out_proj"), e, d, false);
        let norm = RmsNorm::new(lay, &format!("{prefix}.norm"), e);
        Self {
            in_proj,
            conv,
            a_log,
            d_skip,
            dt_proj,
            out_proj,
            norm,
            dims: ScanP {
                e,
                n,
                a_row_stride: n,
                dt_on_b: false,
                reverse: false,
            },
            d,
            r,
        }
    }

    /// Allocates the activations of a batch (b, l).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> ClassicalHydraActs<B> {
        let (d, e, n, r) = (self.d, self.dims.e, self.dims.n, self.r);
        let s = |w: usize| be.alloc(&[b, l, w]);
        ClassicalHydraActs {
            zx: s(2 * e + 2 * n + r),
            z: s(e),
            xin: s(e),
            conv: s(e),
            x: s(e),
            dl: s(r),
            dt_pre: s(e),
            delta: s(e),
            bm: s(n),
            cm: s(n),
            a: be.alloc(&[e, n]),
            states: [be.alloc(&[b, l + 1, e, n]), be.alloc(&[b, l + 1, e, n])],
            ysum: s(e),
            ybr: s(e),
            rstd: be.alloc(&[b, l]),
            yn: s(e),
            sz: s(e),
            gated: s(e),
            out: s(d),
        }
    }

    /// Allocates the backward scratch of a batch (b, l).
    pub fn plan_grads<B: Infer>(&self, be: &B, b: usize, l: usize) -> ClassicalHydraGrads<B> {
        let (e, n, r) = (self.dims.e, self.dims.n, self.r);
        let s = |w: usize| be.alloc(&[b, l, w]);
        ClassicalHydraGrads {
            dgated: s(e),
            dyn_: s(e),
            dsz: s(e),
            dz: s(e),
            dysum: s(e),
            fwd: [s(e), s(e), s(n), s(n)],
            da: be.alloc(&[e, n]),
            ddt_pre: s(e),
            ddl: s(r),
            dconv: s(e),
            dxin: s(e),
            dzx: s(2 * e + 2 * n + r),
        }
    }

    /// The scan of the backward direction.
    fn reversed(&self) -> ScanP {
        ScanP {
            reverse: true,
            ..self.dims
        }
    }

    /// u (B, L, D) → `a.out` (B, L, D).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        u: &B::Buf,
        a: &mut ClassicalHydraActs<B>,
    ) {
        self.in_proj.forward(be, p, u, &mut a.zx);
        be.split_cols(
            &a.zx,
            &mut [&mut a.z, &mut a.xin, &mut a.bm, &mut a.cm, &mut a.dl],
        );
        be.conv1d(&mut a.conv, &a.xin, p, &self.conv);
        be.act(Act::Silu, &mut a.x, &a.conv);
        self.dt_proj.forward(be, p, &a.dl, &mut a.dt_pre);
        be.act(Act::Softplus, &mut a.delta, &a.dt_pre);
        be.neg_exp(&mut a.a, p, self.a_log.clone());
        // the forward direction into ysum, then the same streams scanned from the last time
        // step into ybr
        let [sf, sb] = &mut a.states;
        let dirs = [
            (&mut a.ysum, sf, self.dims),
            (&mut a.ybr, sb, self.reversed()),
        ];
        for (y, states, dims) in dirs {
            let inputs = ScanInputs {
                x: &a.x,
                delta: &a.delta,
                a: &a.a,
                bm: &a.bm,
                cm: &a.cm,
                h0: None,
            };
            be.scan(y, None, Some(states), inputs, p, self.d_skip.clone(), dims);
        }
        be.add_assign(&mut a.ysum, &a.ybr);
        self.norm.forward(be, p, &a.ysum, &mut a.yn, &mut a.rstd);
        be.act(Act::Silu, &mut a.sz, &a.z);
        be.mul(&mut a.gated, &a.yn, &a.sz);
        self.out_proj.forward(be, p, &a.gated, &mut a.out);
    }

    /// Backward of [`Self::forward`] (same u): accumulates parameter gradients into `g` and
    /// du (B, L, D).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        u: &B::Buf,
        a: &ClassicalHydraActs<B>,
        dout: &B::Buf,
        du: &mut B::Buf,
        k: &mut ClassicalHydraGrads<B>,
    ) {
        for buf in [
            &mut k.dgated,
            &mut k.dyn_,
            &mut k.dsz,
            &mut k.dz,
            &mut k.dysum,
            &mut k.da,
            &mut k.ddt_pre,
            &mut k.ddl,
            &mut k.dconv,
            &mut k.dxin,
        ] {
            be.fill(buf, 0.0);
        }
        for buf in k.fwd.iter_mut() {
            be.fill(buf, 0.0);
        }
        self.out_proj
            .backward(be, p, g, &a.gated, dout, Some(&mut k.dgated));
        be.mul_acc(&mut k.dyn_, &k.dgated, &a.sz);
        be.mul_acc(&mut k.dsz, &k.dgated, &a.yn);
        be.act_bwd(Act::Silu, &mut k.dz, &k.dsz, &a.z);
        self.norm
            .backward(be, p, g, &a.ysum, &a.rstd, &k.dyn_, &mut k.dysum);
        // both scans accumulate into the same gradients (A_log and D are shared; the
        // backward direction scans from the last time step)
        for (states, dims) in [(&a.states[0], self.dims), (&a.states[1], self.reversed())] {
            let [dx, ddelta, dbm, dcm] = &mut k.fwd;
            let inputs = ScanInputs {
                x: &a.x,
                delta: &a.delta,
                a: &a.a,
                bm: &a.bm,
                cm: &a.cm,
                h0: None,
            };
            let grads = ScanGradBufs {
                dx,
                ddelta,
                da: &mut k.da,
                dbm,
                dcm,
                dh0: None,
            };
            let d = self.d_skip.clone();
            be.scan_bwd(grads, g, &k.dysum, None, Some(states), inputs, p, d, dims);
        }
        let [dx, ddelta, dbm, dcm] = &k.fwd;
        be.neg_exp_bwd(g, self.a_log.clone(), &k.da, &a.a);
        be.act_bwd(Act::Softplus, &mut k.ddt_pre, ddelta, &a.dt_pre);
        self.dt_proj
            .backward(be, p, g, &a.dl, &k.ddt_pre, Some(&mut k.ddl));
        be.act_bwd(Act::Silu, &mut k.dconv, dx, &a.conv);
        be.conv1d_bwd(&mut k.dxin, g, &k.dconv, &a.xin, p, &self.conv);
        be.concat_cols(&mut k.dzx, &[&k.dz, &k.dxin, dbm, dcm, &k.ddl]);
        self.in_proj.backward(be, p, g, u, &k.dzx, Some(du));
    }
}
