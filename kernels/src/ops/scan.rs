//! Selective state-space scan (Mamba S6 recurrence, the reference's discretisation):
//!
//! `h_t[e,n] = exp(Δ_t[e]·A[e,n])·h_{t−1}[e,n] + (Δ_t[e] if dt_on_b else 1)·B_t[n]·x_t[e]`
//! `y_t[e]   = Σ_n C_t[n]·h_t[e,n] + D[e]·x_t[e]`
//!
//! (ZOH for A, Euler for B.) `A = −exp(A_log)` is passed in already negated; it is indexed
//! `a[e·a_row_stride + n]`, so `a_row_stride = 0` gives the (N)-vector shared by all channels
//! of the QuantumSSM.py scan (1b/1c) and `a_row_stride = N` the (E, N) matrix of
//! TrueClassicalMamba/Hydra (3b/3c). Sources: Gu & Dao 2023 (Mamba), reference
//! `models/QuantumSSM.py`, `models/TrueClassicalMamba.py`.

use alloc::vec;

use super::fastmath::{dot, exp_clamped, exp_f32, sum};
use super::simd::simd_dispatch;

/// Dimensions and variant of one scan.
#[derive(Clone, Copy, Debug)]
pub struct ScanDims {
    /// L: sequence length.
    pub l: usize,
    /// E: channels (`d_inner`).
    pub e: usize,
    /// N: `d_state`.
    pub n: usize,
    /// 0 when A is one (N) vector shared by all channels, N when A is (E, N).
    pub a_row_stride: usize,
    /// Whether the input term is Δ·B·x (Mamba, 1b, 3b) or B·x (3c).
    pub dt_on_b: bool,
}

/// Forward scan. x, delta, y: (L, E); bm, cm: (L, N); a: see [`ScanDims`]; d: (E);
/// `h0`: optional initial state (E, N) (zeros if `None`).
/// `hs` receives every state, (L+1, E, N) with `hs[0] = h0`, kept for the backward; the final
/// state is `hs[L]`. `y` and `hs` are overwritten.
///
/// The loop over N auto-vectorises (it uses a branch-free f32 `exp`, ≤ 1 ulp); with feature
/// `std` on x86 an AVX2 build of the same loop is picked at run time (bit-identical results).
/// Panics if a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn scan_forward(
    y: &mut [f32],
    hs: &mut [f32],
    x: &[f32],
    delta: &[f32],
    a: &[f32],
    bm: &[f32],
    cm: &[f32],
    d: &[f32],
    h0: Option<&[f32]>,
    dims: ScanDims,
) {
    let ScanDims { l, e, n, .. } = dims;
    let en = e * n;
    check_dims(&dims, x, delta, a, bm, cm, d);
    assert!(y.len() >= l * e, "scan_forward: y too short");
    assert!(hs.len() >= (l + 1) * en, "scan_forward: hs too short");
    match h0 {
        Some(h0) => hs[..en].copy_from_slice(&h0[..en]),
        None => hs[..en].fill(0.0),
    }
    if n == 0 {
        for i in 0..l * e {
            y[i] = d[i % e] * x[i];
        }
        return;
    }
    let p = Fwd {
        y,
        hs,
        x,
        delta,
        a,
        bm,
        cm,
        d,
        dims,
    };
    fwd_dispatch(p);
}

simd_dispatch!(
    /// Runs [`fwd_kernel`] in the widest build the CPU supports (bit-identical results).
    fn fwd_dispatch(p: Fwd<'_>) => fwd_kernel
);

/// Operands of the forward kernel (lengths already checked, `hs[0]` already set, N ≥ 1).
struct Fwd<'a> {
    y: &'a mut [f32],
    hs: &'a mut [f32],
    x: &'a [f32],
    delta: &'a [f32],
    a: &'a [f32],
    bm: &'a [f32],
    cm: &'a [f32],
    d: &'a [f32],
    dims: ScanDims,
}

#[inline(always)]
fn fwd_kernel(p: Fwd<'_>) {
    let Fwd {
        y,
        hs,
        x,
        delta,
        a,
        bm,
        cm,
        d,
        dims,
    } = p;
    let ScanDims {
        l,
        e,
        n,
        a_row_stride: ars,
        dt_on_b,
    } = dims;
    let en = e * n;
    for t in 0..l {
        let (done, rest) = hs.split_at_mut((t + 1) * en);
        let prev = &done[t * en..];
        let next = &mut rest[..en];
        let bt = &bm[t * n..][..n];
        let ct = &cm[t * n..][..n];
        for ei in 0..e {
            let i = t * e + ei;
            let (dt, xv) = (delta[i], x[i]);
            let bx = if dt_on_b { dt * xv } else { xv };
            let ar = &a[ei * ars..][..n];
            let hp = &prev[ei * n..][..n];
            let hn = &mut next[ei * n..][..n];
            y[i] = fwd_row(hn, ar, hp, bt, ct, dt, bx) + d[ei] * xv;
        }
    }
}

/// Gradients of one scan: accumulated into, shapes as in [`scan_forward`].
pub struct ScanGrads<'a> {
    /// (L, E)
    pub dx: &'a mut [f32],
    /// (L, E)
    pub ddelta: &'a mut [f32],
    /// same shape as `a` (N or E·N)
    pub da: &'a mut [f32],
    /// (L, N)
    pub dbm: &'a mut [f32],
    /// (L, N)
    pub dcm: &'a mut [f32],
    /// (E)
    pub dd: &'a mut [f32],
    /// (E, N) gradient w.r.t. the initial state, if wanted.
    pub dh0: Option<&'a mut [f32]>,
}

