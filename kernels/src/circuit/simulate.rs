//! Forward simulation, expectation values and adjoint backward of a [`Program`].
//!
//! State: flat `2^Q` complex128 vector, amplitude index k = Σ_w b_w·2^{Q−1−w} (wire 0 = most
//! significant bit, PennyLane convention, spec §2.1). Gates are applied in place by loops over
//! amplitude pairs (k, k | 2^{Q−1−target}) with the target bit of k clear; a CRX only visits the
//! pairs whose control bit is 1. No allocation anywhere in this module.
//!
//! Gate entries: c = cos(θ/2), s = sin(θ/2) computed **in f32 from the f32 angle** with `libm`
//! (`h = θ·0.5f32`, `cosf(h)`, `sinf(h)`), then widened to f64, as PennyLane/torch (spec §2.7).
//! With these (c, s): RX = [[c, −is], [−is, c]], RY = [[c, −s], [s, c]], RZ = diag(c − is, c + is),
//! CRX = |0⟩⟨0| ⊗ I + |1⟩⟨1| ⊗ RX. The adjoint of each gate is the same gate with s → −s.
use super::program::{AngleSrc, GateKind, Program};
use num_complex::Complex64;

/// Pauli axis of a rotation gate exp(−iθ/2·P).
#[derive(Clone, Copy)]
pub(super) enum Axis {
    X,
    Y,
    Z,
}

/// Gate entries (c, s) = (cos(θ/2), sin(θ/2)) built from the f32 angle in f32, widened to f64.
#[inline(always)]
fn cs_f32(theta: f32) -> (f64, f64) {
    let h = theta * 0.5f32;
    (libm::cosf(h) as f64, libm::sinf(h) as f64)
}

/// The (cos θ/2, sin θ/2) source of the f32 public entry points: θ (K) and the encoding angles
/// (n_enc) of `prog`, whose lengths it checks. Panics (naming `caller`) on a length mismatch.
fn f32_angles<'a>(
    prog: &Program,
    theta: &'a [f32],
    enc: &'a [f32],
    caller: &str,
) -> impl Fn(AngleSrc) -> (f64, f64) + 'a {
    assert_eq!(
        theta.len(),
        prog.n_theta,
        "{caller}: theta must hold K angles"
    );
    assert_eq!(
        enc.len(),
        prog.n_enc,
        "{caller}: enc must hold n_enc angles"
    );
    move |a| match a {
        AngleSrc::Theta(i) => cs_f32(theta[i as usize]),
        AngleSrc::Enc(i) => cs_f32(enc[i as usize]),
    }
}

/// Calls `f(&mut a0, &mut a1)` for every amplitude pair (k, k | tm) of `v` with the target bit
/// `tm` clear in k and — if `cm` is given — the control bit `cm` set in k. Nested
/// `chunks_exact_mut` iteration: no per-element index arithmetic or bounds checks.
#[inline(always)]
pub(super) fn for_pairs_mut(
    v: &mut [Complex64],
    tm: usize,
    cm: Option<usize>,
    mut f: impl FnMut(&mut Complex64, &mut Complex64),
) {
    let mut pairs = |blk: &mut [Complex64]| {
        let (lo, hi) = blk.split_at_mut(tm);
        for (a0, a1) in lo.iter_mut().zip(hi.iter_mut()) {
            f(a0, a1);
        }
    };
    match cm {
        None => v.chunks_exact_mut(2 * tm).for_each(pairs),
        // control above target: upper (control = 1) half of every 2cm block, pairs of tm inside
        Some(cm) if cm > tm => {
            for big in v.chunks_exact_mut(2 * cm) {
                big[cm..].chunks_exact_mut(2 * tm).for_each(&mut pairs);
            }
        }
        // control below target: in every 2tm block pair the control = 1 runs of both halves
        Some(cm) => {
            for big in v.chunks_exact_mut(2 * tm) {
                let (lo, hi) = big.split_at_mut(tm);
                for (l, h) in lo.chunks_exact_mut(2 * cm).zip(hi.chunks_exact_mut(2 * cm)) {
                    for (a0, a1) in l[cm..].iter_mut().zip(h[cm..].iter_mut()) {
                        f(a0, a1);
                    }
                }
            }
        }
    }
}

