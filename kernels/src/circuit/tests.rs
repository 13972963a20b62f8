//! Tests of the circuit simulator: PennyLane wire-order checks (spec §2.1), the unified-ansatz
//! gate table (§2.2), test vectors TV1/TV2 (§2.7), an independent test-only f64 tensor
//! simulator (a port of the NumPy oracle's `gate1`/`cgate`/`ansatz`/`expvals`), and adjoint
//! gradients against parameter-shift rules and central finite differences.
extern crate std;

use super::program::{AngleSrc, Gate, GateKind, Program};
use super::simulate::{
    backward_with, circuit_backward, circuit_forward, expvals_xyz, forward_with,
};
use core::f64::consts::{FRAC_PI_2, PI};
use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::vec;
use std::vec::Vec;
use std::{eprintln, println};

type C = Complex64;

fn cz() -> C {
    C::new(0.0, 0.0)
}
/// e^{iφ} in f64 (num-complex is built without std here).
fn cis(phi: f64) -> C {
    C::new(phi.cos(), phi.sin())
}
/// |z| in f64.
fn cabs(z: C) -> f64 {
    z.norm_sqr().sqrt()
}

// ------------------------------------------------------------------------------------------
// Test-only f64 reference simulator: state is a (2,)*Q tensor stored in C order (axis w =
// wire w), gates applied as full 2×2 contractions over one axis (np.tensordot + moveaxis),
// controlled gates on the control = 1 slice; trig in f64. Written independently of the
// production pair loops (digit decoding, generic complex matrices).
// ------------------------------------------------------------------------------------------
type M2 = [[C; 2]; 2];

fn ref_rx(t: f64) -> M2 {
    let (c, s) = ((t / 2.0).cos(), (t / 2.0).sin());
    [
        [C::new(c, 0.0), C::new(0.0, -s)],
        [C::new(0.0, -s), C::new(c, 0.0)],
    ]
}
fn ref_ry(t: f64) -> M2 {
    let (c, s) = ((t / 2.0).cos(), (t / 2.0).sin());
    [
        [C::new(c, 0.0), C::new(-s, 0.0)],
        [C::new(s, 0.0), C::new(c, 0.0)],
    ]
}
fn ref_rz(t: f64) -> M2 {
    [[cis(-0.5 * t), cz()], [cz(), cis(0.5 * t)]]
}

/// Multi-index digits of a flat C-order index of a (2,)*q tensor.
fn digits(idx: usize, q: usize) -> Vec<usize> {
    let mut d = vec![0; q];
    let mut r = idx;
    for a in (0..q).rev() {
        d[a] = r % 2;
        r /= 2;
    }
    d
}
fn flat(d: &[usize]) -> usize {
    d.iter().fold(0, |acc, &b| acc * 2 + b)
}

/// new[..., i_w, ...] = Σ_j G[i_w][j]·psi[..., j, ...]   (oracle `gate1`)
fn ref_gate1(psi: &[C], q: usize, g: &M2, w: usize) -> Vec<C> {
    (0..psi.len())
        .map(|idx| {
            let mut d = digits(idx, q);
            let i = d[w];
            let mut acc = cz();
            for (j, gij) in g[i].iter().enumerate() {
                d[w] = j;
                acc += gij * psi[flat(&d)];
            }
            acc
        })
        .collect()
}

/// controlled-G (oracle `cgate`): G on axis t of the slice where axis c = 1, identity elsewhere.
fn ref_cgate(psi: &[C], q: usize, g: &M2, c: usize, t: usize) -> Vec<C> {
    let applied = ref_gate1(psi, q, g, t);
    (0..psi.len())
        .map(|idx| {
            if digits(idx, q)[c] == 1 {
                applied[idx]
            } else {
                psi[idx]
            }
        })
        .collect()
}

fn ref_zero(q: usize) -> Vec<C> {
    let mut s = vec![cz(); 1 << q];
    s[0] = C::new(1.0, 0.0);
    s
}

/// Oracle `ansatz`, generalised to q wires and `layers` layers (written from the oracle loops,
/// not from `Program::unified_ansatz`).
fn ref_ansatz(q: usize, layers: usize, theta: &[f64], enc: Option<&[f64]>) -> Vec<C> {
    let mut psi = ref_zero(q);
    if let Some(e) = enc {
        for i in 0..q {
            psi = ref_gate1(&psi, q, &ref_ry(e[i % e.len()]), i);
        }
    }
    for l in 0..layers {
        let o = 5 * q * l;
        for i in 0..q {
            psi = ref_gate1(&psi, q, &ref_rx(theta[o + 3 * i]), i);
            psi = ref_gate1(&psi, q, &ref_ry(theta[o + 3 * i + 1]), i);
            psi = ref_gate1(&psi, q, &ref_rz(theta[o + 3 * i + 2]), i);
        }
        for i in 0..q {
            psi = ref_cgate(&psi, q, &ref_rx(theta[o + 3 * q + i]), i, (i + 1) % q);
        }
        for j in 0..q {
            let t = (q as isize - 2 - j as isize).rem_euclid(q as isize) as usize;
            psi = ref_cgate(&psi, q, &ref_rx(theta[o + 4 * q + j]), q - 1 - j, t);
        }
    }
    psi
}

