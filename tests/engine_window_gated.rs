//! The inference engine's window path for the gated models **mg** `QuantumMambaGated` and
//! **hg** `QuantumHydraGated` (reference `models/QuantumGatedRecurrence.py`, spec
//! gated-and-protocols §1) against the trainer (`forward_eval`, the oracle) and the reference
//! fixtures `mg`, `hg` (T = 80, C = 16, unified ansatz): a model file is built from the
//! parameters (fixture `param.*`, or a random init from the trainer registry) with the card the
//! trainer's export writes (`qssm_trainer::export::model_card`: the circuit layout records the
//! ansatz and the chunk size), serialised with `qssm_formats::model_file::to_bytes`, loaded by
//! the engine, and its logits compared (≤ 1e-5 abs). Both ansätze (unified5, legacy4), short
//! last chunks, f16 files (same class, logits within 1e-2), and the typed errors of bad gated
//! cards (no circuit layout, unknown ansatz, layout ≠ tensors, hg asked to stream).
use qssm_engine::{EngineError, Model as Engine, ModelFileError, StreamOptions};
use qssm_formats::model_file::{to_bytes, ModelCard, TensorDtype, TensorOut};
use qssm_tests::engine_case::{blob, blob_with, card, from_fixture, Case};
use qssm_tests::max_abs_diff;
use qssm_trainer::models::{registry, AnsatzKind, ModelConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A trainer-initialised model (every parameter then perturbed, so the zero-initialised
/// imaginary parts are not all zero) with `b` random windows.
fn synthetic(
    id: &str,
    ansatz: AnsatzKind,
    c: usize,
    t: usize,
    n_qubits: usize,
    hidden: usize,
    chunk: usize,
    k: usize,
) -> Case {
    let cfg = ModelConfig {
        n_channels: c,
        n_times: t,
        n_qubits,
        n_layers: 2,
        n_classes: k,
        hidden_dim: hidden,
        chunk_size: chunk,
        ansatz,
        dropout: 0.1,
        ..ModelConfig::eeg(t)
    };
    let model = registry::build(id, cfg).expect("model in the registry");
    let seed = (c * 1_000_003 + t * 1009 + hidden * 101 + chunk * 11 + k) as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let params: Vec<f32> = model
        .layout()
        .init(&mut rng)
        .iter()
        .map(|v| v + rng.gen_range(-0.1..0.1))
        .collect();
    let b = 2;
    let x = (0..b * c * t).map(|_| rng.gen_range(-0.5..0.5)).collect();
    Case {
        name: format!("{id} {ansatz:?} C{c} T{t} n{n_qubits} H{hidden} chunk{chunk} K{k}"),
        model,
        params,
        x,
        b,
        want: None,
    }
}

/// Engine (f32 file) vs trainer (≤ 1e-5) and fixture (≤ 1e-5); returns max |engine − trainer|.
fn check_parity(case: &Case) -> f32 {
    let name = &case.name;
    let engine = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("engine loads");
    assert_eq!(engine.model_id(), case.model.id());
    let (mut d_trainer, mut d_fixture) = (0.0f32, 0.0f32);
    for i in 0..case.b {
        let p = engine.classify_window(case.window(i)).expect("classifies");
        let want = case.model.forward_eval(&case.params, case.window(i));
        let d = max_abs_diff(&p.logits, &want);
        assert!(d <= 1e-5, "{name}: engine vs trainer, sample {i}: {d:e}");
        d_trainer = d_trainer.max(d);
        if let Some(fx) = &case.want {
            let k = p.logits.len();
            let d = max_abs_diff(&p.logits, &fx[i * k..(i + 1) * k]);
            assert!(d <= 1e-5, "{name}: engine vs fixture, sample {i}: {d:e}");
            d_fixture = d_fixture.max(d);
        }
        let sum: f32 = p.probabilities.iter().sum();
        assert!(
            (sum - 1.0).abs() <= 1e-6,
            "{name}: probabilities sum to {sum}"
        );
        let best = p.logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(p.logits[p.class], best, "{name}: class is the argmax");
    }
    match case.want {
        Some(_) => eprintln!(
            "{name}: max |engine − trainer| = {d_trainer:e}, max |engine − fixture| = {d_fixture:e}"
        ),
        None => eprintln!("{name}: max |engine − trainer| = {d_trainer:e}"),
    }
    d_trainer
}

/// f16 file vs f32 file: same class, logits within 1e-2.
fn check_f16(case: &Case) {
    let name = &case.name;
    let e32 = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("f32 file loads");
    let e16 = Engine::from_bytes(&blob(case, TensorDtype::F16)).expect("f16 file loads");
    assert_eq!(e16.card().dtype, "f16");
    assert!(e16.weight_bytes() < e32.weight_bytes());
    let mut dmax = 0.0f32;
    for i in 0..case.b {
        let (p32, p16) = (
            e32.classify_window(case.window(i)).unwrap(),
            e16.classify_window(case.window(i)).unwrap(),
        );
        let d = max_abs_diff(&p32.logits, &p16.logits);
        assert!(d <= 1e-2, "{name}: f16 vs f32 logits, sample {i}: {d:e}");
        assert_eq!(
            p32.class, p16.class,
            "{name}: f16 changes the class of sample {i} ({:?} vs {:?})",
            p32.logits, p16.logits
        );
        dmax = dmax.max(d);
    }
    eprintln!(
        "{name}: weights {} bytes (f32 file), {} bytes (f16 file); max |f16 − f32| logits = {dmax:e}",
        e32.weight_bytes(),
        e16.weight_bytes()
    );
}

#[test]
fn fixture_mg() {
    if let Some(case) = from_fixture("mg") {
        check_parity(&case);
        check_f16(&case);
    }
}

#[test]
fn fixture_hg() {
    if let Some(case) = from_fixture("hg") {
        check_parity(&case);
        check_f16(&case);
    }
}

/// Both ansätze, chunk sizes that leave a short last chunk (21 = 5·4 + 1, 30 = 3·8 + 6) or
/// none (24 = 4·6), a chunk of 1, a chunk longer than the window, one and three classes.
#[test]
fn synthetic_gated_models_match_the_trainer() {
    for id in ["mg", "hg"] {
        for ansatz in [AnsatzKind::Unified5, AnsatzKind::Legacy4] {
            for &(c, t, q, h, chunk, k) in &[
                (5, 21, 3, 6, 4, 3),
                (8, 30, 4, 16, 8, 2),
                (3, 24, 2, 5, 6, 1),
                (4, 7, 3, 4, 1, 2),
                (4, 9, 2, 8, 16, 2),
            ] {
                let case = synthetic(id, ansatz, c, t, q, h, chunk, k);
                check_parity(&case);
                check_f16(&case);
            }
        }
    }
}

/// EEG-size gated models (F 64, n 6, H 64, chunk 8; a short window of T = 41: five chunks of
/// 8 and one of 1, as the 249-sample windows end).
#[test]
fn eeg_size_gated_models_match_the_trainer() {
    for id in ["mg", "hg"] {
        let case = synthetic(id, AnsatzKind::Unified5, 64, 41, 6, 64, 8, 2);
        check_parity(&case);
        check_f16(&case);
    }
}

/// Loading `bytes` must fail; returns the error (one-line message).
fn load_err(bytes: &[u8]) -> EngineError {
    let e = Engine::from_bytes(bytes).expect_err("loading must fail");
    let msg = e.to_string();
    assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
    e
}

/// A change to a model card.
type CardEdit = fn(&mut ModelCard);

#[test]
fn bad_gated_cards_are_rejected() {
    for id in ["mg", "hg"] {
        let case = synthetic(id, AnsatzKind::Unified5, 5, 21, 3, 6, 4, 3);
        let edits: [(&str, CardEdit); 5] = [
            ("no circuit layout", |c| c.circuit = None),
            ("unknown ansatz", |c| {
                c.circuit.as_mut().unwrap().ansatz = "hardware-efficient".into()
            }),
            ("layout qubits", |c| {
                c.circuit.as_mut().unwrap().n_qubits = 4
            }),
            ("chunk size 0", |c| {
                c.circuit.as_mut().unwrap().chunk_size = 0
            }),
            ("too many qubits", |c| {
                c.hyperparameters.n_qubits = 20;
                c.circuit.as_mut().unwrap().n_qubits = 20;
            }),
        ];
        for (what, edit) in edits {
            let mut edited = card(case.model.as_ref());
            edit(&mut edited);
            let e = load_err(&blob_with(&case, &edited, TensorDtype::F32, |_| true));
            assert!(
                matches!(e, EngineError::Mismatch { .. }),
                "{id} {what}: {e:?}"
            );
        }
        // a legacy4 card over unified-ansatz tensors: K = 4·n·layers ≠ 5·n·layers
        let mut legacy = card(case.model.as_ref());
        legacy.circuit.as_mut().unwrap().ansatz = "legacy4".into();
        let e = load_err(&blob_with(&case, &legacy, TensorDtype::F32, |_| true));
        assert!(
            matches!(e, EngineError::File(ModelFileError::ShapeMismatch { .. })),
            "{id} legacy4 card: {e:?}"
        );
        // the class name must match the id
        let mut other = card(case.model.as_ref());
        other.class_name = "QuantumMambaSSM".into();
        assert!(matches!(
            load_err(&blob_with(&case, &other, TensorDtype::F32, |_| true)),
            EngineError::Mismatch { .. }
        ));
    }
}

#[test]
fn missing_gated_tensors_are_named() {
    for (id, gone) in [
        ("mg", "gated_recurrence.chunk_agg.1.weight"),
        (
            "mg",
            "gated_recurrence.quantum_superposition.branch2.base_params",
        ),
        ("mg", "gated_recurrence.candidate.0.bias"),
        ("hg", "gamma"),
        ("hg", "branch_backward.output_gate.0.weight"),
        ("hg", "global_proj.bias"),
    ] {
        let case = synthetic(id, AnsatzKind::Unified5, 5, 21, 3, 6, 4, 3);
        let tensors: Vec<TensorOut<'_>> = case
            .model
            .layout()
            .specs()
            .iter()
            .filter(|s| s.name != gone)
            .map(|s| TensorOut {
                name: &s.name,
                shape: &s.shape,
                data: &case.params[s.range.clone()],
            })
            .collect();
        let bytes = to_bytes(&card(case.model.as_ref()), &tensors, TensorDtype::F32).unwrap();
        match load_err(&bytes) {
            EngineError::File(ModelFileError::MissingTensor(name)) => assert_eq!(name, gone),
            e => panic!("{id} without {gone}: {e:?}"),
        }
    }
}

#[test]
fn hg_does_not_stream() {
    let case = synthetic("hg", AnsatzKind::Unified5, 5, 21, 3, 6, 4, 3);
    let eng = Engine::from_bytes(&blob(&case, TensorDtype::F32)).unwrap();
    assert!(!eng.card().causal, "the trainer's hg is not causal");
    assert!(!eng.can_stream());
    assert!(matches!(
        eng.stream(StreamOptions { hop: 4 }),
        Err(EngineError::NotCausal { .. })
    ));
    // a card that claims causality: the engine has no recurrent mode for hg
    let mut card = card(case.model.as_ref());
    card.causal = true;
    let eng = Engine::from_bytes(&blob_with(&case, &card, TensorDtype::F32, |_| true)).unwrap();
    match eng.stream(StreamOptions { hop: 4 }) {
        Err(e @ EngineError::NotCausal { .. }) => {
            assert!(e.to_string().contains("no recurrent"), "{e}")
        }
        other => panic!("causal hg card: {other:?}"),
    }
    // but it classifies windows
    assert!(eng.classify_window(case.window(0)).is_ok());
}