/// As [`for_pairs_mut`] on two equally long vectors at once: `f(&mut v0, &mut v1, &mut w0, &mut w1)`.
#[inline(always)]
fn for_pairs_mut2(
    v: &mut [Complex64],
    w: &mut [Complex64],
    tm: usize,
    cm: Option<usize>,
    mut f: impl FnMut(&mut Complex64, &mut Complex64, &mut Complex64, &mut Complex64),
) {
    assert_eq!(v.len(), w.len());
    let mut pairs = |(bv, bw): (&mut [Complex64], &mut [Complex64])| {
        let (vlo, vhi) = bv.split_at_mut(tm);
        let (wlo, whi) = bw.split_at_mut(tm);
        let it = vlo.iter_mut().zip(vhi.iter_mut());
        for ((v0, v1), (w0, w1)) in it.zip(wlo.iter_mut().zip(whi.iter_mut())) {
            f(v0, v1, w0, w1);
        }
    };
    match cm {
        None => v
            .chunks_exact_mut(2 * tm)
            .zip(w.chunks_exact_mut(2 * tm))
            .for_each(pairs),
        Some(cm) if cm > tm => {
            for (bv, bw) in v.chunks_exact_mut(2 * cm).zip(w.chunks_exact_mut(2 * cm)) {
                let it = bv[cm..].chunks_exact_mut(2 * tm);
                it.zip(bw[cm..].chunks_exact_mut(2 * tm))
                    .for_each(&mut pairs);
            }
        }
        Some(cm) => {
            for (bv, bw) in v.chunks_exact_mut(2 * tm).zip(w.chunks_exact_mut(2 * tm)) {
                let (vlo, vhi) = bv.split_at_mut(tm);
                let (wlo, whi) = bw.split_at_mut(tm);
                let vit = vlo
                    .chunks_exact_mut(2 * cm)
                    .zip(vhi.chunks_exact_mut(2 * cm));
                let wit = wlo
                    .chunks_exact_mut(2 * cm)
                    .zip(whi.chunks_exact_mut(2 * cm));
                for ((vl, vh), (wl, wh)) in vit.zip(wit) {
                    let it = vl[cm..].iter_mut().zip(vh[cm..].iter_mut());
                    for ((v0, v1), (w0, w1)) in it.zip(wl[cm..].iter_mut().zip(wh[cm..].iter_mut()))
                    {
                        f(v0, v1, w0, w1);
                    }
                }
            }
        }
    }
}

/// Calls `f(a0, a1)` for every pair (k, k | m) of `v` with bit m clear in k (read-only).
#[inline(always)]
pub(super) fn for_pairs_ref(v: &[Complex64], m: usize, mut f: impl FnMut(Complex64, Complex64)) {
    for blk in v.chunks_exact(2 * m) {
        let (lo, hi) = blk.split_at(m);
        for (&a0, &a1) in lo.iter().zip(hi) {
            f(a0, a1);
        }
    }
}

/// exp(−iθ/2·P) on one amplitude pair, given (c, s); pass −s for the adjoint.
#[inline(always)]
pub(super) fn rot(
    axis: Axis,
    c: f64,
    s: f64,
    a0: Complex64,
    a1: Complex64,
) -> (Complex64, Complex64) {
    match axis {
        // [[c, −is], [−is, c]];  −is·a = (s·a.im, −s·a.re)
        Axis::X => (
            Complex64::new(c * a0.re + s * a1.im, c * a0.im - s * a1.re),
            Complex64::new(c * a1.re + s * a0.im, c * a1.im - s * a0.re),
        ),
        // [[c, −s], [s, c]]
        Axis::Y => (
            Complex64::new(c * a0.re - s * a1.re, c * a0.im - s * a1.im),
            Complex64::new(s * a0.re + c * a1.re, s * a0.im + c * a1.im),
        ),
        // diag(c − is, c + is)
        Axis::Z => (
            Complex64::new(c * a0.re + s * a0.im, c * a0.im - s * a0.re),
            Complex64::new(c * a1.re - s * a1.im, c * a1.im + s * a1.re),
        ),
    }
}

/// Im⟨λ|P|φ⟩ restricted to one amplitude pair (φ0, φ1), (λ0, λ1).
#[inline(always)]
pub(super) fn im_lam_p_phi(
    axis: Axis,
    l0: Complex64,
    l1: Complex64,
    p0: Complex64,
    p1: Complex64,
) -> f64 {
    // Im(conj(a)·b) = a.re·b.im − a.im·b.re ;  Re(conj(a)·b) = a.re·b.re + a.im·b.im
    match axis {
        // (Pφ) = (φ1, φ0)
        Axis::X => (l0.re * p1.im - l0.im * p1.re) + (l1.re * p0.im - l1.im * p0.re),
        // (Pφ) = (−iφ1, iφ0): Im(−i·conj(λ0)φ1 + i·conj(λ1)φ0) = Re(conj(λ1)φ0) − Re(conj(λ0)φ1)
        Axis::Y => (l1.re * p0.re + l1.im * p0.im) - (l0.re * p1.re + l0.im * p1.im),
        // (Pφ) = (φ0, −φ1)
        Axis::Z => (l0.re * p0.im - l0.im * p0.re) - (l1.re * p1.im - l1.im * p1.re),
    }
}

