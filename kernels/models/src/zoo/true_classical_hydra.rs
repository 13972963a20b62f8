//! 3c — `TrueClassicalHydra` (reference `models/TrueClassicalHydra.py`, spec §4.6):
//!
//! x (B, C, T) → (B, T, C) → Linear(C, D) (`embedding`) → Dropout → 2 × (u = RMSNorm_i(
//! HydraBlock_i(u)) + u) (post-norm residual, `norms.i`) → RMSNorm (`final_norm`) → mean over
//! T → `classifier` = Linear(D, D/2) → GELU(erf) → Dropout → Linear(D/2, 2). Window-only: the
//! backward scan sees the whole window (spec §6). Written once over the backend.
use crate::nn::{
    ClassicalHydraActs, ClassicalHydraBlock, ClassicalHydraGrads, Io, Linear, Net, NormMeanPool,
    NormMeanPoolActs, RmsNorm,
};
use crate::params::ParamLayout;
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer};

/// 3c TrueClassicalHydra.
pub struct TrueClassicalHydra {
    cfg: ModelConfig,
    lay: ParamLayout,
    embedding: Linear,
    blocks: Vec<ClassicalHydraBlock>,
    norms: Vec<RmsNorm>,
    pool: NormMeanPool,
    cls0: Linear,
    cls3: Linear,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    xt: B::Buf,
    emb: B::Buf,
    mask: B::Buf,
    /// us\[0\] = dropped embedding, us\[i+1\] = norms.i(layers.i(us\[i\])) + us\[i\]
    us: Vec<B::Buf>,
    blocks: Vec<ClassicalHydraActs<B>>,
    /// norms.i outputs and their rstd
    ns: Vec<(B::Buf, B::Buf)>,
    pool: NormMeanPoolActs<B>,
    h0: B::Buf,
    h1: B::Buf,
    h2: B::Buf,
    mask_head: B::Buf,
    dropped: bool,
    k: Option<ClassicalHydraGrads<B>>,
    du: B::Buf,
    dy: B::Buf,
    dh0: B::Buf,
    dh2: B::Buf,
}

impl TrueClassicalHydra {
    /// Builds the layout for `cfg` (d_inner = 2·d_model).
    pub fn new(cfg: ModelConfig) -> Self {
        let (c, d, e) = (cfg.n_channels, cfg.d_model, 2 * cfg.d_model);
        let mut lay = ParamLayout::new();
        let embedding = Linear::new(&mut lay, "embedding", c, d, true);
        let blocks = (0..cfg.n_layers)
            .map(|i| ClassicalHydraBlock::new(&mut lay, &format!("layers.{i}"), d, e, cfg.d_state))
            .collect();
        let norms = (0..cfg.n_layers)
            .map(|i| RmsNorm::new(&mut lay, &format!("norms.{i}"), d))
            .collect();
        let pool = NormMeanPool::new(&mut lay, d);
        let cls0 = Linear::new(&mut lay, "classifier.0", d, d / 2, true);
        let cls3 = Linear::new(&mut lay, "classifier.3", d / 2, cfg.n_classes, true);
        Self {
            cfg,
            lay,
            embedding,
            blocks,
            norms,
            pool,
            cls0,
            cls3,
        }
    }
}

