//! `QuantumSuperpositionBranches`, QGR flavour (reference `models/QuantumGatedRecurrence.py`;
//! spec circuits-and-groups-1-3 §2.4 and gated-and-protocols §1.3–1.4), per sample, used by the
//! gated models (1a runs the batched `nn::Branches::qgr`): three circuits without data encoding
//! whose angles are
//! θ_k = 2π·σ(proj_k(s) + base_params_k) ∈ (0, 2π), expectation values m_k cast to f32, and
//! the output `|ᾱ·m₁ + β̄·m₂ + γ̄·m₃|` (elementwise complex modulus, 3Q values, ≥ 0) with
//! `c̄ = c/√(|α|²+|β|²+|γ|²+1e-9)`. The modulus has derivative 0 at 0 (PyTorch's `sgn`).
//!
//! Works on `rows` independent inputs at once (time steps in the gated
//! models).
//! Tested against the reference through the gated models (`tests/parity_gated.rs`: fixtures
//! `mg`/`hg`, including `branch_global.{proj,branch}{1,2,3}`, and the small-model goldens).
use super::linear::Linear;
use crate::params::{Init, ParamLayout};
use num_complex::Complex64;
use qssm_kernels::circuit::{circuit_backward, circuit_forward, Program};
use std::ops::Range;

const TWO_PI_F32: f32 = 2.0 * std::f32::consts::PI;
const NORM_EPS: f32 = 1e-9;

/// The QGR-flavour branch block over input features of width F.
#[derive(Clone, Debug)]
pub struct QsbQgr {
    /// (real, imag) ranges of alpha, beta, gamma
    coeffs: [(Range<usize>, Range<usize>); 3],
    proj: [Linear; 3],
    base: [Range<usize>; 3],
    program: Program,
    q: usize,
    k: usize,
}

/// Activations saved by [`QsbQgr::forward`] for `rows` inputs.
#[derive(Clone, Debug, Default)]
pub struct QsbQgrCache {
    /// σ(proj_k(s) + base_k) (3, rows, K)
    sig: [Vec<f32>; 3],
    /// θ_k (3, rows, K)
    theta: [Vec<f32>; 3],
    /// final states (3, rows, 2^Q)
    psi: Vec<Complex64>,
    /// expectation values cast to f32 (3, rows, 3Q)
    m: Vec<f32>,
    /// real and imaginary parts of the combination (rows, 3Q)
    re: Vec<f32>,
    im: Vec<f32>,
    /// output (rows, 3Q)
    out: Vec<f32>,
    /// normalised coefficients c̄_k (re, im)
    cbar: [(f32, f32); 3],
}

impl QsbQgr {
    /// Registers `<prefix>{alpha,beta,gamma}_{real,imag}`, `proj{1,2,3}`,
    /// `branch{1,2,3}.base_params` for the circuit `program` (no encoding gates;
    /// K = `program.n_theta`).
    pub fn new(lay: &mut ParamLayout, prefix: &str, f: usize, program: Program) -> Self {
        assert_eq!(
            program.n_enc, 0,
            "the QGR flavour has no data-encoding gates"
        );
        // state_dict order of the reference: alpha_real, alpha_imag, beta_real, beta_imag, …
        let coeffs = ["alpha", "beta", "gamma"].map(|c| {
            let re = lay.add(format!("{prefix}{c}_real"), &[1], Init::Uniform(0.0, 1.0));
            let im = lay.add(format!("{prefix}{c}_imag"), &[1], Init::Const(0.0));
            (re, im)
        });
        let k = program.n_theta;
        let proj = [1, 2, 3].map(|i| Linear::new(lay, &format!("{prefix}proj{i}"), f, k, true));
        let base = [1, 2, 3].map(|i| {
            lay.add(
                format!("{prefix}branch{i}.base_params"),
                &[k],
                Init::Uniform(0.0, TWO_PI_F32),
            )
        });
        let q = program.n_qubits;
        Self {
            coeffs,
            proj,
            base,
            program,
            q,
            k,
        }
    }

    /// Output width 3Q.
    pub fn out_dim(&self) -> usize {
        3 * self.q
    }

    /// Named per-branch intermediates of a forward over `rows` inputs `s` (rows, F) with cache
    /// `c`, as the reference's submodules report them: `<prefix>proj{k}` = proj_k(s) (rows, K)
    /// and `<prefix>branch{k}` = m_k (rows, 3Q), k = 1, 2, 3 (the QGR flavour's
    /// `QuantumSuperpositionBranches.proj*` / `.branch*`).
    pub fn trace(
        &self,
        p: &[f32],
        s: &[f32],
        rows: usize,
        c: &QsbQgrCache,
        prefix: &str,
    ) -> Vec<(String, Vec<f32>)> {
        let w = 3 * self.q;
        let mut out = Vec::with_capacity(6);
        for b in 0..3 {
            out.push((
                format!("{prefix}proj{}", b + 1),
                self.proj[b].apply(p, s, rows),
            ));
        }
        for b in 0..3 {
            out.push((
                format!("{prefix}branch{}", b + 1),
                c.m[b * rows * w..(b + 1) * rows * w].to_vec(),
            ));
        }
        out
    }

    /// c̄_k (re, im) and the norm n.
    fn cbar(&self, p: &[f32]) -> ([(f32, f32); 3], f32) {
        let raw = self
            .coeffs
            .clone()
            .map(|(re, im)| (p[re.start], p[im.start]));
        let n = (raw.iter().map(|(r, i)| r * r + i * i).sum::<f32>() + NORM_EPS).sqrt();
        (raw.map(|(r, i)| (r / n, i / n)), n)
    }

