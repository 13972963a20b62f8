//! `nn.Linear` as a block over the flat parameter buffer.
use crate::params::{default_uniform, disjoint_mut, Init, ParamLayout};
use qssm_kernels::ops::linear::{linear_backward, linear_forward};
use std::ops::Range;

/// `y (L, out) = x (L, in)·Wᵀ + b`; `weight` (out, in), `bias` (out) optional.
#[derive(Clone, Debug)]
pub struct Linear {
    /// range of `<name>.weight`
    pub w: Range<usize>,
    /// range of `<name>.bias`
    pub b: Option<Range<usize>>,
    /// input width
    pub d_in: usize,
    /// output width
    pub d_out: usize,
}

impl Linear {
    /// Registers `<name>.weight` (and `<name>.bias`) with PyTorch's default init U(±1/√in).
    pub fn new(lay: &mut ParamLayout, name: &str, d_in: usize, d_out: usize, bias: bool) -> Self {
        Self::with_init(
            lay,
            name,
            d_in,
            d_out,
            bias,
            default_uniform(d_in),
            default_uniform(d_in),
        )
    }

    /// Registers with explicit initialisers.
    pub fn with_init(
        lay: &mut ParamLayout,
        name: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
        w_init: Init,
        b_init: Init,
    ) -> Self {
        let w = lay.add(format!("{name}.weight"), &[d_out, d_in], w_init);
        let b = bias.then(|| lay.add(format!("{name}.bias"), &[d_out], b_init));
        Self { w, b, d_in, d_out }
    }

    /// Forward over L rows.
    pub fn forward(&self, p: &[f32], x: &[f32], l: usize, y: &mut [f32]) {
        let b = self.b.as_ref().map(|r| &p[r.clone()]);
        linear_forward(y, x, &p[self.w.clone()], b, l, self.d_in, self.d_out);
    }

    /// Forward into a new buffer.
    pub fn apply(&self, p: &[f32], x: &[f32], l: usize) -> Vec<f32> {
        let mut y = vec![0.0; l * self.d_out];
        self.forward(p, x, l, &mut y);
        y
    }

    /// Backward: accumulates dW, db into `g` and dx (if given).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        dy: &[f32],
        l: usize,
        dx: Option<&mut [f32]>,
    ) {
        match &self.b {
            Some(b) => {
                let (dw, db) = disjoint_mut(g, self.w.clone(), b.clone());
                linear_backward(
                    dx,
                    dw,
                    Some(db),
                    dy,
                    x,
                    &p[self.w.clone()],
                    l,
                    self.d_in,
                    self.d_out,
                );
            }
            None => linear_backward(
                dx,
                &mut g[self.w.clone()],
                None,
                dy,
                x,
                &p[self.w.clone()],
                l,
                self.d_in,
                self.d_out,
            ),
        }
    }
}
