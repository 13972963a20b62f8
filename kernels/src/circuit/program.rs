//! Circuit programs: a fixed list of gates built once (at model construction or engine load).
use alloc::vec::Vec;

/// Where a gate takes its angle from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AngleSrc {
    /// θ[i]: a variational angle.
    Theta(u16),
    /// e[i]: a data-encoding angle.
    Enc(u16),
}

/// Gate type. All gates here are rotations exp(−iθ/2·P) (P = X, Y, Z), optionally controlled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateKind {
    /// RX on `target`.
    Rx,
    /// RY on `target`.
    Ry,
    /// RZ on `target`.
    Rz,
    /// CRX with control wire `ctrl` on `target`.
    Crx {
        /// control wire
        ctrl: u8,
    },
}

/// One gate of a [`Program`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// gate type
    pub kind: GateKind,
    /// target wire (0 = most significant bit)
    pub target: u8,
    /// angle source
    pub angle: AngleSrc,
}

/// A parameterised circuit on `n_qubits` wires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Q
    pub n_qubits: usize,
    /// gates in application order
    pub gates: Vec<Gate>,
    /// K: length of θ
    pub n_theta: usize,
    /// length of e (0 if no encoding gates)
    pub n_enc: usize,
}

impl Program {
    /// The reference's "unified ansatz" (spec §2.2): optional RY(e_i) embedding on every wire,
    /// then `n_layers` layers of [RX,RY,RZ per wire (angles o+3i..o+3i+2)], forward CRX ring
    /// i→(i+1) mod Q (angles o+3Q+i), backward CRX ring (Q−1−j)→(Q−2−j) mod Q (angles o+4Q+j),
    /// o = 5Q·layer. K = 5·Q·n_layers.
    pub fn unified_ansatz(n_qubits: usize, n_layers: usize, ry_embedding: bool) -> Self {
        todo!("helper: circuit")
    }
}