/// Any `Program`, f64 angles, f64 trig, tensor simulator.
fn ref_program(prog: &Program, theta: &[f64], enc: &[f64]) -> Vec<C> {
    let q = prog.n_qubits;
    let mut psi = ref_zero(q);
    for g in &prog.gates {
        let a = match g.angle {
            AngleSrc::Theta(i) => theta[i as usize],
            AngleSrc::Enc(i) => enc[i as usize],
        };
        let t = g.target as usize;
        psi = match g.kind {
            GateKind::Rx => ref_gate1(&psi, q, &ref_rx(a), t),
            GateKind::Ry => ref_gate1(&psi, q, &ref_ry(a), t),
            GateKind::Rz => ref_gate1(&psi, q, &ref_rz(a), t),
            GateKind::Crx { ctrl } => ref_cgate(&psi, q, &ref_rx(a), ctrl as usize, t),
        };
    }
    psi
}

/// Oracle `expvals`: [<X_w>], [<Y_w>], [<Z_w>] from slices along axis w.
fn ref_expvals(psi: &[C], q: usize) -> Vec<f64> {
    let mut out = vec![0.0; 3 * q];
    for w in 0..q {
        let (mut x, mut y, mut z) = (0.0, 0.0, 0.0);
        for idx in 0..psi.len() {
            let d = digits(idx, q);
            if d[w] != 0 {
                continue;
            }
            let mut d1 = d.clone();
            d1[w] = 1;
            let (a, b) = (psi[idx], psi[flat(&d1)]);
            let zz = a.conj() * b;
            x += zz.re;
            y += zz.im;
            z += a.norm_sqr() - b.norm_sqr();
        }
        out[w] = 2.0 * x;
        out[q + w] = 2.0 * y;
        out[2 * q + w] = z;
    }
    out
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
fn max_abs_diff_c(a: &[C], b: &[C]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| cabs(x - y))
        .fold(0.0, f64::max)
}

/// Production forward with f32 angles; returns (psi, expvals).
fn fwd(prog: &Program, theta: &[f32], enc: &[f32]) -> (Vec<C>, Vec<f64>) {
    let mut psi = vec![cz(); prog.state_len()];
    let mut out = vec![0.0; 3 * prog.n_qubits];
    circuit_forward(prog, theta, enc, &mut psi, &mut out);
    (psi, out)
}

/// Production adjoint backward with f32 angles; returns (dθ, de).
fn bwd(prog: &Program, theta: &[f32], enc: &[f32], dout: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (psi, _) = fwd(prog, theta, enc);
    let mut dth = vec![0.0; prog.n_theta];
    let mut de = vec![0.0; prog.n_enc];
    let mut scratch = vec![cz(); 2 * prog.state_len()];
    circuit_backward(
        prog,
        theta,
        enc,
        &psi,
        dout,
        &mut dth,
        &mut de,
        &mut scratch,
    );
    (dth, de)
}

/// f64-angle / f64-trig entry builder for the generic cores (exact-rule tests).
fn cs64<'a>(theta: &'a [f64], enc: &'a [f64]) -> impl Fn(AngleSrc) -> (f64, f64) + 'a {
    move |a| {
        let t = match a {
            AngleSrc::Theta(i) => theta[i as usize],
            AngleSrc::Enc(i) => enc[i as usize],
        };
        ((t / 2.0).cos(), (t / 2.0).sin())
    }
}
fn fwd64(prog: &Program, theta: &[f64], enc: &[f64]) -> (Vec<C>, Vec<f64>) {
    let mut psi = vec![cz(); prog.state_len()];
    let mut out = vec![0.0; 3 * prog.n_qubits];
    forward_with(prog, cs64(theta, enc), &mut psi, &mut out);
    (psi, out)
}
fn bwd64(prog: &Program, theta: &[f64], enc: &[f64], dout: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (psi, _) = fwd64(prog, theta, enc);
    let mut dth = vec![0.0; prog.n_theta];
    let mut de = vec![0.0; prog.n_enc];
    let mut scratch = vec![cz(); 2 * prog.state_len()];
    backward_with(
        prog,
        cs64(theta, enc),
        &psi,
        dout,
        &mut dth,
        &mut de,
        &mut scratch,
    );
    (dth, de)
}

fn rand_vec(rng: &mut ChaCha8Rng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}
fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}
fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// (Q, layers, embedding) configurations exercised by the randomised tests.
const CONFIGS: [(usize, usize, bool); 6] = [
    (6, 2, true),
    (6, 2, false),
    (3, 1, true),
    (3, 2, false),
    (4, 3, true),
    (4, 1, false),
];

