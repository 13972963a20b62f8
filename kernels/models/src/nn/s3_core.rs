//! The S3 superposition core of 2d/2e and 4d/4e, written once over the backend (spec
//! groups-2-4 §2.3; reference `QuantumSuperpositionCore` of `models/QuantumHydraSSM.py` and
//! `models/QuantumE2E_Superposition.py`): three branch circuits over every row, their angles
//! Δ-modulated ([`Infer::scale_segments`] by the row's dt), the final states mixed with the
//! core's complex coefficients α, β, γ and measured once ([`Infer::s3_measure`]).
//!
//! Rows R = B·nc chunk summaries. Per branch k: θ_k = scale(raw_k; dt) (R, K_k) and encodings
//! e_k (R, n_enc of program k) → ψ_k; q = M(S3(ψ₁, ψ₂, ψ₃)) (R, 3Q). The backward runs
//! [`Backend::s3_measure_bwd`] and, per branch, the adjoint [`Backend::circuit_bwd_state`] and
//! the backward of the Δ-modulation. Where the raw angles and the encodings come from is the
//! model's business (2d/2e: one projection per branch, the shared RY encoding; 4d/4e: a shared
//! feature block before each branch's mixing block, and the injected input).
use crate::prelude::*;
use qssm_kernels::backend::{circuit_state_words, Backend, Infer, Segment};
use qssm_kernels::circuit::Program;

/// One S3 core: the three branch programs, how their angles are Δ-modulated, and where its
/// six coefficients (`{core}.{alpha,beta,gamma}_{real,imag}`) start in the layout.
#[derive(Clone, Debug)]
pub struct S3Core {
    programs: [Program; 3],
    segs: [Vec<Segment>; 3],
    coeffs: usize,
}

/// Planned buffers of one core for R rows.
pub struct S3Acts<B: Infer> {
    theta: [B::Buf; 3],
    states: [B::Buf; 3],
    /// the core's output q (R, 3Q)
    pub m: B::Buf,
    /// expectation values of the single branches (not used: the core measures the mix)
    scratch_m: B::Buf,
    gstates: [B::Buf; 3],
    dtheta: B::Buf,
    /// ∂L/∂raw_k (R, K_k), written by [`S3Core::backward`]
    pub draw: [B::Buf; 3],
    /// ∂L/∂e_k (R, n_enc of program k), written by [`S3Core::backward`]
    pub denc: [B::Buf; 3],
}

impl S3Core {
    /// A core of the three branch `programs`, their Δ-modulation `segs` (over each program's
    /// θ) and the start of the six coefficients.
    ///
    /// # Panics
    /// If the programs differ in qubit count or θ length (a programming error of the model).
    pub fn new(programs: [Program; 3], segs: [Vec<Segment>; 3], coeffs: usize) -> Self {
        assert!(
            programs
                .iter()
                .all(|p| p.n_qubits == programs[0].n_qubits && p.n_theta == programs[0].n_theta),
            "S3Core: the three branches must share Q and the θ length"
        );
        Self {
            programs,
            segs,
            coeffs,
        }
    }

    /// Buffers for `rows` rows (shape (B, nc, ·) with `rows` = (B, nc)).
    pub fn plan<B: Infer>(&self, be: &B, rows: [usize; 2]) -> S3Acts<B> {
        let [b, nc] = rows;
        let s = |w: usize| be.alloc(&[b, nc, w]);
        let q = self.programs[0].n_qubits;
        let sw = circuit_state_words(q);
        S3Acts {
            theta: self.programs.each_ref().map(|p| s(p.n_theta)),
            states: [0; 3].map(|_| s(sw)),
            m: s(3 * q),
            scratch_m: s(3 * q),
            gstates: [0; 3].map(|_| s(sw)),
            dtheta: s(self.programs[0].n_theta),
            draw: self.programs.each_ref().map(|p| s(p.n_theta)),
            denc: self.programs.each_ref().map(|p| s(p.n_enc.max(1))),
        }
    }

    /// raw angles `raw[k]` (R, K_k), dt (R, ·) (the column the segments name) and encodings
    /// `enc[k]` (R, n_enc) → `a.m` (R, 3Q).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        raw: [&B::Buf; 3],
        dt: &B::Buf,
        enc: [&B::Buf; 3],
        a: &mut S3Acts<B>,
    ) {
        for k in 0..3 {
            be.scale_segments(&mut a.theta[k], raw[k], dt, &self.segs[k]);
            be.circuit(
                &mut a.scratch_m,
                Some(&mut a.states[k]),
                &a.theta[k],
                Some(enc[k]),
                &self.programs[k],
            );
        }
        let [s0, s1, s2] = &a.states;
        be.s3_measure(&mut a.m, [s0, s1, s2], p, self.coeffs);
    }

    /// From dm = ∂L/∂q (R, 3Q): `a.draw[k]` and `a.denc[k]` ← the gradients of the raw angles
    /// and encodings of branch k (overwritten), ∂L/∂dt accumulated into `ddt`, the
    /// coefficients' gradient into `g`. Same inputs as the forward that filled `a`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        raw: [&B::Buf; 3],
        dt: &B::Buf,
        enc: [&B::Buf; 3],
        a: &mut S3Acts<B>,
        dm: &B::Buf,
        ddt: &mut B::Buf,
    ) {
        {
            let [g0, g1, g2] = &mut a.gstates;
            let [s0, s1, s2] = &a.states;
            be.s3_measure_bwd([g0, g1, g2], g, dm, [s0, s1, s2], p, self.coeffs);
        }
        for k in 0..3 {
            let dtheta = &mut a.dtheta;
            be.fill(dtheta, 0.0);
            be.fill(&mut a.denc[k], 0.0);
            be.circuit_bwd_state(
                dtheta,
                Some(&mut a.denc[k]),
                &a.gstates[k],
                &a.states[k],
                &a.theta[k],
                Some(enc[k]),
                &self.programs[k],
            );
            be.fill(&mut a.draw[k], 0.0);
            be.scale_segments_bwd(&mut a.draw[k], ddt, dtheta, raw[k], dt, &self.segs[k]);
        }
    }
}
