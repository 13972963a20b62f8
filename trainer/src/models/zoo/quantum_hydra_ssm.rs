//! 1c — `QuantumHydraSSM` (reference `models/QuantumSSM.py`, spec §4.3):
//!
//! x (C, T) → u = SiLU(LayerNorm(Linear(C, D)(x))) (T, D) → three chunk processors (cs = 32,
//! (nc, D) each): `quantum_forward(u)`, `quantum_backward(rev u)` with its output re-reversed in
//! chunk order (the time reversal comes **before** the zero padding, so that branch's pad rows
//! sit at the start of original time), `quantum_diagonal(u)` → c = w_α·q_f + w_β·q_b + w_γ·q_d
//! with w_α = |α|/√(|α|²+|β|²+|γ|²+1e-8) for the complex top-level α, β, γ (stored (re, im))
//! → Dropout → 2 × (c + HydraBlock(c)) → LayerNorm → mean over chunks → Linear(D, 2).
use crate::models::blocks::chunk_processor::ChunkProcessorCache;
use crate::models::blocks::pool::{mean_pool_backward, mean_pool_forward};
use crate::models::blocks::reverse::reverse_time;
use crate::models::blocks::{ChunkProcessor, Dropout, LayerNorm, Linear, NormCache};
use crate::models::nn::{HydraActs, HydraBlock};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, ModelConfig, SampleModel, SampleOutput};
use crate::params::{Init, ParamLayout};
use qssm_kernels::backend::cpu::{Cpu, CpuBuf};
use qssm_kernels::ops::activation::{silu_backward, silu_forward};
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// Chunk size of the reference's three `ChunkedQuantumProcessor`s in 1c.
pub const CHUNK_SIZE: usize = 32;

/// Added to Σ|c_k|² before the square root (reference constant).
const MIX_EPS: f32 = 1e-8;

/// 1c QuantumHydraSSM. Parameter count ([`ParamLayout::n_params`]) 918,030 at the EEG config,
/// for every T; the complex α, β, γ count once each there and are stored as 2 reals each
/// (918,033 stored scalars).
pub struct QuantumHydraSsm {
    cfg: ModelConfig,
    lay: ParamLayout,
    /// top-level complex coefficients α, β, γ, each (1, 2) = (re, im)
    coeffs: [Range<usize>; 3],
    feat0: Linear,
    feat_ln: LayerNorm,
    procs: [ChunkProcessor; 3],
    drop: Dropout,
    blocks: Vec<HydraBlock>,
    out_norm: LayerNorm,
    head: Linear,
}

#[derive(Default)]
struct Cache {
    xt: Vec<f32>,
    f0: Vec<f32>,
    f1: Vec<f32>,
    fln: NormCache,
    u: Vec<f32>,
    /// forward, backward (on rev u), diagonal processor caches
    procs: [ChunkProcessorCache; 3],
    /// the three branch outputs in original chunk order (nc, D): q_f, q_b, q_d
    q: [Vec<f32>; 3],
    /// (|α|, |β|, |γ|) and the norm n
    mags: [f32; 3],
    n: f32,
    c0: Vec<f32>,
    mask0: Vec<f32>,
    /// block inputs (1, nc, D)
    inputs: Vec<CpuBuf>,
    /// the Hydra blocks (the batched blocks, run on the CPU backend with B = 1); their `out`
    /// is y_i, added to the residual stream by the model
    blocks: Vec<HydraActs<Cpu>>,
    c: Vec<f32>,
    on: Vec<f32>,
    onc: NormCache,
    pooled: Vec<f32>,
    logits: Vec<f32>,
}

