//! Group 2 sequence-mixing models (reference `models/QuantumMixingSSM.py`; spec groups-2-4
//! §3.1–3.3; trainer `models/zoo/{classical_quantum_attention,quantum_mixing_ssm}.rs`), eval
//! mode (dropout = identity), window-only:
//!
//! shared front-end: x (T, C) → e = `feature_extractor.embedding`(x_t) (T, D) → ChunkPool(16,
//! D/2) (`chunk_attention`; the last chunk's zero pad rows take part in the softmax) ⇒
//! s (nc, D), nc = ⌈T/16⌉; then
//!
//! * **2a** `ClassicalQuantumAttention`: per chunk θ_j = σ(`quantum_attention.param_proj`(s_j)),
//!   ψ_j = |0⟩ → U^L(θ_j); Φ = LCU(ψ; `mix_coeffs`) (w_j = m_j/(Σ|m_k| + 1e-8), Φ renormalised),
//!   q = M(Φ → U(`qff_params`)); o = LayerNorm(`output_norm`)(`quantum_attention.output_proj`(q));
//!   `mix_coeffs` (complex64 (nc,), stored (nc, 2) = (re, im)) fixes the window length;
//! * **2b** `ClassicalMambaQuantumSSM`: n_layers × (z ← z + QSSM_l(z, h)), the circuit state h
//!   carried from layer l's last chunk into layer l+1 (`quantum_ssm_layers.l`);
//! * **2c** `ClassicalHydraQuantumSSM`: n_layers × (z ← z + `out_proj`(a·f + b·g + c·`diagonal`(z))
//!   with f = QSSM_fwd(z), g = rev(QSSM_bwd(rev z)), (a, b, c) = (α, β, γ)/(|α|+|β|+|γ|+1e-8)
//!   (`quantum_hydra_layers.l`); 2b/2c end with mean_j LayerNorm(`output_norm`)(z_j);
//!
//! head `classifier`: Linear(D→D) → ReLU → Linear(D→K).
//!
//! QSSM(z, h₀) (`QuantumSSMCore`): ds_j = σ(mean softplus(`dt_proj`(`x_proj`(z_j)\[0:R\]))),
//! R = max(D/16, 1) (the rest of `x_proj` is computed and unused by the reference: loaded for
//! its shape only), u_j = π·tanh(`quantum_input_proj`(z_j)); sequentially
//! q_j = M(|0⟩ → E(h_{j−1}) → D^L(`circuit_params`; ds_j) → E(ds_j·u_j)), h_j = π·tanh(q_j\[Z\]);
//! y = `out_proj`(`quantum_output_proj`(q) + `D` ⊙ z). Circuits are compiled at load.
//!
//! None of them streams (2a: one LCU over the window's fixed chunk count; 2b: layer 1 starts
//! from layer 0's state after the last chunk; 2c: backward recurrences; spec §3.1–3.3), so the
//! card must say `causal = false`.
use super::circuit_card::{check_circuit, AnsatzRule};
use super::layers::{mean_over_rows, LayerNorm, Linear};
use super::statevec::MAX_QUBITS;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use num_complex::Complex64;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::circuit::superpose::{lcu_weights, superpose_forward};
use qssm_kernels::circuit::{apply_program, expvals_xyz, scale_rotation_angles, Program};
use qssm_kernels::ops::activation::{relu_forward, softplus_forward, tanh_forward};
use qssm_kernels::ops::chunk_pool::chunk_pool_forward;

/// Chunk size of the group-2 mixing models (constructor default, never passed by `create_model`).
pub(crate) const CHUNK_SIZE: usize = 16;

const PI_F32: f32 = core::f32::consts::PI;

/// Added to |α| + |β| + |γ| in 2c (reference constant).
const COEFF_EPS: f32 = 1e-8;

fn mismatch(what: String) -> EngineError {
    EngineError::Mismatch { what }
}

