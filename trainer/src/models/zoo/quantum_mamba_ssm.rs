//! 1b — `QuantumMambaSSM` (reference `models/QuantumSSM.py`, spec §4.2):
//!
//! x (C, T) → u = SiLU(LayerNorm(Linear(C, D)(x))) (T, D) → chunk processor (cs = 32) (nc, D)
//! → Dropout → 2 × Mamba block with residual, **block 1 starting from block 0's final SSM
//! state** → LayerNorm → mean over chunks → Linear(D, D) → ReLU → Dropout → Linear(D, 2).
use crate::models::blocks::chunk_processor::ChunkProcessorCache;
use crate::models::blocks::pool::{mean_pool_backward, mean_pool_forward};
use crate::models::blocks::{ChunkProcessor, Dropout, LayerNorm, Linear, NormCache};
use crate::models::nn::{MambaActs, MambaBlock};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, ModelConfig, SampleModel, SampleOutput};
use crate::params::ParamLayout;
use qssm_kernels::backend::cpu::{Cpu, CpuBuf};
use qssm_kernels::backend::Backend;
use qssm_kernels::ops::activation::{relu_backward, relu_forward, silu_backward, silu_forward};
use rand_chacha::ChaCha8Rng;

/// Chunk size of the reference's `ChunkedQuantumProcessor` in 1b.
pub const CHUNK_SIZE: usize = 32;

/// 1b QuantumMambaSSM. Parameter count 429,795 at the EEG config, for every T.
pub struct QuantumMambaSsm {
    cfg: ModelConfig,
    lay: ParamLayout,
    feat0: Linear,
    feat_ln: LayerNorm,
    proc: ChunkProcessor,
    drop: Dropout,
    blocks: Vec<MambaBlock>,
    out_norm: LayerNorm,
    head0: Linear,
    head3: Linear,
}

#[derive(Default)]
struct Cache {
    xt: Vec<f32>,
    f0: Vec<f32>,
    f1: Vec<f32>,
    fln: NormCache,
    u: Vec<f32>,
    proc: ChunkProcessorCache,
    c0: Vec<f32>,
    mask0: Vec<f32>,
    /// block inputs (1, nc, D)
    inputs: Vec<CpuBuf>,
    /// the Mamba blocks (the batched blocks, run on the CPU backend with B = 1); their `out`
    /// is y_i, added to the residual stream by the model
    blocks: Vec<MambaActs<Cpu>>,
    c: Vec<f32>,
    on: Vec<f32>,
    onc: NormCache,
    pooled: Vec<f32>,
    h0: Vec<f32>,
    r: Vec<f32>,
    mask_head: Vec<f32>,
    logits: Vec<f32>,
}

