//! The GPU backend: every [`Backend`] op as kernels of `kernels/cuda/*.cu`, on a [`Device`]:
//! a CUDA GPU through `cust` (`cuda::CudaDevice`, feature `cuda`) or the same kernels
//! compiled for the host ([`emu::EmuDevice`], feature `cuda-emu`, for tests without a GPU).
//!
//! Design (llm.c's CUDA trainer is the model): one kernel launch per op or a few, no
//! allocation per op (ops reuse per-op scratch regions that grow to the largest size seen,
//! normally at the first step), deterministic reductions (shared parameter gradients are
//! summed from per-chunk partials in a fixed order; no atomics), GEMM as a hand-written tiled
//! kernel with strides (transposes are free) and a deterministic split-K for the long-K
//! weight gradients. Parameters and gradients are one device buffer each ([`GpuBuf`]) with
//! the trainer's `ParamLayout` ranges. The host reads back only the loss rows (B floats) and
//! the gradient norm's block partials.
//!
//! Shape legend as in [`crate::backend`]: B batch, L length, E channels, N `d_state`, H heads.
mod device;
pub mod params;

#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "cuda-emu")]
pub mod emu;

pub use device::Device;

pub mod check;
pub mod check_features;

use super::{
    circuit_state_words, Act, AdamBufs, Backend, ConvP, DropoutCfg, Infer, LinearP, QProjP,
    ScanGradBufs, ScanInputs, ScanP, Segment, Superpose, SuperposeP, Targets,
};
use crate::circuit::qproj::Affine;
use crate::circuit::{AngleSrc, GateKind, Program};
use crate::ops::adam::AdamScalars;
use core::ffi::c_void;
use core::ops::Range;
use params::*;
use std::sync::{Mutex, MutexGuard};

/// Every kernel of `qssm.cu` (the CUDA device resolves them once at load).
pub const KERNELS: &[&str] = &[
    "ew",
    "act_fwd",
    "act_bwd",
    "dropout_mask",
    "to_token_major",
    "copy_cols",
    "reverse_time",
    "mean_time",
    "mean_time_bwd",
    "running_mean",
    "running_count",
    "gemm",
    "gemm_reduce",
    "rmsnorm_fwd",
    "rmsnorm_bwd_dx",
    "softmax_rows",
    "softmax_bwd_rows",
    "col_partial",
    "col_final",
    "group_sum_rows",
    "conv1d_fwd",
    "conv1d_bwd_dx",
    "conv1d_dw_partial",
    "conv1d_step",
    "scan_fwd",
    "scan_bwd",
    "loss_rows",
    "sum_partial",
    "mix_fwd",
    "mix_bwd_dx",
    "mix_bwd_coeffs",
    "adam_step",
    "layernorm_fwd",
    "layernorm_bwd_dx",
    "chunk_pool_fwd",
    "chunk_pool_bwd",
    "online_pool_fwd",
    "zero_rows_from",
    "circuit_fwd",
    "circuit_bwd",
    "superpose_fwd",
    "superpose_bwd",
    "superpose_bwd_coeffs",
    "chunk_mean",
    "chunk_mean_bwd",
    "gated_cell_fwd",
    "gated_cell_bwd",
    "l2norm_fwd",
    "l2norm_bwd",
    "row_mean",
    "row_mean_bwd",
    "im2col3",
    "im2col3_prev",
    "scale_seg_fwd",
    "scale_seg_bwd_dx",
    "scale_seg_bwd_ds",
    "s3_fwd",
    "s3_bwd",
    "s3_coeffs",
    "lcu_fwd",
    "lcu_bwd",
    "lcu_coeffs",
    "qproj_fwd",
    "qproj_bwd",
    "qproj_reduce",
];

/// A device buffer with its shape (activations, and the flat parameter/gradient buffers).
pub struct GpuBuf<D: Device> {
    mem: D::Mem,
    addr: u64,
    shape: Vec<usize>,
    len: usize,
}

impl<D: Device> GpuBuf<D> {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Element count.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn at(&self, elem: usize) -> u64 {
        self.addr + 4 * elem as u64
    }
    /// The address of the first element of `r`, or null (0) for an empty range.
    fn at_or_null(&self, r: &Range<usize>) -> u64 {
        if r.is_empty() {
            0
        } else {
            self.at(r.start)
        }
    }
    fn last(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }
    fn rows(&self) -> usize {
        self.len / self.last().max(1)
    }
    fn dim0(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }
}

/// The scratch regions: per slot, its capacity in bytes and its memory.
type Slots<M> = Vec<Option<(usize, M)>>;

/// A GEMM batch: (batches, inner count, strides of A, B, C for z / inner and z % inner).
type MmBatch = Option<(usize, usize, [(usize, usize); 3])>;

/// Scratch regions, one per use, so that ops that need two at once never share one.
#[derive(Clone, Copy)]
enum Slot {
    GemmWs = 0,
    Partials = 1,
    ScanB = 2,
    ScanC = 3,
    ScanStates = 4,
    ScanY = 5,
    Probs = 6,
    Host = 7,
    Rows = 8,
}
const SLOTS: usize = 9;

/// The GPU backend over a device `D`.
pub struct Gpu<D: Device> {
    // fields drop in order: the scratch memory before the device
    scratch: Mutex<Slots<D::Mem>>,
    dev: D,
}

/// Threads per block of the 1-D kernels.
const THREADS: u32 = 256;
/// Blocks of the fixed-grid f64 reductions (the partial count, so the sum order is fixed).
const SUM_BLOCKS: u32 = 64;

fn blocks_for(threads: usize) -> u32 {
    threads.div_ceil(THREADS as usize).clamp(1, 16_384) as u32
}

fn same(what: &str, a: usize, b: usize) {
    assert_eq!(
        a, b,
        "gpu backend {what}: element counts differ ({a} vs {b})"
    );
}

fn f32_bytes(x: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding or invalid bit patterns as bytes
    unsafe { core::slice::from_raw_parts(x.as_ptr() as *const u8, core::mem::size_of_val(x)) }
}

fn f32_bytes_mut(x: &mut [f32]) -> &mut [u8] {
    // SAFETY: every byte pattern is a valid f32
    unsafe { core::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut u8, core::mem::size_of_val(x)) }
}

/// One GEMM: C (m×n) = alpha·A·B + beta·C with element strides and a two-level batch.
#[derive(Clone, Copy)]
struct Mm {
    m: usize,
    n: usize,
    k: usize,
    a: u64,
    a_s: (usize, usize),
    b: u64,
    b_s: (usize, usize),
    c: u64,
    c_rs: usize,
    alpha: f32,
    beta: f32,
    /// (batches, inner count, strides of A, B, C for z / inner and z % inner)
    batch: MmBatch,
}

impl<D: Device> Gpu<D> {
    /// The backend on `dev`.
    pub fn new(dev: D) -> Self {
        Self {
            dev,
            scratch: Mutex::new((0..SLOTS).map(|_| None).collect()),
        }
    }
    /// The device.
    pub fn device(&self) -> &D {
        &self.dev
    }
    /// A buffer of `shape` holding `host` (parameters, inputs).
    pub fn from_host(&self, host: &[f32], shape: &[usize]) -> GpuBuf<D> {
        let mut b = self.alloc(shape);
        self.upload(&mut b, host);
        b
    }
    /// The buffer's elements on the host.
    pub fn to_host(&self, x: &GpuBuf<D>) -> Vec<f32> {
        let mut v = vec![0.0; x.len];
        self.download(x, &mut v);
        v
    }

    fn launch<P: KernelParams>(&self, kernel: &'static str, grid: [u32; 3], block: u32, p: P) {
        // SAFETY: P is the kernel's #[repr(C)] parameter struct (KernelParams) and the ops
        // below fill it with addresses of buffers whose sizes they checked
        unsafe {
            self.dev.launch_raw(
                kernel,
                grid,
                [block, 1, 1],
                0,
                &p as *const P as *const c_void,
            )
        }
    }
    fn launch1<P: KernelParams>(&self, kernel: &'static str, threads: usize, p: P) {
        self.launch(kernel, [blocks_for(threads), 1, 1], THREADS, p);
    }

