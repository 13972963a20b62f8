//! Per-sample sequence mixing of the CPU backend: the selective scan and attention of
//! [`crate::ops`], in parallel over the batch.
use super::par::*;
use super::{CpuBuf, CpuIn, HostParams, Memory};
use crate::backend::{ScanGradBufs, ScanInputs, ScanP};
use crate::ops::attention::{attention_backward_in, attention_forward_in, attention_scratch_len};
use crate::ops::scan::ScanDims;
use crate::ops::scan_channels as sc;
use alloc::{vec, vec::Vec};

use super::scratch::{with_buf, ATTN, A_T, SCRATCH, STATES};

/// Tokens up to which a forward scan that keeps only its final states steps token by token
/// ([`sc::step`]) rather than running the sequence kernel ([`sc::forward`], which transposes A
/// and the states): a stream's step (3b's block of 4, mg's chunk of 8, the causal 1b's 32).
const STEP_TOKENS: usize = 32;

fn dims_of<'a, M: Memory<'a>, P: HostParams + ?Sized>(
    sx: &ScanInputs<'_, CpuIn<'a, M, P>>,
    p: ScanP,
) -> (usize, ScanDims) {
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
fn sample<'s>(x: &'s CpuBuf, b: usize, i: usize) -> &'s [f32] {
    let per = x.as_slice().len() / b;
    &x.as_slice()[i * per..(i + 1) * per]
}

/// A in the kernels' (N, E) layout (the backward's own copy).
fn a_transposed(a: &CpuBuf, dims: ScanDims) -> Vec<f32> {
    let mut at = vec![0.0f32; dims.n * dims.e];
    sc::transpose_a(&mut at, a.as_slice(), dims);
    at
}

/// The states buffer of one sample, in the kernels' layout.
pub(super) fn states_len(dims: ScanDims) -> usize {
    sc::states_len(dims)
}