impl QuantumMambaSsm {
    /// Builds the layout for `cfg` (d_inner = 2·d_model).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, e) = (cfg.n_channels, cfg.d_model, 2 * cfg.d_model);
        let mut lay = ParamLayout::new();
        let feat0 = Linear::new(&mut lay, "feature_proj.0", c, d, true);
        let feat_ln = LayerNorm::new(&mut lay, "feature_proj.1", d);
        let proc = ChunkProcessor::new(
            &mut lay,
            "quantum_processor.",
            d,
            d,
            CHUNK_SIZE,
            cfg.n_qubits,
            cfg.n_layers,
        )
        .with_pad_mask(cfg.causal);
        let blocks = (0..cfg.n_layers)
            .map(|i| {
                MambaBlock::quantum_ssm(&mut lay, &format!("mamba_layers.{i}"), d, e, cfg.d_state)
            })
            .collect();
        let out_norm = LayerNorm::new(&mut lay, "output_norm", d);
        let head0 = Linear::new(&mut lay, "output_layer.0", d, d, true);
        let head3 = Linear::new(&mut lay, "output_layer.3", d, cfg.n_classes, true);
        let drop = Dropout { p: cfg.dropout };
        Self {
            cfg,
            lay,
            feat0,
            feat_ln,
            proc,
            drop,
            blocks,
            out_norm,
            head0,
            head3,
        }
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
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
        self.proc.forward(p, &k.u, t, &mut k.proc);
        let nc = self.proc.n_chunks(t);
        let mut c = k.proc.out.clone();
        k.mask0 = self.drop.forward(&mut c, rng.as_deref_mut());
        k.c0 = c.clone();
        for (i, blk) in self.blocks.iter().enumerate() {
            let mut a = blk.plan(&Cpu, 1, nc);
            // reference: block i starts from block i−1's final state (non-causal, spec §8.4);
            // causal variant: every scan starts from zero
            let h0 = if i == 0 || self.cfg.causal {
                None
            } else {
                Some(&k.blocks[i - 1].ssm.h_last)
            };
            let input = CpuBuf::from_vec(c.clone(), &[1, nc, d]);
            blk.forward(&Cpu, p, &input, h0, &mut a);
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
        k.h0 = self.head0.apply(p, &k.pooled, 1);
        k.r = vec![0.0; d];
        relu_forward(&mut k.r, &k.h0);
        k.mask_head = self.drop.forward(&mut k.r, rng);
        k.logits = self.head3.apply(p, &k.r, 1);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let nc = self.proc.n_chunks(t);
        let mut dr = vec![0.0; d];
        self.head3.backward(p, g, &k.r, dlogits, 1, Some(&mut dr));
        self.drop.backward(&mut dr, &k.mask_head);
        let mut dh0 = vec![0.0; d];
        relu_backward(&mut dh0, &dr, &k.h0);
        let mut dpooled = vec![0.0; d];
        self.head0
            .backward(p, g, &k.pooled, &dh0, 1, Some(&mut dpooled));
        let mut don = vec![0.0; nc * d];
        mean_pool_backward(&mut don, &dpooled, nc, d);
        let mut dc = vec![0.0; nc * d];
        self.out_norm
            .backward(p, g, &k.c, &don, nc, &k.onc, &mut dc);
        let mut dh_next: Option<CpuBuf> = None;
        let mut dc = CpuBuf::from_vec(dc, &[1, nc, d]);
        if let Some(first) = self.blocks.first() {
            let mut scratch = first.plan_grads(&Cpu, 1, nc);
            for (i, blk) in self.blocks.iter().enumerate().rev() {
                let mut dprev = dc.clone(); // residual path
                let chained = i > 0 && !self.cfg.causal;
                let h0 = chained.then(|| &k.blocks[i - 1].ssm.h_last);
                let mut dh0 = chained.then(|| Cpu.alloc(Cpu.shape(&k.blocks[i].ssm.h_last)));
                blk.backward(
                    &Cpu,
                    p,
                    g,
                    &k.inputs[i],
                    h0,
                    &k.blocks[i],
                    &dc,
                    dh_next.as_ref(),
                    &mut dprev,
                    dh0.as_mut(),
                    &mut scratch,
                );
                dh_next = dh0;
                dc = dprev;
            }
        }
        let mut dc = dc.as_slice().to_vec();
        self.drop.backward(&mut dc, &k.mask0);
        let mut du = vec![0.0; t * d];
        self.proc.backward(p, g, t, &k.proc, &dc, &mut du);
        let mut df1 = vec![0.0; t * d];
        silu_backward(&mut df1, &du, &k.f1);
        let mut df0 = vec![0.0; t * d];
        self.feat_ln
            .backward(p, g, &k.f0, &df1, t, &k.fln, &mut df0);
        self.feat0.backward(p, g, &k.xt, &df0, t, None);
    }
}

impl SampleModel for QuantumMambaSsm {
    fn id(&self) -> &'static str {
        "1b"
    }
    fn class_name(&self) -> &'static str {
        "QuantumMambaSSM"
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
        self.cfg.causal
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        if !self.cfg.causal {
            return None;
        }
        // causal variant: after chunk k the head reads the running mean of
        // output_norm(c_0..c_k); the last, partial chunk ends at T
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let k = self.run(p, x, None);
        let mut sum = vec![0.0f32; d];
        let mut outs = Vec::new();
        for (j, row) in k.on.chunks_exact(d).enumerate() {
            sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
            let mean: Vec<f32> = sum.iter().map(|s| s / (j + 1) as f32).collect();
            let mut r = self.head0.apply(p, &mean, 1);
            r.iter_mut().for_each(|v| *v = v.max(0.0));
            outs.push((((j + 1) * CHUNK_SIZE).min(t), self.head3.apply(p, &r, 1)));
        }
        Some(outs)
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let mut out = vec![
            ("feature_proj.0".into(), k.f0.clone()),
            ("feature_proj.1".into(), k.f1.clone()),
            ("feature_proj.2".into(), k.u.clone()),
            ("feature_proj".into(), k.u.clone()),
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
            ("dropout".into(), k.c0.clone()),
        ];
        for (i, blk) in k.blocks.iter().enumerate() {
            out.push((format!("mamba_layers.{i}"), blk.out.as_slice().to_vec()));
        }
        out.push(("output_norm".into(), k.on.clone()));
        out.push(("output_layer.0".into(), k.h0.clone()));
        out.push(("output_layer.1".into(), k.r.clone()));
        out.push(("output_layer.2".into(), k.r.clone()));
        out.push(("output_layer.3".into(), k.logits.clone()));
        out.push(("output_layer".into(), k.logits));
        out
    }
}
