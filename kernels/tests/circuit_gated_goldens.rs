//! Circuit goldens of the gated models (spec gated-and-protocols §1.2, sidecar
//! `shared/spec/gated-golden/gated-small.json → circuit_goldens`): ⟨X_i⟩, ⟨Y_i⟩, ⟨Z_i⟩ of the
//! unified 5-angle ansatz and of the legacy 4-angle ansatz (`basic_ansatz_circuit` of the
//! reference's `models/QuantumHydra.py`) for n = 6 qubits, 2 layers, θ_k = 0.1·(k+1), computed by
//! PennyLane `default.qubit` in float64. Also the legacy gate table itself.
//!
//! The sidecar is read from `../../shared` (skipped with a note if absent). Our simulator takes
//! f32 angles (the models' precision), so θ is rounded to f32 first: the goldens are matched to
//! 2e-6 absolute (measured ≈ 1e-7).
use num_complex::Complex64;
use qssm_kernels::circuit::{circuit_forward, AngleSrc, GateKind, Program};
use std::path::PathBuf;

fn golden_json() -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/spec/gated-golden/gated-small.json");
    match std::fs::read_to_string(&p) {
        Ok(s) => Some(s),
        Err(_) => {
            eprintln!(
                "note: {} not found, skipping gated circuit goldens",
                p.display()
            );
            None
        }
    }
}

/// The number array at `"key": [...]` after the first occurrence of `"section"` (a minimal
/// reader for the sidecar's flat number lists; the kernels crate has no JSON dependency).
fn num_array(json: &str, section: &str, key: &str) -> Vec<f64> {
    let s = json
        .find(&format!("\"{section}\""))
        .unwrap_or_else(|| panic!("section {section} missing"));
    let rest = &json[s..];
    let k = rest
        .find(&format!("\"{key}\""))
        .unwrap_or_else(|| panic!("{section}.{key} missing"));
    let rest = &rest[k..];
    let open = rest.find('[').expect("array start");
    let close = rest.find(']').expect("array end");
    rest[open + 1..close]
        .split(',')
        .map(|v| v.trim().parse::<f64>().expect("number"))
        .collect()
}

fn run(prog: &Program, angles: &[f64]) -> Vec<f64> {
    let theta: Vec<f32> = angles.iter().map(|&v| v as f32).collect();
    let mut psi = vec![Complex64::new(0.0, 0.0); prog.state_len()];
    let mut out = vec![0.0f64; 3 * prog.n_qubits];
    circuit_forward(prog, &theta, &[], &mut psi, &mut out);
    out
}

fn check(key: &str, prog: &Program) {
    let Some(json) = golden_json() else { return };
    let angles = num_array(&json, key, "angles");
    let want = num_array(&json, key, "expvals");
    assert_eq!(angles.len(), prog.n_theta, "{key}: angle count");
    assert_eq!(want.len(), 3 * prog.n_qubits, "{key}: expval count");
    for (k, a) in angles.iter().enumerate() {
        assert!(
            (a - 0.1 * (k as f64 + 1.0)).abs() < 1e-12,
            "{key}: θ_{k} = {a}"
        );
    }
    let got = run(prog, &angles);
    let d = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("{key}: max |expval diff| = {d:.3e}");
    assert!(d <= 2e-6, "{key}: expectation values differ by {d:e}");
}

#[test]
fn gated_golden_unified_ansatz() {
    check("unified_5n", &Program::unified_ansatz(6, 2, false));
}

#[test]
fn gated_golden_legacy_ansatz() {
    check("legacy_4n", &Program::legacy_ansatz(6, 2));
}

#[test]
fn gated_golden_spec_examples() {
    // spec §1.2: unified, n = 6, Lq = 2: ⟨X_0⟩ = 0.16143, ⟨Z_5⟩ = −0.000638 (needs no sidecar).
    let angles: Vec<f64> = (0..60).map(|k| 0.1 * (k as f64 + 1.0)).collect();
    let m = run(&Program::unified_ansatz(6, 2, false), &angles);
    assert!((m[0] - 0.16143).abs() < 1e-5, "X0 = {}", m[0]);
    assert!((m[17] + 0.000638).abs() < 1e-6, "Z5 = {}", m[17]);
}

#[test]
fn gated_legacy_ansatz_gate_table() {
    for (q, layers) in [(2usize, 1usize), (3, 2), (6, 2)] {
        let p = Program::legacy_ansatz(q, layers);
        assert_eq!((p.n_qubits, p.n_theta, p.n_enc), (q, 4 * q * layers, 0));
        assert_eq!(p.n_gates(), 4 * q * layers);
        let mut used = vec![0usize; p.n_theta];
        for l in 0..layers {
            let o = 4 * q * l;
            let gs = &p.gates[o..o + 4 * q];
            for i in 0..q {
                // RY(θ[o+i]) on wire i
                assert_eq!(gs[i].kind, GateKind::Ry);
                assert_eq!(gs[i].target as usize, i);
                assert_eq!(gs[i].angle, AngleSrc::Theta((o + i) as u16));
                // forward ring i → i+1
                let g = gs[q + i];
                assert_eq!(g.kind, GateKind::Crx { ctrl: i as u8 });
                assert_eq!(g.target as usize, (i + 1) % q);
                assert_eq!(g.angle, AngleSrc::Theta((o + q + i) as u16));
                // second RY(θ[o+2Q+i]) on wire i
                let g = gs[2 * q + i];
                assert_eq!(g.kind, GateKind::Ry);
                assert_eq!(g.target as usize, i);
                assert_eq!(g.angle, AngleSrc::Theta((o + 2 * q + i) as u16));
                // backward ring (Q−1−j) → (Q−2−j) mod Q, with j = i
                let g = gs[3 * q + i];
                assert_eq!(
                    g.kind,
                    GateKind::Crx {
                        ctrl: (q - 1 - i) as u8
                    }
                );
                assert_eq!(g.target as usize, (q + q - 2 - i) % q);
                assert_eq!(g.angle, AngleSrc::Theta((o + 3 * q + i) as u16));
            }
            for g in gs {
                if let AngleSrc::Theta(k) = g.angle {
                    used[k as usize] += 1;
                }
            }
        }
        assert!(used.iter().all(|&u| u == 1), "every θ used exactly once");
    }
}
