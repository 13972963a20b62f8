//! 2b — `ClassicalMambaQuantumSSM` and 2c — `ClassicalHydraQuantumSSM` (reference
//! `models/QuantumMixingSSM.py`, spec groups-2-4 §3.2, §3.3):
//!
//! Written once over the backend: x (B, C, T) → [`ChunkFront`]: Drop(`feature_extractor.embedding`(x_t)) → ChunkPool(16, D/2) →
//! Drop ⇒ z (nc, D) → 2 residual quantum mixing layers z ← z + y → r = mean_j
//! LN_`output_norm`(z_j) → H_relu (`classifier.0` → ReLU → Drop → `classifier.3`).
//!
//! * 2b: layer l = [`QssmCore`] `quantum_ssm_layers.l` run from h₀; **layer 1 starts from
//!   layer 0's final state** (h₀ of layer 0 = 0), so the backward carries d loss/d h from
//!   layer 1's first step into layer 0's last step.
//! * 2c: layer l = `quantum_hydra_layers.l` (`QuantumBidirectionalSSMCore`): f = QSSM_fwd(z, 0),
//!   g = reverse_j(QSSM_bwd(reverse_j z, 0)), d = `diagonal`(z), t = |α|+|β|+|γ|+1e-8 with real
//!   signed (1,) parameters α, β, γ, y = `out_proj`((α/t)·f + (β/t)·g + (γ/t)·d).
//!
//! Both are window models (not streamable, spec §4.3 R3/R4). Their recurrences are chaotic
//! (spec §5.1): parity with the reference is only possible for short windows (nc ≤ 8).
use crate::nn::{
    ChunkFront, ChunkFrontActs, ClassifierHead, HeadActs, Io, LayerNorm, Linear, Net, NormMeanPool,
    NormMeanPoolActs, QssmActs, QssmCore,
};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer};

/// Chunk size of the group-2 chunk pooling (constructor default, never overridden).
pub const CHUNK_SIZE: usize = 16;

/// Guard of the L1 normalisation of α, β, γ (reference `+ 1e-8`).
const COEFF_EPS: f32 = 1e-8;

/// Dropout sites: the embedding, the chunk summaries, the classifier's hidden layer.
const SITES: [u32; 3] = [0, 1, 2];

/// One `QuantumBidirectionalSSMCore` (2c layer; see the module docs).
#[derive(Clone, Debug)]
struct HydraLayer {
    /// α, β, γ, each (1,)
    coeffs: [usize; 3],
    fwd: QssmCore,
    bwd: QssmCore,
    diagonal: Linear,
    out_proj: Linear,
}

/// Planned buffers of a [`HydraLayer`] for (B, nc).
struct HydraActs<B: Infer> {
    fwd: QssmActs<B>,
    bwd: QssmActs<B>,
    /// z reversed in chunk order, the backward core's output back in order, `diagonal`(z)
    zr: B::Buf,
    g: B::Buf,
    dg: B::Buf,
    /// the mix (B, nc, D) and the layer output y
    m: B::Buf,
    y: B::Buf,
    // backward scratch
    dm: B::Buf,
    dbr: [B::Buf; 3],
    dgr: B::Buf,
    dzr: B::Buf,
}

impl HydraLayer {
    fn new(lay: &mut ParamLayout, name: &str, cfg: &ModelConfig) -> Self {
        let d = cfg.d_model;
        let coeffs = [("alpha", 1.0), ("beta", 1.0), ("gamma", 0.5)]
            .map(|(k, v)| lay.add(format!("{name}.{k}"), &[1], Init::Const(v)).start);
        let core = |lay: &mut ParamLayout, dir: &str| {
            QssmCore::new(
                lay,
                &format!("{name}.{dir}"),
                (d, cfg.d_state),
                cfg.n_qubits,
                cfg.n_layers,
            )
        };
        let fwd = core(lay, "forward_ssm");
        let bwd = core(lay, "backward_ssm");
        let diagonal = Linear::new(lay, &format!("{name}.diagonal"), d, d, true);
        let out_proj = Linear::new(lay, &format!("{name}.out_proj"), d, d, true);
        Self {
            coeffs,
            fwd,
            bwd,
            diagonal,
            out_proj,
        }
    }

    fn plan<B: Infer>(&self, be: &B, b: usize, nc: usize, d: usize) -> HydraActs<B> {
        let s = || be.alloc(&[b, nc, d]);
        HydraActs {
            fwd: self.fwd.plan(be, b, nc),
            bwd: self.bwd.plan(be, b, nc),
            zr: s(),
            g: s(),
            dg: s(),
            m: s(),
            y: s(),
            dm: s(),
            dbr: [s(), s(), s()],
            dgr: s(),
            dzr: s(),
        }
    }