/// Logistic σ(x) = 1/(1 + e^{−x}) in f32 (the trainer's `sigmoid`).
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// Runs `prog` from |0…0⟩ with angles `theta` and encoding angles `enc`.
fn run_from_zero(prog: &Program, theta: &[f32], enc: &[f32]) -> Vec<Complex64> {
    let mut psi = vec![Complex64::new(0.0, 0.0); prog.state_len()];
    psi[0] = Complex64::new(1.0, 0.0);
    apply_program(prog, theta, enc, &mut psi);
    psi
}

/// ⟨X⟩, ⟨Y⟩, ⟨Z⟩ of every wire (3Q) of `psi`, f64 cast to f32 (reference `.float()`).
fn measure(psi: &[Complex64], q: usize) -> Vec<f32> {
    let mut m = [0.0f64; 3 * MAX_QUBITS];
    expvals_xyz(psi, q, &mut m[..3 * q]);
    m[..3 * q].iter().map(|&v| v as f32).collect()
}

/// Rows of a (L, d) matrix in reverse order.
fn reverse_rows(x: &[f32], d: usize) -> Vec<f32> {
    x.chunks_exact(d).rev().flatten().copied().collect()
}

/// The shared front-end: `feature_extractor.embedding`, `chunk_attention` (hidden D/2).
#[derive(Clone, Debug)]
struct Front {
    emb: Linear,
    att0: Linear,
    att2: Linear,
}

impl Front {
    fn load(ld: &mut Loader<'_, '_>, c: usize, d: usize) -> Result<Self, EngineError> {
        Ok(Self {
            emb: Linear::load(ld, "feature_extractor.embedding", c, d, true)?,
            att0: Linear::load(ld, "chunk_attention.0", d, d / 2, true)?,
            att2: Linear::load(ld, "chunk_attention.2", d / 2, 1, true)?,
        })
    }

    /// xt (T, C) → s (nc, D).
    fn apply(&self, xt: &[f32], t: usize, d: usize) -> Vec<f32> {
        let nc = t.div_ceil(CHUNK_SIZE);
        let rows = nc * CHUNK_SIZE;
        let e = self.emb.apply(xt, t);
        let mut up = vec![0.0; rows * d];
        up[..t * d].copy_from_slice(&e[..t * d]);
        let a1 = self.att0.apply(&up, rows);
        let mut t1 = vec![0.0; a1.len()];
        tanh_forward(&mut t1, &a1);
        let scores = self.att2.apply(&t1, rows);
        let mut wts = vec![0.0; rows];
        let mut s = vec![0.0; nc * d];
        chunk_pool_forward(&mut s, &mut wts, &up, &scores, nc, CHUNK_SIZE, d);
        s
    }
}

/// `classifier`: Linear(D→D) → ReLU → Linear(D→K).
#[derive(Clone, Debug)]
struct Head {
    l0: Linear,
    l3: Linear,
}

impl Head {
    fn load(ld: &mut Loader<'_, '_>, d: usize, k: usize) -> Result<Self, EngineError> {
        Ok(Self {
            l0: Linear::load(ld, "classifier.0", d, d, true)?,
            l3: Linear::load(ld, "classifier.3", d, k, true)?,
        })
    }

    fn apply(&self, x: &[f32]) -> Vec<f32> {
        let pre = self.l0.apply(x, 1);
        let mut h = vec![0.0; pre.len()];
        relu_forward(&mut h, &pre);
        self.l3.apply(&h, 1)
    }
}

/// One `QuantumSSMCore` (see the module docs).
#[derive(Clone, Debug)]
struct Qssm {
    circuit_params: Vec<f32>,
    d_skip: Vec<f32>,
    x_proj: Linear,
    dt_proj: Linear,
    in_proj: Linear,
    out_q: Linear,
    out_proj: Linear,
    /// E(h) · D^L · E(ds·u)
    prog: Program,
    d: usize,
    q: usize,
    /// dt_rank R
    r: usize,
}

