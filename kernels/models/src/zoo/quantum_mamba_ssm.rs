//! 1b — `QuantumMambaSSM` (reference `models/QuantumSSM.py`, spec §4.2), written once over the
//! backend:
//!
//! x (B, C, T) → u = SiLU(LayerNorm(Linear(C, D)(x))) (B, T, D) → chunk processor (cs = 32)
//! (B, nc, D) → Dropout → 2 × Mamba block with residual, **block 1 starting from block 0's
//! final SSM state** → LayerNorm → mean over chunks → Linear(D, D) → ReLU → Dropout →
//! Linear(D, 2).
//!
//! Causal variant (`--causal`, qssm extension): every scan starts from zero and the pad rows of
//! the last chunk take no pooling weight, so the model streams chunk by chunk: its streaming
//! form ([`StepNet`]) takes one chunk of [`CHUNK_SIZE`] samples per step.
use crate::nn::step::{step_io, stream_window, MambaStackState};
use crate::nn::{
    ChunkActs, ChunkProcessor, ClassifierHead, HeadActs, Io, LayerNorm, MambaActs, MambaBlock,
    MambaGrads, Net, NormMeanPool, NormMeanPoolActs, OutputProj, OutputProjActs, StepNet,
};
use crate::params::ParamLayout;
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer};

/// Chunk size of the reference's `ChunkedQuantumProcessor` in 1b.
pub const CHUNK_SIZE: usize = 32;

/// 1b QuantumMambaSSM. Parameter count 429,795 at the EEG config, for every T.
pub struct QuantumMambaSsm {
    cfg: ModelConfig,
    lay: ParamLayout,
    /// `feature_proj` = Linear(C, D) → LayerNorm → SiLU
    feature_proj: OutputProj,
    proc: ChunkProcessor,
    blocks: Vec<MambaBlock>,
    /// `output_norm` (LayerNorm) and the mean over chunks
    readout: NormMeanPool<LayerNorm>,
    /// `output_layer`: Linear(D, D) → ReLU → Dropout → Linear(D, K) (H_relu)
    head: ClassifierHead,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    xt: B::Buf,
    /// `feature_proj`; its `out` is u (B, T, D)
    feat: OutputProjActs<B>,
    proc: ChunkActs<B>,
    /// residual stream: hs\[0\] = dropped processor output, hs\[i+1\] = hs\[i\] + block i (B, nc, D)
    hs: Vec<B::Buf>,
    mask0: B::Buf,
    blocks: Vec<MambaActs<B>>,
    pool: NormMeanPoolActs<B, LayerNorm>,
    head: HeadActs<B>,
    dropped: bool,
    // backward scratch
    k: Option<MambaGrads<B>>,
    dc: B::Buf,
    dprev: B::Buf,
    dh: [B::Buf; 2],
    du: B::Buf,
}

impl QuantumMambaSsm {
    /// Builds the layout for `cfg` (d_inner = 2·d_model).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, e) = (cfg.n_channels, cfg.d_model, 2 * cfg.d_model);
        let mut lay = ParamLayout::new();
        // no dropout in feature_proj: the site is never used
        let feature_proj = OutputProj::new(&mut lay, "feature_proj", c, d, 0);
        let proc = ChunkProcessor::qssm(
            &mut lay,
            "quantum_processor.",
            (d, d, CHUNK_SIZE),
            cfg.n_qubits,
            cfg.n_layers,
        )
        .with_pad_mask(cfg.causal);
        let blocks = (0..cfg.n_layers)
            .map(|i| {
                MambaBlock::quantum_ssm(&mut lay, &format!("mamba_layers.{i}"), d, e, cfg.d_state)
            })
            .collect();
        let readout = NormMeanPool::layer_norm(&mut lay, "output_norm", d);
        // dropout site 0 is the processor output's
        let head = ClassifierHead::new(
            &mut lay,
            "output_layer",
            (d, d, cfg.n_classes),
            Act::Relu,
            1,
        );
        Self {
            cfg,
            lay,
            feature_proj,
            proc,
            blocks,
            readout,
            head,
        }
    }

    /// Whether block i starts from block i−1's final state (the reference; not the causal
    /// variant).
    fn chained(&self, i: usize) -> bool {
        i > 0 && !self.cfg.causal
    }
}