// ------------------------------------------------------------------------------------------
// Program structure
// ------------------------------------------------------------------------------------------

#[test]
fn circuit_unified_ansatz_matches_spec_table() {
    // Spec §2.2, Q = 6, Lq = 2, K = 60, with RY embedding.
    let p = Program::unified_ansatz(6, 2, true);
    assert_eq!(
        (p.n_qubits, p.n_theta, p.n_enc, p.n_gates()),
        (6, 60, 6, 66)
    );
    let mut exp: Vec<Gate> = Vec::new();
    let g = |kind, target: u8, angle| Gate {
        kind,
        target,
        angle,
    };
    for i in 0..6u8 {
        exp.push(g(GateKind::Ry, i, AngleSrc::Enc(i as u16)));
    }
    for o in [0u16, 30] {
        for i in 0..6u16 {
            exp.push(g(GateKind::Rx, i as u8, AngleSrc::Theta(o + 3 * i)));
            exp.push(g(GateKind::Ry, i as u8, AngleSrc::Theta(o + 3 * i + 1)));
            exp.push(g(GateKind::Rz, i as u8, AngleSrc::Theta(o + 3 * i + 2)));
        }
        // forward ring 0→1, 1→2, 2→3, 3→4, 4→5, 5→0
        for (i, (c, t)) in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0)]
            .into_iter()
            .enumerate()
        {
            exp.push(g(
                GateKind::Crx { ctrl: c },
                t,
                AngleSrc::Theta(o + 18 + i as u16),
            ));
        }
        // backward ring 5→4, 4→3, 3→2, 2→1, 1→0, 0→5
        for (j, (c, t)) in [(5, 4), (4, 3), (3, 2), (2, 1), (1, 0), (0, 5)]
            .into_iter()
            .enumerate()
        {
            exp.push(g(
                GateKind::Crx { ctrl: c },
                t,
                AngleSrc::Theta(o + 24 + j as u16),
            ));
        }
    }
    assert_eq!(p.gates, exp);

    let p = Program::unified_ansatz(6, 2, false);
    assert_eq!(p.gates, exp[6..]);
    assert_eq!((p.n_theta, p.n_enc), (60, 0));

    // Generic sizes: K = 5·Q·layers, every angle used exactly once, ctrl ≠ target.
    for (q, l, emb) in CONFIGS {
        let p = Program::unified_ansatz(q, l, emb);
        assert_eq!(p.n_theta, 5 * q * l);
        assert_eq!(p.n_enc, if emb { q } else { 0 });
        assert_eq!(p.n_gates(), p.n_theta + p.n_enc);
        assert_eq!(p.state_len(), 1 << q);
        let mut seen_t = vec![0; p.n_theta];
        let mut seen_e = vec![0; p.n_enc];
        for g in &p.gates {
            assert!((g.target as usize) < q);
            if let GateKind::Crx { ctrl } = g.kind {
                assert!((ctrl as usize) < q && ctrl != g.target);
            }
            match g.angle {
                AngleSrc::Theta(i) => seen_t[i as usize] += 1,
                AngleSrc::Enc(i) => seen_e[i as usize] += 1,
            }
        }
        assert!(seen_t.iter().chain(&seen_e).all(|&c| c == 1));
    }
}

// ------------------------------------------------------------------------------------------
// PennyLane wire order (spec §2.1)
// ------------------------------------------------------------------------------------------

fn single(q: usize, gates: &[(GateKind, u8)]) -> Program {
    Program {
        n_qubits: q,
        gates: gates
            .iter()
            .enumerate()
            .map(|(k, &(kind, target))| Gate {
                kind,
                target,
                angle: AngleSrc::Theta(k as u16),
            })
            .collect(),
        n_theta: gates.len(),
        n_enc: 0,
    }
}

