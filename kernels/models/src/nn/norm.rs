//! RMSNorm over the last dim (the reference's `RMSNorm`, eps 1e-5, weight only).
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use core::ops::Range;
use qssm_kernels::backend::{Backend, Infer};

/// RMSNorm with a (D) weight.
#[derive(Clone, Debug)]
pub struct RmsNorm {
    w: Range<usize>,
}

impl RmsNorm {
    /// Registers `{name}.weight` (D), ones.
    pub fn new(lay: &mut ParamLayout, name: &str, d: usize) -> Self {
        let w = lay.add(format!("{name}.weight"), &[d], Init::Const(1.0));
        Self { w }
    }

    /// y ← RMSNorm(x); `rstd` (rows) saved for the backward.
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        y: &mut B::Buf,
        rstd: &mut B::Buf,
    ) {
        be.rmsnorm(y, rstd, x, p, self.w.clone());
    }

    /// dx += …, g\[weight\] += ….
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        rstd: &B::Buf,
        dy: &B::Buf,
        dx: &mut B::Buf,
    ) {
        be.rmsnorm_bwd(dx, g, dy, x, rstd, p, self.w.clone());
    }
}

/// Planned activations of an [`RmsNorm`] over (rows, D): output and the saved reciprocal RMS.
pub struct RmsNormActs<B: Infer> {
    /// y (…, D)
    pub y: B::Buf,
    /// 1/rms (rows)
    rstd: B::Buf,
}

/// A norm over the last dim with its own planned activations: what a block generic over its
/// norm ([`super::NormMeanPool`]: RMSNorm or LayerNorm) runs.
pub trait RowNorm: Clone + core::fmt::Debug + Send + Sync {
    /// Output and saved statistics.
    type Acts<B: Infer>: Send;
    /// Buffers for an input of `shape` (…, D).
    fn plan_rows<B: Infer>(&self, be: &B, shape: &[usize]) -> Self::Acts<B>;
    /// The output y (…, D) of the last [`Self::norm_rows`].
    fn normed<B: Infer>(a: &Self::Acts<B>) -> &B::Buf;
    /// y ← norm(x).
    fn norm_rows<B: Infer>(&self, be: &B, p: &B::Params, x: &B::Buf, a: &mut Self::Acts<B>);
    /// dx += …, the norm's parameter gradients += … (x: the forward's input).
    #[allow(clippy::too_many_arguments)]
    fn norm_rows_bwd<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        a: &Self::Acts<B>,
        dy: &B::Buf,
        dx: &mut B::Buf,
    );
}

impl RowNorm for RmsNorm {
    type Acts<B: Infer> = RmsNormActs<B>;
    fn plan_rows<B: Infer>(&self, be: &B, shape: &[usize]) -> RmsNormActs<B> {
        RmsNormActs {
            y: be.alloc(shape),
            rstd: be.alloc(&shape[..shape.len() - 1]),
        }
    }
    fn normed<B: Infer>(a: &RmsNormActs<B>) -> &B::Buf {
        &a.y
    }
    fn norm_rows<B: Infer>(&self, be: &B, p: &B::Params, x: &B::Buf, a: &mut RmsNormActs<B>) {
        self.forward(be, p, x, &mut a.y, &mut a.rstd);
    }
    fn norm_rows_bwd<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        a: &RmsNormActs<B>,
        dy: &B::Buf,
        dx: &mut B::Buf,
    ) {
        self.backward(be, p, g, x, &a.rstd, dy, dx);
    }
}

impl RowNorm for LayerNorm {
    type Acts<B: Infer> = LayerNormActs<B>;
    fn plan_rows<B: Infer>(&self, be: &B, shape: &[usize]) -> LayerNormActs<B> {
        self.plan(be, shape)
    }
    fn normed<B: Infer>(a: &LayerNormActs<B>) -> &B::Buf {
        &a.y
    }
    fn norm_rows<B: Infer>(&self, be: &B, p: &B::Params, x: &B::Buf, a: &mut LayerNormActs<B>) {
        self.forward(be, p, x, a);
    }
    fn norm_rows_bwd<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        a: &LayerNormActs<B>,
        dy: &B::Buf,
        dx: &mut B::Buf,
    ) {
        self.backward(be, p, g, x, a, dy, dx);
    }
}

/// `nn.LayerNorm(D)` (eps 1e-5): `weight` (D) = 1, `bias` (D) = 0.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    wb: [Range<usize>; 2],
}

/// Planned activations of a [`LayerNorm`] over (rows, D): output and the saved statistics.
pub struct LayerNormActs<B: Infer> {
    /// y (…, D)
    pub y: B::Buf,
    /// μ and rstd (rows)
    stats: [B::Buf; 2],
}

impl LayerNorm {
    /// Registers `{name}.weight`, `{name}.bias`.
    pub fn new(lay: &mut ParamLayout, name: &str, d: usize) -> Self {
        let w = lay.add(format!("{name}.weight"), &[d], Init::Const(1.0));
        let b = lay.add(format!("{name}.bias"), &[d], Init::Const(0.0));
        Self { wb: [w, b] }
    }

    /// Buffers for an input of `shape` (…, D).
    pub fn plan<B: Infer>(&self, be: &B, shape: &[usize]) -> LayerNormActs<B> {
        let rows = &shape[..shape.len() - 1];
        LayerNormActs {
            y: be.alloc(shape),
            stats: [be.alloc(rows), be.alloc(rows)],
        }
    }

    /// `a.y` ← LayerNorm(x).
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, x: &B::Buf, a: &mut LayerNormActs<B>) {
        let [m, r] = &mut a.stats;
        be.layernorm(&mut a.y, [m, r], x, p, self.wb.clone());
    }

    /// dx += …, g\[weight\], g\[bias\] += … (x: the forward's input).
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        a: &LayerNormActs<B>,
        dy: &B::Buf,
        dx: &mut B::Buf,
    ) {
        let [m, r] = &a.stats;
        be.layernorm_bwd(dx, g, dy, x, [m, r], p, self.wb.clone());
    }
}