    /// The scratch regions, locked for one op (ops that run concurrently from several host
    /// threads queue here, so one op's scratch is never another's).
    fn scratch(&self) -> Scratch<'_, D> {
        Scratch {
            dev: &self.dev,
            slots: self.scratch.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    fn ew(&self, op: i32, y: u64, a: u64, b: u64, n: usize, d: usize, s: f32) {
        if n == 0 {
            return;
        }
        let p = EwP {
            y,
            a,
            b,
            n: n as i64,
            d: d.max(1) as i64,
            s,
            op,
        };
        self.launch1("ew", n, p);
    }

    fn gemm(&self, sc: &mut Scratch<'_, D>, g: Mm) {
        if g.m == 0 || g.n == 0 {
            return;
        }
        let tiles = g.m.div_ceil(64) * g.n.div_ceil(64);
        let (batches, inner, bs) = g.batch.unwrap_or((1, 1, [(0, 0); 3]));
        // split-K when one output has too few tiles to fill the GPU and k is long (the weight
        // gradients: k = B·T rows); the split depends on the shape only
        let splits = if g.batch.is_none() && tiles < 128 && g.k >= 1024 {
            (256 / tiles).clamp(2, g.k / 256).min(64)
        } else {
            1
        };
        let k_chunk = g.k.div_ceil(splits).div_ceil(16) * 16;
        let ws = if splits > 1 {
            sc.get(Slot::GemmWs, splits * g.m * g.n * 4)
        } else {
            0
        };
        let p = GemmP {
            a: g.a,
            b: g.b,
            c: g.c,
            ws,
            a_rs: g.a_s.0 as i64,
            a_cs: g.a_s.1 as i64,
            b_rs: g.b_s.0 as i64,
            b_cs: g.b_s.1 as i64,
            c_rs: g.c_rs as i64,
            a_bs1: bs[0].0 as i64,
            a_bs2: bs[0].1 as i64,
            b_bs1: bs[1].0 as i64,
            b_bs2: bs[1].1 as i64,
            c_bs1: bs[2].0 as i64,
            c_bs2: bs[2].1 as i64,
            m: g.m as i32,
            n: g.n as i32,
            k: g.k as i32,
            inner: inner.max(1) as i32,
            splits: splits as i32,
            k_chunk: k_chunk as i32,
            alpha: g.alpha,
            beta: g.beta,
        };
        let z = if splits > 1 { splits } else { batches };
        self.launch(
            "gemm",
            [g.n.div_ceil(64) as u32, g.m.div_ceil(64) as u32, z as u32],
            256,
            p,
        );
        if splits > 1 {
            self.launch1("gemm_reduce", g.m * g.n, p);
        }
    }

    /// g\[c\] += Σ_rows x\[r, c\] (kind 0) or Σ_rows x·z·aux\[r\] (kind 1), rows × d, two
    /// stages.
    #[allow(clippy::too_many_arguments)]
    fn col_sum(
        &self,
        sc: &mut Scratch<'_, D>,
        g: u64,
        x: u64,
        z: u64,
        aux: u64,
        rows: usize,
        d: usize,
        kind: i32,
    ) {
        if rows == 0 || d == 0 {
            return;
        }
        let chunk = 64usize.max(rows.div_ceil(512));
        let chunks = rows.div_ceil(chunk);
        let ws = sc.get(Slot::Partials, chunks * d * 4);
        let mut p = ColP {
            ws,
            g,
            x,
            z,
            aux,
            aux2: 0,
            rows: rows as i64,
            d: d as i64,
            chunk: chunk as i64,
            chunks: chunks as i64,
            ws_stride: d as i64,
            ws_off: 0,
            kind,
            pad: 0,
        };
        self.launch1("col_partial", chunks * d, p);
        p.rows = chunks as i64;
        self.launch1("col_final", d, p);
    }

    /// g\[c\] += Σ_{chunk < chunks} ws\[chunk·stride + off + c\] for c < d.
    #[allow(clippy::too_many_arguments)]
    fn col_final(&self, g: u64, ws: u64, chunks: usize, d: usize, stride: usize, off: usize) {
        if d == 0 {
            return;
        }
        let p = ColP {
            ws,
            g,
            chunks: chunks as i64,
            d: d as i64,
            ws_stride: stride as i64,
            ws_off: off as i64,
            ..Default::default()
        };
        self.launch1("col_final", d, p);
    }

    /// f64 block partials of Σx² (kind 0) or of Σ dy·x_k (kind 1) into a scratch region.
    fn sum_partial(&self, ws: u64, x: u64, xs: [u64; 3], n: usize, kind: i32) {
        let p = SumP {
            ws,
            x,
            x0: xs[0],
            x1: xs[1],
            x2: xs[2],
            n: n as i64,
            kind,
            pad: 0,
        };
        self.launch("sum_partial", [SUM_BLOCKS, 1, 1], THREADS, p);
    }

    /// Threads of a scan launch: one per (sample, channel, state lane), lanes per channel
    /// the power of two ≥ N, at most 32 (a lane holds two states when N > 32).
    fn scan_threads(b: usize, e: usize, n: usize) -> usize {
        assert!(n <= 64, "gpu scan: d_state {n} > 64 is not supported");
        b * e * n.next_power_of_two().clamp(1, 32)
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_launch(
        &self,
        y: u64,
        h_last: u64,
        states: u64,
        sx: &ScanInputs<'_, Self>,
        d: u64,
        dims: ScanP,
        b: usize,
        l: usize,
    ) {
        let p = params::ScanP {
            y,
            h_last,
            states,
            x: sx.x.addr,
            delta: sx.delta.addr,
            a: sx.a.addr,
            bm: sx.bm.addr,
            cm: sx.cm.addr,
            d,
            h0: sx.h0.map_or(0, |h| h.addr),
            b: b as i64,
            l: l as i64,
            e: dims.e as i64,
            n: dims.n as i64,
            a_stride: dims.a_row_stride as i64,
            dt_on_b: i32::from(dims.dt_on_b),
            reverse: i32::from(dims.reverse),
        };
        self.launch1("scan_fwd", Self::scan_threads(b, dims.e, dims.n), p);
    }

    /// g\[c\] += Σ_rows dy·(x − μ)·rstd (the LayerNorm weight gradient), two stages.
    #[allow(clippy::too_many_arguments)]
    fn col_sum_ln(
        &self,
        sc: &mut Scratch<'_, D>,
        g: u64,
        dy: u64,
        x: u64,
        [mean, rstd]: [u64; 2],
        rows: usize,
        d: usize,
    ) {
        if rows == 0 || d == 0 {
            return;
        }
        let chunk = 64usize.max(rows.div_ceil(512));
        let chunks = rows.div_ceil(chunk);
        let ws = sc.get(Slot::Partials, chunks * d * 4);
        let mut p = ColP {
            ws,
            g,
            x: dy,
            z: x,
            aux: rstd,
            aux2: mean,
            rows: rows as i64,
            d: d as i64,
            chunk: chunk as i64,
            chunks: chunks as i64,
            ws_stride: d as i64,
            kind: 2,
            ..Default::default()
        };
        self.launch1("col_partial", chunks * d, p);
        p.rows = chunks as i64;
        self.launch1("col_final", d, p);
    }

    /// One warp per row; dynamic shared memory: per warp φ, λ (2^Q complex128 each) and the
    /// f64 angle gradients.
    fn circuit_launch(&self, kernel: &'static str, prog: &Program, p: CircP) {
        let per_warp = 2 * prog.state_len() * 16 + (prog.n_theta + prog.n_enc) * 8;
        self.warp_rows_launch(kernel, p.rows as usize, per_warp, prog.n_qubits, p);
    }

    /// The parameter pointers and sizes of a quantum projection's kernels.
    fn qproj_args(&self, p: &GpuBuf<D>, qp: &QProjP) -> QProjArgs {
        let q = &qp.qp;
        let layers = q.layers.n_layers();
        assert!(
            layers <= QPROJ_MAX_LAYERS,
            "gpu qproj: {layers} entangling layers > {QPROJ_MAX_LAYERS}"
        );
        let mut ranges = [0i32; QPROJ_MAX_LAYERS];
        for (r, &v) in ranges.iter_mut().zip(&q.layers.ranges) {
            *r = v as i32;
        }
        let affine = match q.affine {
            Affine::PerOutput => 0,
            Affine::Scalar => 1,
            Affine::None => 2,
        };
        QProjArgs {
            w: p.at(qp.w.start),
            gamma: p.at_or_null(&qp.gamma),
            beta: p.at_or_null(&qp.beta),
            d_in: q.d_in as i32,
            d_out: q.d_out as i32,
            n: q.n as i32,
            m: q.m as i32,
            layers: layers as i32,
            affine,
            rescale: q.rescale as i32,
            per: (q.n_weights() + 2 * qp.gamma.len()) as i32,
            ranges,
            ..Default::default()
        }
    }

    /// One warp per row, φ and G_φ of each row in dynamic shared memory.
    fn s3_launch(&self, kernel: &'static str, p: S3P) {
        self.warp_rows_launch(
            kernel,
            p.rows as usize,
            (2 * 16usize) << p.q,
            p.q as usize,
            p,
        );
    }

    /// A kernel with one warp per row and `per_warp` bytes of dynamic shared memory per warp
    /// (the circuit and S3 kernels): up to 4 warps per block within 40 KiB; more than 48 KiB
    /// for one warp (more than 10 qubits) is refused.
    fn warp_rows_launch<P: KernelParams>(
        &self,
        kernel: &'static str,
        rows: usize,
        per_warp: usize,
        qubits: usize,
        p: P,
    ) {
        if rows == 0 {
            return;
        }
        let wpb = (40_960 / per_warp).clamp(1, 4);
        assert!(
            wpb * per_warp <= 48 * 1024,
            "gpu {kernel}: {qubits} qubits need too much shared memory (at most 10)"
        );
        // SAFETY: P is the kernel's #[repr(C)] parameter struct; the ops checked the sizes
        unsafe {
            self.dev.launch_raw(
                kernel,
                [rows.div_ceil(wpb) as u32, 1, 1],
                [32 * wpb as u32, 1, 1],
                (wpb * per_warp) as u32,
                &p as *const P as *const c_void,
            )
        }
    }

    fn superpose_params(
        &self,
        n: usize,
        xs: [&GpuBuf<D>; 3],
        p: &GpuBuf<D>,
        sp: &SuperposeP,
    ) -> SupP {
        let (rows, w) = (xs[0].rows(), xs[0].last());
        for x in xs {
            assert_eq!(x.shape, xs[0].shape, "superpose: branch shapes differ");
        }
        let yw = if sp.mode == Superpose::Concat {
            3 * w
        } else {
            w
        };
        same("superpose output", n, rows * yw);
        let [[r0, i0], [r1, i1], [r2, i2]] = sp.coeffs;
        for i in [r0, i0, r1, i1, r2, i2] {
            assert!(i < p.len, "superpose: coefficient outside the parameters");
        }
        SupP {
            x0: xs[0].addr,
            x1: xs[1].addr,
            x2: xs[2].addr,
            params: p.addr,
            rows: rows as i64,
            w: w as i64,
            idx: [r0, i0, r1, i1, r2, i2].map(|i| i as i64),
            eps: sp.eps,
            mode: match sp.mode {
                Superpose::Concat => 0,
                Superpose::Sum => 1,
                Superpose::Modulus => 2,
                Superpose::ModulusRaw => 3,
            },
            ..Default::default()
        }
    }

    /// C_h (m×n) = A_h·B_h (+ C_h when `acc`) for every (sample, head) of an attention.
    #[allow(clippy::too_many_arguments)]
    fn head_mm(
        &self,
        sc: &mut Scratch<'_, D>,
        (m, n, k): (usize, usize, usize),
        a: HeadOp,
        b: HeadOp,
        c: HeadOp,
        acc: bool,
        (batches, heads): (usize, usize),
    ) {
        self.gemm(
            sc,
            Mm {
                m,
                n,
                k,
                a: a.addr,
                a_s: a.s,
                b: b.addr,
                b_s: b.s,
                c: c.addr,
                c_rs: c.s.0,
                alpha: 1.0,
                beta: if acc { 1.0 } else { 0.0 },
                batch: Some((batches * heads, heads, [a.bs, b.bs, c.bs])),
            },
        );
    }
}

/// One operand of a per-(sample, head) product: its address, (row, column) element strides,
/// and its strides per sample and per head.
#[derive(Clone, Copy)]
struct HeadOp {
    addr: u64,
    s: (usize, usize),
    bs: (usize, usize),
}

/// The operand views of attention over (B, L, D) buffers with H heads of width d_h.
#[derive(Clone, Copy)]
struct HeadViews {
    l: usize,
    d: usize,
    dh: usize,
    heads: usize,
}

impl HeadViews {
    /// Head h of a (B, L, D) buffer: (L × d_h), row stride D.
    fn tok(&self, addr: u64) -> HeadOp {
        HeadOp {
            addr,
            s: (self.d, 1),
            bs: (self.l * self.d, self.dh),
        }
    }
    /// Its transpose (d_h × L).
    fn tok_t(&self, addr: u64) -> HeadOp {
        HeadOp {
            s: (1, self.d),
            ..self.tok(addr)
        }
    }
    /// Head h of a (B, H, L, L) buffer: (L × L).
    fn sq(&self, addr: u64) -> HeadOp {
        HeadOp {
            addr,
            s: (self.l, 1),
            bs: (self.heads * self.l * self.l, self.l * self.l),
        }
    }
    /// Its transpose.
    fn sq_t(&self, addr: u64) -> HeadOp {
        HeadOp {
            s: (1, self.l),
            ..self.sq(addr)
        }
    }
}

/// The locked scratch regions of one op.
struct Scratch<'a, D: Device> {
    dev: &'a D,
    slots: MutexGuard<'a, Slots<D::Mem>>,
}

impl<D: Device> Scratch<'_, D> {
    /// The address of scratch region `slot`, grown to at least `bytes`.
    fn get(&mut self, slot: Slot, bytes: usize) -> u64 {
        let s = &mut self.slots[slot as usize];
        if s.as_ref().is_none_or(|(cap, _)| *cap < bytes) {
            let cap = bytes.max(256);
            *s = Some((cap, self.dev.alloc(cap)));
        }
        let (_, m) = s.as_ref().expect("scratch slot");
        self.dev.addr(m)
    }
    fn write(&mut self, slot: Slot, src: &[u8]) -> u64 {
        let a = self.get(slot, src.len());
        let (_, m) = self.slots[slot as usize].as_ref().expect("scratch slot");
        self.dev.write(m, 0, src);
        a
    }
    fn read(&mut self, slot: Slot, dst: &mut [u8]) {
        let (_, m) = self.slots[slot as usize].as_ref().expect("scratch slot");
        self.dev.read(m, 0, dst);
    }
}