#[inline(always)]
fn axis_of(kind: GateKind) -> (Axis, Option<u8>) {
    match kind {
        GateKind::Rx => (Axis::X, None),
        GateKind::Ry => (Axis::Y, None),
        GateKind::Rz => (Axis::Z, None),
        GateKind::Crx { ctrl } => (Axis::X, Some(ctrl)),
    }
}

/// Bit value of wire `w` among `q` wires (wire 0 = MSB).
#[inline(always)]
fn bit(q: usize, w: u8) -> usize {
    1usize << (q - 1 - w as usize)
}

/// Applies one gate (entries (c, s); pass −s for U†) to `psi` in place.
#[inline(always)]
fn apply_gate(psi: &mut [Complex64], q: usize, kind: GateKind, target: u8, c: f64, s: f64) {
    let tm = bit(q, target);
    let (axis, ctrl) = axis_of(kind);
    let cm = ctrl.map(|cw| bit(q, cw));
    // Dispatch on the axis outside the loops so each loop body is branch-free.
    match axis {
        Axis::X => for_pairs_mut(psi, tm, cm, |a0, a1| {
            (*a0, *a1) = rot(Axis::X, c, s, *a0, *a1)
        }),
        Axis::Y => for_pairs_mut(psi, tm, cm, |a0, a1| {
            (*a0, *a1) = rot(Axis::Y, c, s, *a0, *a1)
        }),
        Axis::Z => for_pairs_mut(psi, tm, cm, |a0, a1| {
            (*a0, *a1) = rot(Axis::Z, c, s, *a0, *a1)
        }),
    }
}

/// One reverse step of the adjoint sweep on φ (state) and λ (adjoint), fused: returns Im⟨λ|P|φ⟩
/// over the gate's pairs, then φ ← rot(ci, −si)·φ, λ ← rot(c, −s)·λ.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn reverse_step<const AX: u8>(
    phi: &mut [Complex64],
    lam: &mut [Complex64],
    tm: usize,
    cm: Option<usize>,
    c: f64,
    s: f64,
    ci: f64,
    si: f64,
) -> f64 {
    let axis = match AX {
        0 => Axis::X,
        1 => Axis::Y,
        _ => Axis::Z,
    };
    let mut grad = 0.0f64;
    for_pairs_mut2(phi, lam, tm, cm, |p0, p1, l0, l1| {
        grad += im_lam_p_phi(axis, *l0, *l1, *p0, *p1);
        (*p0, *p1) = rot(axis, ci, -si, *p0, *p1);
        (*l0, *l1) = rot(axis, c, -s, *l0, *l1);
    });
    grad
}

/// out += scale · Σ_w (x_w X_w + y_w Y_w + z_w Z_w)|ψ⟩ with (x, y, z) from `dout` (3Q) in the
/// order of [`expvals_xyz`]; per wire the 2×2 block is [[z, x−iy], [x+iy, −z]].
fn add_observable_action(
    psi: &[Complex64],
    q: usize,
    dout: &[f64],
    scale: f64,
    out: &mut [Complex64],
) {
    for w in 0..q {
        let (x, y, z) = (
            scale * dout[w],
            scale * dout[q + w],
            scale * dout[2 * q + w],
        );
        let m = 1usize << (q - 1 - w);
        for (pb, ob) in psi.chunks_exact(2 * m).zip(out.chunks_exact_mut(2 * m)) {
            let (plo, phi) = pb.split_at(m);
            let (olo, ohi) = ob.split_at_mut(m);
            for (((a0, a1), l0), l1) in plo.iter().zip(phi).zip(olo).zip(ohi) {
                *l0 += Complex64::new(
                    z * a0.re + x * a1.re + y * a1.im,
                    z * a0.im + x * a1.im - y * a1.re,
                );
                *l1 += Complex64::new(
                    x * a0.re - y * a0.im - z * a1.re,
                    x * a0.im + y * a0.re - z * a1.im,
                );
            }
        }
    }
}

