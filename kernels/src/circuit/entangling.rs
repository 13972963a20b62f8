//! The circuit blocks of the two paper models (spec hqc-mamba-and-quantum-train §2): amplitude
//! encoding with the ε-norm, PennyLane's `StronglyEntanglingLayers`, probability readout over
//! the first wires, each with its adjoint backward. States are 2^n complex128 amplitudes, wire 0
//! the most significant bit (PennyLane); angles are float64.
//!
//! * [`amplitude_encode`]: x (d) zero-padded to 2^n and divided by ‖x‖_ε = √(Σx² + ε²),
//!   ε = 1e-6 (a zero input gives the zero vector, not an error: spec §2.4 DECISION).
//! * [`EntanglingLayers`]: per layer l, Rot(W\[l,i,0\], W\[l,i,1\], W\[l,i,2\]) = RZ(ω)·RY(θ)·RZ(φ)
//!   on every wire i, then CNOT(i → (i + r_l) mod M) for i = 0..M−1 in order, with PennyLane's
//!   ranges r_l = (l mod (M − 1)) + 1 (no CNOT for M = 1). Schuld et al., "Circuit-centric
//!   quantum classifiers", 2020; PennyLane `qml.StronglyEntanglingLayers`.
//! * [`RyChain`]: Quantum-Train's parameter-only circuit (spec §5.2): from |0…0⟩, per block b,
//!   RY(φ\[b,q\]) on every wire q, then the open chain CNOT(q → q+1), q = 0..n−2.
//! * [`marginal_probs`]: q_j = Σ_r |ψ_{j·2^(n−m)+r}|², PennyLane's `qml.probs(wires=range(m))`.
//!
//! Backward (adjoint method, Jones & Gacon 2020, spec §2.5): λ = O·ψ with O = diag(∂L/∂p)
//! ([`marginal_probs_backward`]); sweeping the gates in reverse, a rotation exp(−iθ/2·P) adds
//! Im⟨λ|P|ψ⟩ to ∂L/∂θ, then ψ ← G†ψ and λ ← G†λ; at the start, 2·Re(λ) = ∂L/∂ψ0, which
//! [`amplitude_encode_backward`] takes through the normalisation. Nothing allocates.
use super::simulate::{for_pairs_mut, im_lam_p_phi, rot, Axis};
use alloc::vec::Vec;
use num_complex::Complex64;

/// ε of the amplitude-encoding norm ‖x‖_ε = √(Σx² + ε²).
pub const AMPLITUDE_EPS: f64 = 1e-6;

/// Bit of wire `w` among `n` wires (wire 0 = most significant).
fn bit(n: usize, w: usize) -> usize {
    1usize << (n - 1 - w)
}

/// exp(−iθ/2·P) on wire `w` (pass `adjoint` for its inverse).
fn rotate(psi: &mut [Complex64], n: usize, w: usize, axis: Axis, theta: f64, adjoint: bool) {
    let (c, s) = (libm::cos(theta / 2.0), libm::sin(theta / 2.0));
    let s = if adjoint { -s } else { s };
    for_pairs_mut(psi, bit(n, w), None, |a0, a1| {
        (*a0, *a1) = rot(axis, c, s, *a0, *a1)
    });
}

/// CNOT(control → target): swaps the amplitude pairs of `target` whose `control` bit is set.
pub fn cnot(psi: &mut [Complex64], n: usize, control: usize, target: usize) {
    for_pairs_mut(psi, bit(n, target), Some(bit(n, control)), core::mem::swap);
}

/// RY(θ) on wire `w` of an `n`-wire state: [[cos θ/2, −sin θ/2], [sin θ/2, cos θ/2]].
pub fn ry(psi: &mut [Complex64], n: usize, w: usize, theta: f64) {
    rotate(psi, n, w, Axis::Y, theta, false);
}

/// Im⟨λ|P_w|ψ⟩ over the pairs of wire `w`.
fn im_lam_p_psi(lam: &[Complex64], psi: &[Complex64], n: usize, w: usize, axis: Axis) -> f64 {
    let m = bit(n, w);
    let mut acc = 0.0;
    for (bl, bp) in lam.chunks_exact(2 * m).zip(psi.chunks_exact(2 * m)) {
        let (l0, l1) = bl.split_at(m);
        let (p0, p1) = bp.split_at(m);
        for k in 0..m {
            acc += im_lam_p_phi(axis, l0[k], l1[k], p0[k], p1[k]);
        }
    }
    acc
}