impl Qssm {
    fn load(
        ld: &mut Loader<'_, '_>,
        pre: &str,
        d: usize,
        n: usize,
        q: usize,
        layers: usize,
    ) -> Result<Self, EngineError> {
        let r = (d / 16).max(1);
        let circuit_params = ld.take(&format!("{pre}.circuit_params"), &[5 * q * layers])?;
        let d_skip = ld.take(&format!("{pre}.D"), &[d])?;
        let x_proj = Linear::load(ld, &format!("{pre}.x_proj"), d, r + 2 * n, false)?;
        let dt_proj = Linear::load(ld, &format!("{pre}.dt_proj"), r, d, true)?;
        let in_proj = Linear::load(ld, &format!("{pre}.quantum_input_proj"), d, q, true)?;
        let out_q = Linear::load(ld, &format!("{pre}.quantum_output_proj"), 3 * q, d, true)?;
        let out_proj = Linear::load(ld, &format!("{pre}.out_proj"), d, d, true)?;
        let mut prog = Program::empty(q);
        prog.push_ry_embedding(0);
        for l in 0..layers {
            prog.push_unified_layer(5 * q * l);
        }
        prog.push_ry_embedding(q);
        Ok(Self {
            circuit_params,
            d_skip,
            x_proj,
            dt_proj,
            in_proj,
            out_q,
            out_proj,
            prog,
            d,
            q,
            r,
        })
    }

    /// z (L, D), initial state h (Q) → (y (L, D), final state h (Q)).
    fn apply(&self, z: &[f32], l: usize, h0: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (d, q, r) = (self.d, self.q, self.r);
        let xp = self.x_proj.apply(z, l);
        let w = self.x_proj.d_out();
        let dtr: Vec<f32> = xp
            .chunks_exact(w)
            .flat_map(|row| row[..r].iter().copied())
            .collect();
        let dtp = self.dt_proj.apply(&dtr, l);
        let mut delta = vec![0.0; l * d];
        softplus_forward(&mut delta, &dtp);
        let ds: Vec<f32> = delta
            .chunks_exact(d)
            .map(|row| sigmoid((row.iter().map(|&v| v as f64).sum::<f64>() / d as f64) as f32))
            .collect();
        let pre = self.in_proj.apply(z, l);
        let mut u = vec![0.0; l * q];
        tanh_forward(&mut u, &pre);
        u.iter_mut().for_each(|v| *v *= PI_F32);
        let mut h = h0[..q].to_vec();
        let mut theta = vec![0.0f32; self.prog.n_theta];
        let mut enc = vec![0.0f32; 2 * q];
        let mut qs = Vec::with_capacity(l * 3 * q);
        let mut th = vec![0.0f32; q];
        for j in 0..l {
            scale_rotation_angles(&self.circuit_params, q, ds[j], &mut theta);
            enc[..q].copy_from_slice(&h);
            enc[q..]
                .iter_mut()
                .zip(&u[j * q..(j + 1) * q])
                .for_each(|(o, &v)| *o = ds[j] * v);
            let psi = run_from_zero(&self.prog, &theta, &enc);
            let qj = measure(&psi, q);
            tanh_forward(&mut th, &qj[2 * q..]);
            h.iter_mut().zip(&th).for_each(|(o, &v)| *o = v * PI_F32);
            qs.extend_from_slice(&qj);
        }
        let mut yp = self.out_q.apply(&qs, l);
        for (row, zr) in yp.chunks_exact_mut(d).zip(z.chunks_exact(d)) {
            row.iter_mut()
                .zip(self.d_skip.iter().zip(zr))
                .for_each(|(y, (a, b))| *y += a * b);
        }
        (self.out_proj.apply(&yp, l), h)
    }
}

/// One `QuantumBidirectionalSSMCore` of 2c.
#[derive(Clone, Debug)]
struct HydraLayer {
    /// α, β, γ divided by |α| + |β| + |γ| + 1e-8 (at load)
    w: [f32; 3],
    fwd: Qssm,
    bwd: Qssm,
    diagonal: Linear,
    out_proj: Linear,
}