/// Applies the gates of `prog` to `psi` in place (no reset, no measurement), entries from `cs`.
pub(crate) fn apply_with(
    prog: &Program,
    cs: impl Fn(AngleSrc) -> (f64, f64),
    psi: &mut [Complex64],
) {
    let q = prog.n_qubits;
    for g in &prog.gates {
        let (c, s) = cs(g.angle);
        apply_gate(psi, q, g.kind, g.target, c, s);
    }
}

/// Forward core, generic in how gate entries (c, s) are obtained from an angle source.
pub(crate) fn forward_with(
    prog: &Program,
    cs: impl Fn(AngleSrc) -> (f64, f64),
    psi: &mut [Complex64],
    out: &mut [f64],
) {
    let q = prog.n_qubits;
    let n = 1usize << q;
    assert_eq!(
        psi.len(),
        n,
        "circuit_forward: psi must hold 2^Q amplitudes"
    );
    assert_eq!(out.len(), 3 * q, "circuit_forward: out must hold 3Q values");
    psi.fill(Complex64::new(0.0, 0.0));
    psi[0] = Complex64::new(1.0, 0.0);
    for g in &prog.gates {
        let (c, s) = cs(g.angle);
        apply_gate(psi, q, g.kind, g.target, c, s);
    }
    expvals_xyz(psi, q, out);
}

/// Adjoint backward core, generic in how gate entries (c, s) are obtained from an angle source.
/// The derivative uses the same (c, s) as the forward, so it is the exact derivative of the
/// gate family U(θ) = c(θ)·I − i·s(θ)·P evaluated at those entries.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_with(
    prog: &Program,
    cs: impl Fn(AngleSrc) -> (f64, f64),
    psi: &[Complex64],
    dout: &[f64],
    dtheta: &mut [f64],
    denc: &mut [f64],
    scratch: &mut [Complex64],
) {
    let q = prog.n_qubits;
    let n = 1usize << q;
    assert_eq!(
        psi.len(),
        n,
        "circuit_backward: psi must hold 2^Q amplitudes"
    );
    assert_eq!(
        dout.len(),
        3 * q,
        "circuit_backward: dout must hold 3Q values"
    );
    assert_eq!(
        dtheta.len(),
        prog.n_theta,
        "circuit_backward: dtheta must hold K values"
    );
    assert_eq!(
        denc.len(),
        prog.n_enc,
        "circuit_backward: denc must hold n_enc values"
    );
    assert!(
        scratch.len() >= 2 * n,
        "circuit_backward: scratch must hold 2·2^Q amplitudes"
    );
    let (phi, rest) = scratch.split_at_mut(n);
    let lam = &mut rest[..n];
    phi.copy_from_slice(psi);

    // λ = Σ_w (x_w X_w + y_w Y_w + z_w Z_w)|ψ⟩
    lam.fill(Complex64::new(0.0, 0.0));
    add_observable_action(phi, q, dout, 1.0, lam);

    reverse_sweep(prog, cs, phi, lam, dtheta, denc);
}

/// Adjoint reverse sweep over `prog` (last gate first): φ holds the state after the program and
/// λ the adjoint state there (λ = G/2, G = ∂L/∂Re ψ + i·∂L/∂Im ψ); accumulates dθ, de and
/// leaves φ, λ at the program's input (φ = initial state, λ = G_in/2).
pub(crate) fn reverse_sweep(
    prog: &Program,
    cs: impl Fn(AngleSrc) -> (f64, f64),
    phi: &mut [Complex64],
    lam: &mut [Complex64],
    dtheta: &mut [f64],
    denc: &mut [f64],
) {
    let q = prog.n_qubits;
    // Reverse sweep. With φ = state after the gate and λ the adjoint state after it:
    // dθ = 2·Re⟨λ|∂U/∂θ|φ_prev⟩ = 2·Re⟨λ|(−i/2)·P·U|φ_prev⟩ = Im⟨λ|P|φ⟩ (P restricted to the
    // control = 1 subspace for CRX); then φ ← U⁻¹φ, λ ← U†λ, fused in one pass over the pairs.
    // f32-built entries have r = c² + s² = 1 ± O(1e-7), so U is unitary only to f32 precision:
    // the state is un-computed with the exact inverse U⁻¹ = U†/r (entries (c/r, −s/r)), while λ
    // (reverse mode of the linear map ψ ↦ Uψ) uses U†. The result is then the exact derivative of
    // the forward's gate family up to f64 rounding, not merely to f32 precision.
    for g in prog.gates.iter().rev() {
        let (c, s) = cs(g.angle);
        let r = c * c + s * s;
        let (ci, si) = (c / r, s / r);
        let (axis, ctrl) = axis_of(g.kind);
        let tm = bit(q, g.target);
        let cm = ctrl.map(|cw| bit(q, cw));
        let grad = match axis {
            Axis::X => reverse_step::<0>(phi, lam, tm, cm, c, s, ci, si),
            Axis::Y => reverse_step::<1>(phi, lam, tm, cm, c, s, ci, si),
            Axis::Z => reverse_step::<2>(phi, lam, tm, cm, c, s, ci, si),
        };
        match g.angle {
            AngleSrc::Theta(i) => dtheta[i as usize] += grad,
            AngleSrc::Enc(i) => denc[i as usize] += grad,
        }
    }
}

