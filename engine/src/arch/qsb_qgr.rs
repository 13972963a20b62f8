//! `QuantumSuperpositionBranches`, QGR flavour (reference `models/QuantumGatedRecurrence.py`,
//! spec gated-and-protocols §1.3–1.4), for inference in the gated models `mg` and `hg`: three
//! circuits without data encoding whose angles are θ_k = 2π·σ(proj_k(s) + base_params_k)
//! (K = `program.n_theta`), expectation values m_k (f64 from
//! [`qssm_kernels::circuit::circuit_forward`]) cast to f32, and the output
//! `|ᾱ·m₁ + β̄·m₂ + γ̄·m₃|` (3n values, elementwise complex modulus, ≥ 0) with
//! c̄ = c/√(|α|²+|β|²+|γ|²+1e-9) (computed once at load). n qubits, F input width.
//!
//! The streaming mode ([`QsbQgr::apply_one`]: one input, everything in caller scratch, the
//! circuit run from the [`Program`] built at load, no allocation); a window runs the model's
//! shared description.
use super::layers::Linear;
use super::statevec::{self, MAX_QUBITS};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec::Vec;
use num_complex::Complex64;
use qssm_kernels::circuit::{circuit_forward, Program};

const TWO_PI_F32: f32 = 2.0 * core::f32::consts::PI;
const NORM_EPS: f32 = 1e-9;

/// The QGR-flavour branch block over inputs of width F.
#[derive(Clone, Debug)]
pub(crate) struct QsbQgr {
    /// c̄ = (re, im) of ᾱ, β̄, γ̄
    cbar: [(f32, f32); 3],
    proj: [Linear; 3],
    /// `branch{1,2,3}.base_params` (K each)
    base: [Vec<f32>; 3],
    program: Program,
    /// n qubits
    q: usize,
    /// K angles per circuit
    k: usize,
}

impl QsbQgr {
    /// Loads `<prefix>{alpha,beta,gamma}_{real,imag}` (1), `<prefix>proj{1,2,3}.{weight (K, F),
    /// bias (K)}`, `<prefix>branch{1,2,3}.base_params` (K) for the circuit `program` (no
    /// encoding gates; the caller checks 2 ≤ n ≤ [`MAX_QUBITS`]).
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        f: usize,
        program: Program,
    ) -> Result<Self, EngineError> {
        let mut raw = [(0.0f32, 0.0f32); 3];
        for (r, c) in raw.iter_mut().zip(["alpha", "beta", "gamma"]) {
            r.0 = ld.take(&format!("{prefix}{c}_real"), &[1])?[0];
            r.1 = ld.take(&format!("{prefix}{c}_imag"), &[1])?[0];
        }
        // the trainer's order: Σ over (α, β, γ) of re² + im², then + ε, then √
        let norm = libm::sqrtf(raw.iter().map(|(r, i)| r * r + i * i).sum::<f32>() + NORM_EPS);
        let k = program.n_theta;
        let proj = [
            Linear::load(ld, &format!("{prefix}proj1"), f, k, true)?,
            Linear::load(ld, &format!("{prefix}proj2"), f, k, true)?,
            Linear::load(ld, &format!("{prefix}proj3"), f, k, true)?,
        ];
        let base = [
            ld.take(&format!("{prefix}branch1.base_params"), &[k])?,
            ld.take(&format!("{prefix}branch2.base_params"), &[k])?,
            ld.take(&format!("{prefix}branch3.base_params"), &[k])?,
        ];
        Ok(Self {
            cbar: raw.map(|(r, i)| (r / norm, i / norm)),
            proj,
            base,
            q: program.n_qubits,
            k,
            program,
        })
    }

    /// Output width 3n.
    pub(crate) fn out_dim(&self) -> usize {
        3 * self.q
    }

    /// Floats of scratch [`Self::apply_one`] needs: θ (K) and a state vector.
    pub(crate) fn scratch_len(&self) -> usize {
        self.k + statevec::scratch_floats(self.program.state_len())
    }

    /// One input s (F) → `out` (3n); `scratch` ≥ [`Self::scratch_len`]. No allocation (the
    /// projections as matrix–vector products).
    pub(crate) fn apply_one(&self, out: &mut [f32], s: &[f32], scratch: &mut [f32]) {
        let (theta, rest) = scratch.split_at_mut(self.k);
        let psi = statevec::carve(rest, self.program.state_len());
        let fill = |b: usize, th: &mut [f32]| self.proj[b].apply_one(th, s);
        self.combine(fill, &mut out[..self.out_dim()], theta, psi);
    }

    /// One row: for each branch b, `fill(b, θ)` writes proj_b(s) (K) into θ, then θ ←
    /// 2π·σ(θ + base_b), the circuit runs and its expectation values (cast to f32) enter
    /// re/im with c̄_b; `out` (3n) = √(re² + im²). The trainer's order of operations.
    fn combine(
        &self,
        mut fill: impl FnMut(usize, &mut [f32]),
        out: &mut [f32],
        theta: &mut [f32],
        psi: &mut [Complex64],
    ) {
        let w = self.out_dim();
        let mut m64 = [0.0f64; 3 * MAX_QUBITS];
        let (mut re, mut im) = ([0.0f32; 3 * MAX_QUBITS], [0.0f32; 3 * MAX_QUBITS]);
        for (b, &(cr, ci)) in self.cbar.iter().enumerate() {
            fill(b, theta);
            for (t, &bb) in theta.iter_mut().zip(&self.base[b]) {
                let sig = 1.0 / (1.0 + libm::expf(-(*t + bb)));
                *t = sig * TWO_PI_F32;
            }
            circuit_forward(&self.program, theta, &[], psi, &mut m64[..w]);
            for ((r, i), &mv) in re.iter_mut().zip(im.iter_mut()).zip(&m64[..w]) {
                let mv = mv as f32;
                *r += cr * mv;
                *i += ci * mv;
            }
        }
        for ((o, &r), &i) in out.iter_mut().zip(&re[..w]).zip(&im[..w]) {
            *o = libm::sqrtf(r * r + i * i);
        }
    }
}
