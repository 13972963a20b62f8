//! 4a `QuantumTransformerE2E`, 4b `QuantumMambaE2E`, 4c `QuantumHydraE2E` (reference
//! `models/QuantumE2E.py`, spec groups-2-4 §3.6–3.9): one composed circuit per chunk, written
//! once over the backend.
//!
//! x (B, C, T) → [`ConvFrontEnd`] (Conv3 → LayerNorm → ChunkPool(16, D/4)) ⇒ s (B, nc, D); per
//! chunk P = `param_proj`(s_j) (raw angles; 2·5QL for 4a/4b, 4·5QL for 4c), a = π·tanh(`encoding_proj`),
//! dt = σ(`dt_proj`) (4b: 1, 4c: 3 values), inj = π·tanh(`input_injection_proj`), and
//!
//! * 4a: q_j = M(|0⟩ → E(a) → U²(P\[0:60\]) → U²(P\[60:120\]));
//! * 4b: q_j = M(|0⟩ → E(a) → U²(F) → D²(Mx; dt) → E(dt·inj));
//! * 4c: q_j = M(|0⟩ → E(a) → U²(F) → D²(Pf; dt_f) → Bk²(Pb; dt_b) → D²(Pd; dt_d) → E(dt_f·inj));
//!
//! (the Δ-modulation and the scaled injection are [`Infer::scale_segments`], the circuit one
//! [`Infer::circuit`] over all B·nc chunks), then [`SeqPoolHead`] (OP_18 → SeqPool → H_silu).
//! Chunks never interact except in the final softmax pooling ⇒ streamable chunk by chunk (spec
//! §4.3 R1) with the Conv3 look-ahead of one sample: the streaming form ([`StepNet`]) steps
//! one chunk of 16 samples plus the next one ([`ConvFrontEnd::step`]), then the SeqPool over
//! every chunk so far by the online softmax ([`SeqPoolHead::step`]); state [`E2eState`]; one
//! implementation for 4a–4e over [`E2eParts`]. 4c registers `alpha`, `beta`, `gamma` (1,)
//! first and never uses them (no gradient, never updated, spec §3.9). Parameter counts (EEG
//! config, every T): 60,610 / 61,513 / 77,254.
use crate::nn::step::step_io;
use crate::nn::{
    composed_program, AngleActs, AngleMap, AngleProj, Block, BlockKind, ConvFrontEnd, FrontActs,
    Io, Linear, Net, SeqPoolActs, SeqPoolHead, SoftmaxPoolState, StepNet,
};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::{circuit_state_words, Backend, DropoutCfg, Infer, Segment};
use qssm_kernels::circuit::Program;

/// Chunk size of the group-4 front-end (constructor default, never passed by `create_model`).
pub const CHUNK_SIZE: usize = 16;

/// Which of the three single-circuit E2E models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum E2eVariant {
    /// 4a `QuantumTransformerE2E`: E·U²·U²
    Transformer,
    /// 4b `QuantumMambaE2E`: E·U²·D²·E(dt·inj)
    Mamba,
    /// 4c `QuantumHydraE2E`: E·U²·D²·Bk²·D²·E(dt_f·inj)
    Hydra,
}

/// 4a / 4b / 4c (see the module docs).
pub struct QuantumE2e {
    cfg: ModelConfig,
    lay: ParamLayout,
    variant: E2eVariant,
    front: ConvFrontEnd,
    param_proj: Linear,
    enc: AngleProj,
    dt: Option<AngleProj>,
    inj: Option<AngleProj>,
    /// θ from the raw angles: one segment per block (Δ-modulated blocks scaled by their dt)
    theta_segs: Vec<Segment>,
    /// the injection angles scaled by dt\[inject\]
    inj_seg: Option<Segment>,
    program: Program,
    head: SeqPoolHead,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    front: FrontActs<B>,
    /// param_proj (B, nc, Kp)
    pp: B::Buf,
    a: AngleActs<B>,
    dt: Option<AngleActs<B>>,
    inj: Option<AngleActs<B>>,
    /// θ (B, nc, Kp), dt·inj (B, nc, Q), the encodings (B, nc, n_enc)
    theta: B::Buf,
    inj_s: B::Buf,
    enc: B::Buf,
    /// measurements (B, nc, 3Q) and the final states
    q: B::Buf,
    states: B::Buf,
    head: SeqPoolActs<B>,
    // backward scratch
    dq: B::Buf,
    dtheta: B::Buf,
    denc: B::Buf,
    dpp: B::Buf,
    da: B::Buf,
    dinj_s: B::Buf,
    dinj: B::Buf,
    ddt: B::Buf,
    ds: B::Buf,
}