/// Expectation values of X, Y, Z on every wire, in the reference's order
/// `[⟨X_0⟩..⟨X_{Q−1}⟩, ⟨Y_0⟩.., ⟨Z_0⟩..]`. psi: (2^Q); out: (3Q).
///
/// For wire w with amplitude pairs (a0, a1) = (ψ\[k\], ψ\[k | 2^{Q−1−w}\]) (bit w of k clear):
/// ⟨X_w⟩ = 2Σ Re(ā0·a1), ⟨Y_w⟩ = 2Σ Im(ā0·a1), ⟨Z_w⟩ = Σ(|a0|² − |a1|²) (spec §2.1).
/// `out` is overwritten. psi need not be normalised (the formulas are then ⟨ψ|P|ψ⟩).
pub fn expvals_xyz(psi: &[Complex64], n_qubits: usize, out: &mut [f64]) {
    let q = n_qubits;
    let n = 1usize << q;
    assert_eq!(psi.len(), n, "expvals_xyz: psi must hold 2^Q amplitudes");
    assert_eq!(out.len(), 3 * q, "expvals_xyz: out must hold 3Q values");
    for w in 0..q {
        let m = 1usize << (q - 1 - w);
        let (mut x, mut y, mut z) = (0.0f64, 0.0f64, 0.0f64);
        for_pairs_ref(psi, m, |a0, a1| {
            x += a0.re * a1.re + a0.im * a1.im;
            y += a0.re * a1.im - a0.im * a1.re;
            z += (a0.re * a0.re + a0.im * a0.im) - (a1.re * a1.re + a1.im * a1.im);
        });
        out[w] = 2.0 * x;
        out[q + w] = 2.0 * y;
        out[2 * q + w] = z;
    }
}

/// Runs `prog` from |0…0⟩. theta: (K) f32, enc: (n_enc) f32 (empty if none);
/// `psi` (2^Q) receives the final state; `out` (3Q) the X/Y/Z expectation values.
///
/// Gate entries are built from the f32 angles in f32 (module docs, spec §2.7); state and
/// expectation values are f64. Panics if a slice length does not match the program.
pub fn circuit_forward(
    prog: &Program,
    theta: &[f32],
    enc: &[f32],
    psi: &mut [Complex64],
    out: &mut [f64],
) {
    let angles = f32_angles(prog, theta, enc, "circuit_forward");
    forward_with(prog, angles, psi, out);
}

/// Adjoint-method backward: given the final state `psi` from [`circuit_forward`] and the
/// upstream gradient `dout` (3Q) on the expectation values, **accumulates** dθ (K) and de
/// (n_enc). `scratch` must hold 2·2^Q amplitudes. Exact (no shifts), O(gates·2^Q).
///
/// Method (Jones & Gacon 2020, arXiv:2009.02823): λ = Σ_k dout_k·O_k|ψ⟩, then for each gate in
/// reverse order dθ_g += Im⟨λ|P_g|ψ⟩ (= 2·Re⟨λ|∂U_g/∂θ|ψ_prev⟩ with ∂U/∂θ = −i/2·P·U), ψ ← U⁻¹ψ,
/// λ ← U†λ. Gate entries are rebuilt from the f32 angles exactly as in the forward (U⁻¹ = U†/(c²+s²)
/// because f32 entries are unitary only to ~1e-7), so the result is the exact derivative of the
/// forward's gate family (c, s)(θ) with dc/dθ = −s/2, ds/dθ = c/2 up to f64 rounding. An angle used
/// by several gates receives the sum of their contributions. No allocation. Panics if a slice
/// length does not match the program (`scratch` may be longer than 2·2^Q; only its head is used).
#[allow(clippy::too_many_arguments)]
pub fn circuit_backward(
    prog: &Program,
    theta: &[f32],
    enc: &[f32],
    psi: &[Complex64],
    dout: &[f64],
    dtheta: &mut [f64],
    denc: &mut [f64],
    scratch: &mut [Complex64],
) {
    let angles = f32_angles(prog, theta, enc, "circuit_backward");
    backward_with(prog, angles, psi, dout, dtheta, denc, scratch);
}

