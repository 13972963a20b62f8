//! The quantum-feature ops of the CPU backend: chunk attention pooling (and its streaming
//! form, the online softmax pool), one state-vector circuit per row (forward and adjoint
//! backward, [`crate::circuit`]), and the superposition
//! of three branch outputs with normalised complex coefficients. Rows run in parallel; every
//! reduction over rows runs in row order (bit-identical for any thread count).
use super::par::*;
use super::scratch::{with_buf, PSI, REAL, ROWS};
use super::{CpuBuf, HostParams};
use crate::backend::{circuit_state_words, Superpose, SuperposeP};
use crate::circuit::superpose::{
    lcu_weights, lcu_weights_backward, s3_weights, s3_weights_backward, superpose_backward,
    superpose_forward,
};
use crate::circuit::{
    apply_program, apply_program_backward, circuit_backward, circuit_forward, expvals_xyz,
    expvals_xyz_backward, Program,
};
use crate::ops::chunk_pool::{chunk_pool_backward, chunk_pool_forward, online_pool_forward};
use alloc::{vec, vec::Vec};
use num_complex::Complex64;

/// Rows per parallel task of the circuit ops.
const CIRCUIT_ROWS: usize = 8;

pub(super) fn chunk_pool(
    s: &mut CpuBuf,
    wts: &mut CpuBuf,
    u: &CpuBuf,
    scores: &CpuBuf,
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
    let cs = rows / nc;
    assert_eq!(scores.data.len(), b * rows, "chunk_pool: scores (B, nc·cs)");
    assert_eq!(wts.data.len(), b * rows, "chunk_pool: weights (B, nc·cs)");
    s.data
        .par_chunks_mut(nc * f)
        .zip(wts.data.par_chunks_mut(rows))
        .zip(u.data.par_chunks(rows * f))
        .zip(scores.data.par_chunks(rows))
        .for_each(|(((sb, wb), ub), ab)| match valid {
            Some(v) if v < rows => with_buf(&ROWS, rows, |a| {
                // rows at or after `valid` take no weight: score −∞
                a.copy_from_slice(ab);
                a[v..].fill(f32::NEG_INFINITY);
                chunk_pool_forward(sb, wb, ub, a, nc, cs, f);
            }),
            _ => chunk_pool_forward(sb, wb, ub, ab, nc, cs, f),
        });
}

/// [`crate::backend::Infer::online_softmax_pool`]: state \[m (B, 1), z (B, 1), acc (B, F)\].
pub(super) fn online_softmax_pool(
    y: &mut CpuBuf,
    u: &CpuBuf,
    scores: &CpuBuf,
    [m, z, acc]: [&mut CpuBuf; 3],
) {
    let (b, l, f) = (u.dim0(), u.shape[1], u.last());
    assert!(l > 0, "online_softmax_pool: no rows");
    assert_eq!(y.data.len(), b * f, "online_softmax_pool: y (B, F)");
    assert_eq!(acc.data.len(), b * f, "online_softmax_pool: acc (B, F)");
    assert_eq!(
        scores.data.len(),
        b * l,
        "online_softmax_pool: scores (B, L, 1)"
    );
    assert!(
        m.data.len() == b && z.data.len() == b,
        "online_softmax_pool: m, z (B, 1)"
    );
    let rows = y
        .data
        .chunks_exact_mut(f.max(1))
        .zip(acc.data.chunks_exact_mut(f.max(1)));
    let state = m.data.iter_mut().zip(z.data.iter_mut());
    let inputs = u
        .data
        .chunks_exact((l * f).max(1))
        .zip(scores.data.chunks_exact(l));
    for (((yb, ab), (mb, zb)), (ub, sb)) in rows.zip(state).zip(inputs) {
        online_pool_forward(yb, mb, zb, ab, ub, sb, f);
    }
}

pub(super) fn chunk_pool_bwd(
    du: &mut CpuBuf,
    dscores: &mut CpuBuf,
    ds: &CpuBuf,
    u: &CpuBuf,
    wts: &CpuBuf,
) {
    let (nc, f) = (ds.shape[1], ds.last());
    let rows = u.shape[1];
    let cs = rows / nc.max(1);
    du.data
        .par_chunks_mut(rows * f)
        .zip(dscores.data.par_chunks_mut(rows))
        .zip(ds.data.par_chunks(nc * f))
        .zip(u.data.par_chunks(rows * f))
        .zip(wts.data.par_chunks(rows))
        .for_each(|((((dub, dab), dsb), ub), wb)| {
            chunk_pool_backward(dub, dab, dsb, ub, wb, nc, cs, f);
        });
}

fn check_circuit(m: &CpuBuf, theta: &CpuBuf, enc: Option<&CpuBuf>, prog: &Program) -> usize {
    let r = theta.rows();
    assert_eq!(theta.last(), prog.n_theta, "circuit: θ is not (R, K)");
    assert_eq!(
        m.data.len(),
        r * 3 * prog.n_qubits,
        "circuit: m is not (R, 3Q)"
    );
    match enc {
        Some(e) => assert_eq!(e.data.len(), r * prog.n_enc, "circuit: e is not (R, n_enc)"),
        None => assert_eq!(prog.n_enc, 0, "circuit: the program has encoding gates"),
    }
    r
}