impl QuantumHydraSsm {
    /// Builds the layout for `cfg` (d_inner = 2·d_model).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, e) = (cfg.n_channels, cfg.d_model, 2 * cfg.d_model);
        let mut lay = ParamLayout::new();
        // complex64 (1) parameters, real and imaginary parts ~ U[0, 1)
        let coeffs =
            ["alpha", "beta", "gamma"].map(|k| lay.add_complex(k, &[1], Init::Uniform(0.0, 1.0)));
        let feat0 = Linear::new(&mut lay, "feature_proj.0", c, d, true);
        let feat_ln = LayerNorm::new(&mut lay, "feature_proj.1", d);
        let procs = ["quantum_forward.", "quantum_backward.", "quantum_diagonal."].map(|pre| {
            ChunkProcessor::new(&mut lay, pre, d, d, CHUNK_SIZE, cfg.n_qubits, cfg.n_layers)
        });
        let blocks = (0..cfg.n_layers)
            .map(|i| HydraBlock::new(&mut lay, &format!("hydra_layers.{i}"), d, e, cfg.d_state))
            .collect();
        let out_norm = LayerNorm::new(&mut lay, "output_norm", d);
        let head = Linear::new(&mut lay, "output_layer", d, cfg.n_classes, true);
        let drop = Dropout { p: cfg.dropout };
        Self {
            cfg,
            lay,
            coeffs,
            feat0,
            feat_ln,
            procs,
            drop,
            blocks,
            out_norm,
            head,
        }
    }

    /// (|α|, |β|, |γ|) and n = √(Σ|c|² + 1e-8).
    fn magnitudes(&self, p: &[f32]) -> ([f32; 3], f32) {
        let mags = self
            .coeffs
            .clone()
            .map(|r| p[r.start].hypot(p[r.start + 1]));
        let n = (mags[0] * mags[0] + mags[1] * mags[1] + mags[2] * mags[2] + MIX_EPS).sqrt();
        (mags, n)
    }

    fn run(&self, p: &[f32], x: &[f32], rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let mut k = Cache {
            xt: to_token_major(x, self.cfg.n_channels, t),
            ..Default::default()
        };
        k.f0 = self.feat0.apply(p, &k.xt, t);
        k.f1 = vec![0.0; t * d];
        self.feat_ln.forward(p, &k.f0, t, &mut k.f1, &mut k.fln);
        k.u = vec![0.0; t * d];
        silu_forward(&mut k.u, &k.f1);
        let nc = self.procs[0].n_chunks(t);
        let ur = reverse_time(&k.u, t, d);
        for (i, (proc, pc)) in self.procs.iter().zip(k.procs.iter_mut()).enumerate() {
            proc.forward(p, if i == 1 { &ur } else { &k.u }, t, pc);
        }
        k.q = [
            k.procs[0].out.clone(),
            reverse_time(&k.procs[1].out, nc, d),
            k.procs[2].out.clone(),
        ];
        (k.mags, k.n) = self.magnitudes(p);
        let w = k.mags.map(|m| m / k.n);
        let mut c: Vec<f32> = (0..nc * d)
            .map(|i| w[0] * k.q[0][i] + w[1] * k.q[1][i] + w[2] * k.q[2][i])
            .collect();
        k.mask0 = self.drop.forward(&mut c, rng);
        k.c0 = c.clone();
        for blk in &self.blocks {
            let mut a = blk.plan(&Cpu, 1, nc);
            let input = CpuBuf::from_vec(c.clone(), &[1, nc, d]);
            blk.forward(&Cpu, p, &input, &mut a);
            c.iter_mut()
                .zip(a.out.as_slice())
                .for_each(|(x, y)| *x += y);
            k.inputs.push(input);
            k.blocks.push(a);
        }
        k.on = vec![0.0; nc * d];
        self.out_norm.forward(p, &c, nc, &mut k.on, &mut k.onc);
        k.c = c;
        k.pooled = mean_pool_forward(&k.on, nc, d);
        k.logits = self.head.apply(p, &k.pooled, 1);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let nc = self.procs[0].n_chunks(t);
        let mut dpooled = vec![0.0; d];
        self.head
            .backward(p, g, &k.pooled, dlogits, 1, Some(&mut dpooled));
        let mut don = vec![0.0; nc * d];
        mean_pool_backward(&mut don, &dpooled, nc, d);
        let mut dc = vec![0.0; nc * d];
        self.out_norm
            .backward(p, g, &k.c, &don, nc, &k.onc, &mut dc);
        let mut dcb = CpuBuf::from_vec(dc, &[1, nc, d]);
        if let Some(first) = self.blocks.first() {
            let mut scratch = first.plan_grads(&Cpu, 1, nc);
            for (i, blk) in self.blocks.iter().enumerate().rev() {
                let mut dprev = dcb.clone(); // residual path
                blk.backward(
                    &Cpu,
                    p,
                    g,
                    &k.inputs[i],
                    &k.blocks[i],
                    &dcb,
                    &mut dprev,
                    &mut scratch,
                );
                dcb = dprev;
            }
        }
        let mut dc = dcb.as_slice().to_vec();
        self.drop.backward(&mut dc, &k.mask0);

        // c = Σ_k w_k q_k, w_k = r_k/n, r_k = |c_k|, n = √(Σ r² + ε):
        // dL/dr_j = G_j/n − r_j·(Σ_k G_k r_k)/n³ with G_k = Σ dc ⊙ q_k; then
        // dL/d(re, im)_j = dL/dr_j·(re, im)_j/r_j (0 at r_j = 0, PyTorch's abs backward).
        let (r, n) = (k.mags, k.n);
        let mut gk = [0.0f64; 3];
        for (b, q) in gk.iter_mut().zip(&k.q) {
            *b = dc.iter().zip(q).map(|(a, v)| *a as f64 * *v as f64).sum();
        }
        let n64 = n as f64;
        let s: f64 = (0..3).map(|j| gk[j] * r[j] as f64).sum();
        for (j, range) in self.coeffs.iter().enumerate() {
            if r[j] == 0.0 {
                continue;
            }
            let dr = gk[j] / n64 - r[j] as f64 * s / (n64 * n64 * n64);
            for o in 0..2 {
                g[range.start + o] += (dr * p[range.start + o] as f64 / r[j] as f64) as f32;
            }
        }

        let mut du = vec![0.0; t * d];
        let mut dur = vec![0.0; t * d];
        for (i, proc) in self.procs.iter().enumerate() {
            let wi = r[i] / n;
            let mut dq: Vec<f32> = dc.iter().map(|v| wi * v).collect();
            if i == 1 {
                dq = reverse_time(&dq, nc, d);
            }
            let dst = if i == 1 { &mut dur } else { &mut du };
            proc.backward(p, g, t, &k.procs[i], &dq, dst);
        }
        for (tt, row) in dur.chunks_exact(d).enumerate() {
            let o = &mut du[(t - 1 - tt) * d..(t - tt) * d];
            o.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        let mut df1 = vec![0.0; t * d];
        silu_backward(&mut df1, &du, &k.f1);
        let mut df0 = vec![0.0; t * d];
        self.feat_ln
            .backward(p, g, &k.f0, &df1, t, &k.fln, &mut df0);
        self.feat0.backward(p, g, &k.xt, &df0, t, None);
    }
}