impl QuantumE2e {
    /// Builds the layout for `cfg` (C = `n_channels`, D = `d_model`, Q = `n_qubits`,
    /// L = `n_layers` circuit layers per block, outputs = `n_classes`).
    pub fn new(cfg: ModelConfig, variant: E2eVariant) -> Self {
        let (c, d, q, l) = (cfg.n_channels, cfg.d_model, cfg.n_qubits, cfg.n_layers);
        let pb = 5 * q * l;
        let mut lay = ParamLayout::new();
        if variant == E2eVariant::Hydra {
            // registered first, never used (spec §3.9)
            lay.add_unused("alpha", &[1], Init::Const(1.0));
            lay.add_unused("beta", &[1], Init::Const(1.0));
            lay.add_unused("gamma", &[1], Init::Const(0.5));
        }
        let front = ConvFrontEnd::new(&mut lay, (c, d, CHUNK_SIZE, d / 4));
        let unified = |dt: Option<usize>| Block {
            kind: BlockKind::Unified,
            dt,
        };
        let (blocks, n_dt, inject) = match variant {
            E2eVariant::Transformer => (vec![unified(None), unified(None)], 0, None),
            E2eVariant::Mamba => (vec![unified(None), unified(Some(0))], 1, Some(0)),
            E2eVariant::Hydra => (
                vec![
                    unified(None),
                    unified(Some(0)),
                    Block {
                        kind: BlockKind::Backward,
                        dt: Some(1),
                    },
                    unified(Some(2)),
                ],
                3,
                Some(0),
            ),
        };
        let theta_segs = blocks
            .iter()
            .map(|b| Segment {
                width: pb,
                period: 5 * q,
                prefix: 3 * q,
                scale: b.dt,
            })
            .collect();
        let inj_seg = inject.map(|i| Segment {
            width: q,
            period: q,
            prefix: q,
            scale: Some(i),
        });
        let program = composed_program(q, l, true, &blocks, inject.is_some());
        let param_proj = Linear::new(&mut lay, "param_proj", d, blocks.len() * pb, true);
        let enc = AngleProj::new(&mut lay, "encoding_proj", d, q, AngleMap::PiTanh);
        let dt =
            (n_dt > 0).then(|| AngleProj::new(&mut lay, "dt_proj", d, n_dt, AngleMap::Sigmoid));
        let inj = inject
            .map(|_| AngleProj::new(&mut lay, "input_injection_proj", d, q, AngleMap::PiTanh));
        let head = SeqPoolHead::new(&mut lay, 3 * q, d, cfg.n_classes, [0, 1]);
        Self {
            cfg,
            lay,
            variant,
            front,
            param_proj,
            enc,
            dt,
            inj,
            theta_segs,
            inj_seg,
            program,
            head,
        }
    }

    /// Buffers for (B, T = `t`) (a window's T, or a step's chunk), with the backward's (and the
    /// trace's) front-end buffers if `train`; x holds T + `ahead` samples.
    fn plan_len<B: Infer>(&self, be: &B, b: usize, t: usize, train: bool) -> Acts<B> {
        let (c, d, q) = (self.cfg.n_channels, self.cfg.d_model, self.cfg.n_qubits);
        let ahead = if train { 0 } else { 1 };
        let nc = self.front.n_chunks(t);
        let s = |w: usize| be.alloc(&[b, nc, w]);
        // the backward's scratch: empty in a streaming step's plan
        let g = |w: usize| be.alloc(&[b, if train { nc } else { 0 }, w]);
        let (kp, ne) = (self.param_proj.d_out(), self.program.n_enc);
        let ndt = self.dt.as_ref().map_or(0, |p| p.width());
        Acts {
            io: step_io(be, b, &self.cfg, t + ahead),
            front: self.front.plan_with(be, b, c, t, train),
            pp: s(kp),
            a: self.enc.plan(be, b, nc),
            dt: self.dt.as_ref().map(|p| p.plan(be, b, nc)),
            inj: self.inj.as_ref().map(|p| p.plan(be, b, nc)),
            theta: s(kp),
            inj_s: s(q),
            enc: s(ne),
            q: s(3 * q),
            states: s(circuit_state_words(q)),
            head: self.head.plan(be, b, nc),
            dq: g(3 * q),
            dtheta: g(kp),
            denc: g(ne),
            dpp: g(kp),
            da: g(q),
            dinj_s: g(q),
            dinj: g(q),
            ddt: g(ndt),
            ds: g(d),
        }
    }