    /// z (B, nc, D) → `a.y`.
    fn forward<B: Infer>(&self, be: &B, p: &B::Params, z: &B::Buf, a: &mut HydraActs<B>) {
        self.fwd.forward(be, p, z, None, &mut a.fwd);
        be.reverse_time(&mut a.zr, z);
        self.bwd.forward(be, p, &a.zr, None, &mut a.bwd);
        be.reverse_time(&mut a.g, &a.bwd.y);
        self.diagonal.forward(be, p, z, &mut a.dg);
        be.mix_l1(&mut a.m, [&a.fwd.y, &a.g, &a.dg], p, self.coeffs, COEFF_EPS);
        self.out_proj.forward(be, p, &a.m, &mut a.y);
    }

    /// Backward from dy (B, nc, D): parameter gradients into `g`, dz (B, nc, D) += ….
    #[allow(clippy::too_many_arguments)]
    fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        z: &B::Buf,
        a: &mut HydraActs<B>,
        dy: &B::Buf,
        dz: &mut B::Buf,
    ) {
        be.fill(&mut a.dm, 0.0);
        self.out_proj.backward(be, p, g, &a.m, dy, Some(&mut a.dm));
        for d in &mut a.dbr {
            be.fill(d, 0.0);
        }
        {
            let [df, dgb, ddg] = &mut a.dbr;
            be.mix_l1_bwd(
                [df, dgb, ddg],
                g,
                &a.dm,
                [&a.fwd.y, &a.g, &a.dg],
                p,
                self.coeffs,
                COEFF_EPS,
            );
        }
        self.fwd
            .backward(be, p, g, z, &mut a.fwd, &a.dbr[0], None, dz);
        be.reverse_time(&mut a.dgr, &a.dbr[1]);
        be.fill(&mut a.dzr, 0.0);
        self.bwd
            .backward(be, p, g, &a.zr, &mut a.bwd, &a.dgr, None, &mut a.dzr);
        be.reverse_time_acc(dz, &a.dzr);
        self.diagonal.backward(be, p, g, z, &a.dbr[2], Some(dz));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mamba,
    Hydra,
}

/// 2b `ClassicalMambaQuantumSSM` (86,023 parameters at the EEG config, every T) or 2c
/// `ClassicalHydraQuantumSSM` (204,433): see the module docs.
pub struct QuantumMixingSsm {
    kind: Kind,
    cfg: ModelConfig,
    lay: ParamLayout,
    front: ChunkFront,
    mamba: Vec<QssmCore>,
    hydra: Vec<HydraLayer>,
    /// `output_norm` (LayerNorm) and the mean over chunks
    readout: NormMeanPool<LayerNorm>,
    head: ClassifierHead,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    front: ChunkFrontActs<B>,
    mamba: Vec<QssmActs<B>>,
    hydra: Vec<HydraActs<B>>,
    /// residual stream: zs\[0\] = the chunk summaries, zs\[l+1\] = zs\[l\] + layer l (B, nc, D)
    zs: Vec<B::Buf>,
    pool: NormMeanPoolActs<B, LayerNorm>,
    head: HeadActs<B>,
    // backward scratch
    dz: B::Buf,
    dprev: B::Buf,
}

impl QuantumMixingSsm {
    fn build(kind: Kind, cfg: ModelConfig) -> Self {
        let (c, d) = (cfg.n_channels, cfg.d_model);
        let mut lay = ParamLayout::new();
        let front = ChunkFront::new(&mut lay, (c, d, CHUNK_SIZE), [SITES[0], SITES[1]]);
        let (mut mamba, mut hydra) = (Vec::new(), Vec::new());
        for l in 0..cfg.n_layers {
            match kind {
                Kind::Mamba => mamba.push(QssmCore::new(
                    &mut lay,
                    &format!("quantum_ssm_layers.{l}"),
                    (d, cfg.d_state),
                    cfg.n_qubits,
                    cfg.n_layers,
                )),
                Kind::Hydra => hydra.push(HydraLayer::new(
                    &mut lay,
                    &format!("quantum_hydra_layers.{l}"),
                    &cfg,
                )),
            }
        }
        let readout = NormMeanPool::layer_norm(&mut lay, "output_norm", d);
        let head = ClassifierHead::new(
            &mut lay,
            "classifier",
            (d, d, cfg.n_classes),
            Act::Relu,
            SITES[2],
        );
        Self {
            kind,
            cfg,
            lay,
            front,
            mamba,
            hydra,
            readout,
            head,
        }
    }

