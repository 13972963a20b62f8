//! Inference-only layers over owned f32 weights, each a thin wrapper of a
//! [`qssm_kernels::ops`] forward op (the math lives there). Token-major `(L, width)` rows.
//! Source: the trainer's `models/blocks/{linear,norm,conv,pool}.rs` (reference PyTorch
//! `nn.Linear`, `nn.LayerNorm`, the repo's `RMSNorm`, depthwise causal `nn.Conv1d`).
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use qssm_kernels::ops::conv1d::conv1d_causal_forward;
use qssm_kernels::ops::linear::linear_forward;
use qssm_kernels::ops::norm::{layernorm_forward, rmsnorm_forward};

/// eps of every LayerNorm/RMSNorm of the reference.
const NORM_EPS: f32 = 1e-5;

/// `nn.Linear`: `y (L, out) = x (L, in)·Wᵀ + b`; `<name>.weight` (out, in), `<name>.bias` (out).
#[derive(Clone, Debug)]
pub(crate) struct Linear {
    w: Vec<f32>,
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
        let w = ld.take(&format!("{name}.weight"), &[d_out, d_in])?;
        let b = if bias {
            Some(ld.take(&format!("{name}.bias"), &[d_out])?)
        } else {
            None
        };
        Ok(Self { w, b, d_in, d_out })
    }

    /// x (L, in) → new (L, out).
    pub(crate) fn apply(&self, x: &[f32], l: usize) -> Vec<f32> {
        let mut y = vec![0.0; l * self.d_out];
        linear_forward(
            &mut y,
            x,
            &self.w,
            self.b.as_deref(),
            l,
            self.d_in,
            self.d_out,
        );
        y
    }
}

/// `nn.LayerNorm(d)`: `<name>.weight`, `<name>.bias` (d).
#[derive(Clone, Debug)]
pub(crate) struct LayerNorm {
    w: Vec<f32>,
    b: Vec<f32>,
    d: usize,
}

impl LayerNorm {
    /// Loads `<name>.weight`, `<name>.bias`.
    pub(crate) fn load(ld: &mut Loader<'_, '_>, name: &str, d: usize) -> Result<Self, EngineError> {
        Ok(Self {
            w: ld.take(&format!("{name}.weight"), &[d])?,
            b: ld.take(&format!("{name}.bias"), &[d])?,
            d,
        })
    }

    /// x (L, d) → new (L, d).
    pub(crate) fn apply(&self, x: &[f32], l: usize) -> Vec<f32> {
        let mut y = vec![0.0; l * self.d];
        let (mut mean, mut rstd) = (vec![0.0; l], vec![0.0; l]);
        layernorm_forward(
            &mut y, &mut mean, &mut rstd, x, &self.w, &self.b, l, self.d, NORM_EPS,
        );
        y
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

    /// x (L, d) → new (L, d).
    pub(crate) fn apply(&self, x: &[f32], l: usize) -> Vec<f32> {
        let mut y = vec![0.0; l * self.d];
        let mut rstd = vec![0.0; l];
        rmsnorm_forward(&mut y, &mut rstd, x, &self.w, l, self.d, NORM_EPS);
        y
    }
}

/// Causal depthwise `Conv1d(E, E, k, groups=E, padding=k−1)`, first L outputs:
/// `<name>.weight` (E, 1, k), `<name>.bias` (E).
#[derive(Clone, Debug)]
pub(crate) struct CausalConv {
    w: Vec<f32>,
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
        Ok(Self {
            w: ld.take(&format!("{name}.weight"), &[e, 1, k])?,
            b: ld.take(&format!("{name}.bias"), &[e])?,
            e,
            k,
        })
    }

    /// x (L, E) → new (L, E).
    pub(crate) fn apply(&self, x: &[f32], l: usize) -> Vec<f32> {
        let mut y = vec![0.0; l * self.e];
        conv1d_causal_forward(&mut y, x, &self.w, &self.b, l, self.e, self.k);
        y
    }
}

/// Mean over the sequence (`.mean(dim=1)` / `AdaptiveAvgPool1d(1)`): x (L, D) → (D).
/// Summed row by row in f32, then scaled by 1/L (the trainer's order).
pub(crate) fn mean_over_rows(x: &[f32], l: usize, d: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; d];
    for row in x.chunks_exact(d).take(l) {
        y.iter_mut().zip(row).for_each(|(a, b)| *a += b);
    }
    let inv = 1.0 / l as f32;
    y.iter_mut().for_each(|v| *v *= inv);
    y
}
