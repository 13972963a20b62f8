//! The inference engine on the group-2 superposition models — 2d `QuantumMambaHydraSSM` and
//! 2e `QuantumHydraHydraSSM` (spec groups-2-4 §3.4–3.5, §4.3 R1) — against the trainer (the
//! oracle, exact vs the reference):
//!
//! * window path: `classify_window` equals `forward_eval` (≤ 1e-5) on random-init models (short
//!   last chunks, T a multiple of 32, T = 32m + 1, Q = 2, 3 and 6, several dt-MLP widths) and
//!   on the reference fixtures `2d`, `2e` (EEG size) where present; f16 files: same class,
//!   logits within 1e-2;
//! * stream path (one sample per push, chunks of 32, per-sample front-end without look-ahead):
//!   with hop = 32·m the stream emits at t = 32(k+1) samples and each emitted prediction
//!   equals the trainer's `boundary_outputs` entry n_k (≤ 1e-4); `prediction()` after every
//!   sample equals the trainer's window forward on that prefix (the pad rows of a partial last
//!   chunk), in particular the last boundary at T; a property test with random push patterns,
//!   hops, resets and snapshot/restore detours.
//!
//! No allocation per push: `engine_noalloc.rs` (2d).
use qssm_engine::{EngineError, Model as Engine, StreamOptions};
use qssm_formats::model_file::TensorDtype;
use qssm_tests::engine_case::{blob, from_fixture, sample, window_of, Case, Rng};
use qssm_tests::max_abs_diff;
use qssm_trainer::models::{registry, ModelConfig};
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

const IDS: [&str; 2] = ["2d", "2e"];
/// Chunk size of 2d/2e.
const CS: usize = 32;
/// Stream vs trainer tolerance.
const TOL: f32 = 1e-4;

/// A trainer-initialised model (every parameter perturbed) with `b` random windows.
#[allow(clippy::too_many_arguments)]
fn synthetic(id: &str, c: usize, t: usize, d: usize, q: usize, layers: usize, k: usize) -> Case {
    let cfg = ModelConfig {
        d_state: 4 + (c + t) % 13,
        n_channels: c,
        n_times: t,
        d_model: d,
        n_qubits: q,
        n_layers: layers,
        n_classes: k,
        ..ModelConfig::eeg(t)
    };
    let model = registry::build(id, cfg).expect("model in the registry");
    let seed = (c * 1_000_003 + t * 1009 + d * 101 + q * 11 + k) as u64 + id.len() as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ u64::from(id.as_bytes()[1]));
    let params: Vec<f32> = model
        .layout()
        .init(&mut rng)
        .iter()
        .map(|v| v + rng.gen_range(-0.1..0.1))
        .collect();
    let b = 2;
    let x = (0..b * c * t).map(|_| rng.gen_range(-0.5..0.5)).collect();
    Case {
        name: format!("{id} C{c} T{t} D{d} Q{q} L{layers} K{k}"),
        model,
        params,
        x,
        b,
        want: None,
    }
}

/// Engine (f32 file) vs trainer and fixture (≤ 1e-5); returns max |engine − trainer|.
fn check_parity(case: &Case) -> f32 {
    let name = &case.name;
    let engine = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("engine loads");
    assert_eq!(engine.model_id(), case.model.id());
    let mut dmax = 0.0f32;
    for i in 0..case.b {
        let p = engine.classify_window(case.window(i)).expect("classifies");
        let want = case.model.forward_eval(&case.params, case.window(i));
        let d = max_abs_diff(&p.logits, &want);
        assert!(d <= 1e-5, "{name}: engine vs trainer, sample {i}: {d:e}");
        dmax = dmax.max(d);
        if let Some(fx) = &case.want {
            let k = p.logits.len();
            let d = max_abs_diff(&p.logits, &fx[i * k..(i + 1) * k]);
            assert!(d <= 1e-5, "{name}: engine vs fixture, sample {i}: {d:e}");
        }
        let sum: f32 = p.probabilities.iter().sum();
        assert!((sum - 1.0).abs() <= 1e-6);
    }
    eprintln!("{name}: max |engine − trainer| = {dmax:e}");
    dmax
}

