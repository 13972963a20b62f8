//! Mamba block for inference, the `MambaBlock` of `models/TrueClassicalMamba.py` (3b; spec
//! §3.6):
//!
//! `v = RMSNorm(u); x ‖ z = in_proj(v); x = SiLU(conv1d(x)); y = SSM(x); out = out_proj(y ⊙ SiLU(z)) + u`
//!
//! with u, out (L, D), x, z, y (L, E), causal depthwise conv of width 4
//! ([`SelectiveSsm::load_true_classical`]).
//!
//! Recurrent mode ([`MambaBlock::step_rows`], streaming; `mamba_simple.py:step()`): tokens in
//! order, a few at a time, with per-block state = conv ring buffer (3, E) + SSM state (N, E)
//! (transposed for the vectorised step).
use super::layers::{CausalConv, Linear, RmsNorm};
use super::ssm::SelectiveSsm;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use qssm_kernels::ops::activation::silu_forward;

/// Kernel width of the depthwise conv (`d_conv` = 4 in both reference files).
const D_CONV: usize = 4;

/// One Mamba block over width D with inner width E = 2·D and state size N.
#[derive(Clone, Debug)]
pub(crate) struct MambaBlock {
    norm: RmsNorm,
    in_proj: Linear,
    conv: CausalConv,
    ssm: SelectiveSsm,
    out_proj: Linear,
    e: usize,
}

impl MambaBlock {
    /// 3b's `layers.i` (prefix): `norm.weight` (D), `in_proj` (D → 2E), `x_proj`,
    /// `conv1d.weight` (E, 1, 4), `conv1d.bias` (E), `ssm.*`, `out_proj` (E → D); the
    /// projections Linear (`*.weight`, no bias).
    pub(crate) fn load_true_classical(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        (d, e, n): (usize, usize, usize),
    ) -> Result<Self, EngineError> {
        let norm = RmsNorm::load(ld, &format!("{prefix}.norm"), d)?;
        let in_proj = Linear::load(ld, &format!("{prefix}.in_proj"), d, 2 * e, false)?;
        let conv = CausalConv::load(ld, &format!("{prefix}.conv1d"), e, D_CONV)?;
        let ssm = SelectiveSsm::load_true_classical(ld, prefix, (d, e, n))?;
        let out_proj = Linear::load(ld, &format!("{prefix}.out_proj"), e, d, false)?;
        Ok(Self {
            norm,
            in_proj,
            conv,
            ssm,
            out_proj,
            e,
        })
    }

    /// Floats of recurrent state [`Self::step_rows`] keeps per block: conv history (3, E), then the
    /// SSM state stored transposed, (N, E).
    pub(crate) fn step_state_len(&self) -> usize {
        self.conv.state_len() + self.ssm.state_len()
    }

    /// Floats of scratch [`Self::step_rows`] needs for `nb` tokens: the normalised input
    /// (nb, D) (later the block output), x ‖ z (nb, 2E), the conv output (E), then the SSM's.
    pub(crate) fn rows_scratch_len(&self, nb: usize) -> usize {
        let (d, e) = (self.out_proj.d_out(), self.e);
        nb * (d + 2 * e) + e + self.ssm.rows_scratch_len(nb)
    }

    /// `nb` consecutive tokens of times t0, t0 + 1, … (steps since the zero state): `u`
    /// (nb, D), token-major, holds the block inputs and becomes the outputs (`u + out` with the
    /// residual, `out` without); `state` (length [`Self::step_state_len`]) advances token by
    /// token; `scratch` ≥ [`Self::rows_scratch_len`]. The projections (`in_proj`, the SSM's
    /// `x_proj`/`dt_proj`, `out_proj`) run over all the tokens at once, the conv and the scan
    /// token by token. No allocation. Each token gets the same math as the block's window
    /// forward at its time step, and the same floats whatever `nb` (one call with nb = 4 or
    /// four with nb = 1).
    pub(crate) fn step_rows(
        &self,
        u: &mut [f32],
        nb: usize,
        state: &mut [f32],
        t0: u64,
        scratch: &mut [f32],
    ) {
        let (d, e) = (self.out_proj.d_out(), self.e);
        let (hist, h) = state.split_at_mut(self.conv.state_len());
        let (v, rest) = scratch.split_at_mut(nb * d);
        let (xz, rest) = rest.split_at_mut(nb * 2 * e);
        let (cv, ssm_scratch) = rest.split_at_mut(e);
        for (vt, ut) in v.chunks_exact_mut(d).zip(u.chunks_exact(d)) {
            self.norm.apply_one(vt, ut);
        }
        self.in_proj.apply_rows(xz, 2 * e, v, d, nb);
        // x ← SiLU(conv1d(x)) token by token (the conv's ring buffer advances)
        for (i, row) in xz.chunks_exact_mut(2 * e).enumerate() {
            let x = &mut row[..e];
            self.conv.step(cv, hist, x, t0 + i as u64);
            silu_forward(x, cv);
        }
        // x ← SSM(x), then the gate x ← SiLU(z) ⊙ x
        self.ssm.step_rows(xz, 2 * e, nb, h, ssm_scratch);
        for row in xz.chunks_exact_mut(2 * e) {
            let (x, z) = row.split_at_mut(e);
            silu_forward(cv, z);
            x.iter_mut().zip(cv.iter()).for_each(|(g, s)| *g *= s);
        }
        self.out_proj.apply_rows(v, d, xz, 2 * e, nb);
        u.iter_mut().zip(v.iter()).for_each(|(o, x)| *o += x);
    }
}