impl<D: Device> Infer for Gpu<D> {
    type Buf = GpuBuf<D>;
    type Params = GpuBuf<D>;

    fn name(&self) -> &'static str {
        self.dev.name()
    }

    fn alloc(&self, shape: &[usize]) -> GpuBuf<D> {
        let len: usize = shape.iter().product();
        let mem = self.dev.alloc(4 * len.max(1));
        let addr = self.dev.addr(&mem);
        GpuBuf {
            mem,
            addr,
            shape: shape.to_vec(),
            len,
        }
    }
    fn shape<'a>(&self, x: &'a GpuBuf<D>) -> &'a [usize] {
        &x.shape
    }
    fn upload(&self, x: &mut GpuBuf<D>, src: &[f32]) {
        same("upload", x.len, src.len());
        self.dev.write(&x.mem, 0, f32_bytes(src));
    }
    fn download(&self, x: &GpuBuf<D>, dst: &mut [f32]) {
        same("download", x.len, dst.len());
        self.dev.read(&x.mem, 0, f32_bytes_mut(dst));
    }
    fn fill(&self, x: &mut GpuBuf<D>, v: f32) {
        self.ew(ew::FILL, x.addr, 0, 0, x.len, 1, v);
    }

    fn copy(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        same("copy", y.len, x.len);
        self.ew(ew::COPY, y.addr, x.addr, 0, y.len, 1, 0.0);
    }
    fn add_assign(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        same("add_assign", y.len, x.len);
        self.ew(ew::ADD, y.addr, x.addr, 0, y.len, 1, 0.0);
    }
    fn mul(&self, y: &mut GpuBuf<D>, a: &GpuBuf<D>, b: &GpuBuf<D>) {
        same("mul", y.len, a.len);
        same("mul", y.len, b.len);
        self.ew(ew::MUL, y.addr, a.addr, b.addr, y.len, 1, 0.0);
    }
    fn to_token_major(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        let (b, c, t) = (x.shape[0], x.shape[1], x.shape[2]);
        assert_eq!(y.shape, [b, t, c], "to_token_major: y shape");
        let p = GlueP {
            y: y.addr,
            x: x.addr,
            d0: b as i64,
            d1: c as i64,
            d2: t as i64,
            ..Default::default()
        };
        self.launch1("to_token_major", x.len, p);
    }
    fn split_cols(&self, x: &GpuBuf<D>, parts: &mut [&mut GpuBuf<D>]) {
        let (w, rows) = (x.last(), x.rows());
        let mut off = 0;
        for part in parts.iter_mut() {
            same("split_cols rows", part.rows(), rows);
            self.copy_cols(
                (part.addr, part.last(), 0),
                (x.addr, w, off),
                rows,
                part.last(),
            );
            off += part.last();
        }
        same("split_cols widths", off, w);
    }
    fn concat_cols(&self, y: &mut GpuBuf<D>, parts: &[&GpuBuf<D>]) {
        let (w, rows) = (y.last(), y.rows());
        let mut off = 0;
        for part in parts {
            same("concat_cols rows", part.rows(), rows);
            self.copy_cols(
                (y.addr, w, off),
                (part.addr, part.last(), 0),
                rows,
                part.last(),
            );
            off += part.last();
        }
        same("concat_cols widths", off, w);
    }
    fn reverse_time(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        self.reverse(y, x, false);
    }
    fn mean_time(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        let (b, l, d) = (x.shape[0], x.shape[1], x.last());
        assert_eq!(y.shape, [b, d], "mean_time: y shape");
        let p = GlueP {
            y: y.addr,
            x: x.addr,
            d0: b as i64,
            d1: l as i64,
            d2: d as i64,
            s: 1.0 / l as f32,
            ..Default::default()
        };
        self.launch1("mean_time", b * d, p);
    }
    fn running_mean(
        &self,
        y: &mut GpuBuf<D>,
        x: &GpuBuf<D>,
        sum: &mut GpuBuf<D>,
        count: &mut GpuBuf<D>,
    ) {
        let (b, l, d) = (x.shape[0], x.shape[1], x.last());
        assert_eq!(y.shape, [b, d], "running_mean: y shape");
        assert_eq!(sum.shape, [b, d], "running_mean: sum shape");
        same("running_mean: count", count.len, b);
        let p = MeanStepP {
            y: y.addr,
            sum: sum.addr,
            count: count.addr,
            x: x.addr,
            b: b as i64,
            l: l as i64,
            d: d as i64,
        };
        // every thread of a sample reads its count before running_count advances it
        self.launch1("running_mean", b * d, p);
        self.launch1("running_count", b, p);
    }
    fn add_table_rows(&self, x: &mut GpuBuf<D>, p: &GpuBuf<D>, table: Range<usize>) {
        let (l, d) = (x.shape[1], x.last());
        assert!(
            table.len() >= l * d,
            "add_table_rows: table shorter than L rows"
        );
        assert!(
            table.end <= p.len,
            "add_table_rows: range outside the parameters"
        );
        self.ew(
            ew::ADD_BCAST,
            x.addr,
            p.at(table.start),
            0,
            x.len,
            l * d,
            0.0,
        );
    }

    fn pad_time(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        let (b, l, w) = (x.dim0(), x.shape[1], x.last());
        let l2 = y.shape[1];
        assert!(
            y.dim0() == b && y.last() == w && l2 >= l,
            "pad_time: y {:?} vs x {:?}",
            y.shape,
            x.shape
        );
        self.ew(ew::FILL, y.addr, 0, 0, y.len, 1, 0.0);
        // one row per sample: its first L·W elements
        self.copy_cols((y.addr, l2 * w, 0), (x.addr, l * w, 0), b, l * w);
    }
    fn chunk_mean(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>, cs: usize) {
        let (b, l, w) = (x.dim0(), x.shape[1], x.last());
        let nc = l.div_ceil(cs.max(1));
        assert_eq!(y.shape, [b, nc, w], "chunk_mean: y shape");
        let p = GlueP {
            y: y.addr,
            x: x.addr,
            d0: b as i64,
            d1: l as i64,
            d2: w as i64,
            y_w: cs as i64,
            x_w: nc as i64,
            ..Default::default()
        };
        self.launch1("chunk_mean", y.len, p);
    }
    fn time_slice(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>, t: usize) {
        let (b, l, w) = (x.dim0(), x.shape[1], x.last());
        assert!(t < l && y.len == b * w, "time_slice: shapes / t");
        self.copy_cols((y.addr, w, 0), (x.addr, l * w, t * w), b, w);
    }
    fn im2col3(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        let (b, c, t) = (x.dim0(), x.shape[1], x.last());
        assert_eq!(y.shape, [b, t, 3 * c], "im2col3: y shape");
        let p = GlueP {
            y: y.addr,
            x: x.addr,
            d0: b as i64,
            d1: c as i64,
            d2: t as i64,
            x_w: t as i64,
            y_w: t as i64,
            ..Default::default()
        };
        self.launch1("im2col3", y.len, p);
    }
    fn im2col3_step(&self, y: &mut GpuBuf<D>, prev: &mut GpuBuf<D>, x: &GpuBuf<D>, valid: usize) {
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
        same("im2col3_step: prev", prev.len, b * c);
        let p = GlueP {
            y: y.addr,
            x: x.addr,
            d0: b as i64,
            d1: c as i64,
            d2: l as i64,
            x_w: valid as i64,
            y_w: l1 as i64,
            x2: prev.addr,
            ..Default::default()
        };
        self.launch1("im2col3", y.len, p);
        // every thread of the first kernel has read prev before this one writes it
        let p = GlueP { y: prev.addr, ..p };
        self.launch1("im2col3_prev", b * c, p);
    }
    fn scale_segments(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>, s: &GpuBuf<D>, segs: &[Segment]) {
        same("scale_segments", y.len, x.len);
        let p = SegP {
            y: y.addr,
            ..seg_params(x, s, segs)
        };
        self.launch1("scale_seg_fwd", y.len, p);
    }
    fn scale(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>, c: f32) {
        same("scale", y.len, x.len);
        self.ew(ew::SCALE_TO, y.addr, x.addr, 0, y.len, 1, c);
    }
    fn axpy(&self, y: &mut GpuBuf<D>, c: f32, x: &GpuBuf<D>) {
        same("axpy", y.len, x.len);
        self.ew(ew::AXPY, y.addr, x.addr, 0, y.len, 1, c);
    }
    fn add_param_row(&self, x: &mut GpuBuf<D>, p: &GpuBuf<D>, range: Range<usize>) {
        same("add_param_row", range.len(), x.last());
        assert!(
            range.end <= p.len,
            "add_param_row: range outside the parameters"
        );
        self.ew(
            ew::ADD_BCAST,
            x.addr,
            p.at(range.start),
            0,
            x.len,
            x.last(),
            0.0,
        );
    }

    fn act(&self, act: Act, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        same("act", y.len, x.len);
        let p = EwP {
            y: y.addr,
            a: x.addr,
            n: y.len as i64,
            op: act as i32,
            ..Default::default()
        };
        self.launch1("act_fwd", y.len, p);
    }
    fn neg_exp(&self, y: &mut GpuBuf<D>, p: &GpuBuf<D>, range: Range<usize>) {
        same("neg_exp", y.len, range.len());
        assert!(range.end <= p.len, "neg_exp: range outside the parameters");
        self.ew(ew::NEG_EXP, y.addr, p.at(range.start), 0, y.len, 1, 0.0);
    }
    fn dropout(&self, x: &mut GpuBuf<D>, mask: &mut GpuBuf<D>, cfg: DropoutCfg<'_>, site: u32) {
        same("dropout", x.len, mask.len);
        self.dropout_into(mask, Some(x.addr), cfg, site);
    }

    fn linear(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>, p: &GpuBuf<D>, lin: &LinearP) {
        assert_eq!(x.last(), lin.d_in, "linear: x width");
        assert_eq!(y.last(), lin.d_out, "linear: y width");
        assert!(lin.w.end <= p.len, "linear: W outside the parameters");
        let rows = x.rows();
        same("linear rows", y.rows(), rows);
        let beta = match &lin.b {
            Some(b) => {
                self.ew(ew::BCAST, y.addr, p.at(b.start), 0, y.len, lin.d_out, 0.0);
                1.0
            }
            None => 0.0,
        };
        let mut sc = self.scratch();
        // y (rows×out) = x (rows×in)·Wᵀ: B[i][o] = w[o·in + i]
        self.gemm(
            &mut sc,
            Mm {
                m: rows,
                n: lin.d_out,
                k: lin.d_in,
                a: x.addr,
                a_s: (lin.d_in, 1),
                b: p.at(lin.w.start),
                b_s: (1, lin.d_in),
                c: y.addr,
                c_rs: lin.d_out,
                alpha: 1.0,
                beta,
                batch: None,
            },
        );
    }
    fn rmsnorm(
        &self,
        y: &mut GpuBuf<D>,
        rstd: &mut GpuBuf<D>,
        x: &GpuBuf<D>,
        p: &GpuBuf<D>,
        w: Range<usize>,
    ) {
        same("rmsnorm", y.len, x.len);
        let (rows, d) = (x.rows(), x.last());
        same("rmsnorm rstd", rstd.len, rows);
        let q = RowP {
            y: y.addr,
            aux: rstd.addr,
            x: x.addr,
            w: p.at(w.start),
            rows: rows as i64,
            d: d as i64,
            eps: super::cpu::NORM_EPS,
            ..Default::default()
        };
        self.launch1("rmsnorm_fwd", rows * 32, q);
    }
    fn layernorm(
        &self,
        y: &mut GpuBuf<D>,
        [mean, rstd]: [&mut GpuBuf<D>; 2],
        x: &GpuBuf<D>,
        p: &GpuBuf<D>,
        [w, b]: [Range<usize>; 2],
    ) {
        same("layernorm", y.len, x.len);
        let (rows, d) = (x.rows(), x.last());
        same("layernorm mean", mean.len, rows);
        same("layernorm rstd", rstd.len, rows);
        assert!(
            w.end <= p.len && b.end <= p.len,
            "layernorm: outside the parameters"
        );
        let q = LnP {
            y: y.addr,
            mean: mean.addr,
            rstd: rstd.addr,
            x: x.addr,
            w: p.at(w.start),
            b: p.at(b.start),
            rows: rows as i64,
            d: d as i64,
            eps: super::cpu::NORM_EPS,
            ..Default::default()
        };
        self.launch1("layernorm_fwd", rows * 32, q);
    }
    fn conv1d(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>, p: &GpuBuf<D>, conv: &ConvP) {
        same("conv1d", y.len, x.len);
        assert_eq!(x.last(), conv.e, "conv1d: x width");
        let q = params::ConvP {
            y: y.addr,
            x: x.addr,
            w: p.at(conv.w.start),
            bias: p.at(conv.b.start),
            b: x.dim0() as i64,
            l: x.shape[1] as i64,
            e: conv.e as i64,
            k: conv.k as i64,
            ..Default::default()
        };
        self.launch1("conv1d_fwd", x.len, q);
    }
    fn conv1d_step(
        &self,
        y: &mut GpuBuf<D>,
        x: &GpuBuf<D>,
        hist: &mut GpuBuf<D>,
        p: &GpuBuf<D>,
        conv: &ConvP,
    ) {
        same("conv1d_step", y.len, x.len);
        assert_eq!(x.last(), conv.e, "conv1d_step: x width");
        let b = x.dim0();
        same(
            "conv1d_step: hist",
            hist.len,
            b * conv.k.saturating_sub(1) * conv.e,
        );
        let q = params::ConvP {
            y: y.addr,
            hist: hist.addr,
            x: x.addr,
            w: p.at(conv.w.start),
            bias: p.at(conv.b.start),
            b: b as i64,
            l: x.shape[1] as i64,
            e: conv.e as i64,
            k: conv.k as i64,
            ..Default::default()
        };
        self.launch1("conv1d_step", b * conv.e, q);
    }

    fn scan(
        &self,
        y: &mut GpuBuf<D>,
        h_last: Option<&mut GpuBuf<D>>,
        states: Option<&mut GpuBuf<D>>,
        sx: ScanInputs<'_, Self>,
        p: &GpuBuf<D>,
        d: Range<usize>,
        dims: ScanP,
    ) {
        let (b, l) = (sx.x.dim0(), sx.x.shape[1]);
        assert_eq!(sx.x.last(), dims.e, "scan: x width");
        assert_eq!(sx.bm.last(), dims.n, "scan: B width");
        same("scan y", y.len, sx.x.len);
        if let Some(s) = &states {
            assert!(
                s.len >= b * (l + 1) * dims.e * dims.n,
                "scan: states buffer"
            );
        }
        self.scan_launch(
            y.addr,
            h_last.map_or(0, |h| h.addr),
            states.map_or(0, |s| s.addr),
            &sx,
            p.at(d.start),
            dims,
            b,
            l,
        );
    }
    fn attention(
        &self,
        o: &mut GpuBuf<D>,
        probs: &mut GpuBuf<D>,
        q: &GpuBuf<D>,
        k: &GpuBuf<D>,
        v: &GpuBuf<D>,
        drop_mask: Option<&GpuBuf<D>>,
        heads: usize,
    ) {
        let (b, l, d) = (q.dim0(), q.shape[1], q.last());
        assert!(
            heads > 0 && d % heads == 0,
            "attention: D={d} not divisible by H={heads}"
        );
        same("attention probs", probs.len, b * heads * l * l);
        let dh = d / heads;
        let hv = HeadViews { l, d, dh, heads };
        let bh = (b, heads);
        let mut sc = self.scratch();
        // S = Q_h·K_hᵀ, softmax over rows (scores / √d_h)
        let (qh, kt, s) = (hv.tok(q.addr), hv.tok_t(k.addr), hv.sq(probs.addr));
        self.head_mm(&mut sc, (l, l, dh), qh, kt, s, false, bh);
        let r = RowP {
            y: probs.addr,
            rows: (b * heads * l) as i64,
            d: l as i64,
            scale: (dh as f32).sqrt(),
            ..Default::default()
        };
        self.launch1("softmax_rows", b * heads * l * 32, r);
        let pv = match drop_mask {
            Some(m) => {
                same("attention mask", m.len, probs.len);
                let pv = sc.get(Slot::Probs, probs.len * 4);
                self.ew(ew::MUL, pv, probs.addr, m.addr, probs.len, 1, 0.0);
                pv
            }
            None => probs.addr,
        };
        // O_h = P̃·V_h
        self.head_mm(
            &mut sc,
            (l, dh, l),
            hv.sq(pv),
            hv.tok(v.addr),
            hv.tok(o.addr),
            false,
            bh,
        );
    }

    fn chunk_pool(
        &self,
        s: &mut GpuBuf<D>,
        wts: &mut GpuBuf<D>,
        u: &GpuBuf<D>,
        scores: &GpuBuf<D>,
        valid: Option<usize>,
    ) {
        let (b, nc, f) = (s.dim0(), s.shape[1], s.last());
        let rows = u.shape[1];
        assert!(
            nc > 0 && rows.is_multiple_of(nc) && u.last() == f && u.dim0() == b,
            "chunk_pool: s {:?} vs u {:?}",
            s.shape,
            u.shape
        );
        same("chunk_pool scores", scores.len, b * rows);
        same("chunk_pool weights", wts.len, b * rows);
        let p = PoolP {
            s: s.addr,
            wts: wts.addr,
            u: u.addr,
            scores: scores.addr,
            chunks: (b * nc) as i64,
            nc: nc as i64,
            cs: (rows / nc) as i64,
            f: f as i64,
            valid: valid.map_or(-1, |v| v as i64),
            ..Default::default()
        };
        self.launch1("chunk_pool_fwd", b * nc * 32, p);
    }
    fn online_softmax_pool(
        &self,
        y: &mut GpuBuf<D>,
        u: &GpuBuf<D>,
        scores: &GpuBuf<D>,
        m: &mut GpuBuf<D>,
        z: &mut GpuBuf<D>,
        acc: &mut GpuBuf<D>,
    ) {
        let (b, l, f) = (u.dim0(), u.shape[1], u.last());
        assert!(l > 0, "online_softmax_pool: no rows");
        same("online_softmax_pool: y", y.len, b * f);
        same("online_softmax_pool: acc", acc.len, b * f);
        same("online_softmax_pool: scores", scores.len, b * l);
        same("online_softmax_pool: m", m.len, b);
        same("online_softmax_pool: z", z.len, b);
        let p = OnlinePoolP {
            y: y.addr,
            m: m.addr,
            z: z.addr,
            acc: acc.addr,
            u: u.addr,
            scores: scores.addr,
            b: b as i64,
            l: l as i64,
            f: f as i64,
        };
        self.launch1("online_pool_fwd", b * 32, p);
    }
    fn zero_rows_from(&self, x: &mut GpuBuf<D>, from: usize) {
        let (b, l, w) = (x.dim0(), x.shape[1], x.last());
        let from = from.min(l);
        let p = GlueP {
            y: x.addr,
            d0: b as i64,
            d1: l as i64,
            d2: w as i64,
            y_off: from as i64,
            ..Default::default()
        };
        self.launch1("zero_rows_from", (b * (l - from) * w).max(1), p);
    }
    fn circuit(
        &self,
        m: &mut GpuBuf<D>,
        states: Option<&mut GpuBuf<D>>,
        theta: &GpuBuf<D>,
        enc: Option<&GpuBuf<D>>,
        prog: &Program,
    ) {
        let mut p = circuit_params(prog, theta, enc);
        same("circuit m", m.len, theta.rows() * 3 * prog.n_qubits);
        p.m = m.addr;
        if let Some(s) = states {
            same(
                "circuit states",
                s.len,
                theta.rows() * circuit_state_words(prog.n_qubits),
            );
            p.states = s.addr;
        }
        self.circuit_launch("circuit_fwd", prog, p);
    }
    fn qproj(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>, p: &GpuBuf<D>, qp: &QProjP) {
        let q = &qp.qp;
        let rows = x.len / q.d_in.max(1);
        same("qproj: x", x.len, rows * q.d_in);
        same("qproj: y", y.len, rows * q.d_out);
        let a = QProjArgs {
            y: y.addr,
            x: x.addr,
            rows: rows as i64,
            ..self.qproj_args(p, qp)
        };
        self.warp_rows_launch("qproj_fwd", rows, 16 << q.n, q.n, a);
    }
    fn gated_cell(
        &self,
        h: &mut GpuBuf<D>,
        [gates, tc]: [&mut GpuBuf<D>; 2],
        pre: &GpuBuf<D>,
        h_prev: Option<&GpuBuf<D>>,
    ) {
        same("gated_cell gates", gates.len, 4 * h.len);
        same("gated_cell pre", pre.len, 4 * h.len);
        same("gated_cell tc", tc.len, h.len);
        if let Some(hp) = h_prev {
            same("gated_cell h_prev", hp.len, h.len);
        }
        let p = CellP {
            h: h.addr,
            gates: gates.addr,
            tc: tc.addr,
            pre: pre.addr,
            h_prev: h_prev.map_or(0, |x| x.addr),
            b: h.rows() as i64,
            hd: h.last() as i64,
            ..Default::default()
        };
        self.launch1("gated_cell_fwd", h.len, p);
    }
    fn row_mean(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        same("row_mean", y.len, x.rows());
        let q = RowP {
            y: y.addr,
            x: x.addr,
            rows: x.rows() as i64,
            d: x.last() as i64,
            ..Default::default()
        };
        self.launch1("row_mean", x.rows() * 32, q);
    }
    fn l2_normalize(&self, y: &mut GpuBuf<D>, norm: &mut GpuBuf<D>, x: &GpuBuf<D>, eps: f32) {
        same("l2_normalize", y.len, x.len);
        same("l2_normalize norm", norm.len, x.rows());
        let q = RowP {
            y: y.addr,
            aux: norm.addr,
            x: x.addr,
            rows: x.rows() as i64,
            d: x.last() as i64,
            eps,
            ..Default::default()
        };
        self.launch1("l2norm_fwd", x.rows() * 32, q);
    }
    fn circuit_from(
        &self,
        m: &mut GpuBuf<D>,
        states: &mut GpuBuf<D>,
        init: &GpuBuf<D>,
        theta: &GpuBuf<D>,
        prog: &Program,
    ) {
        let mut p = circuit_params(prog, theta, None);
        let words = theta.rows() * circuit_state_words(prog.n_qubits);
        same("circuit_from m", m.len, theta.rows() * 3 * prog.n_qubits);
        same("circuit_from states", states.len, words);
        same("circuit_from init", init.len, words);
        p.m = m.addr;
        p.states = states.addr;
        p.init = init.addr;
        self.circuit_launch("circuit_fwd", prog, p);
    }
    fn lcu(&self, phi: &mut GpuBuf<D>, states: &GpuBuf<D>, p: &GpuBuf<D>, mix: Range<usize>) {
        let q = LcuP {
            phi: phi.addr,
            ..lcu_params(phi, states, p, &mix)
        };
        self.launch1("lcu_fwd", q.rows as usize * 32, q);
    }
    fn s3_measure(&self, m: &mut GpuBuf<D>, states: [&GpuBuf<D>; 3], p: &GpuBuf<D>, coeffs: usize) {
        let q = S3P {
            m: m.addr,
            ..s3_params(m.len, states, p, coeffs)
        };
        self.s3_launch("s3_fwd", q);
    }
    fn superpose(&self, y: &mut GpuBuf<D>, xs: [&GpuBuf<D>; 3], p: &GpuBuf<D>, sp: &SuperposeP) {
        let q = self.superpose_params(y.len, xs, p, sp);
        let q = SupP { y: y.addr, ..q };
        self.launch1("superpose_fwd", y.len, q);
    }

    fn mix_l1(
        &self,
        y: &mut GpuBuf<D>,
        xs: [&GpuBuf<D>; 3],
        p: &GpuBuf<D>,
        coeffs: [usize; 3],
        eps: f32,
    ) {
        for x in xs {
            same("mix_l1", y.len, x.len);
        }
        let q = MixP {
            y: y.addr,
            x0: xs[0].addr,
            x1: xs[1].addr,
            x2: xs[2].addr,
            params: p.addr,
            n: y.len as i64,
            i0: coeffs[0] as i64,
            i1: coeffs[1] as i64,
            i2: coeffs[2] as i64,
            eps,
            ..Default::default()
        };
        self.launch1("mix_fwd", y.len, q);
    }

    fn mul_acc(&self, y: &mut GpuBuf<D>, a: &GpuBuf<D>, b: &GpuBuf<D>) {
        same("mul_acc", y.len, a.len);
        same("mul_acc", y.len, b.len);
        self.ew(ew::MUL_ACC, y.addr, a.addr, b.addr, y.len, 1, 0.0);
    }
    fn pad_time_bwd(&self, dx: &mut GpuBuf<D>, dy: &GpuBuf<D>) {
        let (b, l, w, l2) = (dx.dim0(), dx.shape[1], dx.last(), dy.shape[1]);
        assert!(l2 >= l && dy.last() == w, "pad_time_bwd: shapes");
        let p = GlueP {
            y: dx.addr,
            y_w: (l * w) as i64,
            x: dy.addr,
            x_w: (l2 * w) as i64,
            d0: b as i64,
            d1: (l * w) as i64,
            acc: 1,
            ..Default::default()
        };
        self.launch1("copy_cols", b * l * w, p);
    }
    fn time_slice_bwd(&self, dx: &mut GpuBuf<D>, dy: &GpuBuf<D>, t: usize) {
        let (b, l, w) = (dx.dim0(), dx.shape[1], dx.last());
        assert!(t < l && dy.len == b * w, "time_slice_bwd: shapes / t");
        let p = GlueP {
            y: dx.addr,
            y_w: (l * w) as i64,
            y_off: (t * w) as i64,
            x: dy.addr,
            x_w: w as i64,
            d0: b as i64,
            d1: w as i64,
            acc: 1,
            ..Default::default()
        };
        self.launch1("copy_cols", b * w, p);
    }
    fn dropout_mask(&self, mask: &mut GpuBuf<D>, cfg: DropoutCfg<'_>, site: u32) {
        self.dropout_into(mask, None, cfg, site);
    }
}

