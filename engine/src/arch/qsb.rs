//! `QuantumSuperpositionBranches`, QSSM flavour (reference `models/QuantumSSM.py`, spec §2.3),
//! for inference: three unified-ansatz circuits on Q qubits sharing the RY data encoding
//! e = tanh(input_proj(s))·π (π as f32), raw angles θ_k = proj_k(s) (K = 5·Q·layers), output
//! `concat(|ᾱ|·m₁, |β̄|·m₂, |γ̄|·m₃)` (9Q values) with |c̄| = |c|/√(|α|²+|β|²+|γ|²+1e-8) in f32
//! (computed once at load). Expectation values are f64 from
//! [`qssm_kernels::circuit::circuit_forward`]; the weighted product is f64, cast to f32 (the
//! reference's `.float()`).
use super::layers::Linear;
use super::statevec::{self, MAX_QUBITS};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use qssm_kernels::circuit::{circuit_forward, Program};
use qssm_kernels::ops::activation::tanh_forward;

const PI_F32: f32 = core::f32::consts::PI;
const NORM_EPS: f32 = 1e-8;

/// The branch block over chunk summaries of width F.
#[derive(Clone, Debug)]
pub(crate) struct QsbQssm {
    /// |ᾱ|, |β̄|, |γ̄|
    w: [f32; 3],
    proj: [Linear; 3],
    input_proj: Linear,
    program: Program,
    q: usize,
    k: usize,
}

impl QsbQssm {
    /// Loads `<prefix>{alpha,beta,gamma}_{real,imag}` (1), `<prefix>proj{1,2,3}.{weight (K, F),
    /// bias (K)}`, `<prefix>input_proj.{weight (Q, F), bias (Q)}`. The caller checks
    /// 2 ≤ Q ≤ 12 and that K fits the circuit program.
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        f: usize,
        q: usize,
        n_layers: usize,
    ) -> Result<Self, EngineError> {
        let mut mags = [0.0f32; 3];
        for (m, c) in mags.iter_mut().zip(["alpha", "beta", "gamma"]) {
            let re = ld.take(&format!("{prefix}{c}_real"), &[1])?[0];
            let im = ld.take(&format!("{prefix}{c}_imag"), &[1])?[0];
            *m = libm::sqrtf(re * re + im * im);
        }
        let norm = libm::sqrtf(mags.iter().map(|a| a * a).sum::<f32>() + NORM_EPS);
        let k = 5 * q * n_layers;
        let proj = [
            Linear::load(ld, &format!("{prefix}proj1"), f, k, true)?,
            Linear::load(ld, &format!("{prefix}proj2"), f, k, true)?,
            Linear::load(ld, &format!("{prefix}proj3"), f, k, true)?,
        ];
        let input_proj = Linear::load(ld, &format!("{prefix}input_proj"), f, q, true)?;
        let program = Program::unified_ansatz(q, n_layers, true);
        Ok(Self {
            w: mags.map(|a| a / norm),
            proj,
            input_proj,
            program,
            q,
            k,
        })
    }

    /// Output width 9Q.
    pub(crate) fn out_dim(&self) -> usize {
        9 * self.q
    }

    /// Floats of scratch [`Self::apply_one`] needs: encoding pre-activations and angles (2Q),
    /// θ (K), a state vector.
    pub(crate) fn scratch_len(&self) -> usize {
        2 * self.q + self.k + statevec::scratch_floats(self.program.state_len())
    }

    /// One chunk summary s (F) → `out` (9Q), laid out as a row of the window forward's branch
    /// output; `scratch` ≥ [`Self::scratch_len`]. The circuits run from the [`Program`] built
    /// at load; no allocation (projections as matrix–vector products).
    pub(crate) fn apply_one(&self, out: &mut [f32], s: &[f32], scratch: &mut [f32]) {
        let q = self.q;
        let (pre, rest) = scratch.split_at_mut(q);
        let (enc, rest) = rest.split_at_mut(q);
        let (theta, rest) = rest.split_at_mut(self.k);
        let psi = statevec::carve(rest, self.program.state_len());
        self.input_proj.apply_one(pre, s);
        tanh_forward(enc, pre);
        enc.iter_mut().for_each(|v| *v *= PI_F32);
        let mut m = [0.0f64; 3 * MAX_QUBITS];
        for (b, row) in out[..9 * q].chunks_exact_mut(3 * q).enumerate() {
            self.proj[b].apply_one(theta, s);
            circuit_forward(&self.program, theta, enc, psi, &mut m[..3 * q]);
            for (o, mv) in row.iter_mut().zip(&m) {
                *o = (self.w[b] as f64 * mv) as f32;
            }
        }
    }
}