impl SampleModel for QuantumHydraSsm {
    fn id(&self) -> &'static str {
        "1c"
    }
    fn class_name(&self) -> &'static str {
        "QuantumHydraSSM"
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
        let mut out = vec![
            ("feature_proj.0".into(), k.f0.clone()),
            ("feature_proj.1".into(), k.f1.clone()),
            ("feature_proj.2".into(), k.u.clone()),
            ("feature_proj".into(), k.u.clone()),
        ];
        // processor outputs as the modules return them (quantum_backward: reversed order)
        for (name, pc) in ["quantum_forward", "quantum_backward", "quantum_diagonal"]
            .iter()
            .zip(&k.procs)
        {
            out.push((format!("{name}.chunk_attention"), pc.scores.clone()));
            out.push((format!("{name}.quantum_branches"), pc.q.clone()));
            out.push((format!("{name}.output_proj"), pc.out.clone()));
            out.push(((*name).into(), pc.out.clone()));
        }
        out.push(("dropout".into(), k.c0.clone()));
        for (i, y) in k.blocks.iter().map(|b| b.out.as_slice()).enumerate() {
            out.push((format!("hydra_layers.{i}"), y.to_vec()));
        }
        out.push(("output_norm".into(), k.on.clone()));
        out.push(("output_layer".into(), k.logits));
        out
    }
}