/// Writes a complex128 state as f32 words (the bits of re, then im; low word first).
fn store_state(psi: &[Complex64], words: &mut [f32]) {
    for (a, w) in psi.iter().zip(words.chunks_exact_mut(4)) {
        let (re, im) = (a.re.to_bits(), a.im.to_bits());
        w[0] = f32::from_bits(re as u32);
        w[1] = f32::from_bits((re >> 32) as u32);
        w[2] = f32::from_bits(im as u32);
        w[3] = f32::from_bits((im >> 32) as u32);
    }
}

/// Reads a state written by [`store_state`].
fn load_state(words: &[f32], psi: &mut [Complex64]) {
    let f64_of =
        |lo: f32, hi: f32| f64::from_bits(u64::from(lo.to_bits()) | u64::from(hi.to_bits()) << 32);
    for (a, w) in psi.iter_mut().zip(words.chunks_exact(4)) {
        *a = Complex64::new(f64_of(w[0], w[1]), f64_of(w[2], w[3]));
    }
}

pub(super) fn circuit(
    m: &mut CpuBuf,
    states: Option<&mut CpuBuf>,
    theta: &CpuBuf,
    enc: Option<&CpuBuf>,
    prog: &Program,
) {
    let r = check_circuit(m, theta, enc, prog);
    let (q, k, ne) = (prog.n_qubits, prog.n_theta, prog.n_enc);
    let sw = circuit_state_words(q);
    let enc = enc.map_or(&[][..], |e| e.as_slice());
    // one task's rows; their states into `sc` (CIRCUIT_ROWS rows) when kept
    let task = |task: usize, mc: &mut [f32], mut sc: Option<&mut [f32]>| {
        with_buf(&PSI, prog.state_len(), |psi| {
            with_buf(&REAL, 3 * q, |m64| {
                for (i, mr) in mc.chunks_exact_mut(3 * q).enumerate() {
                    let row = task * CIRCUIT_ROWS + i;
                    let e = if ne > 0 {
                        &enc[row * ne..(row + 1) * ne]
                    } else {
                        &[][..]
                    };
                    circuit_forward(prog, &theta.data[row * k..(row + 1) * k], e, psi, m64);
                    mr.iter_mut()
                        .zip(m64.iter())
                        .for_each(|(a, v)| *a = *v as f32);
                    if let Some(sc) = sc.as_deref_mut() {
                        store_state(psi, &mut sc[i * sw..(i + 1) * sw]);
                    }
                }
            })
        })
    };
    let tasks = m.data.par_chunks_mut(CIRCUIT_ROWS * 3 * q).enumerate();
    match states {
        Some(s) => {
            assert_eq!(
                s.data.len(),
                r * sw,
                "circuit: states is not (R, 4·2^Q) words"
            );
            tasks
                .zip(s.data.par_chunks_mut(CIRCUIT_ROWS * sw))
                .for_each(|((t, mc), sc)| task(t, mc, Some(sc)));
        }
        None => tasks.for_each(|(t, mc)| task(t, mc, None)),
    }
}

/// The encoding-gradient rows of a circuit backward: the caller's (R, n_enc) buffer, or a scratch
/// of one element per row when it wants none or the program has no encoding (so that the row
/// chunks of dθ and de always pair up); returns the slice and its row width.
fn enc_grads<'a>(
    denc: Option<&'a mut CpuBuf>,
    scratch: &'a mut Vec<f32>,
    r: usize,
    ne: usize,
) -> (&'a mut [f32], usize) {
    match denc {
        Some(d) if ne > 0 => {
            assert_eq!(
                d.data.len(),
                r * ne,
                "circuit backward: de is not (R, n_enc)"
            );
            (&mut d.data, ne)
        }
        _ => {
            *scratch = vec![0.0f32; r * ne.max(1)];
            (scratch, ne.max(1))
        }
    }
}