impl Net for QuantumMambaSsm {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        "1b"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn is_causal(&self) -> bool {
        self.cfg.causal
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (t, c, d) = (self.cfg.n_times, self.cfg.n_channels, self.cfg.d_model);
        let nc = self.proc.n_chunks(t);
        let e = 2 * d;
        let n = self.cfg.d_state;
        let st = |w: usize| be.alloc(&[b, t, w]);
        let sc = |w: usize| be.alloc(&[b, nc, w]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            xt: st(c),
            feat: self.feature_proj.plan(be, b, t),
            proc: self.proc.plan(be, b, t),
            hs: (0..=self.blocks.len()).map(|_| sc(d)).collect(),
            mask0: sc(d),
            blocks: self.blocks.iter().map(|k| k.plan(be, b, nc)).collect(),
            pool: self.readout.plan(be, b, nc),
            head: self.head.plan(be, b),
            dropped: false,
            k: self.blocks.first().map(|k| k.plan_grads(be, b, nc)),
            dc: sc(d),
            dprev: sc(d),
            dh: [0; 2].map(|_| be.alloc(&[b, e, n])),
            du: st(d),
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
        be.to_token_major(&mut a.xt, &a.io.x);
        self.feature_proj.forward(be, p, &a.xt, &mut a.feat, None);
        self.proc.forward(be, p, &a.feat.out, &mut a.proc);
        be.copy(&mut a.hs[0], a.proc.out());
        let drop = drop.filter(|c| c.p > 0.0);
        a.dropped = drop.is_some();
        if let Some(cfg) = drop {
            be.dropout(&mut a.hs[0], &mut a.mask0, cfg, 0);
        }
        for i in 0..self.blocks.len() {
            let (done, rest) = a.blocks.split_at_mut(i);
            let h0 = self.chained(i).then(|| &done[i - 1].ssm.h_last);
            self.blocks[i].forward(be, p, &a.hs[i], h0, &mut rest[0]);
            let (lo, hi) = a.hs.split_at_mut(i + 1);
            be.copy(&mut hi[0], &lo[i]);
            be.add_assign(&mut hi[0], &rest[0].out);
        }
        let last = a.hs.last().expect("at least the processor output");
        self.readout.forward(be, p, last, &mut a.pool);
        self.head
            .forward(be, p, &a.pool.pooled, &mut a.head, &mut a.io.out, drop);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.pool.dpooled, 0.0);
        self.head.backward(
            be,
            p,
            g,
            &a.pool.pooled,
            &mut a.head,
            &a.io.dout,
            &mut a.pool.dpooled,
        );
        be.fill(&mut a.dc, 0.0);
        let last = a.hs.last().expect("at least the processor output");
        self.readout
            .backward(be, p, g, last, &mut a.pool, &mut a.dc);
        if let Some(k) = a.k.as_mut() {
            // dh[0]: upstream gradient of block i's final state (from block i+1's h0)
            let mut have_dh = false;
            for i in (0..self.blocks.len()).rev() {
                be.copy(&mut a.dprev, &a.dc); // residual path
                let chained = self.chained(i);
                let h0 = chained.then(|| &a.blocks[i - 1].ssm.h_last);
                let [dh_next, dh0] = &mut a.dh;
                if chained {
                    be.fill(dh0, 0.0);
                }
                self.blocks[i].backward(
                    be,
                    p,
                    g,
                    &a.hs[i],
                    h0,
                    &a.blocks[i],
                    &a.dc,
                    have_dh.then_some(&*dh_next),
                    &mut a.dprev,
                    chained.then_some(dh0),
                    k,
                );
                have_dh = chained;
                a.dh.swap(0, 1);
                core::mem::swap(&mut a.dc, &mut a.dprev);
            }
        }
        if a.dropped {
            be.mul(&mut a.dprev, &a.dc, &a.mask0);
            core::mem::swap(&mut a.dc, &mut a.dprev);
        }
        be.fill(&mut a.du, 0.0);
        self.proc.backward(be, p, g, &mut a.proc, &a.dc, &mut a.du);
        // x is the model's input: no dx
        self.feature_proj
            .backward(be, p, g, &a.xt, &mut a.feat, &a.du, None);
    }
    fn trace<'a, B: Infer>(&self, _be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            ("feature_proj.0".to_string(), &a.feat.o0),
            ("feature_proj.1".into(), &a.feat.ln.y),
            ("feature_proj.2".into(), &a.feat.out),
            ("feature_proj".into(), &a.feat.out),
            (
                "quantum_processor.chunk_attention".into(),
                &a.proc.pool.scores,
            ),
            ("quantum_processor.quantum_branches".into(), &a.proc.br.out),
            ("quantum_processor.output_proj".into(), a.proc.out()),
            ("quantum_processor".into(), a.proc.out()),
            // eval mode: dropout is the identity
            ("dropout".into(), &a.hs[0]),
        ];
        for (i, blk) in a.blocks.iter().enumerate() {
            out.push((format!("mamba_layers.{i}"), &blk.out));
        }
        out.push(("output_norm".into(), a.pool.normed()));
        out.extend(ClassifierHead::trace("output_layer", &a.head, &a.io.out));
        out
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        // causal variant: after chunk k the head reads the running mean of
        // output_norm(c_0..c_k); the last, partial chunk ends at T: the streaming form
        self.cfg.causal.then(|| stream_window(self, p, x))
    }
}