#[test]
fn circuit_pennylane_msb_checks() {
    let pi = core::f32::consts::PI;
    // f32 trig at θ = π (f32): cos(θ/2) = −4.37e-8, sin(θ/2) = 1 ⇒ amplitudes within 1e-7.
    let tol = 1e-7;
    let only = |psi: &[C], k: usize, want: C| {
        assert!(
            cabs(psi[k] - want) < tol,
            "psi[{k}] = {}, want {want}",
            psi[k]
        );
        for (j, a) in psi.iter().enumerate() {
            if j != k {
                assert!(cabs(*a) < tol, "psi[{j}] = {a}");
            }
        }
    };
    // RX(π) on wire 0 ⇒ ψ[32] = −i  (wire 0 = bit value 32 for Q = 6).
    let p = single(6, &[(GateKind::Rx, 0)]);
    let (psi, out) = fwd(&p, &[pi], &[]);
    only(&psi, 32, C::new(0.0, -1.0));
    assert!((out[12] + 1.0).abs() < 1e-12 && (out[13] - 1.0).abs() < 1e-12); // Z0 = −1, Z1 = +1
                                                                             // RX(π) on wire 5 ⇒ ψ[1] = −i.
    let p = single(6, &[(GateKind::Rx, 5)]);
    only(&fwd(&p, &[pi], &[]).0, 1, C::new(0.0, -1.0));

    // PennyLane: X(0) then CRX(π)[0→1] ⇒ ψ[48] = −i. We realise X(0) as RX(π) = −i·X, so our
    // state is −i times PennyLane's: ψ[48] = (−i)·(−i) = −1 exactly (up to f32 trig).
    let p = single(6, &[(GateKind::Rx, 0), (GateKind::Crx { ctrl: 0 }, 1)]);
    only(&fwd(&p, &[pi, pi], &[]).0, 48, C::new(-1.0, 0.0));
    // Control bit below the target bit: RX(π) on wire 1, CRX(π)[1→0] ⇒ ψ[48] = −1.
    let p = single(6, &[(GateKind::Rx, 1), (GateKind::Crx { ctrl: 1 }, 0)]);
    only(&fwd(&p, &[pi, pi], &[]).0, 48, C::new(-1.0, 0.0));
    // Control off: RX(π) on wire 0, CRX(π)[1→0] leaves ψ[32] = −i; CRX alone on |0…0⟩ is identity.
    let p = single(6, &[(GateKind::Rx, 0), (GateKind::Crx { ctrl: 1 }, 0)]);
    only(&fwd(&p, &[pi, pi], &[]).0, 32, C::new(0.0, -1.0));
    let p = single(6, &[(GateKind::Crx { ctrl: 0 }, 1)]);
    only(&fwd(&p, &[pi], &[]).0, 0, C::new(1.0, 0.0));
    // RY(π) on wire 2 ⇒ ψ[8] = +1; RZ(θ) on |0…0⟩ ⇒ ψ[0] = e^{−iθ/2}.
    let p = single(6, &[(GateKind::Ry, 2)]);
    only(&fwd(&p, &[pi], &[]).0, 8, C::new(1.0, 0.0));
    let p = single(6, &[(GateKind::Rz, 3)]);
    only(&fwd(&p, &[0.7], &[]).0, 0, cis(-0.35));
}

// ------------------------------------------------------------------------------------------
// Test vectors TV1 / TV2 (spec §2.7)
// ------------------------------------------------------------------------------------------

const TV1_X: [f64; 6] = [
    -0.234689048594,
    0.105188683453,
    0.378016115882,
    0.353851457128,
    0.203656519201,
    0.675071512523,
];
const TV1_Y: [f64; 6] = [
    0.312664638507,
    -0.430393590470,
    -0.208454963891,
    -0.419935679029,
    -0.742745646416,
    0.050749190199,
];
const TV1_Z: [f64; 6] = [
    0.511097626494,
    0.618876816613,
    0.307484257891,
    -0.127484743448,
    -0.239248114848,
    -0.129725984836,
];
const TV1_PSI: [(usize, f64, f64); 4] = [
    (0, 0.111161582717, -0.120224717618),
    (1, 0.194708004134, -0.346743092445),
    (32, 0.055448346929, 0.128260139950),
    (63, 0.031323513236, -0.022676891792),
];
const TV2_X: [f64; 6] = [
    0.161430295330,
    0.061839981959,
    0.069473220565,
    0.148796114609,
    -0.042693616476,
    -0.220918303488,
];
const TV2_Y: [f64; 6] = [
    0.192492838732,
    0.160770213365,
    -0.042136380665,
    0.221718987968,
    0.255102612102,
    0.201344204670,
];
const TV2_Z: [f64; 6] = [
    0.112431119164,
    -0.246255411798,
    -0.273823285274,
    -0.237275982900,
    -0.346502468396,
    -0.000637546012,
];

fn tv1_inputs() -> (Vec<f64>, Vec<f64>) {
    let theta = (0..60).map(|k| 0.05 * (k + 1) as f64 - 1.0).collect();
    let enc = (0..6).map(|i| 0.4 * i as f64 - 1.0).collect();
    (theta, enc)
}
fn tv2_inputs() -> Vec<f64> {
    (0..60).map(|k| 0.1 * (k + 1) as f64).collect()
}
fn cat(x: &[f64; 6], y: &[f64; 6], z: &[f64; 6]) -> Vec<f64> {
    x.iter().chain(y).chain(z).copied().collect()
}
fn psi_err(psi: &[C]) -> f64 {
    TV1_PSI
        .iter()
        .map(|&(k, re, im)| cabs(psi[k] - C::new(re, im)))
        .fold(0.0, f64::max)
}

