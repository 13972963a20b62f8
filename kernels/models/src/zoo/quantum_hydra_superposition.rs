//! 2d — `QuantumMambaHydraSSM` (≡ `QuantumHydraSSM`) and 2e — `QuantumHydraHydraSSM`
//! (≡ `QuantumHydraSSMBidirectional`), reference `models/QuantumHydraSSM.py`, spec groups-2-4
//! §3.4, §3.5; written once over the backend:
//!
//! x (B, C, T) → (B, T, C) → e_t = Drop(SiLU(LN(Linear(C→D)(x_t)))) (`input_proj`, per sample) →
//! s = ChunkPool(32, D/4) (`chunk_attention`, zero pad rows at the end of time, no dropout)
//! (B, nc, D) → per chunk j: a = π·tanh(`encoding_proj`(s_j)) (Q), dt = σ(`dt_proj.2`(SiLU(
//! `dt_proj.0`(s_j)))) (scalar), and per core Pf, Pb, Pd = `*forward_param_proj`,
//! `*backward_param_proj`, `*diagonal_param_proj`(s_j) (5QL raw angles each) →
//! q_j = S3(E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd)) ([`Infer::s3_measure`] over the three branch circuits, 3Q) →
//! OP_{3Q·cores} → SeqPool → H_silu ([`SeqPoolHead`]).
//!
//! 2d has one core (`quantum_core`, projections without prefix); 2e two (`quantum_core_fwd`
//! with `fwd_*` projections, `quantum_core_bwd` with `bwd_*`), q_j = concat(q^fwd_j, q^bwd_j).
//! The reference's chunk-order flip around 2e's bwd core is an exact no-op (chunks never
//! interact before the final softmax pooling), so both cores read chunk j directly.
//!
//! Chunks are independent up to the softmax pooling over chunk features, so both models are
//! causal chunk by chunk (spec §4.3 R1): the output after chunk k is the head over the first
//! k+1 chunk features ([`crate::nn::Net::boundary_outputs`]). The streaming form
//! ([`StepNet`]) steps one chunk: its features as in the window, then the SeqPool over every
//! chunk so far by the online softmax ([`SeqPoolHead::step`]; state `seq_attention.*`).
use crate::nn::step::step_io;
use crate::nn::{
    composed_program, AngleActs, AngleMap, AngleProj, AttentionPool, Block, BlockKind, Io, Linear,
    Net, OutputProj, OutputProjActs, PoolActs, S3Acts, S3Core, SeqPoolActs, SeqPoolHead,
    SoftmaxPoolState, StepNet,
};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer, Segment};

/// Chunk size of 2d/2e (the reference constructor's default, never overridden).
pub const CHUNK_SIZE: usize = 32;

/// One superposition core with its three angle projections.
#[derive(Clone, Debug)]
struct Core {
    /// `{prefix}forward_param_proj`, `{prefix}backward_param_proj`,
    /// `{prefix}diagonal_param_proj` (D → 5QL)
    projs: [Linear; 3],
    /// projection names (for traces)
    proj_names: [String; 3],
    /// core name (for traces)
    core_name: String,
    /// E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd) mixed by the core's coefficients
    s3: S3Core,
}

/// 2d `QuantumMambaHydraSSM` (one core) or 2e `QuantumHydraHydraSSM` (two cores).
/// Parameter count at the EEG config (all T): 2d 54,053, 2e 79,583.
pub struct QuantumHydraSuperposition {
    cfg: ModelConfig,
    lay: ParamLayout,
    bidirectional: bool,
    input_proj: OutputProj,
    pool: AttentionPool,
    cores: Vec<Core>,
    enc: AngleProj,
    dt0: Linear,
    dt2: AngleProj,
    head: SeqPoolHead,
}

/// Planned buffers of one core.
pub struct CoreActs<B: Infer> {
    /// the raw angles Pf, Pb, Pd (B, nc, 5QL)
    pp: [B::Buf; 3],
    s3: S3Acts<B>,
    rev_pp: [B::Buf; 3],
    rev_m: B::Buf,
    dm: B::Buf,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    xt: B::Buf,
    inp: OutputProjActs<B>,
    pool: PoolActs<B>,
    enc: AngleActs<B>,
    /// `dt_proj.0` output and its SiLU (B, nc, N)
    h0: B::Buf,
    h1: B::Buf,
    dt: AngleActs<B>,
    cores: Vec<CoreActs<B>>,
    q: B::Buf,
    head: SeqPoolActs<B>,
    // backward scratch
    dq: B::Buf,
    ds: B::Buf,
    da: B::Buf,
    ddt: B::Buf,
    dh1: B::Buf,
    dh0: B::Buf,
    de: B::Buf,
}