pub(super) fn circuit_bwd(
    dtheta: &mut CpuBuf,
    denc: Option<&mut CpuBuf>,
    dm: &CpuBuf,
    states: Option<&CpuBuf>,
    theta: &CpuBuf,
    enc: Option<&CpuBuf>,
    prog: &Program,
) {
    let r = check_circuit(dm, theta, enc, prog);
    assert_eq!(dtheta.data.len(), theta.data.len(), "circuit_bwd: dθ vs θ");
    let (q, k, ne) = (prog.n_qubits, prog.n_theta, prog.n_enc);
    let sw = circuit_state_words(q);
    if let Some(s) = states {
        assert_eq!(
            s.data.len(),
            r * sw,
            "circuit_bwd: states is not (R, 4·2^Q) words"
        );
    }
    let enc_s = enc.map_or(&[][..], |e| e.as_slice());
    let mut de_local = Vec::new();
    let (de, ne_c) = enc_grads(denc, &mut de_local, r, ne);
    let n = prog.state_len();
    dtheta
        .data
        .par_chunks_mut(CIRCUIT_ROWS * k.max(1))
        .zip(de.par_chunks_mut(CIRCUIT_ROWS * ne_c))
        .enumerate()
        .for_each_init(
            || {
                (
                    vec![Complex64::new(0.0, 0.0); 3 * n],
                    vec![0.0f64; 3 * q + k + ne],
                )
            },
            |(cstates, f64s), (task, (dtc, dec))| {
                let (psi, scratch) = cstates.split_at_mut(n);
                let (m64, rest) = f64s.split_at_mut(3 * q);
                let (dth, de64) = rest.split_at_mut(k);
                for (i, dtr) in dtc.chunks_exact_mut(k.max(1)).enumerate() {
                    let row = task * CIRCUIT_ROWS + i;
                    let e = if ne > 0 {
                        &enc_s[row * ne..(row + 1) * ne]
                    } else {
                        &[][..]
                    };
                    let th = &theta.data[row * k..(row + 1) * k];
                    match states {
                        Some(s) => load_state(&s.data[row * sw..(row + 1) * sw], psi),
                        None => circuit_forward(prog, th, e, psi, m64),
                    }
                    m64.iter_mut()
                        .zip(&dm.data[row * 3 * q..(row + 1) * 3 * q])
                        .for_each(|(a, v)| *a = f64::from(*v));
                    dth.fill(0.0);
                    de64.fill(0.0);
                    circuit_backward(prog, th, e, psi, m64, dth, de64, scratch);
                    dtr.iter_mut()
                        .zip(dth.iter())
                        .for_each(|(a, v)| *a += *v as f32);
                    if ne > 0 {
                        dec[i * ne..(i + 1) * ne]
                            .iter_mut()
                            .zip(de64.iter())
                            .for_each(|(a, v)| *a += *v as f32);
                    }
                }
            },
        );
}

fn widths(y: &CpuBuf, xs: &[&CpuBuf; 3], mode: Superpose) -> (usize, usize) {
    let (rows, w) = (xs[0].rows(), xs[0].last());
    for x in xs {
        assert_eq!(x.shape, xs[0].shape, "superpose: branch shapes differ");
    }
    let yw = if mode == Superpose::Concat { 3 * w } else { w };
    assert_eq!(y.data.len(), rows * yw, "superpose: output width");
    (rows, w)
}

pub(super) fn superpose<P: HostParams + ?Sized>(
    y: &mut CpuBuf,
    xs: [&CpuBuf; 3],
    p: &P,
    sp: &SuperposeP,
) {
    let (_, w) = widths(y, &xs, sp.mode);
    let (c, n) = sp.coefficients(p);
    match sp.mode {
        Superpose::Concat => {
            let a = sp.magnitudes(p);
            for (j, yr) in y.data.chunks_exact_mut(3 * w).enumerate() {
                for k in 0..3 {
                    let xr = &xs[k].data[j * w..(j + 1) * w];
                    yr[k * w..(k + 1) * w]
                        .iter_mut()
                        .zip(xr)
                        .for_each(|(o, v)| *o = a[k] * v);
                }
            }
        }
        Superpose::Sum => {
            let a = sp.magnitudes(p);
            for (i, o) in y.data.iter_mut().enumerate() {
                *o = a[0] * xs[0].data[i] + a[1] * xs[1].data[i] + a[2] * xs[2].data[i];
            }
        }
        Superpose::Modulus | Superpose::ModulusRaw => {
            let cb = if sp.mode == Superpose::Modulus {
                c.map(|(r, i)| (r / n, i / n))
            } else {
                c
            };
            for (i, o) in y.data.iter_mut().enumerate() {
                let (re, im) = modulus_parts(&cb, xs, i);
                *o = libm::sqrtf(re * re + im * im);
            }
        }
    }
}

/// Re and Im of Σ_k c̄_k·x_k at element i (accumulated in branch order).
fn modulus_parts(cb: &[(f32, f32); 3], xs: [&CpuBuf; 3], i: usize) -> (f32, f32) {
    let (mut re, mut im) = (0.0f32, 0.0f32);
    for k in 0..3 {
        re += cb[k].0 * xs[k].data[i];
        im += cb[k].1 * xs[k].data[i];
    }
    (re, im)
}

