//! Quantum-Train's qt-liu circuit (spec hqc-mamba-and-quantum-train §5.3; the authors'
//! TorchQuantum notebook, `Op1QAllLayer(U3)` + `Op2QAllLayer(CU3, circular=True)` per block):
//! from |0…0⟩, per block b, U3(θ, φ, λ) on every wire w = 0..N−1, then CU3 on every circular
//! neighbour pair (control w, target (w + 1) mod N), each gate with its own three angles.
//! Readout: the 2^N basis probabilities |ψ_i|² (wire 0 the most significant bit, as
//! TorchQuantum's `get_states_1d`).
//!
//! Matrices as TorchQuantum's `u3_matrix` / `cu3_matrix` (Qiskit's convention), with
//! c = cos(θ/2), s = sin(θ/2):
//! U3(θ, φ, λ) = [[c, −e^{iλ}·s], [e^{iφ}·s, e^{i(φ+λ)}·c]];
//! CU3 = |0⟩⟨0| ⊗ I + |1⟩⟨1| ⊗ U3.
//!
//! Angles: (B, 2, N, 3) flattened: block b, then the U3 layer (0) or the CU3 layer (1), then
//! wire w (the CU3's control), then (θ, φ, λ). Everything in f64; the backward is the adjoint
//! method (Jones & Gacon 2020) for L = Σ_i dp_i·|ψ_i|².
use alloc::vec;
use alloc::vec::Vec;
use num_complex::Complex64;

/// A 2×2 complex matrix, row-major.
type Mat2 = [[Complex64; 2]; 2];

/// e^{ia}.
fn cis(a: f64) -> Complex64 {
    Complex64::new(libm::cos(a), libm::sin(a))
}

/// (cos θ/2, sin θ/2).
fn half(theta: f64) -> (f64, f64) {
    (libm::cos(theta / 2.0), libm::sin(theta / 2.0))
}

/// The qt-liu circuit's shape: N wires, B blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U3Ring {
    /// N: wires
    pub n_wires: usize,
    /// B: blocks
    pub n_blocks: usize,
}

/// U3(θ, φ, λ) (TorchQuantum's `u3_matrix`).
fn u3(t: &[f64]) -> Mat2 {
    let (c, s) = half(t[0]);
    let e = cis;
    [
        [Complex64::new(c, 0.0), -e(t[2]) * s],
        [e(t[1]) * s, e(t[1] + t[2]) * c],
    ]
}

/// ∂U3/∂θ, ∂U3/∂φ, ∂U3/∂λ.
fn u3_grads(t: &[f64]) -> [Mat2; 3] {
    let (c, s) = half(t[0]);
    let e = cis;
    let i = Complex64::new(0.0, 1.0);
    let z = Complex64::new(0.0, 0.0);
    [
        [
            [Complex64::new(-s / 2.0, 0.0), -e(t[2]) * (c / 2.0)],
            [e(t[1]) * (c / 2.0), -e(t[1] + t[2]) * (s / 2.0)],
        ],
        [[z, z], [i * e(t[1]) * s, i * e(t[1] + t[2]) * c]],
        [[z, -i * e(t[2]) * s], [z, i * e(t[1] + t[2]) * c]],
    ]
}

/// The conjugate transpose of m.
fn dagger(m: &Mat2) -> Mat2 {
    [
        [m[0][0].conj(), m[1][0].conj()],
        [m[0][1].conj(), m[1][1].conj()],
    ]
}

/// Calls `f(i0, i1)` for every pair of amplitude indices that differ in wire `w` only
/// (i0 with the wire at 0), restricted to the control wire at 1 when `ctrl` is given.
fn for_pairs(n: usize, w: usize, ctrl: Option<usize>, mut f: impl FnMut(usize, usize)) {
    let bit = 1usize << (n - 1 - w);
    let cbit = ctrl.map_or(0, |c| 1usize << (n - 1 - c));
    for i0 in 0..1usize << n {
        if i0 & bit == 0 && i0 & cbit == cbit {
            f(i0, i0 | bit);
        }
    }
}

