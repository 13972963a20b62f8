//! 1c's Hydra block (`HydraBidirectionalSSM` + `HydraBlock` of reference
//! `models/QuantumSSM.py`, spec §3.5), batched over (B, L, D) buffers:
//!
//! `xs ‖ xg = in_proj(c)`; `y = out_proj(BiSSM(xs) ⊙ SiLU(xg))` with
//! `BiSSM(xs) = out_proj(ā·fwd(xs) + β̄·rev(bwd(rev(xs))) + γ̄·diagonal(xs))`,
//! `ā = α/(|α|+|β|+|γ|+1e-8)` etc. (signed, L1-normalised), `fwd`/`bwd` two independent
//! [`SelectiveSsm`]s of the QuantumSSM.py flavour, each scanning from a zero state, `rev` the
//! time reversal (`rev(bwd(rev(xs)))` runs as one scan from the last time step,
//! [`SelectiveSsm::reversed`]: no reversal copies). No conv, no normalisation: both `norm` LayerNorms are constructed by the
//! reference but never used (registered with `add_unused`).
use super::linear::Linear;
use super::ssm::{SelectiveSsm, SsmActs, SsmGrads};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use qssm_kernels::backend::{Act, Backend, Infer};

/// Added to the L1 norm of the mixing weights (reference constant).
const MIX_EPS: f32 = 1e-8;

/// One Hydra block of 1c over width D, inner width E.
#[derive(Clone, Debug)]
pub struct HydraBlock {
    /// `in_proj` (2E outputs) as its two halves: xs (rows 0..E) and xg (rows E..2E)
    in_xs: Linear,
    in_xg: Linear,
    /// α, β, γ (one scalar each)
    coeffs: [usize; 3],
    fwd: SelectiveSsm,
    bwd: SelectiveSsm,
    diagonal: Linear,
    bi_out: Linear,
    out_proj: Linear,
    d: usize,
    e: usize,
}

/// Planned activations of one [`HydraBlock`] for a batch (B, L).
pub struct HydraActs<B: Infer> {
    xs: B::Buf,
    xg: B::Buf,
    fa: SsmActs<B>,
    ba: SsmActs<B>,
    dg: B::Buf,
    comb: B::Buf,
    s: B::Buf,
    sg: B::Buf,
    gated: B::Buf,
    /// block output (B, L, D)
    pub out: B::Buf,
}

/// Backward scratch of a [`HydraBlock`], shared by all blocks of a model.
pub struct HydraGrads<B: Infer> {
    dgated: B::Buf,
    ds: B::Buf,
    dsg: B::Buf,
    dxg: B::Buf,
    dcomb: B::Buf,
    /// d(forward branch), d(reversed branch), d(diagonal)
    dbr: [B::Buf; 3],
    dxs: B::Buf,
    ssm: SsmGrads<B>,
}

impl HydraBlock {
    /// Registers `{prefix}.in_proj`, `.bidirectional_ssm.{alpha, beta, gamma, forward_ssm.*,
    /// backward_ssm.*, diagonal, out_proj, norm}`, `.out_proj`, `.norm` (reference order; both
    /// norms unused).
    pub fn new(lay: &mut ParamLayout, prefix: &str, d: usize, e: usize, n: usize) -> Self {
        let in_proj = Linear::new(lay, &format!("{prefix}.in_proj"), d, 2 * e, false);
        let bi = format!("{prefix}.bidirectional_ssm");
        let alpha = lay.add(format!("{bi}.alpha"), &[1], Init::Const(1.0)).start;
        let beta = lay.add(format!("{bi}.beta"), &[1], Init::Const(1.0)).start;
        let gamma = lay.add(format!("{bi}.gamma"), &[1], Init::Const(0.5)).start;
        let fwd = SelectiveSsm::quantum_ssm(lay, &format!("{bi}.forward_ssm"), e, n);
        let bwd = SelectiveSsm::quantum_ssm(lay, &format!("{bi}.backward_ssm"), e, n).reversed();
        let diagonal = Linear::new(lay, &format!("{bi}.diagonal"), e, e, false);
        let bi_out = Linear::new(lay, &format!("{bi}.out_proj"), e, e, false);
        lay.add_unused(format!("{bi}.norm.weight"), &[e], Init::Const(1.0));
        lay.add_unused(format!("{bi}.norm.bias"), &[e], Init::Const(0.0));
        let out_proj = Linear::new(lay, &format!("{prefix}.out_proj"), e, d, false);
        lay.add_unused(format!("{prefix}.norm.weight"), &[d], Init::Const(1.0));
        lay.add_unused(format!("{prefix}.norm.bias"), &[d], Init::Const(0.0));
        Self {
            in_xs: in_proj.out_rows(0..e),
            in_xg: in_proj.out_rows(e..2 * e),
            coeffs: [alpha, beta, gamma],
            fwd,
            bwd,
            diagonal,
            bi_out,
            out_proj,
            d,
            e,
        }
    }

