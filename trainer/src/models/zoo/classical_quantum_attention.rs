//! 2a — `ClassicalQuantumAttention` (reference `models/QuantumMixingSSM.py`,
//! `QuantumAttentionMixingCore`; spec groups-2-4 §3.1):
//!
//! x (C, T) → [`ChunkFront`] s (nc, D) → θ_j = σ(`quantum_attention.param_proj`(s_j)) ∈ (0,1)^{5Q·L}
//! → ψ_j = U^L(θ_j)|0⟩ (no embedding) → Φ = LCU(ψ; m = `quantum_attention.mix_coeffs`):
//! w_j = m_j/(Σ_k|m_k| + 1e-8), Φ = Σ_j w_j ψ_j / (‖·‖₂ + 1e-9) → one unified layer with
//! `quantum_attention.qff_params` applied to Φ (the reference's `StatePrep(Φ)` QFF circuit)
//! → q = M (3Q) → `quantum_attention.output_proj` (3Q→D) → LN `output_norm` → H_relu.
//!
//! `mix_coeffs` is a complex64 (nc,) PyTorch parameter, stored as (nc, 2) (re, im) pairs: its
//! length depends on T, so checkpoints are T-specific (43,877 / 43,885 / 43,901 parameters at
//! T = 125/249/497 counting each complex once; +nc stored scalars). `n_layers` sets the
//! circuit depth only (exactly one attention core); `d_state` is ignored. Not streamable as a
//! causal model (one output per fixed window, spec §4.3 R2).
use crate::models::blocks::chunk_front::{ChunkFront, ChunkFrontCache};
use crate::models::blocks::composed_circuit::{
    measure, measure_backward, Block, BlockKind, CircuitGrads, CircuitInputs, CircuitRun,
    ComposedCircuit,
};
use crate::models::blocks::{ClassifierHead, HeadAct, HeadCache, LayerNorm, Linear, NormCache};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{ModelConfig, SampleModel, SampleOutput};
use crate::params::{Init, ParamLayout};
use num_complex::Complex64;
use qssm_kernels::circuit::superpose::{
    lcu_weights, lcu_weights_backward, superpose_backward, superpose_forward,
};
use qssm_kernels::circuit::{apply_program, apply_program_backward, Program};
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// f32 logistic σ(x) = 1/(1+e^{−x}) (torch's f32 `sigmoid`).
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Chunk size of the chunk pooling (constructor default).
pub const CHUNK_SIZE: usize = 16;

/// 2a ClassicalQuantumAttention (see the module docs).
pub struct ClassicalQuantumAttention {
    cfg: ModelConfig,
    lay: ParamLayout,
    front: ChunkFront,
    /// `quantum_attention.mix_coeffs` (nc, 2)
    mix: Range<usize>,
    /// `quantum_attention.qff_params` (5Q)
    qff: Range<usize>,
    param_proj: Linear,
    output_proj: Linear,
    out_norm: LayerNorm,
    head: ClassifierHead,
    state_circuit: ComposedCircuit,
    qff_prog: Program,
    nc: usize,
}

#[derive(Default)]
struct Cache {
    front: ChunkFrontCache,
    /// param_proj output (nc, K)
    pp: Vec<f32>,
    /// θ = σ(pp) (nc, K)
    theta: Vec<f32>,
    runs: Vec<CircuitRun>,
    w: Vec<Complex64>,
    /// normalised LCU state Φ and ‖Σ w_j ψ_j‖
    phi: Vec<Complex64>,
    r: f64,
    /// state after the QFF layer
    phi_out: Vec<Complex64>,
    q: Vec<f32>,
    o: Vec<f32>,
    on: Vec<f32>,
    onc: NormCache,
    head: HeadCache,
    logits: Vec<f32>,
}

