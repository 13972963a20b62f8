//! 2d — `QuantumMambaHydraSSM` (≡ `QuantumHydraSSM`) and 2e — `QuantumHydraHydraSSM`
//! (≡ `QuantumHydraSSMBidirectional`), reference `models/QuantumHydraSSM.py`, spec groups-2-4
//! §3.4, §3.5:
//!
//! x (C, T) → (T, C) → e_t = Drop(SiLU(LN(Linear(C→D)(x_t)))) (`input_proj`, per sample) →
//! s = ChunkPool(32, D/4) (`chunk_attention`, zero pad rows at the end of time, no dropout)
//! (nc, D) → per chunk j: a = π·tanh(`encoding_proj`(s_j)) (Q), dt = σ(`dt_proj.2`(SiLU(
//! `dt_proj.0`(s_j)))) (scalar), and per core Pf, Pb, Pd = `*forward_param_proj`,
//! `*backward_param_proj`, `*diagonal_param_proj`(s_j) (5QL raw angles each) →
//! q_j = S3(E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd)) ([`SuperpositionCore`], 3Q) →
//! OP_{3Q·cores} → SeqPool → H_silu ([`SeqPoolHead`]).
//!
//! 2d has one core (`quantum_core`, projections without prefix); 2e two (`quantum_core_fwd`
//! with `fwd_*` projections, `quantum_core_bwd` with `bwd_*`), q_j = concat(q^fwd_j, q^bwd_j).
//! The reference's chunk-order flip around 2e's bwd core is an exact no-op (chunks never
//! interact before the final softmax pooling), so both cores read chunk j directly.
//!
//! Chunks are independent up to the softmax pooling over chunk features, so both models are
//! causal chunk by chunk (spec §4.3 R1): the output after chunk k is the head over the first
//! k+1 chunk features ([`crate::models::Model::boundary_outputs`]).
use crate::models::blocks::angle_proj::{AngleMap, AngleProj, AngleProjOut};
use crate::models::blocks::{
    AttentionPool, AttentionPoolCache, Block, BlockKind, CircuitGrads, CircuitInputs,
    ComposedCircuit, Linear, OutputProj, OutputProjCache, SeqPoolHead, SeqPoolHeadCache,
    SuperpositionCore, SuperpositionRun,
};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, ModelConfig, SampleModel, SampleOutput};
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::{silu_backward, silu_forward};
use rand_chacha::ChaCha8Rng;

/// Chunk size of 2d/2e (the reference constructor's default, never overridden).
pub const CHUNK_SIZE: usize = 32;