#[test]
fn circuit_tv1_tv2_reference_f64() {
    // Test-only f64 tensor simulator with f64 inputs, as the spec vectors were produced.
    let (theta, enc) = tv1_inputs();
    let psi = ref_ansatz(6, 2, &theta, Some(&enc));
    let e1 = max_abs_diff(&ref_expvals(&psi, 6), &cat(&TV1_X, &TV1_Y, &TV1_Z));
    let p1 = psi_err(&psi);
    let psi2 = ref_ansatz(6, 2, &tv2_inputs(), None);
    let e2 = max_abs_diff(&ref_expvals(&psi2, 6), &cat(&TV2_X, &TV2_Y, &TV2_Z));
    // Same through Program::unified_ansatz + the generic production core with f64 trig.
    let (psi_c, out_c) = fwd64(&Program::unified_ansatz(6, 2, true), &theta, &enc);
    let e1c = max_abs_diff(&out_c, &cat(&TV1_X, &TV1_Y, &TV1_Z)).max(psi_err(&psi_c));
    let (_, out_c2) = fwd64(&Program::unified_ansatz(6, 2, false), &tv2_inputs(), &[]);
    let e2c = max_abs_diff(&out_c2, &cat(&TV2_X, &TV2_Y, &TV2_Z));
    eprintln!("TV f64 ref: TV1 expvals {e1:.2e} psi {p1:.2e}; TV2 {e2:.2e}; core-f64 TV1 {e1c:.2e} TV2 {e2c:.2e}");
    for e in [e1, p1, e2, e1c, e2c] {
        assert!(e <= 1e-11, "{e}");
    }
}

#[test]
fn circuit_tv1_tv2_f32_angles() {
    // Production path: f32 angles, f32 trig (spec §2.7: "expvals from f32 angles ≤ 1e-6").
    let (theta, enc) = tv1_inputs();
    let (psi, out) = fwd(
        &Program::unified_ansatz(6, 2, true),
        &to_f32(&theta),
        &to_f32(&enc),
    );
    let e1 = max_abs_diff(&out, &cat(&TV1_X, &TV1_Y, &TV1_Z));
    let p1 = psi_err(&psi);
    let (_, out2) = fwd(
        &Program::unified_ansatz(6, 2, false),
        &to_f32(&tv2_inputs()),
        &[],
    );
    let e2 = max_abs_diff(&out2, &cat(&TV2_X, &TV2_Y, &TV2_Z));
    let norm: f64 = psi.iter().map(|a| a.norm_sqr()).sum();
    eprintln!(
        "TV f32 angles: TV1 expvals {e1:.2e} psi {p1:.2e}; TV2 {e2:.2e}; |1-<psi|psi>| {:.1e}",
        (1.0 - norm).abs()
    );
    assert!(e1 <= 1e-6 && p1 <= 1e-6 && e2 <= 1e-6, "{e1} {p1} {e2}");
    // f32-built entries have c² + s² = 1 ± O(6e-8): the gates (like PennyLane's) are unitary only
    // to f32 precision, so the norm drifts by a few 1e-7 over 66 gates.
    assert!((norm - 1.0).abs() < 1e-6);
}

#[test]
fn circuit_forward_vs_reference_random() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut worst = 0.0f64;
    let mut worst64 = 0.0f64;
    for (q, l, emb) in CONFIGS {
        let p = Program::unified_ansatz(q, l, emb);
        for _ in 0..5 {
            let th32 = to_f32(&rand_vec(&mut rng, p.n_theta, -4.0, 4.0));
            let en32 = to_f32(&rand_vec(&mut rng, p.n_enc, -PI, PI));
            let (th, en) = (to_f64(&th32), to_f64(&en32));
            // Reference (f64 trig) on the same f32 angle values, via the oracle-style ansatz.
            let psi_r = ref_ansatz(q, l, &th, emb.then_some(&en[..]));
            let out_r = ref_expvals(&psi_r, q);
            assert!(max_abs_diff_c(&psi_r, &ref_program(&p, &th, &en)) < 1e-13);
            let (psi, out) = fwd(&p, &th32, &en32);
            worst = worst
                .max(max_abs_diff(&out, &out_r))
                .max(max_abs_diff_c(&psi, &psi_r));
            // Generic core with f64 trig must agree to round-off.
            let (psi64, out64) = fwd64(&p, &th, &en);
            worst64 = worst64
                .max(max_abs_diff(&out64, &out_r))
                .max(max_abs_diff_c(&psi64, &psi_r));
            // expvals_xyz on an unnormalised random vector vs the oracle formula.
            let v: Vec<C> = (0..1 << q)
                .map(|_| C::new(rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)))
                .collect();
            let mut ev = vec![0.0; 3 * q];
            expvals_xyz(&v, q, &mut ev);
            assert!(max_abs_diff(&ev, &ref_expvals(&v, q)) < 1e-12);
        }
    }
    eprintln!("forward vs f64 reference, random angles: f32-trig {worst:.2e}, f64-trig core {worst64:.2e}");
    assert!(worst <= 1e-6, "{worst}");
    assert!(worst64 <= 1e-13, "{worst64}");
}