impl ClassicalQuantumAttention {
    /// Builds the layout for `cfg` (nc = ⌈n_times/16⌉ mixing coefficients).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, q) = (cfg.n_channels, cfg.d_model, cfg.n_qubits);
        let k = 5 * q * cfg.n_layers;
        let mut lay = ParamLayout::new();
        let front = ChunkFront::new(&mut lay, c, d, CHUNK_SIZE, cfg.dropout);
        let nc = front.n_chunks(cfg.n_times);
        // direct parameters of `quantum_attention` first (state_dict order)
        let mix = lay.add_complex(
            "quantum_attention.mix_coeffs",
            &[nc],
            Init::Uniform(0.0, 1.0),
        );
        let qff = lay.add("quantum_attention.qff_params", &[5 * q], Init::Normal(0.1));
        let param_proj = Linear::new(&mut lay, "quantum_attention.param_proj", d, k, true);
        let output_proj = Linear::new(&mut lay, "quantum_attention.output_proj", 3 * q, d, true);
        let out_norm = LayerNorm::new(&mut lay, "output_norm", d);
        let head = ClassifierHead::new(
            &mut lay,
            "classifier",
            d,
            d,
            cfg.n_classes,
            HeadAct::Relu,
            cfg.dropout,
        );
        let state_circuit = ComposedCircuit::new(
            q,
            cfg.n_layers,
            false,
            vec![Block {
                kind: BlockKind::Unified,
                src: 0,
                offset: 0,
                dt: None,
            }],
            None,
        );
        let mut qff_prog = Program::empty(q);
        qff_prog.push_unified_layer(0);
        Self {
            cfg,
            lay,
            front,
            mix,
            qff,
            param_proj,
            output_proj,
            out_norm,
            head,
            state_circuit,
            qff_prog,
            nc,
        }
    }

    fn k(&self) -> usize {
        self.param_proj.d_out
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (t, d, q, nc, kk) = (
            self.cfg.n_times,
            self.cfg.d_model,
            self.cfg.n_qubits,
            self.nc,
            self.k(),
        );
        let mut k = Cache::default();
        self.front
            .forward(p, x, t, rng.as_deref_mut(), &mut k.front);
        k.pp = self.param_proj.apply(p, &k.front.s, nc);
        k.theta = k.pp.iter().map(|&v| sigmoid(v)).collect();
        k.runs = k
            .theta
            .chunks_exact(kk)
            .map(|th| {
                let src = [th];
                self.state_circuit.forward(&CircuitInputs {
                    sources: &src,
                    dts: &[],
                    a: &[],
                    inj: &[],
                })
            })
            .collect();
        k.w = vec![Complex64::new(0.0, 0.0); nc];
        lcu_weights(&p[self.mix.clone()], &mut k.w);
        let states: Vec<&[Complex64]> = k.runs.iter().map(|r| &r.psi[..]).collect();
        k.phi = vec![Complex64::new(0.0, 0.0); 1 << q];
        k.r = superpose_forward(&k.w, &states, &mut k.phi);
        k.phi_out = k.phi.clone();
        apply_program(&self.qff_prog, &p[self.qff.clone()], &[], &mut k.phi_out);
        k.q = measure(&k.phi_out, q);
        k.o = self.output_proj.apply(p, &k.q, 1);
        k.on = vec![0.0; d];
        self.out_norm.forward(p, &k.o, 1, &mut k.on, &mut k.onc);
        k.logits = self.head.forward(p, &k.on, rng, &mut k.head);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (d, q, nc, kk) = (self.cfg.d_model, self.cfg.n_qubits, self.nc, self.k());
        let mut don = vec![0.0; d];
        self.head.backward(p, g, &k.head, dlogits, &mut don);
        let mut dout = vec![0.0; d];
        self.out_norm
            .backward(p, g, &k.o, &don, 1, &k.onc, &mut dout);
        let mut dq = vec![0.0; 3 * q];
        self.output_proj
            .backward(p, g, &k.q, &dout, 1, Some(&mut dq));
        // QFF layer on Φ, then the LCU
        let mut gphi = measure_backward(&k.phi_out, q, &dq);
        let mut dqff = vec![0.0f64; self.qff.len()];
        let mut scratch = vec![Complex64::new(0.0, 0.0); 1 << q];
        apply_program_backward(
            &self.qff_prog,
            &p[self.qff.clone()],
            &[],
            &k.phi_out,
            &mut gphi,
            &mut dqff,
            &mut [],
            &mut scratch,
        );
        g[self.qff.clone()]
            .iter_mut()
            .zip(&dqff)
            .for_each(|(a, &b)| *a += b as f32);
        let states: Vec<&[Complex64]> = k.runs.iter().map(|r| &r.psi[..]).collect();
        let mut gst = vec![vec![Complex64::new(0.0, 0.0); 1 << q]; nc];
        let mut gw = vec![Complex64::new(0.0, 0.0); nc];
        {
            let mut gs: Vec<Option<&mut [Complex64]>> =
                gst.iter_mut().map(|v| Some(&mut v[..])).collect();
            superpose_backward(&k.w, &states, &k.phi, k.r, &gphi, &mut gs, &mut gw);
        }
        lcu_weights_backward(&p[self.mix.clone()], &gw, &mut g[self.mix.clone()]);
        // per-chunk state circuits → θ → σ → param_proj
        let mut dpp = vec![0.0f32; nc * kk];
        for j in 0..nc {
            let th = &k.theta[j * kk..(j + 1) * kk];
            let src = [th];
            let inp = CircuitInputs {
                sources: &src,
                dts: &[],
                a: &[],
                inj: &[],
            };
            let mut dth = vec![0.0f32; kk];
            {
                let mut srcs: [&mut [f32]; 1] = [&mut dth];
                let mut grads = CircuitGrads {
                    sources: &mut srcs,
                    dts: &mut [],
                    a: &mut [],
                    inj: &mut [],
                };
                self.state_circuit
                    .backward(&inp, &k.runs[j], &gst[j], &mut grads);
            }
            for ((o, &dt), &s) in dpp[j * kk..(j + 1) * kk].iter_mut().zip(&dth).zip(th) {
                *o = dt * s * (1.0 - s);
            }
        }
        let mut ds = vec![0.0; nc * d];
        self.param_proj
            .backward(p, g, &k.front.s, &dpp, nc, Some(&mut ds));
        self.front.backward(p, g, &k.front, ds);
    }
}