impl QuantumHydraSuperposition {
    /// 2d `QuantumMambaHydraSSM`: one core.
    pub fn mamba_hydra(cfg: ModelConfig) -> Self {
        Self::new(cfg, false)
    }

    /// 2e `QuantumHydraHydraSSM`: two cores (fwd, bwd).
    pub fn hydra_hydra(cfg: ModelConfig) -> Self {
        Self::new(cfg, true)
    }

    /// Builds the layout in the reference's state_dict order: `input_proj.{0,1}`,
    /// `chunk_attention.{0,2}`, the param projections (2e: `fwd_*` then `bwd_*`),
    /// `encoding_proj`, `dt_proj.{0,2}`, the cores' coefficients, `output_proj.{0,1}`,
    /// `seq_attention.{0,2}`, `classifier.{0,3}`. Input width `n_channels`, outputs
    /// `n_classes`, dt MLP hidden width `d_state`, circuits of `n_qubits` × `n_layers`.
    fn new(cfg: ModelConfig, bidirectional: bool) -> Self {
        let (c, d, q, l) = (cfg.n_channels, cfg.d_model, cfg.n_qubits, cfg.n_layers);
        let k = 5 * q * l;
        let mut lay = ParamLayout::new();
        let input_proj = OutputProj::new(&mut lay, "input_proj", c, d, 2);
        let pool = AttentionPool::chunks(&mut lay, "chunk_attention", d, d / 4, CHUNK_SIZE);
        let prefixes: &[(&str, &str)] = if bidirectional {
            &[("fwd_", "quantum_core_fwd"), ("bwd_", "quantum_core_bwd")]
        } else {
            &[("", "quantum_core")]
        };
        let projs: Vec<([Linear; 3], [String; 3])> = prefixes
            .iter()
            .map(|(pre, _)| {
                let names =
                    ["forward", "backward", "diagonal"].map(|b| format!("{pre}{b}_param_proj"));
                let lins = [0, 1, 2].map(|i| Linear::new(&mut lay, &names[i], d, k, true));
                (lins, names)
            })
            .collect();
        let enc = AngleProj::new(&mut lay, "encoding_proj", d, q, AngleMap::PiTanh);
        let dt0 = Linear::new(&mut lay, "dt_proj.0", d, cfg.d_state, true);
        let dt2 = AngleProj::new(&mut lay, "dt_proj.2", cfg.d_state, 1, AngleMap::Sigmoid);
        let re = Init::Const((1.0f64 / libm::sqrt(3.0)) as f32);
        let branch = |kind, dt| composed_program(q, l, true, &[Block { kind, dt }], false);
        let seg = |scale| {
            vec![Segment {
                width: k,
                period: 5 * q,
                prefix: 3 * q,
                scale,
            }]
        };
        let cores = projs
            .into_iter()
            .zip(prefixes)
            .map(|((projs, proj_names), (_, core_name))| {
                let coeffs = lay.len();
                for coef in ["alpha", "beta", "gamma"] {
                    lay.add(format!("{core_name}.{coef}_real"), &[], re);
                    lay.add(format!("{core_name}.{coef}_imag"), &[], Init::Const(0.0));
                }
                Core {
                    projs,
                    proj_names,
                    core_name: core_name.to_string(),
                    s3: S3Core::new(
                        [
                            branch(BlockKind::Unified, Some(0)),
                            branch(BlockKind::Backward, Some(0)),
                            branch(BlockKind::Unified, None),
                        ],
                        [seg(Some(0)), seg(Some(0)), seg(None)],
                        coeffs,
                    ),
                }
            })
            .collect::<Vec<_>>();
        let head = SeqPoolHead::new(&mut lay, 3 * q * cores.len(), d, cfg.n_classes, [0, 1]);
        Self {
            cfg,
            lay,
            bidirectional,
            input_proj,
            pool,
            cores,
            enc,
            dt0,
            dt2,
            head,
        }
    }