pub(super) fn superpose_bwd(
    dxs: [&mut CpuBuf; 3],
    g: &mut [f32],
    dy: &CpuBuf,
    xs: [&CpuBuf; 3],
    p: &[f32],
    sp: &SuperposeP,
) {
    let (rows, w) = widths(dy, &xs, sp.mode);
    let (c, n) = sp.coefficients(p);
    let n64 = f64::from(n);
    match sp.mode {
        Superpose::Concat | Superpose::Sum => {
            let a = sp.magnitudes(p);
            // dw_k = Σ dy ⊙ x_k (f64, element order)
            let mut dw = [0.0f64; 3];
            for j in 0..rows {
                for k in 0..3 {
                    let yo = if sp.mode == Superpose::Concat {
                        j * 3 * w + k * w
                    } else {
                        j * w
                    };
                    let dyr = &dy.data[yo..yo + w];
                    let xr = &xs[k].data[j * w..(j + 1) * w];
                    for ((dx, &gy), &xv) in
                        dxs[k].data[j * w..(j + 1) * w].iter_mut().zip(dyr).zip(xr)
                    {
                        dw[k] += f64::from(gy) * f64::from(xv);
                        *dx += a[k] * gy;
                    }
                }
            }
            // w_b = a_b/n, a_b = |c_b|: ∂w_b/∂x_j = δ_bj·x_j/(a_j·n) − a_b·x_j/n³
            // (x = re or im of c_j; ∂|c|/∂x at |c| = 0 taken as 0)
            let sum_dw_a: f64 = (0..3).map(|b| dw[b] * f64::from(a[b]) * n64).sum();
            for (j, [re, im]) in sp.coeffs.iter().enumerate() {
                let aj = f64::from(a[j]) * n64;
                for r in [*re, *im] {
                    let x = f64::from(p[r]);
                    let direct = if aj > 0.0 {
                        dw[j] * x / (aj * n64)
                    } else {
                        0.0
                    };
                    g[r] += (direct - sum_dw_a * x / (n64 * n64 * n64)) as f32;
                }
            }
        }
        Superpose::Modulus | Superpose::ModulusRaw => {
            let raw = sp.mode == Superpose::ModulusRaw;
            let cb = if raw {
                c
            } else {
                c.map(|(r, i)| (r / n, i / n))
            };
            let mut dcb = [(0.0f64, 0.0f64); 3];
            for i in 0..rows * w {
                let (re, im) = modulus_parts(&cb, xs, i);
                let out = libm::sqrtf(re * re + im * im);
                if out <= 0.0 {
                    continue;
                }
                let (dre, dim) = (dy.data[i] * re / out, dy.data[i] * im / out);
                for k in 0..3 {
                    let xv = xs[k].data[i];
                    dcb[k].0 += f64::from(dre) * f64::from(xv);
                    dcb[k].1 += f64::from(dim) * f64::from(xv);
                    dxs[k].data[i] += cb[k].0 * dre + cb[k].1 * dim;
                }
            }
            if raw {
                for (k, [re, im]) in sp.coeffs.iter().enumerate() {
                    g[*re] += dcb[k].0 as f32;
                    g[*im] += dcb[k].1 as f32;
                }
                return;
            }
            // c̄ = c/n, n = √(Σ|c|² + ε): ∂c̄_a/∂x_j = δ_aj/n − c_a·x_j/n³ over the six reals
            let proj: f64 = (0..3)
                .map(|k| dcb[k].0 * f64::from(c[k].0) + dcb[k].1 * f64::from(c[k].1))
                .sum();
            for (k, [re, im]) in sp.coeffs.iter().enumerate() {
                for (r, d) in [(*re, dcb[k].0), (*im, dcb[k].1)] {
                    g[r] += (d / n64 - proj * f64::from(p[r]) / (n64 * n64 * n64)) as f32;
                }
            }
        }
    }
}

pub(super) fn circuit_bwd_state(
    dtheta: &mut CpuBuf,
    denc: Option<&mut CpuBuf>,
    gstate: &CpuBuf,
    states: &CpuBuf,
    theta: &CpuBuf,
    enc: Option<&CpuBuf>,
    prog: &Program,
) {
    let r = theta.rows();
    assert_eq!(
        theta.last(),
        prog.n_theta,
        "circuit_bwd_state: θ is not (R, K)"
    );
    assert_eq!(
        dtheta.data.len(),
        theta.data.len(),
        "circuit_bwd_state: dθ vs θ"
    );
    let (k, ne, n) = (prog.n_theta, prog.n_enc, prog.state_len());
    let sw = circuit_state_words(prog.n_qubits);
    assert_eq!(states.data.len(), r * sw, "circuit_bwd_state: states");
    assert_eq!(gstate.data.len(), r * sw, "circuit_bwd_state: gstate");
    match enc {
        Some(e) => assert_eq!(
            e.data.len(),
            r * ne,
            "circuit_bwd_state: e is not (R, n_enc)"
        ),
        None => assert_eq!(ne, 0, "circuit_bwd_state: the program has encoding gates"),
    }
    let enc_s = enc.map_or(&[][..], |e| e.as_slice());
    let mut de_local = Vec::new();
    let (de, ne_c) = enc_grads(denc, &mut de_local, r, ne);
    dtheta
        .data
        .par_chunks_mut(CIRCUIT_ROWS * k.max(1))
        .zip(de.par_chunks_mut(CIRCUIT_ROWS * ne_c))
        .enumerate()
        .for_each_init(
            || (vec![Complex64::new(0.0, 0.0); 3 * n], vec![0.0f64; k + ne]),
            |(cs, f64s), (task, (dtc, dec))| {
                let (psi, rest) = cs.split_at_mut(n);
                let (gs, scratch) = rest.split_at_mut(n);
                let (dth, de64) = f64s.split_at_mut(k);
                for (i, dtr) in dtc.chunks_exact_mut(k.max(1)).enumerate() {
                    let row = task * CIRCUIT_ROWS + i;
                    let e = if ne > 0 {
                        &enc_s[row * ne..(row + 1) * ne]
                    } else {
                        &[][..]
                    };
                    load_state(&states.data[row * sw..(row + 1) * sw], psi);
                    load_state(&gstate.data[row * sw..(row + 1) * sw], gs);
                    dth.fill(0.0);
                    de64.fill(0.0);
                    let th = &theta.data[row * k..(row + 1) * k];
                    apply_program_backward(prog, th, e, psi, gs, dth, de64, scratch);
                    dtr.iter_mut()
                        .zip(dth.iter())
                        .for_each(|(a, v)| *a += *v as f32);
                    if ne > 0 {
                        dec[i * ne..(i + 1) * ne]
                            .iter_mut()
                            .zip(de64.iter())
                            .for_each(|(a, v)| *a += *v as f32);
                    }
                }
            },
        );
}