// ------------------------------------------------------------------------------------------
// Gradients
// ------------------------------------------------------------------------------------------

/// Kind of the (unique) gate using `src`.
fn kind_of(p: &Program, src: AngleSrc) -> GateKind {
    let mut it = p.gates.iter().filter(|g| g.angle == src);
    let g = it.next().expect("angle unused");
    assert!(it.next().is_none(), "angle used twice");
    g.kind
}

/// Parameter-shift derivative of `f` along one angle whose current value is `x`:
/// two-term rule for RX/RY/RZ, four-term rule for CRX (PennyLane's grad recipe).
fn shift_rule(kind: GateKind, x: f64, mut f: impl FnMut(f64) -> f64) -> f64 {
    match kind {
        GateKind::Crx { .. } => {
            let r2 = core::f64::consts::SQRT_2;
            let cp = (r2 + 1.0) / (4.0 * r2);
            let cm = (r2 - 1.0) / (4.0 * r2);
            cp * (f(x + FRAC_PI_2) - f(x - FRAC_PI_2))
                - cm * (f(x + 3.0 * FRAC_PI_2) - f(x - 3.0 * FRAC_PI_2))
        }
        _ => 0.5 * (f(x + FRAC_PI_2) - f(x - FRAC_PI_2)),
    }
}

#[test]
fn circuit_adjoint_vs_parameter_shift_f32() {
    // Production f32 API. Shifted angles x ± π/2, x ± 3π/2 are rounded to f32 (|δ| ≤ 2.4e-7 for
    // |x| < 8) and every gate entry carries f32 trig error (≤ 6e-8); with |dout_k| < 1 and 3Q
    // outputs the resulting derivative error is a few 1e-7 at most ⇒ tolerance 1e-6.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut worst = 0.0f64;
    for (q, l, emb) in CONFIGS {
        let p = Program::unified_ansatz(q, l, emb);
        for _ in 0..3 {
            let th = to_f32(&rand_vec(&mut rng, p.n_theta, -PI, PI));
            let en = to_f32(&rand_vec(&mut rng, p.n_enc, -PI, PI));
            let dout = rand_vec(&mut rng, 3 * q, -1.0, 1.0);
            let (dth, de) = bwd(&p, &th, &en, &dout);
            for k in 0..p.n_theta {
                let g = shift_rule(kind_of(&p, AngleSrc::Theta(k as u16)), th[k] as f64, |x| {
                    let mut t = th.clone();
                    t[k] = x as f32;
                    dot(&fwd(&p, &t, &en).1, &dout)
                });
                worst = worst.max((g - dth[k]).abs());
            }
            for i in 0..p.n_enc {
                let g = shift_rule(kind_of(&p, AngleSrc::Enc(i as u16)), en[i] as f64, |x| {
                    let mut e = en.clone();
                    e[i] = x as f32;
                    dot(&fwd(&p, &th, &e).1, &dout)
                });
                worst = worst.max((g - de[i]).abs());
            }
        }
    }
    eprintln!("adjoint vs parameter shift (f32 angles): max |diff| {worst:.2e}");
    assert!(worst <= 1e-6, "{worst}");
}

#[test]
fn circuit_adjoint_vs_parameter_shift_f64_core() {
    // Same algorithm (backward_with) with f64 trig: the shift rules are then exact.
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut worst = 0.0f64;
    for (q, l, emb) in CONFIGS {
        let p = Program::unified_ansatz(q, l, emb);
        let th = rand_vec(&mut rng, p.n_theta, -5.0, 5.0);
        let en = rand_vec(&mut rng, p.n_enc, -PI, PI);
        let dout = rand_vec(&mut rng, 3 * q, -1.0, 1.0);
        let (dth, de) = bwd64(&p, &th, &en, &dout);
        for k in 0..p.n_theta {
            let g = shift_rule(kind_of(&p, AngleSrc::Theta(k as u16)), th[k], |x| {
                let mut t = th.clone();
                t[k] = x;
                dot(&fwd64(&p, &t, &en).1, &dout)
            });
            worst = worst.max((g - dth[k]).abs());
        }
        for i in 0..p.n_enc {
            let g = shift_rule(GateKind::Ry, en[i], |x| {
                let mut e = en.clone();
                e[i] = x;
                dot(&fwd64(&p, &th, &e).1, &dout)
            });
            worst = worst.max((g - de[i]).abs());
        }
    }
    eprintln!("adjoint (f64 trig) vs parameter shift: max |diff| {worst:.2e}");
    assert!(worst <= 1e-12, "{worst}");
}

