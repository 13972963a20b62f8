//! Online attention pooling (the `Pool_h` of spec groups-2-4 §3 "Shared heads", reference
//! `ChunkAttention` / `seq_attention` in `models/QuantumE2E.py`), one row at a time: a pool is
//! [m, z, Σ e·row] (2 + D floats) — the running maximum m of the scores, the softmax
//! denominator z = Σ exp(a − m) and the weighted row sum — so a softmax over a chunk's rows or
//! over a window's chunk features needs no buffer of rows. Used by 4a–4e for the chunk pool and
//! the sequence pool. No allocation.
use super::layers::Linear;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec;
use qssm_kernels::ops::activation::tanh_forward;

/// Pool slots before the weighted row sum: running max of the scores, softmax denominator.
pub(super) const POOL_HEAD: usize = 2;

/// The `Pool_h` score head of one row: Linear(D → H) → tanh → Linear(H → 1) (`<name>.0`,
/// `<name>.2`; H = D/4 for `chunk_attention` and `seq_attention` of 2d/2e and 4a–4e).
#[derive(Clone, Debug)]
pub(super) struct AttentionScore {
    l0: Linear,
    l2: Linear,
}

impl AttentionScore {
    /// Loads `<name>.0` (D → D/4) and `<name>.2` (D/4 → 1). Errors: missing or mis-shaped
    /// tensors ([`EngineError`] from the loader).
    pub(super) fn load(ld: &mut Loader<'_, '_>, name: &str, d: usize) -> Result<Self, EngineError> {
        Ok(Self {
            l0: Linear::load(ld, &format!("{name}.0"), d, d / 4, true)?,
            l2: Linear::load(ld, &format!("{name}.2"), d / 4, 1, true)?,
        })
    }

    /// Floats of [`Self::score`]'s scratch: 2H + 1.
    pub(super) fn work_len(&self) -> usize {
        2 * self.l0.d_out() + 1
    }

    /// The score l2(tanh(l0(u))) of a row u (D); `work` ≥ [`Self::work_len`]. No allocation.
    pub(super) fn score(&self, u: &[f32], work: &mut [f32]) -> f32 {
        let h = self.l0.d_out();
        let (a1, rest) = work.split_at_mut(h);
        let (t1, rest) = rest.split_at_mut(h);
        self.l0.apply_one(a1, u);
        tanh_forward(t1, a1);
        self.l2.apply_one(&mut rest[..1], t1);
        rest[0]
    }
}

/// The chunk attention pool (`chunk_attention`) of 2d/2e and 4a–4e: its score head and the
/// constant score of a zero pad row (the reference pads the last chunk with zero rows that
/// take part in the softmax).
#[derive(Clone, Debug)]
pub(super) struct ChunkAttention {
    /// `chunk_attention.{0,2}`
    pub(super) score: AttentionScore,
    /// score of a zero row, l2(tanh(l0(0))), computed at load
    pad_score: f32,
}

impl ChunkAttention {
    /// Loads `chunk_attention` for width D and computes the pad score (allocates at load only).
    /// Errors: as [`AttentionScore::load`].
    pub(super) fn load(ld: &mut Loader<'_, '_>, d: usize) -> Result<Self, EngineError> {
        let score = AttentionScore::load(ld, "chunk_attention", d)?;
        let mut work = vec![0.0f32; score.work_len()];
        let pad_score = score.score(&vec![0.0f32; d], &mut work);
        Ok(Self { score, pad_score })
    }

    /// Pushes the zero pad rows at positions `from..chunk` of a chunk pool (D + 2).
    pub(super) fn pad(&self, pool: &mut [f32], from: usize, chunk: usize, d: usize) {
        for p in from..chunk {
            pool_push(pool, p, self.pad_score, None, d);
        }
    }
}

/// Adds a row (`None` = a zero row) with score `a` at position `pos` of its block (0 starts a
/// new pool) to the online softmax pool [m, z, Σ e·row (D)] (as the chunk processor's).
pub(super) fn pool_push(pool: &mut [f32], pos: usize, a: f32, row: Option<&[f32]>, d: usize) {
    let (head, acc) = pool.split_at_mut(POOL_HEAD);
    let acc = &mut acc[..d];
    if pos == 0 {
        head.copy_from_slice(&[a, 1.0]);
        match row {
            Some(u) => acc.copy_from_slice(&u[..d]),
            None => acc.fill(0.0),
        }
    } else if a > head[0] {
        let r = libm::expf(head[0] - a);
        head.copy_from_slice(&[a, head[1] * r + 1.0]);
        match row {
            Some(u) => acc.iter_mut().zip(u).for_each(|(s, &v)| *s = *s * r + v),
            None => acc.iter_mut().for_each(|s| *s *= r),
        }
    } else {
        let e = libm::expf(a - head[0]);
        head[1] += e;
        if let Some(u) = row {
            acc.iter_mut().zip(u).for_each(|(s, &v)| *s += e * v);
        }
    }
}

/// The pool's softmax-weighted mean Σ e·row / z into `out` (D).
pub(super) fn pool_mean(pool: &[f32], out: &mut [f32], d: usize) {
    let inv = 1.0 / pool[1];
    out[..d]
        .iter_mut()
        .zip(&pool[POOL_HEAD..POOL_HEAD + d])
        .for_each(|(o, &v)| *o = v * inv);
}
