//! The quantum projection QProj(d_in → d_out) of the HQC Mamba (spec hqc-mamba-and-quantum-train
//! §3.4, readout R1), for one token x (d_in):
//!
//! 1. n_in = ⌈log2 d_in⌉, m = ⌈log2 d_out⌉, n = max(n_in, m) qubits;
//! 2. ψ0 = amplitude encoding of x on n qubits (zero-padded, ε-norm; [`amplitude_encode`]);
//! 3. ψ = `StronglyEntanglingLayers`(W) ψ0, W (L, n, 3) ([`EntanglingLayers`]);
//! 4. q = the marginal probabilities of wires 0..m−1, the first d_out of them kept;
//! 5. u_j = 2^m·q_j − 1 (a uniform distribution gives 0);
//! 6. ρ = ‖x‖_ε / √d_in, the input RMS (`rescale`; 1 without it);
//! 7. y_j = ρ·γ_j·u_j + β_j ([`Affine::PerOutput`]; one γ, β for all outputs with
//!    [`Affine::Scalar`]; y = ρ·u with [`Affine::None`]).
//!
//! The backward is the adjoint method through the circuit and the normalisation (spec §2.5):
//! ∂L/∂q_j = 2^m·ρ·γ_j·∂L/∂y_j, λ = diag(∂L/∂p)·ψ, the reverse sweep accumulates ∂L/∂W, and
//! ∂L/∂x = the amplitude encoding's backward of 2·Re(λ0), plus the ρ path
//! (∂ρ/∂x_i = x_i / (‖x‖_ε·√d_in)). Everything runs in f64 from f32 inputs and parameters.
use super::entangling::{
    amplitude_encode, amplitude_encode_backward, marginal_probs, marginal_probs_backward,
    EntanglingLayers,
};
use alloc::vec;
use alloc::vec::Vec;
use num_complex::Complex64;

/// The learnable output affine of a [`QProj`] (spec §3.4 step 7, flag `affine`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affine {
    /// γ, β per output (d_out each; the default)
    PerOutput,
    /// one γ and one β for every output
    Scalar,
    /// none: y = ρ·u
    None,
}

impl Affine {
    /// Number of γ (and of β) values for `d_out` outputs.
    pub fn len(self, d_out: usize) -> usize {
        match self {
            Self::PerOutput => d_out,
            Self::Scalar => 1,
            Self::None => 0,
        }
    }

    /// The name a model card records (`architecture.qproj.affine`): `per_output`, `scalar`,
    /// `none`.
    pub fn card_name(self) -> &'static str {
        match self {
            Self::PerOutput => "per_output",
            Self::Scalar => "scalar",
            Self::None => "none",
        }
    }

    /// The affine a card names ([`Self::card_name`]); `None` for any other name.
    pub fn from_card_name(name: &str) -> Option<Self> {
        [Self::PerOutput, Self::Scalar, Self::None]
            .into_iter()
            .find(|a| a.card_name() == name)
    }
}

/// One quantum projection's shape and options (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QProj {
    /// d_in: input width
    pub d_in: usize,
    /// d_out: output width
    pub d_out: usize,
    /// n: qubits of the register
    pub n: usize,
    /// m: wires read out (2^m ≥ d_out)
    pub m: usize,
    /// the circuit on all n wires
    pub layers: EntanglingLayers,
    /// the output affine
    pub affine: Affine,
    /// whether the outputs are scaled by the input RMS ρ
    pub rescale: bool,
}

/// ⌈log2 v⌉ for v ≥ 1 (0 for v = 1).
fn ceil_log2(v: usize) -> usize {
    v.max(1).next_power_of_two().trailing_zeros() as usize
}

/// Per-task scratch of [`QProj::forward`] / [`QProj::backward`] (allocated once, reused for
/// every row).
pub struct QProjScratch {
    psi: Vec<Complex64>,
    lam: Vec<Complex64>,
    q: Vec<f64>,
    gq: Vec<f64>,
    gpsi: Vec<f64>,
    gx: Vec<f64>,
    x: Vec<f64>,
    w: Vec<f64>,
}

