//! Forward simulation, expectation values and adjoint backward of a [`Program`].
use super::program::Program;
use num_complex::Complex64;

/// Expectation values of X, Y, Z on every wire, in the reference's order
/// `[⟨X_0⟩..⟨X_{Q−1}⟩, ⟨Y_0⟩.., ⟨Z_0⟩..]`. psi: (2^Q); out: (3Q).
pub fn expvals_xyz(psi: &[Complex64], n_qubits: usize, out: &mut [f64]) {
    todo!("helper: circuit")
}

/// Runs `prog` from |0…0⟩. theta: (K) f32, enc: (n_enc) f32 (empty if none);
/// `psi` (2^Q) receives the final state; `out` (3Q) the X/Y/Z expectation values.
pub fn circuit_forward(prog: &Program, theta: &[f32], enc: &[f32], psi: &mut [Complex64], out: &mut [f64]) {
    todo!("helper: circuit")
}

/// Adjoint-method backward: given the final state `psi` from [`circuit_forward`] and the
/// upstream gradient `dout` (3Q) on the expectation values, **accumulates** dθ (K) and de
/// (n_enc). `scratch` must hold 2·2^Q amplitudes. Exact (no shifts), O(gates·2^Q).
pub fn circuit_backward(prog: &Program, theta: &[f32], enc: &[f32], psi: &[Complex64], dout: &[f64], dtheta: &mut [f64], denc: &mut [f64], scratch: &mut [Complex64]) {
    todo!("helper: circuit")
}
