//! The shared tail of 2d, 2e and 4a–4e (spec groups-2-4 §3 "Shared heads", §3.4–3.11):
//! per-chunk circuit measurements q (nc, k) → **OP_k** (`output_proj`: Linear(k→D) →
//! LayerNorm → SiLU → Dropout) → **SeqPool** (`seq_attention`: Pool_{D/4} softmax over the nc
//! chunk features) → **H_silu** (`classifier`: Linear(D→D/2) → SiLU → Dropout →
//! Linear(D/2→K)). Registration order (= state_dict order): `output_proj`, `seq_attention`,
//! `classifier`; the caller registers it after its circuit parameters.
//!
//! [`SeqPoolHead::prefix_outputs`] evaluates the head over the first k+1 chunk features for
//! every k — what a chunk-wise stream emits at each chunk boundary (spec §4.3 R1).
use super::attention_pool::{AttentionPool, AttentionPoolCache};
use super::head::{ClassifierHead, HeadAct, HeadCache, OutputProj, OutputProjCache};
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::silu_forward;
use rand_chacha::ChaCha8Rng;

/// OP_k → SeqPool → H_silu.
#[derive(Clone, Debug)]
pub struct SeqPoolHead {
    op: OutputProj,
    seq: AttentionPool,
    head: ClassifierHead,
    d: usize,
}

/// Activations of a [`SeqPoolHead`] forward.
#[derive(Clone, Debug, Default)]
pub struct SeqPoolHeadCache {
    op: OutputProjCache,
    /// chunk features f (nc, D) (`output_proj` output)
    pub f: Vec<f32>,
    seq: AttentionPoolCache,
    /// pooled feature r (D) (`seq_attention` pooling output)
    pub pooled: Vec<f32>,
    head: HeadCache,
    /// outputs (n_out)
    pub out: Vec<f32>,
    nc: usize,
}

impl SeqPoolHead {
    /// Registers `output_proj.{0,1}` (k → D), `seq_attention.{0,2}` (D → D/4 → 1) and
    /// `classifier.{0,3}` (D → D/2 → n_out).
    pub fn new(lay: &mut ParamLayout, k: usize, d: usize, n_out: usize, dropout: f32) -> Self {
        let op = OutputProj::new(lay, "output_proj", k, d, dropout);
        let seq = AttentionPool::new(lay, "seq_attention", d, d / 4);
        let head = ClassifierHead::new(lay, "classifier", d, d / 2, n_out, HeadAct::Silu, dropout);
        Self { op, seq, head, d }
    }

    /// q (nc, k) → outputs (n_out). Dropout masks from `rng` (None = eval).
    pub fn forward(
        &self,
        p: &[f32],
        q: &[f32],
        nc: usize,
        mut rng: Option<&mut ChaCha8Rng>,
        c: &mut SeqPoolHeadCache,
    ) -> Vec<f32> {
        c.nc = nc;
        c.f = self.op.forward(p, q, nc, rng.as_deref_mut(), &mut c.op);
        c.pooled = self.seq.forward_block(p, &c.f, nc, nc, &mut c.seq);
        c.out = self.head.forward(p, &c.pooled, rng, &mut c.head);
        c.out.clone()
    }

    /// Accumulates parameter gradients and dq (nc, k) from d outputs.
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        c: &SeqPoolHeadCache,
        dy: &[f32],
        dq: &mut [f32],
    ) {
        let mut dpooled = vec![0.0; self.d];
        self.head.backward(p, g, &c.head, dy, &mut dpooled);
        let mut df = vec![0.0; c.nc * self.d];
        self.seq.backward(p, g, &c.seq, &dpooled, &mut df);
        self.op.backward(p, g, &c.op, &df, dq);
    }

    /// The reference's `act.*` intermediates of the tail (from an eval [`Self::forward`] in
    /// `c`): `output_proj.{0,1,2,3}` and `output_proj` (nc, D); `seq_attention.{0,1}`
    /// (nc, D/4), `seq_attention.2` and `seq_attention` (nc) scores; `classifier.{0,1,2}`
    /// (D/2), `classifier.3` and `classifier` (n_out).
    pub fn trace(&self, p: &[f32], c: &SeqPoolHeadCache) -> Vec<(String, Vec<f32>)> {
        let mut op2 = vec![0.0; c.op.o1.len()];
        silu_forward(&mut op2, &c.op.o1);
        let mut h1 = vec![0.0; c.head.pre.len()];
        silu_forward(&mut h1, &c.head.pre);
        vec![
            ("output_proj.0".into(), c.op.o0.clone()),
            ("output_proj.1".into(), c.op.o1.clone()),
            ("output_proj.2".into(), op2),
            ("output_proj.3".into(), c.f.clone()),
            ("output_proj".into(), c.f.clone()),
            ("seq_attention.0".into(), self.seq.hidden_pre(p, &c.seq)),
            ("seq_attention.1".into(), c.seq.t1.clone()),
            ("seq_attention.2".into(), c.seq.scores.clone()),
            ("seq_attention".into(), c.seq.scores.clone()),
            ("classifier.0".into(), c.head.pre.clone()),
            ("classifier.1".into(), h1),
            ("classifier.2".into(), c.head.hidden.clone()),
            ("classifier.3".into(), c.out.clone()),
            ("classifier".into(), c.out.clone()),
        ]
    }

    /// Eval-mode outputs over the first k+1 chunks, k = 0..nc: element k is the head applied to
    /// SeqPool(f_0..f_k), with f from an eval forward (`c` after [`Self::forward`] with
    /// `rng = None`). The last element equals the full forward's output.
    pub fn prefix_outputs(&self, p: &[f32], c: &SeqPoolHeadCache) -> Vec<Vec<f32>> {
        (1..=c.nc)
            .map(|k| {
                let mut sc = AttentionPoolCache::default();
                let pooled = self.seq.forward_block(p, &c.f[..k * self.d], k, k, &mut sc);
                self.head
                    .forward(p, &pooled, None, &mut HeadCache::default())
            })
            .collect()
    }
}