    /// Allocates the activations of a batch (b, l).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> HydraActs<B> {
        let (d, e) = (self.d, self.e);
        let s = |w: usize| be.alloc(&[b, l, w]);
        HydraActs {
            xs: s(e),
            xg: s(e),
            fa: self.fwd.plan(be, b, l),
            ba: self.bwd.plan(be, b, l),
            dg: s(e),
            comb: s(e),
            s: s(e),
            sg: s(e),
            gated: s(e),
            out: s(d),
        }
    }

    /// Allocates the backward scratch of a batch (b, l).
    pub fn plan_grads<B: Infer>(&self, be: &B, b: usize, l: usize) -> HydraGrads<B> {
        let e = self.e;
        let s = |w: usize| be.alloc(&[b, l, w]);
        HydraGrads {
            dgated: s(e),
            ds: s(e),
            dsg: s(e),
            dxg: s(e),
            dcomb: s(e),
            dbr: [s(e), s(e), s(e)],
            dxs: s(e),
            ssm: self.fwd.plan_grads(be, b, l),
        }
    }

    /// u (B, L, D) → `a.out` (B, L, D).
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, u: &B::Buf, a: &mut HydraActs<B>) {
        self.in_xs.forward(be, p, u, &mut a.xs);
        self.in_xg.forward(be, p, u, &mut a.xg);
        self.fwd.forward(be, p, &a.xs, None, &mut a.fa);
        // the backward branch scans xs from its last time step (no reversal copies)
        self.bwd.forward(be, p, &a.xs, None, &mut a.ba);
        self.diagonal.forward(be, p, &a.xs, &mut a.dg);
        be.mix_l1(
            &mut a.comb,
            [&a.fa.y, &a.ba.y, &a.dg],
            p,
            self.coeffs,
            MIX_EPS,
        );
        self.bi_out.forward(be, p, &a.comb, &mut a.s);
        be.act(Act::Silu, &mut a.sg, &a.xg);
        be.mul(&mut a.gated, &a.s, &a.sg);
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
        a: &HydraActs<B>,
        dout: &B::Buf,
        du: &mut B::Buf,
        k: &mut HydraGrads<B>,
    ) {
        for buf in [
            &mut k.dgated,
            &mut k.ds,
            &mut k.dsg,
            &mut k.dxg,
            &mut k.dcomb,
            &mut k.dxs,
        ] {
            be.fill(buf, 0.0);
        }
        for buf in k.dbr.iter_mut() {
            be.fill(buf, 0.0);
        }
        self.out_proj
            .backward(be, p, g, &a.gated, dout, Some(&mut k.dgated));
        be.mul_acc(&mut k.ds, &k.dgated, &a.sg);
        be.mul_acc(&mut k.dsg, &k.dgated, &a.s);
        be.act_bwd(Act::Silu, &mut k.dxg, &k.dsg, &a.xg);
        self.bi_out
            .backward(be, p, g, &a.comb, &k.ds, Some(&mut k.dcomb));
        let [df, dr, ddg] = &mut k.dbr;
        be.mix_l1_bwd(
            [df, dr, ddg],
            g,
            &k.dcomb,
            [&a.fa.y, &a.ba.y, &a.dg],
            p,
            self.coeffs,
            MIX_EPS,
        );
        self.fwd.backward(
            be, p, g, &a.xs, None, &a.fa, df, None, &mut k.dxs, None, &mut k.ssm,
        );
        self.bwd.backward(
            be, p, g, &a.xs, None, &a.ba, dr, None, &mut k.dxs, None, &mut k.ssm,
        );
        self.diagonal
            .backward(be, p, g, &a.xs, ddg, Some(&mut k.dxs));
        self.in_xs.backward(be, p, g, u, &k.dxs, Some(du));
        self.in_xg.backward(be, p, g, u, &k.dxg, Some(du));
    }
}