/// Planned buffers of one streaming step (one chunk of B streams; causal variant).
pub struct Step<B: Infer> {
    /// samples of the step
    len: usize,
    io: Io<B>,
    xt: B::Buf,
    feat: OutputProjActs<B>,
    proc: ChunkActs<B>,
    hs: Vec<B::Buf>,
    blocks: Vec<MambaActs<B>>,
    pool: NormMeanPoolActs<B, LayerNorm>,
    head: HeadActs<B>,
}

impl StepNet for QuantumMambaSsm {
    /// every block's conv1d history and SSM state (`mamba_layers.i.*`), and the running mean
    /// over the chunks' output_norm rows (`pool.*`)
    type State<B: Infer> = MambaStackState<B>;
    type Step<B: Infer> = Step<B>;
    fn step_len(&self) -> usize {
        CHUNK_SIZE
    }
    fn plan_state<B: Infer>(&self, be: &B, b: usize) -> MambaStackState<B> {
        MambaStackState::plan(be, b, "mamba_layers", &self.blocks, self.cfg.d_model)
    }
    fn plan_step<B: Infer>(&self, be: &B, b: usize, len: usize) -> Step<B> {
        // a partial chunk: the processor's pad rows take no pooling weight (causal variant)
        let (c, d, cs) = (self.cfg.n_channels, self.cfg.d_model, len.min(CHUNK_SIZE));
        Step {
            len: cs,
            io: step_io(be, b, &self.cfg, cs),
            xt: be.alloc(&[b, cs, c]),
            feat: self.feature_proj.plan_eval(be, b, cs),
            proc: self.proc.plan_eval(be, b, cs),
            hs: (0..=self.blocks.len())
                .map(|_| be.alloc(&[b, 1, d]))
                .collect(),
            blocks: self.blocks.iter().map(|k| k.plan_eval(be, b, 1)).collect(),
            pool: self.readout.plan(be, b, 1),
            head: self.head.plan(be, b),
        }
    }
    /// every block's A
    fn prepare<B: Infer>(&self, be: &B, p: &B::Params, s: &mut Step<B>) {
        for (blk, a) in self.blocks.iter().zip(&mut s.blocks) {
            blk.prepare(be, p, a);
        }
    }
    fn step_io<B: Infer>(s: &mut Step<B>) -> &mut Io<B> {
        &mut s.io
    }
    fn state<B: Infer>(st: &mut MambaStackState<B>) -> Vec<(String, &mut B::Buf)> {
        st.named()
    }
    fn for_each_state<B: Infer>(st: &mut MambaStackState<B>, f: &mut dyn FnMut(&mut B::Buf)) {
        st.for_each(f);
    }
    /// One chunk: the features and the chunk processor on its samples, then every block's
    /// step on the chunk's feature (each block from its own state: the causal variant), and
    /// the head on the running mean of output_norm. Only the causal variant streams:
    /// the trainer's registry (`visit_step_net`) offers no other.
    fn step<B: Infer>(&self, be: &B, p: &B::Params, st: &mut MambaStackState<B>, s: &mut Step<B>) {
        be.to_token_major(&mut s.xt, &s.io.x);
        self.feature_proj.forward(be, p, &s.xt, &mut s.feat, None);
        self.proc.forward(be, p, &s.feat.out, &mut s.proc);
        be.copy(&mut s.hs[0], s.proc.out());
        for i in 0..self.blocks.len() {
            let blk = &mut s.blocks[i];
            self.blocks[i].step(be, p, &s.hs[i], &mut st.blocks[i], blk);
            let (lo, hi) = s.hs.split_at_mut(i + 1);
            be.copy(&mut hi[0], &lo[i]);
            be.add_assign(&mut hi[0], &blk.out);
        }
        let last = s.hs.last().expect("at least the processor output");
        self.readout.step(be, p, last, &mut s.pool, &mut st.pool);
        self.head
            .forward(be, p, &s.pool.pooled, &mut s.head, &mut s.io.out, None);
    }
    /// The chunk's pool masks pad rows: a chunk's first n samples pool as a chunk of n.
    fn steps_prefix(&self) -> bool {
        true
    }
    fn step_prefix<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        st: &mut MambaStackState<B>,
        s: &mut Step<B>,
        n: usize,
    ) -> bool {
        s.proc.set_len(n);
        self.step(be, p, st, s);
        s.proc.set_len(s.len);
        true
    }
}