impl<D: Device> Backend for Gpu<D> {
    type ParamBuf = Box<GpuBuf<D>>;
    fn params_from_host(&self, host: &[f32]) -> Box<GpuBuf<D>> {
        Box::new(self.from_host(host, &[host.len()]))
    }
    fn params_upload(&self, p: &mut GpuBuf<D>, host: &[f32]) {
        self.upload(p, host);
    }
    fn params_download(&self, p: &GpuBuf<D>, host: &mut [f32]) {
        self.download(p, host);
    }
    fn reverse_time_acc(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>) {
        self.reverse(y, x, true);
    }
    fn mean_time_bwd(&self, dx: &mut GpuBuf<D>, dy: &GpuBuf<D>) {
        let (b, l, d) = (dx.shape[0], dx.shape[1], dx.last());
        same("mean_time_bwd", dy.len, b * d);
        let p = GlueP {
            y: dx.addr,
            x: dy.addr,
            d0: b as i64,
            d1: l as i64,
            d2: d as i64,
            s: 1.0 / l as f32,
            ..Default::default()
        };
        self.launch1("mean_time_bwd", dx.len, p);
    }
    fn chunk_mean_bwd(&self, dx: &mut GpuBuf<D>, dy: &GpuBuf<D>, cs: usize) {
        let (b, l, w) = (dx.dim0(), dx.shape[1], dx.last());
        let nc = l.div_ceil(cs.max(1));
        same("chunk_mean_bwd", dy.len, b * nc * w);
        let p = GlueP {
            y: dx.addr,
            x: dy.addr,
            d0: b as i64,
            d1: l as i64,
            d2: w as i64,
            y_w: cs as i64,
            x_w: nc as i64,
            ..Default::default()
        };
        self.launch1("chunk_mean_bwd", dx.len, p);
    }
    fn scale_segments_bwd(
        &self,
        dx: &mut GpuBuf<D>,
        ds: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        x: &GpuBuf<D>,
        s: &GpuBuf<D>,
        segs: &[Segment],
    ) {
        same("scale_segments_bwd", dx.len, x.len);
        same("scale_segments_bwd dy", dy.len, x.len);
        same("scale_segments_bwd ds", ds.len, s.len);
        let p = SegP {
            y: dx.addr,
            ds: ds.addr,
            dy: dy.addr,
            ..seg_params(x, s, segs)
        };
        self.launch1("scale_seg_bwd_dx", dx.len, p);
        self.launch1("scale_seg_bwd_ds", ds.len, p);
    }
    fn add_param_row_bwd(&self, g: &mut GpuBuf<D>, range: Range<usize>, dy: &GpuBuf<D>) {
        same("add_param_row_bwd", range.len(), dy.last());
        assert!(
            range.end <= g.len,
            "add_param_row_bwd: range outside the gradients"
        );
        let mut sc = self.scratch();
        self.col_sum(
            &mut sc,
            g.at(range.start),
            dy.addr,
            0,
            0,
            dy.rows(),
            dy.last(),
            0,
        );
    }
    fn act_bwd(&self, act: Act, dx: &mut GpuBuf<D>, dy: &GpuBuf<D>, saved: &GpuBuf<D>) {
        same("act_bwd", dx.len, dy.len);
        same("act_bwd", dx.len, saved.len);
        let p = EwP {
            y: dx.addr,
            a: dy.addr,
            b: saved.addr,
            n: dx.len as i64,
            op: act as i32,
            ..Default::default()
        };
        self.launch1("act_bwd", dx.len, p);
    }
    fn neg_exp_bwd(&self, g: &mut GpuBuf<D>, range: Range<usize>, da: &GpuBuf<D>, a: &GpuBuf<D>) {
        same("neg_exp_bwd", da.len, range.len());
        assert!(
            range.end <= g.len,
            "neg_exp_bwd: range outside the gradients"
        );
        self.ew(
            ew::MUL_ACC,
            g.at(range.start),
            da.addr,
            a.addr,
            da.len,
            1,
            0.0,
        );
    }
    fn linear_bwd(
        &self,
        dx: Option<&mut GpuBuf<D>>,
        g: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        x: &GpuBuf<D>,
        p: &GpuBuf<D>,
        lin: &LinearP,
    ) {
        let (rows, din, dout) = (x.rows(), lin.d_in, lin.d_out);
        same("linear_bwd rows", dy.rows(), rows);
        assert_eq!(dy.last(), dout, "linear_bwd: dy width");
        let mut sc = self.scratch();
        if let Some(b) = &lin.b {
            self.col_sum(&mut sc, g.at(b.start), dy.addr, 0, 0, rows, dout, 0);
        }
        if let Some(dx) = dx {
            same("linear_bwd dx", dx.len, x.len);
            // dx (rows×in) += dy (rows×out)·W (out×in)
            self.gemm(
                &mut sc,
                Mm {
                    m: rows,
                    n: din,
                    k: dout,
                    a: dy.addr,
                    a_s: (dout, 1),
                    b: p.at(lin.w.start),
                    b_s: (din, 1),
                    c: dx.addr,
                    c_rs: din,
                    alpha: 1.0,
                    beta: 1.0,
                    batch: None,
                },
            );
        }
        // dW (out×in) += dyᵀ (out×rows)·x (rows×in)
        self.gemm(
            &mut sc,
            Mm {
                m: dout,
                n: din,
                k: rows,
                a: dy.addr,
                a_s: (1, dout),
                b: x.addr,
                b_s: (din, 1),
                c: g.at(lin.w.start),
                c_rs: din,
                alpha: 1.0,
                beta: 1.0,
                batch: None,
            },
        );
    }
    fn rmsnorm_bwd(
        &self,
        dx: &mut GpuBuf<D>,
        g: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        x: &GpuBuf<D>,
        rstd: &GpuBuf<D>,
        p: &GpuBuf<D>,
        w: Range<usize>,
    ) {
        let (rows, d) = (x.rows(), x.last());
        same("rmsnorm_bwd", dx.len, x.len);
        let q = RowP {
            y: dx.addr,
            aux: rstd.addr,
            x: x.addr,
            w: p.at(w.start),
            z: dy.addr,
            rows: rows as i64,
            d: d as i64,
            ..Default::default()
        };
        self.launch1("rmsnorm_bwd_dx", rows * 32, q);
        let mut sc = self.scratch();
        self.col_sum(
            &mut sc,
            g.at(w.start),
            dy.addr,
            x.addr,
            rstd.addr,
            rows,
            d,
            1,
        );
    }
    fn layernorm_bwd(
        &self,
        dx: &mut GpuBuf<D>,
        g: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        x: &GpuBuf<D>,
        [mean, rstd]: [&GpuBuf<D>; 2],
        p: &GpuBuf<D>,
        [w, b]: [Range<usize>; 2],
    ) {
        let (rows, d) = (x.rows(), x.last());
        same("layernorm_bwd", dx.len, x.len);
        same("layernorm_bwd dy", dy.len, x.len);
        let q = LnP {
            y: dx.addr,
            mean: mean.addr,
            rstd: rstd.addr,
            x: x.addr,
            w: p.at(w.start),
            dy: dy.addr,
            rows: rows as i64,
            d: d as i64,
            ..Default::default()
        };
        self.launch1("layernorm_bwd_dx", rows * 32, q);
        let mut sc = self.scratch();
        // dW = Σ dy·(x − μ)·rstd, db = Σ dy
        self.col_sum_ln(
            &mut sc,
            g.at(w.start),
            dy.addr,
            x.addr,
            [mean.addr, rstd.addr],
            rows,
            d,
        );
        self.col_sum(&mut sc, g.at(b.start), dy.addr, 0, 0, rows, d, 0);
    }
    fn conv1d_bwd(
        &self,
        dx: &mut GpuBuf<D>,
        g: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        x: &GpuBuf<D>,
        p: &GpuBuf<D>,
        conv: &ConvP,
    ) {
        assert!(conv.k <= 16, "gpu conv1d: kernel size {} > 16", conv.k);
        let (b, l, e, k) = (x.dim0(), x.shape[1], conv.e, conv.k);
        let rows = b * l;
        let chunk = 32usize.max(rows.div_ceil(256));
        let chunks = rows.div_ceil(chunk);
        let mut sc = self.scratch();
        let per = e * k + e;
        let ws = sc.get(Slot::Partials, chunks * per * 4);
        let q = params::ConvP {
            y: dx.addr,
            ws,
            hist: 0,
            x: dy.addr,
            w: p.at(conv.w.start),
            bias: 0,
            b: b as i64,
            l: l as i64,
            e: e as i64,
            k: k as i64,
            chunk: chunk as i64,
            chunks: chunks as i64,
        };
        self.launch1("conv1d_bwd_dx", x.len, q);
        // the dw partial reads the forward input through `y`
        self.launch1(
            "conv1d_dw_partial",
            chunks * e,
            params::ConvP { y: x.addr, ..q },
        );
        self.col_final(g.at(conv.w.start), ws, chunks, e * k, per, 0);
        self.col_final(g.at(conv.b.start), ws, chunks, e, per, e * k);
    }
    fn scan_bwd(
        &self,
        grads: ScanGradBufs<'_, Self>,
        g: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        dh_last: Option<&GpuBuf<D>>,
        states: Option<&GpuBuf<D>>,
        sx: ScanInputs<'_, Self>,
        p: &GpuBuf<D>,
        d: Range<usize>,
        dims: ScanP,
    ) {
        let (b, l, e, n) = (sx.x.dim0(), sx.x.shape[1], dims.e, dims.n);
        let mut sc = self.scratch();
        let st = match states {
            Some(s) => s.addr,
            None => {
                // recompute the states into scratch
                let st = sc.get(Slot::ScanStates, b * (l + 1) * e * n * 4);
                let ys = sc.get(Slot::ScanY, b * l * e * 4);
                self.scan_launch(ys, 0, st, &sx, p.at(d.start), dims, b, l);
                st
            }
        };
        let dbm = sc.get(Slot::ScanB, b * l * n * e * 4);
        let dcm = sc.get(Slot::ScanC, b * l * n * e * 4);
        let parts = sc.get(Slot::Partials, (b * e * n + b * e) * 4);
        let (da_part, dd_part) = (parts, parts + 4 * (b * e * n) as u64);
        let q = ScanBwdP {
            dx: grads.dx.addr,
            ddelta: grads.ddelta.addr,
            dbm_part: dbm,
            dcm_part: dcm,
            da_part,
            dd_part,
            dh0: grads.dh0.map_or(0, |h| h.addr),
            dy: dy.addr,
            dh_last: dh_last.map_or(0, |h| h.addr),
            states: st,
            x: sx.x.addr,
            delta: sx.delta.addr,
            a: sx.a.addr,
            bm: sx.bm.addr,
            cm: sx.cm.addr,
            d: p.at(d.start),
            b: b as i64,
            l: l as i64,
            e: e as i64,
            n: n as i64,
            a_stride: dims.a_row_stride as i64,
            dt_on_b: i32::from(dims.dt_on_b),
            reverse: i32::from(dims.reverse),
        };
        self.launch1("scan_bwd", Self::scan_threads(b, e, n), q);
        // dB, dC (B, L, N) += Σ_e of the (B·L, E, N) contributions
        for (dst, src) in [(grads.dbm.addr, dbm), (grads.dcm.addr, dcm)] {
            let r = ColP {
                g: dst,
                x: src,
                rows: (b * l) as i64,
                d: n as i64,
                chunks: e as i64,
                ..Default::default()
            };
            self.launch1("group_sum_rows", b * l * n, r);
        }
        if dims.a_row_stride == 0 {
            self.col_final(grads.da.addr, da_part, b * e, n, n, 0);
        } else {
            self.col_final(grads.da.addr, da_part, b, e * n, e * n, 0);
        }
        self.col_final(g.at(d.start), dd_part, b, e, e, 0);
    }
    fn attention_bwd(
        &self,
        dq: &mut GpuBuf<D>,
        dk: &mut GpuBuf<D>,
        dv: &mut GpuBuf<D>,
        dout: &GpuBuf<D>,
        [q, k, v]: [&GpuBuf<D>; 3],
        probs: &GpuBuf<D>,
        drop_mask: Option<&GpuBuf<D>>,
        heads: usize,
    ) {
        let (b, l, d) = (q.dim0(), q.shape[1], q.last());
        let dh = d / heads;
        let hv = HeadViews { l, d, dh, heads };
        let bh = (b, heads);
        let mut sc = self.scratch();
        let pv = match drop_mask {
            Some(m) => {
                let pv = sc.get(Slot::Probs, probs.len * 4);
                self.ew(ew::MUL, pv, probs.addr, m.addr, probs.len, 1, 0.0);
                pv
            }
            None => probs.addr,
        };
        let (dout_h, dp) = (hv.tok(dout.addr), sc.get(Slot::Rows, probs.len * 4));
        // dV_h += P̃ᵀ·dO_h
        self.head_mm(
            &mut sc,
            (l, dh, l),
            hv.sq_t(pv),
            dout_h,
            hv.tok(dv.addr),
            true,
            bh,
        );
        // dP = dO_h·V_hᵀ (⊙ mask), then the softmax backward in place
        self.head_mm(
            &mut sc,
            (l, l, dh),
            dout_h,
            hv.tok_t(v.addr),
            hv.sq(dp),
            false,
            bh,
        );
        if let Some(m) = drop_mask {
            self.ew(ew::MUL, dp, dp, m.addr, probs.len, 1, 0.0);
        }
        let r = RowP {
            y: dp,
            x: probs.addr,
            rows: (b * heads * l) as i64,
            d: l as i64,
            scale: (dh as f32).sqrt(),
            ..Default::default()
        };
        self.launch1("softmax_bwd_rows", b * heads * l * 32, r);
        // dQ_h += dS·K_h, dK_h += dSᵀ·Q_h
        self.head_mm(
            &mut sc,
            (l, dh, l),
            hv.sq(dp),
            hv.tok(k.addr),
            hv.tok(dq.addr),
            true,
            bh,
        );
        self.head_mm(
            &mut sc,
            (l, dh, l),
            hv.sq_t(dp),
            hv.tok(q.addr),
            hv.tok(dk.addr),
            true,
            bh,
        );
    }
    fn chunk_pool_bwd(
        &self,
        du: &mut GpuBuf<D>,
        dscores: &mut GpuBuf<D>,
        ds: &GpuBuf<D>,
        u: &GpuBuf<D>,
        wts: &GpuBuf<D>,
    ) {
        let (b, nc, f) = (ds.dim0(), ds.shape[1], ds.last());
        let rows = u.shape[1];
        same("chunk_pool_bwd du", du.len, u.len);
        same("chunk_pool_bwd dscores", dscores.len, b * rows);
        let p = PoolP {
            du: du.addr,
            dscores: dscores.addr,
            u: u.addr,
            wts: wts.addr,
            ds: ds.addr,
            chunks: (b * nc) as i64,
            nc: nc as i64,
            cs: (rows / nc.max(1)) as i64,
            f: f as i64,
            valid: -1,
            ..Default::default()
        };
        self.launch1("chunk_pool_bwd", b * nc * 32, p);
    }
    fn qproj_bwd(
        &self,
        dx: Option<&mut GpuBuf<D>>,
        g: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        x: &GpuBuf<D>,
        p: &GpuBuf<D>,
        qp: &QProjP,
    ) {
        let q = &qp.qp;
        let rows = x.len / q.d_in.max(1);
        same("qproj_bwd: x", x.len, rows * q.d_in);
        same("qproj_bwd: dy", dy.len, rows * q.d_out);
        if let Some(d) = &dx {
            same("qproj_bwd: dx", d.len, rows * q.d_in);
        }
        if rows == 0 {
            return;
        }
        let base = self.qproj_args(p, qp);
        let mut sc = self.scratch();
        let ws = sc.get(Slot::Partials, rows * base.per as usize * 8);
        let a = QProjArgs {
            dx: dx.map_or(0, |d| d.addr),
            ws,
            gw: g.at(qp.w.start),
            gg: g.at_or_null(&qp.gamma),
            gb: g.at_or_null(&qp.beta),
            x: x.addr,
            dy: dy.addr,
            rows: rows as i64,
            ..base
        };
        self.warp_rows_launch("qproj_bwd", rows, 32 << q.n, q.n, a);
        self.launch1("qproj_reduce", a.per as usize, a);
    }
    fn circuit_bwd(
        &self,
        dtheta: &mut GpuBuf<D>,
        denc: Option<&mut GpuBuf<D>>,
        dm: &GpuBuf<D>,
        states: Option<&GpuBuf<D>>,
        theta: &GpuBuf<D>,
        enc: Option<&GpuBuf<D>>,
        prog: &Program,
    ) {
        let mut p = circuit_params(prog, theta, enc);
        same("circuit_bwd dm", dm.len, theta.rows() * 3 * prog.n_qubits);
        same("circuit_bwd dtheta", dtheta.len, theta.len);
        p.dm = dm.addr;
        p.dtheta = dtheta.addr;
        if let Some(de) = denc {
            same("circuit_bwd denc", de.len, theta.rows() * prog.n_enc);
            p.denc = de.addr;
        }
        if let Some(s) = states {
            same(
                "circuit_bwd states",
                s.len,
                theta.rows() * circuit_state_words(prog.n_qubits),
            );
            p.states = s.addr;
        }
        self.circuit_launch("circuit_bwd", prog, p);
    }
    fn gated_cell_bwd(
        &self,
        dpre: &mut GpuBuf<D>,
        dh_prev: Option<&mut GpuBuf<D>>,
        dh: &GpuBuf<D>,
        [gates, tc]: [&GpuBuf<D>; 2],
        h_prev: Option<&GpuBuf<D>>,
    ) {
        same("gated_cell_bwd dpre", dpre.len, 4 * dh.len);
        same("gated_cell_bwd gates", gates.len, 4 * dh.len);
        same("gated_cell_bwd tc", tc.len, dh.len);
        let p = CellP {
            gates: gates.addr,
            tc: tc.addr,
            dpre: dpre.addr,
            dh_prev: dh_prev.map_or(0, |x| x.addr),
            h_prev: h_prev.map_or(0, |x| x.addr),
            dh: dh.addr,
            b: dh.rows() as i64,
            hd: dh.last() as i64,
            ..Default::default()
        };
        self.launch1("gated_cell_bwd", dh.len, p);
    }
    fn row_mean_bwd(&self, dx: &mut GpuBuf<D>, dy: &GpuBuf<D>) {
        same("row_mean_bwd", dy.len, dx.rows());
        let q = RowP {
            y: dx.addr,
            x: dy.addr,
            rows: dx.rows() as i64,
            d: dx.last() as i64,
            ..Default::default()
        };
        self.launch1("row_mean_bwd", dx.len, q);
    }
    fn l2_normalize_bwd(
        &self,
        dx: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        x: &GpuBuf<D>,
        norm: &GpuBuf<D>,
    ) {
        same("l2_normalize_bwd", dx.len, x.len);
        same("l2_normalize_bwd dy", dy.len, x.len);
        let q = RowP {
            y: dx.addr,
            aux: norm.addr,
            x: x.addr,
            z: dy.addr,
            rows: x.rows() as i64,
            d: x.last() as i64,
            ..Default::default()
        };
        self.launch1("l2norm_bwd", x.rows() * 32, q);
    }
    fn circuit_bwd_state(
        &self,
        dtheta: &mut GpuBuf<D>,
        denc: Option<&mut GpuBuf<D>>,
        gstate: &GpuBuf<D>,
        states: &GpuBuf<D>,
        theta: &GpuBuf<D>,
        enc: Option<&GpuBuf<D>>,
        prog: &Program,
    ) {
        let mut p = circuit_params(prog, theta, enc);
        let words = theta.rows() * circuit_state_words(prog.n_qubits);
        same("circuit_bwd_state dtheta", dtheta.len, theta.len);
        same("circuit_bwd_state states", states.len, words);
        same("circuit_bwd_state gstate", gstate.len, words);
        p.dtheta = dtheta.addr;
        if let Some(de) = denc {
            same("circuit_bwd_state denc", de.len, theta.rows() * prog.n_enc);
            p.denc = de.addr;
        }
        p.states = states.addr;
        p.gstate = gstate.addr;
        self.circuit_launch("circuit_bwd", prog, p);
    }
    fn circuit_from_bwd(
        &self,
        dtheta: &mut GpuBuf<D>,
        ginit: &mut GpuBuf<D>,
        dm: &GpuBuf<D>,
        states: &GpuBuf<D>,
        theta: &GpuBuf<D>,
        prog: &Program,
    ) {
        let mut p = circuit_params(prog, theta, None);
        let words = theta.rows() * circuit_state_words(prog.n_qubits);
        same("circuit_from_bwd dtheta", dtheta.len, theta.len);
        same(
            "circuit_from_bwd dm",
            dm.len,
            theta.rows() * 3 * prog.n_qubits,
        );
        same("circuit_from_bwd states", states.len, words);
        same("circuit_from_bwd ginit", ginit.len, words);
        p.dtheta = dtheta.addr;
        p.dm = dm.addr;
        p.states = states.addr;
        p.ginit = ginit.addr;
        self.circuit_launch("circuit_bwd", prog, p);
    }
    fn lcu_bwd(
        &self,
        gstates: &mut GpuBuf<D>,
        g: &mut GpuBuf<D>,
        gphi: &GpuBuf<D>,
        states: &GpuBuf<D>,
        p: &GpuBuf<D>,
        mix: Range<usize>,
    ) {
        same("lcu_bwd gstates", gstates.len, states.len);
        let base = lcu_params(gphi, states, p, &mix);
        let mut sc = self.scratch();
        let ws = sc.get(
            Slot::Partials,
            (base.rows * i64::from(base.nc)) as usize * 2 * 8,
        );
        let q = LcuP {
            gst: gstates.addr,
            g: g.addr,
            gphi: gphi.addr,
            ws,
            ..base
        };
        self.warp_rows_launch("lcu_bwd", q.rows as usize, 16usize << q.q, q.q as usize, q);
        self.launch("lcu_coeffs", [1, 1, 1], 32, q);
    }
    fn s3_measure_bwd(
        &self,
        [g0, g1, g2]: [&mut GpuBuf<D>; 3],
        g: &mut GpuBuf<D>,
        dm: &GpuBuf<D>,
        states: [&GpuBuf<D>; 3],
        p: &GpuBuf<D>,
        coeffs: usize,
    ) {
        for gs in [&*g0, &*g1, &*g2] {
            same("s3_measure_bwd gstates", gs.len, states[0].len);
        }
        let base = s3_params(dm.len, states, p, coeffs);
        let mut sc = self.scratch();
        let ws = sc.get(Slot::Partials, base.rows as usize * 6 * 8);
        let q = S3P {
            g0: g0.addr,
            g1: g1.addr,
            g2: g2.addr,
            g: g.addr,
            ws,
            dm: dm.addr,
            ..base
        };
        self.s3_launch("s3_bwd", q);
        self.launch("s3_coeffs", [1, 1, 1], 32, q);
    }
    fn superpose_bwd(
        &self,
        [dx0, dx1, dx2]: [&mut GpuBuf<D>; 3],
        g: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        xs: [&GpuBuf<D>; 3],
        p: &GpuBuf<D>,
        sp: &SuperposeP,
    ) {
        let q = self.superpose_params(dy.len, xs, p, sp);
        for dx in [&*dx0, &*dx1, &*dx2] {
            same("superpose_bwd dx", dx.len, xs[0].len);
        }
        let mut sc = self.scratch();
        let ws = sc.get(Slot::Partials, SUM_BLOCKS as usize * 6 * 8);
        let q = SupP {
            dx0: dx0.addr,
            dx1: dx1.addr,
            dx2: dx2.addr,
            g: g.addr,
            dy: dy.addr,
            ws,
            blocks: i64::from(SUM_BLOCKS),
            ..q
        };
        self.launch("superpose_bwd", [SUM_BLOCKS, 1, 1], THREADS, q);
        self.launch("superpose_bwd_coeffs", [1, 1, 1], 32, q);
    }
    fn mix_l1_bwd(
        &self,
        [dx0, dx1, dx2]: [&mut GpuBuf<D>; 3],
        g: &mut GpuBuf<D>,
        dy: &GpuBuf<D>,
        xs: [&GpuBuf<D>; 3],
        p: &GpuBuf<D>,
        coeffs: [usize; 3],
        eps: f32,
    ) {
        for x in xs {
            same("mix_l1_bwd", dy.len, x.len);
        }
        let mut sc = self.scratch();
        let ws = sc.get(Slot::Partials, SUM_BLOCKS as usize * 3 * 8);
        self.sum_partial(ws, dy.addr, xs.map(|x| x.addr), dy.len, 1);
        let q = MixP {
            y: dx0.addr,
            dx1: dx1.addr,
            dx2: dx2.addr,
            g: g.addr,
            x0: dy.addr,
            params: p.addr,
            ws,
            n: dy.len as i64,
            i0: coeffs[0] as i64,
            i1: coeffs[1] as i64,
            i2: coeffs[2] as i64,
            blocks: i64::from(SUM_BLOCKS),
            eps,
            ..Default::default()
        };
        self.launch1("mix_bwd_dx", dy.len, q);
        self.launch("mix_bwd_coeffs", [1, 1, 1], 32, q);
    }
    fn loss(&self, dout: &mut GpuBuf<D>, out: &GpuBuf<D>, targets: Targets<'_>) -> f32 {
        same("loss", dout.len, out.len);
        let k = out.last();
        let rows = out.rows();
        let mut sc = self.scratch();
        let (b, classes, values, mse) = match targets {
            Targets::Classes(y) => {
                assert!(y.iter().all(|&c| c < k), "loss: class index out of range");
                let c: Vec<i32> = y.iter().map(|&c| c as i32).collect();
                // SAFETY: i32 as bytes
                let bytes =
                    unsafe { core::slice::from_raw_parts(c.as_ptr() as *const u8, c.len() * 4) };
                (y.len(), sc.write(Slot::Host, bytes), 0, 0)
            }
            Targets::Values(v) => (v.len() / k.max(1), 0, sc.write(Slot::Host, f32_bytes(v)), 1),
        };
        assert!(b <= rows, "loss: more targets than outputs");
        let losses = sc.get(Slot::Rows, rows.max(1) * 4);
        let q = LossP {
            dout: dout.addr,
            losses,
            out: out.addr,
            values,
            classes,
            b: b as i64,
            rows: rows as i64,
            k: k as i64,
            scale: 1.0 / b as f32,
            mse,
        };
        self.launch1("loss_rows", rows, q);
        let mut per = vec![0.0f32; b];
        sc.read(Slot::Rows, f32_bytes_mut(&mut per));
        per.iter().sum::<f32>() / b as f32
    }
    fn zero_params(&self, g: &mut GpuBuf<D>) {
        self.ew(ew::FILL, g.addr, 0, 0, g.len, 1, 0.0);
    }
    fn grad_norm(&self, g: &GpuBuf<D>) -> f64 {
        let mut sc = self.scratch();
        let ws = sc.get(Slot::Partials, SUM_BLOCKS as usize * 8);
        self.sum_partial(ws, g.addr, [0; 3], g.len, 0);
        let mut part = vec![0.0f64; SUM_BLOCKS as usize];
        // SAFETY: f64 as bytes
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(part.as_mut_ptr() as *mut u8, part.len() * 8)
        };
        sc.read(Slot::Partials, bytes);
        part.iter().sum::<f64>().sqrt()
    }
    fn scale_params(&self, g: &mut GpuBuf<D>, c: f32) {
        self.ew(ew::SCALE, g.addr, 0, 0, g.len, 1, c);
    }
    fn adam_step(&self, b: AdamBufs<'_, Self>, max_norm: Option<f32>, s: &AdamScalars) {
        let n = b.p.len;
        for (what, len) in [
            ("g", b.g.len),
            ("m", b.m.len),
            ("v", b.v.len),
            ("active", b.active.len),
        ] {
            same(what, n, len);
        }
        let mut sc = self.scratch();
        let parts = match max_norm {
            Some(_) => {
                let ws = sc.get(Slot::Partials, SUM_BLOCKS as usize * 8);
                self.sum_partial(ws, b.g.addr, [0; 3], n, 0);
                ws
            }
            None => 0,
        };
        let q = AdamP {
            p: b.p.addr,
            g: b.g.addr,
            m: b.m.addr,
            v: b.v.addr,
            active: b.active.addr,
            norm_parts: parts,
            n: n as i64,
            n_parts: i64::from(SUM_BLOCKS),
            max_norm: max_norm.unwrap_or(0.0),
            clip: i32::from(max_norm.is_some()),
            neg_step: s.neg_step,
            bc2_sqrt: s.bc2_sqrt,
            w1: s.w1,
            b2: s.b2,
            c2: s.c2,
            eps: s.eps,
            decay: s.decay,
            wd: s.wd,
            mode: s.mode as u32,
            pad: 0,
        };
        self.launch1("adam_step", n, q);
    }
}