/// Rows × the three states of an S3 core: checks and returns (R, Q, words per row).
fn s3_dims(m: &CpuBuf, states: &[&CpuBuf; 3]) -> (usize, usize, usize) {
    let sw = states[0].last();
    let n = sw / 4;
    assert!(
        n.is_power_of_two() && n >= 2,
        "s3: states are not (R, 4·2^Q) words"
    );
    let q = n.trailing_zeros() as usize;
    let r = states[0].rows();
    for s in states {
        assert_eq!(s.data.len(), r * sw, "s3: state buffers differ");
    }
    assert_eq!(m.data.len(), r * 3 * q, "s3: m is not (R, 3Q)");
    (r, q, sw)
}

pub(super) fn s3_measure(m: &mut CpuBuf, states: [&CpuBuf; 3], p6: &[f32]) {
    let (_, q, sw) = s3_dims(m, &states);
    let n = 1usize << q;
    let w = s3_weights(p6);
    // the thread's scratch (nothing allocated once warm: a stream's step)
    m.data
        .par_chunks_mut(3 * q)
        .enumerate()
        .for_each(|(row, mr)| {
            with_buf(&PSI, 4 * n, |cs| {
                with_buf(&REAL, 3 * q, |out| {
                    let (ps, phi) = cs.split_at_mut(3 * n);
                    for k in 0..3 {
                        load_state(
                            &states[k].data[row * sw..(row + 1) * sw],
                            &mut ps[k * n..(k + 1) * n],
                        );
                    }
                    let st: [&[Complex64]; 3] = [&ps[..n], &ps[n..2 * n], &ps[2 * n..]];
                    superpose_forward(&w, &st, phi);
                    expvals_xyz(phi, q, out);
                    mr.iter_mut()
                        .zip(out.iter())
                        .for_each(|(a, v)| *a = *v as f32);
                })
            })
        });
}

pub(super) fn s3_measure_bwd(
    gstates: [&mut CpuBuf; 3],
    g6: &mut [f32],
    dm: &CpuBuf,
    states: [&CpuBuf; 3],
    p6: &[f32],
) {
    let (r, q, sw) = s3_dims(dm, &states);
    let n = 1usize << q;
    let w = s3_weights(p6);
    for gs in &gstates {
        assert_eq!(gs.data.len(), r * sw, "s3_bwd: gstates");
    }
    // per row: the three state gradients, and the row's weight gradient (summed in row order)
    let [g0, g1, g2] = gstates;
    let mut gw_rows = vec![Complex64::new(0.0, 0.0); 3 * r];
    g0.data
        .par_chunks_mut(sw)
        .zip(g1.data.par_chunks_mut(sw))
        .zip(g2.data.par_chunks_mut(sw))
        .zip(gw_rows.par_chunks_mut(3))
        .enumerate()
        .for_each_init(
            || (vec![Complex64::new(0.0, 0.0); 8 * n], vec![0.0f64; 3 * q]),
            |(cs, d64), (row, (((o0, o1), o2), gw))| {
                let (ps, rest) = cs.split_at_mut(3 * n);
                let (phi, rest) = rest.split_at_mut(n);
                let (gphi, gst) = rest.split_at_mut(n);
                for k in 0..3 {
                    load_state(
                        &states[k].data[row * sw..(row + 1) * sw],
                        &mut ps[k * n..(k + 1) * n],
                    );
                }
                let st: [&[Complex64]; 3] = [&ps[..n], &ps[n..2 * n], &ps[2 * n..]];
                let rn = superpose_forward(&w, &st, phi);
                d64.iter_mut()
                    .zip(&dm.data[row * 3 * q..(row + 1) * 3 * q])
                    .for_each(|(a, v)| *a = f64::from(*v));
                gphi.fill(Complex64::new(0.0, 0.0));
                expvals_xyz_backward(phi, q, d64, gphi);
                gst.fill(Complex64::new(0.0, 0.0));
                let (a, rest) = gst.split_at_mut(n);
                let (b, c) = rest.split_at_mut(n);
                let mut outs = [Some(a), Some(b), Some(c)];
                superpose_backward(&w, &st, phi, rn, gphi, &mut outs, gw);
                store_state(&gst[..n], o0);
                store_state(&gst[n..2 * n], o1);
                store_state(&gst[2 * n..], o2);
            },
        );
    let mut gw = [Complex64::new(0.0, 0.0); 3];
    for row in gw_rows.chunks_exact(3) {
        for k in 0..3 {
            gw[k] += row[k];
        }
    }
    s3_weights_backward(p6, &gw, g6);
}

