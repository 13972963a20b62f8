//! The state-vector circuit simulator ([`qssm_kernels::circuit`]) as standard ONNX operators:
//! one circuit per row of θ (R, K), the state held as real and imaginary float64 tensors of
//! shape (R, 2, …, 2) — one axis per wire, wire 0 first (PennyLane's most significant bit) —
//! so a gate on wire w splits axis 1 + w into its |0⟩ and |1⟩ halves, mixes them with the gate's
//! 2×2 entries and concatenates them back. A controlled gate does the same inside the
//! control's |1⟩ half.
//!
//! As in the CPU kernels (spec §2.7): gate entries come from the **f32** angle (θ/2, cos, sin
//! in f32), widened to float64; the state and the expectation values are float64, rounded to
//! f32 at the end. Expectation values per wire w with halves a0, a1 of axis 1 + w:
//! ⟨X_w⟩ = 2Σ Re(ā0·a1), ⟨Y_w⟩ = 2Σ Im(ā0·a1), ⟨Z_w⟩ = Σ(|a0|² − |a1|²), in the order
//! X_0…X_{Q−1}, Y_0…, Z_0….
use super::recorder::Recorder;
use super::{DOUBLE, FLOAT};
use qssm_formats::onnx::{Attr, TensorData};
use qssm_kernels::circuit::{AngleSrc, GateKind, Program};

/// A state: (re, im), each (R, 2, …, 2) float64.
#[derive(Clone)]
pub(super) struct State {
    pub re: String,
    pub im: String,
}

/// Per-row gate entries (cos θ/2, sin θ/2) of every angle column, float64, from the f32 angles.
struct Angles {
    cos: String,
    sin: String,
}

/// The circuit of `prog` per row: θ (R, K), e (R, n_enc) → (m (R, 3Q) f32, final state).
pub(super) fn record(
    r: &Recorder,
    theta: &str,
    enc: Option<&str>,
    prog: &Program,
) -> (String, State) {
    let q = prog.n_qubits;
    let theta = r.reshape(theta, &[-1, prog.n_theta as i64]);
    let st = initial(r, &theta, q);
    let st = apply(r, st, &theta, enc, prog);
    (expvals(r, &st, q), st)
}

/// The gates of `prog` applied to `st` (one state per row of θ (R, K)).
pub(super) fn apply(
    r: &Recorder,
    mut st: State,
    theta: &str,
    enc: Option<&str>,
    prog: &Program,
) -> State {
    let q = prog.n_qubits;
    let th = angles(r, theta);
    let en = enc.map(|e| {
        let e = r.reshape(e, &[-1, prog.n_enc as i64]);
        angles(r, &e)
    });
    for g in &prog.gates {
        let (src, i) = match g.angle {
            AngleSrc::Theta(i) => (&th, i),
            AngleSrc::Enc(i) => (
                en.as_ref()
                    .expect("the program's encoding angles were given"),
                i,
            ),
        };
        let (c, s) = (column(r, &src.cos, i, q), column(r, &src.sin, i, q));
        let wire = g.target as usize;
        st = match g.kind {
            GateKind::Rx => rotation(r, &st, wire, GateKind::Rx, &c, &s),
            GateKind::Ry => rotation(r, &st, wire, GateKind::Ry, &c, &s),
            GateKind::Rz => rotation(r, &st, wire, GateKind::Rz, &c, &s),
            GateKind::Crx { ctrl } => controlled_rx(r, &st, ctrl as usize, wire, &c, &s),
        };
    }
    st
}