/// Backward scan. `dy`: (L, E); `dh_last`: optional upstream gradient on the final state
/// (E, N) (used when the final state feeds another block, as in 1b). `hs` is the state buffer
/// written by [`scan_forward`] with the same inputs (and `h0`). Reverse-time recurrence
/// (`exp(Δ·A)` recomputed, not stored); every field of `g` is accumulated into (`da` summed over
/// channels when `a_row_stride = 0`). Same vectorisation/dispatch as [`scan_forward`].
/// Panics if a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn scan_backward(
    g: ScanGrads<'_>,
    dy: &[f32],
    dh_last: Option<&[f32]>,
    hs: &[f32],
    x: &[f32],
    delta: &[f32],
    a: &[f32],
    bm: &[f32],
    cm: &[f32],
    d: &[f32],
    dims: ScanDims,
) {
    let ScanDims {
        l,
        e,
        n,
        a_row_stride: ars,
        ..
    } = dims;
    let en = e * n;
    check_dims(&dims, x, delta, a, bm, cm, d);
    assert!(dy.len() >= l * e, "scan_backward: dy too short");
    assert!(hs.len() >= (l + 1) * en, "scan_backward: hs too short");
    let ScanGrads {
        dx,
        ddelta,
        da,
        dbm,
        dcm,
        dd,
        dh0,
    } = g;
    assert!(
        dx.len() >= l * e && ddelta.len() >= l * e,
        "scan_backward: dx/ddelta too short"
    );
    assert!(
        dbm.len() >= l * n && dcm.len() >= l * n,
        "scan_backward: dbm/dcm too short"
    );
    assert!(dd.len() >= e, "scan_backward: dd too short");
    if e > 0 && n > 0 {
        assert!(da.len() >= (e - 1) * ars + n, "scan_backward: da too short");
    }

    // dh = ∂L/∂h_t (state hs[t+1]) while processing step t; starts from the upstream dh_last.
    let mut dh = match dh_last {
        Some(v) => v[..en].to_vec(),
        None => vec![0.0f32; en],
    };
    if n > 0 {
        let p = Bwd {
            dx,
            ddelta,
            da,
            dbm,
            dcm,
            dd,
            dh: &mut dh,
            dy,
            hs,
            x,
            delta,
            a,
            bm,
            cm,
            d,
            dims,
        };
        bwd_dispatch(p);
    } else {
        // No state: only the skip term D·x contributes.
        for i in 0..l * e {
            dd[i % e] += dy[i] * x[i];
            dx[i] += dy[i] * d[i % e];
        }
    }
    if let Some(dh0) = dh0 {
        for (o, &v) in dh0[..en].iter_mut().zip(&dh) {
            *o += v;
        }
    }
}

/// One (t, e) step of the forward over N: writes h_t's row, returns Σ_n C·h_t.
#[inline(always)]
fn fwd_row(
    hn: &mut [f32],
    ar: &[f32],
    hp: &[f32],
    bt: &[f32],
    ct: &[f32],
    dt: f32,
    bx: f32,
) -> f32 {
    for (((h, &av), &hv), &bv) in hn.iter_mut().zip(ar).zip(hp).zip(bt) {
        *h = exp_f32(dt * av) * hv + bx * bv;
    }
    dot(ct, hn)
}

/// Operands of the backward kernel (lengths already checked, N ≥ 1); `dh` holds ∂L/∂h_L on
/// entry and ∂L/∂h_0 on exit.
struct Bwd<'a> {
    dx: &'a mut [f32],
    ddelta: &'a mut [f32],
    da: &'a mut [f32],
    dbm: &'a mut [f32],
    dcm: &'a mut [f32],
    dd: &'a mut [f32],
    dh: &'a mut [f32],
    dy: &'a [f32],
    hs: &'a [f32],
    x: &'a [f32],
    delta: &'a [f32],
    a: &'a [f32],
    bm: &'a [f32],
    cm: &'a [f32],
    d: &'a [f32],
    dims: ScanDims,
}