    /// The chunk summaries `a.front.pool.out` → the chunks' measurements `a.q` (B, nc, 3Q).
    fn features<B: Infer>(&self, be: &B, p: &B::Params, a: &mut Acts<B>) {
        let s = &a.front.pool.out;
        self.param_proj.forward(be, p, s, &mut a.pp);
        self.enc.forward(be, p, s, &mut a.a);
        if let (Some(proj), Some(acts)) = (&self.dt, a.dt.as_mut()) {
            proj.forward(be, p, s, acts);
            be.scale_segments(&mut a.theta, &a.pp, &acts.out, &self.theta_segs);
        } else {
            be.copy(&mut a.theta, &a.pp);
        }
        match (&self.inj, a.inj.as_mut(), &self.inj_seg, a.dt.as_ref()) {
            (Some(proj), Some(acts), Some(seg), Some(dt)) => {
                proj.forward(be, p, s, acts);
                be.scale_segments(&mut a.inj_s, &acts.out, &dt.out, core::slice::from_ref(seg));
                be.concat_cols(&mut a.enc, &[&a.a.out, &a.inj_s]);
            }
            _ => be.copy(&mut a.enc, &a.a.out),
        }
        be.circuit(
            &mut a.q,
            Some(&mut a.states),
            &a.theta,
            Some(&a.enc),
            &self.program,
        );
    }
}

impl Net for QuantumE2e {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        match self.variant {
            E2eVariant::Transformer => "4a",
            E2eVariant::Mamba => "4b",
            E2eVariant::Hydra => "4c",
        }
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn is_causal(&self) -> bool {
        true
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        self.plan_len(be, b, self.cfg.n_times, true)
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
        self.front.forward(be, p, &a.io.x, &mut a.front);
        self.features(be, p, a);
        self.head
            .forward(be, p, &a.q, &mut a.head, &mut a.io.out, drop);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.dq, 0.0);
        self.head
            .backward(be, p, g, &a.q, &mut a.head, &a.io.dout, &mut a.dq);
        be.fill(&mut a.dtheta, 0.0);
        be.fill(&mut a.denc, 0.0);
        be.circuit_bwd(
            &mut a.dtheta,
            Some(&mut a.denc),
            &a.dq,
            Some(&a.states),
            &a.theta,
            Some(&a.enc),
            &self.program,
        );
        be.fill(&mut a.ddt, 0.0);
        if let Some(dt) = a.dt.as_ref() {
            be.fill(&mut a.dpp, 0.0);
            be.scale_segments_bwd(
                &mut a.dpp,
                &mut a.ddt,
                &a.dtheta,
                &a.pp,
                &dt.out,
                &self.theta_segs,
            );
        } else {
            be.copy(&mut a.dpp, &a.dtheta);
        }
        be.fill(&mut a.ds, 0.0);
        let s = &a.front.pool.out;
        match (&self.inj, a.inj.as_mut(), &self.inj_seg, a.dt.as_ref()) {
            (Some(proj), Some(acts), Some(seg), Some(dt)) => {
                be.split_cols(&a.denc, &mut [&mut a.da, &mut a.dinj_s]);
                be.fill(&mut a.dinj, 0.0);
                be.scale_segments_bwd(
                    &mut a.dinj,
                    &mut a.ddt,
                    &a.dinj_s,
                    &acts.out,
                    &dt.out,
                    core::slice::from_ref(seg),
                );
                proj.backward(be, p, g, s, acts, &a.dinj, &mut a.ds);
            }
            _ => be.copy(&mut a.da, &a.denc),
        }
        self.param_proj
            .backward(be, p, g, s, &a.dpp, Some(&mut a.ds));
        self.enc.backward(be, p, g, s, &mut a.a, &a.da, &mut a.ds);
        if let (Some(proj), Some(acts)) = (&self.dt, a.dt.as_mut()) {
            proj.backward(be, p, g, s, acts, &a.ddt, &mut a.ds);
        }
        self.front.backward(be, p, g, &mut a.front, &a.ds);
    }
    fn trace<'a, B: Infer>(&self, be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        self.front.trace_views(be, &mut a.front);
        let a: &'a Acts<B> = a;
        let mut out = self.front.trace(&a.front);
        out.push(("param_proj".into(), &a.pp));
        out.push(("encoding_proj".into(), &a.a.raw));
        if let Some(dt) = &a.dt {
            out.push(("dt_proj".into(), &dt.raw));
        }
        if let Some(inj) = &a.inj {
            out.push(("input_injection_proj".into(), &inj.raw));
        }
        out.push(("circuit".into(), &a.q));
        out.extend(self.head.trace(&a.head, &a.io.out));
        out
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        let mut a = self.plan(&Cpu, 1);
        Cpu.upload(&mut a.io.x, x);
        self.forward(&Cpu, p, &mut a, None);
        let outs = self
            .head
            .prefix_outputs(p, a.head.op.out.as_slice(), self.cfg.n_classes);
        Some(boundaries(self.cfg.n_times, outs))
    }
}