/// Caller-owned buffers of one [`QProj::forward_in`] (lengths [`QProj::buffer_lens`]).
pub struct QProjBuffers<'a> {
    /// the state vector (2^n amplitudes)
    pub psi: &'a mut [Complex64],
    /// the marginal probabilities (2^m)
    pub q: &'a mut [f64],
    /// the input in f64 (d_in)
    pub x: &'a mut [f64],
    /// the circuit weights in f64 (3·L·n)
    pub w: &'a mut [f64],
}

impl QProj {
    /// QProj(d_in → d_out) with `n_layers` entangling layers. Panics if d_in or d_out is 0.
    pub fn new(d_in: usize, d_out: usize, n_layers: usize, affine: Affine, rescale: bool) -> Self {
        assert!(d_in > 0 && d_out > 0, "QProj: empty input or output");
        let m = ceil_log2(d_out);
        let n = ceil_log2(d_in).max(m).max(1);
        Self {
            d_in,
            d_out,
            n,
            m,
            layers: EntanglingLayers::new(n, n_layers),
            affine,
            rescale,
        }
    }

    /// Circuit weights: 3·L·n.
    pub fn n_weights(&self) -> usize {
        self.layers.n_params()
    }

    /// Scratch for one task.
    pub fn scratch(&self) -> QProjScratch {
        let s = 1usize << self.n;
        QProjScratch {
            psi: vec![Complex64::new(0.0, 0.0); s],
            lam: vec![Complex64::new(0.0, 0.0); s],
            q: vec![0.0; 1 << self.m],
            gq: vec![0.0; 1 << self.m],
            gpsi: vec![0.0; s],
            gx: vec![0.0; self.d_in],
            x: vec![0.0; self.d_in],
            w: vec![0.0; self.n_weights()],
        }
    }

    /// γ_j and β_j of output j.
    fn affine_at(&self, gamma: &[f32], beta: &[f32], j: usize) -> (f64, f64) {
        match self.affine {
            Affine::PerOutput => (gamma[j] as f64, beta[j] as f64),
            Affine::Scalar => (gamma[0] as f64, beta[0] as f64),
            Affine::None => (1.0, 0.0),
        }
    }

    /// Runs the circuit on x: leaves ψ_L in `s.psi`, q in `s.q`; returns (‖x‖_ε, ρ).
    fn run(&self, x: &[f32], w: &[f32], s: &mut QProjScratch) -> (f64, f64) {
        let b = QProjBuffers {
            psi: &mut s.psi,
            q: &mut s.q,
            x: &mut s.x,
            w: &mut s.w,
        };
        self.run_in(x, w, b)
    }

    /// [`Self::run`] in caller buffers.
    fn run_in(&self, x: &[f32], w: &[f32], b: QProjBuffers<'_>) -> (f64, f64) {
        for (a, &v) in b.x.iter_mut().zip(x) {
            *a = v as f64;
        }
        for (a, &v) in b.w.iter_mut().zip(w) {
            *a = v as f64;
        }
        let norm = amplitude_encode(b.x, b.psi);
        self.layers.forward(b.w, b.psi, self.n);
        marginal_probs(b.psi, self.n, self.m, b.q);
        let rho = if self.rescale {
            norm / libm::sqrt(self.d_in as f64)
        } else {
            1.0
        };
        (norm, rho)
    }

    /// Lengths of the [`QProjBuffers`] of [`Self::forward_in`]: (ψ amplitudes 2^n, q 2^m,
    /// x d_in, w 3·L·n).
    pub fn buffer_lens(&self) -> (usize, usize, usize, usize) {
        (1 << self.n, 1 << self.m, self.d_in, self.n_weights())
    }