/// Rows, Q and words per row of a prepared-state circuit: θ (R, K), states and init
/// (R, 4·2^Q words), m (R, 3Q).
fn from_dims(m: &CpuBuf, states: &CpuBuf, init: &CpuBuf, theta: &CpuBuf, prog: &Program) -> usize {
    let r = theta.rows();
    assert_eq!(theta.last(), prog.n_theta, "circuit_from: θ is not (R, K)");
    assert_eq!(
        prog.n_enc, 0,
        "circuit_from: the program has encoding gates"
    );
    let sw = circuit_state_words(prog.n_qubits);
    assert_eq!(states.data.len(), r * sw, "circuit_from: states");
    assert_eq!(init.data.len(), r * sw, "circuit_from: initial states");
    assert_eq!(
        m.data.len(),
        r * 3 * prog.n_qubits,
        "circuit_from: m is not (R, 3Q)"
    );
    r
}

pub(super) fn circuit_from(
    m: &mut CpuBuf,
    states: &mut CpuBuf,
    init: &CpuBuf,
    theta: &CpuBuf,
    prog: &Program,
) {
    from_dims(m, states, init, theta, prog);
    let (q, k) = (prog.n_qubits, prog.n_theta);
    let sw = circuit_state_words(q);
    m.data
        .par_chunks_mut(3 * q)
        .zip(states.data.par_chunks_mut(sw))
        .enumerate()
        .for_each_init(
            || {
                (
                    vec![Complex64::new(0.0, 0.0); prog.state_len()],
                    vec![0.0f64; 3 * q],
                )
            },
            |(psi, m64), (row, (mr, sr))| {
                load_state(&init.data[row * sw..(row + 1) * sw], psi);
                apply_program(prog, &theta.data[row * k..(row + 1) * k], &[], psi);
                expvals_xyz(psi, q, m64);
                mr.iter_mut()
                    .zip(m64.iter())
                    .for_each(|(a, v)| *a = *v as f32);
                store_state(psi, sr);
            },
        );
}

pub(super) fn circuit_from_bwd(
    dtheta: &mut CpuBuf,
    ginit: &mut CpuBuf,
    dm: &CpuBuf,
    states: &CpuBuf,
    theta: &CpuBuf,
    prog: &Program,
) {
    from_dims(dm, states, ginit, theta, prog);
    assert_eq!(
        dtheta.data.len(),
        theta.data.len(),
        "circuit_from_bwd: dθ vs θ"
    );
    let (q, k, n) = (prog.n_qubits, prog.n_theta, prog.state_len());
    let sw = circuit_state_words(q);
    dtheta
        .data
        .par_chunks_mut(k.max(1))
        .zip(ginit.data.par_chunks_mut(sw))
        .enumerate()
        .for_each_init(
            || {
                (
                    vec![Complex64::new(0.0, 0.0); 3 * n],
                    vec![0.0f64; 3 * q + k],
                )
            },
            |(cs, f64s), (row, (dtr, gr))| {
                let (psi, rest) = cs.split_at_mut(n);
                let (g, scratch) = rest.split_at_mut(n);
                let (dm64, dth) = f64s.split_at_mut(3 * q);
                load_state(&states.data[row * sw..(row + 1) * sw], psi);
                dm64.iter_mut()
                    .zip(&dm.data[row * 3 * q..(row + 1) * 3 * q])
                    .for_each(|(a, v)| *a = f64::from(*v));
                g.fill(Complex64::new(0.0, 0.0));
                expvals_xyz_backward(psi, q, dm64, g);
                dth.fill(0.0);
                let th = &theta.data[row * k..(row + 1) * k];
                apply_program_backward(prog, th, &[], psi, g, dth, &mut [], scratch);
                dtr.iter_mut()
                    .zip(dth.iter())
                    .for_each(|(a, v)| *a += *v as f32);
                store_state(g, gr);
            },
        );
}

/// Samples, chunks, Q and words per state of an LCU: states (B, nc, 4·2^Q words), φ (B, words),
/// nc complex weights.
fn lcu_dims(phi: &CpuBuf, states: &CpuBuf, mix: &[f32]) -> (usize, usize, usize) {
    let sw = states.last();
    let n = sw / 4;
    assert!(
        n.is_power_of_two() && n >= 2,
        "lcu: states are not (B, nc, 4·2^Q) words"
    );
    let b = phi.data.len() / sw;
    assert_eq!(phi.data.len(), b * sw, "lcu: φ is not (B, 4·2^Q) words");
    let nc = mix.len() / 2;
    assert_eq!(
        states.data.len(),
        b * nc * sw,
        "lcu: states are not (B, nc, ·)"
    );
    (b, nc, n)
}

pub(super) fn lcu(phi: &mut CpuBuf, states: &CpuBuf, mix: &[f32]) {
    let (_, nc, n) = lcu_dims(phi, states, mix);
    let sw = 4 * n;
    let mut w = vec![Complex64::new(0.0, 0.0); nc];
    lcu_weights(mix, &mut w);
    phi.data.par_chunks_mut(sw).enumerate().for_each_init(
        || vec![Complex64::new(0.0, 0.0); (nc + 1) * n],
        |cs, (row, pr)| {
            let (ps, out) = cs.split_at_mut(nc * n);
            for (j, psi) in ps.chunks_exact_mut(n).enumerate() {
                let at = (row * nc + j) * sw;
                load_state(&states.data[at..at + sw], psi);
            }
            let st: Vec<&[Complex64]> = ps.chunks_exact(n).collect();
            superpose_forward(&w, &st, out);
            store_state(out, pr);
        },
    );
}

