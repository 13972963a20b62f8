//! 1c — `QuantumHydraSSM` (reference `models/QuantumSSM.py`, spec §4.3), written once over the
//! backend:
//!
//! x (B, C, T) → u = SiLU(LayerNorm(Linear(C, D)(x))) (T, D) → three chunk processors (cs = 32,
//! (nc, D) each): `quantum_forward(u)`, `quantum_backward(rev u)` with its output re-reversed in
//! chunk order (the time reversal comes **before** the zero padding, so that branch's pad rows
//! sit at the start of original time), `quantum_diagonal(u)` → c = w_α·q_f + w_β·q_b + w_γ·q_d
//! with w_α = |α|/√(|α|²+|β|²+|γ|²+1e-8) for the complex top-level α, β, γ (stored (re, im))
//! → Dropout → 2 × (c + HydraBlock(c)) → LayerNorm → mean over chunks → Linear(D, 2).
use crate::nn::{
    ChunkActs, ChunkProcessor, HydraActs, HydraBlock, HydraGrads, Io, LayerNorm, Linear, Net,
    NormMeanPool, NormMeanPoolActs, OutputProj, OutputProjActs,
};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Backend, DropoutCfg, Infer, Superpose, SuperposeP};

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
    /// the mix of the three processors: c = Σ_k |c̄_k|·q_k
    mix: SuperposeP,
    /// `feature_proj` = Linear(C, D) → LayerNorm → SiLU
    feature_proj: OutputProj,
    /// forward, backward (on reversed u), diagonal
    procs: [ChunkProcessor; 3],
    blocks: Vec<HydraBlock>,
    /// `output_norm` (LayerNorm) and the mean over chunks
    readout: NormMeanPool<LayerNorm>,
    head: Linear,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    xt: B::Buf,
    /// `feature_proj`; its `out` is u (B, T, D)
    feat: OutputProjActs<B>,
    /// u reversed in time (input of `quantum_backward`)
    ur: B::Buf,
    procs: [ChunkActs<B>; 3],
    /// `quantum_backward`'s output back in chunk order (B, nc, D)
    qb: B::Buf,
    /// residual stream: hs\[0\] = dropped mix, hs\[i+1\] = hs\[i\] + block i (B, nc, D)
    hs: Vec<B::Buf>,
    mask0: B::Buf,
    dropped: bool,
    blocks: Vec<HydraActs<B>>,
    pool: NormMeanPoolActs<B, LayerNorm>,
    // backward scratch
    k: Option<HydraGrads<B>>,
    dc: B::Buf,
    dprev: B::Buf,
    dq: [B::Buf; 3],
    dqr: B::Buf,
    du: B::Buf,
    dur: B::Buf,
}

impl QuantumHydraSsm {
    /// Builds the layout for `cfg` (d_inner = 2·d_model).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, e) = (cfg.n_channels, cfg.d_model, 2 * cfg.d_model);
        let mut lay = ParamLayout::new();
        // complex64 (1) parameters, real and imaginary parts ~ U[0, 1), stored (re, im)
        let coeffs =
            ["alpha", "beta", "gamma"].map(|k| lay.add_complex(k, &[1], Init::Uniform(0.0, 1.0)));
        // no dropout in feature_proj: the site is never used
        let feature_proj = OutputProj::new(&mut lay, "feature_proj", c, d, 0);
        let procs = ["quantum_forward.", "quantum_backward.", "quantum_diagonal."].map(|pre| {
            ChunkProcessor::qssm(
                &mut lay,
                pre,
                (d, d, CHUNK_SIZE),
                cfg.n_qubits,
                cfg.n_layers,
            )
        });
        let blocks = (0..cfg.n_layers)
            .map(|i| HydraBlock::new(&mut lay, &format!("hydra_layers.{i}"), d, e, cfg.d_state))
            .collect();
        let readout = NormMeanPool::layer_norm(&mut lay, "output_norm", d);
        let head = Linear::new(&mut lay, "output_layer", d, cfg.n_classes, true);
        Self {
            cfg,
            lay,
            mix: SuperposeP {
                coeffs: coeffs.map(|r| [r.start, r.start + 1]),
                eps: MIX_EPS,
                mode: Superpose::Sum,
            },
            feature_proj,
            procs,
            blocks,
            readout,
            head,
        }
    }
}