#[test]
fn circuit_adjoint_vs_finite_differences_f64() {
    // Central differences (h = 1e-5) of the independent f64 tensor simulator vs the adjoint
    // core with f64 trig (≤ 1e-8), and vs the production f32 path (≤ 1e-6: f32 gate entries).
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let h = 1e-5;
    let (mut worst64, mut worst32) = (0.0f64, 0.0f64);
    for (q, l, emb) in CONFIGS {
        let p = Program::unified_ansatz(q, l, emb);
        for _ in 0..2 {
            let th32 = to_f32(&rand_vec(&mut rng, p.n_theta, -PI, PI));
            let en32 = to_f32(&rand_vec(&mut rng, p.n_enc, -PI, PI));
            let (th, en) = (to_f64(&th32), to_f64(&en32));
            let dout = rand_vec(&mut rng, 3 * q, -1.0, 1.0);
            let f = |t: &[f64], e: &[f64]| dot(&ref_expvals(&ref_program(&p, t, e), q), &dout);
            let mut fd_t = vec![0.0; p.n_theta];
            for (k, d) in fd_t.iter_mut().enumerate() {
                let (mut tp, mut tm) = (th.clone(), th.clone());
                tp[k] += h;
                tm[k] -= h;
                *d = (f(&tp, &en) - f(&tm, &en)) / (2.0 * h);
            }
            let mut fd_e = vec![0.0; p.n_enc];
            for (i, d) in fd_e.iter_mut().enumerate() {
                let (mut ep, mut em) = (en.clone(), en.clone());
                ep[i] += h;
                em[i] -= h;
                *d = (f(&th, &ep) - f(&th, &em)) / (2.0 * h);
            }
            let (dth, de) = bwd64(&p, &th, &en, &dout);
            worst64 = worst64
                .max(max_abs_diff(&dth, &fd_t))
                .max(max_abs_diff(&de, &fd_e));
            let (dth, de) = bwd(&p, &th32, &en32, &dout);
            worst32 = worst32
                .max(max_abs_diff(&dth, &fd_t))
                .max(max_abs_diff(&de, &fd_e));
        }
    }
    eprintln!(
        "adjoint vs central FD (f64 ref): f64-trig core {worst64:.2e}, f32 API {worst32:.2e}"
    );
    assert!(worst64 <= 1e-8, "{worst64}");
    assert!(worst32 <= 1e-6, "{worst32}");
}

/// f32-built entries (c, s) of an f32 angle, as in production.
fn cs32(t: f32) -> (f64, f64) {
    let h = t * 0.5f32;
    (libm::cosf(h) as f64, libm::sinf(h) as f64)
}

#[test]
fn circuit_adjoint_exact_for_f32_entries() {
    // The production backward must be the exact derivative of the production forward's gate
    // family: for angle k with f32-built entries (c0, s0), perturb the entries along the gate's
    // own rotation, (c, s)(δ) = (c0·cos δ/2 − s0·sin δ/2, s0·cos δ/2 + c0·sin δ/2), whose δ-derivative
    // at 0 is (−s0/2, c0/2) = d(c, s)/dθ, all other entries f32-built. Central FD in δ (f64) of
    // the forward core must match circuit_backward to FD accuracy, even though c0² + s0² ≠ 1.
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let h = 1e-5;
    let mut worst = 0.0f64;
    for (q, l, emb) in CONFIGS {
        let p = Program::unified_ansatz(q, l, emb);
        let th = to_f32(&rand_vec(&mut rng, p.n_theta, -PI, PI));
        let en = to_f32(&rand_vec(&mut rng, p.n_enc, -PI, PI));
        let dout = rand_vec(&mut rng, 3 * q, -1.0, 1.0);
        let (dth, de) = bwd(&p, &th, &en, &dout);
        let f = |target: AngleSrc, d: f64| {
            let cs = |a: AngleSrc| {
                let (c0, s0) = match a {
                    AngleSrc::Theta(i) => cs32(th[i as usize]),
                    AngleSrc::Enc(i) => cs32(en[i as usize]),
                };
                if a == target {
                    let (cd, sd) = ((d / 2.0).cos(), (d / 2.0).sin());
                    (c0 * cd - s0 * sd, s0 * cd + c0 * sd)
                } else {
                    (c0, s0)
                }
            };
            let mut psi = vec![cz(); p.state_len()];
            let mut out = vec![0.0; 3 * q];
            forward_with(&p, cs, &mut psi, &mut out);
            dot(&out, &dout)
        };
        let srcs = (0..p.n_theta)
            .map(|k| (AngleSrc::Theta(k as u16), dth[k]))
            .chain((0..p.n_enc).map(|i| (AngleSrc::Enc(i as u16), de[i])));
        for (src, g) in srcs {
            let fd = (f(src, h) - f(src, -h)) / (2.0 * h);
            worst = worst.max((fd - g).abs());
        }
    }
    eprintln!(
        "adjoint (f32 entries) vs FD along the f32-entry gate family: max |diff| {worst:.2e}"
    );
    assert!(worst <= 1e-9, "{worst}");
}