pub(super) fn lcu_bwd(
    gstates: &mut CpuBuf,
    gmix: &mut [f32],
    gphi: &CpuBuf,
    states: &CpuBuf,
    mix: &[f32],
) {
    let (b, nc, n) = lcu_dims(gphi, states, mix);
    let sw = 4 * n;
    assert_eq!(gstates.data.len(), states.data.len(), "lcu_bwd: gstates");
    let mut w = vec![Complex64::new(0.0, 0.0); nc];
    lcu_weights(mix, &mut w);
    // per sample: the state gradients, and the sample's weight gradient (summed in order)
    let mut gw_rows = vec![Complex64::new(0.0, 0.0); b * nc];
    gstates
        .data
        .par_chunks_mut(nc * sw)
        .zip(gw_rows.par_chunks_mut(nc))
        .enumerate()
        .for_each_init(
            || vec![Complex64::new(0.0, 0.0); (2 * nc + 2) * n],
            |cs, (row, (gr, gw))| {
                let (ps, rest) = cs.split_at_mut(nc * n);
                let (gs, rest) = rest.split_at_mut(nc * n);
                let (phi, gp) = rest.split_at_mut(n);
                for (j, psi) in ps.chunks_exact_mut(n).enumerate() {
                    let at = (row * nc + j) * sw;
                    load_state(&states.data[at..at + sw], psi);
                }
                load_state(&gphi.data[row * sw..(row + 1) * sw], gp);
                let st: Vec<&[Complex64]> = ps.chunks_exact(n).collect();
                let r = superpose_forward(&w, &st, phi);
                gs.fill(Complex64::new(0.0, 0.0));
                let mut g_st: Vec<Option<&mut [Complex64]>> =
                    gs.chunks_exact_mut(n).map(Some).collect();
                superpose_backward(&w, &st, phi, r, gp, &mut g_st, gw);
                for (j, g) in gs.chunks_exact(n).enumerate() {
                    store_state(g, &mut gr[j * sw..(j + 1) * sw]);
                }
            },
        );
    let mut gw = vec![Complex64::new(0.0, 0.0); nc];
    for row in gw_rows.chunks_exact(nc) {
        gw.iter_mut().zip(row).for_each(|(a, v)| *a += v);
    }
    lcu_weights_backward(mix, &gw, gmix);
}

#[cfg(test)]
mod tests {
    use crate::backend::cpu::{Cpu, CpuBuf};
    use crate::backend::{circuit_state_words, Backend, Infer, Segment};
    use crate::circuit::Program;

    /// The S3 core of 2d on 6 qubits, 2 layers: E(a)·D²(θ; dt), E(a)·Bk²(θ; dt), E(a)·U²(θ).
    fn branches() -> [Program; 3] {
        let mk = |backward: bool| {
            let mut p = Program::empty(6);
            p.push_ry_embedding(0);
            for l in 0..2 {
                if backward {
                    p.push_backward_layer(30 * l);
                } else {
                    p.push_unified_layer(30 * l);
                }
            }
            p
        };
        [mk(false), mk(true), mk(false)]
    }

    /// m = S3(ψ₁, ψ₂, ψ₃) for one row: θ (60) per branch, a (6), dt, six coefficients.
    fn s3(th: [&[f32]; 3], a: &[f32], dt: f32, coef: &[f32]) -> Vec<f32> {
        let progs = branches();
        let seg = |scale| Segment {
            width: 60,
            period: 30,
            prefix: 18,
            scale,
        };
        let segs = [Some(0), Some(0), None].map(seg);
        let dtb = CpuBuf::from_vec(vec![dt], &[1, 1]);
        let enc = CpuBuf::from_vec(a.to_vec(), &[1, 6]);
        let mut states: Vec<CpuBuf> = (0..3)
            .map(|_| Cpu.alloc(&[1, circuit_state_words(6)]))
            .collect();
        let mut m = Cpu.alloc(&[1, 18]);
        for k in 0..3 {
            let raw = CpuBuf::from_vec(th[k].to_vec(), &[1, 60]);
            let mut theta = Cpu.alloc(&[1, 60]);
            Cpu.scale_segments(&mut theta, &raw, &dtb, &segs[k..k + 1]);
            Cpu.circuit(&mut m, Some(&mut states[k]), &theta, Some(&enc), &progs[k]);
        }
        Cpu.s3_measure(&mut m, [&states[0], &states[1], &states[2]], coef, 0);
        m.as_slice().to_vec()
    }

