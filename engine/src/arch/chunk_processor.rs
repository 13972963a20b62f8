//! `ChunkedQuantumProcessor` (reference `models/QuantumSSM.py`, spec §2.5) for inference:
//! zero-pad u (T, F) to nc·cs rows at the end of time (nc = ⌈T/cs⌉), score every row with
//! `chunk_attention` = Linear(F, F/2) → tanh → Linear(F/2, 1), softmax-pool each chunk of cs
//! rows (**pad rows included**, as in the reference: they score a constant and dilute the last
//! chunk), run the [`QsbQssm`] branches on each chunk summary, then `output_proj` =
//! Linear(9Q, D) → LayerNorm(D) → SiLU. Output (nc, D).
//!
//! Recurrent mode (streaming the causal variant, whose pad rows get no weight): one row at a
//! time ([`ChunkProcessor::push_row`]) into an online softmax pool — running max of the scores,
//! denominator and weighted row sum, rescaled when the max grows (Milakov & Gimelshein 2018) —
//! and [`ChunkProcessor::close`] turns the pool into the chunk's output row (D), for a full
//! chunk or a partial last one alike. Equal to the window path to rounding; no allocation.
use super::layers::{LayerNorm, Linear};
use super::qsb::QsbQssm;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use qssm_kernels::ops::activation::{silu_forward, tanh_forward};

/// Pool slots before the weighted row sum: running max of the scores, softmax denominator.
const POOL_HEAD: usize = 2;

/// The chunk processor over input width F, chunk size cs, output width D.
#[derive(Clone, Debug)]
pub(crate) struct ChunkProcessor {
    cs: usize,
    f: usize,
    att0: Linear,
    att2: Linear,
    qsb: QsbQssm,
    out0: Linear,
    out_ln: LayerNorm,
}

impl ChunkProcessor {
    /// Loads `<prefix>chunk_attention.{0,2}`, `<prefix>quantum_branches.*` (QSSM flavour),
    /// `<prefix>output_proj.{0,1}` for Q qubits and `n_layers` circuit layers.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        f: usize,
        d: usize,
        cs: usize,
        q: usize,
        n_layers: usize,
    ) -> Result<Self, EngineError> {
        let att0 = Linear::load(ld, &format!("{prefix}chunk_attention.0"), f, f / 2, true)?;
        let att2 = Linear::load(ld, &format!("{prefix}chunk_attention.2"), f / 2, 1, true)?;
        let qsb = QsbQssm::load(ld, &format!("{prefix}quantum_branches."), f, q, n_layers)?;
        let out0 = Linear::load(
            ld,
            &format!("{prefix}output_proj.0"),
            qsb.out_dim(),
            d,
            true,
        )?;
        let out_ln = LayerNorm::load(ld, &format!("{prefix}output_proj.1"), d)?;
        Ok(Self {
            cs,
            f,
            att0,
            att2,
            qsb,
            out0,
            out_ln,
        })
    }

    /// Chunk size cs.
    pub(crate) fn chunk_size(&self) -> usize {
        self.cs
    }

    /// Floats of the recurrent pool: running max m, denominator z, weighted row sum (F).
    pub(crate) fn pool_len(&self) -> usize {
        POOL_HEAD + self.f
    }

    /// Floats of scratch [`Self::push_row`] and [`Self::close`] need.
    pub(crate) fn step_scratch_len(&self) -> usize {
        let push = 2 * self.att0.d_out() + 1;
        let close = self.f + self.qsb.out_dim() + 2 * self.out0.d_out() + self.qsb.scratch_len();
        push.max(close)
    }

    /// Adds row u (F), row `pos` of its chunk (0 starts a new pool, whatever `pool` held), to
    /// the online softmax pool: score a = chunk_attention(u); with e = exp(a − m) the pool
    /// holds m = max a, z = Σ e, Σ e·u. No allocation.
    pub(crate) fn push_row(&self, u: &[f32], pos: usize, pool: &mut [f32], scratch: &mut [f32]) {
        let half = self.att0.d_out();
        let (a1, rest) = scratch.split_at_mut(half);
        let (t1, rest) = rest.split_at_mut(half);
        let score = &mut rest[..1];
        self.att0.apply_one(a1, u);
        tanh_forward(t1, a1);
        self.att2.apply_one(score, t1);
        let a = score[0];
        let (head, acc) = pool.split_at_mut(POOL_HEAD);
        let acc = &mut acc[..self.f];
        if pos == 0 {
            head.copy_from_slice(&[a, 1.0]);
            acc.copy_from_slice(&u[..self.f]);
        } else if a > head[0] {
            // new max: rescale what was pooled
            let r = libm::expf(head[0] - a);
            head.copy_from_slice(&[a, head[1] * r + 1.0]);
            acc.iter_mut().zip(u).for_each(|(s, &v)| *s = *s * r + v);
        } else {
            let e = libm::expf(a - head[0]);
            head[1] += e;
            acc.iter_mut().zip(u).for_each(|(s, &v)| *s += e * v);
        }
    }

    /// The output row (D) of the chunk pooled in `pool` (≥ 1 row pushed): summary s = Σ e·u / z
    /// → quantum branches → `output_proj`, written into `out`. `pool` is not changed; no
    /// allocation.
    pub(crate) fn close(&self, pool: &[f32], out: &mut [f32], scratch: &mut [f32]) {
        let (f, d) = (self.f, self.out0.d_out());
        let (s, rest) = scratch.split_at_mut(f);
        let (qv, rest) = rest.split_at_mut(self.qsb.out_dim());
        let (o0, rest) = rest.split_at_mut(d);
        let (o1, rest) = rest.split_at_mut(d);
        let inv = 1.0 / pool[1];
        s.iter_mut()
            .zip(&pool[POOL_HEAD..POOL_HEAD + f])
            .for_each(|(o, &v)| *o = v * inv);
        self.qsb.apply_one(qv, s, rest);
        self.out0.apply_one(o0, qv);
        self.out_ln.apply_one(o1, o0);
        silu_forward(&mut out[..d], o1);
    }
}
