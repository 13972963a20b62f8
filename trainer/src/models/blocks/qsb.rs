//! `QuantumSuperpositionBranches`, QSSM flavour (reference `models/QuantumSSM.py`, spec §2.3),
//! used by 1b and 1c: three unified-ansatz circuits on Q qubits with a shared RY data encoding
//! e = tanh(input_proj(s))·π and raw angles θ_k = proj_k(s); output
//! `concat(|ᾱ|·m₁, |β̄|·m₂, |γ̄|·m₃)` (3·3Q values) with `c̄ = c/√(|α|²+|β|²+|γ|²+1e-8)`.
//! Expectation values are f64 (complex128 state), weighted in f64, then cast to f32 as the
//! reference's `.float()`.
use super::linear::Linear;
use crate::params::{default_uniform, Init, ParamLayout};
use num_complex::Complex64;
use qssm_kernels::circuit::{circuit_backward, circuit_forward, Program};
use std::ops::Range;

const PI_F32: f32 = std::f32::consts::PI;
const NORM_EPS: f32 = 1e-8;

/// The QSSM-flavour branch block over input features of width F.
#[derive(Clone, Debug)]
pub struct QsbQssm {
    /// (real, imag) ranges of alpha, beta, gamma
    coeffs: [(Range<usize>, Range<usize>); 3],
    proj: [Linear; 3],
    input_proj: Linear,
    program: Program,
    q: usize,
    k: usize,
}

/// Activations saved by [`QsbQssm::forward`] for nc chunk summaries.
#[derive(Clone, Debug, Default)]
pub struct QsbCache {
    /// tanh(input_proj(s)) (nc, Q)
    tanh_e: Vec<f32>,
    /// e (nc, Q)
    e: Vec<f32>,
    /// θ_k (3, nc, K)
    theta: [Vec<f32>; 3],
    /// final states (3, nc, 2^Q)
    psi: Vec<Complex64>,
    /// expectation values (3, nc, 3Q)
    m: Vec<f64>,
    /// branch weights |c̄_k|
    w: [f32; 3],
}

impl QsbQssm {
    /// Registers `<prefix>{alpha,beta,gamma}_{real,imag}`, `proj{1,2,3}`, `input_proj` for
    /// `n_qubits` qubits and `n_layers` ansatz layers (K = 5·Q·layers angles per circuit).
    pub fn new(
        lay: &mut ParamLayout,
        prefix: &str,
        f: usize,
        n_qubits: usize,
        n_layers: usize,
    ) -> Self {
        let mut reals = Vec::new();
        for c in ["alpha", "beta", "gamma"] {
            reals.push(lay.add(format!("{prefix}{c}_real"), &[1], Init::Uniform(0.25, 0.75)));
        }
        let mut coeffs = Vec::new();
        for (c, re) in ["alpha", "beta", "gamma"].iter().zip(reals) {
            coeffs.push((
                re,
                lay.add(format!("{prefix}{c}_imag"), &[1], Init::Const(0.0)),
            ));
        }
        let k = 5 * n_qubits * n_layers;
        let proj = [1, 2, 3].map(|i| Linear::new(lay, &format!("{prefix}proj{i}"), f, k, true));
        let input_proj = Linear::with_init(
            lay,
            &format!("{prefix}input_proj"),
            f,
            n_qubits,
            true,
            default_uniform(f),
            default_uniform(f),
        );
        let program = Program::unified_ansatz(n_qubits, n_layers, true);
        let coeffs: [(Range<usize>, Range<usize>); 3] =
            coeffs.try_into().expect("three coefficients");
        Self {
            coeffs,
            proj,
            input_proj,
            program,
            q: n_qubits,
            k,
        }
    }

    /// Output width 3·3Q (54 for Q = 6).
    pub fn out_dim(&self) -> usize {
        9 * self.q
    }

    fn weights(&self, p: &[f32]) -> ([f32; 3], f32) {
        let mags = self.coeffs.clone().map(|(re, im)| {
            let (r, i) = (p[re.start], p[im.start]);
            (r * r + i * i).sqrt()
        });
        let n = (mags.iter().map(|a| a * a).sum::<f32>() + NORM_EPS).sqrt();
        (mags.map(|a| a / n), n)
    }