    /// Spec TV6: S3(TV3, TV4, TV5; α = 0.6+0.2i, β = −0.3+0.5i, γ = 0.4−0.1i).
    #[test]
    fn s3_measure_matches_tv6() {
        let coef = [0.6f32, 0.2, -0.3, 0.5, 0.4, -0.1];
        let th: Vec<f32> = (0..60).map(|k| 0.05 * (k + 1) as f32 - 1.0).collect();
        let e: Vec<f32> = (0..6).map(|i| 0.4 * i as f32 - 1.0).collect();
        let q = s3([&th, &th, &th], &e, 0.7, &coef);
        let want = [
            -0.074308738282,
            0.012625631066,
            0.266394287474,
            0.163998936394,
            0.095887111178,
            0.401288597065,
            0.402949931931,
            -0.485450233878,
            -0.293551687013,
            -0.358261615082,
            -0.567959526091,
            -0.140661095312,
            0.120450756503,
            0.550000640601,
            0.184452525613,
            -0.161976541426,
            -0.297909627990,
            0.005030217838,
        ];
        let d = q
            .iter()
            .zip(want)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        // f32 angles (the TV is float64 throughout) and the f32 output cast
        assert!(d < 1e-6, "TV6 max diff {d:e}");
    }

    /// The S3 backward (coefficients) and the adjoint from a state gradient (angles of each
    /// branch) against central differences of Σ c·m.
    #[test]
    fn s3_and_state_adjoint_vs_finite_differences() {
        let progs = branches();
        let mut seed = 0x5eed_u64;
        let mut r = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 40) as f32 / (1u64 << 24) as f32) * 3.0 - 1.5
                })
                .collect()
        };
        let (th, a, c, coef) = ([r(60), r(60), r(60)], r(6), r(18), r(6));
        let loss = |th: [&[f32]; 3], coef: &[f32]| -> f64 {
            s3(th, &a, 1.0, coef)
                .iter()
                .zip(&c)
                .map(|(m, w)| f64::from(*m) * f64::from(*w))
                .sum()
        };
        // analytic: states from the forward, then the backward ops (dt = 1: θ = raw)
        let enc = CpuBuf::from_vec(a.clone(), &[1, 6]);
        let thetas: Vec<CpuBuf> = th
            .iter()
            .map(|t| CpuBuf::from_vec(t.clone(), &[1, 60]))
            .collect();
        let mut states: Vec<CpuBuf> = (0..3)
            .map(|_| Cpu.alloc(&[1, circuit_state_words(6)]))
            .collect();
        let mut m = Cpu.alloc(&[1, 18]);
        for k in 0..3 {
            Cpu.circuit(
                &mut m,
                Some(&mut states[k]),
                &thetas[k],
                Some(&enc),
                &progs[k],
            );
        }
        let dm = CpuBuf::from_vec(c.clone(), &[1, 18]);
        let mut gs: Vec<CpuBuf> = (0..3)
            .map(|_| Cpu.alloc(&[1, circuit_state_words(6)]))
            .collect();
        let mut gcoef = vec![0.0f32; 6];
        {
            let [g0, g1, g2] = &mut gs[..] else {
                unreachable!("three branches")
            };
            Cpu.s3_measure_bwd(
                [g0, g1, g2],
                &mut gcoef,
                &dm,
                [&states[0], &states[1], &states[2]],
                &coef,
                0,
            );
        }
        let dth: Vec<Vec<f32>> = (0..3)
            .map(|k| {
                let mut d = Cpu.alloc(&[1, 60]);
                Cpu.circuit_bwd_state(
                    &mut d,
                    None,
                    &gs[k],
                    &states[k],
                    &thetas[k],
                    Some(&enc),
                    &progs[k],
                );
                d.as_slice().to_vec()
            })
            .collect();
        let h = 1e-2f32;
        let mut worst = 0.0f64;
        for i in 0..6 {
            let mut p = coef.clone();
            p[i] += h;
            let up = loss([&th[0], &th[1], &th[2]], &p);
            p[i] -= 2.0 * h;
            let dn = loss([&th[0], &th[1], &th[2]], &p);
            worst = worst.max(((up - dn) / (2.0 * h as f64) - f64::from(gcoef[i])).abs());
        }
        for (b, db) in dth.iter().enumerate() {
            for i in (0..60).step_by(7) {
                let mut t = th.clone();
                t[b][i] += h;
                let up = loss([&t[0], &t[1], &t[2]], &coef);
                t[b][i] -= 2.0 * h;
                let dn = loss([&t[0], &t[1], &t[2]], &coef);
                worst = worst.max(((up - dn) / (2.0 * h as f64) - f64::from(db[i])).abs());
            }
        }
        assert!(
            worst < 2e-3,
            "S3 / state-adjoint FD worst abs err {worst:e}"
        );
    }

    /// Conv3's im2col equals the direct formula: column c·3 + k = x[c, t + k − 1], zero edges.
    #[test]
    fn im2col3_matches_the_direct_formula() {
        let (b, c, t) = (2, 3, 5);
        let x: Vec<f32> = (0..b * c * t).map(|i| i as f32 + 1.0).collect();
        let xb = CpuBuf::from_vec(x.clone(), &[b, c, t]);
        let mut y = Cpu.alloc(&[b, t, 3 * c]);
        Cpu.im2col3(&mut y, &xb);
        for bi in 0..b {
            for ti in 0..t {
                for ci in 0..c {
                    for k in 0..3 {
                        let ts = ti as isize + k as isize - 1;
                        let want = if ts < 0 || ts >= t as isize {
                            0.0
                        } else {
                            x[(bi * c + ci) * t + ts as usize]
                        };
                        assert_eq!(y.as_slice()[(bi * t + ti) * 3 * c + 3 * ci + k], want);
                    }
                }
            }
        }
    }
}