impl<D: Device> Gpu<D> {
    /// dst\[r, off_d + c\] = src\[r, off_s + c\] for c < w; (address, row width, offset) each.
    fn copy_cols(&self, dst: (u64, usize, usize), src: (u64, usize, usize), rows: usize, w: usize) {
        let p = GlueP {
            y: dst.0,
            y_w: dst.1 as i64,
            y_off: dst.2 as i64,
            x: src.0,
            x_w: src.1 as i64,
            x_off: src.2 as i64,
            d0: rows as i64,
            d1: w as i64,
            ..Default::default()
        };
        self.launch1("copy_cols", rows * w, p);
    }
    /// (B, L, W): y\[b, t\] (+)= x\[b, L−1−t\].
    fn reverse(&self, y: &mut GpuBuf<D>, x: &GpuBuf<D>, acc: bool) {
        same("reverse_time", y.len, x.len);
        let p = GlueP {
            y: y.addr,
            x: x.addr,
            d0: x.dim0() as i64,
            d1: x.shape[1] as i64,
            d2: x.last() as i64,
            acc: i32::from(acc),
            ..Default::default()
        };
        self.launch1("reverse_time", x.len, p);
    }
    fn dropout_into(&self, mask: &mut GpuBuf<D>, x: Option<u64>, cfg: DropoutCfg<'_>, site: u32) {
        let b = mask.dim0();
        assert_eq!(cfg.seeds.len(), b, "dropout: one seed per sample");
        let mut sc = self.scratch();
        // SAFETY: u64 as bytes
        let seeds = unsafe {
            core::slice::from_raw_parts(cfg.seeds.as_ptr() as *const u8, cfg.seeds.len() * 8)
        };
        let seeds = sc.write(Slot::Host, seeds);
        let q = DropP {
            mask: mask.addr,
            x: x.unwrap_or(0),
            seeds,
            per: (mask.len / b.max(1)).max(1) as i64,
            n: mask.len as i64,
            thr: super::dropout_threshold(cfg.p),
            keep: 1.0 / (1.0 - cfg.p),
            site,
        };
        self.launch1("dropout_mask", mask.len, q);
    }
}

