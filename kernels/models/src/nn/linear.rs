//! `nn.Linear` over the last dim of a (rows, d_in) buffer: one GEMM for every row of the batch.
use crate::params::{default_uniform, Init, ParamLayout};
use crate::prelude::*;
use qssm_kernels::backend::{Backend, Infer, LinearP};

/// A fully connected layer (`y = x·Wᵀ + b`, W (d_out, d_in)).
#[derive(Clone, Debug)]
pub struct Linear {
    /// its tensors in the parameter buffer
    pub p: LinearP,
}

impl Linear {
    /// Registers `{name}.weight` (d_out, d_in) and `{name}.bias` (d_out) with PyTorch's
    /// default init U(±1/√d_in).
    pub fn new(lay: &mut ParamLayout, name: &str, d_in: usize, d_out: usize, bias: bool) -> Self {
        let init = default_uniform(d_in);
        Self::with_init(lay, name, d_in, d_out, bias, init, init)
    }

    /// As [`Self::new`] with explicit initialisers.
    pub fn with_init(
        lay: &mut ParamLayout,
        name: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
        w_init: Init,
        b_init: Init,
    ) -> Self {
        let w = lay.add_matrix(format!("{name}.weight"), &[d_out, d_in], w_init);
        let b = bias.then(|| lay.add(format!("{name}.bias"), &[d_out], b_init));
        Self {
            p: LinearP { w, b, d_in, d_out },
        }
    }

    /// The sub-layer of output features `rows` ([`LinearP::out_rows`]): same parameters, its
    /// output is that column block of this layer's.
    pub fn out_rows(&self, rows: core::ops::Range<usize>) -> Linear {
        Linear {
            p: self.p.out_rows(rows),
        }
    }

    /// Output features.
    pub fn d_out(&self) -> usize {
        self.p.d_out
    }

    /// y (rows, d_out) ← x (rows, d_in)·Wᵀ + b.
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, x: &B::Buf, y: &mut B::Buf) {
        be.linear(y, x, p, &self.p);
    }

    /// Accumulates dW, db into `g` and dx (if given).
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        dy: &B::Buf,
        dx: Option<&mut B::Buf>,
    ) {
        be.linear_bwd(dx, g, dy, x, p, &self.p);
    }
}
