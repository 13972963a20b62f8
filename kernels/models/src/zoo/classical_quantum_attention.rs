//! 2a — `ClassicalQuantumAttention` (reference `models/QuantumMixingSSM.py`,
//! `QuantumAttentionMixingCore`; spec groups-2-4 §3.1):
//!
//! Written once over the backend: x (B, C, T) → [`ChunkFront`] s (B, nc, D) → θ_j = σ(`quantum_attention.param_proj`(s_j)) ∈ (0,1)^{5Q·L}
//! → ψ_j = U^L(θ_j)|0⟩ (no embedding) → Φ = LCU(ψ; m = `quantum_attention.mix_coeffs`) ([`Infer::lcu`]):
//! w_j = m_j/(Σ_k|m_k| + 1e-8), Φ = Σ_j w_j ψ_j / (‖·‖₂ + 1e-9) → one unified layer with
//! `quantum_attention.qff_params` applied to Φ (the reference's `StatePrep(Φ)` QFF circuit)
//! ([`Infer::circuit_from`]) → q = M (3Q) → `quantum_attention.output_proj` (3Q→D) → LN `output_norm` → H_relu.
//!
//! `mix_coeffs` is a complex64 (nc,) PyTorch parameter, stored as (nc, 2) (re, im) pairs: its
//! length depends on T, so checkpoints are T-specific (43,877 / 43,885 / 43,901 parameters at
//! T = 125/249/497 counting each complex once; +nc stored scalars). `n_layers` sets the
//! circuit depth only (exactly one attention core); `d_state` is ignored. Not streamable as a
//! causal model (one output per fixed window, spec §4.3 R2).
use crate::nn::{
    composed_program, Block, BlockKind, ChunkFront, ChunkFrontActs, ClassifierHead, HeadActs, Io,
    LayerNorm, LayerNormActs, Linear, Net,
};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use crate::ModelConfig;
use core::ops::Range;
use qssm_kernels::backend::{circuit_state_words, Act, Backend, DropoutCfg, Infer};
use qssm_kernels::circuit::Program;

/// Chunk size of the chunk pooling (constructor default).
pub const CHUNK_SIZE: usize = 16;

/// Dropout sites: the embedding, the chunk summaries, the classifier's hidden layer.
const SITES: [u32; 3] = [0, 1, 2];

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
    /// U^L(θ)|0⟩ of every chunk (no embedding)
    state_prog: Program,
    /// one unified layer on the LCU state
    qff_prog: Program,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    front: ChunkFrontActs<B>,
    /// param_proj(s) (B, nc, K), θ = σ of it
    pp: B::Buf,
    theta: B::Buf,
    /// the chunk circuits' measurements (not used by the model) and final states ψ_j
    m_chunks: B::Buf,
    states: B::Buf,
    /// Φ (B, words), `qff_params` on every row (B, 5Q), the final QFF states (B, words)
    phi: B::Buf,
    qff_rows: B::Buf,
    qff_states: B::Buf,
    /// measurements q (B, 3Q), output_proj(q) (B, D), LayerNorm
    q: B::Buf,
    o: B::Buf,
    on: LayerNormActs<B>,
    head: HeadActs<B>,
    // backward scratch
    don: B::Buf,
    d_o: B::Buf,
    dq: B::Buf,
    dqff: B::Buf,
    gphi: B::Buf,
    gstates: B::Buf,
    dtheta: B::Buf,
    dpp: B::Buf,
    ds: B::Buf,
}

impl ClassicalQuantumAttention {
    /// Builds the layout for `cfg` (nc = ⌈n_times/16⌉ mixing coefficients).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, q) = (cfg.n_channels, cfg.d_model, cfg.n_qubits);
        let k = 5 * q * cfg.n_layers;
        let mut lay = ParamLayout::new();
        let front = ChunkFront::new(&mut lay, (c, d, CHUNK_SIZE), [SITES[0], SITES[1]]);
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
            (d, d, cfg.n_classes),
            Act::Relu,
            SITES[2],
        );
        let block = Block {
            kind: BlockKind::Unified,
            dt: None,
        };
        let state_prog = composed_program(q, cfg.n_layers, false, &[block], false);
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
            state_prog,
            qff_prog,
        }
    }
}

