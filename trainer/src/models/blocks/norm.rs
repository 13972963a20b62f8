//! Per-token LayerNorm and RMSNorm blocks (eps 1e-5 as in the reference).
use crate::params::{disjoint_mut, Init, ParamLayout};
use qssm_kernels::ops::norm::{
    layernorm_backward, layernorm_forward, rmsnorm_backward, rmsnorm_forward,
};
use std::ops::Range;

const EPS: f32 = 1e-5;

/// Statistics saved by a norm's forward: mean (L, LayerNorm only) and rstd (L).
#[derive(Clone, Debug, Default)]
pub struct NormCache {
    /// (L)
    pub mean: Vec<f32>,
    /// (L)
    pub rstd: Vec<f32>,
}

/// `nn.LayerNorm(d)`: `weight` (d) = 1, `bias` (d) = 0.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    w: Range<usize>,
    b: Range<usize>,
    d: usize,
}

impl LayerNorm {
    /// Registers `<name>.weight`, `<name>.bias`.
    pub fn new(lay: &mut ParamLayout, name: &str, d: usize) -> Self {
        let w = lay.add(format!("{name}.weight"), &[d], Init::Const(1.0));
        let b = lay.add(format!("{name}.bias"), &[d], Init::Const(0.0));
        Self { w, b, d }
    }

    /// Registers the tensors of a LayerNorm the reference constructs but never uses.
    pub fn register_unused(lay: &mut ParamLayout, name: &str, d: usize) {
        lay.add_unused(format!("{name}.weight"), &[d], Init::Const(1.0));
        lay.add_unused(format!("{name}.bias"), &[d], Init::Const(0.0));
    }

    /// x, y: (L, d).
    pub fn forward(&self, p: &[f32], x: &[f32], l: usize, y: &mut [f32], c: &mut NormCache) {
        c.mean.resize(l, 0.0);
        c.rstd.resize(l, 0.0);
        layernorm_forward(
            y,
            &mut c.mean,
            &mut c.rstd,
            x,
            &p[self.w.clone()],
            &p[self.b.clone()],
            l,
            self.d,
            EPS,
        );
    }

    /// Accumulates dW, db into `g` and dx.
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        dy: &[f32],
        l: usize,
        c: &NormCache,
        dx: &mut [f32],
    ) {
        let (dw, db) = disjoint_mut(g, self.w.clone(), self.b.clone());
        layernorm_backward(
            dx,
            dw,
            db,
            dy,
            x,
            &c.mean,
            &c.rstd,
            &p[self.w.clone()],
            l,
            self.d,
        );
    }
}

/// The reference's `RMSNorm(d)`: `weight` (d) = 1, no bias, eps inside the sqrt.
#[derive(Clone, Debug)]
pub struct RmsNorm {
    w: Range<usize>,
    d: usize,
}

impl RmsNorm {
    /// Registers `<name>.weight`.
    pub fn new(lay: &mut ParamLayout, name: &str, d: usize) -> Self {
        let w = lay.add(format!("{name}.weight"), &[d], Init::Const(1.0));
        Self { w, d }
    }

    /// x, y: (L, d).
    pub fn forward(&self, p: &[f32], x: &[f32], l: usize, y: &mut [f32], c: &mut NormCache) {
        c.rstd.resize(l, 0.0);
        rmsnorm_forward(y, &mut c.rstd, x, &p[self.w.clone()], l, self.d, EPS);
    }

    /// Accumulates dW into `g` and dx.
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        dy: &[f32],
        l: usize,
        c: &NormCache,
        dx: &mut [f32],
    ) {
        rmsnorm_backward(
            dx,
            &mut g[self.w.clone()],
            dy,
            x,
            &c.rstd,
            &p[self.w.clone()],
            l,
            self.d,
        );
    }
}
