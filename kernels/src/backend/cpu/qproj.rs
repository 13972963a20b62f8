//! The quantum projection on the CPU ([`crate::circuit::qproj`]): rows in parallel tasks of
//! [`ROWS`], each with the thread's scratch; the backward accumulates each task's parameter
//! gradients in row order and sums the tasks in order (bit-identical for any thread count).
use super::par::*;
use super::scratch::{with_buf, PSI, REAL};
use super::{CpuBuf, HostParams};
use crate::backend::QProjP;
use crate::circuit::qproj::QProjBuffers;
use alloc::vec;

/// Rows per parallel task.
const ROWS: usize = 16;

pub(super) fn qproj<P: HostParams + ?Sized>(y: &mut CpuBuf, x: &CpuBuf, p: &P, qp: &QProjP) {
    let q = &qp.qp;
    let rows = x.data.len() / q.d_in;
    assert!(
        x.data.len() == rows * q.d_in && y.data.len() == rows * q.d_out,
        "qproj: x {:?} / y {:?} for {} → {}",
        x.shape,
        y.shape,
        q.d_in,
        q.d_out
    );
    let (w, gamma, beta) = (
        p.f32(qp.w.clone()),
        p.f32(qp.gamma.clone()),
        p.f32(qp.beta.clone()),
    );
    y.data
        .par_chunks_mut(ROWS * q.d_out)
        .zip(x.data.par_chunks(ROWS * q.d_in))
        .for_each(|(ys, xs)| {
            // the task's buffers from the thread scratch: a stream's step allocates nothing
            let (np, nq, nx, nw) = q.buffer_lens();
            with_buf(&PSI, np, |psi| {
                with_buf(&REAL, nq + nx + nw, |reals| {
                    let (qb, rest) = reals.split_at_mut(nq);
                    let (xb, wb) = rest.split_at_mut(nx);
                    for (yr, xr) in ys.chunks_exact_mut(q.d_out).zip(xs.chunks_exact(q.d_in)) {
                        let b = QProjBuffers {
                            psi: &mut *psi,
                            q: &mut *qb,
                            x: &mut *xb,
                            w: &mut *wb,
                        };
                        q.forward_in(xr, w, gamma, beta, yr, b);
                    }
                })
            })
        });
}

pub(super) fn qproj_bwd(
    dx: Option<&mut CpuBuf>,
    g: &mut [f32],
    dy: &CpuBuf,
    x: &CpuBuf,
    p: &[f32],
    qp: &QProjP,
) {
    let q = &qp.qp;
    let rows = x.data.len() / q.d_in;
    assert_eq!(
        dy.data.len(),
        rows * q.d_out,
        "qproj_bwd: dy {:?}",
        dy.shape
    );
    let (w, gamma, beta) = (&p[qp.w.clone()], &p[qp.gamma.clone()], &p[qp.beta.clone()]);
    let (nw, na) = (q.n_weights(), qp.gamma.len());
    let per = nw + 2 * na;
    // every task's (dW, dγ, dβ) over its ROWS rows (accumulated in row order), summed in task
    // order below: the same floats for any thread count, and one partial per task rather than
    // per row (at batch 32 × 784 tokens, in_proj's per-row partials took 417 MB)
    let n_tasks = rows.div_ceil(ROWS);
    let mut partial = vec![0.0f64; n_tasks * per];
    let work = |t: usize, part: &mut [f64], mut dxs: Option<&mut [f32]>| {
        let mut s = q.scratch();
        let (dw, rest) = part.split_at_mut(nw);
        let (dg, db) = rest.split_at_mut(na);
        for r in t * ROWS..((t + 1) * ROWS).min(rows) {
            let i = r - t * ROWS;
            let xr = &x.data[r * q.d_in..(r + 1) * q.d_in];
            let dyr = &dy.data[r * q.d_out..(r + 1) * q.d_out];
            let dxr = dxs
                .as_deref_mut()
                .map(|d| &mut d[i * q.d_in..(i + 1) * q.d_in]);
            q.backward(xr, w, gamma, beta, dyr, dxr, dw, dg, db, &mut s);
        }
    };
    let tasks = partial.par_chunks_mut(per).enumerate();
    match dx {
        Some(d) => {
            assert_eq!(d.data.len(), rows * q.d_in, "qproj_bwd: dx {:?}", d.shape);
            tasks
                .zip(d.data.par_chunks_mut(ROWS * q.d_in))
                .for_each(|((t, part), dxs)| work(t, part, Some(dxs)));
        }
        None => tasks.for_each(|(t, part)| work(t, part, None)),
    }
    let mut sum = vec![0.0f64; per];
    for part in partial.chunks_exact(per) {
        sum.iter_mut().zip(part).for_each(|(a, v)| *a += v);
    }
    let targets = qp.w.clone().chain(qp.gamma.clone()).chain(qp.beta.clone());
    for (i, v) in targets.zip(&sum) {
        g[i] += *v as f32;
    }
}
