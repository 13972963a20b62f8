//! The readout shared by 3a, 1a, 3b and 3c (spec §4.2, §3.1, §4.5, §4.4): the last block's
//! output h (B, L, D) → RMSNorm `final_norm` → mean over the L positions (time steps or
//! chunks) → pooled (B, D), which the model's classifier reads ([`NormMeanPool`]; 3a, 1a and
//! 3b then apply the Linear `classifier` (D → K): [`NormMeanHead`]). The streaming form
//! ([`NormMeanPool::step`], 3b) normalises the rows of a step and keeps the running mean.
use super::linear::Linear;
use super::norm::RmsNorm;
use super::step::RunningMean;
use crate::params::ParamLayout;
use qssm_kernels::backend::{Backend, Infer};

/// `final_norm` and the mean over time (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct NormMeanPool {
    norm: RmsNorm,
    d: usize,
}

/// Planned buffers of a [`NormMeanPool`] for (B, L).
pub struct NormMeanPoolActs<B: Infer> {
    /// `final_norm`'s output (B, L, D)
    pub fnorm: B::Buf,
    /// its reciprocal RMS per row (B, L)
    rstd: B::Buf,
    /// the mean over L (B, D): the readout
    pub pooled: B::Buf,
    /// d loss/d pooled (B, D): the classifier's backward accumulates into it
    pub dpooled: B::Buf,
    dfn: B::Buf,
}

impl NormMeanPool {
    /// Registers `final_norm.weight` (D).
    pub fn new(lay: &mut ParamLayout, d: usize) -> Self {
        Self {
            norm: RmsNorm::new(lay, "final_norm", d),
            d,
        }
    }

    /// Buffers for (B, L).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> NormMeanPoolActs<B> {
        NormMeanPoolActs {
            fnorm: be.alloc(&[b, l, self.d]),
            rstd: be.alloc(&[b, l]),
            pooled: be.alloc(&[b, self.d]),
            dpooled: be.alloc(&[b, self.d]),
            dfn: be.alloc(&[b, l, self.d]),
        }
    }

    /// h (B, L, D) → `a.pooled` (B, D).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B>,
    ) {
        self.norm.forward(be, p, h, &mut a.fnorm, &mut a.rstd);
        be.mean_time(&mut a.pooled, &a.fnorm);
    }

    /// From `a.dpooled` (d loss/d pooled, accumulated by the classifier's backward):
    /// accumulates `final_norm`'s gradient into `g` and d loss/d h into `dh`.
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B>,
        dh: &mut B::Buf,
    ) {
        be.fill(&mut a.dfn, 0.0);
        be.mean_time_bwd(&mut a.dfn, &a.dpooled);
        self.norm.backward(be, p, g, h, &a.rstd, &a.dfn, dh);
    }

    /// Streaming form: the step's rows h (B, L, D) → `final_norm` → `a.pooled` (B, D) = the
    /// mean over every row of the stream so far (`running`: its sum and count, zeros at the
    /// start of a stream). After a window's rows, step by step, `a.pooled` is
    /// [`Self::forward`]'s to rounding.
    pub fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        h: &B::Buf,
        a: &mut NormMeanPoolActs<B>,
        running: &mut RunningMean<B>,
    ) {
        self.norm.forward(be, p, h, &mut a.fnorm, &mut a.rstd);
        running.update(be, &mut a.pooled, &a.fnorm);
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