/// ψ0 = x̃ / ‖x‖_ε (x̃ = x zero-padded to `psi.len()`); returns ‖x‖_ε. Panics if x is longer
/// than the state.
pub fn amplitude_encode(x: &[f64], psi: &mut [Complex64]) -> f64 {
    assert!(
        x.len() <= psi.len(),
        "amplitude_encode: {} values for {} amplitudes",
        x.len(),
        psi.len()
    );
    let norm = libm::sqrt(x.iter().map(|v| v * v).sum::<f64>() + AMPLITUDE_EPS * AMPLITUDE_EPS);
    psi.fill(Complex64::new(0.0, 0.0));
    for (a, &v) in psi.iter_mut().zip(x) {
        *a = Complex64::new(v / norm, 0.0);
    }
    norm
}

/// Backward of [`amplitude_encode`]: given ψ0 (its output), its norm and g = ∂L/∂ψ0 (real
/// parts, = 2·Re(λ0)), **accumulates** ∂L/∂x = (g − ψ0·⟨ψ0, g⟩)/‖x‖_ε into `gx` (d).
pub fn amplitude_encode_backward(psi0: &[Complex64], norm: f64, g: &[f64], gx: &mut [f64]) {
    let d = gx.len();
    let dot: f64 = psi0[..d].iter().zip(&g[..d]).map(|(p, gv)| p.re * gv).sum();
    for ((o, p), gv) in gx.iter_mut().zip(&psi0[..d]).zip(&g[..d]) {
        *o += (gv - p.re * dot) / norm;
    }
}

/// The marginal distribution of the first `m` of `n` wires: q (2^m).
pub fn marginal_probs(psi: &[Complex64], n: usize, m: usize, q: &mut [f64]) {
    assert!(
        m <= n && q.len() == 1 << m && psi.len() == 1 << n,
        "marginal_probs: shapes"
    );
    let block = 1usize << (n - m);
    for (qj, b) in q.iter_mut().zip(psi.chunks_exact(block)) {
        *qj = b.iter().map(|a| a.norm_sqr()).sum();
    }
}

/// λ = O·ψ for the loss gradient gq = ∂L/∂q of [`marginal_probs`] (O = diag(gq) broadcast
/// over each block of 2^(n−m) amplitudes): the starting adjoint of the backward sweep.
pub fn marginal_probs_backward(
    psi: &[Complex64],
    n: usize,
    m: usize,
    gq: &[f64],
    lam: &mut [Complex64],
) {
    assert!(
        m <= n && gq.len() == 1 << m && lam.len() == psi.len(),
        "marginal_probs_backward: shapes"
    );
    let block = 1usize << (n - m);
    for ((lb, pb), &g) in lam
        .chunks_exact_mut(block)
        .zip(psi.chunks_exact(block))
        .zip(gq)
    {
        for (l, p) in lb.iter_mut().zip(pb) {
            *l = p * g;
        }
    }
}

/// `StronglyEntanglingLayers` on M wires (see the [module docs](self)): weights (L, M, 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntanglingLayers {
    /// M: wires the layers act on (wires 0..M of the state)
    pub n_wires: usize,
    /// r_l: the CNOT range of each layer (L entries)
    pub ranges: Vec<usize>,
}

impl EntanglingLayers {
    /// L layers on M wires with PennyLane's default ranges r_l = (l mod (M − 1)) + 1.
    pub fn new(n_wires: usize, n_layers: usize) -> Self {
        let ranges = (0..n_layers)
            .map(|l| {
                if n_wires > 1 {
                    l % (n_wires - 1) + 1
                } else {
                    0
                }
            })
            .collect();
        Self { n_wires, ranges }
    }

    /// L: layers.
    pub fn n_layers(&self) -> usize {
        self.ranges.len()
    }

    /// 3·L·M weights.
    pub fn n_params(&self) -> usize {
        3 * self.n_layers() * self.n_wires
    }

    fn cnots(&self, psi: &mut [Complex64], n: usize, l: usize, reverse: bool) {
        let m = self.n_wires;
        if m < 2 {
            return;
        }
        let r = self.ranges[l];
        let mut apply = |i: usize| cnot(psi, n, i, (i + r) % m);
        if reverse {
            (0..m).rev().for_each(&mut apply);
        } else {
            (0..m).for_each(&mut apply);
        }
    }