/// One superposition core with its three angle projections.
#[derive(Clone, Debug)]
struct Core {
    /// `{prefix}forward_param_proj`, `{prefix}backward_param_proj`,
    /// `{prefix}diagonal_param_proj` (D → 5QL)
    projs: [Linear; 3],
    core: SuperpositionCore,
    /// projection names (for traces)
    proj_names: [String; 3],
    /// core name (for traces)
    core_name: String,
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

#[derive(Default)]
struct Cache {
    /// input, token-major (T, C)
    xt: Vec<f32>,
    inp: OutputProjCache,
    /// `input_proj` output e (T, D)
    e: Vec<f32>,
    pool: AttentionPoolCache,
    /// chunk summaries s (nc, D)
    s: Vec<f32>,
    /// encoding angles: raw (nc, Q) and a = π·tanh(raw)
    enc: AngleProjOut,
    /// `dt_proj.0` output (nc, N)
    h0: Vec<f32>,
    /// SiLU(h0) (nc, N)
    h1: Vec<f32>,
    /// `dt_proj.2`: raw (nc) and dt = σ(raw)
    dt: AngleProjOut,
    /// per core: the three projections (nc, K) each
    pp: Vec<[Vec<f32>; 3]>,
    /// per core, per chunk
    runs: Vec<Vec<SuperpositionRun>>,
    /// concatenated measurements (nc, 3Q·cores)
    q: Vec<f32>,
    head: SeqPoolHeadCache,
    nc: usize,
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
        let input_proj = OutputProj::new(&mut lay, "input_proj", c, d, cfg.dropout);
        let pool = AttentionPool::new(&mut lay, "chunk_attention", d, d / 4);
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
        let branch = |kind, src, dt| {
            ComposedCircuit::new(
                q,
                l,
                true,
                vec![Block {
                    kind,
                    src,
                    offset: 0,
                    dt,
                }],
                None,
            )
        };
        let cores = projs
            .into_iter()
            .zip(prefixes)
            .map(|((projs, proj_names), (_, core_name))| {
                // sources [Pf, Pb, Pd], dts [dt]: E(a)·D²(Pf; dt), E(a)·Bk²(Pb; dt), E(a)·U²(Pd)
                let core = SuperpositionCore::new(
                    &mut lay,
                    core_name,
                    [
                        branch(BlockKind::Unified, 0, Some(0)),
                        branch(BlockKind::Backward, 1, Some(0)),
                        branch(BlockKind::Unified, 2, None),
                    ],
                );
                Core {
                    projs,
                    core,
                    proj_names,
                    core_name: core_name.to_string(),
                }
            })
            .collect::<Vec<_>>();
        let n_q: usize = cores.iter().map(|c| c.core.n_out()).sum();
        let head = SeqPoolHead::new(&mut lay, n_q, d, cfg.n_classes, cfg.dropout);
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

