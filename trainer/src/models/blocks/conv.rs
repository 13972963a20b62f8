//! Causal depthwise conv1d block (`Conv1d(E, E, k, groups=E, padding=k−1)`, first L outputs).
use crate::params::{default_uniform, disjoint_mut, ParamLayout};
use qssm_kernels::ops::conv1d::{conv1d_causal_backward, conv1d_causal_forward};
use std::ops::Range;

/// `<name>.weight` (E, 1, k), `<name>.bias` (E), both U(±1/√k) (PyTorch default, fan_in = k).
#[derive(Clone, Debug)]
pub struct CausalConv {
    w: Range<usize>,
    b: Range<usize>,
    e: usize,
    k: usize,
}

impl CausalConv {
    /// Registers the tensors.
    pub fn new(lay: &mut ParamLayout, name: &str, e: usize, k: usize) -> Self {
        let w = lay.add(format!("{name}.weight"), &[e, 1, k], default_uniform(k));
        let b = lay.add(format!("{name}.bias"), &[e], default_uniform(k));
        Self { w, b, e, k }
    }

    /// x, y: (L, E).
    pub fn forward(&self, p: &[f32], x: &[f32], l: usize, y: &mut [f32]) {
        conv1d_causal_forward(
            y,
            x,
            &p[self.w.clone()],
            &p[self.b.clone()],
            l,
            self.e,
            self.k,
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
        dx: &mut [f32],
    ) {
        let (dw, db) = disjoint_mut(g, self.w.clone(), self.b.clone());
        conv1d_causal_backward(dx, dw, db, dy, x, &p[self.w.clone()], l, self.e, self.k);
    }
}
