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
        let mut prog = Self::empty(n_qubits);
        if ry_embedding {
            prog.push_ry_embedding(0);
        }
        for layer in 0..n_layers {
            prog.push_unified_layer(5 * n_qubits * layer);
        }
        prog
    }

    /// An empty circuit on `n_qubits` wires (the identity); extend it with the `push_*`
    /// layer methods. Panics if `n_qubits` is not in 2..=30 (the CRX rings need two distinct
    /// wires; amplitude indices must fit).
    pub fn empty(n_qubits: usize) -> Self {
        assert!(
            (2..=30).contains(&n_qubits),
            "Program: n_qubits must be in 2..=30, got {n_qubits}"
        );
        Program {
            n_qubits,
            gates: Vec::new(),
            n_theta: 0,
            n_enc: 0,
        }
    }

    fn push(&mut self, kind: GateKind, target: usize, angle: AngleSrc) {
        match angle {
            AngleSrc::Theta(i) => self.n_theta = self.n_theta.max(i as usize + 1),
            AngleSrc::Enc(i) => self.n_enc = self.n_enc.max(i as usize + 1),
        }
        self.gates.push(Gate {
            kind,
            target: target as u8,
            angle,
        });
    }

    fn theta_src(o: usize, k: usize) -> AngleSrc {
        let i = o + k;
        assert!(
            i <= u16::MAX as usize,
            "Program: angle index {i} exceeds u16"
        );
        AngleSrc::Theta(i as u16)
    }

    /// Appends **E**(e\[o..o+Q\]): RY(e\[o+i\]) on wire i, i = 0..Q (spec groups-2-4 §2.2).
    /// `n_enc` grows to cover the indices.
    pub fn push_ry_embedding(&mut self, enc_offset: usize) -> &mut Self {
        for i in 0..self.n_qubits {
            let k = enc_offset + i;
            assert!(
                k <= u16::MAX as usize,
                "Program: encoding index {k} exceeds u16"
            );
            self.push(GateKind::Ry, i, AngleSrc::Enc(k as u16));
        }
        self
    }

    /// Appends one **unified layer U(θ, o)** (spec circuits-and-groups-1-3 §2.2, groups-2-4
    /// §2.2; 5Q angles θ\[o..o+5Q\]): for wire i = 0..Q: RX(θ\[o+3i\]), RY(θ\[o+3i+1\]),
    /// RZ(θ\[o+3i+2\]); forward CRX ring i→(i+1) mod Q with θ\[o+3Q+i\]; backward CRX ring
    /// for j = 0..Q, i = Q−1−j: i→(i−1) mod Q with θ\[o+4Q+j\]. The reference's Δ-modulated
    /// layer D(θ, o; dt) is this layer with the 3Q rotation angles pre-multiplied by dt (the
    /// CRX angles unscaled): see [`scale_rotation_angles`].
    pub fn push_unified_layer(&mut self, theta_offset: usize) -> &mut Self {
        let (q, o) = (self.n_qubits, theta_offset);
        for i in 0..q {
            self.push(GateKind::Rx, i, Self::theta_src(o, 3 * i));
            self.push(GateKind::Ry, i, Self::theta_src(o, 3 * i + 1));
            self.push(GateKind::Rz, i, Self::theta_src(o, 3 * i + 2));
        }
        self.push_forward_ring(o + 3 * q);
        self.push_backward_ring(o + 4 * q);
        self
    }

    /// Appends one **backward layer Bk(θ, o)** (reference `backward_ansatz_layer` /
    /// `backward_ssm_mixing_layer`, spec groups-2-4 §2.2; 5Q angles): for j = 0..Q, wire
    /// i = Q−1−j: RX(θ\[o+3j\]), RY(θ\[o+3j+1\]), RZ(θ\[o+3j+2\]) — **angle triple j acts on
    /// wire Q−1−j** — then the backward CRX ring (j = 0..Q, i = Q−1−j: i→(i−1) mod Q with
    /// θ\[o+3Q+j\]), then the forward ring (i→(i+1) mod Q with θ\[o+4Q+i\]).
    pub fn push_backward_layer(&mut self, theta_offset: usize) -> &mut Self {
        let (q, o) = (self.n_qubits, theta_offset);
        for j in 0..q {
            let w = q - 1 - j;
            self.push(GateKind::Rx, w, Self::theta_src(o, 3 * j));
            self.push(GateKind::Ry, w, Self::theta_src(o, 3 * j + 1));
            self.push(GateKind::Rz, w, Self::theta_src(o, 3 * j + 2));
        }
        self.push_backward_ring(o + 3 * q);
        self.push_forward_ring(o + 4 * q);
        self
    }

    /// CRX i→(i+1) mod Q for i = 0..Q with angles θ\[o+i\].
    fn push_forward_ring(&mut self, o: usize) {
        let q = self.n_qubits;
        for i in 0..q {
            let kind = GateKind::Crx { ctrl: i as u8 };
            self.push(kind, (i + 1) % q, Self::theta_src(o, i));
        }
    }

    /// CRX (Q−1−j)→(Q−2−j) mod Q for j = 0..Q with angles θ\[o+j\].
    fn push_backward_ring(&mut self, o: usize) {
        let q = self.n_qubits;
        for j in 0..q {
            let kind = GateKind::Crx {
                ctrl: (q - 1 - j) as u8,
            };
            self.push(kind, (2 * q - 2 - j) % q, Self::theta_src(o, j));
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

/// Δ-modulated angles (spec groups-2-4 §2.2, reference `delta_modulated_ansatz_layer`):
/// `out` = θ with the 3Q single-qubit rotation angles of every 5Q-angle layer multiplied by
/// `dt` (in f32, as torch did), the 2Q CRX angles copied. θ, out: (5Q·layers).
pub fn scale_rotation_angles(theta: &[f32], n_qubits: usize, dt: f32, out: &mut [f32]) {
    let per = 5 * n_qubits;
    assert_eq!(
        theta.len() % per,
        0,
        "scale_rotation_angles: θ must hold whole layers"
    );
    assert_eq!(theta.len(), out.len(), "scale_rotation_angles: out length");
    for (layer, o) in theta.chunks_exact(per).zip(out.chunks_exact_mut(per)) {
        for (k, (&t, y)) in layer.iter().zip(o.iter_mut()).enumerate() {
            *y = if k < 3 * n_qubits { dt * t } else { t };
        }
    }
}

/// Backward of [`scale_rotation_angles`]: given d loss/d out (f64, from the adjoint),
/// **accumulates** dθ (f32) and returns d loss/d dt.
pub fn scale_rotation_angles_backward(
    theta: &[f32],
    n_qubits: usize,
    dt: f32,
    dout: &[f64],
    dtheta: &mut [f32],
) -> f64 {
    let per = 5 * n_qubits;
    let mut ddt = 0.0f64;
    for (k, ((&t, &d), g)) in theta.iter().zip(dout).zip(dtheta.iter_mut()).enumerate() {
        if k % per < 3 * n_qubits {
            *g += (dt as f64 * d) as f32;
            ddt += t as f64 * d;
        } else {
            *g += d as f32;
        }
    }
    ddt
}
