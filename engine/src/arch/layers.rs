//! Inference-only layers over owned weights, each a thin wrapper of a [`qssm_kernels::ops`]
//! forward op (the math lives there). Token-major `(L, width)` rows.
//! Source: the trainer's `models/blocks/{linear,norm,conv,pool}.rs` (reference PyTorch
//! `nn.Linear`, the repo's `RMSNorm`, depthwise causal `nn.Conv1d`).
//!
//! The streaming forms' layers: one token (or a few, `apply_rows`) at a time, written into a
//! caller slice, no allocation (windows run the models' shared descriptions). `Linear`
//! weights stay in the file's dtype ([`Matrix`]: f32 or f16) and are read directly
//! ([`qssm_kernels::ops::matvec`]).
use crate::error::EngineError;
use crate::weights::{Loader, Matrix, MatrixView};
use alloc::format;
use alloc::vec::Vec;
use qssm_kernels::ops::conv1d::conv1d_causal_step;
use qssm_kernels::ops::matvec::{linear_rows, matvec};
use qssm_kernels::ops::norm::rmsnorm_forward;

/// eps of every LayerNorm/RMSNorm of the reference.
const NORM_EPS: f32 = 1e-5;

/// `nn.Linear`: `y (L, out) = x (L, in)·Wᵀ + b`; `<name>.weight` (out, in), `<name>.bias` (out).
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    w: Matrix,
    b: Option<Vec<f32>>,
    d_in: usize,
    d_out: usize,
}

impl Linear {
    /// Loads `<name>.weight` (and `<name>.bias` if `bias`).
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        name: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
    ) -> Result<Self, EngineError> {
        let w = ld.take_matrix(&format!("{name}.weight"), &[d_out, d_in])?;
        let b = if bias {
            Some(ld.take(&format!("{name}.bias"), &[d_out])?)
        } else {
            None
        };
        Ok(Self { w, b, d_in, d_out })
    }

    /// One token: y (out) = W·x (in) + b, f32 accumulation over f32 or f16 weights, written
    /// into `y`; no allocation.
    pub(crate) fn apply_one(&self, y: &mut [f32], x: &[f32]) {
        let b = self.b.as_deref();
        match self.w.view() {
            MatrixView::F32(w) => matvec(y, w, x, b, self.d_in, self.d_out),
            MatrixView::F16(w) => matvec(y, w, x, b, self.d_in, self.d_out),
        }
    }

    /// `nb` tokens, token i's input at `x[i·x_stride..]` (in) and output at `y[i·y_stride..]`
    /// (out): each exactly [`Self::apply_one`] on that token (on a Cortex-M the weights are read
    /// once per block of up to 4 tokens, [`qssm_kernels::ops::matvec::blocked`]); no allocation.
    pub(crate) fn apply_rows(
        &self,
        y: &mut [f32],
        y_stride: usize,
        x: &[f32],
        x_stride: usize,
        nb: usize,
    ) {
        let (b, d_in, d_out) = (self.b.as_deref(), self.d_in, self.d_out);
        match self.w.view() {
            MatrixView::F32(w) => linear_rows(y, y_stride, w, x, x_stride, b, d_in, d_out, nb),
            MatrixView::F16(w) => linear_rows(y, y_stride, w, x, x_stride, b, d_in, d_out, nb),
        }
    }

    /// Input width.
    pub(crate) fn d_in(&self) -> usize {
        self.d_in
    }

    /// Output width.
    pub(crate) fn d_out(&self) -> usize {
        self.d_out
    }
}

/// The reference's `RMSNorm(d)`: `<name>.weight` (d), eps inside the sqrt, no bias.
#[derive(Clone, Debug)]
pub(crate) struct RmsNorm {
    w: Vec<f32>,
    d: usize,
}

impl RmsNorm {
    /// Loads `<name>.weight`.
    pub(crate) fn load(ld: &mut Loader<'_, '_>, name: &str, d: usize) -> Result<Self, EngineError> {
        Ok(Self {
            w: ld.take(&format!("{name}.weight"), &[d])?,
            d,
        })
    }

    /// One token x (d) → y (d), written into `y`; no allocation. Same arithmetic as the
    /// window forward's LayerNorm (`qssm_kernels::ops::norm::layernorm_forward`).
    pub(crate) fn apply_one(&self, y: &mut [f32], x: &[f32]) {
        let mut rstd = [0.0f32; 1];
        rmsnorm_forward(y, &mut rstd, x, &self.w, 1, self.d, NORM_EPS);
    }
}

/// Causal depthwise `Conv1d(E, E, k, groups=E, padding=k−1)`, first L outputs:
/// `<name>.weight` (E, 1, k), `<name>.bias` (E).
#[derive(Clone, Debug)]
pub(crate) struct CausalConv {
    /// the weight tap-major, (k, E), for the streaming step
    wt: Vec<f32>,
    b: Vec<f32>,
    e: usize,
    k: usize,
}

impl CausalConv {
    /// Loads `<name>.weight`, `<name>.bias`.
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        name: &str,
        e: usize,
        k: usize,
    ) -> Result<Self, EngineError> {
        let w = ld.take(&format!("{name}.weight"), &[e, 1, k])?;
        let wt = (0..k * e).map(|i| w[(i % e) * k + i / e]).collect();
        Ok(Self {
            wt,
            b: ld.take(&format!("{name}.bias"), &[e])?,
            e,
            k,
        })
    }

    /// Floats of the recurrent state: the previous k−1 inputs, (k−1, E).
    pub(crate) fn state_len(&self) -> usize {
        (self.k - 1) * self.e
    }

    /// One token of time `t` (steps since the zero state): x (E) → y (E), updating the ring
    /// buffer `hist` ((k−1, E), [`conv1d_causal_step`]); no allocation. Bit-identical to
    /// the window forward (`conv1d_causal_forward`) at that time step.
    pub(crate) fn step(&self, y: &mut [f32], hist: &mut [f32], x: &[f32], t: u64) {
        conv1d_causal_step(y, hist, x, &self.wt, &self.b, t, self.e, self.k);
    }
}