/// Pairs the head's prefix outputs (one per chunk) with the number of samples each depends
/// on: chunk k ends at sample 16(k+1), and Conv3 reads one sample ahead ⇒ n_k =
/// min(16(k+1) + 1, T) (the last, partial chunk closes the window: n = T).
pub(crate) fn boundaries(t: usize, outs: Vec<Vec<f32>>) -> Vec<(usize, Vec<f32>)> {
    outs.into_iter()
        .enumerate()
        .map(|(k, o)| (((k + 1) * CHUNK_SIZE + 1).min(t), o))
        .collect()
}

/// The state of a streamed group-4 model (4a–4e, spec §4.3 R1): the input sample before the
/// next step's (`input_conv.prev_sample` (B, C): Conv3's left neighbour) and the SeqPool over
/// the chunks so far (`seq_attention.*`); zeros at the start of a stream.
pub struct E2eState<B: Infer> {
    /// (B, C)
    pub prev: B::Buf,
    /// the online softmax over the chunk features
    pub seq: SoftmaxPoolState<B>,
}

impl<B: Infer> E2eState<B> {
    /// Zero state of `b` streams.
    pub(crate) fn plan(be: &B, b: usize, c: usize, head: &SeqPoolHead) -> Self {
        Self {
            prev: be.alloc(&[b, c]),
            seq: head.plan_state(be, b),
        }
    }

    /// The tensors by name.
    pub(crate) fn named(&mut self) -> Vec<(String, &mut B::Buf)> {
        let mut out = vec![("input_conv.prev_sample".to_string(), &mut self.prev)];
        out.extend(self.seq.named("seq_attention"));
        out
    }

    /// `f` on every tensor in the order of [`Self::named`].
    pub(crate) fn for_each(&mut self, f: &mut dyn FnMut(&mut B::Buf)) {
        f(&mut self.prev);
        self.seq.for_each(f);
    }
}

/// Planned buffers of one streaming step of a group-4 model: its window buffers for one chunk
/// of `len` samples (x: `len` + 1, the look-ahead).
pub struct E2eStep<A> {
    pub(crate) len: usize,
    pub(crate) a: A,
}

/// What the one streaming form of the group-4 models ([`StepNet`] below) needs of a model:
/// 4a–4c ([`QuantumE2e`]) and 4d/4e ([`super::QuantumE2eSuperposition`]) share the
/// front-end, the head and the step, and differ only in the chunk features.
pub trait E2eParts: Net {
    /// The Conv3 front-end.
    fn front(&self) -> &ConvFrontEnd;
    /// OP → SeqPool → H_silu.
    fn head(&self) -> &SeqPoolHead;
    /// Buffers for (B, T = `t`); a step's (`train` false) x holds T + 1 samples.
    fn plan_len<B: Infer>(&self, be: &B, b: usize, t: usize, train: bool) -> Self::Acts<B>;
    /// The chunk summaries (the front-end's output) → the chunks' measurements.
    fn features<B: Infer>(&self, be: &B, p: &B::Params, a: &mut Self::Acts<B>);
    /// The buffers of `a` the step reads and writes around the features.
    fn parts<B: Infer>(a: &mut Self::Acts<B>) -> E2eStepParts<'_, B>;
}