/// φ = v / (‖v‖₂ + 1e-9), v = Σ_k w_k·ψ_k with complex constants w (the superposition of
/// [`qssm_kernels::circuit::superpose::superpose_forward`], float64).
pub(super) fn superpose(r: &Recorder, w: &[(f64, f64)], states: &[State], q: usize) -> State {
    let scalar = |v: f64| {
        r.constant(
            &format!("circuit_f64_{:016x}", v.to_bits()),
            &[],
            TensorData::F64(vec![v]),
        )
    };
    let (mut re, mut im): (Option<String>, Option<String>) = (None, None);
    for (&(wr, wi), st) in w.iter().zip(states) {
        let (a, b) = (scalar(wr), scalar(wi));
        let tre = lin(r, &st.re, &a, &st.im, &b, true);
        let tim = lin(r, &st.im, &a, &st.re, &b, false);
        re = Some(match re {
            None => tre,
            Some(acc) => r.op("Add", &[&acc, &tre], vec![]),
        });
        im = Some(match im {
            None => tim,
            Some(acc) => r.op("Add", &[&acc, &tim], vec![]),
        });
    }
    let (re, im) = (
        re.expect("at least one state"),
        im.expect("at least one state"),
    );
    let axes: Vec<i64> = (1..=q as i64).collect();
    let axes = r.ints(&axes);
    let sq = lin(r, &re, &re, &im, &im, false);
    let n2 = r.op("ReduceSum", &[&sq, &axes], vec![("keepdims", Attr::Int(1))]);
    let n = r.op("Sqrt", &[&n2], vec![]);
    let eps = scalar(1e-9);
    let d = r.op("Add", &[&n, &eps], vec![]);
    State {
        re: r.op("Div", &[&re, &d], vec![]),
        im: r.op("Div", &[&im, &d], vec![]),
    }
}

/// cos(θ/2), sin(θ/2) in f32, widened to float64: (R, K) each.
fn angles(r: &Recorder, a: &str) -> Angles {
    let half = r.float_scalar(0.5);
    let h = r.op("Mul", &[a, &half], vec![]);
    let to64 = |v: String| r.op("Cast", &[&v], vec![("to", Attr::Int(DOUBLE))]);
    Angles {
        cos: to64(r.op("Cos", &[&h], vec![])),
        sin: to64(r.op("Sin", &[&h], vec![])),
    }
}

/// Column i of (R, K), shaped (R, 1, …, 1) to broadcast over a state (rank Q + 1).
fn column(r: &Recorder, m: &str, i: u16, q: usize) -> String {
    let idx = r.int_scalar(i64::from(i));
    let col = r.op("Gather", &[m, &idx], vec![("axis", Attr::Int(1))]);
    let mut shape = vec![-1i64];
    shape.extend(std::iter::repeat_n(1, q));
    r.reshape(&col, &shape)
}

/// |0…0⟩ for every row of `rows` (R, ·).
pub(super) fn initial(r: &Recorder, rows: &str, q: usize) -> State {
    let dims: Vec<i64> = std::iter::once(1)
        .chain(std::iter::repeat_n(2, q))
        .collect();
    let n = 1usize << q;
    let mut one = vec![0.0f64; n];
    one[0] = 1.0;
    let e0 = r.constant(
        &format!("circuit_zero_state_re_q{q}"),
        &dims,
        TensorData::F64(one),
    );
    let z = r.constant(
        &format!("circuit_zero_state_im_q{q}"),
        &dims,
        TensorData::F64(vec![0.0; n]),
    );
    let shape = r.op("Shape", &[rows], vec![]);
    let (zero, one) = (r.ints(&[0]), r.ints(&[1]));
    let nrows = r.op("Slice", &[&shape, &zero, &one], vec![]);
    let wires = r.ints(&vec![2; q]);
    let full = r.op("Concat", &[&nrows, &wires], vec![("axis", Attr::Int(0))]);
    State {
        re: r.op("Expand", &[&e0, &full], vec![]),
        im: r.op("Expand", &[&z, &full], vec![]),
    }
}

/// The two halves of `v` along the axis of `wire`.
fn halves(r: &Recorder, v: &str, wire: usize) -> (String, String) {
    let (a, b) = (r.fresh("half0"), r.fresh("half1"));
    let two = r.ints(&[1, 1]);
    r.op_into(
        "Split",
        &[v, &two],
        &[&a, &b],
        vec![("axis", Attr::Int(1 + wire as i64))],
    );
    (a, b)
}

fn join(r: &Recorder, a: &str, b: &str, wire: usize) -> String {
    r.op(
        "Concat",
        &[a, b],
        vec![("axis", Attr::Int(1 + wire as i64))],
    )
}

/// x·c + y·s (a term of a 2×2 complex product).
fn lin(r: &Recorder, x: &str, c: &str, y: &str, s: &str, minus: bool) -> String {
    let a = r.op("Mul", &[x, c], vec![]);
    let b = r.op("Mul", &[y, s], vec![]);
    r.op(if minus { "Sub" } else { "Add" }, &[&a, &b], vec![])
}