impl Net for ClassicalQuantumAttention {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        "2a"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (c, t, d, q) = (
            self.cfg.n_channels,
            self.cfg.n_times,
            self.cfg.d_model,
            self.cfg.n_qubits,
        );
        let nc = self.front.n_chunks(t);
        let k = self.state_prog.n_theta;
        let words = circuit_state_words(q);
        let sc = |w: usize| be.alloc(&[b, nc, w]);
        let s = |w: usize| be.alloc(&[b, w]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            front: self.front.plan(be, b, c, t),
            pp: sc(k),
            theta: sc(k),
            m_chunks: sc(3 * q),
            states: sc(words),
            phi: s(words),
            qff_rows: s(5 * q),
            qff_states: s(words),
            q: s(3 * q),
            o: s(d),
            on: self.out_norm.plan(be, &[b, d]),
            head: self.head.plan(be, b),
            don: s(d),
            d_o: s(d),
            dq: s(3 * q),
            dqff: s(5 * q),
            gphi: s(words),
            gstates: sc(words),
            dtheta: sc(k),
            dpp: sc(k),
            ds: sc(d),
        }
    }
    fn io<B: Infer>(a: &mut Acts<B>) -> &mut Io<B> {
        &mut a.io
    }
    fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        a: &mut Acts<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        let drop = drop.filter(|c| c.p > 0.0);
        self.front.forward(be, p, &a.io.x, &mut a.front, drop);
        // ψ_j = U^L(σ(param_proj(s_j)))|0⟩ for every chunk of every sample
        self.param_proj.forward(be, p, &a.front.s, &mut a.pp);
        be.act(Act::Sigmoid, &mut a.theta, &a.pp);
        be.circuit(
            &mut a.m_chunks,
            Some(&mut a.states),
            &a.theta,
            None,
            &self.state_prog,
        );
        // Φ = LCU(ψ), then the QFF layer from Φ
        be.lcu(&mut a.phi, &a.states, p, self.mix.clone());
        be.fill(&mut a.qff_rows, 0.0);
        be.add_param_row(&mut a.qff_rows, p, self.qff.clone());
        be.circuit_from(
            &mut a.q,
            &mut a.qff_states,
            &a.phi,
            &a.qff_rows,
            &self.qff_prog,
        );
        self.output_proj.forward(be, p, &a.q, &mut a.o);
        self.out_norm.forward(be, p, &a.o, &mut a.on);
        self.head
            .forward(be, p, &a.on.y, &mut a.head, &mut a.io.out, drop);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.don, 0.0);
        self.head
            .backward(be, p, g, &a.on.y, &mut a.head, &a.io.dout, &mut a.don);
        be.fill(&mut a.d_o, 0.0);
        self.out_norm
            .backward(be, p, g, &a.o, &a.on, &a.don, &mut a.d_o);
        be.fill(&mut a.dq, 0.0);
        self.output_proj
            .backward(be, p, g, &a.q, &a.d_o, Some(&mut a.dq));
        // QFF layer, then the LCU
        be.fill(&mut a.dqff, 0.0);
        be.circuit_from_bwd(
            &mut a.dqff,
            &mut a.gphi,
            &a.dq,
            &a.qff_states,
            &a.qff_rows,
            &self.qff_prog,
        );
        be.add_param_row_bwd(g, self.qff.clone(), &a.dqff);
        be.lcu_bwd(&mut a.gstates, g, &a.gphi, &a.states, p, self.mix.clone());
        // the chunk circuits → θ → σ → param_proj
        be.fill(&mut a.dtheta, 0.0);
        be.circuit_bwd_state(
            &mut a.dtheta,
            None,
            &a.gstates,
            &a.states,
            &a.theta,
            None,
            &self.state_prog,
        );
        be.fill(&mut a.dpp, 0.0);
        be.act_bwd(Act::Sigmoid, &mut a.dpp, &a.dtheta, &a.theta);
        be.fill(&mut a.ds, 0.0);
        self.param_proj
            .backward(be, p, g, &a.front.s, &a.dpp, Some(&mut a.ds));
        self.front.backward(be, p, g, &mut a.front, &a.ds);
    }
    fn trace<'a, B: Infer>(&self, _be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        let a: &'a Acts<B> = a;
        let mut out = self.front.trace(&a.front);
        out.push(("quantum_attention.param_proj".into(), &a.pp));
        out.push(("quantum_attention.output_proj".into(), &a.o));
        out.push(("quantum_attention".into(), &a.o));
        out.push(("output_norm".into(), &a.on.y));
        out.extend(ClassifierHead::trace("classifier", &a.head, &a.io.out));
        out
    }
}
