//! The inference engine's window path for **3c** `TrueClassicalHydra`, **3a**
//! `ClassicalTransformer` and **1a** `QuantumTransformer` (reference
//! `models/{TrueClassicalHydra,ClassicalTransformer,QuantumTransformer}.py`, spec §4.6, §4.4,
//! §4.1) against the trainer (`forward_eval`, the oracle) and the reference fixtures
//! `3c`, `3a`, `1a`: a model file is built from the parameters (fixture `param.*`, or a random
//! init from the trainer registry) with the trainer's model card, serialised with
//! `qssm_formats::model_file::to_bytes`, loaded by the engine, and its logits compared
//! (≤ 1e-5 abs); the f16 file must give the same class with logits within 1e-2.
//! Also: none of them can stream (typed [`EngineError::NotCausal`]), a card claiming
//! `causal = true` is inconsistent, missing tensors are named.
use qssm_engine::{EngineError, Model as Engine};
use qssm_formats::model_file::TensorDtype;
use qssm_tests::engine_case::{
    blob_with, card, check_missing_tensor_named, check_window_and_f16, check_window_only,
    from_fixture, random_init, Case,
};
use qssm_trainer::models::ModelConfig;

/// A small model (no fixture needed): C = 4, T = 40 (1a: three chunks of 16, the last one
/// padded), D = 16, N = 4, Q = 2, 3 layers, 3 classes.
fn small(id: &str) -> Case {
    random_init(
        id,
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

const IDS: [&str; 3] = ["3c", "3a", "1a"];

#[test]
fn fixture_3c() {
    if let Some(case) = from_fixture("3c") {
        check_window_and_f16(&case);
    }
}

#[test]
fn fixture_3a() {
    if let Some(case) = from_fixture("3a") {
        check_window_and_f16(&case);
    }
}

#[test]
fn fixture_1a() {
    if let Some(case) = from_fixture("1a") {
        check_window_and_f16(&case);
    }
}

#[test]
fn small_random_models_match_the_trainer() {
    for id in IDS {
        check_window_and_f16(&small(id));
    }
}

/// The EEG configuration (C = 64, D = 128, N = 16, Q = 6, 2 layers) at 160 Hz (T = 497; 1a:
/// 32 chunks, the last one padded) and 40 Hz (T = 125), trainer random init.
#[test]
fn eeg_config_random_3c_matches_the_trainer() {
    for (t, seed) in [(497, 2024), (125, 7)] {
        check_window_and_f16(&random_init("3c", ModelConfig::eeg(t), seed, 2));
    }
}

#[test]
fn eeg_config_random_3a_matches_the_trainer() {
    for (t, seed) in [(497, 2025), (125, 8)] {
        check_window_and_f16(&random_init("3a", ModelConfig::eeg(t), seed, 2));
    }
}

#[test]
fn eeg_config_random_1a_matches_the_trainer() {
    for (t, seed) in [(497, 2026), (125, 9)] {
        check_window_and_f16(&random_init("1a", ModelConfig::eeg(t), seed, 2));
    }
}

#[test]
fn streaming_is_a_typed_error() {
    for id in IDS {
        check_window_only(&small(id));
    }
}

#[test]
fn missing_tensors_are_named() {
    let gone = [
        (
            "3c",
            &[
                "embedding.bias",
                "layers.2.ssm.A_log",
                "layers.1.norm.weight",
                "norms.0.weight",
                "classifier.3.weight",
            ][..],
        ),
        (
            "3a",
            &[
                "pos_encoding",
                "layers.0.attention.k_proj.bias",
                "layers.2.norm2.weight",
                "final_norm.weight",
            ][..],
        ),
        (
            "1a",
            &[
                "pos_encoding",
                "quantum_processor.quantum_branches.branch2.base_params",
                "quantum_processor.output_proj.1.bias",
                "transformer_layers.1.in_proj.weight",
                "classifier.bias",
            ][..],
        ),
    ];
    for (id, names) in gone {
        let case = small(id);
        for &gone in names {
            check_missing_tensor_named(&case, gone);
        }
    }
}

#[test]
fn transformer_heads_must_divide_d_model() {
    // D = 18 does not split into 4 heads: a typed error, not a panic
    for id in ["3a", "1a"] {
        let case = small(id);
        let mut c = card(case.model.as_ref());
        c.hyperparameters.d_model = 18;
        let e = Engine::from_bytes(&blob_with(&case, &c, TensorDtype::F32, |_| true))
            .expect_err("D = 18 is rejected");
        assert!(matches!(e, EngineError::Mismatch { .. }), "{id}: {e:?}");
    }
}
