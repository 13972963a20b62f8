//! State-vector simulation of small parameterised circuits (Q ≤ 12 qubits), forward and
//! adjoint-method backward, with PennyLane's conventions (spec §2.1):
//! wire 0 is the **most significant** bit of the amplitude index, the initial state is |0…0⟩,
//! RX(θ) = [[c, −is], [−is, c]], RY(θ) = [[c, −s], [s, c]], RZ(θ) = diag(e^{−iθ/2}, e^{iθ/2}),
//! CRX(θ)[ctrl → tgt] = |0⟩⟨0| ⊗ I + |1⟩⟨1| ⊗ RX(θ).
//!
//! Gate matrix entries are built from the **f32** angle in f32 arithmetic (θ/2, cos, sin), then
//! widened to f64, exactly as PennyLane/torch did for the reference (spec §2.7); the state is
//! complex128 and expectation values are f64.
//!
//! A circuit is a [`Program`]: a flat list of gates whose angles come from a trainable angle
//! vector θ (K) or an encoding vector e (data-encoding gates). Sources: reference
//! `models/QuantumSSM.py` (unified ansatz), Jones & Gacon 2020 (adjoint differentiation).
pub mod entangling;
pub mod program;
pub mod qproj;
pub mod simulate;

pub use program::{scale_rotation_angles_backward, AngleSrc, Gate, GateKind, Program};
pub mod superpose;
pub mod u3_ring;

pub use program::scale_rotation_angles;
pub use simulate::{
    apply_program, apply_program_backward, circuit_backward, circuit_forward, expvals_xyz,
    expvals_xyz_backward,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_entangling;
#[cfg(test)]
mod tests_layers;
#[cfg(test)]
mod tests_qproj;
