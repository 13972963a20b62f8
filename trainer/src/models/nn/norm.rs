//! RMSNorm over the last dim (the reference's `RMSNorm`, eps 1e-5, weight only).
use crate::params::{Init, ParamLayout};
use qssm_kernels::backend::Backend;
use std::ops::Range;

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
    pub fn forward<B: Backend>(
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