    /// y (d_out) from x (d_in), circuit weights `w` (3·L·n) and the affine's γ, β
    /// ([`Affine::len`] each), in caller buffers `b` (lengths [`Self::buffer_lens`]): allocates
    /// nothing, so a streaming engine can carve the buffers out of its scratch; [`Self::forward`]
    /// is this with the buffers of a [`QProjScratch`]. Method: the module docs (spec
    /// hqc-mamba-and-quantum-train §3.4). Panics on a length mismatch.
    pub fn forward_in(
        &self,
        x: &[f32],
        w: &[f32],
        gamma: &[f32],
        beta: &[f32],
        y: &mut [f32],
        b: QProjBuffers<'_>,
    ) {
        let (np, nq, nx, nw) = self.buffer_lens();
        assert!(
            x.len() == self.d_in && y.len() == self.d_out && w.len() == nw,
            "QProj::forward_in: shapes"
        );
        assert!(
            b.psi.len() == np && b.q.len() == nq && b.x.len() == nx && b.w.len() == nw,
            "QProj::forward_in: buffers"
        );
        let (_, rho) = self.run_in(x, w, QProjBuffers { q: &mut *b.q, ..b });
        self.readout(gamma, beta, rho, b.q, y);
    }

    /// y_j = ρ·γ_j·(2^m·q_j − 1) + β_j.
    fn readout(&self, gamma: &[f32], beta: &[f32], rho: f64, q: &[f64], y: &mut [f32]) {
        let scale = (1usize << self.m) as f64;
        for (j, yj) in y.iter_mut().enumerate() {
            let (g, b) = self.affine_at(gamma, beta, j);
            *yj = (rho * g * (scale * q[j] - 1.0) + b) as f32;
        }
    }

    /// y (d_out) from x (d_in), circuit weights `w` (3·L·n) and the affine's γ, β
    /// ([`Affine::len`] each), in the task's scratch ([`Self::forward_in`]). Panics on a length
    /// mismatch.
    pub fn forward(
        &self,
        x: &[f32],
        w: &[f32],
        gamma: &[f32],
        beta: &[f32],
        y: &mut [f32],
        s: &mut QProjScratch,
    ) {
        let b = QProjBuffers {
            psi: &mut s.psi,
            q: &mut s.q,
            x: &mut s.x,
            w: &mut s.w,
        };
        self.forward_in(x, w, gamma, beta, y, b);
    }

    /// Backward of [`Self::forward`] for dy (d_out): **accumulates** ∂L/∂x into `dx` (d_in, if
    /// given), ∂L/∂W into `dw` (3·L·n), ∂L/∂γ and ∂L/∂β into `dgamma`, `dbeta`
    /// ([`Affine::len`] each).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        x: &[f32],
        w: &[f32],
        gamma: &[f32],
        beta: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        dw: &mut [f64],
        dgamma: &mut [f64],
        dbeta: &mut [f64],
        s: &mut QProjScratch,
    ) {
        assert!(
            dy.len() == self.d_out && dw.len() == self.n_weights(),
            "QProj::backward: shapes"
        );
        let (norm, rho) = self.run(x, w, s);
        let scale = (1usize << self.m) as f64;
        let mut drho = 0.0;
        s.gq.fill(0.0);
        for (j, &d) in dy.iter().enumerate() {
            let d = d as f64;
            let (g, _) = self.affine_at(gamma, beta, j);
            let u = scale * s.q[j] - 1.0;
            match self.affine {
                Affine::PerOutput => {
                    dgamma[j] += rho * u * d;
                    dbeta[j] += d;
                }
                Affine::Scalar => {
                    dgamma[0] += rho * u * d;
                    dbeta[0] += d;
                }
                Affine::None => {}
            }
            drho += g * u * d;
            s.gq[j] = scale * rho * g * d;
        }
        marginal_probs_backward(&s.psi, self.n, self.m, &s.gq, &mut s.lam);
        self.layers
            .backward(&s.w, &mut s.psi, &mut s.lam, self.n, dw);
        let Some(dx) = dx else { return };
        // s.psi is ψ0 again; ∂L/∂ψ0 = 2·Re(λ0)
        for (g, l) in s.gpsi.iter_mut().zip(&s.lam) {
            *g = 2.0 * l.re;
        }
        s.gx.fill(0.0);
        amplitude_encode_backward(&s.psi, norm, &s.gpsi, &mut s.gx);
        let drho_dx = if self.rescale {
            drho / (norm * libm::sqrt(self.d_in as f64))
        } else {
            0.0
        };
        for ((o, g), xi) in dx.iter_mut().zip(&s.gx).zip(&s.x) {
            *o += (g + drho_dx * xi) as f32;
        }
    }
}