    /// Buffers for (B, T = `t`), with the backward's scratch (and the trace's) if `train`
    /// (else those are empty): a window's (T = n_times) or a streaming step's (one chunk).
    fn plan_len<B: Infer>(&self, be: &B, b: usize, t: usize, train: bool) -> Acts<B> {
        let (c, d, q) = (self.cfg.n_channels, self.cfg.d_model, self.cfg.n_qubits);
        let nc = self.pool.n_out(t);
        let s = |w: usize| be.alloc(&[b, nc, w]);
        // backward/trace scratch: no rows in eval plans
        let bw = |w: usize| be.alloc(&[b, if train { nc } else { 0 }, w]);
        let k = 5 * q * self.cfg.n_layers;
        let n = self.cfg.d_state;
        Acts {
            io: step_io(be, b, &self.cfg, t),
            xt: be.alloc(&[b, t, c]),
            inp: if train {
                self.input_proj.plan(be, b, t)
            } else {
                self.input_proj.plan_eval(be, b, t)
            },
            pool: self.pool.plan_with(be, b, t, train),
            enc: self.enc.plan(be, b, nc),
            h0: s(n),
            h1: s(n),
            dt: self.dt2.plan(be, b, nc),
            cores: self
                .cores
                .iter()
                .map(|core| CoreActs {
                    pp: [0; 3].map(|_| s(k)),
                    s3: core.s3.plan(be, [b, nc]),
                    rev_pp: [0; 3].map(|_| bw(k)),
                    rev_m: bw(3 * q),
                    dm: bw(3 * q),
                })
                .collect(),
            q: s(3 * q * self.cores.len()),
            head: self.head.plan(be, b, nc),
            dq: bw(3 * q * self.cores.len()),
            ds: bw(d),
            da: bw(q),
            ddt: bw(1),
            dh1: bw(n),
            dh0: bw(n),
            de: be.alloc(&[b, if train { t } else { 0 }, d]),
        }
    }

    /// x → the chunks' measurements `a.q` (B, nc, 3Q·cores): everything before the head.
    fn features<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        a: &mut Acts<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        be.to_token_major(&mut a.xt, &a.io.x);
        self.input_proj.forward(be, p, &a.xt, &mut a.inp, drop);
        self.pool.forward(be, p, &a.inp.out, &mut a.pool);
        let s = &a.pool.out;
        self.enc.forward(be, p, s, &mut a.enc);
        self.dt0.forward(be, p, s, &mut a.h0);
        be.act(Act::Silu, &mut a.h1, &a.h0);
        self.dt2.forward(be, p, &a.h1, &mut a.dt);
        let e = &a.enc.out;
        for (core, ca) in self.cores.iter().zip(a.cores.iter_mut()) {
            for (lin, pp) in core.projs.iter().zip(ca.pp.iter_mut()) {
                lin.forward(be, p, s, pp);
            }
            let [p0, p1, p2] = &ca.pp;
            core.s3
                .forward(be, p, [p0, p1, p2], &a.dt.out, [e, e, e], &mut ca.s3);
        }
        // (no allocation: a stream's step)
        match a.cores.as_slice() {
            [c0] => be.concat_cols(&mut a.q, &[&c0.s3.m]),
            [c0, c1] => be.concat_cols(&mut a.q, &[&c0.s3.m, &c1.s3.m]),
            _ => unreachable!("2d has one core, 2e two"),
        }
    }
}