simd_dispatch!(
    /// Runs [`bwd_kernel`] in the widest build the CPU supports (bit-identical results).
    fn bwd_dispatch(p: Bwd<'_>) => bwd_kernel
);

#[inline(always)]
fn bwd_kernel(p: Bwd<'_>) {
    let Bwd {
        dx,
        ddelta,
        da,
        dbm,
        dcm,
        dd,
        dh,
        dy,
        hs,
        x,
        delta,
        a,
        bm,
        cm,
        d,
        dims,
    } = p;
    let ScanDims {
        l,
        e,
        n,
        a_row_stride: ars,
        dt_on_b,
    } = dims;
    let en = e * n;
    // Per-(t, e) scratch for the two reductions over N, kept out of the main loop so that it
    // vectorises: q_k·A_k (→ ∂L/∂Δ) and dh_k·B_k (→ ∂L/∂bx).
    let mut qa = vec![0.0f32; n];
    let mut db = vec![0.0f32; n];
    let (qa, db) = (&mut qa[..n], &mut db[..n]);
    for t in (0..l).rev() {
        let hprev = &hs[t * en..][..en];
        let hcur = &hs[(t + 1) * en..][..en];
        let bt = &bm[t * n..][..n];
        let ct = &cm[t * n..][..n];
        let dbt = &mut dbm[t * n..][..n];
        let dct = &mut dcm[t * n..][..n];
        for ei in 0..e {
            let i = t * e + ei;
            let (gy, dt, xv) = (dy[i], delta[i], x[i]);
            let bx = if dt_on_b { dt * xv } else { xv };
            dd[ei] += gy * xv;
            let ar = &a[ei * ars..][..n];
            let dar = &mut da[ei * ars..][..n];
            let hp = &hprev[ei * n..][..n];
            let hc = &hcur[ei * n..][..n];
            let dhr = &mut dh[ei * n..][..n];
            bwd_row(dhr, dct, dar, qa, db, dbt, ct, hc, ar, hp, bt, gy, dt, bx);
            let s_dt = sum(qa);
            let s_bx = sum(db);
            if dt_on_b {
                ddelta[i] += s_dt + s_bx * xv;
                dx[i] += gy * d[ei] + s_bx * dt;
            } else {
                ddelta[i] += s_dt;
                dx[i] += gy * d[ei] + s_bx;
            }
        }
    }
}

/// One (t, e) step of the backward over N. A separate function so that every row is a distinct
/// reference argument: LLVM then knows they do not alias and vectorises without runtime checks.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn bwd_row(
    dhr: &mut [f32],
    dct: &mut [f32],
    dar: &mut [f32],
    qa: &mut [f32],
    db: &mut [f32],
    dbt: &mut [f32],
    ct: &[f32],
    hc: &[f32],
    ar: &[f32],
    hp: &[f32],
    bt: &[f32],
    gy: f32,
    dt: f32,
    bx: f32,
) {
    let n = dhr.len();
    let (dct, dar, qa, db, dbt) = (
        &mut dct[..n],
        &mut dar[..n],
        &mut qa[..n],
        &mut db[..n],
        &mut dbt[..n],
    );
    let (ct, hc, ar, hp, bt) = (&ct[..n], &hc[..n], &ar[..n], &hp[..n], &bt[..n]);
    for k in 0..n {
        // y_t = Σ C·h_t + D·x  ⇒  ∂L/∂h_t += dy·C, ∂L/∂C_t += dy·h_t.
        let dhk = dhr[k] + gy * ct[k];
        dct[k] += gy * hc[k];
        // h_t = exp(Δ·A)·h_{t−1} + bx·B.
        let ea = exp_f32(dt * ar[k]);
        let q = dhk * hp[k] * ea; // ∂L/∂(Δ·A)
        qa[k] = q * ar[k];
        dar[k] += q * dt;
        db[k] = dhk * bt[k];
        dbt[k] += dhk * bx;
        dhr[k] = dhk * ea; // ∂L/∂h_{t−1}
    }
}

fn check_dims(
    dims: &ScanDims,
    x: &[f32],
    delta: &[f32],
    a: &[f32],
    bm: &[f32],
    cm: &[f32],
    d: &[f32],
) {
    let ScanDims {
        l,
        e,
        n,
        a_row_stride,
        ..
    } = *dims;
    assert!(
        x.len() >= l * e && delta.len() >= l * e,
        "scan: x/delta too short"
    );
    assert!(
        bm.len() >= l * n && cm.len() >= l * n,
        "scan: bm/cm too short"
    );
    assert!(d.len() >= e, "scan: d too short");
    if e > 0 && n > 0 {
        assert!(
            a.len() >= (e - 1) * a_row_stride + n,
            "scan: a too short for a_row_stride"
        );
    }
}

/// Operands of [`scan_step_transposed`]'s kernel (lengths already checked).
struct Step<'a> {
    y: &'a mut [f32],
    h: &'a mut [f32],
    x: &'a [f32],
    delta: &'a [f32],
    a: &'a [f32],
    bm: &'a [f32],
    cm: &'a [f32],
    d: &'a [f32],
    dims: ScanDims,
}

/// One step of [`scan_forward`] (the recurrent mode of Mamba, Gu & Dao 2023 §3.3; the
/// reference `selective_state_update` of `mamba_ssm`) with the state stored **transposed**,
/// `h` (N, E), updated **in place** from h_{t−1} to h_t, y_t (E) written — the layout for a
/// fast streaming step: every loop runs over E contiguous channels (vertical SIMD, no
/// horizontal reductions).
///
/// x, delta, y: (E); bm, cm: (N); d: (E); `a`: (N, E) — the transpose of [`scan_forward`]'s
/// (E, N) matrix — when `dims.a_row_stride ≠ 0`, or the shared (N) vector when it is 0;
/// `dims.l` is not used. Same recurrence as [`scan_forward`]
/// (`h_t = exp(Δ·A)·h_{t−1} + (Δ·)B·x`, `y_t = Σ_n C·h_t + D·x`) and the same `exp`, but `y` sums
/// over n in order 0..N, so it agrees with [`scan_forward`] to rounding, not bit for bit.
/// With `std` on x86 an AVX-512F or AVX2 build of the same loop runs (the same unfused
/// operations: bit-identical, tested). Nothing is allocated. Panics if a slice is shorter than
/// its shape.
#[allow(clippy::too_many_arguments)]
pub fn scan_step_transposed(
    y: &mut [f32],
    h: &mut [f32],
    x: &[f32],
    delta: &[f32],
    a: &[f32],
    bm: &[f32],
    cm: &[f32],
    d: &[f32],
    dims: ScanDims,
) {
    let ScanDims {
        e, n, a_row_stride, ..
    } = dims;
    assert!(
        x.len() >= e && delta.len() >= e && y.len() >= e && d.len() >= e,
        "scan_step_transposed: x/delta/y/d too short"
    );
    assert!(
        bm.len() >= n && cm.len() >= n,
        "scan_step_transposed: bm/cm too short"
    );
    assert!(h.len() >= n * e, "scan_step_transposed: h too short");
    let na = if a_row_stride == 0 { n } else { n * e };
    assert!(a.len() >= na, "scan_step_transposed: a too short");
    let p = Step {
        y,
        h,
        x,
        delta,
        a,
        bm,
        cm,
        d,
        dims,
    };
    #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F support was just checked.
            return unsafe { step_t_avx512(p) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 support was just checked.
            return unsafe { step_t_avx2(p) };
        }
    }
    #[cfg(target_arch = "arm")]
    return step_t_channels(p);
    #[cfg(not(target_arch = "arm"))]
    step_t_kernel(p);
}

