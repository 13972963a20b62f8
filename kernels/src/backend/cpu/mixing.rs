//! Per-sample sequence mixing of the CPU backend: the selective scan and attention of
//! [`crate::ops`], in parallel over the batch.
use super::CpuBuf;
use crate::backend::{ScanGradBufs, ScanInputs, ScanP};
use crate::ops::attention::{attention_backward, attention_forward};
use crate::ops::scan::{scan_backward, scan_forward, scan_forward_final, ScanDims, ScanGrads};
use core::cell::RefCell;
use rayon::prelude::*;

std::thread_local! {
    /// One (L+1, E, N) state buffer (and an (L, E) output for the backward's recomputation)
    /// per worker thread, grown once: the scan keeps no states between forward and backward
    /// (the backward recomputes them sample by sample).
    static STATES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn with_states<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    STATES.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < len {
            s.resize(len, 0.0);
        }
        f(&mut s[..len])
    })
}

fn dims_of(sx: &ScanInputs<'_, super::Cpu>, p: ScanP) -> (usize, ScanDims) {
    let b = sx.x.dim0();
    let l = sx.x.shape()[1];
    assert_eq!(sx.x.last(), p.e, "scan: x width");
    assert_eq!(sx.bm.last(), p.n, "scan: B width");
    (
        b,
        ScanDims {
            l,
            e: p.e,
            n: p.n,
            a_row_stride: p.a_row_stride,
            dt_on_b: p.dt_on_b,
        },
    )
}

/// Slice of sample `i` of a (B, …) buffer.
fn sample(x: &CpuBuf, b: usize, i: usize) -> &[f32] {
    let per = x.as_slice().len() / b;
    &x.as_slice()[i * per..(i + 1) * per]
}

pub(super) fn scan(
    y: &mut CpuBuf,
    h_last: Option<&mut CpuBuf>,
    states: Option<&mut CpuBuf>,
    sx: &ScanInputs<'_, super::Cpu>,
    d: &[f32],
    p: ScanP,
) {
    let (b, dims) = dims_of(sx, p);
    let (l, e, en) = (dims.l, dims.e, dims.e * dims.n);
    let a = sx.a.as_slice();
    let mut dummy = Vec::new();
    let hl: &mut [f32] = match h_last {
        Some(h) => h.as_mut_slice(),
        None => &mut dummy,
    };
    let want_last = !hl.is_empty();
    let y = y.as_mut_slice();
    if let Some(states) = states {
        // every state kept for the backward
        let per = (l + 1) * en;
        assert_eq!(states.as_slice().len(), b * per, "scan: states shape");
        y.par_chunks_mut(l * e)
            .zip(states.as_mut_slice().par_chunks_mut(per))
            .enumerate()
            .for_each(|(i, (yb, hs))| {
                scan_forward(
                    yb,
                    hs,
                    sample(sx.x, b, i),
                    sample(sx.delta, b, i),
                    a,
                    sample(sx.bm, b, i),
                    sample(sx.cm, b, i),
                    d,
                    sx.h0.map(|h| sample(h, b, i)),
                    dims,
                );
            });
        if want_last {
            for (hb, hs) in hl.chunks_mut(en).zip(states.as_slice().chunks(per)) {
                hb.copy_from_slice(&hs[l * en..]);
            }
        }
        return;
    }
    let run = |i: usize, yb: &mut [f32], hb: Option<&mut [f32]>| {
        with_states(2 * en, |ring| {
            scan_forward_final(
                yb,
                hb,
                ring,
                sample(sx.x, b, i),
                sample(sx.delta, b, i),
                a,
                sample(sx.bm, b, i),
                sample(sx.cm, b, i),
                d,
                sx.h0.map(|h| sample(h, b, i)),
                dims,
            );
        });
    };
    if want_last {
        y.par_chunks_mut(l * e)
            .zip(hl.par_chunks_mut(en))
            .enumerate()
            .for_each(|(i, (yb, hb))| run(i, yb, Some(hb)));
    } else {
        y.par_chunks_mut(l * e)
            .enumerate()
            .for_each(|(i, yb)| run(i, yb, None));
    }
}

