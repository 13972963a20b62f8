//! Selective SSM (Mamba S6) for inference, in the reference's two flavours:
//!
//! * `MambaSelectiveSSM` of `models/QuantumSSM.py` (1b, 1c; spec §3.3): names under
//!   `<block>.ssm.` (1b) or `<block>.bidirectional_ssm.{forward,backward}_ssm.` (1c), `A_log` (N) shared by all channels, dt_rank R = E/16, an extra
//!   `out_proj` (E → E, no bias) on the scan output;
//! * `SelectiveSSM` of `models/TrueClassicalMamba.py` (3b; spec §3.6): `x_proj` named
//!   `<block>.x_proj`, `A_log` (E, N), R = ⌈D/16⌉, no out_proj.
//!
//! Both: p = x_proj(x) split [δ (R) | B (N) | C (N)], Δ = softplus(dt_proj(δ)), then the
//! scan with A = −exp(A_log) (computed once at load), here in its streaming form
//! ([`SelectiveSsm::step_rows`]): token by token with
//! [`qssm_kernels::ops::scan::scan_step_transposed`] updating the state in place (Mamba paper
//! §3.3 / `selective_state_update`), no allocation. The streaming state is stored
//! **transposed, (N, E)** (with A transposed at load), so the step runs as vertical SIMD over
//! the E channels; it agrees with the window forward (`qssm_kernels::ops::scan::scan_forward`,
//! the shared description's) to rounding.
use super::layers::Linear;
use super::proj::Proj;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec::Vec;
use qssm_formats::model_file::QProjCard;
use qssm_kernels::ops::activation::softplus_forward;
use qssm_kernels::ops::scan::{scan_step_transposed, ScanDims};

/// One selective SSM over E channels with state size N.
#[derive(Clone, Debug)]
pub(crate) struct SelectiveSsm {
    x_proj: Proj,
    dt_proj: Linear,
    /// A for the streaming step: (N) shared, or the transpose (N, E)
    a_t: Vec<f32>,
    /// skip weights D (E)
    d_skip: Vec<f32>,
    out_proj: Option<Linear>,
    dims: ScanDims,
    r: usize,
}

impl SelectiveSsm {
    /// 1b's SSM of block `prefix` (e.g. `mamba_layers.0`): tensors `<prefix>.ssm.{A_log (N), D (E),
    /// x_proj.weight (R+2N, E), dt_proj.weight (E, R), dt_proj.bias (E), out_proj.weight (E, E)}`,
    /// R = E/16.
    pub(crate) fn load_quantum_ssm(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        e: usize,
        n: usize,
    ) -> Result<Self, EngineError> {
        Self::load_quantum_ssm_module(ld, &format!("{prefix}.ssm"), e, n)
    }

    /// A `MambaSelectiveSSM` (QuantumSSM.py flavour) registered under the module name
    /// `module` (1b: `mamba_layers.0.ssm`; 1c: `hydra_layers.0.bidirectional_ssm.forward_ssm`):
    /// tensors `<module>.{A_log (N), D (E), x_proj.weight (R+2N, E), dt_proj.weight (E, R),
    /// dt_proj.bias (E), out_proj.weight (E, E)}`, R = E/16.
    pub(crate) fn load_quantum_ssm_module(
        ld: &mut Loader<'_, '_>,
        module: &str,
        e: usize,
        n: usize,
    ) -> Result<Self, EngineError> {
        let r = e / 16;
        let a_log = ld.take(&format!("{module}.A_log"), &[n])?;
        let d_skip = ld.take(&format!("{module}.D"), &[e])?;
        let x_proj = Proj::Linear(Linear::load(
            ld,
            &format!("{module}.x_proj"),
            e,
            r + 2 * n,
            false,
        )?);
        let dt_proj = Linear::load(ld, &format!("{module}.dt_proj"), r, e, true)?;
        let out_proj = Some(Linear::load(
            ld,
            &format!("{module}.out_proj"),
            e,
            e,
            false,
        )?);
        Ok(Self::assemble(
            x_proj,
            dt_proj,
            &a_log,
            d_skip,
            out_proj,
            ScanDims {
                l: 0,
                e,
                n,
                a_row_stride: 0,
                dt_on_b: true,
            },
            r,
        ))
    }

    /// 3b's SSM of block `prefix` (e.g. `layers.0`): tensors `<prefix>.x_proj.weight (R+2N, E)`
    /// (or the HQC Mamba's quantum `x_proj` with the card's options `q`, [`Proj`]),
    /// `<prefix>.ssm.{A_log (E, N), D (E), dt_proj.weight (E, R), dt_proj.bias (E)}`,
    /// R = ⌈d_model/16⌉.
    pub(crate) fn load_true_classical(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        (d_model, e, n): (usize, usize, usize),
        q: Option<&QProjCard>,
    ) -> Result<Self, EngineError> {
        let r = d_model.div_ceil(16);
        let x_proj = Proj::load(ld, &format!("{prefix}.x_proj"), e, r + 2 * n, q)?;
        let a_log = ld.take(&format!("{prefix}.ssm.A_log"), &[e, n])?;
        let d_skip = ld.take(&format!("{prefix}.ssm.D"), &[e])?;
        let dt_proj = Linear::load(ld, &format!("{prefix}.ssm.dt_proj"), r, e, true)?;
        Ok(Self::assemble(
            x_proj,
            dt_proj,
            &a_log,
            d_skip,
            None,
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
        x_proj: Proj,
        dt_proj: Linear,
        a_log: &[f32],
        d_skip: Vec<f32>,
        out_proj: Option<Linear>,
        dims: ScanDims,
        r: usize,
    ) -> Self {
        let a: Vec<f32> = a_log.iter().map(|v| -libm::expf(*v)).collect();
        let (e, n) = (dims.e, dims.n);
        let a_t = if dims.a_row_stride == 0 {
            a
        } else {
            (0..n * e).map(|i| a[(i % e) * n + i / e]).collect()
        };
        Self {
            x_proj,
            dt_proj,
            a_t,
            d_skip,
            out_proj,
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
        nb * (self.r + 2 * n + e) + 2 * e + self.x_proj.scratch_len()
    }

    /// `nb` consecutive tokens, in place: token i's input x (E) at `xy[i·stride..]` is replaced
    /// by its output y (E); the state `h` (N, E) — transposed — advances token by token;
    /// `scratch` ≥ [`Self::rows_scratch_len`]. `x_proj` and `dt_proj` run over all the tokens
    /// at once ([`Proj::apply_rows`]), the scan token by token. No allocation. Each token's
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
        let (ys, pscratch) = rest.split_at_mut(e);
        self.x_proj.apply_rows(xdbl, w, xy, stride, nb, pscratch);
        // dt_proj's pre-activations for all the tokens (δ: the first R of each x_proj row)
        self.dt_proj.apply_rows(pre, e, xdbl, w, nb);
        for (i, (row, pre)) in xdbl.chunks_exact(w).zip(pre.chunks_exact(e)).enumerate() {
            let (bm, cm) = row[r..].split_at(n);
            // Δ = softplus(dt_proj(δ))
            softplus_forward(delta, pre);
            let x = &mut xy[i * stride..][..e];
            scan_step_transposed(ys, h, x, delta, &self.a_t, bm, cm, &self.d_skip, self.dims);
            match &self.out_proj {
                None => x.copy_from_slice(ys),
                Some(op) => op.apply_one(x, ys),
            }
        }
    }
}