    fn n_q(&self) -> usize {
        self.cores.iter().map(|c| c.core.n_out()).sum()
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (c, t) = (self.cfg.n_channels, self.cfg.n_times);
        let mut k = Cache {
            xt: to_token_major(x, c, t),
            ..Default::default()
        };
        k.e = self
            .input_proj
            .forward(p, &k.xt, t, rng.as_deref_mut(), &mut k.inp);
        k.s = self.pool.forward(p, &k.e, t, CHUNK_SIZE, &mut k.pool);
        let nc = t.div_ceil(CHUNK_SIZE);
        k.nc = nc;
        k.enc = self.enc.forward(p, &k.s, nc);
        k.h0 = self.dt0.apply(p, &k.s, nc);
        k.h1 = vec![0.0; k.h0.len()];
        silu_forward(&mut k.h1, &k.h0);
        k.dt = self.dt2.forward(p, &k.h1, nc);
        let (q, nq) = (self.cfg.n_qubits, self.n_q());
        k.q = vec![0.0; nc * nq];
        let mut col = 0;
        for core in &self.cores {
            let pp = core.projs.each_ref().map(|lin| lin.apply(p, &k.s, nc));
            let kw = core.projs[0].d_out;
            let w = core.core.n_out();
            let runs: Vec<SuperpositionRun> = (0..nc)
                .map(|j| {
                    let srcs = [0, 1, 2].map(|i| &pp[i][j * kw..(j + 1) * kw]);
                    let inp = CircuitInputs {
                        sources: &srcs,
                        dts: &k.dt.out[j..j + 1],
                        a: &k.enc.out[j * q..(j + 1) * q],
                        inj: &[],
                    };
                    core.core.forward(p, &inp)
                })
                .collect();
            for (j, r) in runs.iter().enumerate() {
                k.q[j * nq + col..j * nq + col + w].copy_from_slice(&r.q);
            }
            col += w;
            k.pp.push(pp);
            k.runs.push(runs);
        }
        self.head.forward(p, &k.q, nc, rng, &mut k.head);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (t, d, q, nc, nq) = (
            self.cfg.n_times,
            self.cfg.d_model,
            self.cfg.n_qubits,
            k.nc,
            self.n_q(),
        );
        let mut dq = vec![0.0; nc * nq];
        self.head.backward(p, g, &k.head, dlogits, &mut dq);
        let mut ds = vec![0.0; nc * d];
        let mut da = vec![0.0f32; nc * q];
        let mut ddt = vec![0.0f64; nc];
        let mut col = 0;
        for ((core, pp), runs) in self.cores.iter().zip(&k.pp).zip(&k.runs) {
            let kw = core.projs[0].d_out;
            let w = core.core.n_out();
            let mut dpp = [0, 1, 2].map(|_| vec![0.0f32; nc * kw]);
            for (j, run) in runs.iter().enumerate() {
                let srcs = [0, 1, 2].map(|i| &pp[i][j * kw..(j + 1) * kw]);
                let inp = CircuitInputs {
                    sources: &srcs,
                    dts: &k.dt.out[j..j + 1],
                    a: &k.enc.out[j * q..(j + 1) * q],
                    inj: &[],
                };
                let [d0, d1, d2] = &mut dpp;
                let mut dsrc: [&mut [f32]; 3] = [
                    &mut d0[j * kw..(j + 1) * kw],
                    &mut d1[j * kw..(j + 1) * kw],
                    &mut d2[j * kw..(j + 1) * kw],
                ];
                let mut grads = CircuitGrads {
                    sources: &mut dsrc,
                    dts: &mut ddt[j..j + 1],
                    a: &mut da[j * q..(j + 1) * q],
                    inj: &mut [],
                };
                let dqj = &dq[j * nq + col..j * nq + col + w];
                core.core.backward(p, g, &inp, run, dqj, &mut grads);
            }
            for (lin, dy) in core.projs.iter().zip(&dpp) {
                lin.backward(p, g, &k.s, dy, nc, Some(&mut ds));
            }
            col += w;
        }
        self.enc.backward(p, g, &k.s, &k.enc, &da, nc, &mut ds);
        let ddt32: Vec<f32> = ddt.iter().map(|&v| v as f32).collect();
        let mut dh1 = vec![0.0; k.h1.len()];
        self.dt2.backward(p, g, &k.h1, &k.dt, &ddt32, nc, &mut dh1);
        let mut dh0 = vec![0.0; k.h0.len()];
        silu_backward(&mut dh0, &dh1, &k.h0);
        self.dt0.backward(p, g, &k.s, &dh0, nc, Some(&mut ds));
        let mut de = vec![0.0; t * d];
        self.pool.backward(p, g, &k.pool, &ds, &mut de);
        let mut dxt = vec![0.0; k.xt.len()];
        self.input_proj.backward(p, g, &k.inp, &de, &mut dxt);
    }
}

impl SampleModel for QuantumHydraSuperposition {
    fn id(&self) -> &'static str {
        if self.bidirectional {
            "2e"
        } else {
            "2d"
        }
    }
    fn class_name(&self) -> &'static str {
        if self.bidirectional {
            "QuantumHydraHydraSSM"
        } else {
            "QuantumMambaHydraSSM"
        }
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn forward_eval(&self, p: &[f32], x: &[f32]) -> Vec<f32> {
        self.run(p, x, None).head.out
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
        let (loss, dlogits) = loss_with_grad(&k.head.out, target, scale);
        self.backward(p, g, &k, &dlogits);
        SampleOutput {
            loss,
            logits: k.head.out.clone(),
        }
    }
    fn is_causal(&self) -> bool {
        true
    }
    /// After chunk k (samples [0, min(32(k+1), T))): the head over chunk features f_0..f_k;
    /// the last, partial chunk is closed by its zero pad rows as in the window forward.
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        let t = self.cfg.n_times;
        let k = self.run(p, x, None);
        Some(
            self.head
                .prefix_outputs(p, &k.head)
                .into_iter()
                .enumerate()
                .map(|(j, y)| (((j + 1) * CHUNK_SIZE).min(t), y))
                .collect(),
        )
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let mut op2 = vec![0.0; k.inp.o1.len()];
        silu_forward(&mut op2, &k.inp.o1);
        let mut out = vec![
            ("input_proj.0".into(), k.inp.o0.clone()),
            ("input_proj.1".into(), k.inp.o1.clone()),
            ("input_proj.2".into(), op2),
            ("input_proj.3".into(), k.e.clone()),
            ("input_proj".into(), k.e.clone()),
            ("chunk_attention.0".into(), self.pool.hidden_pre(p, &k.pool)),
            ("chunk_attention.1".into(), k.pool.t1.clone()),
            ("chunk_attention.2".into(), k.pool.scores.clone()),
            ("chunk_attention".into(), k.pool.scores.clone()),
            ("encoding_proj".into(), k.enc.raw.clone()),
            ("dt_proj.0".into(), k.h0.clone()),
            ("dt_proj.1".into(), k.h1.clone()),
            ("dt_proj.2".into(), k.dt.raw.clone()),
            ("dt_proj.3".into(), k.dt.out.clone()),
            ("dt_proj".into(), k.dt.out.clone()),
        ];
        // 2e's bwd core: the reference runs its projections and core on the chunk-reversed
        // summaries, so its recorded intermediates list the chunks in reverse order
        let rows = |v: &[f32], w: usize, rev: bool| -> Vec<f32> {
            let mut r: Vec<&[f32]> = v.chunks_exact(w).collect();
            if rev {
                r.reverse();
            }
            r.concat()
        };
        for (i, ((core, pp), runs)) in self.cores.iter().zip(&k.pp).zip(&k.runs).enumerate() {
            let rev = i == 1;
            for (name, v) in core.proj_names.iter().zip(pp) {
                out.push((name.clone(), rows(v, core.projs[0].d_out, rev)));
            }
            let q: Vec<f32> = runs.iter().flat_map(|r| r.q.iter().copied()).collect();
            out.push((core.core_name.clone(), rows(&q, core.core.n_out(), rev)));
        }
        out.extend(self.head.trace(p, &k.head));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn small(t: usize) -> ModelConfig {
        ModelConfig {
            n_channels: 5,
            d_model: 16,
            d_state: 4,
            n_qubits: 3,
            n_layers: 2,
            dropout: 0.0,
            ..ModelConfig::eeg(t)
        }
    }