/// ψ ← m on wire `w` (controlled by `ctrl`, if given).
fn apply(psi: &mut [Complex64], n: usize, w: usize, ctrl: Option<usize>, m: &Mat2) {
    for_pairs(n, w, ctrl, |i0, i1| {
        let (a, b) = (psi[i0], psi[i1]);
        psi[i0] = m[0][0] * a + m[0][1] * b;
        psi[i1] = m[1][0] * a + m[1][1] * b;
    });
}

/// ⟨λ| (m on wire `w`, controlled by `ctrl`; zero elsewhere) |ψ⟩: the gate derivative's
/// matrix element (a controlled gate's identity block does not depend on the angles).
fn element(
    lam: &[Complex64],
    psi: &[Complex64],
    n: usize,
    w: usize,
    ctrl: Option<usize>,
    m: &Mat2,
) -> Complex64 {
    let mut acc = Complex64::new(0.0, 0.0);
    for_pairs(n, w, ctrl, |i0, i1| {
        let (a, b) = (psi[i0], psi[i1]);
        acc += lam[i0].conj() * (m[0][0] * a + m[0][1] * b)
            + lam[i1].conj() * (m[1][0] * a + m[1][1] * b);
    });
    acc
}

impl U3Ring {
    /// B·2·N·3 angles (qt-liu: 16 blocks × 78 = 1,248).
    pub fn n_params(&self) -> usize {
        self.n_blocks * 6 * self.n_wires
    }

