//! Linear → LayerNorm → SiLU → Dropout, row-wise on (B, L, k) → (B, L, D), written once over
//! the backend: `<name>.0` Linear(k→D), `<name>.1` LayerNorm(D) (the reference's
//! `nn.Sequential(Linear, LayerNorm, SiLU, Dropout)`, or the same without the Dropout). The
//! zoo uses it under several names:
//!
//! * `output_proj` **OP_k** of the group-2/4 heads (spec groups-2-4 §3, "Shared heads";
//!   [`super::SeqPoolHead`]) and 2d/2e's `input_proj`;
//! * `feature_proj` of 1b and 1c (spec §4.2–4.3), without dropout;
//! * the chunk processors' `output_proj` (spec circuits-and-groups-1-3 §2.5), without dropout;
//! * the gated recurrence's `chunk_agg` (spec gated-and-protocols §1.5).
use super::linear::Linear;
use super::norm::{LayerNorm, LayerNormActs};
use crate::params::ParamLayout;
use crate::prelude::*;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer};

/// Linear → LayerNorm → SiLU → Dropout (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct OutputProj {
    l0: Linear,
    ln: LayerNorm,
    d: usize,
    site: u32,
}

/// Planned activations of an [`OutputProj`].
pub struct OutputProjActs<B: Infer> {
    /// `<name>.0` output (B, L, D)
    pub o0: B::Buf,
    /// `<name>.1` (LayerNorm) output
    pub ln: LayerNormActs<B>,
    /// SiLU output, kept apart only when dropout follows (see [`Self::silu`])
    o2: B::Buf,
    /// after dropout: the block's output (B, L, D)
    pub out: B::Buf,
    mask: B::Buf,
    dropped: bool,
    d1: B::Buf,
    d2: B::Buf,
}

impl<B: Infer> OutputProjActs<B> {
    /// `<name>.2`: the SiLU output of the last forward (before dropout).
    pub fn silu(&self) -> &B::Buf {
        if self.dropped {
            &self.o2
        } else {
            &self.out
        }
    }
}

impl OutputProj {
    /// Registers `<name>.0` (k → D) and the LayerNorm `<name>.1` (D); `site` names its
    /// dropout site.
    pub fn new(lay: &mut ParamLayout, name: &str, k: usize, d: usize, site: u32) -> Self {
        Self {
            l0: Linear::new(lay, &format!("{name}.0"), k, d, true),
            ln: LayerNorm::new(lay, &format!("{name}.1"), d),
            d,
            site,
        }
    }

    /// Buffers for (B, L).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> OutputProjActs<B> {
        self.plan_with(be, b, l, true)
    }

    /// [`Self::plan`] for the eval forward only (no dropout, no backward: those buffers are
    /// empty).
    pub fn plan_eval<B: Infer>(&self, be: &B, b: usize, l: usize) -> OutputProjActs<B> {
        self.plan_with(be, b, l, false)
    }

    fn plan_with<B: Infer>(&self, be: &B, b: usize, l: usize, train: bool) -> OutputProjActs<B> {
        let s = || be.alloc(&[b, l, self.d]);
        let tr = || be.alloc(&[b, l, if train { self.d } else { 0 }]);
        OutputProjActs {
            o0: s(),
            ln: self.ln.plan(be, &[b, l, self.d]),
            o2: tr(),
            out: s(),
            mask: tr(),
            dropped: false,
            d1: tr(),
            d2: tr(),
        }
    }

    /// x (B, L, k) → `a.out` (B, L, D).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        a: &mut OutputProjActs<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        self.l0.forward(be, p, x, &mut a.o0);
        self.ln.forward(be, p, &a.o0, &mut a.ln);
        be.act(Act::Silu, &mut a.out, &a.ln.y);
        a.dropped = drop.is_some();
        if let Some(cfg) = drop {
            // the SiLU output before dropout, for traces
            be.copy(&mut a.o2, &a.out);
            be.dropout(&mut a.out, &mut a.mask, cfg, self.site);
        }
    }

    /// Accumulates parameter gradients and, if `dx` is given, dx (B, L, k) from dy (B, L, D)
    /// (a block on the model's input needs no dx).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        a: &mut OutputProjActs<B>,
        dy: &B::Buf,
        dx: Option<&mut B::Buf>,
    ) {
        let dy = if a.dropped {
            be.mul(&mut a.d2, dy, &a.mask);
            &a.d2
        } else {
            dy
        };
        be.fill(&mut a.d1, 0.0);
        be.act_bwd(Act::Silu, &mut a.d1, dy, &a.ln.y);
        // d2 is free again: d o0
        be.fill(&mut a.d2, 0.0);
        self.ln.backward(be, p, g, &a.o0, &a.ln, &a.d1, &mut a.d2);
        self.l0.backward(be, p, g, x, &a.d2, dx);
    }
}
