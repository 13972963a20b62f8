//! The CPU backend: host buffers, the single-sample kernels of [`crate::ops`] run batched.
//!
//! Row-wise ops (linear, norms, activations) see all B·L rows at once (one GEMM per linear
//! instead of B); per-sample ops (conv1d, scan, attention) run in parallel over the batch
//! (rayon). Parameter gradients that several samples contribute to are reduced in sample
//! order from per-sample partials, so results are bit-identical whatever the number of
//! threads. This backend is the oracle every other backend is tested against.
mod buf;
mod gemm;
mod memory;
mod mixing;
mod par;
mod params;
mod qproj;
mod quantum;
mod scratch;

pub use buf::CpuBuf;
pub use gemm::{sgemm, View};
pub use memory::{Arena, Heap, HeapSteps, Memory};
pub use params::{HostParams, MatrixRef};

use super::{
    Act, AdamBufs, Backend, ConvP, DropoutCfg, Infer, LinearP, QProjP, ScanGradBufs, ScanInputs,
    ScanP, Segment, SuperposeP, Targets,
};
use crate::circuit::Program;
use crate::ops::activation as a;
use crate::ops::adam::{adam_element, AdamScalars};
use crate::ops::conv1d::{conv1d_causal_backward, conv1d_causal_continue, conv1d_causal_forward};
use crate::ops::loss::{cross_entropy_backward, cross_entropy_forward};
use crate::ops::matvec::linear_rows;
use crate::ops::norm::{layernorm_backward, layernorm_forward, rmsnorm_backward, rmsnorm_forward};
use alloc::{vec, vec::Vec};
use core::marker::PhantomData;
use core::ops::Range;
use par::*;

/// RMSNorm epsilon of every reference model (PyTorch `nn.RMSNorm(eps=1e-5)` / the reference's
/// own RMSNorm).
pub const NORM_EPS: f32 = 1e-5;

/// The lifetime of lent buffers and the parameter type a [`CpuIn`] works with.
type Marks<'a, P> = PhantomData<(&'a (), fn(&P))>;

/// The CPU backend over the buffers of a [`Memory`] and the parameters of a [`HostParams`]:
/// [`Cpu`](type@Cpu) (the heap, a flat f32 parameter buffer), or e.g. `CpuIn<Arena<'a>, S>` (an arena of
/// caller-lent memory, an inference store `S` with f16 weight matrices). Stateless otherwise:
/// threads come from rayon's pool.
pub struct CpuIn<'a, M, P: ?Sized = [f32]> {
    mem: M,
    _marks: Marks<'a, P>,
}

impl<'a, M: Memory<'a>, P: HostParams + ?Sized> CpuIn<'a, M, P> {
    /// The backend over `mem`'s buffers.
    pub const fn new(mem: M) -> Self {
        Self {
            mem,
            _marks: PhantomData,
        }
    }
    /// The memory the buffers come from.
    pub fn memory(&self) -> &M {
        &self.mem
    }
}

impl<M: Clone, P: ?Sized> Clone for CpuIn<'_, M, P> {
    fn clone(&self) -> Self {
        Self {
            mem: self.mem.clone(),
            _marks: PhantomData,
        }
    }
}
impl<M: Copy, P: ?Sized> Copy for CpuIn<'_, M, P> {}
impl<M: Default, P: ?Sized> Default for CpuIn<'_, M, P> {
    fn default() -> Self {
        Self {
            mem: M::default(),
            _marks: PhantomData,
        }
    }
}
impl<M: core::fmt::Debug, P: ?Sized> core::fmt::Debug for CpuIn<'_, M, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CpuIn").field("mem", &self.mem).finish()
    }
}

/// The CPU backend with heap buffers: the trainer's backend and the oracle.
pub type Cpu = CpuIn<'static, Heap, [f32]>;

/// The CPU backend with heap buffers (a value: `Cpu` as the unit struct it used to be).
#[allow(non_upper_case_globals)]
pub const Cpu: Cpu = CpuIn::new(Heap);

#[inline]
fn same_len(what: &str, a: usize, b: usize) {
    assert_eq!(
        a, b,
        "cpu backend {what}: element counts differ ({a} vs {b})"
    );
}

/// y += x reversed in time (B, L, W).
/// Conv3's im2col of one sample, the window's ([`Infer::im2col3`]) and a streaming step's
/// ([`Infer::im2col3_step`]): y (L, 3C), y[t, 3c + k] = sample t + k − 1 of channel c of x
/// (C, x.len() / C), where sample −1 is `prev[c]` (0 without: the window's zero edge) and the
/// samples at or after `valid` are 0.
fn im2col3_sample(
    yb: &mut [f32],
    prev: Option<&[f32]>,
    xb: &[f32],
    c: usize,
    l: usize,
    valid: usize,
) {
    let (kc, stride) = (3 * c, xb.len() / c.max(1));
    for (ci, xc) in xb.chunks_exact(stride).enumerate() {
        let at = |s: usize| if s < valid { xc[s] } else { 0.0 };
        let before = prev.map_or(0.0, |p| p[ci]);
        for ti in 0..l {
            let row = &mut yb[ti * kc + 3 * ci..ti * kc + 3 * ci + 3];
            row[0] = if ti == 0 { before } else { at(ti - 1) };
            row[1] = at(ti);
            row[2] = at(ti + 1);
        }
    }
}

fn reverse_time_acc(y: &mut CpuBuf, x: &CpuBuf) {
    same_len("reverse_time", y.data.len(), x.data.len());
    let (l, w) = (x.shape[1], x.last());
    for (yb, xb) in y
        .data
        .chunks_exact_mut(l * w)
        .zip(x.data.chunks_exact(l * w))
    {
        for t in 0..l {
            let src = &xb[(l - 1 - t) * w..(l - t) * w];
            yb[t * w..(t + 1) * w]
                .iter_mut()
                .zip(src)
                .for_each(|(a, b)| *a += b);
        }
    }
}

/// Sums per-task partials (tasks × len, row-major) in task order into `g`.
fn reduce_into(g: &mut [f32], partials: &[f32]) {
    for part in partials.chunks_exact(g.len().max(1)) {
        g.iter_mut().zip(part).for_each(|(a, b)| *a += b);
    }
}

