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