    /// The gates in order: (angle offset, target wire, control wire).
    fn gates(&self) -> impl DoubleEndedIterator<Item = (usize, usize, Option<usize>)> + '_ {
        let n = self.n_wires;
        (0..self.n_blocks).flat_map(move |b| {
            (0..2 * n).map(move |g| {
                let (layer, w) = (g / n, g % n);
                let at = ((b * 2 + layer) * n + w) * 3;
                if layer == 0 {
                    (at, w, None)
                } else {
                    (at, (w + 1) % n, Some(w))
                }
            })
        })
    }

    /// ψ (2^N) ← the circuit applied to |0…0⟩ with angles `t` ([`Self::n_params`]). Panics on
    /// other lengths.
    pub fn forward(&self, t: &[f64], psi: &mut [Complex64]) {
        let n = self.n_wires;
        assert!(
            t.len() == self.n_params() && psi.len() == 1 << n,
            "U3Ring::forward: shapes"
        );
        psi.fill(Complex64::new(0.0, 0.0));
        psi[0] = Complex64::new(1.0, 0.0);
        for (at, w, ctrl) in self.gates() {
            apply(psi, n, w, ctrl, &u3(&t[at..at + 3]));
        }
    }

    /// The basis probabilities |ψ_i|² (2^N) for angles `t`.
    pub fn probs(&self, t: &[f64]) -> Vec<f64> {
        let mut psi = vec![Complex64::new(0.0, 0.0); 1 << self.n_wires];
        self.forward(t, &mut psi);
        psi.iter().map(|a| a.norm_sqr()).collect()
    }

    /// ∂L/∂t for L = Σ_i dp_i·|ψ_i|² (dp: 2^N), by the adjoint method: the final state is
    /// recomputed, λ = diag(dp)·ψ, and both are swept back gate by gate; each angle's
    /// derivative is 2·Re⟨λ|∂U|ψ⟩ at its gate.
    pub fn probs_backward(&self, t: &[f64], dp: &[f64]) -> Vec<f64> {
        let n = self.n_wires;
        assert_eq!(dp.len(), 1 << n, "U3Ring::probs_backward: dp");
        let mut psi = vec![Complex64::new(0.0, 0.0); 1 << n];
        self.forward(t, &mut psi);
        let mut lam: Vec<Complex64> = psi.iter().zip(dp).map(|(a, &d)| a * d).collect();
        let mut grad = vec![0.0f64; t.len()];
        for (at, w, ctrl) in self.gates().rev() {
            let angles = &t[at..at + 3];
            let inv = dagger(&u3(angles));
            // ψ before this gate
            apply(&mut psi, n, w, ctrl, &inv);
            for (k, dm) in u3_grads(angles).iter().enumerate() {
                grad[at + k] = 2.0 * element(&lam, &psi, n, w, ctrl, dm).re;
            }
            apply(&mut lam, n, w, ctrl, &inv);
        }
        grad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> U3Ring {
        U3Ring {
            n_wires: 4,
            n_blocks: 2,
        }
    }

    fn angles(r: &U3Ring) -> Vec<f64> {
        (0..r.n_params())
            .map(|k| ((k * 7919 % 1000) as f64 / 1000.0 - 0.5) * 6.0)
            .collect()
    }

    /// U3 is unitary and equals Qiskit's closed form RZ(φ)·RY(θ)·RZ(λ) up to the global phase
    /// e^{i(φ+λ)/2}; the probabilities sum to 1.
    #[test]
    fn u3_matches_its_closed_form_and_probabilities_sum_to_one() {
        let zero = Complex64::new(0.0, 0.0);
        let mul = |a: &Mat2, b: &Mat2| -> Mat2 {
            core::array::from_fn(|r| {
                core::array::from_fn(|c| a[r][0] * b[0][c] + a[r][1] * b[1][c])
            })
        };
        let close = |a: &Mat2, b: &Mat2| {
            a.iter()
                .flatten()
                .zip(b.iter().flatten())
                .all(|(x, y)| (x - y).norm_sqr() < 1e-24)
        };
        let t = [0.7, -1.3, 2.1];
        let m = u3(&t);
        let one = Complex64::new(1.0, 0.0);
        assert!(close(&mul(&dagger(&m), &m), &[[one, zero], [zero, one]]));
        let rz = |a: f64| [[cis(-a / 2.0), zero], [zero, cis(a / 2.0)]];
        let (c, s) = half(t[0]);
        let ry = [
            [Complex64::new(c, 0.0), Complex64::new(-s, 0.0)],
            [Complex64::new(s, 0.0), Complex64::new(c, 0.0)],
        ];
        let phase = cis((t[1] + t[2]) / 2.0);
        let closed = mul(&mul(&rz(t[1]), &ry), &rz(t[2])).map(|row| row.map(|v| v * phase));
        assert!(close(&closed, &m));
        let r = ring();
        let p = r.probs(&angles(&r));
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    /// A CU3 acts only where its control is 1: one block with every angle zero but the
    /// control wire's U3 (θ = π, an X up to phases) flips the target of the CU3 it controls.
    #[test]
    fn cu3_is_controlled_by_the_lower_wire_index() {
        let r = U3Ring {
            n_wires: 3,
            n_blocks: 1,
        };
        let mut t = vec![0.0; r.n_params()];
        // U3 on wire 0 with θ = π: |000⟩ → |100⟩
        t[0] = std::f64::consts::PI;
        // CU3 (control 0, target 1) with θ = π: |100⟩ → |110⟩
        t[3 * 3] = std::f64::consts::PI;
        let p = r.probs(&t);
        assert!((p[0b110] - 1.0).abs() < 1e-12, "{p:?}");
        // the ring's last pair: control 2, target 0 (wire 2 is 0 here, so nothing more)
    }

    /// The adjoint gradient against central differences of L = Σ dp_i·p_i.
    #[test]
    fn adjoint_gradient_matches_central_differences() {
        let r = ring();
        let mut t = angles(&r);
        let dp: Vec<f64> = (0..1 << r.n_wires)
            .map(|i| ((i * 37 % 17) as f64 - 8.0) / 5.0)
            .collect();
        let loss = |t: &[f64]| -> f64 { r.probs(t).iter().zip(&dp).map(|(p, d)| p * d).sum() };
        let g = r.probs_backward(&t, &dp);
        for k in 0..t.len() {
            let v = t[k];
            t[k] = v + 1e-6;
            let up = loss(&t);
            t[k] = v - 1e-6;
            let down = loss(&t);
            t[k] = v;
            let fd = (up - down) / 2e-6;
            assert!((fd - g[k]).abs() < 1e-7, "angle {k}: {} vs {fd}", g[k]);
        }
    }
}