/// [`step_t_kernel`] in channel-outer order, for scalar FPUs (32-bit Arm: Cortex-M4F/M7, which
/// have no float SIMD to gain from the state-row order): two channels at a time, whose Δ, Δ·x
/// and outputs stay in registers while their N states are visited row by row (the two states
/// of a row are adjacent: one 64-bit load and store), sharing the loads of B and C; so each
/// element costs its `exp` and three multiply-adds plus about two memory operations, instead of
/// also reloading and storing `y`, Δ and x. Same operations in the same order per element and
/// the same order of the output sum (n = 0..N, then D·x), so it is **bit-identical** to
/// [`step_t_kernel`] (tested).
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
fn step_t_channels(p: Step<'_>) {
    let Step {
        y,
        h,
        x,
        delta,
        a,
        bm,
        cm,
        d,
        dims,
    } = p;
    let ScanDims {
        e,
        n,
        a_row_stride,
        dt_on_b,
        ..
    } = dims;
    let (bm, cm) = (&bm[..n], &cm[..n]);
    let (y, x, delta, d) = (&mut y[..e], &x[..e], &delta[..e], &d[..e]);
    let h = &mut h[..n * e];
    let a = if a_row_stride != 0 {
        &a[..n * e]
    } else {
        &a[..n]
    };
    let g = Group {
        e,
        per_channel_a: a_row_stride != 0,
        dt_on_b,
        a,
        bm,
        cm,
    };
    let mut ch = 0;
    while ch + 2 <= e {
        if g.per_channel_a {
            g.run::<2, true>(ch, y, h, x, delta, d);
        } else {
            g.run::<2, false>(ch, y, h, x, delta, d);
        }
        ch += 2;
    }
    if ch < e {
        if g.per_channel_a {
            g.run::<1, true>(ch, y, h, x, delta, d);
        } else {
            g.run::<1, false>(ch, y, h, x, delta, d);
        }
    }
}

/// The operands [`step_t_channels`] shares between its channel groups.
struct Group<'a> {
    e: usize,
    per_channel_a: bool,
    dt_on_b: bool,
    a: &'a [f32],
    bm: &'a [f32],
    cm: &'a [f32],
}

impl Group<'_> {
    /// Channels ch..ch+L: their Δ, Δ·x and outputs in registers, the state rows in order;
    /// `P`: A per channel (N, E), else shared (N).
    #[inline(always)]
    fn run<const L: usize, const P: bool>(
        &self,
        ch: usize,
        y: &mut [f32],
        h: &mut [f32],
        x: &[f32],
        delta: &[f32],
        d: &[f32],
    ) {
        let e = self.e;
        let dt: [f32; L] = core::array::from_fn(|l| delta[ch + l]);
        let xv: [f32; L] = core::array::from_fn(|l| x[ch + l]);
        let bx: [f32; L] =
            core::array::from_fn(|l| if self.dt_on_b { dt[l] * xv[l] } else { xv[l] });
        let mut acc = [0.0f32; L];
        for (k, (hr, (&bk, &ck))) in h
            .chunks_exact_mut(e)
            .zip(self.bm.iter().zip(self.cm))
            .enumerate()
        {
            let hv = &mut hr[ch..ch + L];
            for l in 0..L {
                let av = if P { self.a[k * e + ch + l] } else { self.a[k] };
                hv[l] = exp_clamped(dt[l] * av) * hv[l] + bx[l] * bk;
                acc[l] += ck * hv[l];
            }
        }
        for l in 0..L {
            y[ch + l] = acc[l] + d[ch + l] * xv[l];
        }
    }
}

/// AVX-512F build of [`step_t_kernel`] (16 channels per vector; the same operations, unfused,
/// so the same results).
#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
#[target_feature(enable = "avx512f")]
unsafe fn step_t_avx512(p: Step<'_>) {
    step_t_kernel(p)
}

/// AVX2 build of [`step_t_kernel`].
#[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
#[target_feature(enable = "avx2")]
unsafe fn step_t_avx2(p: Step<'_>) {
    step_t_kernel(p)
}