impl HydraLayer {
    fn apply(&self, z: &[f32], l: usize, d: usize, q: usize) -> Vec<f32> {
        let h0 = vec![0.0f32; q];
        let (f, _) = self.fwd.apply(z, l, &h0);
        let (gr, _) = self.bwd.apply(&reverse_rows(z, d), l, &h0);
        let g = reverse_rows(&gr, d);
        let dg = self.diagonal.apply(z, l);
        let w = self.w;
        let m: Vec<f32> = (0..l * d)
            .map(|i| w[0] * f[i] + w[1] * g[i] + w[2] * dg[i])
            .collect();
        self.out_proj.apply(&m, l)
    }
}

/// 2a's `quantum_attention` (with `mix_coeffs` turned into LCU weights).
#[derive(Clone, Debug)]
struct Attention {
    param_proj: Linear,
    /// U^L from |0⟩ with θ = σ(param_proj(s_j))
    state_prog: Program,
    /// LCU weights w_j (nc), from `mix_coeffs` at load
    w: Vec<Complex64>,
    /// one unified layer
    qff_prog: Program,
    qff_params: Vec<f32>,
    output_proj: Linear,
}

/// What follows the front-end.
#[derive(Clone, Debug)]
enum Body {
    /// 2a
    Attention(Box<Attention>),
    /// 2b
    Mamba(Vec<Qssm>),
    /// 2c
    Hydra(Vec<HydraLayer>),
}

/// Loaded 2a, 2b or 2c.
#[derive(Clone, Debug)]
pub(crate) struct QuantumMixing {
    t: usize,
    d: usize,
    q: usize,
    front: Front,
    body: Body,
    out_norm: LayerNorm,
    head: Head,
}

