//! The kernels' parameter structs, field for field as in `kernels/cuda/*.cu` (pointers are
//! device addresses, `u64`; 0 is null). Each is passed by value to one launch.
#![allow(missing_docs)] // each field is documented once, in the `.cu` file it mirrors

/// A device address (0 = null).
pub type Ptr = u64;

/// Marks a struct that a kernel takes by value: `#[repr(C)]`, plain data, no padding left
/// implicit.
///
/// # Safety
/// The implementor must be `#[repr(C)]` and laid out exactly as its C mirror.
pub unsafe trait KernelParams: Copy + Send + Sync + 'static {}

macro_rules! kernel_params {
    ($($(#[$m:meta])* pub struct $name:ident { $($f:ident : $t:ty),* $(,)? })*) => {$(
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name { $(pub $f: $t),* }
        // SAFETY: #[repr(C)], fields in the order of the C struct (checked by the emulation
        // tests, which run the same sources)
        unsafe impl KernelParams for $name {}
    )*};
}

kernel_params! {
    /// `elementwise.cu` (`ew`, `act_fwd`, `act_bwd`)
    pub struct EwP { y: Ptr, a: Ptr, b: Ptr, n: i64, d: i64, s: f32, op: i32 }
    /// `elementwise.cu` (`dropout_mask`)
    pub struct DropP { mask: Ptr, x: Ptr, seeds: Ptr, per: i64, n: i64, thr: u64, keep: f32, site: u32 }
    /// `glue.cu`
    pub struct GlueP {
        y: Ptr, x: Ptr, d0: i64, d1: i64, d2: i64, y_w: i64, y_off: i64, x_w: i64, x_off: i64,
        s: f32, acc: i32, x2: Ptr,
    }
    /// `gemm.cu`
    pub struct GemmP {
        a: Ptr, b: Ptr, c: Ptr, ws: Ptr,
        a_rs: i64, a_cs: i64, b_rs: i64, b_cs: i64, c_rs: i64,
        a_bs1: i64, a_bs2: i64, b_bs1: i64, b_bs2: i64, c_bs1: i64, c_bs2: i64,
        m: i32, n: i32, k: i32, inner: i32, splits: i32, k_chunk: i32,
        alpha: f32, beta: f32,
    }
    /// `rows.cu` (RMSNorm, softmax)
    pub struct RowP { y: Ptr, aux: Ptr, x: Ptr, w: Ptr, z: Ptr, rows: i64, d: i64, eps: f32, scale: f32 }
    /// `rows.cu` (LayerNorm)
    pub struct LnP {
        y: Ptr, mean: Ptr, rstd: Ptr, x: Ptr, w: Ptr, b: Ptr, dy: Ptr, rows: i64, d: i64,
        eps: f32, pad: i32,
    }
    /// `rows.cu` (column reductions)
    pub struct ColP {
        ws: Ptr, g: Ptr, x: Ptr, z: Ptr, aux: Ptr, aux2: Ptr,
        rows: i64, d: i64, chunk: i64, chunks: i64, ws_stride: i64, ws_off: i64,
        kind: i32, pad: i32,
    }
    /// `glue.cu` (`running_mean`, `running_count`)
    pub struct MeanStepP { y: Ptr, sum: Ptr, count: Ptr, x: Ptr, b: i64, l: i64, d: i64 }
    /// `conv.cu`
    pub struct ConvP {
        y: Ptr, ws: Ptr, hist: Ptr, x: Ptr, w: Ptr, bias: Ptr,
        b: i64, l: i64, e: i64, k: i64, chunk: i64, chunks: i64,
    }
    /// `scan.cu` (forward)
    pub struct ScanP {
        y: Ptr, h_last: Ptr, states: Ptr, x: Ptr, delta: Ptr, a: Ptr, bm: Ptr, cm: Ptr, d: Ptr, h0: Ptr,
        b: i64, l: i64, e: i64, n: i64, a_stride: i64, dt_on_b: i32, reverse: i32,
    }
    /// `scan.cu` (backward)
    pub struct ScanBwdP {
        dx: Ptr, ddelta: Ptr, dbm_part: Ptr, dcm_part: Ptr, da_part: Ptr, dd_part: Ptr, dh0: Ptr,
        dy: Ptr, dh_last: Ptr, states: Ptr, x: Ptr, delta: Ptr, a: Ptr, bm: Ptr, cm: Ptr, d: Ptr,
        b: i64, l: i64, e: i64, n: i64, a_stride: i64, dt_on_b: i32, reverse: i32,
    }
    /// `loss.cu` (`loss_rows`)
    pub struct LossP {
        dout: Ptr, losses: Ptr, out: Ptr, values: Ptr, classes: Ptr,
        b: i64, rows: i64, k: i64, scale: f32, mse: i32,
    }
    /// `loss.cu` (`sum_partial`)
    pub struct SumP { ws: Ptr, x: Ptr, x0: Ptr, x1: Ptr, x2: Ptr, n: i64, kind: i32, pad: i32 }
    /// `loss.cu` (the L1 mix)
    pub struct MixP {
        y: Ptr, dx1: Ptr, dx2: Ptr, g: Ptr, x0: Ptr, x1: Ptr, x2: Ptr, params: Ptr, ws: Ptr,
        n: i64, i0: i64, i1: i64, i2: i64, blocks: i64, eps: f32, pad: i32,
    }
    /// `optim.cu` (`adam_step`)
    pub struct AdamP {
        p: Ptr, g: Ptr, m: Ptr, v: Ptr, active: Ptr, norm_parts: Ptr,
        n: i64, n_parts: i64, max_norm: f32, clip: i32,
        neg_step: f32, bc2_sqrt: f32, w1: f32, b2: f32, c2: f32, eps: f32, decay: f32, wd: f32,
        mode: u32, pad: i32,
    }
    /// `quantum.cu` (the S3 core)
    pub struct S3P {
        m: Ptr, g0: Ptr, g1: Ptr, g2: Ptr, g: Ptr, ws: Ptr, s0: Ptr, s1: Ptr, s2: Ptr, dm: Ptr,
        params: Ptr, rows: i64, coeffs: i64, q: i32, pad: i32,
    }
    /// `quantum.cu` (2a's LCU)
    pub struct LcuP {
        phi: Ptr, gst: Ptr, ws: Ptr, g: Ptr, states: Ptr, gphi: Ptr, params: Ptr,
        rows: i64, mix: i64, nc: i32, q: i32,
    }
    /// `gated.cu`
    pub struct CellP {
        h: Ptr, gates: Ptr, tc: Ptr, dpre: Ptr, dh_prev: Ptr, pre: Ptr, h_prev: Ptr, dh: Ptr,
        b: i64, hd: i64,
    }
    /// `qproj.cu` (`qproj_fwd`, `qproj_bwd`, `qproj_reduce`)
    pub struct QProjArgs {
        y: Ptr, dx: Ptr, ws: Ptr, gw: Ptr, gg: Ptr, gb: Ptr, x: Ptr, dy: Ptr, w: Ptr,
        gamma: Ptr, beta: Ptr, rows: i64, d_in: i32, d_out: i32, n: i32, m: i32, layers: i32,
        affine: i32, rescale: i32, per: i32, ranges: [i32; QPROJ_MAX_LAYERS],
    }
    /// `quantum.cu` (chunk attention pooling)
    pub struct PoolP {
        s: Ptr, wts: Ptr, du: Ptr, dscores: Ptr, u: Ptr, scores: Ptr, ds: Ptr,
        chunks: i64, nc: i64, cs: i64, f: i64, valid: i64,
    }
    /// `quantum.cu` (`online_pool_fwd`: the streaming attention pool)
    pub struct OnlinePoolP {
        y: Ptr, m: Ptr, z: Ptr, acc: Ptr, u: Ptr, scores: Ptr, b: i64, l: i64, f: i64,
    }
    /// `quantum.cu` (superposition of three branches)
    pub struct SupP {
        y: Ptr, dx0: Ptr, dx1: Ptr, dx2: Ptr, g: Ptr, x0: Ptr, x1: Ptr, x2: Ptr, dy: Ptr,
        params: Ptr, ws: Ptr, rows: i64, w: i64, idx: [i64; 6], blocks: i64, eps: f32, mode: i32,
    }
}

/// Entangling layers a [`QProjArgs`] holds (`qproj.cu` `QPROJ_MAX_LAYERS`).
pub const QPROJ_MAX_LAYERS: usize = 16;

/// Segments a [`SegP`] holds (`glue.cu` `SEG_MAX`).
pub const SEG_MAX: usize = 8;

/// `glue.cu` (`scale_seg_*`)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SegP {
    pub y: Ptr,
    pub ds: Ptr,
    pub x: Ptr,
    pub s: Ptr,
    pub dy: Ptr,
    pub rows: i64,
    pub w: i64,
    pub sw: i64,
    pub n_seg: i32,
    pub width: [i32; SEG_MAX],
    pub period: [i32; SEG_MAX],
    pub prefix: [i32; SEG_MAX],
    pub scale: [i32; SEG_MAX],
    pub pad: i32,
}
// SAFETY: #[repr(C)], fields in the order of the C struct
unsafe impl KernelParams for SegP {}