pub(super) fn scan<'a, M: Memory<'a>, P: HostParams + ?Sized>(
    y: &mut CpuBuf,
    h_last: Option<&mut CpuBuf>,
    states: Option<&mut CpuBuf>,
    sx: &ScanInputs<'_, CpuIn<'a, M, P>>,
    d: &[f32],
    p: ScanP,
) {
    let (b, dims) = dims_of(sx, p);
    let (l, e, en) = (dims.l, dims.e, dims.e * dims.n);
    // Scratch is taken inside each sample's task only: a thread that waits in a parallel loop
    // may run another op's task meanwhile, so no thread buffer is held across one.
    let run = |i: usize, yb: &mut [f32], hs: &mut [f32]| {
        with_buf(&A_T, dims.n * e, |at| {
            sc::transpose_a(at, sx.a.as_slice(), dims);
            sc::forward(
                yb,
                hs,
                sample(sx.x, b, i),
                sample(sx.delta, b, i),
                at,
                sample(sx.bm, b, i),
                sample(sx.cm, b, i),
                d,
                sx.h0.map(|h| sample(h, b, i)),
                dims,
                p.reverse,
            )
        })
    };
    let check_last = |h: &CpuBuf| assert_eq!(h.as_slice().len(), b * en, "scan: h_last (B, E·N)");
    match (states, h_last) {
        (Some(states), h_last) => {
            let per = states_len(dims);
            assert!(states.as_slice().len() >= b * per, "scan: states buffer");
            y.as_mut_slice()
                .par_chunks_mut(l * e)
                .zip(states.as_mut_slice().par_chunks_mut(per))
                .enumerate()
                .for_each(|(i, (yb, hs))| run(i, yb, hs));
            if let Some(h) = h_last {
                check_last(h);
                for (hb, hs) in h
                    .as_mut_slice()
                    .chunks_exact_mut(en)
                    .zip(states.as_slice().chunks(per))
                {
                    sc::final_state(hb, hs, dims);
                }
            }
        }
        (None, Some(h)) if l <= STEP_TOKENS && !p.reverse => {
            // a stream's few tokens: one step after another in the states' own layout,
            // nothing transposed; the states alternate between `h` and a scratch buffer so
            // that the last lands in `h`
            check_last(h);
            let n = dims.n;
            let stream = |i: usize, yb: &mut [f32], hb: &mut [f32]| {
                let (x, dt) = (sample(sx.x, b, i), sample(sx.delta, b, i));
                let (bm, cm) = (sample(sx.bm, b, i), sample(sx.cm, b, i));
                let h0 = sx.h0.map(|h| sample(h, b, i));
                with_buf(&STATES, if l > 1 { en } else { 0 }, |other| {
                    for t in 0..l {
                        let r = t * e..(t + 1) * e;
                        let rn = t * n..(t + 1) * n;
                        // token t writes `h` iff an even number of tokens follow it
                        let (to, from) = if (l - 1 - t) % 2 == 0 {
                            (&mut *hb, &*other)
                        } else {
                            (&mut *other, &*hb)
                        };
                        let prev = if t == 0 { h0 } else { Some(from) };
                        sc::step(
                            &mut yb[r.clone()],
                            to,
                            &x[r.clone()],
                            &dt[r],
                            sx.a.as_slice(),
                            &bm[rn.clone()],
                            &cm[rn],
                            d,
                            prev,
                            dims,
                        );
                    }
                });
            };
            if b == 1 {
                // one stream (the engine's): on this thread, without rayon's bookkeeping
                stream(0, y.as_mut_slice(), h.as_mut_slice());
            } else {
                y.as_mut_slice()
                    .par_chunks_mut(l * e)
                    .zip(h.as_mut_slice().par_chunks_mut(en.max(1)))
                    .enumerate()
                    .for_each(|(i, (yb, hb))| stream(i, yb, hb));
            }
        }
        (None, Some(h)) => {
            check_last(h);
            y.as_mut_slice()
                .par_chunks_mut(l * e)
                .zip(h.as_mut_slice().par_chunks_mut(en.max(1)))
                .enumerate()
                .for_each(|(i, (yb, hb))| {
                    with_buf(&STATES, 2 * en, |ring| {
                        run(i, yb, ring);
                        sc::final_state(hb, ring, dims);
                    })
                });
        }
        (None, None) => y
            .as_mut_slice()
            .par_chunks_mut(l * e)
            .enumerate()
            .for_each(|(i, yb)| with_buf(&STATES, 2 * en, |ring| run(i, yb, ring))),
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
    let at = a_transposed(sx.a, dims);
    // per-sample partials of the shared gradients dA (in the (N, E) layout) and dD, reduced
    // in sample order
    let per = en + e;
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
    let mut dh0_chunks: Vec<Option<&mut [f32]>> = if dh0s.is_empty() {
        (0..b).map(|_| None).collect()
    } else {
        dh0s.chunks_mut(en).map(Some).collect()
    };
    let scratch_len = sc::backward_scratch_len(dims);
    dx.as_mut_slice()
        .par_chunks_mut(l * e)
        .zip(ddelta.as_mut_slice().par_chunks_mut(l * e))
        .zip(dbm.as_mut_slice().par_chunks_mut(l * n))
        .zip(dcm.as_mut_slice().par_chunks_mut(l * n))
        .zip(partials.par_chunks_mut(per))
        .zip(dh0_chunks.par_iter_mut())
        .enumerate()
        .for_each(|(i, (((((dxb, ddb), dbb), dcb), part), dh0b))| {
            let (pa, pd) = part.split_at_mut(en);
            let (x, delta) = (sample(sx.x, b, i), sample(sx.delta, b, i));
            let (bm, cm) = (sample(sx.bm, b, i), sample(sx.cm, b, i));
            let h0 = sx.h0.map(|h| sample(h, b, i));
            let at = &at;
            let mut backward = move |hs: &[f32]| {
                let g = sc::Grads {
                    dx: dxb,
                    ddelta: ddb,
                    dat: pa,
                    dbm: dbb,
                    dcm: dcb,
                    dd: pd,
                    dh0: dh0b.as_deref_mut(),
                };
                with_buf(&SCRATCH, scratch_len, |scratch| {
                    sc::backward(
                        g,
                        scratch,
                        sample(dy, b, i),
                        dh_last.map(|h| sample(h, b, i)),
                        hs,
                        x,
                        delta,
                        at,
                        bm,
                        cm,
                        d,
                        dims,
                        p.reverse,
                    )
                });
            };
            match states {
                Some(st) => backward(&st.as_slice()[i * states_len(dims)..][..states_len(dims)]),
                None => with_buf(&STATES, states_len(dims) + l * e, |buf| {
                    // recompute this sample's states
                    let (hs, y) = buf.split_at_mut(states_len(dims));
                    sc::forward(y, hs, x, delta, at, bm, cm, d, h0, dims, p.reverse);
                    backward(hs);
                }),
            }
        });
    let da = da.as_mut_slice();
    for part in partials.chunks_exact(per) {
        let (pa, pd) = part.split_at(en);
        for ei in 0..e {
            for nn in 0..n {
                da[ei * dims.a_row_stride + nn] += pa[nn * e + ei];
            }
        }
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
            with_buf(&ATTN, attention_scratch_len(l, false), |scratch| {
                attention_forward_in(
                    ob,
                    pb,
                    sample(q, b, i),
                    sample(k, b, i),
                    sample(v, b, i),
                    mask.map(|m| sample(m, b, i)),
                    l,
                    d,
                    h,
                    scratch,
                )
            });
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
            with_buf(&ATTN, attention_scratch_len(l, true), |scratch| {
                attention_backward_in(
                    [dqb, dkb, dvb],
                    sample(dout, b, i),
                    [sample(q, b, i), sample(k, b, i), sample(v, b, i)],
                    sample(probs, b, i),
                    mask.map(|m| sample(m, b, i)),
                    (l, d, h),
                    scratch,
                )
            });
        });
}

