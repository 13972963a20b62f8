//! Causal depthwise conv1d: PyTorch `Conv1d(E, E, k, groups=E, padding=k−1)` truncated to the
//! first L outputs: `y[t,c] = b[c] + Σ_{j<k} w[c,j]·x[t−(k−1)+j, c]`, `x[<0] = 0`
//! (`w[c,k−1]` multiplies the current sample).

use super::simd::simd_dispatch;
use alloc::vec;

/// x, y: (L, E) token-major; w: (E, k) (the PyTorch (E,1,k) weight); b: (E).
/// `y` is overwritten.
#[allow(clippy::too_many_arguments)]
pub fn conv1d_causal_forward(
    y: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    l: usize,
    e: usize,
    k: usize,
) {
    if l == 0 || e == 0 {
        return;
    }
    let (x, b) = (&x[..l * e], &b[..e]);
    // Tap-major copy of the weight, wt[j·E + c] = w[c·k + j], so the channel loop is contiguous.
    let mut wt = vec![0.0f32; k * e];
    for c in 0..e {
        for j in 0..k {
            wt[j * e + c] = w[c * k + j];
        }
    }
    for (t, yr) in y[..l * e].chunks_exact_mut(e).enumerate() {
        yr.copy_from_slice(b);
        // tap j reads x[t − (k−1) + j]; taps before time 0 read zeros and are skipped.
        for j in k.saturating_sub(t + 1)..k {
            let s = t + j + 1 - k;
            let xr = &x[s * e..(s + 1) * e];
            let wr = &wt[j * e..(j + 1) * e];
            for ((yo, &xv), &wv) in yr.iter_mut().zip(xr).zip(wr) {
                *yo += wv * xv;
            }
        }
    }
}

/// Streaming form of [`conv1d_causal_forward`] on a chunk of L new tokens: x, y (L, E);
/// w: (E, k); b: (E); `hist` ((k−1), E): the k−1 inputs before x, oldest first (zeros at the
/// start of a stream: the zero padding), afterwards the last k−1 inputs of [hist; x]. The taps
/// are summed in the order of [`conv1d_causal_forward`] (those on the initial zeros add 0), so
/// chunks stepped in order reproduce it. `y` is overwritten; nothing is allocated.
///
/// Panics if a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn conv1d_causal_continue(
    y: &mut [f32],
    hist: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    l: usize,
    e: usize,
    k: usize,
) {
    if l == 0 || e == 0 || k == 0 {
        return;
    }
    let m = k - 1;
    let (y, x, b, w) = (&mut y[..l * e], &x[..l * e], &b[..e], &w[..e * k]);
    let hist = &mut hist[..m * e];
    for (t, yr) in y.chunks_exact_mut(e).enumerate() {
        // tap j reads input t − m + j of the stream: before x, history row t + j
        let row = |j: usize| {
            if t + j >= m {
                &x[(t + j - m) * e..(t + j - m + 1) * e]
            } else {
                &hist[(t + j) * e..(t + j + 1) * e]
            }
        };
        if k == 4 {
            // Mamba's width: a channel's 4 taps read together (contiguous in w), the same sum
            // in the same order as below
            let rows = [row(0), row(1), row(2), row(3)];
            taps4(Taps4 { y: yr, rows, w, b });
            continue;
        }
        yr.copy_from_slice(b);
        for j in 0..k {
            for (c, (yo, &xv)) in yr.iter_mut().zip(row(j)).enumerate() {
                *yo += w[c * k + j] * xv;
            }
        }
    }
    // row j of the new history is row L + j of [hist; x] (L ≥ 1: reads stay ahead of writes)
    for j in 0..m {
        let src = l + j;
        if src < m {
            hist.copy_within(src * e..(src + 1) * e, j * e);
        } else {
            hist[j * e..(j + 1) * e].copy_from_slice(&x[(src - m) * e..(src - m + 1) * e]);
        }
    }
}

/// One output row of a width-4 conv: y\[c\] = b\[c\] + w\[c,0\]·r0\[c\] + … + w\[c,3\]·r3\[c\],
/// summed in that order (unfused: the same floats in every build).
struct Taps4<'a> {
    y: &'a mut [f32],
    rows: [&'a [f32]; 4],
    w: &'a [f32],
    b: &'a [f32],
}

