//! The S3 superposition core of 4d and 4e (spec groups-2-4 §2.3; reference
//! `models/QuantumHydraSSM.py`, `models/QuantumE2E_Superposition.py`): per chunk summary s (D),
//! P angle projections (P·5Q·L angles), three branch circuits ψ₁, ψ₂, ψ₃ from |0…0⟩, the
//! state φ = (αψ₁ + βψ₂ + γψ₃)/‖·‖ with complex α, β, γ, and its ⟨X⟩, ⟨Y⟩, ⟨Z⟩ on every wire
//! (3Q). 4d/4e have P = 4 (a shared
//! feature block first). No allocation after load.
use super::composed_circuit::{Angles, Circuit};
use super::layers::Linear;
use super::statevec::{self, MAX_QUBITS};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use num_complex::Complex64;
use qssm_kernels::circuit::expvals_xyz;
use qssm_kernels::circuit::superpose::{s3_weights, superpose_forward};

/// One S3 core: its P angle projections (each Linear(D → 5Q·L)) and the normalised weights
/// α, β, γ.
#[derive(Clone, Debug)]
pub(super) struct S3Core<const P: usize> {
    projs: [Linear; P],
    w: [Complex64; 3],
}

impl<const P: usize> S3Core<P> {
    /// Takes `{core}.{alpha,beta,gamma}_{real,imag}` (scalars) and keeps `projs`.
    ///
    /// Errors: a missing or mis-shaped coefficient tensor ([`EngineError`] from the loader).
    pub(super) fn load(
        ld: &mut Loader<'_, '_>,
        core: &str,
        projs: [Linear; P],
    ) -> Result<Self, EngineError> {
        let mut params = [0.0f32; 6];
        for (i, coef) in ["alpha", "beta", "gamma"].iter().enumerate() {
            params[2 * i] = ld.take(&format!("{core}.{coef}_real"), &[])?[0];
            params[2 * i + 1] = ld.take(&format!("{core}.{coef}_imag"), &[])?[0];
        }
        Ok(Self {
            projs,
            w: s3_weights(&params),
        })
    }

    /// One chunk summary `s` (D) → the 3Q expectation values of φ into `out`. `proj`
    /// (P·pb), `theta` and `enc` are the circuits' angle buffers, `states` ≥
    /// 4 · `statevec::scratch_floats(2^Q)` (ψ₁, ψ₂, ψ₃ and φ). The branch circuits read their blocks at their own offsets of
    /// `proj`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn measure(
        &self,
        branches: &[Circuit; 3],
        pb: usize,
        s: &[f32],
        ang: &Angles<'_>,
        proj: &mut [f32],
        theta: &mut [f32],
        enc: &mut [f32],
        states: &mut [f32],
        out: &mut [f32],
    ) {
        let q = out.len() / 3;
        let (n, sf) = (1usize << q, statevec::scratch_floats(1 << q));
        for (lin, dst) in self.projs.iter().zip(proj.chunks_exact_mut(pb)) {
            lin.apply_one(dst, s);
        }
        let (r1, rest) = states.split_at_mut(sf);
        let (r2, rest) = rest.split_at_mut(sf);
        let (r3, r4) = rest.split_at_mut(sf);
        let (s1, s2, s3, phi) = (
            statevec::carve(r1, n),
            statevec::carve(r2, n),
            statevec::carve(r3, n),
            statevec::carve(r4, n),
        );
        branches[0].run(pb, proj, ang, theta, enc, s1);
        branches[1].run(pb, proj, ang, theta, enc, s2);
        branches[2].run(pb, proj, ang, theta, enc, s3);
        superpose_forward(&self.w, &[&*s1, &*s2, &*s3], phi);
        let mut m = [0.0f64; 3 * MAX_QUBITS];
        let m = &mut m[..3 * q];
        expvals_xyz(phi, q, m);
        out.iter_mut()
            .zip(m.iter())
            .for_each(|(o, &v)| *o = v as f32);
    }
}
