//! 4d `QuantumMambaE2E_Superposition` and 4e `QuantumHydraE2E_Superposition` (reference
//! `models/QuantumE2E_Superposition.py`, spec groups-2-4 §3.10–3.11): per chunk, three branch
//! circuits combined at the state level (S3, §2.3) and measured once.
//!
//! x (C, T) → [`ConvFrontEnd`] ⇒ s (nc, D); shared a = π·tanh(`encoding_proj`(s_j)),
//! dt = σ(`dt_proj`(s_j)) (one value), inj = π·tanh(`input_injection_proj`(s_j)). A core (4d:
//! `quantum_core`; 4e: `quantum_core_fwd` and `quantum_core_bwd`, each with its own four
//! projections `<p>feature_param_proj`, `<p>forward_mixing_param_proj`,
//! `<p>backward_mixing_param_proj`, `<p>diagonal_mixing_param_proj`, raw 5QL angles each):
//!
//! base = |0⟩ → E(a) → U²(F);  ψ₁ = base → D²(Mf; dt) → E(dt·inj);
//! ψ₂ = base → Bk²(Mb; dt) → E(dt·inj);  ψ₃ = base → U²(Md);
//! q = M(S3(ψ₁, ψ₂, ψ₃; α, β, γ)) (3Q), α = `alpha_real` + i·`alpha_imag` etc. (six scalars).
//!
//! Each core is a [`SuperpositionCore`]; the shared prefix is recomputed in every branch, as
//! the reference does (exact; the circuits are a small part of a step). 4e's bwd core runs on
//! the chunks in reverse order and the result is flipped back — a no-op because chunks never
//! interact, so q^bwd_j = core_bwd(s_j); its `act.*` traces are reported in the reference's
//! reversed order. Then [`SeqPoolHead`]
//! (OP_18 / OP_36 → SeqPool → H_silu). Streamable chunk by chunk (R1), Conv3 look-ahead of one
//! sample. Parameter counts (EEG config, every T): 76,999 / 110,269.
use super::quantum_e2e::{boundaries, CHUNK_SIZE};
use crate::models::blocks::reverse::reverse_time;
use crate::models::blocks::{
    AngleMap, AngleProj, AngleProjOut, Block, BlockKind, CircuitGrads, CircuitInputs,
    ComposedCircuit, ConvFrontEnd, ConvFrontEndCache, Linear, SeqPoolHead, SeqPoolHeadCache,
    SuperpositionCore, SuperpositionRun,
};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{ModelConfig, SampleModel, SampleOutput};
use crate::params::ParamLayout;
use rand_chacha::ChaCha8Rng;

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
    /// branches + `<name>.{alpha,beta,gamma}_{real,imag}` (six shape-() scalars)
    s3: SuperpositionCore,
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
    head: SeqPoolHead,
}

#[derive(Default)]
struct CoreCache {
    /// projection outputs (4 × (nc, 5QL))
    pp: Vec<Vec<f32>>,
    /// core evaluations per chunk (branch states, φ, q)
    runs: Vec<SuperpositionRun>,
    /// measurements (nc, 3Q)
    q: Vec<f32>,
}

#[derive(Default)]
struct Cache {
    fe: ConvFrontEndCache,
    s: Vec<f32>,
    nc: usize,
    a: AngleProjOut,
    dt: AngleProjOut,
    inj: AngleProjOut,
    cores: Vec<CoreCache>,
    /// concatenated measurements (nc, 3Q·cores)
    q: Vec<f32>,
    head: SeqPoolHeadCache,
    logits: Vec<f32>,
}

/// The three branches of a core on sources [F, Mf, Mb, Md], dts \[dt\]:
/// E(a)·U²(F)·D²(Mf; dt)·E(dt·inj), E(a)·U²(F)·Bk²(Mb; dt)·E(dt·inj), E(a)·U²(F)·U²(Md).
fn branches(q: usize, l: usize) -> [ComposedCircuit; 3] {
    let blk = |kind, src, dt| Block {
        kind,
        src,
        offset: 0,
        dt,
    };
    let feat = blk(BlockKind::Unified, 0, None);
    let cc = |second: Block, inject: Option<usize>| {
        ComposedCircuit::new(q, l, true, vec![feat, second], inject)
    };
    [
        cc(blk(BlockKind::Unified, 1, Some(0)), Some(0)),
        cc(blk(BlockKind::Backward, 2, Some(0)), Some(0)),
        cc(blk(BlockKind::Unified, 3, None), None),
    ]
}

impl QuantumE2eSuperposition {
    /// Builds 4d (`bidirectional = false`) or 4e (`true`) for `cfg` (C = `n_channels`,
    /// D = `d_model`, Q = `n_qubits`, L = `n_layers`, outputs = `n_classes`).
    pub fn new(cfg: ModelConfig, bidirectional: bool) -> Self {
        let (c, d, q, l) = (cfg.n_channels, cfg.d_model, cfg.n_qubits, cfg.n_layers);
        let pb = 5 * q * l;
        let mut lay = ParamLayout::new();
        let front = ConvFrontEnd::new(&mut lay, c, d, CHUNK_SIZE, d / 4);
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
        let cores: Vec<Core> = specs
            .iter()
            .zip(projs)
            .map(|(&(name, prefix, reversed), projs)| Core {
                name,
                prefix,
                projs,
                s3: SuperpositionCore::new(&mut lay, name, branches(q, l)),
                reversed,
            })
            .collect();
        let head = SeqPoolHead::new(&mut lay, 3 * q * cores.len(), d, cfg.n_classes, cfg.dropout);
        Self {
            cfg,
            lay,
            bidirectional,
            front,
            cores,
            enc,
            dt,
            inj,
            head,
        }
    }

