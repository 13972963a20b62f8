//! 3b — `TrueClassicalMamba` (reference `models/TrueClassicalMamba.py`, spec §4.5):
//!
//! x (B, C, T) → (B, T, C) → Linear(C, D) (`embedding`) → Dropout → 2 × Mamba block (RMSNorm
//! pre-norm, residual inside) → RMSNorm (`final_norm`) → mean over T → Linear(D, 2)
//! (`classifier`). Causal up to the mean pool (spec §6). Written once over the backend, with
//! its streaming form ([`StepNet`]: one sample per step; the blocks' steps, then the running
//! mean of final_norm).
use crate::nn::step::{step_io, stream_window, MambaStackState};
use crate::nn::{
    Io, Linear, MambaActs, MambaBlock, MambaGrads, Net, NormMeanHead, NormMeanPoolActs, ProjKind,
    StepNet,
};
use crate::params::ParamLayout;
use crate::prelude::*;
use crate::ModelConfig;
use qssm_formats::model_file::Architecture;
use qssm_kernels::backend::{Backend, DropoutCfg, Infer};

/// 3b TrueClassicalMamba. Parameter count 241,922 at the EEG config, for every T.
///
/// The same network is the paper's model A (spec hqc-mamba-and-quantum-train §3.3, see
/// [`Self::hqc_mamba`]): the HQC selective-SSM Mamba, whose blocks' `in_proj`, `x_proj` and
/// `out_proj` are quantum projections, and its classical twin.
pub struct TrueClassicalMamba {
    id: &'static str,
    cfg: ModelConfig,
    lay: ParamLayout,
    embedding: Linear,
    blocks: Vec<MambaBlock>,
    head: NormMeanHead,
    /// the HQC Mamba's options for the card (`None` for 3b)
    architecture: Option<Architecture>,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    xt: B::Buf,
    emb: B::Buf,
    /// dropped embedding = block 0's input
    u0: B::Buf,
    mask: B::Buf,
    dropped: bool,
    blocks: Vec<MambaActs<B>>,
    pool: NormMeanPoolActs<B>,
    /// backward scratch shared by the blocks (none without blocks)
    k: Option<MambaGrads<B>>,
    du: B::Buf,
    dprev: B::Buf,
}

impl TrueClassicalMamba {
    /// 3b: the layout for `cfg` (d_inner = 2·d_model, Linear projections).
    pub fn new(cfg: ModelConfig) -> Self {
        Self::build(cfg, "3b", 2, &ProjKind::Linear)
    }

    /// The paper's model A (spec hqc-mamba-and-quantum-train §3.3): this network with
    /// d_inner = `expand`·d_model and every block's `in_proj`, `x_proj` and `out_proj` of kind
    /// `proj`: quantum for the HQC Mamba (`hqc-mamba`; d_model 128, expand 4: 38,610
    /// parameters, 168 of them circuit weights), Linear for its classical twin
    /// (`hqc-mamba-classical`; d_model 16: 13,690). Input (B, 1, T): one feature per step
    /// (the pixels of an image in raster order); `n_classes` outputs; dropout `cfg.dropout`
    /// after the embedding (the paper: none).
    pub fn hqc_mamba(cfg: ModelConfig, expand: usize, proj: &ProjKind) -> Self {
        let id = match proj {
            ProjKind::Quantum(_) => "hqc-mamba",
            ProjKind::Linear => "hqc-mamba-classical",
        };
        let qproj = match proj {
            ProjKind::Quantum(o) => Some(o.card()),
            ProjKind::Linear => None,
        };
        Self {
            architecture: Some(Architecture { expand, qproj }),
            ..Self::build(cfg, id, expand, proj)
        }
    }

    fn build(cfg: ModelConfig, id: &'static str, expand: usize, proj: &ProjKind) -> Self {
        let (c, d, e) = (cfg.n_channels, cfg.d_model, expand * cfg.d_model);
        let mut lay = ParamLayout::new();
        let embedding = Linear::new(&mut lay, "embedding", c, d, true);
        let blocks = (0..cfg.n_layers)
            .map(|i| {
                let dims = (d, e, cfg.d_state);
                MambaBlock::true_classical(&mut lay, &format!("layers.{i}"), dims, proj)
            })
            .collect();
        let head = NormMeanHead::new(&mut lay, d, cfg.n_classes);
        Self {
            id,
            cfg,
            lay,
            embedding,
            blocks,
            head,
            architecture: None,
        }
    }
}