impl Net for QuantumHydraSsm {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        "1c"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (t, c, d) = (self.cfg.n_times, self.cfg.n_channels, self.cfg.d_model);
        let nc = self.procs[0].n_chunks(t);
        let st = |w: usize| be.alloc(&[b, t, w]);
        let sc = |w: usize| be.alloc(&[b, nc, w]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            xt: st(c),
            feat: self.feature_proj.plan(be, b, t),
            ur: st(d),
            procs: [0, 1, 2].map(|i| self.procs[i].plan(be, b, t)),
            qb: sc(d),
            hs: (0..=self.blocks.len()).map(|_| sc(d)).collect(),
            mask0: sc(d),
            dropped: false,
            blocks: self.blocks.iter().map(|k| k.plan(be, b, nc)).collect(),
            pool: self.readout.plan(be, b, nc),
            k: self.blocks.first().map(|k| k.plan_grads(be, b, nc)),
            dc: sc(d),
            dprev: sc(d),
            dq: [0; 3].map(|_| sc(d)),
            dqr: sc(d),
            du: st(d),
            dur: st(d),
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
        // the time reversal comes before the processor's zero padding
        be.reverse_time(&mut a.ur, &a.feat.out);
        for i in 0..3 {
            let u = if i == 1 { &a.ur } else { &a.feat.out };
            self.procs[i].forward(be, p, u, &mut a.procs[i]);
        }
        be.reverse_time(&mut a.qb, a.procs[1].out());
        be.superpose(
            &mut a.hs[0],
            [a.procs[0].out(), &a.qb, a.procs[2].out()],
            p,
            &self.mix,
        );
        let drop = drop.filter(|c| c.p > 0.0);
        a.dropped = drop.is_some();
        if let Some(cfg) = drop {
            be.dropout(&mut a.hs[0], &mut a.mask0, cfg, 0);
        }
        for i in 0..self.blocks.len() {
            self.blocks[i].forward(be, p, &a.hs[i], &mut a.blocks[i]);
            let (lo, hi) = a.hs.split_at_mut(i + 1);
            be.copy(&mut hi[0], &lo[i]);
            be.add_assign(&mut hi[0], &a.blocks[i].out);
        }
        let last = a.hs.last().expect("at least the mix");
        self.readout.forward(be, p, last, &mut a.pool);
        self.head.forward(be, p, &a.pool.pooled, &mut a.io.out);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.pool.dpooled, 0.0);
        self.head.backward(
            be,
            p,
            g,
            &a.pool.pooled,
            &a.io.dout,
            Some(&mut a.pool.dpooled),
        );
        be.fill(&mut a.dc, 0.0);
        let last = a.hs.last().expect("at least the mix");
        self.readout
            .backward(be, p, g, last, &mut a.pool, &mut a.dc);
        if let Some(k) = a.k.as_mut() {
            for i in (0..self.blocks.len()).rev() {
                be.copy(&mut a.dprev, &a.dc); // residual path
                self.blocks[i].backward(be, p, g, &a.hs[i], &a.blocks[i], &a.dc, &mut a.dprev, k);
                core::mem::swap(&mut a.dc, &mut a.dprev);
            }
        }
        if a.dropped {
            be.mul(&mut a.dprev, &a.dc, &a.mask0);
            core::mem::swap(&mut a.dc, &mut a.dprev);
        }
        for dq in &mut a.dq {
            be.fill(dq, 0.0);
        }
        {
            let [d0, d1, d2] = &mut a.dq;
            let xs = [a.procs[0].out(), &a.qb, a.procs[2].out()];
            be.superpose_bwd([d0, d1, d2], g, &a.dc, xs, p, &self.mix);
        }
        be.reverse_time(&mut a.dqr, &a.dq[1]);
        be.fill(&mut a.du, 0.0);
        be.fill(&mut a.dur, 0.0);
        {
            let [p0, p1, p2] = &mut a.procs;
            self.procs[0].backward(be, p, g, p0, &a.dq[0], &mut a.du);
            self.procs[1].backward(be, p, g, p1, &a.dqr, &mut a.dur);
            self.procs[2].backward(be, p, g, p2, &a.dq[2], &mut a.du);
        }
        be.reverse_time_acc(&mut a.du, &a.dur);
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
        ];
        // processor outputs as the modules return them (quantum_backward: reversed order)
        for (name, pc) in ["quantum_forward", "quantum_backward", "quantum_diagonal"]
            .iter()
            .zip(&a.procs)
        {
            out.push((format!("{name}.chunk_attention"), &pc.pool.scores));
            out.push((format!("{name}.quantum_branches"), &pc.br.out));
            out.push((format!("{name}.output_proj"), pc.out()));
            out.push(((*name).into(), pc.out()));
        }
        // eval mode: dropout is the identity
        out.push(("dropout".into(), &a.hs[0]));
        for (i, blk) in a.blocks.iter().enumerate() {
            out.push((format!("hydra_layers.{i}"), &blk.out));
        }
        out.push(("output_norm".into(), a.pool.normed()));
        out.push(("output_layer".into(), &a.io.out));
        out
    }
}