impl Net for TrueClassicalHydra {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        "3c"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (t, c, d) = (self.cfg.n_times, self.cfg.n_channels, self.cfg.d_model);
        let s = |w: usize| be.alloc(&[b, t, w]);
        let nl = self.blocks.len();
        Acts {
            io: Io::plan(be, b, &self.cfg),
            xt: s(c),
            emb: s(d),
            mask: s(d),
            us: (0..=nl).map(|_| s(d)).collect(),
            blocks: self.blocks.iter().map(|k| k.plan(be, b, t)).collect(),
            ns: (0..nl).map(|_| (s(d), be.alloc(&[b, t]))).collect(),
            pool: self.pool.plan(be, b, t),
            h0: be.alloc(&[b, d / 2]),
            h1: be.alloc(&[b, d / 2]),
            h2: be.alloc(&[b, d / 2]),
            mask_head: be.alloc(&[b, d / 2]),
            dropped: false,
            k: self.blocks.first().map(|k| k.plan_grads(be, b, t)),
            du: s(d),
            dy: s(d),
            dh0: be.alloc(&[b, d / 2]),
            dh2: be.alloc(&[b, d / 2]),
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
        be.to_token_major(&mut a.xt, &a.io.x);
        self.embedding.forward(be, p, &a.xt, &mut a.emb);
        be.copy(&mut a.us[0], &a.emb);
        a.dropped = drop.is_some();
        if let Some(cfg) = drop {
            be.dropout(&mut a.us[0], &mut a.mask, cfg, 0);
        }
        for (i, (blk, norm)) in self.blocks.iter().zip(&self.norms).enumerate() {
            let (done, rest) = a.us.split_at_mut(i + 1);
            let (u, next) = (&done[i], &mut rest[0]);
            blk.forward(be, p, u, &mut a.blocks[i]);
            let (n, rstd) = &mut a.ns[i];
            norm.forward(be, p, &a.blocks[i].out, n, rstd);
            be.copy(next, n);
            be.add_assign(next, u);
        }
        let u = &a.us[self.blocks.len()];
        self.pool.forward(be, p, u, &mut a.pool);
        self.cls0.forward(be, p, &a.pool.pooled, &mut a.h0);
        be.act(Act::Gelu, &mut a.h1, &a.h0);
        be.copy(&mut a.h2, &a.h1);
        if let Some(cfg) = drop {
            be.dropout(&mut a.h2, &mut a.mask_head, cfg, 1);
        }
        self.cls3.forward(be, p, &a.h2, &mut a.io.out);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.dh2, 0.0);
        self.cls3
            .backward(be, p, g, &a.h2, &a.io.dout, Some(&mut a.dh2));
        if a.dropped {
            // dh2 ⊙= mask, through dh0 as scratch
            be.mul(&mut a.dh0, &a.dh2, &a.mask_head);
            be.copy(&mut a.dh2, &a.dh0);
        }
        be.fill(&mut a.dh0, 0.0);
        be.act_bwd(Act::Gelu, &mut a.dh0, &a.dh2, &a.h0);
        be.fill(&mut a.pool.dpooled, 0.0);
        self.cls0
            .backward(be, p, g, &a.pool.pooled, &a.dh0, Some(&mut a.pool.dpooled));
        be.fill(&mut a.du, 0.0);
        let u = &a.us[self.blocks.len()];
        self.pool.backward(be, p, g, u, &mut a.pool, &mut a.du);
        if let Some(k) = a.k.as_mut() {
            for (i, (blk, norm)) in self.blocks.iter().zip(&self.norms).enumerate().rev() {
                be.fill(&mut a.dy, 0.0);
                let (_, rstd) = &a.ns[i];
                norm.backward(be, p, g, &a.blocks[i].out, rstd, &a.du, &mut a.dy);
                // residual: du stays, the block adds its input gradient
                blk.backward(be, p, g, &a.us[i], &a.blocks[i], &a.dy, &mut a.du, k);
            }
        }
        if a.dropped {
            be.mul(&mut a.dy, &a.du, &a.mask);
            core::mem::swap(&mut a.du, &mut a.dy);
        }
        self.embedding.backward(be, p, g, &a.xt, &a.du, None);
    }
    fn trace<'a, B: Infer>(&self, _be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            ("embedding".to_string(), &a.emb),
            // eval mode: dropout is the identity
            ("dropout".to_string(), &a.us[0]),
        ];
        for (i, (blk, (n, _))) in a.blocks.iter().zip(&a.ns).enumerate() {
            out.push((format!("layers.{i}"), &blk.out));
            out.push((format!("norms.{i}"), n));
        }
        out.push(("final_norm".into(), a.pool.normed()));
        out.push(("pool".into(), &a.pool.pooled));
        out.push(("classifier.0".into(), &a.h0));
        out.push(("classifier.1".into(), &a.h1));
        out.push(("classifier.2".into(), &a.h2));
        out.push(("classifier.3".into(), &a.io.out));
        out.push(("classifier".into(), &a.io.out));
        out
    }
}