#[cfg_attr(target_arch = "arm", allow(dead_code))]
#[inline(always)]
fn step_t_kernel(p: Step<'_>) {
    let Step {
        y,
        h,
        x,
        delta,
        a,
        bm,
        cm,
        d,
        dims,
    } = p;
    let ScanDims {
        e,
        n,
        a_row_stride,
        dt_on_b,
        ..
    } = dims;
    let (y, x, delta, d) = (&mut y[..e], &x[..e], &delta[..e], &d[..e]);
    y.fill(0.0);
    // one pass over the E channels per state row n: every loop is contiguous in e
    for k in 0..n {
        let hk = &mut h[k * e..(k + 1) * e];
        let (bk, ck) = (bm[k], cm[k]);
        if a_row_stride == 0 {
            let ak = a[k];
            for (((hv, yv), &dt), &xv) in hk.iter_mut().zip(y.iter_mut()).zip(delta).zip(x) {
                let bx = if dt_on_b { dt * xv } else { xv };
                *hv = exp_clamped(dt * ak) * *hv + bx * bk;
                *yv += ck * *hv;
            }
        } else {
            let ak = &a[k * e..(k + 1) * e];
            for ((((hv, yv), &dt), &xv), &av) in
                hk.iter_mut().zip(y.iter_mut()).zip(delta).zip(x).zip(ak)
            {
                let bx = if dt_on_b { dt * xv } else { xv };
                *hv = exp_clamped(dt * av) * *hv + bx * bk;
                *yv += ck * *hv;
            }
        }
    }
    for ((yv, &dv), &xv) in y.iter_mut().zip(d).zip(x) {
        *yv += dv * xv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    pub(super) struct Case {
        pub(super) dims: ScanDims,
        pub(super) x: Vec<f32>,
        pub(super) delta: Vec<f32>,
        pub(super) a: Vec<f32>,
        pub(super) bm: Vec<f32>,
        pub(super) cm: Vec<f32>,
        pub(super) d: Vec<f32>,
        pub(super) h0: Vec<f32>,
    }

    pub(super) fn case(
        rng: &mut TestRng,
        l: usize,
        e: usize,
        n: usize,
        per_channel_a: bool,
        dt_on_b: bool,
    ) -> Case {
        let a_row_stride = if per_channel_a { n } else { 0 };
        let na = if per_channel_a { e * n } else { n };
        Case {
            dims: ScanDims {
                l,
                e,
                n,
                a_row_stride,
                dt_on_b,
            },
            x: grid_uniform(rng, l * e, -1.0, 1.0),
            delta: grid_uniform(rng, l * e, 0.05, 1.0),
            a: grid_uniform(rng, na, -2.0, -0.2),
            bm: grid_uniform(rng, l * n, -1.0, 1.0),
            cm: grid_uniform(rng, l * n, -1.0, 1.0),
            d: grid_uniform(rng, e, 0.5, 1.5),
            h0: grid_uniform(rng, e * n, -1.0, 1.0),
        }
    }

    /// Straightforward f64 evaluation of the module-doc recurrence; returns (y, hs).
    fn naive(c: &Case, h0: Option<&[f32]>) -> (Vec<f64>, Vec<f64>) {
        let ScanDims {
            l,
            e,
            n,
            a_row_stride,
            dt_on_b,
        } = c.dims;
        let mut hs = vec![0.0f64; (l + 1) * e * n];
        if let Some(h0) = h0 {
            for i in 0..e * n {
                hs[i] = h0[i] as f64;
            }
        }
        let mut y = vec![0.0f64; l * e];
        for t in 0..l {
            for ei in 0..e {
                let dt = c.delta[t * e + ei] as f64;
                let xv = c.x[t * e + ei] as f64;
                let mut acc = c.d[ei] as f64 * xv;
                for k in 0..n {
                    let av = c.a[ei * a_row_stride + k] as f64;
                    let coef = if dt_on_b { dt } else { 1.0 };
                    let hp = hs[(t * e + ei) * n + k];
                    let h = (dt * av).exp() * hp + coef * c.bm[t * n + k] as f64 * xv;
                    hs[((t + 1) * e + ei) * n + k] = h;
                    acc += c.cm[t * n + k] as f64 * h;
                }
                y[t * e + ei] = acc;
            }
        }
        (y, hs)
    }

    fn run_fwd(c: &Case, h0: Option<&[f32]>) -> (Vec<f32>, Vec<f32>) {
        let ScanDims { l, e, n, .. } = c.dims;
        let mut y = vec![f32::NAN; l * e];
        let mut hs = vec![f32::NAN; (l + 1) * e * n];
        scan_forward(
            &mut y, &mut hs, &c.x, &c.delta, &c.a, &c.bm, &c.cm, &c.d, h0, c.dims,
        );
        (y, hs)
    }

    #[test]
    fn forward_matches_naive() {
        let mut rng = rng(61);
        for &(l, e, n) in &[(1, 1, 1), (7, 5, 3), (20, 9, 16), (13, 4, 19)] {
            for per_channel_a in [false, true] {
                for dt_on_b in [false, true] {
                    let c = case(&mut rng, l, e, n, per_channel_a, dt_on_b);
                    for h0 in [None, Some(&c.h0[..])] {
                        let (y, hs) = run_fwd(&c, h0);
                        let (yr, hsr) = naive(&c, h0);
                        let scale = 1.0 + yr.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                        let ey = max_abs_diff(&y, &yr) / scale;
                        let eh = max_abs_diff(&hs, &hsr);
                        let tag = format!(
                            "L{l} E{e} N{n} perA={per_channel_a} dtB={dt_on_b} h0={}",
                            h0.is_some()
                        );
                        assert!(ey < 2e-6 * (n as f64).sqrt(), "{tag}: y err {ey}");
                        assert!(eh < 2e-6, "{tag}: hs err {eh}");
                    }
                }
            }
        }
    }

    /// The public entry points (which may dispatch to the AVX2 build) agree bit for bit with
    /// the portable kernels.
    #[test]
    fn dispatch_is_bit_identical_to_portable_kernel() {
        let mut rng = rng(62);
        for per_channel_a in [false, true] {
            let c = case(&mut rng, 11, 6, 13, per_channel_a, true);
            let ScanDims { l, e, n, .. } = c.dims;
            let (y, hs) = run_fwd(&c, Some(&c.h0));
            let mut y2 = vec![0.0; l * e];
            let mut hs2 = hs.clone();
            let p = Fwd {
                y: &mut y2,
                hs: &mut hs2,
                x: &c.x,
                delta: &c.delta,
                a: &c.a,
                bm: &c.bm,
                cm: &c.cm,
                d: &c.d,
                dims: c.dims,
            };
            fwd_kernel(p);
            assert!(y.iter().zip(&y2).all(|(p, q)| p.to_bits() == q.to_bits()));
            assert!(hs.iter().zip(&hs2).all(|(p, q)| p.to_bits() == q.to_bits()));
            let dy = uniform(&mut rng, l * e, -1.0, 1.0);
            let dhl = uniform(&mut rng, e * n, -1.0, 1.0);
            let z = |k: usize| vec![0.0f32; k];
            let mut g1 = [
                z(l * e),
                z(l * e),
                z(c.a.len()),
                z(l * n),
                z(l * n),
                z(e),
                z(e * n),
            ];
            let mut g2 = g1.clone();
            {
                let [dx, ddelta, da, dbm, dcm, dd, dh0] = &mut g1;
                let g = ScanGrads {
                    dx,
                    ddelta,
                    da,
                    dbm,
                    dcm,
                    dd,
                    dh0: Some(dh0),
                };
                scan_backward(
                    g,
                    &dy,
                    Some(&dhl),
                    &hs,
                    &c.x,
                    &c.delta,
                    &c.a,
                    &c.bm,
                    &c.cm,
                    &c.d,
                    c.dims,
                );
            }
            {
                let [dx, ddelta, da, dbm, dcm, dd, dh] = &mut g2;
                dh.copy_from_slice(&dhl);
                let p = Bwd {
                    dx,
                    ddelta,
                    da,
                    dbm,
                    dcm,
                    dd,
                    dh,
                    dy: &dy,
                    hs: &hs,
                    x: &c.x,
                    delta: &c.delta,
                    a: &c.a,
                    bm: &c.bm,
                    cm: &c.cm,
                    d: &c.d,
                    dims: c.dims,
                };
                bwd_kernel(p);
            }
            for (u, v) in g1.iter().zip(&g2) {
                assert!(u.iter().zip(v).all(|(p, q)| p.to_bits() == q.to_bits()));
            }
        }
    }

    /// FD check of every gradient output; `with_state` = h0 given, dh_last upstream, dh0 wanted.
    fn fd_case(per_channel_a: bool, dt_on_b: bool, with_state: bool, seed: u64) {
        fd_case_sized((5, 3, 4), per_channel_a, dt_on_b, with_state, seed)
    }

    fn fd_case_sized(
        (l, e, n): (usize, usize, usize),
        per_channel_a: bool,
        dt_on_b: bool,
        with_state: bool,
        seed: u64,
    ) {
        let mut rng = rng(seed);
        let c = case(&mut rng, l, e, n, per_channel_a, dt_on_b);
        let dims = c.dims;
        let mut inputs = vec![c.x, c.delta, c.a, c.bm, c.cm, c.d];
        if with_state {
            inputs.push(c.h0);
        }
        let en = e * n;
        let fwd = |p: &[Vec<f32>]| {
            let mut y = vec![0.0; l * e];
            let mut hs = vec![0.0; (l + 1) * en];
            let h0 = p.get(6).map(|v| &v[..]);
            scan_forward(
                &mut y, &mut hs, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5], h0, dims,
            );
            if with_state {
                y.extend_from_slice(&hs[l * en..]); // final state is an output too
            }
            y
        };
        let bwd = |p: &[Vec<f32>], r: &[f32], g: &mut [Vec<f32>]| {
            let mut y = vec![0.0; l * e];
            let mut hs = vec![0.0; (l + 1) * en];
            let h0 = p.get(6).map(|v| &v[..]);
            scan_forward(
                &mut y, &mut hs, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5], h0, dims,
            );
            let (dy, dh_last) = r.split_at(l * e);
            let dh_last = if with_state { Some(dh_last) } else { None };
            let (g6, dh0) = g.split_at_mut(6);
            let [dx, ddelta, da, dbm, dcm, dd] = g6 else {
                unreachable!()
            };
            let grads = ScanGrads {
                dx,
                ddelta,
                da,
                dbm,
                dcm,
                dd,
                dh0: dh0.first_mut().map(|v| &mut v[..]),
            };
            scan_backward(
                grads, dy, dh_last, &hs, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5], dims,
            );
        };
        let errs = gradcheck(&mut rng, &inputs, fwd, bwd, FD_STEP);
        let names = ["dx", "ddelta", "da", "dbm", "dcm", "dd", "dh0"];
        let tag = format!(
            "scan N={n} a_row_stride={} dt_on_b={dt_on_b} h0/dh_last={with_state}",
            dims.a_row_stride
        );
        report(&tag, &names[..errs.len()], &errs, 2e-3);
    }

    #[test]
    fn fd_shared_a_dt_on_b() {
        fd_case(false, true, false, 70);
        fd_case(false, true, true, 71);
    }
    #[test]
    fn fd_shared_a_no_dt_on_b() {
        fd_case(false, false, false, 72);
        fd_case(false, false, true, 73);
    }
    #[test]
    fn fd_per_channel_a_dt_on_b() {
        fd_case(true, true, false, 74);
        fd_case(true, true, true, 75);
    }
    #[test]
    fn fd_per_channel_a_no_dt_on_b() {
        fd_case(true, false, false, 76);
        fd_case(true, false, true, 77);
    }

    /// N = 11 exercises the 8-lane reductions (one full chunk + remainder) of the backward.
    #[test]
    fn fd_wide_state() {
        fd_case_sized((4, 2, 11), true, true, true, 78);
        fd_case_sized((4, 2, 11), false, false, true, 79);
    }

    /// Splitting a sequence in two, chaining the state forward (h0 = first half's final state)
    /// and the gradient backward (dh_last of the first half = dh0 of the second), reproduces the
    /// full scan and its gradients.
    #[test]
    fn split_sequence_chains_state_and_gradient() {
        let mut rng = rng(80);
        let (l, e, n, l1) = (9, 4, 5, 4);
        let c = case(&mut rng, l, e, n, true, true);
        let dims = c.dims;
        let en = e * n;
        let dy = uniform(&mut rng, l * e, -1.0, 1.0);
        let zeros = |k: usize| vec![0.0f32; k];
        // Full scan.
        let (y, hs) = run_fwd(&c, Some(&c.h0));
        let (mut dx, mut ddt, mut da, mut dbm, mut dcm, mut dd, mut dh0) = (
            zeros(l * e),
            zeros(l * e),
            zeros(en),
            zeros(l * n),
            zeros(l * n),
            zeros(e),
            zeros(en),
        );
        let g = ScanGrads {
            dx: &mut dx,
            ddelta: &mut ddt,
            da: &mut da,
            dbm: &mut dbm,
            dcm: &mut dcm,
            dd: &mut dd,
            dh0: Some(&mut dh0),
        };
        scan_backward(
            g, &dy, None, &hs, &c.x, &c.delta, &c.a, &c.bm, &c.cm, &c.d, dims,
        );
        // Two halves.
        let parts = [(0, l1), (l1, l)];
        let mut ys = Vec::new();
        let mut hss = Vec::new();
        let mut h = c.h0.clone();
        for &(s, t) in &parts {
            let dl = ScanDims { l: t - s, ..dims };
            let mut yp = zeros((t - s) * e);
            let mut hp = zeros((t - s + 1) * en);
            let (xr, dr) = (&c.x[s * e..t * e], &c.delta[s * e..t * e]);
            let (br, cr) = (&c.bm[s * n..t * n], &c.cm[s * n..t * n]);
            scan_forward(&mut yp, &mut hp, xr, dr, &c.a, br, cr, &c.d, Some(&h), dl);
            h = hp[(t - s) * en..].to_vec();
            ys.extend_from_slice(&yp);
            hss.push(hp);
        }
        assert!(max_abs_diff(&ys, &y.iter().map(|&v| v as f64).collect::<Vec<_>>()) < 1e-6);
        let (mut dx2, mut ddt2, mut da2, mut dbm2, mut dcm2, mut dd2) = (
            zeros(l * e),
            zeros(l * e),
            zeros(en),
            zeros(l * n),
            zeros(l * n),
            zeros(e),
        );
        let mut carry = zeros(en); // ∂L/∂(state at the split), produced by the second half
        for (pi, &(s, t)) in parts.iter().enumerate().rev() {
            let dl = ScanDims { l: t - s, ..dims };
            let mut dh_start = zeros(en);
            let dh_last = if pi == 1 { None } else { Some(&carry[..]) };
            let g = ScanGrads {
                dx: &mut dx2[s * e..t * e],
                ddelta: &mut ddt2[s * e..t * e],
                da: &mut da2,
                dbm: &mut dbm2[s * n..t * n],
                dcm: &mut dcm2[s * n..t * n],
                dd: &mut dd2,
                dh0: Some(&mut dh_start),
            };
            let (xr, dr) = (&c.x[s * e..t * e], &c.delta[s * e..t * e]);
            let (br, cr) = (&c.bm[s * n..t * n], &c.cm[s * n..t * n]);
            scan_backward(
                g,
                &dy[s * e..t * e],
                dh_last,
                &hss[pi],
                xr,
                dr,
                &c.a,
                br,
                cr,
                &c.d,
                dl,
            );
            carry = dh_start;
        }
        let close = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        };
        for (name, a, b) in [
            ("dx", &dx, &dx2),
            ("ddelta", &ddt, &ddt2),
            ("da", &da, &da2),
            ("dbm", &dbm, &dbm2),
            ("dcm", &dcm, &dcm2),
            ("dd", &dd, &dd2),
            ("dh0", &dh0, &carry),
        ] {
            assert!(close(a, b) < 1e-5, "{name}: {}", close(a, b));
        }
    }
}