#[test]
fn circuit_backward_accumulates_and_shared_angles() {
    // (1) backward adds into dθ/de; (2) an angle shared by several gates gets the sum of their
    // contributions (checked against the parameter shift of the shared angle in f64).
    let p = Program::unified_ansatz(4, 2, true);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let th = to_f32(&rand_vec(&mut rng, p.n_theta, -PI, PI));
    let en = to_f32(&rand_vec(&mut rng, p.n_enc, -PI, PI));
    let dout = rand_vec(&mut rng, 12, -1.0, 1.0);
    let (psi, _) = fwd(&p, &th, &en);
    let mut dth = vec![1.5; p.n_theta];
    let mut de = vec![-2.0; p.n_enc];
    let mut scratch = vec![cz(); 2 * p.state_len() + 3]; // larger scratch is fine
    circuit_backward(&p, &th, &en, &psi, &dout, &mut dth, &mut de, &mut scratch);
    let (dth0, de0) = bwd(&p, &th, &en, &dout);
    assert!(dth
        .iter()
        .zip(&dth0)
        .all(|(a, b)| (a - 1.5 - b).abs() < 1e-14));
    assert!(de
        .iter()
        .zip(&de0)
        .all(|(a, b)| (a + 2.0 - b).abs() < 1e-14));

    // Shared angle: single-qubit rotations of a 3-qubit program all on θ[0], CRX both on θ[1].
    let sh = Program {
        n_qubits: 3,
        gates: vec![
            Gate {
                kind: GateKind::Ry,
                target: 0,
                angle: AngleSrc::Enc(0),
            },
            Gate {
                kind: GateKind::Rx,
                target: 1,
                angle: AngleSrc::Theta(0),
            },
            Gate {
                kind: GateKind::Crx { ctrl: 0 },
                target: 2,
                angle: AngleSrc::Theta(1),
            },
            Gate {
                kind: GateKind::Ry,
                target: 2,
                angle: AngleSrc::Theta(0),
            },
            Gate {
                kind: GateKind::Crx { ctrl: 2 },
                target: 1,
                angle: AngleSrc::Theta(1),
            },
            Gate {
                kind: GateKind::Rz,
                target: 1,
                angle: AngleSrc::Theta(0),
            },
            Gate {
                kind: GateKind::Rx,
                target: 0,
                angle: AngleSrc::Enc(0),
            },
        ],
        n_theta: 2,
        n_enc: 1,
    };
    let th = [0.7, -1.3];
    let en = [0.4];
    let dout = rand_vec(&mut rng, 9, -1.0, 1.0);
    let (dth, de) = bwd64(&sh, &th, &en, &dout);
    let f = |t: &[f64], e: &[f64]| dot(&ref_expvals(&ref_program(&sh, t, e), 3), &dout);
    let h = 1e-5;
    let fd0 = (f(&[th[0] + h, th[1]], &en) - f(&[th[0] - h, th[1]], &en)) / (2.0 * h);
    let fd1 = (f(&[th[0], th[1] + h], &en) - f(&[th[0], th[1] - h], &en)) / (2.0 * h);
    let fde = (f(&th, &[en[0] + h]) - f(&th, &[en[0] - h])) / (2.0 * h);
    assert!(
        (dth[0] - fd0).abs() < 1e-8 && (dth[1] - fd1).abs() < 1e-8 && (de[0] - fde).abs() < 1e-8
    );
}

#[test]
fn circuit_timing_q6_l2_embedded() {
    // Not an assertion: prints the cost of one forward + backward (run with --nocapture).
    let p = Program::unified_ansatz(6, 2, true);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let th = to_f32(&rand_vec(&mut rng, 60, -PI, PI));
    let en = to_f32(&rand_vec(&mut rng, 6, -PI, PI));
    let dout = rand_vec(&mut rng, 18, -1.0, 1.0);
    let mut psi = vec![cz(); 64];
    let mut out = vec![0.0; 18];
    let mut dth = vec![0.0; 60];
    let mut de = vec![0.0; 6];
    let mut scratch = vec![cz(); 128];
    // Best of 50 repetitions of 200 calls (robust to a loaded machine).
    let best = |f: &mut dyn FnMut()| {
        let mut best = f64::MAX;
        for _ in 0..50 {
            let t0 = std::time::Instant::now();
            for _ in 0..200 {
                f();
            }
            best = best.min(t0.elapsed().as_secs_f64() / 200.0);
        }
        best * 1e6
    };
    let fb = best(&mut || {
        circuit_forward(&p, &th, &en, &mut psi, &mut out);
        circuit_backward(&p, &th, &en, &psi, &dout, &mut dth, &mut de, &mut scratch);
    });
    let fw = best(&mut || circuit_forward(&p, &th, &en, &mut psi, &mut out));
    println!(
        "circuit Q=6 L=2 embedded: forward+backward {fb:.2} us, forward {fw:.2} us (best of 50; checksum {:.3})",
        dth.iter().sum::<f64>() + out.iter().sum::<f64>()
    );
}