    /// 2b `ClassicalMambaQuantumSSM` for `cfg` (`n_layers` stacked cores of `n_layers`
    /// circuit layers each, as the reference's `create_model`).
    pub fn mamba(cfg: ModelConfig) -> Self {
        Self::build(Kind::Mamba, cfg)
    }

    /// 2c `ClassicalHydraQuantumSSM` for `cfg`.
    pub fn hydra(cfg: ModelConfig) -> Self {
        Self::build(Kind::Hydra, cfg)
    }
}

impl Net for QuantumMixingSsm {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        match self.kind {
            Kind::Mamba => "2b",
            Kind::Hydra => "2c",
        }
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (c, t, d) = (self.cfg.n_channels, self.cfg.n_times, self.cfg.d_model);
        let nc = self.front.n_chunks(t);
        let sc = || be.alloc(&[b, nc, d]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            front: self.front.plan(be, b, c, t),
            mamba: self.mamba.iter().map(|k| k.plan(be, b, nc)).collect(),
            hydra: self.hydra.iter().map(|k| k.plan(be, b, nc, d)).collect(),
            zs: (0..=self.cfg.n_layers).map(|_| sc()).collect(),
            pool: self.readout.plan(be, b, nc),
            head: self.head.plan(be, b),
            dz: sc(),
            dprev: sc(),
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
        let drop = drop.filter(|c| c.p > 0.0);
        self.front.forward(be, p, &a.io.x, &mut a.front, drop);
        be.copy(&mut a.zs[0], &a.front.s);
        for l in 0..self.cfg.n_layers {
            let (lo, hi) = a.zs.split_at_mut(l + 1);
            let y = match self.kind {
                Kind::Mamba => {
                    // layer l starts from layer l−1's final state (layer 0 from zeros)
                    let (done, rest) = a.mamba.split_at_mut(l);
                    let h0 = done.last().map(|prev| self.mamba[l - 1].h_final(prev));
                    self.mamba[l].forward(be, p, &lo[l], h0, &mut rest[0]);
                    &rest[0].y
                }
                Kind::Hydra => {
                    self.hydra[l].forward(be, p, &lo[l], &mut a.hydra[l]);
                    &a.hydra[l].y
                }
            };
            be.copy(&mut hi[0], &lo[l]);
            be.add_assign(&mut hi[0], y);
        }
        let last = a.zs.last().expect("the chunk summaries");
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
        be.fill(&mut a.dz, 0.0);
        let last = a.zs.last().expect("the chunk summaries");
        self.readout
            .backward(be, p, g, last, &mut a.pool, &mut a.dz);
        for l in (0..self.cfg.n_layers).rev() {
            be.copy(&mut a.dprev, &a.dz); // residual path
            match self.kind {
                Kind::Mamba => {
                    // d loss/d h carried from layer l+1's first step into layer l's last step
                    let (lo, hi) = a.mamba.split_at_mut(l + 1);
                    let dh = hi.first().map(|next| &next.dh0);
                    self.mamba[l].backward(be, p, g, &a.zs[l], &mut lo[l], &a.dz, dh, &mut a.dprev);
                }
                Kind::Hydra => {
                    self.hydra[l].backward(be, p, g, &a.zs[l], &mut a.hydra[l], &a.dz, &mut a.dprev)
                }
            }
            core::mem::swap(&mut a.dz, &mut a.dprev);
        }
        self.front.backward(be, p, g, &mut a.front, &a.dz);
    }
    fn trace<'a, B: Infer>(&self, _be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        let a: &'a Acts<B> = a;
        let mut out = self.front.trace(&a.front);
        let ys: Vec<&B::Buf> = match self.kind {
            Kind::Mamba => a.mamba.iter().map(|k| &k.y).collect(),
            Kind::Hydra => a.hydra.iter().map(|k| &k.y).collect(),
        };
        let prefix = match self.kind {
            Kind::Mamba => "quantum_ssm_layers",
            Kind::Hydra => "quantum_hydra_layers",
        };
        for (l, y) in ys.into_iter().enumerate() {
            out.push((format!("{prefix}.{l}"), y));
        }
        out.push(("output_norm".into(), a.pool.normed()));
        out.push(("pool".into(), &a.pool.pooled));
        out.extend(ClassifierHead::trace("classifier", &a.head, &a.io.out));
        out
    }
}
