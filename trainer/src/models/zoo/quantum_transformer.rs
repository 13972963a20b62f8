//! 1a — `QuantumTransformer` (reference `models/QuantumTransformer.py`, spec §4.1):
//!
//! x (C, T) → (T, C) → Dropout (on the raw EEG) → u = SiLU(Linear(C, C)(·)) (`feature_proj`)
//! → `QuantumFeatureProcessor` (cs = 16, F = C, QGR-flavour branches, 18-d modulus output,
//! Linear(18, D) + LayerNorm + SiLU) (nc, D) → + `pos_encoding`\[:nc\] (frozen sinusoidal table,
//! max_len = nc) → 2 × TransformerBlock (bidirectional attention over the nc chunk tokens) →
//! RMSNorm (`final_norm`) → mean over chunks → Linear(D, 2) (`classifier`).
//! A window classifier only (global attention, spec §6).
use crate::models::blocks::chunk_processor::ChunkProcessorCache;
use crate::models::blocks::pool::{mean_pool_backward, mean_pool_forward};
use crate::models::blocks::{
    ChunkProcessor, Dropout, Linear, NormCache, PositionalEncoding, RmsNorm,
};
use crate::models::nn::{TransformerActs, TransformerBlock};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, ModelConfig, SampleModel, SampleOutput};
use crate::params::ParamLayout;
use qssm_kernels::backend::cpu::{Cpu, CpuBuf};
use qssm_kernels::backend::{Backend, DropoutCfg};
use qssm_kernels::ops::activation::{silu_backward, silu_forward};
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// Chunk size of the reference's `QuantumFeatureProcessor` in 1a.
pub const CHUNK_SIZE: usize = 16;
/// Attention heads of the reference's transformer blocks (default `n_heads`).
pub const N_HEADS: usize = 4;
/// MLP expansion of the transformer blocks (E = 2·D).
const EXPAND: usize = 2;

/// 1a QuantumTransformer. Parameter count (PyTorch `model.parameters()`, frozen
/// `pos_encoding` included) 351,729 + 128·⌈T/16⌉ at the EEG config: 352,753 / 353,777 /
/// 355,825 at T = 125 / 249 / 497.
pub struct QuantumTransformer {
    cfg: ModelConfig,
    lay: ParamLayout,
    pos: PositionalEncoding,
    feature_proj: Linear,
    drop: Dropout,
    proc: ChunkProcessor,
    blocks: Vec<TransformerBlock>,
    final_norm: RmsNorm,
    classifier: Linear,
}

struct Cache {
    /// input after dropout (T, C)
    xd: Vec<f32>,
    /// feature_proj output (T, C)
    f0: Vec<f32>,
    proc: ChunkProcessorCache,
    /// chunk tokens + PE (1, nc, D): block 0's input
    h0: CpuBuf,
    /// the transformer blocks (the batched blocks, run on the CPU backend with B = 1)
    blocks: Vec<TransformerActs<Cpu>>,
    /// last block output (nc, D)
    h: Vec<f32>,
    fnorm: Vec<f32>,
    fnc: NormCache,
    pooled: Vec<f32>,
    logits: Vec<f32>,
}