impl<'a, M: Memory<'a>, P: HostParams + ?Sized> Infer for CpuIn<'a, M, P> {
    type Buf = CpuBuf<'a>;
    type Params = P;

    fn name(&self) -> &'static str {
        "cpu"
    }

    fn alloc(&self, shape: &[usize]) -> CpuBuf<'a> {
        self.mem.alloc(shape)
    }
    fn shape<'s>(&self, x: &'s CpuBuf<'a>) -> &'s [usize] {
        &x.shape
    }
    fn upload(&self, x: &mut CpuBuf<'a>, src: &[f32]) {
        same_len("upload", x.data.len(), src.len());
        x.data.copy_from_slice(src);
    }
    fn download(&self, x: &CpuBuf<'a>, dst: &mut [f32]) {
        same_len("download", x.data.len(), dst.len());
        dst.copy_from_slice(&x.data);
    }
    fn fill(&self, x: &mut CpuBuf<'a>, v: f32) {
        if x.data.len() <= ELEMS {
            x.data.fill(v);
            return;
        }
        x.data.par_chunks_mut(ELEMS).for_each(|c| c.fill(v));
    }

    fn copy(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        same_len("copy", y.data.len(), x.data.len());
        for_chunks(&mut y.data, ELEMS, &x.data, ELEMS, |a, b| {
            a.copy_from_slice(b)
        });
    }
    fn add_assign(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        same_len("add_assign", y.data.len(), x.data.len());
        for_chunks(&mut y.data, ELEMS, &x.data, ELEMS, |a, b| {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b)
        });
    }
    fn mul(&self, y: &mut CpuBuf<'a>, a: &CpuBuf<'a>, b: &CpuBuf<'a>) {
        same_len("mul", y.data.len(), a.data.len());
        same_len("mul", y.data.len(), b.data.len());
        for_chunks2(
            &mut y.data,
            ELEMS,
            &a.data,
            ELEMS,
            &b.data,
            ELEMS,
            |o, x, z| {
                for ((o, x), z) in o.iter_mut().zip(x).zip(z) {
                    *o = x * z;
                }
            },
        );
    }
    fn to_token_major(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        let (b, c, t) = (x.shape[0], x.shape[1], x.shape[2]);
        assert_eq!(y.shape, [b, t, c], "to_token_major: y shape");
        let n = (t * c).max(1);
        for_chunks(&mut y.data, n, &x.data, n, |yb, xb| {
            for ci in 0..c {
                for ti in 0..t {
                    yb[ti * c + ci] = xb[ci * t + ti];
                }
            }
        });
    }
    fn split_cols(&self, x: &CpuBuf<'a>, parts: &mut [&mut CpuBuf<'a>]) {
        let w = x.last();
        let rows = x.rows();
        let mut off = 0;
        for part in parts.iter_mut() {
            let pw = part.last();
            same_len("split_cols rows", part.rows(), rows);
            for_chunks(
                &mut part.data,
                ROW_BLOCK * pw,
                &x.data,
                ROW_BLOCK * w,
                |d, s| {
                    for (dst, src) in d.chunks_exact_mut(pw).zip(s.chunks_exact(w)) {
                        dst.copy_from_slice(&src[off..off + pw]);
                    }
                },
            );
            off += pw;
        }
        same_len("split_cols widths", off, w);
    }
    fn concat_cols(&self, y: &mut CpuBuf<'a>, parts: &[&CpuBuf<'a>]) {
        let w = y.last();
        let rows = y.rows();
        let mut off = 0;
        for part in parts {
            let pw = part.last();
            same_len("concat_cols rows", part.rows(), rows);
            y.data
                .par_chunks_mut(ROW_BLOCK * w)
                .zip(part.data.par_chunks(ROW_BLOCK * pw))
                .for_each(|(d, s)| {
                    for (dst, src) in d.chunks_exact_mut(w).zip(s.chunks_exact(pw)) {
                        dst[off..off + pw].copy_from_slice(src);
                    }
                });
            off += pw;
        }
        same_len("concat_cols widths", off, w);
    }
    fn reverse_time(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        y.data.fill(0.0);
        reverse_time_acc(y, x);
    }
    fn mean_time(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        let (b, l, d) = (x.shape[0], x.shape[1], x.last());
        assert_eq!(y.shape, [b, d], "mean_time: y shape");
        let inv = 1.0 / l as f32;
        for (yb, xb) in y.data.chunks_exact_mut(d).zip(x.data.chunks_exact(l * d)) {
            yb.fill(0.0);
            for row in xb.chunks_exact(d) {
                yb.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
            yb.iter_mut().for_each(|v| *v *= inv);
        }
    }
    fn running_mean(
        &self,
        y: &mut CpuBuf<'a>,
        x: &CpuBuf<'a>,
        sum: &mut CpuBuf<'a>,
        count: &mut CpuBuf<'a>,
    ) {
        let (b, l, d) = (x.shape[0], x.shape[1], x.last());
        assert_eq!(y.shape, [b, d], "running_mean: y shape");
        assert_eq!(sum.shape, [b, d], "running_mean: sum shape");
        same_len("running_mean: count", count.data.len(), b);
        let rows = y.data.chunks_exact_mut(d).zip(sum.data.chunks_exact_mut(d));
        for (((yb, sb), xb), n) in rows.zip(x.data.chunks_exact(l * d)).zip(&mut count.data) {
            for row in xb.chunks_exact(d) {
                sb.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
            *n += l as f32;
            yb.iter_mut().zip(sb.iter()).for_each(|(o, s)| *o = s / *n);
        }
    }
    fn add_table_rows(&self, x: &mut CpuBuf<'a>, p: &P, table: Range<usize>) {
        let (l, d) = (x.shape[1], x.last());
        assert!(
            table.len() >= l * d,
            "add_table_rows: table shorter than L rows"
        );
        let tab = p.f32(table.start..table.start + l * d);
        for xb in x.data.chunks_exact_mut(l * d) {
            xb.iter_mut().zip(tab).for_each(|(a, b)| *a += b);
        }
    }

    fn pad_time(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        let (b, l, w) = (x.dim0(), x.shape[1], x.last());
        let l2 = y.shape[1];
        assert!(
            y.dim0() == b && y.last() == w && l2 >= l,
            "pad_time: y {:?} vs x {:?}",
            y.shape,
            x.shape
        );
        y.data
            .par_chunks_mut((l2 * w).max(1))
            .zip(x.data.par_chunks((l * w).max(1)))
            .for_each(|(yb, xb)| {
                yb[..l * w].copy_from_slice(xb);
                yb[l * w..].fill(0.0);
            });
    }
    fn chunk_mean(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>, cs: usize) {
        let (b, l, w) = (x.dim0(), x.shape[1], x.last());
        let nc = l.div_ceil(cs.max(1));
        assert_eq!(y.shape, [b, nc, w], "chunk_mean: y shape");
        for (yb, xb) in y
            .data
            .chunks_exact_mut(nc * w)
            .zip(x.data.chunks_exact(l * w))
        {
            for (j, yr) in yb.chunks_exact_mut(w.max(1)).enumerate() {
                let rows = &xb[j * cs * w..((j + 1) * cs).min(l) * w];
                yr.fill(0.0);
                for r in rows.chunks_exact(w) {
                    yr.iter_mut().zip(r).for_each(|(a, v)| *a += v);
                }
                let inv = 1.0 / (rows.len() / w) as f32;
                yr.iter_mut().for_each(|v| *v *= inv);
            }
        }
    }
    fn time_slice(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>, t: usize) {
        let (l, w) = (x.shape[1], x.last());
        assert!(
            t < l && y.data.len() == x.dim0() * w,
            "time_slice: shapes / t"
        );
        for (yr, xb) in y.data.chunks_exact_mut(w).zip(x.data.chunks_exact(l * w)) {
            yr.copy_from_slice(&xb[t * w..(t + 1) * w]);
        }
    }
    fn im2col3(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        let (b, c, t) = (x.dim0(), x.shape[1], x.last());
        assert_eq!(y.shape, [b, t, 3 * c], "im2col3: y shape");
        y.data
            .par_chunks_mut(t * 3 * c)
            .zip(x.data.par_chunks(c * t))
            .for_each(|(yb, xb)| im2col3_sample(yb, None, xb, c, t, t));
    }
    fn im2col3_step(
        &self,
        y: &mut CpuBuf<'a>,
        prev: &mut CpuBuf<'a>,
        x: &CpuBuf<'a>,
        valid: usize,
    ) {
        let (b, c, l1) = (x.dim0(), x.shape[1], x.last());
        let l = l1.saturating_sub(1);
        assert!(
            l > 0 && y.shape == [b, l, 3 * c],
            "im2col3_step: y {:?} vs x {:?}",
            y.shape,
            x.shape
        );
        assert!(
            (1..=l1).contains(&valid),
            "im2col3_step: valid {valid} of {l1}"
        );
        same_len("im2col3_step: prev", prev.data.len(), b * c);
        let last = valid.min(l) - 1;
        for ((yb, pb), xb) in y
            .data
            .chunks_exact_mut(l * 3 * c)
            .zip(prev.data.chunks_exact_mut(c))
            .zip(x.data.chunks_exact(c * l1))
        {
            im2col3_sample(yb, Some(pb), xb, c, l, valid);
            // the next step's left neighbour
            for (p, xc) in pb.iter_mut().zip(xb.chunks_exact(l1)) {
                *p = xc[last];
            }
        }
    }
    fn scale_segments(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>, s: &CpuBuf<'a>, segs: &[Segment]) {
        same_len("scale_segments", y.data.len(), x.data.len());
        let w = x.last();
        assert_eq!(
            segs.iter().map(|g| g.width).sum::<usize>(),
            w,
            "scale_segments: widths"
        );
        let sw = s.last();
        for (r, (yr, xr)) in y
            .data
            .chunks_exact_mut(w)
            .zip(x.data.chunks_exact(w))
            .enumerate()
        {
            let mut o = 0;
            for g in segs {
                for j in 0..g.width {
                    yr[o + j] = match g.scale {
                        Some(k) if j % g.period < g.prefix => s.data[r * sw + k] * xr[o + j],
                        _ => xr[o + j],
                    };
                }
                o += g.width;
            }
        }
    }
    fn scale(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>, c: f32) {
        same_len("scale", y.data.len(), x.data.len());
        y.data
            .par_chunks_mut(ELEMS)
            .zip(x.data.par_chunks(ELEMS))
            .for_each(|(yc, xc)| yc.iter_mut().zip(xc).for_each(|(a, b)| *a = c * b));
    }
    fn axpy(&self, y: &mut CpuBuf<'a>, c: f32, x: &CpuBuf<'a>) {
        same_len("axpy", y.data.len(), x.data.len());
        y.data
            .par_chunks_mut(ELEMS)
            .zip(x.data.par_chunks(ELEMS))
            .for_each(|(yc, xc)| yc.iter_mut().zip(xc).for_each(|(a, b)| *a += c * b));
    }
    fn row_mean(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        let w = x.last().max(1);
        same_len("row_mean", y.data.len(), x.rows());
        y.data
            .par_iter_mut()
            .zip(x.data.par_chunks(w))
            .for_each(|(m, r)| {
                *m = (r.iter().map(|&v| v as f64).sum::<f64>() / w as f64) as f32;
            });
    }
    fn add_param_row(&self, x: &mut CpuBuf<'a>, p: &P, range: Range<usize>) {
        let w = x.last();
        same_len("add_param_row", range.len(), w);
        let row = p.f32(range);
        x.data.par_chunks_mut(ROW_BLOCK * w.max(1)).for_each(|c| {
            for r in c.chunks_exact_mut(w.max(1)) {
                r.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
        });
    }

    fn act(&self, act: Act, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>) {
        same_len("act", y.data.len(), x.data.len());
        let f = match act {
            Act::Silu => a::silu_forward,
            Act::Softplus => a::softplus_forward,
            Act::Gelu => a::gelu_forward,
            Act::Relu => a::relu_forward,
            Act::Tanh => a::tanh_forward,
            Act::Sigmoid => a::sigmoid_forward,
        };
        for_chunks(&mut y.data, ELEMS, &x.data, ELEMS, f);
    }
    fn neg_exp(&self, y: &mut CpuBuf<'a>, p: &P, range: Range<usize>) {
        same_len("neg_exp", y.data.len(), range.len());
        crate::ops::activation::neg_exp_forward(&mut y.data, p.f32(range));
    }
    fn dropout(&self, x: &mut CpuBuf<'a>, mask: &mut CpuBuf<'a>, cfg: DropoutCfg<'_>, site: u32) {
        same_len("dropout", x.data.len(), mask.data.len());
        self.dropout_mask(mask, cfg, site);
        x.data
            .par_chunks_mut(ELEMS)
            .zip(mask.data.par_chunks(ELEMS))
            .for_each(|(xc, mc)| xc.iter_mut().zip(mc).for_each(|(v, m)| *v *= m));
    }

    fn linear(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>, p: &P, lin: &LinearP) {
        assert_eq!(x.last(), lin.d_in, "linear: x width");
        assert_eq!(y.last(), lin.d_out, "linear: y width");
        let rows = x.rows();
        same_len("linear rows", y.rows(), rows);
        let (d_in, d_out) = (lin.d_in, lin.d_out);
        let bias = lin.b.clone().map(|b| p.f32(b));
        // f16 weights, or a few f32 rows in an arena (a streaming step): the matrix–vector
        // kernels, no packing buffers; otherwise one GEMM
        let rows_of = |y: &mut [f32], x: &[f32], w: MatrixRef<'_>| {
            let nb = y.len() / d_out.max(1);
            match w {
                MatrixRef::F32(w) => linear_rows(y, d_out, w, x, d_in, bias, d_in, d_out, nb),
                MatrixRef::F16(w) => linear_rows(y, d_out, w, x, d_in, bias, d_in, d_out, nb),
            }
        };
        let w = match p.matrix(lin.w.clone()) {
            MatrixRef::F32(w) if rows > self.mem.matvec_rows() => w,
            w => {
                let (yn, xn) = (ROW_BLOCK * d_out.max(1), ROW_BLOCK * d_in.max(1));
                for_chunks(&mut y.data, yn, &x.data, xn, |yc, xc| rows_of(yc, xc, w));
                return;
            }
        };
        let beta = match bias {
            Some(b) => {
                for row in y.data.chunks_exact_mut(d_out.max(1)) {
                    row.copy_from_slice(b);
                }
                1.0
            }
            None => 0.0,
        };
        // y (rows×out) = x (rows×in) · Wᵀ (in×out: B[i][o] = w[o·in + i])
        sgemm(
            rows,
            d_in,
            d_out,
            View {
                data: &x.data,
                rs: d_in,
                cs: 1,
            },
            View {
                data: w,
                rs: 1,
                cs: d_in,
            },
            beta,
            &mut y.data,
        );
    }
    fn rmsnorm(
        &self,
        y: &mut CpuBuf<'a>,
        rstd: &mut CpuBuf<'a>,
        x: &CpuBuf<'a>,
        p: &P,
        w: Range<usize>,
    ) {
        same_len("rmsnorm", y.data.len(), x.data.len());
        let (rows, d) = (x.rows(), x.last());
        same_len("rmsnorm rstd", rstd.data.len(), rows);
        let w = p.f32(w);
        if rows <= ROW_BLOCK {
            // one block (a streaming step): on this thread, without rayon's bookkeeping
            rmsnorm_forward(&mut y.data, &mut rstd.data, &x.data, w, rows, d, NORM_EPS);
            return;
        }
        y.data
            .par_chunks_mut(ROW_BLOCK * d)
            .zip(rstd.data.par_chunks_mut(ROW_BLOCK))
            .zip(x.data.par_chunks(ROW_BLOCK * d))
            .for_each(|((yc, rc), xc)| rmsnorm_forward(yc, rc, xc, w, rc.len(), d, NORM_EPS));
    }
    fn layernorm(
        &self,
        y: &mut CpuBuf<'a>,
        [mean, rstd]: [&mut CpuBuf<'a>; 2],
        x: &CpuBuf<'a>,
        p: &P,
        [w, b]: [Range<usize>; 2],
    ) {
        same_len("layernorm", y.data.len(), x.data.len());
        let (rows, d) = (x.rows(), x.last());
        same_len("layernorm mean", mean.data.len(), rows);
        same_len("layernorm rstd", rstd.data.len(), rows);
        let (w, b) = (p.f32(w), p.f32(b));
        y.data
            .par_chunks_mut(ROW_BLOCK * d)
            .zip(mean.data.par_chunks_mut(ROW_BLOCK))
            .zip(rstd.data.par_chunks_mut(ROW_BLOCK))
            .zip(x.data.par_chunks(ROW_BLOCK * d))
            .for_each(|(((yc, mc), rc), xc)| {
                layernorm_forward(yc, mc, rc, xc, w, b, rc.len(), d, NORM_EPS)
            });
    }
    fn conv1d(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>, p: &P, conv: &ConvP) {
        same_len("conv1d", y.data.len(), x.data.len());
        let (l, e) = (x.shape[1], conv.e);
        assert_eq!(x.last(), e, "conv1d: x width");
        let (w, b) = (p.f32(conv.w.clone()), p.f32(conv.b.clone()));
        y.data
            .par_chunks_mut(l * e)
            .zip(x.data.par_chunks(l * e))
            .for_each(|(yb, xb)| conv1d_causal_forward(yb, xb, w, b, l, e, conv.k));
    }
    fn conv1d_step(
        &self,
        y: &mut CpuBuf<'a>,
        x: &CpuBuf<'a>,
        hist: &mut CpuBuf<'a>,
        p: &P,
        conv: &ConvP,
    ) {
        same_len("conv1d_step", y.data.len(), x.data.len());
        let (l, e, k) = (x.shape[1], conv.e, conv.k);
        assert_eq!(x.last(), e, "conv1d_step: x width");
        same_len(
            "conv1d_step: hist",
            hist.data.len(),
            x.shape[0] * k.saturating_sub(1) * e,
        );
        let (w, b) = (p.f32(conv.w.clone()), p.f32(conv.b.clone()));
        let m = k.saturating_sub(1) * e;
        let rows = y
            .data
            .chunks_exact_mut(l * e)
            .zip(x.data.chunks_exact(l * e));
        for (i, (yb, xb)) in rows.enumerate() {
            let hb = &mut hist.data[i * m..(i + 1) * m];
            conv1d_causal_continue(yb, hb, xb, w, b, l, e, k);
        }
    }

    fn scan(
        &self,
        y: &mut CpuBuf<'a>,
        h_last: Option<&mut CpuBuf<'a>>,
        states: Option<&mut CpuBuf<'a>>,
        sx: ScanInputs<'_, Self>,
        p: &P,
        d: Range<usize>,
        dims: ScanP,
    ) {
        mixing::scan(y, h_last, states, &sx, p.f32(d), dims);
    }
    fn attention(
        &self,
        o: &mut CpuBuf<'a>,
        probs: &mut CpuBuf<'a>,
        q: &CpuBuf<'a>,
        k: &CpuBuf<'a>,
        v: &CpuBuf<'a>,
        drop_mask: Option<&CpuBuf<'a>>,
        heads: usize,
    ) {
        mixing::attention(o, probs, [q, k, v], drop_mask, heads);
    }

    fn chunk_pool(
        &self,
        s: &mut CpuBuf<'a>,
        wts: &mut CpuBuf<'a>,
        u: &CpuBuf<'a>,
        scores: &CpuBuf<'a>,
        valid: Option<usize>,
    ) {
        quantum::chunk_pool(s, wts, u, scores, valid);
    }
    fn online_softmax_pool(
        &self,
        y: &mut CpuBuf<'a>,
        u: &CpuBuf<'a>,
        scores: &CpuBuf<'a>,
        m: &mut CpuBuf<'a>,
        z: &mut CpuBuf<'a>,
        acc: &mut CpuBuf<'a>,
    ) {
        quantum::online_softmax_pool(y, u, scores, [m, z, acc]);
    }
    fn zero_rows_from(&self, x: &mut CpuBuf<'a>, from: usize) {
        let (l, w) = (x.shape[1], x.last());
        let from = from.min(l);
        for xb in x.data.chunks_exact_mut((l * w).max(1)) {
            xb[from * w..].fill(0.0);
        }
    }
    fn qproj(&self, y: &mut CpuBuf<'a>, x: &CpuBuf<'a>, p: &P, qp: &QProjP) {
        qproj::qproj(y, x, p, qp);
    }
    fn circuit(
        &self,
        m: &mut CpuBuf<'a>,
        states: Option<&mut CpuBuf<'a>>,
        theta: &CpuBuf<'a>,
        enc: Option<&CpuBuf<'a>>,
        prog: &Program,
    ) {
        quantum::circuit(m, states, theta, enc, prog);
    }
    fn gated_cell(
        &self,
        h: &mut CpuBuf<'a>,
        [gates, tc]: [&mut CpuBuf<'a>; 2],
        pre: &CpuBuf<'a>,
        h_prev: Option<&CpuBuf<'a>>,
    ) {
        let hd = h.last();
        same_len("gated_cell gates", gates.data.len(), 4 * h.data.len());
        same_len("gated_cell pre", pre.data.len(), 4 * h.data.len());
        same_len("gated_cell tc", tc.data.len(), h.data.len());
        scratch::with_buf(&scratch::ROWS, hd, |zeros| {
            zeros.fill(0.0);
            for (b, ((hr, gr), tr)) in h
                .data
                .chunks_exact_mut(hd)
                .zip(gates.data.chunks_exact_mut(4 * hd))
                .zip(tc.data.chunks_exact_mut(hd))
                .enumerate()
            {
                let hp = h_prev.map_or(&zeros[..], |x| &x.data[b * hd..(b + 1) * hd]);
                crate::ops::gated::gated_cell_forward(
                    hr,
                    gr,
                    tr,
                    &pre.data[b * 4 * hd..(b + 1) * 4 * hd],
                    hp,
                );
            }
        })
    }
    fn l2_normalize(&self, y: &mut CpuBuf<'a>, norm: &mut CpuBuf<'a>, x: &CpuBuf<'a>, eps: f32) {
        same_len("l2_normalize", y.data.len(), x.data.len());
        let w = x.last().max(1);
        same_len("l2_normalize norm", norm.data.len(), x.rows());
        for ((yr, xr), n) in y
            .data
            .chunks_exact_mut(w)
            .zip(x.data.chunks_exact(w))
            .zip(norm.data.iter_mut())
        {
            *n = libm::sqrtf(xr.iter().map(|v| v * v).sum::<f32>() + eps);
            yr.iter_mut().zip(xr).for_each(|(a, v)| *a = v / *n);
        }
    }
    fn circuit_from(
        &self,
        m: &mut CpuBuf<'a>,
        states: &mut CpuBuf<'a>,
        init: &CpuBuf<'a>,
        theta: &CpuBuf<'a>,
        prog: &Program,
    ) {
        quantum::circuit_from(m, states, init, theta, prog);
    }
    fn lcu(&self, phi: &mut CpuBuf<'a>, states: &CpuBuf<'a>, p: &P, mix: Range<usize>) {
        quantum::lcu(phi, states, p.f32(mix));
    }
    fn s3_measure(&self, m: &mut CpuBuf<'a>, states: [&CpuBuf<'a>; 3], p: &P, coeffs: usize) {
        quantum::s3_measure(m, states, p.f32(coeffs..coeffs + 6));
    }
    fn superpose(&self, y: &mut CpuBuf<'a>, xs: [&CpuBuf<'a>; 3], p: &P, sp: &SuperposeP) {
        quantum::superpose(y, xs, p, sp);
    }

    fn mix_l1(
        &self,
        y: &mut CpuBuf<'a>,
        xs: [&CpuBuf<'a>; 3],
        p: &P,
        coeffs: [usize; 3],
        eps: f32,
    ) {
        for x in xs {
            same_len("mix_l1", y.data.len(), x.data.len());
        }
        let w = super::mix_l1_weights(p, coeffs, eps);
        y.data
            .par_chunks_mut(ELEMS)
            .zip(xs[0].data.par_chunks(ELEMS))
            .zip(xs[1].data.par_chunks(ELEMS))
            .zip(xs[2].data.par_chunks(ELEMS))
            .for_each(|(((o, a), b), d)| {
                for (((o, a), b), d) in o.iter_mut().zip(a).zip(b).zip(d) {
                    *o = w[0] * a + w[1] * b + w[2] * d;
                }
            });
    }

    fn mul_acc(&self, y: &mut CpuBuf<'a>, a: &CpuBuf<'a>, b: &CpuBuf<'a>) {
        same_len("mul_acc", y.data.len(), a.data.len());
        same_len("mul_acc", y.data.len(), b.data.len());
        y.data
            .par_chunks_mut(ELEMS)
            .zip(a.data.par_chunks(ELEMS))
            .zip(b.data.par_chunks(ELEMS))
            .for_each(|((o, x), z)| {
                for ((o, x), z) in o.iter_mut().zip(x).zip(z) {
                    *o += x * z;
                }
            });
    }
    fn pad_time_bwd(&self, dx: &mut CpuBuf<'a>, dy: &CpuBuf<'a>) {
        let (l, w, l2) = (dx.shape[1], dx.last(), dy.shape[1]);
        assert!(l2 >= l && dy.last() == w, "pad_time_bwd: shapes");
        dx.data
            .par_chunks_mut((l * w).max(1))
            .zip(dy.data.par_chunks((l2 * w).max(1)))
            .for_each(|(xb, yb)| xb.iter_mut().zip(&yb[..l * w]).for_each(|(a, b)| *a += b));
    }
    fn time_slice_bwd(&self, dx: &mut CpuBuf<'a>, dy: &CpuBuf<'a>, t: usize) {
        let (l, w) = (dx.shape[1], dx.last());
        assert!(
            t < l && dy.data.len() == dx.dim0() * w,
            "time_slice_bwd: shapes / t"
        );
        for (yr, xb) in dy.data.chunks_exact(w).zip(dx.data.chunks_exact_mut(l * w)) {
            xb[t * w..(t + 1) * w]
                .iter_mut()
                .zip(yr)
                .for_each(|(a, v)| *a += v);
        }
    }
    fn dropout_mask(&self, mask: &mut CpuBuf<'a>, cfg: DropoutCfg<'_>, site: u32) {
        let b = mask.dim0();
        assert_eq!(cfg.seeds.len(), b, "dropout: one seed per sample");
        let per = (mask.data.len() / b.max(1)).max(1);
        mask.data
            .par_chunks_mut(per)
            .zip(cfg.seeds.par_iter())
            .for_each(|(mb, &seed)| crate::ops::dropout::fill_mask(mb, seed, site, cfg.p));
    }
}

impl Backend for Cpu {
    type ParamBuf = Vec<f32>;
    fn params_from_host(&self, host: &[f32]) -> Vec<f32> {
        host.to_vec()
    }
    fn params_upload(&self, p: &mut [f32], host: &[f32]) {
        same_len("params_upload", p.len(), host.len());
        p.copy_from_slice(host);
    }
    fn params_download(&self, p: &[f32], host: &mut [f32]) {
        same_len("params_download", p.len(), host.len());
        host.copy_from_slice(p);
    }
    fn reverse_time_acc(&self, y: &mut CpuBuf<'static>, x: &CpuBuf<'static>) {
        reverse_time_acc(y, x);
    }
    fn mean_time_bwd(&self, dx: &mut CpuBuf<'static>, dy: &CpuBuf<'static>) {
        let (l, d) = (dx.shape[1], dx.last());
        let inv = 1.0 / l as f32;
        for (xb, yb) in dx.data.chunks_exact_mut(l * d).zip(dy.data.chunks_exact(d)) {
            for row in xb.chunks_exact_mut(d) {
                row.iter_mut().zip(yb).for_each(|(a, b)| *a += b * inv);
            }
        }
    }
    fn chunk_mean_bwd(&self, dx: &mut CpuBuf<'static>, dy: &CpuBuf<'static>, cs: usize) {
        let (l, w) = (dx.shape[1], dx.last());
        let nc = l.div_ceil(cs.max(1));
        same_len("chunk_mean_bwd", dy.data.len(), dx.dim0() * nc * w);
        for (xb, yb) in dx
            .data
            .chunks_exact_mut(l * w)
            .zip(dy.data.chunks_exact(nc * w))
        {
            for (j, yr) in yb.chunks_exact(w.max(1)).enumerate() {
                let rows = &mut xb[j * cs * w..((j + 1) * cs).min(l) * w];
                let inv = 1.0 / (rows.len() / w) as f32;
                for r in rows.chunks_exact_mut(w) {
                    r.iter_mut().zip(yr).for_each(|(a, v)| *a += v * inv);
                }
            }
        }
    }
    fn scale_segments_bwd(
        &self,
        dx: &mut CpuBuf<'static>,
        ds: &mut CpuBuf<'static>,
        dy: &CpuBuf<'static>,
        x: &CpuBuf<'static>,
        s: &CpuBuf<'static>,
        segs: &[Segment],
    ) {
        same_len("scale_segments_bwd", dx.data.len(), x.data.len());
        same_len("scale_segments_bwd ds", ds.data.len(), s.data.len());
        let (w, sw) = (x.last(), s.last());
        let mut acc = vec![0.0f64; sw];
        for r in 0..x.rows() {
            acc.fill(0.0);
            let mut o = 0;
            for g in segs {
                for j in 0..g.width {
                    let i = r * w + o + j;
                    match g.scale {
                        Some(k) if j % g.period < g.prefix => {
                            dx.data[i] += s.data[r * sw + k] * dy.data[i];
                            acc[k] += f64::from(x.data[i]) * f64::from(dy.data[i]);
                        }
                        _ => dx.data[i] += dy.data[i],
                    }
                }
                o += g.width;
            }
            for (k, a) in acc.iter().enumerate() {
                ds.data[r * sw + k] += *a as f32;
            }
        }
    }
    fn row_mean_bwd(&self, dx: &mut CpuBuf<'static>, dy: &CpuBuf<'static>) {
        let w = dx.last().max(1);
        same_len("row_mean_bwd", dy.data.len(), dx.rows());
        let inv = 1.0 / w as f32;
        dx.data
            .par_chunks_mut(w)
            .zip(dy.data.par_iter())
            .for_each(|(r, &g)| r.iter_mut().for_each(|a| *a += g * inv));
    }
    fn add_param_row_bwd(&self, g: &mut [f32], range: Range<usize>, dy: &CpuBuf<'static>) {
        let w = dy.last();
        same_len("add_param_row_bwd", range.len(), w);
        let gr = &mut g[range];
        for r in dy.data.chunks_exact(w.max(1)) {
            gr.iter_mut().zip(r).for_each(|(a, b)| *a += b);
        }
    }
    fn act_bwd(
        &self,
        act: Act,
        dx: &mut CpuBuf<'static>,
        dy: &CpuBuf<'static>,
        saved: &CpuBuf<'static>,
    ) {
        same_len("act_bwd", dx.data.len(), dy.data.len());
        same_len("act_bwd", dx.data.len(), saved.data.len());
        let f = match act {
            Act::Silu => a::silu_backward,
            Act::Softplus => a::softplus_backward,
            Act::Gelu => a::gelu_backward,
            Act::Relu => a::relu_backward,
            Act::Tanh => a::tanh_backward,
            Act::Sigmoid => a::sigmoid_backward,
        };
        dx.data
            .par_chunks_mut(ELEMS)
            .zip(dy.data.par_chunks(ELEMS))
            .zip(saved.data.par_chunks(ELEMS))
            .for_each(|((g, d), s)| f(g, d, s));
    }
    fn neg_exp_bwd(
        &self,
        g: &mut [f32],
        range: Range<usize>,
        da: &CpuBuf<'static>,
        a: &CpuBuf<'static>,
    ) {
        same_len("neg_exp_bwd", da.data.len(), range.len());
        for ((gv, d), av) in g[range].iter_mut().zip(&da.data).zip(&a.data) {
            *gv += d * av;
        }
    }
    fn linear_bwd(
        &self,
        dx: Option<&mut CpuBuf<'static>>,
        g: &mut [f32],
        dy: &CpuBuf<'static>,
        x: &CpuBuf<'static>,
        p: &[f32],
        lin: &LinearP,
    ) {
        let (rows, din, dout) = (x.rows(), lin.d_in, lin.d_out);
        same_len("linear_bwd rows", dy.rows(), rows);
        assert_eq!(dy.last(), dout, "linear_bwd: dy width");
        if let Some(b) = &lin.b {
            let gb = &mut g[b.clone()];
            for row in dy.data.chunks_exact(dout.max(1)) {
                gb.iter_mut().zip(row).for_each(|(a, v)| *a += v);
            }
        }
        if let Some(dx) = dx {
            same_len("linear_bwd dx", dx.data.len(), x.data.len());
            // dx (rows×in) += dy (rows×out) · W (out×in)
            sgemm(
                rows,
                dout,
                din,
                View {
                    data: &dy.data,
                    rs: dout,
                    cs: 1,
                },
                View {
                    data: &p[lin.w.clone()],
                    rs: din,
                    cs: 1,
                },
                1.0,
                &mut dx.data,
            );
        }
        // dW (out×in) += dyᵀ (out×rows) · x (rows×in): one product over every row of the batch
        sgemm(
            dout,
            rows,
            din,
            View {
                data: &dy.data,
                rs: 1,
                cs: dout,
            },
            View {
                data: &x.data,
                rs: din,
                cs: 1,
            },
            1.0,
            &mut g[lin.w.clone()],
        );
    }
    fn rmsnorm_bwd(
        &self,
        dx: &mut CpuBuf<'static>,
        g: &mut [f32],
        dy: &CpuBuf<'static>,
        x: &CpuBuf<'static>,
        rstd: &CpuBuf<'static>,
        p: &[f32],
        w: Range<usize>,
    ) {
        let (rows, d) = (x.rows(), x.last());
        same_len("rmsnorm_bwd", dx.data.len(), x.data.len());
        let wv = &p[w.clone()];
        let tasks = rows.div_ceil(ROW_BLOCK);
        let mut partials = vec![0.0f32; tasks * d];
        dx.data
            .par_chunks_mut(ROW_BLOCK * d)
            .zip(partials.par_chunks_mut(d.max(1)))
            .enumerate()
            .for_each(|(i, (dxc, gw))| {
                let r = dxc.len() / d;
                let o = i * ROW_BLOCK;
                rmsnorm_backward(
                    dxc,
                    gw,
                    &dy.data[o * d..(o + r) * d],
                    &x.data[o * d..(o + r) * d],
                    &rstd.data[o..o + r],
                    wv,
                    r,
                    d,
                );
            });
        reduce_into(&mut g[w], &partials);
    }
    fn layernorm_bwd(
        &self,
        dx: &mut CpuBuf<'static>,
        g: &mut [f32],
        dy: &CpuBuf<'static>,
        x: &CpuBuf<'static>,
        [mean, rstd]: [&CpuBuf<'static>; 2],
        p: &[f32],
        [w, b]: [Range<usize>; 2],
    ) {
        let (rows, d) = (x.rows(), x.last());
        same_len("layernorm_bwd", dx.data.len(), x.data.len());
        let wv = &p[w.clone()];
        let tasks = rows.div_ceil(ROW_BLOCK);
        // per task: dW (d) then db (d)
        let mut partials = vec![0.0f32; tasks * 2 * d];
        dx.data
            .par_chunks_mut(ROW_BLOCK * d)
            .zip(partials.par_chunks_mut((2 * d).max(1)))
            .enumerate()
            .for_each(|(i, (dxc, part))| {
                let r = dxc.len() / d;
                let o = i * ROW_BLOCK;
                let (gw, gb) = part.split_at_mut(d);
                layernorm_backward(
                    dxc,
                    gw,
                    gb,
                    &dy.data[o * d..(o + r) * d],
                    &x.data[o * d..(o + r) * d],
                    &mean.data[o..o + r],
                    &rstd.data[o..o + r],
                    wv,
                    r,
                    d,
                );
            });
        for part in partials.chunks_exact((2 * d).max(1)) {
            g[w.clone()]
                .iter_mut()
                .zip(&part[..d])
                .for_each(|(a, v)| *a += v);
            g[b.clone()]
                .iter_mut()
                .zip(&part[d..])
                .for_each(|(a, v)| *a += v);
        }
    }
    fn conv1d_bwd(
        &self,
        dx: &mut CpuBuf<'static>,
        g: &mut [f32],
        dy: &CpuBuf<'static>,
        x: &CpuBuf<'static>,
        p: &[f32],
        conv: &ConvP,
    ) {
        let (bsz, l, e, k) = (x.dim0(), x.shape[1], conv.e, conv.k);
        let w = &p[conv.w.clone()];
        let per = e * k + e;
        let mut partials = vec![0.0f32; bsz * per];
        dx.data
            .par_chunks_mut(l * e)
            .zip(partials.par_chunks_mut(per))
            .enumerate()
            .for_each(|(i, (dxb, part))| {
                let (dw, db) = part.split_at_mut(e * k);
                let s = i * l * e..(i + 1) * l * e;
                conv1d_causal_backward(dxb, dw, db, &dy.data[s.clone()], &x.data[s], w, l, e, k);
            });
        for part in partials.chunks_exact(per) {
            let (dw, db) = part.split_at(e * k);
            g[conv.w.clone()]
                .iter_mut()
                .zip(dw)
                .for_each(|(a, b)| *a += b);
            g[conv.b.clone()]
                .iter_mut()
                .zip(db)
                .for_each(|(a, b)| *a += b);
        }
    }
    fn scan_bwd(
        &self,
        grads: ScanGradBufs<'_, Self>,
        g: &mut [f32],
        dy: &CpuBuf<'static>,
        dh_last: Option<&CpuBuf<'static>>,
        states: Option<&CpuBuf<'static>>,
        sx: ScanInputs<'_, Self>,
        p: &[f32],
        d: Range<usize>,
        dims: ScanP,
    ) {
        mixing::scan_bwd(
            grads,
            &mut g[d.clone()],
            dy,
            dh_last,
            states,
            &sx,
            &p[d],
            dims,
        );
    }
    fn attention_bwd(
        &self,
        dq: &mut CpuBuf<'static>,
        dk: &mut CpuBuf<'static>,
        dv: &mut CpuBuf<'static>,
        dout: &CpuBuf<'static>,
        qkv: [&CpuBuf<'static>; 3],
        probs: &CpuBuf<'static>,
        drop_mask: Option<&CpuBuf<'static>>,
        heads: usize,
    ) {
        mixing::attention_bwd([dq, dk, dv], dout, qkv, probs, drop_mask, heads);
    }
    fn chunk_pool_bwd(
        &self,
        du: &mut CpuBuf<'static>,
        dscores: &mut CpuBuf<'static>,
        ds: &CpuBuf<'static>,
        u: &CpuBuf<'static>,
        wts: &CpuBuf<'static>,
    ) {
        quantum::chunk_pool_bwd(du, dscores, ds, u, wts);
    }
    fn qproj_bwd(
        &self,
        dx: Option<&mut CpuBuf<'static>>,
        g: &mut [f32],
        dy: &CpuBuf<'static>,
        x: &CpuBuf<'static>,
        p: &[f32],
        qp: &QProjP,
    ) {
        qproj::qproj_bwd(dx, g, dy, x, p, qp);
    }
    fn circuit_bwd(
        &self,
        dtheta: &mut CpuBuf<'static>,
        denc: Option<&mut CpuBuf<'static>>,
        dm: &CpuBuf<'static>,
        states: Option<&CpuBuf<'static>>,
        theta: &CpuBuf<'static>,
        enc: Option<&CpuBuf<'static>>,
        prog: &Program,
    ) {
        quantum::circuit_bwd(dtheta, denc, dm, states, theta, enc, prog);
    }
    fn gated_cell_bwd(
        &self,
        dpre: &mut CpuBuf<'static>,
        mut dh_prev: Option<&mut CpuBuf<'static>>,
        dh: &CpuBuf<'static>,
        [gates, tc]: [&CpuBuf<'static>; 2],
        h_prev: Option<&CpuBuf<'static>>,
    ) {
        let hd = dh.last();
        same_len("gated_cell_bwd dpre", dpre.data.len(), 4 * dh.data.len());
        let zeros = vec![0.0f32; hd];
        let mut scratch = vec![0.0f32; hd];
        for (b, (dpr, dhr)) in dpre
            .data
            .chunks_exact_mut(4 * hd)
            .zip(dh.data.chunks_exact(hd))
            .enumerate()
        {
            let hp = h_prev.map_or(&zeros[..], |x| &x.data[b * hd..(b + 1) * hd]);
            let dhp = match dh_prev.as_deref_mut() {
                Some(d) => &mut d.data[b * hd..(b + 1) * hd],
                None => &mut scratch[..],
            };
            crate::ops::gated::gated_cell_backward(
                dpr,
                dhp,
                dhr,
                &gates.data[b * 4 * hd..(b + 1) * 4 * hd],
                &tc.data[b * hd..(b + 1) * hd],
                hp,
            );
        }
    }
    fn l2_normalize_bwd(
        &self,
        dx: &mut CpuBuf<'static>,
        dy: &CpuBuf<'static>,
        x: &CpuBuf<'static>,
        norm: &CpuBuf<'static>,
    ) {
        same_len("l2_normalize_bwd", dx.data.len(), x.data.len());
        let w = x.last().max(1);
        for (((dr, gr), xr), &n) in dx
            .data
            .chunks_exact_mut(w)
            .zip(dy.data.chunks_exact(w))
            .zip(x.data.chunks_exact(w))
            .zip(&norm.data)
        {
            let proj: f32 = gr.iter().zip(xr).map(|(d, v)| d * v).sum();
            for ((a, d), v) in dr.iter_mut().zip(gr).zip(xr) {
                *a += d / n - v * proj / (n * n * n);
            }
        }
    }
    fn circuit_bwd_state(
        &self,
        dtheta: &mut CpuBuf<'static>,
        denc: Option<&mut CpuBuf<'static>>,
        gstate: &CpuBuf<'static>,
        states: &CpuBuf<'static>,
        theta: &CpuBuf<'static>,
        enc: Option<&CpuBuf<'static>>,
        prog: &Program,
    ) {
        quantum::circuit_bwd_state(dtheta, denc, gstate, states, theta, enc, prog);
    }
    fn circuit_from_bwd(
        &self,
        dtheta: &mut CpuBuf<'static>,
        ginit: &mut CpuBuf<'static>,
        dm: &CpuBuf<'static>,
        states: &CpuBuf<'static>,
        theta: &CpuBuf<'static>,
        prog: &Program,
    ) {
        quantum::circuit_from_bwd(dtheta, ginit, dm, states, theta, prog);
    }
    fn lcu_bwd(
        &self,
        gstates: &mut CpuBuf<'static>,
        g: &mut [f32],
        gphi: &CpuBuf<'static>,
        states: &CpuBuf<'static>,
        p: &[f32],
        mix: Range<usize>,
    ) {
        quantum::lcu_bwd(gstates, &mut g[mix.clone()], gphi, states, &p[mix]);
    }
    fn s3_measure_bwd(
        &self,
        gstates: [&mut CpuBuf<'static>; 3],
        g: &mut [f32],
        dm: &CpuBuf<'static>,
        states: [&CpuBuf<'static>; 3],
        p: &[f32],
        coeffs: usize,
    ) {
        quantum::s3_measure_bwd(
            gstates,
            &mut g[coeffs..coeffs + 6],
            dm,
            states,
            &p[coeffs..coeffs + 6],
        );
    }
    fn superpose_bwd(
        &self,
        dxs: [&mut CpuBuf<'static>; 3],
        g: &mut [f32],
        dy: &CpuBuf<'static>,
        xs: [&CpuBuf<'static>; 3],
        p: &[f32],
        sp: &SuperposeP,
    ) {
        quantum::superpose_bwd(dxs, g, dy, xs, p, sp);
    }
    fn mix_l1_bwd(
        &self,
        dxs: [&mut CpuBuf<'static>; 3],
        g: &mut [f32],
        dy: &CpuBuf<'static>,
        xs: [&CpuBuf<'static>; 3],
        p: &[f32],
        coeffs: [usize; 3],
        eps: f32,
    ) {
        let c = coeffs.map(|i| p[i]);
        let s = c[0].abs() + c[1].abs() + c[2].abs() + eps;
        let w = c.map(|v| v / s);
        // G_k = Σ dy ⊙ x_k, in f64 and in element order (deterministic)
        let mut gw = [0.0f64; 3];
        for (k, x) in xs.iter().enumerate() {
            same_len("mix_l1_bwd", dy.data.len(), x.data.len());
            gw[k] = dy
                .data
                .iter()
                .zip(&x.data)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
        }
        let s64 = f64::from(s);
        let dot: f64 = (0..3).map(|j| gw[j] * f64::from(c[j])).sum();
        for j in 0..3 {
            let sgn = if c[j] > 0.0 {
                1.0
            } else if c[j] < 0.0 {
                -1.0
            } else {
                0.0
            };
            g[coeffs[j]] += (gw[j] / s64 - sgn * dot / (s64 * s64)) as f32;
        }
        for (k, dx) in dxs.into_iter().enumerate() {
            same_len("mix_l1_bwd", dx.data.len(), dy.data.len());
            for (a, b) in dx.data.iter_mut().zip(&dy.data) {
                *a += w[k] * b;
            }
        }
    }
    fn loss(&self, dout: &mut CpuBuf<'static>, out: &CpuBuf<'static>, targets: Targets<'_>) -> f32 {
        same_len("loss", dout.data.len(), out.data.len());
        let k = out.last();
        let b = match targets {
            Targets::Classes(y) => y.len(),
            Targets::Values(v) => v.len() / k.max(1),
        };
        assert!(b <= out.dim0(), "loss: more targets than outputs");
        let scale = 1.0 / b as f32;
        dout.data.fill(0.0);
        let mut probs = [0.0f32; 64];
        let mut total = 0.0f32;
        match targets {
            Targets::Classes(y) => {
                assert!(k <= probs.len(), "loss: at most 64 classes");
                for ((d, o), &yi) in dout
                    .data
                    .chunks_exact_mut(k)
                    .zip(out.data.chunks_exact(k))
                    .zip(y)
                {
                    total += cross_entropy_forward(&mut probs[..k], o, yi);
                    cross_entropy_backward(d, &probs[..k], yi, scale);
                }
            }
            Targets::Values(v) => {
                let n = k as f32;
                for ((d, o), t) in dout
                    .data
                    .chunks_exact_mut(k)
                    .zip(out.data.chunks_exact(k))
                    .zip(v.chunks_exact(k))
                {
                    let mut l = 0.0f32;
                    for ((di, oi), ti) in d.iter_mut().zip(o).zip(t) {
                        let e = oi - ti;
                        l += e * e / n;
                        *di = 2.0 * e / n * scale;
                    }
                    total += l;
                }
            }
        }
        total / b as f32
    }
    fn zero_params(&self, g: &mut [f32]) {
        g.fill(0.0);
    }
    fn grad_norm(&self, g: &[f32]) -> f64 {
        libm::sqrt(g.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>())
    }
    fn scale_params(&self, g: &mut [f32], c: f32) {
        g.iter_mut().for_each(|v| *v *= c);
    }
    fn adam_step(&self, b: AdamBufs<'_, Self>, max_norm: Option<f32>, s: &AdamScalars) {
        let n = b.p.len();
        for (what, len) in [
            ("g", b.g.len()),
            ("m", b.m.len()),
            ("v", b.v.len()),
            ("active", b.active.len()),
        ] {
            same_len(what, n, len);
        }
        if let Some(max) = max_norm {
            let coef = max / (self.grad_norm(b.g) as f32 + 1e-6);
            if coef < 1.0 {
                self.scale_params(b.g, coef);
            }
        }
        b.p.par_chunks_mut(ELEMS)
            .zip(b.g.par_chunks(ELEMS))
            .zip(b.m.par_chunks_mut(ELEMS))
            .zip(b.v.par_chunks_mut(ELEMS))
            .zip(b.active.par_chunks(ELEMS))
            .for_each(|((((p, g), m), v), a)| {
                for i in 0..p.len() {
                    if a[i] != 0.0 {
                        p[i] = adam_element(p[i], g[i], &mut m[i], &mut v[i], s);
                    }
                }
            });
    }
    fn host_params<'a>(&self, host: &'a [f32]) -> Option<&'a [f32]> {
        Some(host)
    }
    fn host_params_mut<'a>(&self, host: &'a mut [f32]) -> Option<&'a mut [f32]> {
        Some(host)
    }
}

/// Rows per parallel task of the row-wise ops (fixed: results never depend on threads).
const ROW_BLOCK: usize = 256;
/// Elements per parallel task of the element-wise ops.
const ELEMS: usize = 1 << 14;
