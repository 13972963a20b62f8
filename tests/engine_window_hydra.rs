//! The inference engine's window path for **1c** `QuantumHydraSSM` (reference
//! `models/QuantumSSM.py`, spec §4.3) against the trainer (`forward_eval`, the oracle) and the
//! reference fixtures `1c`, `1c_bigdt`: a model file is built from the parameters (fixture
//! `param.*`, or a random init from the trainer registry) with the trainer's model card,
//! serialised with `qssm_formats::model_file::to_bytes`, loaded by the engine, and its logits
//! compared (≤ 1e-5 abs); the f16 file must give the same class with logits within 1e-2.
//! Also: 1c cannot stream (typed [`EngineError::NotCausal`]), a 1c card claiming
//! `causal = true` is inconsistent, missing tensors are named, the unused norms are optional.
use qssm_engine::{EngineError, Model as Engine};
use qssm_formats::model_file::TensorDtype;
use qssm_tests::engine_case::{
    blob, blob_with, card, check_missing_tensor_named, check_window_and_f16, check_window_only,
    from_fixture, random_init, Case,
};
use qssm_trainer::models::ModelConfig;

/// A small 1c (no fixture needed): C = 4, T = 40 (two chunks, the last one padded; the
/// backward processor's pad rows at the start), D = 16, N = 4, Q = 2, 3 blocks, 3 classes.
fn small() -> Case {
    random_init(
        "1c",
        ModelConfig {
            n_channels: 4,
            n_times: 40,
            d_model: 16,
            d_state: 4,
            n_qubits: 2,
            n_layers: 3,
            n_classes: 3,
            ..ModelConfig::eeg(40)
        },
        11,
        3,
    )
}

#[test]
fn fixture_1c() {
    if let Some(case) = from_fixture("1c") {
        check_window_and_f16(&case);
    }
}

#[test]
fn fixture_1c_bigdt() {
    if let Some(case) = from_fixture("1c_bigdt") {
        check_window_and_f16(&case);
    }
}

#[test]
fn small_random_1c_matches_the_trainer() {
    check_window_and_f16(&small());
}

/// The EEG configuration (C = 64, D = 128, N = 16, Q = 6, 2 blocks) at 160 Hz (T = 497,
/// 16 chunks, the last one padded) and 40 Hz (T = 125, 4 chunks), trainer random init.
#[test]
fn eeg_config_random_1c_matches_the_trainer() {
    for (t, seed) in [(497, 2024), (125, 7)] {
        let case = random_init("1c", ModelConfig::eeg(t), seed, 2);
        check_window_and_f16(&case);
    }
}

#[test]
fn streaming_1c_is_a_typed_error() {
    check_window_only(&small());
}

#[test]
fn missing_1c_tensor_is_named() {
    let case = small();
    for gone in [
        "gamma",
        "quantum_backward.output_proj.1.bias",
        "hydra_layers.2.bidirectional_ssm.backward_ssm.A_log",
        "hydra_layers.0.bidirectional_ssm.alpha",
        "output_layer.weight",
    ] {
        check_missing_tensor_named(&case, gone);
    }
}

#[test]
fn unused_1c_norms_are_optional() {
    // the reference constructs hydra_layers.i.norm and .bidirectional_ssm.norm but never uses
    // them: a file without them loads and gives the same logits
    let case = small();
    let full = Engine::from_bytes(&blob(&case, TensorDtype::F32)).unwrap();
    let lean = Engine::from_bytes(&blob_with(
        &case,
        &card(case.model.as_ref()),
        TensorDtype::F32,
        |n| !n.ends_with(".norm.weight") && !n.ends_with(".norm.bias"),
    ))
    .unwrap();
    assert_eq!(lean.weight_bytes(), full.weight_bytes());
    assert_eq!(
        full.classify_window(case.window(0)).unwrap(),
        lean.classify_window(case.window(0)).unwrap()
    );
}

#[test]
fn bad_1c_input_is_rejected() {
    let case = small();
    let engine = Engine::from_bytes(&blob(&case, TensorDtype::F32)).unwrap();
    let n = engine.input_len();
    match engine.classify_window(&vec![0.0; n - 1]) {
        Err(EngineError::WrongInputLength { expected, found }) => {
            assert_eq!((expected, found), (n, n - 1))
        }
        other => panic!("short window: {other:?}"),
    }
    let mut x = case.window(0).to_vec();
    x[2 * engine.n_times() + 7] = f32::NAN;
    assert!(matches!(
        engine.classify_window(&x),
        Err(EngineError::NonFiniteInput {
            channel: 2,
            sample: 7
        })
    ));
}