/// Borrowed parts of a group-4 model's buffers ([`E2eParts::parts`]).
pub struct E2eStepParts<'a, B: Infer> {
    /// input and outputs
    pub io: &'a mut Io<B>,
    /// the front-end
    pub front: &'a mut FrontActs<B>,
    /// the chunks' measurements (B, nc, ·)
    pub q: &'a B::Buf,
    /// the head
    pub head: &'a mut SeqPoolActs<B>,
}

impl E2eParts for QuantumE2e {
    fn front(&self) -> &ConvFrontEnd {
        &self.front
    }
    fn head(&self) -> &SeqPoolHead {
        &self.head
    }
    fn plan_len<B: Infer>(&self, be: &B, b: usize, t: usize, train: bool) -> Acts<B> {
        QuantumE2e::plan_len(self, be, b, t, train)
    }
    fn features<B: Infer>(&self, be: &B, p: &B::Params, a: &mut Acts<B>) {
        QuantumE2e::features(self, be, p, a);
    }
    fn parts<B: Infer>(a: &mut Acts<B>) -> E2eStepParts<'_, B> {
        E2eStepParts {
            io: &mut a.io,
            front: &mut a.front,
            q: &a.q,
            head: &mut a.head,
        }
    }
}

impl<M: E2eParts> StepNet for M {
    type State<B: Infer> = E2eState<B>;
    type Step<B: Infer> = E2eStep<M::Acts<B>>;
    fn step_len(&self) -> usize {
        CHUNK_SIZE
    }
    /// Conv3 reads the next sample
    fn lookahead(&self) -> usize {
        1
    }
    fn plan_state<B: Infer>(&self, be: &B, b: usize) -> E2eState<B> {
        E2eState::plan(be, b, self.config().n_channels, self.head())
    }
    fn plan_step<B: Infer>(&self, be: &B, b: usize, len: usize) -> E2eStep<M::Acts<B>> {
        let len = len.clamp(1, CHUNK_SIZE);
        E2eStep {
            len,
            a: self.plan_len(be, b, len, false),
        }
    }
    fn step_io<B: Infer>(s: &mut E2eStep<M::Acts<B>>) -> &mut Io<B> {
        M::parts(&mut s.a).io
    }
    fn state<B: Infer>(st: &mut E2eState<B>) -> Vec<(String, &mut B::Buf)> {
        st.named()
    }
    fn for_each_state<B: Infer>(st: &mut E2eState<B>, f: &mut dyn FnMut(&mut B::Buf)) {
        st.for_each(f);
    }
    fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        st: &mut E2eState<B>,
        s: &mut E2eStep<M::Acts<B>>,
    ) {
        step_valid(self, be, p, st, s, s.len + 1);
    }
    /// The chunk's first n samples end the window (Conv3's zero edge after them, pad rows).
    fn steps_prefix(&self) -> bool {
        true
    }
    fn step_prefix<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        st: &mut E2eState<B>,
        s: &mut E2eStep<M::Acts<B>>,
        n: usize,
    ) -> bool {
        step_valid(self, be, p, st, s, n.clamp(1, s.len));
        true
    }
}

/// A group-4 step whose samples at or after `valid` are the window's end.
fn step_valid<M: E2eParts, B: Infer>(
    net: &M,
    be: &B,
    p: &B::Params,
    st: &mut E2eState<B>,
    s: &mut E2eStep<M::Acts<B>>,
    valid: usize,
) {
    let v = M::parts(&mut s.a);
    net.front()
        .step(be, p, &v.io.x, &mut st.prev, v.front, valid);
    net.features(be, p, &mut s.a);
    let v = M::parts(&mut s.a);
    net.head()
        .step(be, p, v.q, v.head, &mut st.seq, &mut v.io.out);
}