    /// Applies the layers with weights `w` (L·M·3, row-major (l, i, k)) to the n-wire state
    /// `psi` in place. Panics on a length mismatch or M > n.
    pub fn forward(&self, w: &[f64], psi: &mut [Complex64], n: usize) {
        assert!(
            w.len() == self.n_params() && self.n_wires <= n && psi.len() == 1 << n,
            "EntanglingLayers::forward: shapes"
        );
        for l in 0..self.n_layers() {
            for i in 0..self.n_wires {
                let a = &w[3 * (l * self.n_wires + i)..][..3];
                rotate(psi, n, i, Axis::Z, a[0], false);
                rotate(psi, n, i, Axis::Y, a[1], false);
                rotate(psi, n, i, Axis::Z, a[2], false);
            }
            self.cnots(psi, n, l, false);
        }
    }

    /// Adjoint backward: `psi` is the final state (it is returned to the initial one), `lam`
    /// the adjoint O·ψ (it becomes λ at the start: ∂L/∂ψ0 = 2·Re(λ)); **accumulates** ∂L/∂W
    /// into `dw` (L·M·3).
    pub fn backward(
        &self,
        w: &[f64],
        psi: &mut [Complex64],
        lam: &mut [Complex64],
        n: usize,
        dw: &mut [f64],
    ) {
        assert!(
            dw.len() == self.n_params() && lam.len() == psi.len(),
            "EntanglingLayers::backward: shapes"
        );
        for l in (0..self.n_layers()).rev() {
            // CNOTs are self-inverse permutations: undo them on both vectors
            self.cnots(psi, n, l, true);
            self.cnots(lam, n, l, true);
            for i in (0..self.n_wires).rev() {
                let base = 3 * (l * self.n_wires + i);
                for (k, axis) in [(2, Axis::Z), (1, Axis::Y), (0, Axis::Z)] {
                    dw[base + k] += im_lam_p_psi(lam, psi, n, i, axis);
                    rotate(psi, n, i, axis, w[base + k], true);
                    rotate(lam, n, i, axis, w[base + k], true);
                }
            }
        }
    }
}

/// Quantum-Train's circuit (see the [module docs](self)): `n_blocks` blocks of RY on all
/// `n_wires` wires followed by an open CNOT chain; angles φ (n_blocks, n_wires) row-major.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RyChain {
    /// N: wires
    pub n_wires: usize,
    /// B: blocks
    pub n_blocks: usize,
}

impl RyChain {
    /// B·N angles.
    pub fn n_params(&self) -> usize {
        self.n_wires * self.n_blocks
    }

    /// The final state from |0…0⟩ into `psi` (2^N). Panics on a length mismatch.
    pub fn forward(&self, phi: &[f64], psi: &mut [Complex64]) {
        let n = self.n_wires;
        assert!(
            phi.len() == self.n_params() && psi.len() == 1 << n,
            "RyChain::forward: shapes"
        );
        psi.fill(Complex64::new(0.0, 0.0));
        psi[0] = Complex64::new(1.0, 0.0);
        for b in 0..self.n_blocks {
            for q in 0..n {
                ry(psi, n, q, phi[b * n + q]);
            }
            for q in 0..n.saturating_sub(1) {
                cnot(psi, n, q, q + 1);
            }
        }
    }

    /// Adjoint backward from the final state `psi` (returned to |0…0⟩) and λ = O·ψ
    /// ([`marginal_probs_backward`]); **accumulates** ∂L/∂φ into `dphi`.
    pub fn backward(
        &self,
        phi: &[f64],
        psi: &mut [Complex64],
        lam: &mut [Complex64],
        dphi: &mut [f64],
    ) {
        let n = self.n_wires;
        assert!(
            dphi.len() == self.n_params() && lam.len() == psi.len(),
            "RyChain::backward: shapes"
        );
        for b in (0..self.n_blocks).rev() {
            for q in (0..n.saturating_sub(1)).rev() {
                cnot(psi, n, q, q + 1);
                cnot(lam, n, q, q + 1);
            }
            for q in (0..n).rev() {
                dphi[b * n + q] += im_lam_p_psi(lam, psi, n, q, Axis::Y);
                rotate(psi, n, q, Axis::Y, phi[b * n + q], true);
                rotate(lam, n, q, Axis::Y, phi[b * n + q], true);
            }
        }
    }
}
