//! The readout of the models that average their last block's output over time: h (B, L, D)
//! → a norm → mean over the L positions (time steps or chunks) → pooled (B, D), which the
//! model's head reads ([`NormMeanPool`]):
//!
//! * RMSNorm `final_norm` in 3a, 1a, 3b and 3c (spec §4.4, §4.1, §4.5, §3.1); 3a, 1a and 3b
//!   then apply the Linear `classifier` (D → K): [`NormMeanHead`];
//! * LayerNorm `output_norm` in 1b, 1c, 2b and 2c (spec §4.2, §4.3, groups-2-4 §3.2–3.3).
//!
//! The streaming form ([`NormMeanPool::step`]: 3b, the causal 1b) normalises the rows of a
//! step and keeps the running mean.
use super::linear::Linear;
use super::norm::{LayerNorm, RmsNorm, RowNorm};
use super::step::RunningMean;
use crate::params::ParamLayout;
use qssm_kernels::backend::{Backend, Infer};

/// A norm `N` ([`RmsNorm`] or [`LayerNorm`]) and the mean over time (see the
/// [module docs](self)).
#[derive(Clone, Debug)]
pub struct NormMeanPool<N: RowNorm = RmsNorm> {
    norm: N,
    d: usize,
}

/// Planned buffers of a [`NormMeanPool`] for (B, L).
pub struct NormMeanPoolActs<B: Infer, N: RowNorm = RmsNorm> {
    norm: N::Acts<B>,
    /// the mean over L (B, D): the readout
    pub pooled: B::Buf,
    /// d loss/d pooled (B, D): the head's backward accumulates into it
    pub dpooled: B::Buf,
    dfn: B::Buf,
}

impl<B: Infer, N: RowNorm> NormMeanPoolActs<B, N> {
    /// The norm's output (B, L, D) (`final_norm` / `output_norm` in the reference's traces).
    pub fn normed(&self) -> &B::Buf {
        N::normed(&self.norm)
    }
}

impl NormMeanPool<RmsNorm> {
    /// RMSNorm: registers `final_norm.weight` (D).
    pub fn new(lay: &mut ParamLayout, d: usize) -> Self {
        Self {
            norm: RmsNorm::new(lay, "final_norm", d),
            d,
        }
    }
}

impl NormMeanPool<LayerNorm> {
    /// LayerNorm: registers `{name}.weight` and `{name}.bias` (D).
    pub fn layer_norm(lay: &mut ParamLayout, name: &str, d: usize) -> Self {
        Self {
            norm: LayerNorm::new(lay, name, d),
            d,
        }
    }
}

impl<N: RowNorm> NormMeanPool<N> {
    /// Buffers for (B, L).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> NormMeanPoolActs<B, N> {
        let d = self.d;
        NormMeanPoolActs {
            norm: self.norm.plan_rows(be, &[b, l, d]),
            pooled: be.alloc(&[b, d]),
            dpooled: be.alloc(&[b, d]),
            dfn: be.alloc(&[b, l, d]),
        }
    }

    /// h (B, L, D) → `a.pooled` (B, D).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B, N>,
    ) {
        self.norm.norm_rows(be, p, h, &mut a.norm);
        be.mean_time(&mut a.pooled, N::normed(&a.norm));
    }

    /// From `a.dpooled` (d loss/d pooled, accumulated by the head's backward): accumulates
    /// the norm's gradients into `g` and d loss/d h into `dh`.
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B, N>,
        dh: &mut B::Buf,
    ) {
        be.fill(&mut a.dfn, 0.0);
        be.mean_time_bwd(&mut a.dfn, &a.dpooled);
        self.norm.norm_rows_bwd(be, p, g, h, &a.norm, &a.dfn, dh);
    }

    /// Streaming form: the step's rows h (B, L, D) → the norm → `a.pooled` (B, D) = the mean
    /// over every row of the stream so far (`running`: its sum and count, zeros at the start
    /// of a stream). After a window's rows, step by step, `a.pooled` is [`Self::forward`]'s
    /// to rounding.
    pub fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B, N>,
        running: &mut RunningMean<B>,
    ) {
        self.norm.norm_rows(be, p, h, &mut a.norm);
        running.update(be, &mut a.pooled, N::normed(&a.norm));
    }
}

/// [`NormMeanPool`] followed by the Linear `classifier` (D → K, with bias): the head of 3a, 1a
/// and 3b.
#[derive(Clone, Debug)]
pub struct NormMeanHead {
    pool: NormMeanPool,
    classifier: Linear,
}

impl NormMeanHead {
    /// Registers `final_norm.weight` (D), then `classifier.weight` (K, D) and
    /// `classifier.bias` (K).
    pub fn new(lay: &mut ParamLayout, d: usize, k: usize) -> Self {
        let pool = NormMeanPool::new(lay, d);
        let classifier = Linear::new(lay, "classifier", d, k, true);
        Self { pool, classifier }
    }

    /// Buffers for (B, L).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> NormMeanPoolActs<B> {
        self.pool.plan(be, b, l)
    }

    /// h (B, L, D) → out (B, K).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B>,
        out: &mut B::Buf,
    ) {
        self.pool.forward(be, p, h, a);
        self.classifier.forward(be, p, &a.pooled, out);
    }

    /// From dout (B, K): accumulates the head's gradients into `g` and d loss/d h into `dh`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B>,
        dout: &B::Buf,
        dh: &mut B::Buf,
    ) {
        be.fill(&mut a.dpooled, 0.0);
        self.classifier
            .backward(be, p, g, &a.pooled, dout, Some(&mut a.dpooled));
        self.pool.backward(be, p, g, h, a, dh);
    }

    /// Streaming form ([`NormMeanPool::step`], then the classifier): out (B, K) after every
    /// row of the stream so far.
    pub fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B>,
        running: &mut RunningMean<B>,
        out: &mut B::Buf,
    ) {
        self.pool.step(be, p, h, a, running);
        self.classifier.forward(be, p, &a.pooled, out);
    }
}
