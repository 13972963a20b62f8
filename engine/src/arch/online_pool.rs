//! Online attention pooling (the `Pool_h` of spec groups-2-4 §3 "Shared heads", reference
//! `ChunkAttention` / `seq_attention` in `models/QuantumE2E.py`), one row at a time: a pool is
//! [m, z, Σ e·row] (2 + D floats) — the running maximum m of the scores, the softmax
//! denominator z = Σ exp(a − m) and the weighted row sum — so a softmax over a chunk's rows or
//! over a window's chunk features needs no buffer of rows. Used by 2d/2e and 4a–4e for the chunk
//! pool and the sequence pool. No allocation.
use super::layers::Linear;
use qssm_kernels::ops::activation::tanh_forward;

/// Pool slots before the weighted row sum: running max of the scores, softmax denominator.
pub(super) const POOL_HEAD: usize = 2;

/// score = att2(tanh(att0(u))) (the `Pool_h` score of one row); `work` ≥ 2h + 1.
pub(super) fn score(att0: &Linear, att2: &Linear, u: &[f32], work: &mut [f32]) -> f32 {
    let h = att0.d_out();
    let (a1, rest) = work.split_at_mut(h);
    let (t1, rest) = rest.split_at_mut(h);
    att0.apply_one(a1, u);
    tanh_forward(t1, a1);
    att2.apply_one(&mut rest[..1], t1);
    rest[0]
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
