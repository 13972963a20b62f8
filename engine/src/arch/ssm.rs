//! Selective SSM (Mamba S6) for inference, the `SelectiveSSM` of
//! `models/TrueClassicalMamba.py` (3b; spec §3.6): `x_proj` named
//! `<block>.x_proj`, `A_log` (E, N), dt_rank R = ⌈D/16⌉.
//!
//! p = x_proj(x) split [δ (R) | B (N) | C (N)], Δ = softplus(dt_proj(δ)), then the scan with
//! A = −exp(A_log) (computed once at load), here in its streaming form
//! ([`SelectiveSsm::step_rows`]): token by token with
//! [`qssm_kernels::ops::scan::scan_step_transposed`] updating the state in place (Mamba paper
//! §3.3 / `selective_state_update`), no allocation. The streaming state is stored
//! **transposed, (N, E)** (with A transposed at load), so the step runs as vertical SIMD over
//! the E channels; it agrees with the window forward (`qssm_kernels::ops::scan::scan_forward`,
//! the shared description's) to rounding.
use super::layers::Linear;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec::Vec;
use qssm_kernels::ops::activation::softplus_forward;
use qssm_kernels::ops::scan::{scan_step_transposed, ScanDims};

/// One selective SSM over E channels with state size N.
#[derive(Clone, Debug)]
pub(crate) struct SelectiveSsm {
    x_proj: Linear,
    dt_proj: Linear,
    /// A for the streaming step, transposed (N, E)
    a_t: Vec<f32>,
    /// skip weights D (E)
    d_skip: Vec<f32>,
    dims: ScanDims,
    r: usize,
}

impl SelectiveSsm {
    /// 3b's SSM of block `prefix` (e.g. `layers.0`): tensors `<prefix>.x_proj.weight (R+2N, E)`
    /// `<prefix>.ssm.{A_log (E, N), D (E), dt_proj.weight (E, R), dt_proj.bias (E)}`,
    /// R = ⌈d_model/16⌉.
    pub(crate) fn load_true_classical(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        (d_model, e, n): (usize, usize, usize),
    ) -> Result<Self, EngineError> {
        let r = d_model.div_ceil(16);
        let x_proj = Linear::load(ld, &format!("{prefix}.x_proj"), e, r + 2 * n, false)?;
        let a_log = ld.take(&format!("{prefix}.ssm.A_log"), &[e, n])?;
        let d_skip = ld.take(&format!("{prefix}.ssm.D"), &[e])?;
        let dt_proj = Linear::load(ld, &format!("{prefix}.ssm.dt_proj"), r, e, true)?;
        Ok(Self::assemble(
            x_proj,
            dt_proj,
            &a_log,
            d_skip,
            ScanDims {
                l: 0,
                e,
                n,
                a_row_stride: n,
                dt_on_b: true,
            },
            r,
        ))
    }

    fn assemble(
        x_proj: Linear,
        dt_proj: Linear,
        a_log: &[f32],
        d_skip: Vec<f32>,
        dims: ScanDims,
        r: usize,
    ) -> Self {
        let a: Vec<f32> = a_log.iter().map(|v| -libm::expf(*v)).collect();
        let (e, n) = (dims.e, dims.n);
        let a_t = (0..n * e).map(|i| a[(i % e) * n + i / e]).collect();
        Self {
            x_proj,
            dt_proj,
            a_t,
            d_skip,
            dims,
            r,
        }
    }

    /// E·N, the size of one state.
    pub(crate) fn state_len(&self) -> usize {
        self.dims.e * self.dims.n
    }

    /// Floats of scratch [`Self::step_rows`] needs for `nb` tokens: x_proj outputs (nb, R+2N),
    /// dt_proj outputs (nb, E), Δ (E), the scan output (E) and a quantum `x_proj`'s own.
    pub(crate) fn rows_scratch_len(&self, nb: usize) -> usize {
        let (e, n) = (self.dims.e, self.dims.n);
        nb * (self.r + 2 * n + e) + 2 * e
    }

    /// `nb` consecutive tokens, in place: token i's input x (E) at `xy[i·stride..]` is replaced
    /// by its output y (E); the state `h` (N, E) — transposed — advances token by token;
    /// `scratch` ≥ [`Self::rows_scratch_len`]. `x_proj` and `dt_proj` run over all the tokens
    /// at once ([`Linear::apply_rows`]), the scan token by token. No allocation. Each token's
    /// output is one [`scan_step_transposed`] step, bit for bit whatever `nb`.
    pub(crate) fn step_rows(
        &self,
        xy: &mut [f32],
        stride: usize,
        nb: usize,
        h: &mut [f32],
        scratch: &mut [f32],
    ) {
        let (e, n, r) = (self.dims.e, self.dims.n, self.r);
        let w = r + 2 * n;
        let (xdbl, rest) = scratch.split_at_mut(nb * w);
        let (pre, rest) = rest.split_at_mut(nb * e);
        let (delta, rest) = rest.split_at_mut(e);
        let ys = &mut rest[..e];
        self.x_proj.apply_rows(xdbl, w, xy, stride, nb);
        // dt_proj's pre-activations for all the tokens (δ: the first R of each x_proj row)
        self.dt_proj.apply_rows(pre, e, xdbl, w, nb);
        for (i, (row, pre)) in xdbl.chunks_exact(w).zip(pre.chunks_exact(e)).enumerate() {
            let (bm, cm) = row[r..].split_at(n);
            // Δ = softplus(dt_proj(δ))
            softplus_forward(delta, pre);
            let x = &mut xy[i * stride..][..e];
            scan_step_transposed(ys, h, x, delta, &self.a_t, bm, cm, &self.d_skip, self.dims);
            x.copy_from_slice(ys);
        }
    }
}