/// RX, RY or RZ(θ) on `wire` (entries c = cos θ/2, s = sin θ/2; spec §2.1):
/// RX = [[c, −is], [−is, c]], RY = [[c, −s], [s, c]], RZ = diag(c − is, c + is).
fn rotation(r: &Recorder, st: &State, wire: usize, kind: GateKind, c: &str, s: &str) -> State {
    let (re0, re1) = halves(r, &st.re, wire);
    let (im0, im1) = halves(r, &st.im, wire);
    let (nre0, nim0, nre1, nim1) = match kind {
        // a0' = c·a0 − i s·a1; a1' = −i s·a0 + c·a1
        GateKind::Rx | GateKind::Crx { .. } => (
            lin(r, &re0, c, &im1, s, false),
            lin(r, &im0, c, &re1, s, true),
            lin(r, &re1, c, &im0, s, false),
            lin(r, &im1, c, &re0, s, true),
        ),
        // a0' = c·a0 − s·a1; a1' = s·a0 + c·a1
        GateKind::Ry => (
            lin(r, &re0, c, &re1, s, true),
            lin(r, &im0, c, &im1, s, true),
            lin(r, &re1, c, &re0, s, false),
            lin(r, &im1, c, &im0, s, false),
        ),
        // a0' = (c − is)·a0; a1' = (c + is)·a1
        GateKind::Rz => (
            lin(r, &re0, c, &im0, s, false),
            lin(r, &im0, c, &re0, s, true),
            lin(r, &re1, c, &im1, s, true),
            lin(r, &im1, c, &re1, s, false),
        ),
    };
    State {
        re: join(r, &nre0, &nre1, wire),
        im: join(r, &nim0, &nim1, wire),
    }
}

/// CRX(θ) ctrl → target: RX on the target inside the control's |1⟩ half.
fn controlled_rx(r: &Recorder, st: &State, ctrl: usize, target: usize, c: &str, s: &str) -> State {
    let (re0, re1) = halves(r, &st.re, ctrl);
    let (im0, im1) = halves(r, &st.im, ctrl);
    let on = rotation(r, &State { re: re1, im: im1 }, target, GateKind::Rx, c, s);
    State {
        re: join(r, &re0, &on.re, ctrl),
        im: join(r, &im0, &on.im, ctrl),
    }
}

/// ⟨X_w⟩, ⟨Y_w⟩, ⟨Z_w⟩ of every wire: (R, 3Q) f32.
pub(super) fn expvals(r: &Recorder, st: &State, q: usize) -> String {
    let axes: Vec<i64> = (1..=q as i64).collect();
    let axes = r.ints(&axes);
    let two = r.constant("circuit_two_f64", &[], TensorData::F64(vec![2.0]));
    let col = r.ints(&[1]);
    let sum = |v: &str| {
        let s = r.op("ReduceSum", &[v, &axes], vec![("keepdims", Attr::Int(0))]);
        r.op("Unsqueeze", &[&s, &col], vec![])
    };
    let (mut xs, mut ys, mut zs) = (Vec::new(), Vec::new(), Vec::new());
    for w in 0..q {
        let (re0, re1) = halves(r, &st.re, w);
        let (im0, im1) = halves(r, &st.im, w);
        let x = lin(r, &re0, &re1, &im0, &im1, false);
        let y = lin(r, &re0, &im1, &im0, &re1, true);
        let p0 = lin(r, &re0, &re0, &im0, &im0, false);
        let p1 = lin(r, &re1, &re1, &im1, &im1, false);
        let z = r.op("Sub", &[&p0, &p1], vec![]);
        let x = sum(&x);
        let y = sum(&y);
        xs.push(r.op("Mul", &[&x, &two], vec![]));
        ys.push(r.op("Mul", &[&y, &two], vec![]));
        zs.push(sum(&z));
    }
    let all: Vec<&str> = xs
        .iter()
        .chain(&ys)
        .chain(&zs)
        .map(String::as_str)
        .collect();
    let m = r.op("Concat", &all, vec![("axis", Attr::Int(1))]);
    r.op("Cast", &[&m], vec![("to", Attr::Int(FLOAT))])
}