impl Net for QuantumHydraSuperposition {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        if self.bidirectional {
            "2e"
        } else {
            "2d"
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
        self.features(be, p, a, drop);
        self.head
            .forward(be, p, &a.q, &mut a.head, &mut a.io.out, drop);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.dq, 0.0);
        self.head
            .backward(be, p, g, &a.q, &mut a.head, &a.io.dout, &mut a.dq);
        {
            let mut parts: Vec<&mut B::Buf> = a.cores.iter_mut().map(|c| &mut c.dm).collect();
            be.split_cols(&a.dq, &mut parts);
        }
        be.fill(&mut a.ds, 0.0);
        be.fill(&mut a.da, 0.0);
        be.fill(&mut a.ddt, 0.0);
        let s = &a.pool.out;
        let e = &a.enc.out;
        for (core, ca) in self.cores.iter().zip(a.cores.iter_mut()) {
            let [p0, p1, p2] = &ca.pp;
            core.s3.backward(
                be,
                p,
                g,
                [p0, p1, p2],
                &a.dt.out,
                [e, e, e],
                &mut ca.s3,
                &ca.dm,
                &mut a.ddt,
            );
            // the three branches share the encoding: da = Σ_k ∂L/∂e_k, in branch order
            for dk in &ca.s3.denc {
                be.add_assign(&mut a.da, dk);
            }
            for (lin, dy) in core.projs.iter().zip(&ca.s3.draw) {
                lin.backward(be, p, g, s, dy, Some(&mut a.ds));
            }
        }
        self.enc.backward(be, p, g, s, &mut a.enc, &a.da, &mut a.ds);
        be.fill(&mut a.dh1, 0.0);
        self.dt2
            .backward(be, p, g, &a.h1, &mut a.dt, &a.ddt, &mut a.dh1);
        be.fill(&mut a.dh0, 0.0);
        be.act_bwd(Act::Silu, &mut a.dh0, &a.dh1, &a.h0);
        self.dt0.backward(be, p, g, s, &a.dh0, Some(&mut a.ds));
        be.fill(&mut a.de, 0.0);
        self.pool.backward(be, p, g, &mut a.pool, &a.ds, &mut a.de);
        // x is the model's input: no dx
        self.input_proj
            .backward(be, p, g, &a.xt, &mut a.inp, &a.de, None);
    }
    fn trace<'a, B: Infer>(&self, be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        // 2e's bwd core: the reference runs its projections and core on the chunk-reversed
        // summaries, so its recorded intermediates list the chunks in reverse order
        if let Some(ca) = a.cores.get_mut(1) {
            for (r, pp) in ca.rev_pp.iter_mut().zip(&ca.pp) {
                be.reverse_time(r, pp);
            }
            be.reverse_time(&mut ca.rev_m, &ca.s3.m);
        }
        let a: &'a Acts<B> = a;
        let mut out = vec![
            ("input_proj.0".to_string(), &a.inp.o0),
            ("input_proj.1".into(), &a.inp.ln.y),
            ("input_proj.2".into(), a.inp.silu()),
            ("input_proj.3".into(), &a.inp.out),
            ("input_proj".into(), &a.inp.out),
        ];
        out.extend(self.pool.trace("chunk_attention", &a.pool));
        out.push(("encoding_proj".into(), &a.enc.raw));
        out.push(("dt_proj.0".into(), &a.h0));
        out.push(("dt_proj.1".into(), &a.h1));
        out.push(("dt_proj.2".into(), &a.dt.raw));
        out.push(("dt_proj.3".into(), &a.dt.out));
        out.push(("dt_proj".into(), &a.dt.out));
        for (i, (core, ca)) in self.cores.iter().zip(&a.cores).enumerate() {
            let (pp, m) = if i == 1 {
                (&ca.rev_pp, &ca.rev_m)
            } else {
                (&ca.pp, &ca.s3.m)
            };
            for (name, v) in core.proj_names.iter().zip(pp) {
                out.push((name.clone(), v));
            }
            out.push((core.core_name.clone(), m));
        }
        out.extend(self.head.trace(&a.head, &a.io.out));
        out
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        // causal chunk by chunk (spec §4.3 R1): after chunk j the head over the first j+1
        // chunk features; the last, partial chunk ends at T
        let t = self.cfg.n_times;
        let mut a = self.plan(&Cpu, 1);
        Cpu.upload(&mut a.io.x, x);
        self.forward(&Cpu, p, &mut a, None);
        let outs = self
            .head
            .prefix_outputs(p, a.head.op.out.as_slice(), self.cfg.n_classes);
        Some(
            outs.into_iter()
                .enumerate()
                .map(|(j, y)| (((j + 1) * CHUNK_SIZE).min(t), y))
                .collect(),
        )
    }
}

/// Planned buffers of one streaming step: the window's buffers for one chunk of `len` samples
/// (eval: no backward scratch).
pub struct Step<B: Infer> {
    len: usize,
    a: Acts<B>,
}

impl StepNet for QuantumHydraSuperposition {
    /// the streamed SeqPool over the chunk features so far (`seq_attention.*`)
    type State<B: Infer> = SoftmaxPoolState<B>;
    type Step<B: Infer> = Step<B>;
    fn step_len(&self) -> usize {
        CHUNK_SIZE
    }
    fn plan_state<B: Infer>(&self, be: &B, b: usize) -> SoftmaxPoolState<B> {
        self.head.plan_state(be, b)
    }
    fn plan_step<B: Infer>(&self, be: &B, b: usize, len: usize) -> Step<B> {
        // a partial chunk pads to a whole one with zero rows, as the window's last chunk
        let len = len.clamp(1, CHUNK_SIZE);
        Step {
            len,
            a: self.plan_len(be, b, len, false),
        }
    }
    fn step_io<B: Infer>(s: &mut Step<B>) -> &mut Io<B> {
        &mut s.a.io
    }
    fn state<B: Infer>(st: &mut SoftmaxPoolState<B>) -> Vec<(String, &mut B::Buf)> {
        st.named("seq_attention")
    }
    fn for_each_state<B: Infer>(st: &mut SoftmaxPoolState<B>, f: &mut dyn FnMut(&mut B::Buf)) {
        st.for_each(f);
    }
    /// One chunk: its measurements as in the window forward, then the head over every chunk so
    /// far.
    fn step<B: Infer>(&self, be: &B, p: &B::Params, st: &mut SoftmaxPoolState<B>, s: &mut Step<B>) {
        let a = &mut s.a;
        self.features(be, p, a, None);
        self.head.step(be, p, &a.q, &mut a.head, st, &mut a.io.out);
    }
    /// A chunk's first n samples: the others are the window's zero pad rows.
    fn steps_prefix(&self) -> bool {
        true
    }
    fn step_prefix<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        st: &mut SoftmaxPoolState<B>,
        s: &mut Step<B>,
        n: usize,
    ) -> bool {
        s.a.pool.set_len(n);
        self.step(be, p, st, s);
        s.a.pool.set_len(s.len);
        true
    }
}