simd_dispatch!(
    /// Runs [`taps4_kernel`] in the widest build the CPU supports (bit-identical results):
    /// the channels' interleaved taps are de-interleaved by vector shuffles there.
    fn taps4(p: Taps4<'_>) => taps4_kernel
);

#[inline(always)]
fn taps4_kernel(p: Taps4<'_>) {
    let [r0, r1, r2, r3] = p.rows;
    let e = p.y.len();
    let (r0, r1, r2, r3, b) = (&r0[..e], &r1[..e], &r2[..e], &r3[..e], &p.b[..e]);
    for (c, (yo, wc)) in p.y.iter_mut().zip(p.w.chunks_exact(4)).enumerate() {
        let mut v = b[c];
        v += wc[0] * r0[c];
        v += wc[1] * r1[c];
        v += wc[2] * r2[c];
        v += wc[3] * r3[c];
        *yo = v;
    }
}

/// Backward of [`conv1d_causal_forward`]; accumulates dx (L,E), dw (E,k), db (E).
#[allow(clippy::too_many_arguments)]
pub fn conv1d_causal_backward(
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    l: usize,
    e: usize,
    k: usize,
) {
    if l == 0 || e == 0 {
        return;
    }
    let (dx, dy, x, db) = (&mut dx[..l * e], &dy[..l * e], &x[..l * e], &mut db[..e]);
    let mut wt = vec![0.0f32; k * e];
    for c in 0..e {
        for j in 0..k {
            wt[j * e + c] = w[c * k + j];
        }
    }
    let mut dwt = vec![0.0f32; k * e];
    for (t, dyr) in dy.chunks_exact(e).enumerate() {
        for (g, &v) in db.iter_mut().zip(dyr) {
            *g += v;
        }
        for j in k.saturating_sub(t + 1)..k {
            let s = t + j + 1 - k;
            let xr = &x[s * e..(s + 1) * e];
            let dxr = &mut dx[s * e..(s + 1) * e];
            let wr = &wt[j * e..(j + 1) * e];
            let dwr = &mut dwt[j * e..(j + 1) * e];
            for c in 0..e {
                dxr[c] += wr[c] * dyr[c];
                dwr[c] += xr[c] * dyr[c];
            }
        }
    }
    for c in 0..e {
        for j in 0..k {
            dw[c * k + j] += dwt[j * e + c];
        }
    }
}

/// One step of [`conv1d_causal_forward`] (recurrent mode, for streaming; `causal_conv1d_update`
/// of `mamba_ssm`): the output of time `t` from the current input and a ring buffer of the
/// previous k−1 inputs, `y[c] = b[c] + Σ_{j<k} w[c,j]·x[t−(k−1)+j, c]` with `x[<0] = 0`.
///
/// x, y: (E) (the current token); `wt`: (k, E), the weight **tap-major**
/// (`wt[j·E + c] = w[c·k + j]`, the transpose of the PyTorch (E,1,k) weight, made once by the
/// caller) so every loop runs over contiguous channels; b: (E);
/// `hist`: ((k−1), E), the input of time τ is kept in row τ mod (k−1); all zeros before the
/// first step (the zero padding). After computing `y` the current input is stored in row
/// t mod (k−1). `t` counts steps since the zero state (0 for the first input). `y` is
/// overwritten; nothing is allocated. Taps before time 0 are skipped and the taps are summed in
/// the same order as [`conv1d_causal_forward`], so stepping t = 0, 1, … reproduces it bit for
/// bit.
///
/// Panics if a slice is shorter than its shape.
#[allow(clippy::too_many_arguments)]
pub fn conv1d_causal_step(
    y: &mut [f32],
    hist: &mut [f32],
    x: &[f32],
    wt: &[f32],
    b: &[f32],
    t: u64,
    e: usize,
    k: usize,
) {
    if e == 0 || k == 0 {
        return;
    }
    let m = k - 1; // rows of history
    let (y, x, b, wt) = (&mut y[..e], &x[..e], &b[..e], &wt[..e * k]);
    assert!(hist.len() >= m * e, "conv1d_causal_step: hist too short");
    y.copy_from_slice(b);
    // tap j reads x[t − m + j]: taps before time 0 are skipped, as in the sequence op.
    let first = (m as u64).saturating_sub(t) as usize; // ≤ m
    for j in first..m {
        let row = ((t % m as u64) as usize + j) % m;
        let xr = &hist[row * e..(row + 1) * e];
        let wr = &wt[j * e..(j + 1) * e];
        for ((yo, &xv), &wv) in y.iter_mut().zip(xr).zip(wr) {
            *yo += wv * xv;
        }
    }
    let wr = &wt[m * e..(m + 1) * e];
    for ((yo, &xv), &wv) in y.iter_mut().zip(x).zip(wr) {
        *yo += wv * xv;
    }
    if m > 0 {
        let row = (t % m as u64) as usize;
        hist[row * e..(row + 1) * e].copy_from_slice(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    #[test]
    fn forward_matches_module_formula() {
        let mut rng = rng(30);
        for &(l, e, k) in &[(1, 3, 4), (2, 5, 4), (9, 6, 4), (7, 4, 1), (5, 3, 7)] {
            let x = uniform(&mut rng, l * e, -1.0, 1.0);
            let w = uniform(&mut rng, e * k, -0.5, 0.5);
            let b = uniform(&mut rng, e, -0.5, 0.5);
            let mut y = vec![f32::NAN; l * e];
            conv1d_causal_forward(&mut y, &x, &w, &b, l, e, k);
            let mut r = vec![0.0f64; l * e];
            for t in 0..l {
                for c in 0..e {
                    let mut s = b[c] as f64;
                    for j in 0..k {
                        let ti = t as isize - (k as isize - 1) + j as isize;
                        if ti >= 0 {
                            s += w[c * k + j] as f64 * x[ti as usize * e + c] as f64;
                        }
                    }
                    r[t * e + c] = s;
                }
            }
            let err = max_abs_diff(&y, &r);
            assert!(err < 1e-6, "(L,E,k)=({l},{e},{k}): {err}");
        }
    }

    #[test]
    fn fd_gradients() {
        let mut rng = rng(31);
        for &(l, e, k) in &[(6, 3, 4), (2, 2, 4)] {
            let inputs = vec![
                grid_uniform(&mut rng, l * e, -1.0, 1.0),
                grid_uniform(&mut rng, e * k, -0.5, 0.5),
                grid_uniform(&mut rng, e, -0.5, 0.5),
            ];
            let fwd = |p: &[Vec<f32>]| {
                let mut y = vec![0.0; l * e];
                conv1d_causal_forward(&mut y, &p[0], &p[1], &p[2], l, e, k);
                y
            };
            let bwd = |p: &[Vec<f32>], dy: &[f32], g: &mut [Vec<f32>]| {
                let [gx, gw, gb] = g else { unreachable!() };
                conv1d_causal_backward(gx, gw, gb, dy, &p[0], &p[1], l, e, k);
            };
            let errs = gradcheck(&mut rng, &inputs, fwd, bwd, FD_STEP);
            report(
                &format!("conv1d_causal L={l} E={e} k={k}"),
                &["dx", "dw", "db"],
                &errs,
                2e-3,
            );
        }
    }
}

#[cfg(test)]
mod step_tests {
    use super::*;
    use crate::ops::testutil::*;

    /// Stepping t = 0..L through [`conv1d_causal_step`] reproduces [`conv1d_causal_forward`]
    /// bit for bit, for several kernel widths (k = 1 has no history).
    #[test]
    fn stepping_equals_the_sequence_op() {
        let mut rng = rng(32);
        for &(l, e, k) in &[
            (1, 3, 4),
            (2, 5, 4),
            (11, 6, 4),
            (7, 4, 1),
            (9, 3, 2),
            (13, 3, 7),
        ] {
            let x = uniform(&mut rng, l * e, -1.0, 1.0);
            let w = uniform(&mut rng, e * k, -0.5, 0.5);
            let b = uniform(&mut rng, e, -0.5, 0.5);
            let mut want = vec![0.0; l * e];
            conv1d_causal_forward(&mut want, &x, &w, &b, l, e, k);
            let wt: Vec<f32> = (0..k * e).map(|i| w[(i % e) * k + i / e]).collect();
            let mut hist = vec![0.0; (k - 1) * e];
            let mut y = vec![f32::NAN; e];
            for t in 0..l {
                conv1d_causal_step(
                    &mut y,
                    &mut hist,
                    &x[t * e..(t + 1) * e],
                    &wt,
                    &b,
                    t as u64,
                    e,
                    k,
                );
                let yt = &want[t * e..(t + 1) * e];
                assert!(
                    y.iter().zip(yt).all(|(p, q)| p.to_bits() == q.to_bits()),
                    "(L,E,k)=({l},{e},{k}) t={t}: {y:?} vs {yt:?}"
                );
            }
        }
    }

    /// Chunks of any sizes stepped through [`conv1d_causal_continue`] reproduce
    /// [`conv1d_causal_forward`] of the whole sequence (equal values; taps on the initial zero
    /// history add 0), and the history afterwards holds the last k−1 inputs.
    #[test]
    fn chunks_continue_the_sequence_op() {
        let mut rng = rng(33);
        for &(e, k, ref chunks) in &[
            (3, 4, vec![1usize; 9]),
            (5, 4, vec![2, 1, 5, 3]),
            (4, 1, vec![3, 2]),
            (3, 2, vec![1, 4, 1]),
            (2, 7, vec![2, 9, 1, 3]),
        ] {
            let l: usize = chunks.iter().sum();
            let x = uniform(&mut rng, l * e, -1.0, 1.0);
            let w = uniform(&mut rng, e * k, -0.5, 0.5);
            let b = uniform(&mut rng, e, -0.5, 0.5);
            let mut want = vec![0.0; l * e];
            conv1d_causal_forward(&mut want, &x, &w, &b, l, e, k);
            let mut hist = vec![0.0; (k - 1) * e];
            let mut got = vec![f32::NAN; l * e];
            let mut t0 = 0;
            for &n in chunks {
                let r = t0 * e..(t0 + n) * e;
                conv1d_causal_continue(&mut got[r.clone()], &mut hist, &x[r], &w, &b, n, e, k);
                t0 += n;
            }
            assert_eq!(got, want, "(E,k)={e},{k} chunks {chunks:?}");
            let m = k - 1;
            let tail: Vec<f32> = (0..m * e)
                .map(|i| {
                    let t = l as isize - m as isize + (i / e) as isize;
                    if t < 0 {
                        0.0
                    } else {
                        x[t as usize * e + i % e]
                    }
                })
                .collect();
            assert_eq!(hist, tail, "(E,k)={e},{k}: history");
        }
    }
}