/// The [`CircP`] of `prog` over θ (R, K) and e (R, n_enc): its gates encoded inline.
fn circuit_params<D: Device>(prog: &Program, theta: &GpuBuf<D>, enc: Option<&GpuBuf<D>>) -> CircP {
    assert!(
        prog.gates.len() <= CIRCUIT_MAX_GATES,
        "gpu circuit: {} gates > {CIRCUIT_MAX_GATES}",
        prog.gates.len()
    );
    assert_eq!(theta.last(), prog.n_theta, "circuit: θ is not (R, K)");
    let rows = theta.rows();
    match enc {
        Some(e) => same("circuit e", e.len, rows * prog.n_enc),
        None => assert_eq!(prog.n_enc, 0, "circuit: the program has encoding gates"),
    }
    let mut gates = [0u32; CIRCUIT_MAX_GATES];
    for (slot, g) in gates.iter_mut().zip(&prog.gates) {
        let (kind, ctrl) = match g.kind {
            GateKind::Rx => (0, 0),
            GateKind::Ry => (1, 0),
            GateKind::Rz => (2, 0),
            GateKind::Crx { ctrl } => (3, u32::from(ctrl)),
        };
        let (src, idx) = match g.angle {
            AngleSrc::Theta(i) => (0, u32::from(i)),
            AngleSrc::Enc(i) => (1, u32::from(i)),
        };
        *slot = kind | u32::from(g.target) << 2 | ctrl << 7 | src << 12 | idx << 16;
    }
    CircP {
        m: 0,
        dtheta: 0,
        denc: 0,
        theta: theta.addr,
        enc: enc.map_or(0, |e| e.addr),
        dm: 0,
        states: 0,
        gstate: 0,
        init: 0,
        ginit: 0,
        rows: rows as i64,
        q: prog.n_qubits as i32,
        k: prog.n_theta as i32,
        n_enc: prog.n_enc as i32,
        n_gates: prog.gates.len() as i32,
        gates,
    }
}

