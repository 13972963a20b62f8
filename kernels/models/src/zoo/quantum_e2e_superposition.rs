//! 4d `QuantumMambaE2E_Superposition` and 4e `QuantumHydraE2E_Superposition` (reference
//! `models/QuantumE2E_Superposition.py`, spec groups-2-4 §3.10–3.11): per chunk, three branch
//! circuits combined at the state level (S3, §2.3) and measured once; written once over the
//! backend.
//!
//! x (B, C, T) → [`ConvFrontEnd`] ⇒ s (B, nc, D); shared a = π·tanh(`encoding_proj`(s_j)),
//! dt = σ(`dt_proj`(s_j)) (one value), inj = π·tanh(`input_injection_proj`(s_j)). A core (4d:
//! `quantum_core`; 4e: `quantum_core_fwd` and `quantum_core_bwd`, each with its own four
//! projections `<p>feature_param_proj`, `<p>forward_mixing_param_proj`,
//! `<p>backward_mixing_param_proj`, `<p>diagonal_mixing_param_proj`, raw 5QL angles each):
//!
//! base = |0⟩ → E(a) → U²(F);  ψ₁ = base → D²(Mf; dt) → E(dt·inj);
//! ψ₂ = base → Bk²(Mb; dt) → E(dt·inj);  ψ₃ = base → U²(Md);
//! q = M(S3(ψ₁, ψ₂, ψ₃; α, β, γ)) (3Q), α = `alpha_real` + i·`alpha_imag` etc. (six scalars).
//!
//! Each core runs its three branch circuits over all B·nc chunks ([`Infer::circuit`],
//! Δ-modulation and the scaled injection by [`Infer::scale_segments`]), mixes the final states
//! with [`Infer::s3_measure`] and backpropagates through [`Backend::s3_measure_bwd`] and
//! [`Backend::circuit_bwd_state`]; the shared prefix is recomputed in every branch, as the
//! reference does. 4e's bwd core runs on
//! the chunks in reverse order and the result is flipped back — a no-op because chunks never
//! interact, so q^bwd_j = core_bwd(s_j); its `act.*` traces are reported in the reference's
//! reversed order. Then [`SeqPoolHead`]
//! (OP_18 / OP_36 → SeqPool → H_silu). Streamable chunk by chunk (R1), Conv3 look-ahead of one
//! sample. Parameter counts (EEG config, every T): 76,999 / 110,269.
use super::quantum_e2e::{boundaries, E2eParts, E2eStepParts, CHUNK_SIZE};
use crate::nn::step::step_io;
use crate::nn::{
    composed_program, AngleActs, AngleMap, AngleProj, Block, BlockKind, ConvFrontEnd, FrontActs,
    Io, Linear, Net, S3Acts, S3Core, SeqPoolActs, SeqPoolHead,
};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::{Backend, DropoutCfg, Infer, Segment};
use qssm_kernels::circuit::Program;

/// Names of a core's four angle projections (after the core's prefix), in registration order.
const PROJ_NAMES: [&str; 4] = [
    "feature_param_proj",
    "forward_mixing_param_proj",
    "backward_mixing_param_proj",
    "diagonal_mixing_param_proj",
];

/// One core: four angle projections and the S3 superposition of its three branches.
struct Core {
    /// `act.*` name of the core's output and prefix of its coefficients (`quantum_core`,
    /// `quantum_core_fwd`, `quantum_core_bwd`)
    name: &'static str,
    /// projection prefix (`""`, `"fwd_"`, `"bwd_"`)
    prefix: &'static str,
    projs: Vec<Linear>,
    /// the three branches (θ of a branch = [F | M], M scaled by dt in branches 1, 2) mixed by
    /// `<name>.{alpha,beta,gamma}_{real,imag}`
    s3: S3Core,
    /// the reference runs this core on the chunks in reverse order (traces only)
    reversed: bool,
}

/// 4d / 4e (see the module docs).
pub struct QuantumE2eSuperposition {
    cfg: ModelConfig,
    lay: ParamLayout,
    bidirectional: bool,
    front: ConvFrontEnd,
    cores: Vec<Core>,
    enc: AngleProj,
    dt: AngleProj,
    inj: AngleProj,
    inj_seg: Segment,
    head: SeqPoolHead,
}