#[cfg(test)]
mod tests {
    use crate::backend::cpu::{Cpu, CpuBuf};
    use crate::backend::{Infer, ScanInputs, ScanP};
    use crate::ops::testutil::{rng, uniform};

    /// A scan of a few tokens that keeps only its final states (token by token in the states'
    /// layout) gives the bits of the sequence kernel that keeps every state, forward and
    /// reversed, from zero and from given states, for both A layouts and input terms.
    #[test]
    fn few_tokens_step_like_the_sequence_kernel() {
        let (b, e, n) = (2, 37, 16);
        let mut g = rng(5);
        for l in [1, 2, 3, 4, 9, 32] {
            for (a_row_stride, dt_on_b, reverse, from) in [
                (n, true, false, true),
                (n, true, false, false),
                (0, false, false, true),
                (n, true, true, true),
            ] {
                let p = ScanP {
                    e,
                    n,
                    a_row_stride,
                    dt_on_b,
                    reverse,
                };
                let buf = |v: Vec<f32>, s: &[usize]| CpuBuf::from_vec(v, s);
                let x = buf(uniform(&mut g, b * l * e, -1.0, 1.0), &[b, l, e]);
                let delta = buf(uniform(&mut g, b * l * e, 0.0, 2.0), &[b, l, e]);
                let na = if a_row_stride == 0 { n } else { e * n };
                let a = buf(uniform(&mut g, na, -4.0, -0.1), &[na]);
                let bm = buf(uniform(&mut g, b * l * n, -1.0, 1.0), &[b, l, n]);
                let cm = buf(uniform(&mut g, b * l * n, -1.0, 1.0), &[b, l, n]);
                let h0 = buf(uniform(&mut g, b * e * n, -1.0, 1.0), &[b, e, n]);
                let d = uniform(&mut g, e, -1.0, 1.0);
                let inputs = || ScanInputs {
                    x: &x,
                    delta: &delta,
                    a: &a,
                    bm: &bm,
                    cm: &cm,
                    h0: from.then_some(&h0),
                };
                let run = |keep: bool| {
                    let mut y = Cpu.alloc(&[b, l, e]);
                    let mut h = Cpu.alloc(&[b, e, n]);
                    let mut states = Cpu.alloc(&[b, l + 1, e, n]);
                    let st = keep.then_some(&mut states);
                    Cpu.scan(&mut y, Some(&mut h), st, inputs(), &d[..], 0..e, p);
                    (y.as_slice().to_vec(), h.as_slice().to_vec())
                };
                let (want, got) = (run(true), run(false));
                let same =
                    |u: &[f32], v: &[f32]| u.iter().zip(v).all(|(a, b)| a.to_bits() == b.to_bits());
                let case = format!("l {l} stride {a_row_stride} reverse {reverse} h0 {from}");
                assert!(same(&want.0, &got.0), "{case}: y");
                assert!(same(&want.1, &got.1), "{case}: h_last");
            }
        }
    }
}