fn check_f16(case: &Case) {
    let name = &case.name;
    let e32 = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("f32 file loads");
    let e16 = Engine::from_bytes(&blob(case, TensorDtype::F16)).expect("f16 file loads");
    assert!(e16.weight_bytes() < e32.weight_bytes());
    let mut dmax = 0.0f32;
    for i in 0..case.b {
        let (p32, p16) = (
            e32.classify_window(case.window(i)).unwrap(),
            e16.classify_window(case.window(i)).unwrap(),
        );
        let d = max_abs_diff(&p32.logits, &p16.logits);
        assert!(d <= 1e-2, "{name}: f16 vs f32 logits, sample {i}: {d:e}");
        assert_eq!(p32.class, p16.class, "{name}: f16 changes the class");
        dmax = dmax.max(d);
    }
    eprintln!("{name}: max |f16 − f32| logits = {dmax:e}");
}

#[test]
fn window_matches_the_trainer() {
    let mut worst = 0.0f32;
    for id in IDS {
        // short last chunk, T < 32, T multiple of 32, T = 32m + 1, EEG-like Q = 6 with 64
        // channels
        for (c, t, d, q, layers, k) in [
            (3, 75, 16, 3, 1, 2),
            (5, 20, 16, 3, 2, 2),
            (4, 64, 16, 2, 2, 3),
            (2, 33, 8, 3, 2, 2),
            (64, 97, 32, 6, 2, 2),
        ] {
            let case = synthetic(id, c, t, d, q, layers, k);
            worst = worst.max(check_parity(&case));
        }
    }
    eprintln!("group 2 window: worst |engine − trainer| = {worst:e}");
}

#[test]
fn window_matches_the_reference_fixtures() {
    for id in IDS {
        match from_fixture(id) {
            Some(case) => {
                check_parity(&case);
                check_f16(&case);
            }
            None => eprintln!("fixture {id} not found; skipped"),
        }
    }
}

#[test]
fn f16_files_agree_with_f32() {
    for id in IDS {
        check_f16(&synthetic(id, 8, 40, 32, 4, 2, 2));
    }
}

/// Streams each window with hop 32: emitted predictions vs `boundary_outputs`, every prefix's
/// `prediction()` vs the trainer's forward on that prefix, the last vs the window path.
fn check_stream(case: &Case) -> f32 {
    let eng = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("loads");
    assert!(eng.can_stream(), "{}", case.name);
    let t = eng.n_times();
    let mut s = eng.stream(StreamOptions { hop: CS }).expect("streams");
    let mut dmax = 0.0f32;
    for i in 0..case.b {
        let w = case.window(i);
        let bo = case
            .model
            .boundary_outputs(&case.params, w)
            .expect("boundary outputs");
        assert_eq!(bo.len(), t.div_ceil(CS));
        s.reset();
        let mut seen = Vec::new();
        let mut emitted = 0;
        for ti in 0..t {
            let x = sample(w, t, ti);
            seen.push(x.clone());
            let n = ti + 1;
            let out = s.push(&x).expect("push").map(|p| p.to_prediction());
            assert_eq!(out.is_some(), n % CS == 0, "after {n}");
            if let Some(p) = out {
                let (n_k, want) = &bo[emitted];
                assert_eq!(*n_k, n, "{}: boundary {emitted}", case.name);
                let d = max_abs_diff(&p.logits, want);
                assert!(d <= TOL, "{}: boundary {n_k}: {d:e}", case.name);
                dmax = dmax.max(d);
                emitted += 1;
            }
            let p = s.prediction().unwrap().expect("a prediction");
            assert_eq!(p.samples_seen, n as u64);
            let want = case
                .model_t(n)
                .forward_eval(&case.params, &window_of(&seen));
            let d = max_abs_diff(p.logits, &want);
            assert!(d <= TOL, "{}: prefix of {n}: {d:e}", case.name);
            dmax = dmax.max(d);
        }
        assert_eq!(emitted, t / CS);
        let last = s.prediction().unwrap().unwrap().to_prediction();
        let (n_k, want) = bo.last().unwrap();
        assert_eq!(*n_k, t);
        assert!(max_abs_diff(&last.logits, want) <= TOL);
        let win = eng.classify_window(w).unwrap();
        assert!(max_abs_diff(&last.logits, &win.logits) <= TOL);
    }
    eprintln!("{} stream: max |stream − trainer| = {dmax:e}", case.name);
    dmax
}