pub(super) fn scan_bwd(
    grads: ScanGradBufs<'_, super::Cpu>,
    gd: &mut [f32],
    dy: &CpuBuf,
    dh_last: Option<&CpuBuf>,
    states: Option<&CpuBuf>,
    sx: &ScanInputs<'_, super::Cpu>,
    d: &[f32],
    p: ScanP,
) {
    let (b, dims) = dims_of(sx, p);
    let (l, e, n, en) = (dims.l, dims.e, dims.n, dims.e * dims.n);
    let a = sx.a.as_slice();
    let na = a.len();
    // per-sample partials of the shared gradients dA and dD, reduced in sample order
    let per = na + e;
    let mut partials = vec![0.0f32; b * per];
    let ScanGradBufs {
        dx,
        ddelta,
        da,
        dbm,
        dcm,
        dh0,
    } = grads;
    let mut no_dh0 = Vec::new();
    let dh0s: &mut [f32] = match dh0 {
        Some(h) => h.as_mut_slice(),
        None => &mut no_dh0,
    };
    let want_dh0 = !dh0s.is_empty();
    let mut dh0_chunks: Vec<Option<&mut [f32]>> = if want_dh0 {
        dh0s.chunks_mut(en).map(Some).collect()
    } else {
        (0..b).map(|_| None).collect()
    };
    dx.as_mut_slice()
        .par_chunks_mut(l * e)
        .zip(ddelta.as_mut_slice().par_chunks_mut(l * e))
        .zip(dbm.as_mut_slice().par_chunks_mut(l * n))
        .zip(dcm.as_mut_slice().par_chunks_mut(l * n))
        .zip(partials.par_chunks_mut(per))
        .zip(dh0_chunks.par_iter_mut())
        .enumerate()
        .for_each(|(i, (((((dxb, ddb), dbb), dcb), part), dh0b))| {
            let (pa, pd) = part.split_at_mut(na);
            let (x, delta) = (sample(sx.x, b, i), sample(sx.delta, b, i));
            let (bm, cm) = (sample(sx.bm, b, i), sample(sx.cm, b, i));
            let h0 = sx.h0.map(|h| sample(h, b, i));
            let mut backward = move |hs: &[f32]| {
                let g = ScanGrads {
                    dx: dxb,
                    ddelta: ddb,
                    da: pa,
                    dbm: dbb,
                    dcm: dcb,
                    dd: pd,
                    dh0: dh0b.as_deref_mut(),
                };
                scan_backward(
                    g,
                    sample(dy, b, i),
                    dh_last.map(|h| sample(h, b, i)),
                    hs,
                    x,
                    delta,
                    a,
                    bm,
                    cm,
                    d,
                    dims,
                );
            };
            match states {
                Some(st) => backward(sample(st, b, i)),
                None => with_states((l + 1) * en + l * e, |buf| {
                    // recompute this sample's states
                    let (hs, y) = buf.split_at_mut((l + 1) * en);
                    scan_forward(y, hs, x, delta, a, bm, cm, d, h0, dims);
                    backward(hs);
                }),
            }
        });
    for part in partials.chunks_exact(per) {
        let (pa, pd) = part.split_at(na);
        da.as_mut_slice()
            .iter_mut()
            .zip(pa)
            .for_each(|(x, v)| *x += v);
        gd.iter_mut().zip(pd).for_each(|(x, v)| *x += v);
    }
}

pub(super) fn attention(
    o: &mut CpuBuf,
    probs: &mut CpuBuf,
    [q, k, v]: [&CpuBuf; 3],
    mask: Option<&CpuBuf>,
    h: usize,
) {
    let (b, l, d) = (q.dim0(), q.shape()[1], q.last());
    o.as_mut_slice()
        .par_chunks_mut(l * d)
        .zip(probs.as_mut_slice().par_chunks_mut(h * l * l))
        .enumerate()
        .for_each(|(i, (ob, pb))| {
            attention_forward(
                ob,
                pb,
                sample(q, b, i),
                sample(k, b, i),
                sample(v, b, i),
                mask.map(|m| sample(m, b, i)),
                l,
                d,
                h,
            );
        });
}

pub(super) fn attention_bwd(
    [dq, dk, dv]: [&mut CpuBuf; 3],
    dout: &CpuBuf,
    [q, k, v]: [&CpuBuf; 3],
    probs: &CpuBuf,
    mask: Option<&CpuBuf>,
    h: usize,
) {
    let (b, l, d) = (q.dim0(), q.shape()[1], q.last());
    dq.as_mut_slice()
        .par_chunks_mut(l * d)
        .zip(dk.as_mut_slice().par_chunks_mut(l * d))
        .zip(dv.as_mut_slice().par_chunks_mut(l * d))
        .enumerate()
        .for_each(|(i, ((dqb, dkb), dvb))| {
            attention_backward(
                dqb,
                dkb,
                dvb,
                sample(dout, b, i),
                sample(q, b, i),
                sample(k, b, i),
                sample(v, b, i),
                sample(probs, b, i),
                mask.map(|m| sample(m, b, i)),
                l,
                d,
                h,
            );
        });
}