    /// Every parameter gradient of 2d and 2e (small config, two chunks with padding) vs
    /// central finite differences of the loss.
    #[test]
    fn gradients_match_finite_differences() {
        for bidir in [false, true] {
            let m = QuantumHydraSuperposition::new(small(40), bidir);
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let mut p = m.layout().init(&mut rng);
            // non-trivial coefficient phases
            for s in m.layout().specs() {
                if s.name.contains("quantum_core") {
                    p[s.range.start] += rng.gen_range(-0.3..0.3);
                }
            }
            let x: Vec<f32> = (0..5 * 40).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let mut g = vec![0.0; p.len()];
            m.forward_backward(&p, &x, Target::Class(1), 1.0, None, &mut g);
            let loss = |p: &[f32]| -> f64 {
                let lg = m.forward_eval(p, &x);
                let mx = lg.iter().cloned().fold(f32::MIN, f32::max) as f64;
                let lse = lg.iter().map(|&v| (v as f64 - mx).exp()).sum::<f64>().ln() + mx;
                lse - lg[1] as f64
            };
            let gmax = g.iter().fold(0.0f32, |a, b| a.max(b.abs())) as f64;
            let mut worst = 0.0f64;
            for s in m.layout().specs() {
                let step = (s.range.len() / 3).max(1);
                for i in s.range.clone().step_by(step) {
                    let h = 1e-3f32;
                    let mut pp = p.clone();
                    pp[i] += h;
                    let lp = loss(&pp);
                    pp[i] -= 2.0 * h;
                    let lm = loss(&pp);
                    let fd = (lp - lm) / (2.0 * h as f64);
                    worst = worst.max((fd - g[i] as f64).abs());
                }
            }
            eprintln!("bidir {bidir}: FD worst {worst:.2e} (max |g| {gmax:.2e})");
            assert!(worst < 2e-2 * gmax.max(1e-3), "{worst} vs {gmax}");
        }
    }
}