#[test]
fn stream_matches_the_boundary_outputs() {
    let mut worst = 0.0f32;
    for id in IDS {
        for (c, t, d, q, layers, k) in [(3, 75, 16, 3, 1, 2), (2, 64, 8, 3, 2, 3)] {
            worst = worst.max(check_stream(&synthetic(id, c, t, d, q, layers, k)));
        }
    }
    eprintln!("group 2 stream: worst |stream − trainer| = {worst:e}");
}

/// Random segments (each after a reset), random hops (32·m), snapshot → detour → restore:
/// emitted predictions match the trainer's boundary outputs of the segment, a restored
/// stream continues bit for bit, `prediction()` at the end matches the segment's window.
#[test]
fn random_push_patterns_match_the_trainer() {
    for (n, id) in IDS.iter().enumerate() {
        let case = synthetic(id, 3, 40, 16, 3, 1, 2);
        let eng = Engine::from_bytes(&blob(&case, TensorDtype::F32)).expect("loads");
        let c = eng.n_channels();
        let mut rng = Rng(1234 + n as u64);
        let mut snap = vec![0.0f32; eng.stream_state_len().unwrap()];
        for _trial in 0..3 {
            let hop = CS * (1 + rng.below(2));
            let mut s = eng.stream(StreamOptions { hop }).unwrap();
            for _seg in 0..2 {
                s.reset();
                let len = 1 + rng.below(110);
                let xs: Vec<Vec<f32>> = (0..len)
                    .map(|_| (0..c).map(|_| rng.value() * 0.5).collect())
                    .collect();
                let m = case.model_t(len);
                let w = window_of(&xs);
                let bo = m.boundary_outputs(&case.params, &w).unwrap();
                for (i, x) in xs.iter().enumerate() {
                    let out = s.push(x).unwrap().map(|p| p.to_prediction());
                    let cnt = i + 1;
                    assert_eq!(out.is_some(), cnt % hop == 0);
                    if let Some(p) = out {
                        let k = cnt / CS - 1;
                        assert_eq!(bo[k].0, cnt);
                        let d = max_abs_diff(&p.logits, &bo[k].1);
                        assert!(d <= TOL, "{id}: hop {hop} boundary {cnt}: {d:e}");
                    }
                    if rng.below(6) == 0 {
                        let before = s.prediction().unwrap().unwrap().to_prediction();
                        s.snapshot(&mut snap).unwrap();
                        for _ in 0..1 + rng.below(20) {
                            let junk: Vec<f32> = (0..c).map(|_| rng.value()).collect();
                            s.push(&junk).unwrap();
                        }
                        s.restore(&snap).unwrap();
                        assert_eq!(s.samples_seen(), cnt as u64);
                        let after = s.prediction().unwrap().unwrap().to_prediction();
                        assert_eq!(before, after, "{id}: restore is bit-exact");
                    }
                }
                let last = s.prediction().unwrap().unwrap().to_prediction();
                let want = m.forward_eval(&case.params, &w);
                let d = max_abs_diff(&last.logits, &want);
                assert!(d <= TOL, "{id}: segment of {len}: {d:e}");
            }
        }
    }
}

#[test]
fn hops_must_be_multiples_of_the_chunk() {
    for id in IDS {
        let case = synthetic(id, 2, 20, 8, 2, 1, 2);
        let eng = Engine::from_bytes(&blob(&case, TensorDtype::F32)).unwrap();
        for hop in [0, 1, 16, 33, 48] {
            assert!(matches!(
                eng.stream(StreamOptions { hop }),
                Err(EngineError::InvalidHop { .. })
            ));
        }
        assert!(eng.stream(StreamOptions { hop: 32 }).is_ok());
        assert!(eng.stream(StreamOptions { hop: 64 }).is_ok());
    }
}
