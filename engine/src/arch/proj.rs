//! A token-wise projection (rows, d_in) → (rows, d_out) of a Mamba block: `nn.Linear` without
//! bias, or the HQC Mamba's quantum projection QProj (spec hqc-mamba-and-quantum-train §3.4:
//! amplitude encoding, `StronglyEntanglingLayers`, marginal probabilities, ρ·γ·u + β), one
//! circuit per token, run by [`qssm_kernels::circuit::qproj::QProj::forward_in`] — the
//! trainer's own code — in f64 state vectors carved out of the caller's f32 scratch, so a
//! streamed token allocates nothing.
//!
//! Tensors of a projection `{name}`: `{name}.weight` (d_out, d_in) for a Linear one; for a
//! quantum one `{name}.weights` (L, n, 3) and, per the card's `architecture.qproj.affine`,
//! `{name}.gamma`, `{name}.beta` (d_out each for `per_output`, one each for `scalar`, none for
//! `none`).
use super::layers::Linear;
use super::statevec::{carve, carve_f64, f64_scratch_floats, scratch_floats, MAX_QUBITS};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use qssm_formats::model_file::QProjCard;
use qssm_kernels::circuit::qproj::{QProj, QProjBuffers};
use qssm_models::nn::proj::QProjOptions;

/// A Linear or quantum projection.
#[derive(Clone, Debug)]
pub(crate) enum Proj {
    /// `nn.Linear(d_in, d_out, bias=False)`
    Linear(Linear),
    /// QProj with its weights
    Quantum(Box<QuantumProj>),
}

/// QProj(d_in → d_out) and its parameters.
#[derive(Clone, Debug)]
pub(crate) struct QuantumProj {
    qp: QProj,
    /// circuit weights (L, n, 3)
    w: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Proj {
    /// The Linear projection `{name}.weight` (d_out, d_in) when `q` is `None`, else the quantum
    /// one with the card's options `q` (see the [module docs](self)). Errors: missing or
    /// misshapen tensors, an unknown affine, a circuit beyond [`MAX_QUBITS`] qubits.
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        name: &str,
        d_in: usize,
        d_out: usize,
        q: Option<&QProjCard>,
    ) -> Result<Self, EngineError> {
        let Some(q) = q else {
            return Ok(Self::Linear(Linear::load(ld, name, d_in, d_out, false)?));
        };
        let mismatch = |what: String| EngineError::Mismatch { what };
        let o = QProjOptions::from_card(q).map_err(mismatch)?;
        let affine = o.affine;
        if d_in == 0 || d_out == 0 {
            return Err(mismatch(format!(
                "{name}: a quantum projection needs inputs and outputs ({d_in} → {d_out})"
            )));
        }
        let qp = QProj::new(d_in, d_out, q.layers, affine, q.rescale);
        if qp.n > MAX_QUBITS {
            return Err(mismatch(format!(
                "{name}: {} qubits, more than the engine simulates ({MAX_QUBITS})",
                qp.n
            )));
        }
        let w = ld.take(&format!("{name}.weights"), &[q.layers, qp.n, 3])?;
        let k = affine.len(d_out);
        let (gamma, beta) = if k == 0 {
            (Vec::new(), Vec::new())
        } else {
            (
                ld.take(&format!("{name}.gamma"), &[k])?,
                ld.take(&format!("{name}.beta"), &[k])?,
            )
        };
        Ok(Self::Quantum(Box::new(QuantumProj { qp, w, gamma, beta })))
    }

    /// Output width.
    pub(crate) fn d_out(&self) -> usize {
        match self {
            Self::Linear(l) => l.d_out(),
            Self::Quantum(q) => q.qp.d_out,
        }
    }

    /// Floats of scratch [`Self::apply_rows`] needs: 0 for a Linear projection; a quantum
    /// one's state vector (2^n complex128), marginals (2^m), input and weights (f64).
    pub(crate) fn scratch_len(&self) -> usize {
        match self {
            Self::Linear(_) => 0,
            Self::Quantum(q) => {
                let (np, nq, nx, nw) = q.qp.buffer_lens();
                scratch_floats(np) + f64_scratch_floats(nq + nx + nw)
            }
        }
    }

    /// `nb` tokens, token i's input at `x[i·x_stride..]` (d_in) and output at
    /// `y[i·y_stride..]` (d_out); `scratch` ≥ [`Self::scratch_len`]. No allocation.
    pub(crate) fn apply_rows(
        &self,
        y: &mut [f32],
        y_stride: usize,
        x: &[f32],
        x_stride: usize,
        nb: usize,
        scratch: &mut [f32],
    ) {
        match self {
            Self::Linear(lin) => lin.apply_rows(y, y_stride, x, x_stride, nb),
            Self::Quantum(q) => {
                let (d_in, d_out) = (q.qp.d_in, q.qp.d_out);
                for i in 0..nb {
                    let yt = &mut y[i * y_stride..][..d_out];
                    q.one(yt, &x[i * x_stride..][..d_in], scratch);
                }
            }
        }
    }
}

impl QuantumProj {
    /// One token: x (d_in) → y (d_out), in `scratch`.
    fn one(&self, y: &mut [f32], x: &[f32], scratch: &mut [f32]) {
        let (np, nq, nx, nw) = self.qp.buffer_lens();
        let (sp, rest) = scratch.split_at_mut(scratch_floats(np));
        let psi = carve(sp, np);
        let reals = carve_f64(rest, nq + nx + nw);
        let (q, rest) = reals.split_at_mut(nq);
        let (xb, wb) = rest.split_at_mut(nx);
        let b = QProjBuffers {
            psi,
            q,
            x: xb,
            w: wb,
        };
        self.qp
            .forward_in(x, &self.w, &self.gamma, &self.beta, y, b);
    }
}
