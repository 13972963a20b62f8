//! 4a `QuantumTransformerE2E`, 4b `QuantumMambaE2E`, 4c `QuantumHydraE2E` (reference
//! `models/QuantumE2E.py`, spec groups-2-4 §3.6–3.9): one composed circuit per chunk.
//!
//! x (C, T) → [`ConvFrontEnd`] (Conv3 → LayerNorm → ChunkPool(16, D/4)) ⇒ s (nc, D); per chunk
//! P = `param_proj`(s_j) (raw angles; 2·5QL for 4a/4b, 4·5QL for 4c), a = π·tanh(`encoding_proj`),
//! dt = σ(`dt_proj`) (4b: 1, 4c: 3 values), inj = π·tanh(`input_injection_proj`), and
//!
//! * 4a: q_j = M(|0⟩ → E(a) → U²(P\[0:60\]) → U²(P\[60:120\]));
//! * 4b: q_j = M(|0⟩ → E(a) → U²(F) → D²(Mx; dt) → E(dt·inj));
//! * 4c: q_j = M(|0⟩ → E(a) → U²(F) → D²(Pf; dt_f) → Bk²(Pb; dt_b) → D²(Pd; dt_d) → E(dt_f·inj));
//!
//! then [`SeqPoolHead`] (OP_18 → SeqPool → H_silu). Chunks never interact except in the final
//! softmax pooling ⇒ streamable chunk by chunk (spec §4.3 R1) with the Conv3 look-ahead of one
//! sample. 4c registers `alpha`, `beta`, `gamma` (1,) first and never uses them (no gradient,
//! never updated, spec §3.9). Parameter counts (EEG config, every T): 60,610 / 61,513 / 77,254.
use crate::models::blocks::composed_circuit::measure_backward;
use crate::models::blocks::{
    AngleMap, AngleProj, AngleProjOut, Block, BlockKind, CircuitGrads, CircuitInputs, CircuitRun,
    ComposedCircuit, ConvFrontEnd, ConvFrontEndCache, Linear, SeqPoolHead, SeqPoolHeadCache,
};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{ModelConfig, SampleModel, SampleOutput};
use crate::params::{Init, ParamLayout};
use rand_chacha::ChaCha8Rng;

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
    circuit: ComposedCircuit,
    head: SeqPoolHead,
}