    fn run(&self, p: &[f32], x: &[f32], rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (t, q) = (self.cfg.n_times, self.cfg.n_qubits);
        let mut k = Cache::default();
        k.s = self.front.forward(p, x, t, &mut k.fe);
        let nc = self.front.n_chunks(t);
        k.nc = nc;
        k.a = self.enc.forward(p, &k.s, nc);
        k.dt = self.dt.forward(p, &k.s, nc);
        k.inj = self.inj.forward(p, &k.s, nc);
        for core in &self.cores {
            let mut cc = CoreCache {
                pp: core.projs.iter().map(|l| l.apply(p, &k.s, nc)).collect(),
                ..Default::default()
            };
            let pb = core.projs[0].d_out;
            for j in 0..nc {
                let src: Vec<&[f32]> = cc.pp.iter().map(|v| &v[j * pb..(j + 1) * pb]).collect();
                let inp = CircuitInputs {
                    sources: &src,
                    dts: &k.dt.out[j..j + 1],
                    a: &k.a.out[j * q..(j + 1) * q],
                    inj: &k.inj.out[j * q..(j + 1) * q],
                };
                let run = core.s3.forward(p, &inp);
                cc.q.extend_from_slice(&run.q);
                cc.runs.push(run);
            }
            k.cores.push(cc);
        }
        let w = 3 * q;
        k.q = Vec::with_capacity(nc * w * self.cores.len());
        for j in 0..nc {
            for cc in &k.cores {
                k.q.extend_from_slice(&cc.q[j * w..(j + 1) * w]);
            }
        }
        k.logits = self.head.forward(p, &k.q, nc, rng, &mut k.head);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (q, d, nc) = (self.cfg.n_qubits, self.cfg.d_model, k.nc);
        let (w, nk) = (3 * q, self.cores.len());
        let mut dqall = vec![0.0; nc * w * nk];
        self.head.backward(p, g, &k.head, dlogits, &mut dqall);
        let mut ds = vec![0.0f32; nc * d];
        let mut da = vec![0.0f32; nc * q];
        let mut ddt = vec![0.0f64; nc];
        let mut dinj = vec![0.0f32; nc * q];
        for (ci, (core, cc)) in self.cores.iter().zip(&k.cores).enumerate() {
            let pb = core.projs[0].d_out;
            let mut dpp = vec![vec![0.0f32; nc * pb]; 4];
            for j in 0..nc {
                let o = (j * nk + ci) * w;
                let src: Vec<&[f32]> = cc.pp.iter().map(|v| &v[j * pb..(j + 1) * pb]).collect();
                let inp = CircuitInputs {
                    sources: &src,
                    dts: &k.dt.out[j..j + 1],
                    a: &k.a.out[j * q..(j + 1) * q],
                    inj: &k.inj.out[j * q..(j + 1) * q],
                };
                let mut dsrc: Vec<&mut [f32]> = dpp
                    .iter_mut()
                    .map(|v| &mut v[j * pb..(j + 1) * pb])
                    .collect();
                let mut grads = CircuitGrads {
                    sources: &mut dsrc,
                    dts: &mut ddt[j..j + 1],
                    a: &mut da[j * q..(j + 1) * q],
                    inj: &mut dinj[j * q..(j + 1) * q],
                };
                core.s3
                    .backward(p, g, &inp, &cc.runs[j], &dqall[o..o + w], &mut grads);
            }
            for (lin, dv) in core.projs.iter().zip(&dpp) {
                lin.backward(p, g, &k.s, dv, nc, Some(&mut ds));
            }
        }
        self.enc.backward(p, g, &k.s, &k.a, &da, nc, &mut ds);
        let ddt32: Vec<f32> = ddt.iter().map(|&v| v as f32).collect();
        self.dt.backward(p, g, &k.s, &k.dt, &ddt32, nc, &mut ds);
        self.inj.backward(p, g, &k.s, &k.inj, &dinj, nc, &mut ds);
        self.front.backward(p, g, &k.fe, &ds);
    }
}

impl SampleModel for QuantumE2eSuperposition {
    fn id(&self) -> &'static str {
        if self.bidirectional {
            "4e"
        } else {
            "4d"
        }
    }
    fn class_name(&self) -> &'static str {
        if self.bidirectional {
            "QuantumHydraE2E_Superposition"
        } else {
            "QuantumMambaE2E_Superposition"
        }
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
    fn is_causal(&self) -> bool {
        true
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        let k = self.run(p, x, None);
        Some(boundaries(
            self.cfg.n_times,
            self.head.prefix_outputs(p, &k.head),
        ))
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let nc = k.nc;
        let mut out = self.front.trace(p, &k.fe);
        out.push(("encoding_proj".into(), k.a.raw.clone()));
        out.push(("dt_proj".into(), k.dt.raw.clone()));
        out.push(("input_injection_proj".into(), k.inj.raw.clone()));
        for (core, cc) in self.cores.iter().zip(&k.cores) {
            // the reference feeds the bwd core the chunks in reverse order
            let order = |v: &[f32]| {
                if core.reversed {
                    reverse_time(v, nc, v.len() / nc)
                } else {
                    v.to_vec()
                }
            };
            for (n, v) in PROJ_NAMES.iter().zip(&cc.pp) {
                out.push((format!("{}{n}", core.prefix), order(v)));
            }
            out.push((core.name.into(), order(&cc.q)));
        }
        out.extend(self.head.trace(p, &k.head));
        out
    }
}
