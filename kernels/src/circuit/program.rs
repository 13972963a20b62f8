//! Circuit programs: a fixed list of gates built once (at model construction or engine load).
use alloc::vec::Vec;

/// Where a gate takes its angle from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AngleSrc {
    /// θ\[i\]: a variational angle.
    Theta(u16),
    /// e\[i\]: a data-encoding angle.
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
    ///
    /// Gate list (application order): [RY(e_0) on 0, …, RY(e_{Q−1}) on Q−1] if `ry_embedding`
    /// (then `n_enc` = Q, else 0), followed per layer by RX(w0), RY(w0), RZ(w0), RX(w1), …,
    /// RZ(w_{Q−1}), CRX 0→1, 1→2, …, (Q−1)→0, CRX (Q−1)→(Q−2), …, 1→0, 0→(Q−1).
    /// Every θ and e entry is used by exactly one gate. Total gates: n_enc + 5·Q·n_layers.
    ///
    /// Panics if `n_qubits < 2` (the CRX rings need two distinct wires), `n_qubits > 30`, or
    /// K does not fit the `u16` angle index.
    pub fn unified_ansatz(n_qubits: usize, n_layers: usize, ry_embedding: bool) -> Self {
        let q = n_qubits;
        assert!(
            (2..=30).contains(&q),
            "unified_ansatz: n_qubits must be in 2..=30, got {q}"
        );
        let n_theta = 5 * q * n_layers;
        assert!(
            n_theta <= u16::MAX as usize + 1,
            "unified_ansatz: K = {n_theta} exceeds u16 indices"
        );
        let n_enc = if ry_embedding { q } else { 0 };
        let mut gates = Vec::with_capacity(n_enc + n_theta);
        let g = |kind, target: usize, angle| Gate {
            kind,
            target: target as u8,
            angle,
        };
        for i in 0..n_enc {
            gates.push(g(GateKind::Ry, i, AngleSrc::Enc(i as u16)));
        }
        for layer in 0..n_layers {
            let o = 5 * q * layer;
            let th = |k: usize| AngleSrc::Theta((o + k) as u16);
            for i in 0..q {
                gates.push(g(GateKind::Rx, i, th(3 * i)));
                gates.push(g(GateKind::Ry, i, th(3 * i + 1)));
                gates.push(g(GateKind::Rz, i, th(3 * i + 2)));
            }
            for i in 0..q {
                let kind = GateKind::Crx { ctrl: i as u8 };
                gates.push(g(kind, (i + 1) % q, th(3 * q + i)));
            }
            for j in 0..q {
                let kind = GateKind::Crx {
                    ctrl: (q - 1 - j) as u8,
                };
                gates.push(g(kind, (2 * q - 2 - j) % q, th(4 * q + j)));
            }
        }
        Program {
            n_qubits: q,
            gates,
            n_theta,
            n_enc,
        }
    }

    /// The legacy 4-angle ansatz (`basic_ansatz_circuit` of the reference's
    /// `models/QuantumHydra.py`; spec gated-and-protocols §1.2), behind the published gated
    /// parameter counts. No encoding gates (`n_enc` = 0). Per layer, with o = 4Q·layer:
    /// RY(θ\[o+i\]) on every wire i, forward CRX ring i→(i+1) mod Q (angles o+Q+i),
    /// RY(θ\[o+2Q+i\]) on every wire i, backward CRX ring (Q−1−j)→(Q−2−j) mod Q (angles
    /// o+3Q+j). K = 4·Q·n_layers, every θ used by exactly one gate, K gates in total.
    ///
    /// Panics if `n_qubits < 2`, `n_qubits > 30`, or K does not fit the `u16` angle index.
    pub fn legacy_ansatz(n_qubits: usize, n_layers: usize) -> Self {
        let q = n_qubits;
        assert!(
            (2..=30).contains(&q),
            "legacy_ansatz: n_qubits must be in 2..=30, got {q}"
        );
        let n_theta = 4 * q * n_layers;
        assert!(
            n_theta <= u16::MAX as usize + 1,
            "legacy_ansatz: K = {n_theta} exceeds u16 indices"
        );
        let mut gates = Vec::with_capacity(n_theta);
        let g = |kind, target: usize, angle| Gate {
            kind,
            target: target as u8,
            angle,
        };
        for layer in 0..n_layers {
            let o = 4 * q * layer;
            let th = |k: usize| AngleSrc::Theta((o + k) as u16);
            for i in 0..q {
                gates.push(g(GateKind::Ry, i, th(i)));
            }
            for i in 0..q {
                let kind = GateKind::Crx { ctrl: i as u8 };
                gates.push(g(kind, (i + 1) % q, th(q + i)));
            }
            for i in 0..q {
                gates.push(g(GateKind::Ry, i, th(2 * q + i)));
            }
            for j in 0..q {
                let kind = GateKind::Crx {
                    ctrl: (q - 1 - j) as u8,
                };
                gates.push(g(kind, (2 * q - 2 - j) % q, th(3 * q + j)));
            }
        }
        Program {
            n_qubits: q,
            gates,
            n_theta,
            n_enc: 0,
        }
    }

    /// Number of gates (= `gates.len()`).
    pub fn n_gates(&self) -> usize {
        self.gates.len()
    }

    /// Length of the state vector, 2^Q (also the size of `psi`; `scratch` of
    /// [`circuit_backward`](super::circuit_backward) needs twice this).
    pub fn state_len(&self) -> usize {
        1usize << self.n_qubits
    }
}