/// The [`SegP`] of `segs` over x (R, W) and s (R, S).
fn seg_params<D: Device>(x: &GpuBuf<D>, s: &GpuBuf<D>, segs: &[Segment]) -> SegP {
    assert!(
        segs.len() <= SEG_MAX,
        "scale_segments: at most {SEG_MAX} segments"
    );
    assert_eq!(
        segs.iter().map(|g| g.width).sum::<usize>(),
        x.last(),
        "scale_segments: widths"
    );
    assert_eq!(
        s.rows(),
        x.rows(),
        "scale_segments: one row of s per row of x"
    );
    let mut p = SegP {
        x: x.addr,
        s: s.addr,
        rows: x.rows() as i64,
        w: x.last() as i64,
        sw: s.last() as i64,
        n_seg: segs.len() as i32,
        ..Default::default()
    };
    for (i, g) in segs.iter().enumerate() {
        assert!(
            g.scale.is_none_or(|k| k < s.last()),
            "scale_segments: scale column"
        );
        p.width[i] = g.width as i32;
        p.period[i] = g.period.max(1) as i32;
        p.prefix[i] = g.prefix as i32;
        p.scale[i] = g.scale.map_or(-1, |k| k as i32);
    }
    p
}

/// The shared part of an [`S3P`]: three (R, 4·2^Q)-word states, m or dm of `n` = R·3Q values.
/// The shapes of an LCU: φ (B, words), states (B, nc, words), nc = the complex `mix` pairs.
fn lcu_params<D: Device>(
    phi: &GpuBuf<D>,
    states: &GpuBuf<D>,
    p: &GpuBuf<D>,
    mix: &Range<usize>,
) -> LcuP {
    let sw = states.last();
    let amps = sw / 4;
    assert!(
        amps.is_power_of_two() && amps >= 2,
        "lcu: states are not (B, nc, 4·2^Q) words"
    );
    let rows = phi.len / sw;
    same("lcu φ", phi.len, rows * sw);
    let nc = mix.len() / 2;
    same("lcu states", states.len, rows * nc * sw);
    assert!(mix.end <= p.len, "lcu: mix_coeffs outside the parameters");
    LcuP {
        states: states.addr,
        params: p.addr,
        rows: rows as i64,
        mix: mix.start as i64,
        nc: nc as i32,
        q: amps.trailing_zeros() as i32,
        ..Default::default()
    }
}

fn s3_params<D: Device>(n: usize, states: [&GpuBuf<D>; 3], p: &GpuBuf<D>, coeffs: usize) -> S3P {
    let sw = states[0].last();
    let amps = sw / 4;
    assert!(
        amps.is_power_of_two() && amps >= 2,
        "s3: states are not (R, 4·2^Q) words"
    );
    let q = amps.trailing_zeros() as usize;
    let rows = states[0].rows();
    for s in states {
        same("s3 states", s.len, rows * sw);
    }
    same("s3 m", n, rows * 3 * q);
    assert!(
        coeffs + 6 <= p.len,
        "s3: coefficients outside the parameters"
    );
    S3P {
        s0: states[0].addr,
        s1: states[1].addr,
        s2: states[2].addr,
        params: p.addr,
        rows: rows as i64,
        coeffs: coeffs as i64,
        q: q as i32,
        ..Default::default()
    }
}