#[cfg(test)]
mod step_tests {
    use super::*;
    use crate::ops::testutil::*;

    /// The transposed-state step agrees with [`scan_forward`] to rounding (outputs and
    /// states), for both A layouts and both input terms.
    #[test]
    fn transposed_stepping_matches_the_sequence_op() {
        let mut rng = rng(82);
        for &(l, e, n) in &[(1, 1, 1), (9, 5, 3), (17, 13, 16), (6, 4, 19), (3, 2, 0)] {
            for per_channel_a in [false, true] {
                for dt_on_b in [false, true] {
                    let dims = ScanDims {
                        l,
                        e,
                        n,
                        a_row_stride: if per_channel_a { n } else { 0 },
                        dt_on_b,
                    };
                    let x = uniform(&mut rng, l * e, -1.0, 1.0);
                    let delta = uniform(&mut rng, l * e, 0.01, 1.5);
                    let a = uniform(&mut rng, if per_channel_a { e * n } else { n }, -3.0, -0.1);
                    let bm = uniform(&mut rng, l * n, -1.0, 1.0);
                    let cm = uniform(&mut rng, l * n, -1.0, 1.0);
                    let d = uniform(&mut rng, e, 0.5, 1.5);
                    let h0 = uniform(&mut rng, e * n, -1.0, 1.0);
                    let mut want_y = vec![0.0; l * e];
                    let mut hs = vec![0.0; (l + 1) * e * n];
                    scan_forward(
                        &mut want_y,
                        &mut hs,
                        &x,
                        &delta,
                        &a,
                        &bm,
                        &cm,
                        &d,
                        Some(&h0),
                        dims,
                    );
                    // (E, N) → (N, E)
                    let tr = |m: &[f32]| -> Vec<f32> {
                        (0..n * e).map(|i| m[(i % e) * n + i / e]).collect()
                    };
                    let at = if per_channel_a { tr(&a) } else { a.clone() };
                    let mut h = tr(&h0);
                    let mut y = vec![f32::NAN; e];
                    for t in 0..l {
                        let (te, tn) = (t * e..(t + 1) * e, t * n..(t + 1) * n);
                        scan_step_transposed(
                            &mut y,
                            &mut h,
                            &x[te.clone()],
                            &delta[te.clone()],
                            &at,
                            &bm[tn.clone()],
                            &cm[tn],
                            &d,
                            dims,
                        );
                        let en = e * n;
                        let tag =
                            format!("L{l} E{e} N{n} perA={per_channel_a} dtB={dt_on_b} t={t}");
                        let wy: Vec<f64> = want_y[te].iter().map(|&v| f64::from(v)).collect();
                        let ey = max_abs_diff(&y, &wy);
                        assert!(ey < 2e-6 * (n as f64 + 1.0), "{tag}: y err {ey}");
                        let wh: Vec<f64> = tr(&hs[(t + 1) * en..(t + 2) * en])
                            .iter()
                            .map(|&v| f64::from(v))
                            .collect();
                        let eh = max_abs_diff(&h, &wh);
                        assert!(eh < 1e-6, "{tag}: h err {eh}");
                    }
                }
            }
        }
    }

