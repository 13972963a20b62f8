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
use qssm_formats::model_file::{ModelCard, TensorDtype};
use qssm_tests::engine_case::{
    blob, blob_with, card, check_f16, check_missing_tensor_named, check_window_parity,
    from_fixture, perturbed_init, Case,
};
use qssm_trainer::models::{AnsatzKind, ModelConfig};

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
    let seed = (c * 1_000_003 + t * 1009 + hidden * 101 + chunk * 11 + k) as u64;
    let name = format!("{id} {ansatz:?} C{c} T{t} n{n_qubits} H{hidden} chunk{chunk} K{k}");
    perturbed_init(id, cfg, seed, 2, name)
}

#[test]
fn fixture_mg() {
    if let Some(case) = from_fixture("mg") {
        check_window_parity(&case);
        check_f16(&case);
    }
}

#[test]
fn fixture_hg() {
    if let Some(case) = from_fixture("hg") {
        check_window_parity(&case);
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
                check_window_parity(&case);
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
        check_window_parity(&case);
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
        check_missing_tensor_named(&case, gone);
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
    // a card that claims causality is refused at load, as for every window-only model
    let mut card = card(case.model.as_ref());
    card.causal = true;
    match Engine::from_bytes(&blob_with(&case, &card, TensorDtype::F32, |_| true)) {
        Err(e @ EngineError::Mismatch { .. }) => {
            assert!(e.to_string().contains("causal = true"), "{e}")
        }
        other => panic!("causal hg card: {:?}", other.map(|_| ())),
    }
    // but it classifies windows
    assert!(eng.classify_window(case.window(0)).is_ok());
}