/// Applies `prog` to the given state `psi` (2^Q) **in place**: no reset to |0…0⟩ and no
/// measurement. This is how the reference's `qml.StatePrep(v)` circuits run: v is taken
/// verbatim as the initial state (spec groups-2-4 §2.1). theta: (K) f32, enc: (n_enc) f32;
/// gate entries built as in [`circuit_forward`]. Panics if a slice length does not match.
pub fn apply_program(prog: &Program, theta: &[f32], enc: &[f32], psi: &mut [Complex64]) {
    let angles = f32_angles(prog, theta, enc, "apply_program");
    assert_eq!(
        psi.len(),
        prog.state_len(),
        "apply_program: psi must hold 2^Q amplitudes"
    );
    apply_with(prog, angles, psi);
}

/// Backward of [`expvals_xyz`] with respect to the state: **accumulates**
/// `g` += 2·Σ_k dout_k·O_k|ψ⟩, the gradient of L = Σ_k dout_k·⟨ψ|O_k|ψ⟩ in the convention used
/// by every state gradient of this module: G = ∂L/∂Re ψ + i·∂L/∂Im ψ (2^Q). dout: (3Q).
pub fn expvals_xyz_backward(psi: &[Complex64], n_qubits: usize, dout: &[f64], g: &mut [Complex64]) {
    let n = 1usize << n_qubits;
    assert_eq!(
        psi.len(),
        n,
        "expvals_xyz_backward: psi must hold 2^Q amplitudes"
    );
    assert_eq!(
        g.len(),
        n,
        "expvals_xyz_backward: g must hold 2^Q amplitudes"
    );
    assert_eq!(
        dout.len(),
        3 * n_qubits,
        "expvals_xyz_backward: dout must hold 3Q values"
    );
    add_observable_action(psi, n_qubits, dout, 2.0, g);
}

/// Adjoint backward of [`apply_program`]: `psi` is the state **after** the program, `g` on
/// entry the gradient with respect to it (G = ∂L/∂Re ψ + i·∂L/∂Im ψ) and on return the
/// gradient with respect to the program's input state; dθ (K) and de (n_enc) are
/// **accumulated**. `scratch` holds at least 2^Q amplitudes. Same method and precision as
/// [`circuit_backward`] (Jones & Gacon 2020). No allocation.
#[allow(clippy::too_many_arguments)]
pub fn apply_program_backward(
    prog: &Program,
    theta: &[f32],
    enc: &[f32],
    psi: &[Complex64],
    g: &mut [Complex64],
    dtheta: &mut [f64],
    denc: &mut [f64],
    scratch: &mut [Complex64],
) {
    let angles = f32_angles(prog, theta, enc, "apply_program_backward");
    assert_eq!(
        dtheta.len(),
        prog.n_theta,
        "apply_program_backward: dtheta must hold K values"
    );
    assert_eq!(
        denc.len(),
        prog.n_enc,
        "apply_program_backward: denc must hold n_enc values"
    );
    let n = prog.state_len();
    assert!(
        psi.len() == n && g.len() == n && scratch.len() >= n,
        "apply_program_backward: psi, g (2^Q) and scratch (≥ 2^Q) lengths"
    );
    state_backward_with(prog, angles, psi, g, dtheta, denc, &mut scratch[..n]);
}

/// Core of [`apply_program_backward`], generic in the gate entries.
pub(crate) fn state_backward_with(
    prog: &Program,
    cs: impl Fn(AngleSrc) -> (f64, f64),
    psi: &[Complex64],
    g: &mut [Complex64],
    dtheta: &mut [f64],
    denc: &mut [f64],
    phi: &mut [Complex64],
) {
    phi.copy_from_slice(psi);
    g.iter_mut().for_each(|v| *v *= 0.5);
    reverse_sweep(prog, cs, phi, g, dtheta, denc);
    g.iter_mut().for_each(|v| *v *= 2.0);
}