    /// s (rows, F) → out (rows, 3Q).
    pub fn forward(&self, p: &[f32], s: &[f32], rows: usize, c: &mut QsbQgrCache) -> Vec<f32> {
        let (q, k, dim) = (self.q, self.k, 1usize << self.q);
        c.psi = vec![Complex64::new(0.0, 0.0); 3 * rows * dim];
        c.m = vec![0.0; 3 * rows * 3 * q];
        let mut m64 = vec![0.0f64; 3 * q];
        for b in 0..3 {
            let pre = self.proj[b].apply(p, s, rows);
            let base = &p[self.base[b].clone()];
            c.sig[b] = pre
                .chunks_exact(k)
                .flat_map(|row| {
                    row.iter()
                        .zip(base)
                        .map(|(a, bb)| 1.0 / (1.0 + (-(a + bb)).exp()))
                })
                .collect();
            c.theta[b] = c.sig[b].iter().map(|v| v * TWO_PI_F32).collect();
            for j in 0..rows {
                let idx = b * rows + j;
                circuit_forward(
                    &self.program,
                    &c.theta[b][j * k..(j + 1) * k],
                    &[],
                    &mut c.psi[idx * dim..(idx + 1) * dim],
                    &mut m64,
                );
                c.m[idx * 3 * q..(idx + 1) * 3 * q]
                    .iter_mut()
                    .zip(&m64)
                    .for_each(|(a, v)| *a = *v as f32);
            }
        }
        c.cbar = self.cbar(p).0;
        let w = 3 * q;
        c.re = vec![0.0; rows * w];
        c.im = vec![0.0; rows * w];
        for b in 0..3 {
            let (cr, ci) = c.cbar[b];
            for j in 0..rows {
                let m = &c.m[(b * rows + j) * w..(b * rows + j + 1) * w];
                let re = &mut c.re[j * w..(j + 1) * w];
                let im = &mut c.im[j * w..(j + 1) * w];
                for ((r, i), &mv) in re.iter_mut().zip(im.iter_mut()).zip(m) {
                    *r += cr * mv;
                    *i += ci * mv;
                }
            }
        }
        c.out =
            c.re.iter()
                .zip(&c.im)
                .map(|(r, i)| (r * r + i * i).sqrt())
                .collect();
        c.out.clone()
    }

    /// Backward: accumulates parameter gradients into `g` and ds (rows, F).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        s: &[f32],
        rows: usize,
        c: &QsbQgrCache,
        dout: &[f32],
        ds: &mut [f32],
    ) {
        let (q, k, dim) = (self.q, self.k, 1usize << self.q);
        let w = 3 * q;
        // d out / d (re, im): (re, im)/|·|, 0 at 0
        let mut dre = vec![0.0f32; rows * w];
        let mut dim_ = vec![0.0f32; rows * w];
        for i in 0..rows * w {
            if c.out[i] > 0.0 {
                dre[i] = dout[i] * c.re[i] / c.out[i];
                dim_[i] = dout[i] * c.im[i] / c.out[i];
            }
        }
        let mut dcbar = [(0.0f32, 0.0f32); 3];
        let mut scratch = vec![Complex64::new(0.0, 0.0); 2 * dim];
        let mut dm = vec![0.0f64; w];
        let mut dth = vec![0.0f64; k];
        for b in 0..3 {
            let (cr, ci) = c.cbar[b];
            let mut dpre = vec![0.0f32; rows * k];
            for j in 0..rows {
                let idx = b * rows + j;
                let m = &c.m[idx * w..(idx + 1) * w];
                for i in 0..w {
                    dcbar[b].0 += dre[j * w + i] * m[i];
                    dcbar[b].1 += dim_[j * w + i] * m[i];
                    dm[i] = (cr * dre[j * w + i] + ci * dim_[j * w + i]) as f64;
                }
                dth.iter_mut().for_each(|v| *v = 0.0);
                let mut no_enc: [f64; 0] = [];
                circuit_backward(
                    &self.program,
                    &c.theta[b][j * k..(j + 1) * k],
                    &[],
                    &c.psi[idx * dim..(idx + 1) * dim],
                    &dm,
                    &mut dth,
                    &mut no_enc,
                    &mut scratch,
                );
                for t in 0..k {
                    let sg = c.sig[b][j * k + t];
                    dpre[j * k + t] = dth[t] as f32 * TWO_PI_F32 * sg * (1.0 - sg);
                }
            }
            let gb = &mut g[self.base[b].clone()];
            for row in dpre.chunks_exact(k) {
                gb.iter_mut().zip(row).for_each(|(a, v)| *a += v);
            }
            self.proj[b].backward(p, g, s, &dpre, rows, Some(ds));
        }
        // c̄ = c/n, n = √(Σ c² + ε): ∂c̄_a/∂x_j = δ_aj/n − c_a·x_j/n³ over the six reals
        let (cb, n) = self.cbar(p);
        let proj_sum: f32 = (0..3)
            .map(|b| dcbar[b].0 * cb[b].0 * n + dcbar[b].1 * cb[b].1 * n)
            .sum();
        for (b, (re, im)) in self.coeffs.iter().enumerate() {
            for (r, d) in [(re.start, dcbar[b].0), (im.start, dcbar[b].1)] {
                g[r] += d / n - proj_sum * p[r] / (n * n * n);
            }
        }
    }
}