impl QuantumMixing {
    /// Checks the card (`causal = false`, D ≥ 2, 2 ≤ Q ≤ [`MAX_QUBITS`], a circuit layout if
    /// present that agrees: Q, layers, chunk size 16; 2a: `mix_coeffs` of ⌈T/16⌉ chunks) and
    /// loads every tensor of model `id` (2a, 2b, 2c).
    pub(crate) fn load(
        id: &str,
        ld: &mut Loader<'_, '_>,
        card: &ModelCard,
    ) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, t, d, n, q, layers) = (
            hp.n_channels,
            hp.n_times,
            hp.d_model,
            hp.d_state,
            hp.n_qubits,
            hp.n_layers,
        );
        if card.causal {
            return Err(mismatch(format!(
                "{id} is window-only (its sequence mixing needs the whole window), card says causal = true"
            )));
        }
        if d < 2 {
            return Err(mismatch(format!(
                "{id} needs d_model ≥ 2 (attention width D/2 ≥ 1), card has {d}"
            )));
        }
        check_circuit(id, card, 1, CHUNK_SIZE, AnsatzRule::Any)?;
        let nc = t.div_ceil(CHUNK_SIZE);
        let front = Front::load(ld, c, d)?;
        let (body, out_norm) = match id {
            "2a" => {
                const MIX: &str = "quantum_attention.mix_coeffs";
                let shape = ld.shape(MIX)?;
                if shape != [nc, 2] {
                    return Err(mismatch(format!(
                        "{MIX} has shape {shape:?}: the card's n_times = {t} needs {nc} chunks of \
                         {CHUNK_SIZE}, stored as [{nc}, 2] (re, im) (2a checkpoints are T-specific)"
                    )));
                }
                let mix = ld.take(MIX, &[nc, 2])?;
                let mut w = vec![Complex64::new(0.0, 0.0); nc];
                lcu_weights(&mix, &mut w);
                let qff_params = ld.take("quantum_attention.qff_params", &[5 * q])?;
                let param_proj =
                    Linear::load(ld, "quantum_attention.param_proj", d, 5 * q * layers, true)?;
                let output_proj =
                    Linear::load(ld, "quantum_attention.output_proj", 3 * q, d, true)?;
                let out_norm = LayerNorm::load(ld, "output_norm", d)?;
                let mut state_prog = Program::empty(q);
                for l in 0..layers {
                    state_prog.push_unified_layer(5 * q * l);
                }
                let mut qff_prog = Program::empty(q);
                qff_prog.push_unified_layer(0);
                let body = Body::Attention(Box::new(Attention {
                    param_proj,
                    state_prog,
                    w,
                    qff_prog,
                    qff_params,
                    output_proj,
                }));
                (body, out_norm)
            }
            "2b" => {
                let cores = (0..layers)
                    .map(|l| Qssm::load(ld, &format!("quantum_ssm_layers.{l}"), d, n, q, layers))
                    .collect::<Result<Vec<_>, _>>()?;
                (Body::Mamba(cores), LayerNorm::load(ld, "output_norm", d)?)
            }
            _ => {
                let mut hydra = Vec::with_capacity(layers);
                for l in 0..layers {
                    let pre = format!("quantum_hydra_layers.{l}");
                    let mut a = [0.0f32; 3];
                    for (v, k) in a.iter_mut().zip(["alpha", "beta", "gamma"]) {
                        *v = ld.take(&format!("{pre}.{k}"), &[1])?[0];
                    }
                    let fwd = Qssm::load(ld, &format!("{pre}.forward_ssm"), d, n, q, layers)?;
                    let bwd = Qssm::load(ld, &format!("{pre}.backward_ssm"), d, n, q, layers)?;
                    let diagonal = Linear::load(ld, &format!("{pre}.diagonal"), d, d, true)?;
                    let out_proj = Linear::load(ld, &format!("{pre}.out_proj"), d, d, true)?;
                    let tot = a[0].abs() + a[1].abs() + a[2].abs() + COEFF_EPS;
                    hydra.push(HydraLayer {
                        w: a.map(|v| v / tot),
                        fwd,
                        bwd,
                        diagonal,
                        out_proj,
                    });
                }
                (Body::Hydra(hydra), LayerNorm::load(ld, "output_norm", d)?)
            }
        };
        let head = Head::load(ld, d, hp.n_classes)?;
        Ok(Self {
            t,
            d,
            q,
            front,
            body,
            out_norm,
            head,
        })
    }

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        let (t, d, q) = (self.t, self.d, self.q);
        let nc = t.div_ceil(CHUNK_SIZE);
        let s = self.front.apply(xt, t, d);
        let pooled = match &self.body {
            Body::Attention(att) => {
                let Attention {
                    param_proj,
                    state_prog,
                    w,
                    qff_prog,
                    qff_params,
                    output_proj,
                } = att.as_ref();
                let theta: Vec<f32> = param_proj
                    .apply(&s, nc)
                    .iter()
                    .map(|&v| sigmoid(v))
                    .collect();
                let states: Vec<Vec<Complex64>> = theta
                    .chunks_exact(state_prog.n_theta)
                    .map(|th| run_from_zero(state_prog, th, &[]))
                    .collect();
                let refs: Vec<&[Complex64]> = states.iter().map(|v| &v[..]).collect();
                let mut phi = vec![Complex64::new(0.0, 0.0); 1 << q];
                superpose_forward(w, &refs, &mut phi);
                apply_program(qff_prog, qff_params, &[], &mut phi);
                let o = output_proj.apply(&measure(&phi, q), 1);
                self.out_norm.apply(&o, 1)
            }
            Body::Mamba(cores) => {
                let mut z = s;
                let mut h = vec![0.0f32; q];
                for core in cores {
                    let (y, hf) = core.apply(&z, nc, &h);
                    h = hf;
                    z.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
                }
                mean_over_rows(&self.out_norm.apply(&z, nc), nc, d)
            }
            Body::Hydra(layers) => {
                let mut z = s;
                for layer in layers {
                    let y = layer.apply(&z, nc, d, q);
                    z.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
                }
                mean_over_rows(&self.out_norm.apply(&z, nc), nc, d)
            }
        };
        self.head.apply(&pooled)
    }
}