/// Planned buffers of one core.
pub struct CoreActs<B: Infer> {
    /// F, Mf, Mb, Md (B, nc, 5QL)
    pp: [B::Buf; 4],
    /// per branch: [F | M] raw
    raw: [B::Buf; 3],
    s3: S3Acts<B>,
    /// chunk-reversed copies for the trace of a reversed core
    rev_pp: [B::Buf; 4],
    rev_m: B::Buf,
    // backward scratch
    dm: B::Buf,
    dpp: [B::Buf; 4],
    dfeat: B::Buf,
    da_k: B::Buf,
    dinj_k: B::Buf,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    front: FrontActs<B>,
    a: AngleActs<B>,
    dt: AngleActs<B>,
    inj: AngleActs<B>,
    /// dt·inj, [a | dt·inj] (branches 1, 2)
    inj_s: B::Buf,
    enc: B::Buf,
    cores: Vec<CoreActs<B>>,
    /// [q_core0 | q_core1] (B, nc, 3Q·cores)
    q: B::Buf,
    head: SeqPoolActs<B>,
    // backward scratch
    dq: B::Buf,
    da: B::Buf,
    dinj_s: B::Buf,
    dinj: B::Buf,
    ddt: B::Buf,
    ds: B::Buf,
}

/// The three branches' programs on sources [F, Mf, Mb, Md] (θ of a branch = [F | M_k]):
/// E(a)·U²(F)·D²(Mf; dt)·E(dt·inj), E(a)·U²(F)·Bk²(Mb; dt)·E(dt·inj), E(a)·U²(F)·U²(Md).
fn programs(q: usize, l: usize) -> [Program; 3] {
    let feat = Block {
        kind: BlockKind::Unified,
        dt: None,
    };
    let cc = |kind, dt: Option<usize>| {
        composed_program(q, l, true, &[feat, Block { kind, dt }], dt.is_some())
    };
    [
        cc(BlockKind::Unified, Some(0)),
        cc(BlockKind::Backward, Some(0)),
        cc(BlockKind::Unified, None),
    ]
}