impl SampleModel for ClassicalQuantumAttention {
    fn id(&self) -> &'static str {
        "2a"
    }
    fn class_name(&self) -> &'static str {
        "ClassicalQuantumAttention"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn forward_eval(&self, p: &[f32], x: &[f32]) -> Vec<f32> {
        self.run(p, x, None).logits
    }
    fn forward_backward(
        &self,
        p: &[f32],
        x: &[f32],
        target: Target<'_>,
        scale: f32,
        rng: Option<&mut ChaCha8Rng>,
        g: &mut [f32],
    ) -> SampleOutput {
        let k = self.run(p, x, rng);
        let (loss, dlogits) = loss_with_grad(&k.logits, target, scale);
        self.backward(p, g, &k, &dlogits);
        SampleOutput {
            loss,
            logits: k.logits,
        }
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let mut out = self.front.trace(p, &k.front);
        out.push(("quantum_attention.param_proj".into(), k.pp.clone()));
        out.push(("quantum_attention.output_proj".into(), k.o.clone()));
        out.push(("quantum_attention".into(), k.o.clone()));
        out.push(("output_norm".into(), k.on.clone()));
        out.push(("classifier.0".into(), k.head.pre.clone()));
        out.push(("classifier.1".into(), k.head.hidden.clone()));
        out.push(("classifier.2".into(), k.head.hidden.clone()));
        out.push(("classifier.3".into(), k.logits.clone()));
        out.push(("classifier".into(), k.logits));
        out
    }
}