    /// s (nc, F) → out (nc, 3·3Q).
    pub fn forward(&self, p: &[f32], s: &[f32], nc: usize, c: &mut QsbCache) -> Vec<f32> {
        let (q, k, dim) = (self.q, self.k, 1usize << self.q);
        let e_pre = self.input_proj.apply(p, s, nc);
        c.tanh_e = e_pre.iter().map(|v| v.tanh()).collect();
        c.e = c.tanh_e.iter().map(|t| t * PI_F32).collect();
        c.theta = [0, 1, 2].map(|b| self.proj[b].apply(p, s, nc));
        c.psi = vec![Complex64::new(0.0, 0.0); 3 * nc * dim];
        c.m = vec![0.0; 3 * nc * 3 * q];
        for b in 0..3 {
            for j in 0..nc {
                let idx = b * nc + j;
                circuit_forward(
                    &self.program,
                    &c.theta[b][j * k..(j + 1) * k],
                    &c.e[j * q..(j + 1) * q],
                    &mut c.psi[idx * dim..(idx + 1) * dim],
                    &mut c.m[idx * 3 * q..(idx + 1) * 3 * q],
                );
            }
        }
        c.w = self.weights(p).0;
        let mut out = vec![0.0f32; nc * 9 * q];
        for j in 0..nc {
            for b in 0..3 {
                let m = &c.m[(b * nc + j) * 3 * q..(b * nc + j + 1) * 3 * q];
                for (i, mv) in m.iter().enumerate() {
                    out[j * 9 * q + b * 3 * q + i] = (c.w[b] as f64 * mv) as f32;
                }
            }
        }
        out
    }

    /// Backward: accumulates parameter gradients into `g` and ds (nc, F).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        s: &[f32],
        nc: usize,
        c: &QsbCache,
        dout: &[f32],
        ds: &mut [f32],
    ) {
        let (q, k, dim) = (self.q, self.k, 1usize << self.q);
        let mut dw = [0.0f64; 3];
        let mut de = vec![0.0f64; nc * q];
        let mut scratch = vec![Complex64::new(0.0, 0.0); 2 * dim];
        let mut dm = vec![0.0f64; 3 * q];
        let mut dth = vec![0.0f64; k];
        for b in 0..3 {
            let mut dtheta = vec![0.0f32; nc * k];
            for j in 0..nc {
                let idx = b * nc + j;
                let m = &c.m[idx * 3 * q..(idx + 1) * 3 * q];
                for i in 0..3 * q {
                    let go = dout[j * 9 * q + b * 3 * q + i] as f64;
                    dw[b] += go * m[i];
                    dm[i] = go * c.w[b] as f64;
                }
                dth.iter_mut().for_each(|v| *v = 0.0);
                circuit_backward(
                    &self.program,
                    &c.theta[b][j * k..(j + 1) * k],
                    &c.e[j * q..(j + 1) * q],
                    &c.psi[idx * dim..(idx + 1) * dim],
                    &dm,
                    &mut dth,
                    &mut de[j * q..(j + 1) * q],
                    &mut scratch,
                );
                dtheta[j * k..(j + 1) * k]
                    .iter_mut()
                    .zip(&dth)
                    .for_each(|(a, b)| *a = *b as f32);
            }
            self.proj[b].backward(p, g, s, &dtheta, nc, Some(ds));
        }
        let de_pre: Vec<f32> = de
            .iter()
            .zip(&c.tanh_e)
            .map(|(d, t)| (*d as f32) * PI_F32 * (1.0 - t * t))
            .collect();
        self.input_proj.backward(p, g, s, &de_pre, nc, Some(ds));
        // w_b = a_b/n, a_b = |c_b| = √(r²+i²), n = √(Σ a² + ε):
        // ∂w_b/∂x_j = δ_bj·x_j/(a_j·n) − a_b·x_j/n³  (x = r or i; ∂|c|/∂x at |c| = 0 taken as 0)
        let (w, n) = self.weights(p);
        let n = n as f64;
        let sum_dw_a: f64 = (0..3).map(|b| dw[b] * w[b] as f64 * n).sum();
        for (j, (re, im)) in self.coeffs.iter().enumerate() {
            let a = w[j] as f64 * n;
            for r in [re.start, im.start] {
                let x = p[r] as f64;
                let direct = if a > 0.0 { dw[j] * x / (a * n) } else { 0.0 };
                g[r] += (direct - sum_dw_a * x / (n * n * n)) as f32;
            }
        }
    }
}