impl QuantumE2eSuperposition {
    /// Builds 4d (`bidirectional = false`) or 4e (`true`) for `cfg` (C = `n_channels`,
    /// D = `d_model`, Q = `n_qubits`, L = `n_layers`, outputs = `n_classes`).
    pub fn new(cfg: ModelConfig, bidirectional: bool) -> Self {
        let (c, d, q, l) = (cfg.n_channels, cfg.d_model, cfg.n_qubits, cfg.n_layers);
        let pb = 5 * q * l;
        let mut lay = ParamLayout::new();
        let front = ConvFrontEnd::new(&mut lay, (c, d, CHUNK_SIZE, d / 4));
        let specs: &[(&'static str, &'static str, bool)] = if bidirectional {
            &[
                ("quantum_core_fwd", "fwd_", false),
                ("quantum_core_bwd", "bwd_", true),
            ]
        } else {
            &[("quantum_core", "", false)]
        };
        // state_dict order: every core's projections, the shared heads, then every core's
        // coefficients
        let projs: Vec<Vec<Linear>> = specs
            .iter()
            .map(|&(_, prefix, _)| {
                PROJ_NAMES
                    .iter()
                    .map(|n| Linear::new(&mut lay, &format!("{prefix}{n}"), d, pb, true))
                    .collect()
            })
            .collect();
        let enc = AngleProj::new(&mut lay, "encoding_proj", d, q, AngleMap::PiTanh);
        let dt = AngleProj::new(&mut lay, "dt_proj", d, 1, AngleMap::Sigmoid);
        let inj = AngleProj::new(&mut lay, "input_injection_proj", d, q, AngleMap::PiTanh);
        let re = Init::Const((1.0f64 / libm::sqrt(3.0)) as f32);
        let seg = |scale| Segment {
            width: pb,
            period: 5 * q,
            prefix: 3 * q,
            scale,
        };
        let cores: Vec<Core> = specs
            .iter()
            .zip(projs)
            .map(|(&(name, prefix, reversed), projs)| {
                let coeffs = lay.len();
                for coef in ["alpha", "beta", "gamma"] {
                    lay.add(format!("{name}.{coef}_real"), &[], re);
                    lay.add(format!("{name}.{coef}_imag"), &[], Init::Const(0.0));
                }
                Core {
                    name,
                    prefix,
                    projs,
                    s3: S3Core::new(
                        programs(q, l),
                        [
                            vec![seg(None), seg(Some(0))],
                            vec![seg(None), seg(Some(0))],
                            vec![seg(None), seg(None)],
                        ],
                        coeffs,
                    ),
                    reversed,
                }
            })
            .collect();
        let head = SeqPoolHead::new(&mut lay, 3 * q * cores.len(), d, cfg.n_classes, [0, 1]);
        Self {
            cfg,
            lay,
            bidirectional,
            front,
            cores,
            enc,
            dt,
            inj,
            inj_seg: Segment {
                width: q,
                period: q,
                prefix: q,
                scale: Some(0),
            },
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
        let pb = 5 * q * self.cfg.n_layers;
        let nk = self.cores.len();
        Acts {
            io: step_io(be, b, &self.cfg, t + ahead),
            front: self.front.plan_with(be, b, c, t, train),
            a: self.enc.plan(be, b, nc),
            dt: self.dt.plan(be, b, nc),
            inj: self.inj.plan(be, b, nc),
            inj_s: s(q),
            enc: s(2 * q),
            cores: self
                .cores
                .iter()
                .map(|core| CoreActs {
                    pp: [0; 4].map(|_| s(pb)),
                    raw: [0; 3].map(|_| s(2 * pb)),
                    s3: core.s3.plan(be, [b, nc]),
                    rev_pp: [0; 4].map(|_| s(pb)),
                    rev_m: s(3 * q),
                    dm: g(3 * q),
                    dpp: [0; 4].map(|_| g(pb)),
                    dfeat: g(pb),
                    da_k: g(q),
                    dinj_k: g(q),
                })
                .collect(),
            q: s(3 * q * nk),
            head: self.head.plan(be, b, nc),
            dq: g(3 * q * nk),
            da: g(q),
            dinj_s: g(q),
            dinj: g(q),
            ddt: g(1),
            ds: g(d),
        }
    }

    /// The chunk summaries `a.front.pool.out` → the chunks' measurements `a.q` (B, nc,
    /// 3Q·cores).
    fn features<B: Infer>(&self, be: &B, p: &B::Params, a: &mut Acts<B>) {
        let s = &a.front.pool.out;
        self.enc.forward(be, p, s, &mut a.a);
        self.dt.forward(be, p, s, &mut a.dt);
        self.inj.forward(be, p, s, &mut a.inj);
        be.scale_segments(
            &mut a.inj_s,
            &a.inj.out,
            &a.dt.out,
            core::slice::from_ref(&self.inj_seg),
        );
        be.concat_cols(&mut a.enc, &[&a.a.out, &a.inj_s]);
        for (core, ca) in self.cores.iter().zip(a.cores.iter_mut()) {
            for (lin, pp) in core.projs.iter().zip(ca.pp.iter_mut()) {
                lin.forward(be, p, s, pp);
            }
            for k in 0..3 {
                be.concat_cols(&mut ca.raw[k], &[&ca.pp[0], &ca.pp[k + 1]]);
            }
            let [r0, r1, r2] = &ca.raw;
            let enc = [&a.enc, &a.enc, &a.a.out];
            core.s3
                .forward(be, p, [r0, r1, r2], &a.dt.out, enc, &mut ca.s3);
        }
        // (no allocation: a stream's step)
        match a.cores.as_slice() {
            [c0] => be.concat_cols(&mut a.q, &[&c0.s3.m]),
            [c0, c1] => be.concat_cols(&mut a.q, &[&c0.s3.m, &c1.s3.m]),
            _ => unreachable!("4d has one core, 4e two"),
        }
    }
}

impl Net for QuantumE2eSuperposition {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        if self.bidirectional {
            "4e"
        } else {
            "4d"
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
        {
            let mut parts: Vec<&mut B::Buf> = a.cores.iter_mut().map(|c| &mut c.dm).collect();
            be.split_cols(&a.dq, &mut parts);
        }
        be.fill(&mut a.ds, 0.0);
        be.fill(&mut a.ddt, 0.0);
        be.fill(&mut a.da, 0.0);
        be.fill(&mut a.dinj_s, 0.0);
        let s = &a.front.pool.out;
        for (core, ca) in self.cores.iter().zip(a.cores.iter_mut()) {
            let [r0, r1, r2] = &ca.raw;
            let enc = [&a.enc, &a.enc, &a.a.out];
            core.s3.backward(
                be,
                p,
                g,
                [r0, r1, r2],
                &a.dt.out,
                enc,
                &mut ca.s3,
                &ca.dm,
                &mut a.ddt,
            );
            for d in &mut ca.dpp {
                be.fill(d, 0.0);
            }
            for k in 0..3 {
                if k < 2 {
                    // encodings [a | dt·inj]: gradient [da | d(dt·inj)]
                    be.split_cols(&ca.s3.denc[k], &mut [&mut ca.da_k, &mut ca.dinj_k]);
                    be.add_assign(&mut a.dinj_s, &ca.dinj_k);
                    be.add_assign(&mut a.da, &ca.da_k);
                } else {
                    // the embedding alone
                    be.add_assign(&mut a.da, &ca.s3.denc[k]);
                }
                // θ = [F | M_k]: [dF | dM_k]
                let [d0, rest @ ..] = &mut ca.dpp;
                be.split_cols(&ca.s3.draw[k], &mut [&mut ca.dfeat, &mut rest[k]]);
                be.add_assign(d0, &ca.dfeat);
            }
            for (lin, dpp) in core.projs.iter().zip(&ca.dpp) {
                lin.backward(be, p, g, s, dpp, Some(&mut a.ds));
            }
        }
        be.fill(&mut a.dinj, 0.0);
        be.scale_segments_bwd(
            &mut a.dinj,
            &mut a.ddt,
            &a.dinj_s,
            &a.inj.out,
            &a.dt.out,
            core::slice::from_ref(&self.inj_seg),
        );
        self.enc.backward(be, p, g, s, &mut a.a, &a.da, &mut a.ds);
        self.dt.backward(be, p, g, s, &mut a.dt, &a.ddt, &mut a.ds);
        self.inj
            .backward(be, p, g, s, &mut a.inj, &a.dinj, &mut a.ds);
        self.front.backward(be, p, g, &mut a.front, &a.ds);
    }
    fn trace<'a, B: Infer>(&self, be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        self.front.trace_views(be, &mut a.front);
        for (core, ca) in self.cores.iter().zip(a.cores.iter_mut()) {
            if core.reversed {
                // the reference feeds the bwd core the chunks in reverse order
                for (r, pp) in ca.rev_pp.iter_mut().zip(&ca.pp) {
                    be.reverse_time(r, pp);
                }
                be.reverse_time(&mut ca.rev_m, &ca.s3.m);
            }
        }
        let a: &'a Acts<B> = a;
        let mut out = self.front.trace(&a.front);
        out.push(("encoding_proj".into(), &a.a.raw));
        out.push(("dt_proj".into(), &a.dt.raw));
        out.push(("input_injection_proj".into(), &a.inj.raw));
        for (core, ca) in self.cores.iter().zip(&a.cores) {
            let (pp, m) = if core.reversed {
                (&ca.rev_pp, &ca.rev_m)
            } else {
                (&ca.pp, &ca.s3.m)
            };
            for (n, v) in PROJ_NAMES.iter().zip(pp) {
                out.push((format!("{}{n}", core.prefix), v));
            }
            out.push((core.name.into(), m));
        }
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

impl E2eParts for QuantumE2eSuperposition {
    fn front(&self) -> &ConvFrontEnd {
        &self.front
    }
    fn head(&self) -> &SeqPoolHead {
        &self.head
    }
    fn plan_len<B: Infer>(&self, be: &B, b: usize, t: usize, train: bool) -> Acts<B> {
        QuantumE2eSuperposition::plan_len(self, be, b, t, train)
    }
    fn features<B: Infer>(&self, be: &B, p: &B::Params, a: &mut Acts<B>) {
        QuantumE2eSuperposition::features(self, be, p, a);
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