#[derive(Default)]
struct Cache {
    fe: ConvFrontEndCache,
    s: Vec<f32>,
    nc: usize,
    pp: Vec<f32>,
    a: AngleProjOut,
    dt: AngleProjOut,
    inj: AngleProjOut,
    runs: Vec<CircuitRun>,
    q: Vec<f32>,
    head: SeqPoolHeadCache,
    logits: Vec<f32>,
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
        let front = ConvFrontEnd::new(&mut lay, c, d, CHUNK_SIZE, d / 4);
        let unified = |offset: usize, dt: Option<usize>| Block {
            kind: BlockKind::Unified,
            src: 0,
            offset,
            dt,
        };
        let (blocks, n_dt, inject) = match variant {
            E2eVariant::Transformer => (vec![unified(0, None), unified(pb, None)], 0, None),
            E2eVariant::Mamba => (vec![unified(0, None), unified(pb, Some(0))], 1, Some(0)),
            E2eVariant::Hydra => (
                vec![
                    unified(0, None),
                    unified(pb, Some(0)),
                    Block {
                        kind: BlockKind::Backward,
                        src: 0,
                        offset: 2 * pb,
                        dt: Some(1),
                    },
                    unified(3 * pb, Some(2)),
                ],
                3,
                Some(0),
            ),
        };
        let param_proj = Linear::new(&mut lay, "param_proj", d, blocks.len() * pb, true);
        let enc = AngleProj::new(&mut lay, "encoding_proj", d, q, AngleMap::PiTanh);
        let dt =
            (n_dt > 0).then(|| AngleProj::new(&mut lay, "dt_proj", d, n_dt, AngleMap::Sigmoid));
        let inj = inject
            .map(|_| AngleProj::new(&mut lay, "input_injection_proj", d, q, AngleMap::PiTanh));
        let circuit = ComposedCircuit::new(q, l, true, blocks, inject);
        let head = SeqPoolHead::new(&mut lay, 3 * q, d, cfg.n_classes, cfg.dropout);
        Self {
            cfg,
            lay,
            variant,
            front,
            param_proj,
            enc,
            dt,
            inj,
            circuit,
            head,
        }
    }

    fn run(&self, p: &[f32], x: &[f32], rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (t, q) = (self.cfg.n_times, self.cfg.n_qubits);
        let mut k = Cache::default();
        k.s = self.front.forward(p, x, t, &mut k.fe);
        let nc = self.front.n_chunks(t);
        k.nc = nc;
        k.pp = self.param_proj.apply(p, &k.s, nc);
        k.a = self.enc.forward(p, &k.s, nc);
        if let Some(dt) = &self.dt {
            k.dt = dt.forward(p, &k.s, nc);
        }
        if let Some(inj) = &self.inj {
            k.inj = inj.forward(p, &k.s, nc);
        }
        let (kp, ndt) = (self.param_proj.d_out, self.n_dt());
        k.q = Vec::with_capacity(nc * 3 * q);
        for j in 0..nc {
            let src = [&k.pp[j * kp..(j + 1) * kp]];
            let inp = CircuitInputs {
                sources: &src,
                dts: &k.dt.out[j * ndt..(j + 1) * ndt],
                a: &k.a.out[j * q..(j + 1) * q],
                inj: self.inj_row(&k, j),
            };
            let run = self.circuit.forward(&inp);
            k.q.extend(self.circuit.measure(&run));
            k.runs.push(run);
        }
        k.logits = self.head.forward(p, &k.q, nc, rng, &mut k.head);
        k
    }

    fn n_dt(&self) -> usize {
        self.dt.as_ref().map_or(0, |d| d.width())
    }

    fn inj_row<'a>(&self, k: &'a Cache, j: usize) -> &'a [f32] {
        let q = self.cfg.n_qubits;
        if self.inj.is_some() {
            &k.inj.out[j * q..(j + 1) * q]
        } else {
            &[]
        }
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (q, d, nc) = (self.cfg.n_qubits, self.cfg.d_model, k.nc);
        let (kp, ndt) = (self.param_proj.d_out, self.n_dt());
        let mut dq = vec![0.0; nc * 3 * q];
        self.head.backward(p, g, &k.head, dlogits, &mut dq);
        let mut dpp = vec![0.0f32; nc * kp];
        let mut da = vec![0.0f32; nc * q];
        let mut ddt = vec![0.0f64; nc * ndt];
        let mut dinj = vec![0.0f32; nc * q];
        for j in 0..nc {
            let run = &k.runs[j];
            let gpsi = measure_backward(&run.psi, q, &dq[j * 3 * q..(j + 1) * 3 * q]);
            let src = [&k.pp[j * kp..(j + 1) * kp]];
            let inp = CircuitInputs {
                sources: &src,
                dts: &k.dt.out[j * ndt..(j + 1) * ndt],
                a: &k.a.out[j * q..(j + 1) * q],
                inj: self.inj_row(k, j),
            };
            let mut dsrc: [&mut [f32]; 1] = [&mut dpp[j * kp..(j + 1) * kp]];
            let inj_len = if self.inj.is_some() { q } else { 0 };
            let mut grads = CircuitGrads {
                sources: &mut dsrc,
                dts: &mut ddt[j * ndt..(j + 1) * ndt],
                a: &mut da[j * q..(j + 1) * q],
                inj: &mut dinj[j * q..j * q + inj_len],
            };
            self.circuit.backward(&inp, run, &gpsi, &mut grads);
        }
        let mut ds = vec![0.0f32; nc * d];
        self.param_proj
            .backward(p, g, &k.s, &dpp, nc, Some(&mut ds));
        self.enc.backward(p, g, &k.s, &k.a, &da, nc, &mut ds);
        if let Some(dt) = &self.dt {
            let ddt32: Vec<f32> = ddt.iter().map(|&v| v as f32).collect();
            dt.backward(p, g, &k.s, &k.dt, &ddt32, nc, &mut ds);
        }
        if let Some(inj) = &self.inj {
            inj.backward(p, g, &k.s, &k.inj, &dinj, nc, &mut ds);
        }
        self.front.backward(p, g, &k.fe, &ds);
    }
}

impl SampleModel for QuantumE2e {
    fn id(&self) -> &'static str {
        match self.variant {
            E2eVariant::Transformer => "4a",
            E2eVariant::Mamba => "4b",
            E2eVariant::Hydra => "4c",
        }
    }
    fn class_name(&self) -> &'static str {
        match self.variant {
            E2eVariant::Transformer => "QuantumTransformerE2E",
            E2eVariant::Mamba => "QuantumMambaE2E",
            E2eVariant::Hydra => "QuantumHydraE2E",
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
        let mut out = self.front.trace(p, &k.fe);
        out.push(("param_proj".into(), k.pp.clone()));
        out.push(("encoding_proj".into(), k.a.raw.clone()));
        if self.dt.is_some() {
            out.push(("dt_proj".into(), k.dt.raw.clone()));
        }
        if self.inj.is_some() {
            out.push(("input_injection_proj".into(), k.inj.raw.clone()));
        }
        out.push(("circuit".into(), k.q.clone()));
        out.extend(self.head.trace(p, &k.head));
        out
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