    /// The channel-outer step (32-bit Arm) and the build this CPU dispatches to are
    /// bit-identical to the state-row one, for both A layouts, with and without Δ on B, over
    /// several steps of a carried state.
    #[test]
    fn channel_order_step_is_bit_identical() {
        let mut rng = rng(41);
        for &(e, n) in &[(1, 1), (5, 3), (16, 16), (24, 7)] {
            for per_channel_a in [false, true] {
                for dt_on_b in [false, true] {
                    let c = super::tests::case(&mut rng, 3, e, n, per_channel_a, dt_on_b);
                    let dims = ScanDims { l: 1, ..c.dims };
                    // the kernels take A transposed, (N, E), when it is per channel
                    let a: Vec<f32> = if per_channel_a {
                        (0..n * e).map(|i| c.a[(i % e) * n + i / e]).collect()
                    } else {
                        c.a.clone()
                    };
                    let (mut h1, mut h2, mut h3) = (c.h0.clone(), c.h0.clone(), c.h0.clone());
                    let (mut y1, mut y2, mut y3) =
                        (vec![f32::NAN; e], vec![f32::NAN; e], vec![f32::NAN; e]);
                    for t in 0..3 {
                        let (te, tn) = (t * e..(t + 1) * e, t * n..(t + 1) * n);
                        macro_rules! step {
                            ($y:expr, $h:expr) => {
                                Step {
                                    y: $y,
                                    h: $h,
                                    x: &c.x[te.clone()],
                                    delta: &c.delta[te.clone()],
                                    a: &a,
                                    bm: &c.bm[tn.clone()],
                                    cm: &c.cm[tn.clone()],
                                    d: &c.d,
                                    dims,
                                }
                            };
                        }
                        step_t_kernel(step!(&mut y1, &mut h1));
                        step_t_channels(step!(&mut y2, &mut h2));
                        // and the build this CPU runs (AVX-512F, AVX2 or the generic loop)
                        scan_step_transposed(
                            &mut y3,
                            &mut h3,
                            &c.x[te.clone()],
                            &c.delta[te.clone()],
                            &a,
                            &c.bm[tn.clone()],
                            &c.cm[tn.clone()],
                            &c.d,
                            dims,
                        );
                        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        let tag = format!("E{e} N{n} perA={per_channel_a} dtB={dt_on_b} t={t}");
                        assert_eq!(bits(&y1), bits(&y2), "{tag}: y");
                        assert_eq!(bits(&h1), bits(&h2), "{tag}: h");
                        assert_eq!(bits(&y1), bits(&y3), "{tag}: y of the dispatched build");
                        assert_eq!(bits(&h1), bits(&h3), "{tag}: h of the dispatched build");
                    }
                }
            }
        }
    }
}
