//! The shared tail of 2d, 2e and 4a–4e (spec groups-2-4 §3 "Shared heads"), eval mode: per
//! chunk the circuit measurements q (k) → **OP_k** (`output_proj.0` Linear(k→D) →
//! `output_proj.1` LayerNorm → SiLU) = chunk feature f (D); the `seq_attention` score of f
//! (Linear(D→D/4) → tanh → Linear(D/4→1)) for the online softmax over chunks; the pooled
//! feature r (D) → **H_silu** (`classifier.0` Linear(D→D/2) → SiLU → `classifier.3`
//! Linear(D/2→K)). Mirrors the trainer's `blocks/seq_pool_head.rs`. No allocation after load.
use super::layers::{LayerNorm, Linear};
use super::online_pool::{pool_mean, pool_push, AttentionScore};
use crate::error::EngineError;
use crate::weights::Loader;
use qssm_kernels::ops::activation::silu_forward;

/// `output_proj`, `seq_attention` and `classifier` of one model.
#[derive(Clone, Debug)]
pub(crate) struct SeqPoolHead {
    op0: Linear,
    op_ln: LayerNorm,
    /// `seq_attention.{0,2}` (D → D/4 → 1)
    pub(super) seq: AttentionScore,
    /// `classifier.0` (D → D/2)
    pub(crate) cls0: Linear,
    /// `classifier.3` (D/2 → K)
    pub(crate) cls3: Linear,
}

impl SeqPoolHead {
    /// Loads the tail for k measurements per chunk, width D and K classes. Errors: missing
    /// or mis-shaped tensors ([`EngineError`] from the loader).
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        k: usize,
        d: usize,
        n_classes: usize,
    ) -> Result<Self, EngineError> {
        Ok(Self {
            op0: Linear::load(ld, "output_proj.0", k, d, true)?,
            op_ln: LayerNorm::load(ld, "output_proj.1", d)?,
            seq: AttentionScore::load(ld, "seq_attention", d)?,
            cls0: Linear::load(ld, "classifier.0", d, d / 2, true)?,
            cls3: Linear::load(ld, "classifier.3", d / 2, n_classes, true)?,
        })
    }

    /// OP_k: q (k) → chunk feature f (D); `o0`, `o1` (D each) scratch.
    pub(crate) fn feature(&self, q: &[f32], o0: &mut [f32], o1: &mut [f32], f: &mut [f32]) {
        self.op0.apply_one(o0, q);
        self.op_ln.apply_one(o1, o0);
        silu_forward(f, o1);
    }

    /// The `seq_attention` score of a chunk feature f (D); `work` ≥ 2·D/4 + 1 floats.
    pub(crate) fn score(&self, f: &[f32], work: &mut [f32]) -> f32 {
        self.seq.score(f, work)
    }

    /// Closes chunk `k` whose rows are pooled in `cpool` (D + 2, ≥ 1 row): the summary s
    /// (softmax-weighted mean, D) → `feature`(s, f, scratch) → the chunk feature f (D) → its
    /// `seq_attention` score, pushed into the sequence pool `spool` (D + 2) at position k.
    /// `work`: 2D + what `feature` and [`Self::score`] need. No allocation.
    pub(crate) fn close_chunk(
        &self,
        cpool: &[f32],
        spool: &mut [f32],
        k: usize,
        work: &mut [f32],
        feature: impl FnOnce(&[f32], &mut [f32], &mut [f32]),
    ) {
        let d = self.op0.d_out();
        let (s, rest) = work.split_at_mut(d);
        let (f, rest) = rest.split_at_mut(d);
        pool_mean(cpool, s, d);
        feature(s, f, rest);
        let a = self.score(f, rest);
        pool_push(spool, k, a, Some(f), d);
    }

    /// The pooled feature r (D) → logits (K) through `classifier`; `h` (2·D/2) scratch.
    pub(crate) fn head(&self, r: &[f32], h: &mut [f32], logits: &mut [f32]) {
        let (h0, h1) = h.split_at_mut(self.cls0.d_out());
        self.cls0.apply_one(h0, r);
        silu_forward(&mut h1[..h0.len()], h0);
        self.cls3.apply_one(logits, &h1[..h0.len()]);
    }
}