impl QuantumTransformer {
    /// Builds the layout for `cfg` (feature_dim = n_channels, max_len = ⌈T/16⌉), in the
    /// reference's `state_dict` order: `pos_encoding` (own parameter) first, then
    /// `feature_proj`, `quantum_processor`, `transformer_layers`, `final_norm`, `classifier`.
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, t) = (cfg.n_channels, cfg.d_model, cfg.n_times);
        let mut lay = ParamLayout::new();
        let nc = t.div_ceil(CHUNK_SIZE);
        let pos = PositionalEncoding::new(&mut lay, "pos_encoding", nc, d);
        let feature_proj = Linear::new(&mut lay, "feature_proj", c, c, true);
        let proc = ChunkProcessor::new_qgr(
            &mut lay,
            "quantum_processor.",
            c,
            d,
            CHUNK_SIZE,
            cfg.n_qubits,
            cfg.n_layers,
        );
        let blocks = (0..cfg.n_layers)
            .map(|i| {
                TransformerBlock::new(
                    &mut lay,
                    &format!("transformer_layers.{i}"),
                    d,
                    N_HEADS,
                    EXPAND,
                    3 * i as u32,
                )
            })
            .collect();
        let final_norm = RmsNorm::new(&mut lay, "final_norm", d);
        let classifier = Linear::new(&mut lay, "classifier", d, cfg.n_classes, true);
        let drop = Dropout { p: cfg.dropout };
        Self {
            cfg,
            lay,
            pos,
            feature_proj,
            drop,
            proc,
            blocks,
            final_norm,
            classifier,
        }
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (c, t, d) = (self.cfg.n_channels, self.cfg.n_times, self.cfg.d_model);
        let mut xd = to_token_major(x, c, t);
        // Dropout on the raw input: feature_proj's input gradient is never needed, so the
        // mask is not kept.
        self.drop.forward(&mut xd, rng.as_deref_mut());
        let f0 = self.feature_proj.apply(p, &xd, t);
        let mut u = vec![0.0; t * c];
        silu_forward(&mut u, &f0);
        let mut proc = ChunkProcessorCache::default();
        self.proc.forward(p, &u, t, &mut proc);
        let nc = self.proc.n_chunks(t);
        let mut h0 = CpuBuf::from_vec(proc.out.clone(), &[1, nc, d]);
        self.pos.add(&Cpu, p, &mut h0);
        // the blocks' dropout masks come from one seed drawn from the sample's stream
        let seed = rng.map(|r| r.next_u64());
        let drop = seed.as_ref().map(|s| DropoutCfg {
            p: self.cfg.dropout,
            seeds: std::slice::from_ref(s),
        });
        let mut blocks: Vec<TransformerActs<Cpu>> = Vec::with_capacity(self.blocks.len());
        for blk in &self.blocks {
            let mut a = blk.plan(&Cpu, 1, nc);
            blk.forward(&Cpu, p, blocks.last().map_or(&h0, |b| &b.out), &mut a, drop);
            blocks.push(a);
        }
        let h = blocks.last().map_or(&h0, |b| &b.out).as_slice().to_vec();
        let mut fnorm = vec![0.0; nc * d];
        let mut fnc = NormCache::default();
        self.final_norm.forward(p, &h, nc, &mut fnorm, &mut fnc);
        let pooled = mean_pool_forward(&fnorm, nc, d);
        let logits = self.classifier.apply(p, &pooled, 1);
        Cache {
            xd,
            f0,
            proc,
            h0,
            blocks,
            h,
            fnorm,
            fnc,
            pooled,
            logits,
        }
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (c, t, d) = (self.cfg.n_channels, self.cfg.n_times, self.cfg.d_model);
        let nc = self.proc.n_chunks(t);
        let mut dpooled = vec![0.0; d];
        self.classifier
            .backward(p, g, &k.pooled, dlogits, 1, Some(&mut dpooled));
        let mut dfn = vec![0.0; nc * d];
        mean_pool_backward(&mut dfn, &dpooled, nc, d);
        let mut dh = vec![0.0; nc * d];
        self.final_norm
            .backward(p, g, &k.h, &dfn, nc, &k.fnc, &mut dh);
        let mut dh = CpuBuf::from_vec(dh, &[1, nc, d]);
        if let Some(first) = self.blocks.first() {
            let mut scratch = first.plan_grads(&Cpu, 1, nc);
            for (i, blk) in self.blocks.iter().enumerate().rev() {
                let mut dprev = Cpu.alloc(&[1, nc, d]);
                let u = if i == 0 { &k.h0 } else { &k.blocks[i - 1].out };
                blk.backward(&Cpu, p, g, u, &k.blocks[i], &dh, &mut dprev, &mut scratch);
                dh = dprev;
            }
        }
        // + pos_encoding: frozen, identity for dh
        let mut du = vec![0.0; t * c];
        self.proc.backward(p, g, t, &k.proc, dh.as_slice(), &mut du);
        let mut df0 = vec![0.0; t * c];
        silu_backward(&mut df0, &du, &k.f0);
        self.feature_proj.backward(p, g, &k.xd, &df0, t, None);
    }
}

impl SampleModel for QuantumTransformer {
    fn id(&self) -> &'static str {
        "1a"
    }
    fn class_name(&self) -> &'static str {
        "QuantumTransformer"
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
            ("dropout".into(), k.xd.clone()),
            ("feature_proj".into(), k.f0.clone()),
            (
                "quantum_processor.chunk_attention".into(),
                k.proc.scores.clone(),
            ),
            (
                "quantum_processor.quantum_branches".into(),
                k.proc.q.clone(),
            ),
            ("quantum_processor.output_proj".into(), k.proc.out.clone()),
            ("quantum_processor".into(), k.proc.out.clone()),
        ];
        for (i, blk) in k.blocks.iter().enumerate() {
            out.push((
                format!("transformer_layers.{i}"),
                blk.out.as_slice().to_vec(),
            ));
        }
        out.push(("final_norm".into(), k.fnorm));
        out.push(("pool".into(), k.pooled));
        out.push(("classifier".into(), k.logits));
        out
    }
}