/// Gates a [`CircP`] holds (`quantum.cu` `CIRCUIT_MAX_GATES`).
pub const CIRCUIT_MAX_GATES: usize = 256;

/// `quantum.cu` (`circuit_fwd`, `circuit_bwd`): the gates of the program inline, one `u32`
/// each: kind (0 RX, 1 RY, 2 RZ, 3 CRX) | target << 2 | control << 7 | source (0 θ,
/// 1 encoding) << 12 | angle index << 16.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CircP {
    pub m: Ptr,
    pub dtheta: Ptr,
    pub denc: Ptr,
    pub theta: Ptr,
    pub enc: Ptr,
    pub dm: Ptr,
    pub states: Ptr,
    pub gstate: Ptr,
    pub init: Ptr,
    pub ginit: Ptr,
    pub rows: i64,
    pub q: i32,
    pub k: i32,
    pub n_enc: i32,
    pub n_gates: i32,
    pub gates: [u32; CIRCUIT_MAX_GATES],
}
// SAFETY: #[repr(C)], fields in the order of the C struct
unsafe impl KernelParams for CircP {}

/// `EwP::op` values (elementwise.cu `EW_*`).
pub mod ew {
    pub const FILL: i32 = 0;
    pub const COPY: i32 = 1;
    pub const ADD: i32 = 2;
    pub const MUL: i32 = 3;
    pub const MUL_ACC: i32 = 4;
    pub const SCALE: i32 = 5;
    pub const NEG_EXP: i32 = 6;
    pub const BCAST: i32 = 7;
    pub const ADD_BCAST: i32 = 8;
    pub const AXPY: i32 = 9;
    pub const SCALE_TO: i32 = 10;
}