impl Net for TrueClassicalMamba {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        self.id
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
    fn architecture(&self) -> Option<Architecture> {
        self.architecture.clone()
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (t, c, d) = (self.cfg.n_times, self.cfg.n_channels, self.cfg.d_model);
        let s = |w: usize| be.alloc(&[b, t, w]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            xt: s(c),
            emb: s(d),
            u0: s(d),
            mask: s(d),
            dropped: false,
            blocks: self.blocks.iter().map(|k| k.plan(be, b, t)).collect(),
            pool: self.head.plan(be, b, t),
            k: self.blocks.first().map(|k| k.plan_grads(be, b, t)),
            du: s(d),
            dprev: s(d),
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
        self.embedding.forward(be, p, &a.xt, &mut a.emb);
        be.copy(&mut a.u0, &a.emb);
        a.dropped = false;
        if let Some(cfg) = drop.filter(|c| c.p > 0.0) {
            be.dropout(&mut a.u0, &mut a.mask, cfg, 0);
            a.dropped = true;
        }
        for i in 0..a.blocks.len() {
            let (done, rest) = a.blocks.split_at_mut(i);
            let u = done.last().map_or(&a.u0, |b| &b.out);
            self.blocks[i].forward(be, p, u, None, &mut rest[0]);
        }
        let h = a.blocks.last().map_or(&a.u0, |b| &b.out);
        self.head.forward(be, p, h, &mut a.pool, &mut a.io.out);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.du, 0.0);
        let h = a.blocks.last().map_or(&a.u0, |b| &b.out);
        self.head
            .backward(be, p, g, h, &mut a.pool, &a.io.dout, &mut a.du);
        if let Some(k) = a.k.as_mut() {
            for i in (0..a.blocks.len()).rev() {
                be.fill(&mut a.dprev, 0.0);
                let u = if i == 0 { &a.u0 } else { &a.blocks[i - 1].out };
                self.blocks[i].backward(
                    be,
                    p,
                    g,
                    u,
                    None,
                    &a.blocks[i],
                    &a.du,
                    None,
                    &mut a.dprev,
                    None,
                    k,
                );
                core::mem::swap(&mut a.du, &mut a.dprev);
            }
        }
        if a.dropped {
            be.mul(&mut a.dprev, &a.du, &a.mask);
            core::mem::swap(&mut a.du, &mut a.dprev);
        }
        self.embedding.backward(be, p, g, &a.xt, &a.du, None);
    }
    fn trace<'a, B: Infer>(&self, _be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            ("embedding".to_string(), &a.emb),
            // eval mode: dropout is the identity
            ("dropout".to_string(), &a.u0),
        ];
        for (i, blk) in a.blocks.iter().enumerate() {
            out.push((format!("layers.{i}"), &blk.out));
        }
        out.push(("final_norm".into(), a.pool.normed()));
        out.push(("pool".into(), &a.pool.pooled));
        out.push(("classifier".into(), &a.io.out));
        out
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        // causal up to the mean pool (spec §6): the output after sample t is the classifier
        // of the running mean of final_norm(u_0..u_t), which the streaming form computes
        Some(stream_window(self, p, x))
    }
}

/// Planned buffers of one streaming step (one sample of B streams; a plan of L samples steps
/// L at once).
pub struct Step<B: Infer> {
    io: Io<B>,
    xt: B::Buf,
    emb: B::Buf,
    blocks: Vec<MambaActs<B>>,
    /// `final_norm` of this step's rows and the pooled mean so far
    readout: NormMeanPoolActs<B>,
}

impl StepNet for TrueClassicalMamba {
    /// every block's conv1d history and SSM state (`layers.i.*`), and the running mean of
    /// the final_norm rows (`pool.*`)
    type State<B: Infer> = MambaStackState<B>;
    type Step<B: Infer> = Step<B>;
    fn step_len(&self) -> usize {
        1
    }
    fn plan_state<B: Infer>(&self, be: &B, b: usize) -> MambaStackState<B> {
        MambaStackState::plan(be, b, "layers", &self.blocks, self.cfg.d_model)
    }
    fn plan_step<B: Infer>(&self, be: &B, b: usize, len: usize) -> Step<B> {
        let (c, d) = (self.cfg.n_channels, self.cfg.d_model);
        Step {
            io: step_io(be, b, &self.cfg, len),
            xt: be.alloc(&[b, len, c]),
            emb: be.alloc(&[b, len, d]),
            blocks: self
                .blocks
                .iter()
                .map(|k| k.plan_eval(be, b, len))
                .collect(),
            readout: self.head.plan(be, b, len),
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
    fn step<B: Infer>(&self, be: &B, p: &B::Params, st: &mut MambaStackState<B>, s: &mut Step<B>) {
        be.to_token_major(&mut s.xt, &s.io.x);
        self.embedding.forward(be, p, &s.xt, &mut s.emb);
        for i in 0..s.blocks.len() {
            let (done, rest) = s.blocks.split_at_mut(i);
            let u = done.last().map_or(&s.emb, |b| &b.out);
            self.blocks[i].step(be, p, u, &mut st.blocks[i], &mut rest[0]);
        }
        let h = s.blocks.last().map_or(&s.emb, |b| &b.out);
        self.head
            .step(be, p, h, &mut s.readout, &mut st.pool, &mut s.io.out);
    }
}
