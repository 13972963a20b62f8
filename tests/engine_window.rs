//! The inference engine (`qssm-engine`) against the trainer and the reference fixtures:
//! a model file is built from each fixture's `param.*` tensors and a model card, serialised with
//! `qssm_formats::model_file::to_bytes`, loaded by the engine, and its full-window logits are
//! compared with the trainer's `forward_eval` and the fixture's `output.logits_eval`
//! (≤ 1e-5 abs). Also: an f16 round trip, and every kind of bad file / bad input giving its
//! specific typed error (no panic). The bad-input tests use small synthetic models so they run
//! without `../shared`.
use qssm_engine::{EngineError, Model as Engine, ModelFileError};
use qssm_formats::model_file::{to_bytes, ModelCard, TensorDtype, TensorOut};
use qssm_tests::engine_case::{
    blob, blob_with, card as test_card, check_missing_tensor_named, check_window_and_f16,
    check_window_parity, from_fixture, noise, Case,
};
use qssm_trainer::models::{registry, ModelConfig};

/// A small synthetic model (no fixture needed): C = 4, T = 40 (1b: two chunks, the last one
/// padded), D = 16, N = 4, Q = 2, 3 blocks (1b: state chained over three blocks), 3 classes.
fn synthetic(id: &str) -> Case {
    synthetic_with(id, false)
}

fn synthetic_with(id: &str, causal: bool) -> Case {
    let cfg = ModelConfig {
        causal,
        n_channels: 4,
        n_times: 40,
        d_model: 16,
        d_state: 4,
        n_qubits: 2,
        n_layers: 3,
        n_classes: 3,
        dropout: 0.1,
        ..ModelConfig::eeg(40)
    };
    let model = registry::build(id, cfg).expect("model in registry");
    let mut params = noise(11, model.layout().len());
    params.iter_mut().for_each(|v| *v *= 0.3);
    let b = 2;
    let x = noise(12, b * 4 * 40).iter().map(|v| v * 0.05).collect();
    Case {
        name: format!("{id} synthetic (causal {causal})"),
        model,
        params,
        x,
        b,
        want: None,
    }
}

fn fixture_parity(name: &str) {
    let Some(case) = from_fixture(name) else {
        return;
    };
    check_window_and_f16(&case);
}

#[test]
fn fixture_1b() {
    fixture_parity("1b");
}
#[test]
fn fixture_1b_bigdt() {
    fixture_parity("1b_bigdt");
}
#[test]
fn fixture_3b() {
    fixture_parity("3b");
}
#[test]
fn fixture_3b_bigdt() {
    fixture_parity("3b_bigdt");
}

/// The causal 1b variant (no state chaining, pad rows masked): the card says causal and the
/// engine computes the same function as the trainer's causal model.
#[test]
fn causal_1b_matches_the_trainer() {
    let case = synthetic_with("1b", true);
    assert!(case.model.is_causal());
    let d = check_window_parity(&case);
    // and it is a different function from the reference 1b with the same weights
    let reference = registry::build(
        "1b",
        ModelConfig {
            causal: false,
            ..case.model.config().clone()
        },
    )
    .unwrap();
    let differ = (0..case.b).any(|i| {
        reference.forward_eval(&case.params, case.window(i))
            != case.model.forward_eval(&case.params, case.window(i))
    });
    assert!(
        differ,
        "causal and reference 1b agree exactly: the variant changed nothing"
    );
    assert!(d <= 1e-5);
}

#[test]
fn synthetic_models_match_the_trainer() {
    for id in ["1b", "3b"] {
        let case = synthetic(id);
        check_window_and_f16(&case);
    }
}

/// Loading `bytes` must fail; returns the error (and checks its message is one line).
fn load_err(bytes: &[u8]) -> EngineError {
    let e = Engine::from_bytes(bytes).expect_err("loading must fail");
    let msg = e.to_string();
    assert!(
        !msg.is_empty() && !msg.contains('\n'),
        "one-line message: {msg:?}"
    );
    e
}

#[test]
fn truncated_file_is_rejected() {
    for id in ["1b", "3b"] {
        let bytes = blob(&synthetic(id), TensorDtype::F32);
        for cut in [bytes.len() / 2, bytes.len() - 1, 7, 0] {
            let e = load_err(&bytes[..cut]);
            assert!(
                matches!(e, EngineError::File(ModelFileError::NotSafetensors(_))),
                "{id} cut at {cut}: {e:?}"
            );
        }
    }
}

#[test]
fn garbage_is_rejected() {
    let random: Vec<u8> = noise(99, 4096)
        .iter()
        .map(|v| (v.to_bits() >> 7) as u8)
        .collect();
    let mut huge_header = vec![0xffu8; 8];
    huge_header.extend_from_slice(b"{}");
    for (what, bytes) in [
        ("random", random),
        ("text", b"this is not a model file at all".to_vec()),
        ("huge header length", huge_header),
        ("zeros", vec![0u8; 64]),
    ] {
        let e = load_err(&bytes);
        assert!(
            matches!(e, EngineError::File(ModelFileError::NotSafetensors(_))),
            "{what}: {e:?}"
        );
    }
    // a valid safetensors file without the qssm metadata
    let e = load_err(
        &safetensors::serialize(
            Vec::<(String, safetensors::tensor::TensorView<'_>)>::new(),
            None,
        )
        .unwrap(),
    );
    assert!(
        matches!(e, EngineError::File(ModelFileError::MissingMetadata(_))),
        "{e:?}"
    );
}

#[test]
fn missing_tensor_is_named() {
    for (id, gone) in [
        ("1b", "mamba_layers.2.ssm.out_proj.weight"),
        ("1b", "quantum_processor.quantum_branches.gamma_imag"),
        ("3b", "layers.1.ssm.A_log"),
        ("3b", "classifier.bias"),
    ] {
        let case = synthetic(id);
        check_missing_tensor_named(&case, gone);
    }
}

#[test]
fn wrong_shape_is_named() {
    for (id, bad) in [
        ("1b", "quantum_processor.output_proj.0.weight"),
        ("3b", "layers.0.conv1d.weight"),
    ] {
        let case = synthetic(id);
        let spec = case.model.layout().get(bad).expect("tensor exists").clone();
        // same element count, other shape: (a, b, …) → (numel)
        let flat = [spec.shape.iter().product::<usize>()];
        let tensors: Vec<TensorOut<'_>> = case
            .model
            .layout()
            .specs()
            .iter()
            .map(|s| TensorOut {
                name: &s.name,
                shape: if s.name == bad { &flat } else { &s.shape },
                data: &case.params[s.range.clone()],
            })
            .collect();
        let e = load_err(
            &to_bytes(&test_card(case.model.as_ref()), &tensors, TensorDtype::F32).unwrap(),
        );
        match e {
            EngineError::File(ModelFileError::ShapeMismatch {
                name,
                found,
                expected,
            }) => {
                assert_eq!(
                    (name.as_str(), found.as_slice(), expected),
                    (bad, &flat[..], spec.shape)
                );
            }
            e => panic!("{id} with {bad} reshaped: {e:?}"),
        }
    }
    // hyperparameters that disagree with the tensors: the card says d_state 5, tensors have 4
    let case = synthetic("3b");
    let mut card = test_card(case.model.as_ref());
    card.hyperparameters.d_state = 5;
    let e = load_err(&blob_with(&case, &card, TensorDtype::F32, |_| true));
    assert!(
        matches!(e, EngineError::File(ModelFileError::ShapeMismatch { .. })),
        "{e:?}"
    );
}

#[test]
fn unknown_model_id_is_rejected() {
    let case = synthetic("3b");
    // every registry model the engine does not run (Quantum-Train's generator file)
    let unsupported = qssm_formats::registry::MODELS
        .iter()
        .map(|m| m.id)
        .filter(|id| !qssm_engine::supported_models().any(|s| s.id == *id))
        .collect::<Vec<_>>();
    assert_eq!(unsupported, ["quantum-train", "qt-liu"]);
    let ids = ["9z", "", "TrueClassicalMamba"];
    for id in ids.into_iter().chain(unsupported) {
        let mut card = test_card(case.model.as_ref());
        card.model_id = id.into();
        match load_err(&blob_with(&case, &card, TensorDtype::F32, |_| true)) {
            EngineError::UnsupportedModel { id: got } => assert_eq!(got, id),
            e => panic!("model id {id:?}: {e:?}"),
        }
    }
}

/// A change to a model card.
type CardEdit = fn(&mut ModelCard);

#[test]
fn inconsistent_card_is_rejected() {
    let case = synthetic("1b");
    let edits: [(&str, CardEdit); 7] = [
        ("input.n_times", |c| c.input.n_times += 1),
        ("channel list", |c| {
            c.input.channels.pop();
        }),
        ("layout", |c| c.input.layout = "sample_major".into()),
        ("class name", |c| c.class_name = "TrueClassicalMamba".into()),
        ("circuit qubits", |c| {
            c.circuit.as_mut().unwrap().n_qubits = 3
        }),
        ("chunk size", |c| {
            c.circuit.as_mut().unwrap().chunk_size = 16
        }),
        ("zero classes", |c| c.hyperparameters.n_classes = 0),
    ];
    for (what, edit) in edits {
        let mut card = test_card(case.model.as_ref());
        edit(&mut card);
        let e = load_err(&blob_with(&case, &card, TensorDtype::F32, |_| true));
        assert!(matches!(e, EngineError::Mismatch { .. }), "{what}: {e:?}");
    }
    // 1b needs 2 ≤ Q ≤ 12 (guards the simulator against absurd cards)
    let mut card = test_card(case.model.as_ref());
    card.hyperparameters.n_qubits = 40;
    card.circuit = None;
    let e = load_err(&blob_with(&case, &card, TensorDtype::F32, |_| true));
    assert!(
        matches!(e, EngineError::Mismatch { .. }),
        "40 qubits: {e:?}"
    );
}

#[test]
fn extra_and_non_finite_tensors_are_rejected() {
    let case = synthetic("3b");
    let card = test_card(case.model.as_ref());
    let mut tensors: Vec<TensorOut<'_>> = case
        .model
        .layout()
        .specs()
        .iter()
        .map(|s| TensorOut {
            name: &s.name,
            shape: &s.shape,
            data: &case.params[s.range.clone()],
        })
        .collect();
    let extra = [1.0f32, 2.0];
    tensors.push(TensorOut {
        name: "layers.0.mystery",
        shape: &[2],
        data: &extra,
    });
    match load_err(&to_bytes(&card, &tensors, TensorDtype::F32).unwrap()) {
        EngineError::UnexpectedTensor { name, model } => {
            assert_eq!((name.as_str(), model.as_str()), ("layers.0.mystery", "3b"))
        }
        e => panic!("extra tensor: {e:?}"),
    }
    tensors.pop();
    let mut bad = case.params[case
        .model
        .layout()
        .get("final_norm.weight")
        .unwrap()
        .range
        .clone()]
    .to_vec();
    bad[3] = f32::NAN;
    for t in tensors.iter_mut().filter(|t| t.name == "final_norm.weight") {
        t.data = &bad;
    }
    match load_err(&to_bytes(&card, &tensors, TensorDtype::F32).unwrap()) {
        EngineError::NonFiniteWeight { name, index } => {
            assert_eq!((name.as_str(), index), ("final_norm.weight", 3))
        }
        e => panic!("NaN weight: {e:?}"),
    }
}

#[test]
fn unused_1b_norms_are_optional() {
    // the reference constructs mamba_layers.i.norm but never uses it: a file without it loads
    // and gives the same logits
    let case = synthetic("1b");
    let full = Engine::from_bytes(&blob(&case, TensorDtype::F32)).unwrap();
    let lean = Engine::from_bytes(&blob_with(
        &case,
        &test_card(case.model.as_ref()),
        TensorDtype::F32,
        |n| !n.contains(".norm."),
    ))
    .unwrap();
    assert_eq!(
        full.classify_window(case.window(0)).unwrap(),
        lean.classify_window(case.window(0)).unwrap()
    );
}

#[test]
fn wrong_input_length_is_rejected() {
    for id in ["1b", "3b"] {
        let case = synthetic(id);
        let engine = Engine::from_bytes(&blob(&case, TensorDtype::F32)).unwrap();
        let n = engine.input_len();
        assert_eq!(n, 4 * 40);
        for len in [0, 1, n - 1, n + 1, 2 * n] {
            let x = vec![0.01f32; len];
            match engine.classify_window(&x) {
                Err(EngineError::WrongInputLength { expected, found }) => {
                    assert_eq!((expected, found), (n, len))
                }
                other => panic!("{id}, length {len}: {other:?}"),
            }
        }
    }
}

#[test]
fn non_finite_input_is_located() {
    for id in ["1b", "3b"] {
        let case = synthetic(id);
        let engine = Engine::from_bytes(&blob(&case, TensorDtype::F32)).unwrap();
        let t = engine.n_times();
        for (channel, sample, v) in [
            (2, 5, f32::NAN),
            (0, 0, f32::INFINITY),
            (3, t - 1, f32::NEG_INFINITY),
        ] {
            let mut x = case.window(0).to_vec();
            x[channel * t + sample] = v;
            match engine.classify_window(&x) {
                Err(e @ EngineError::NonFiniteInput { .. }) => {
                    assert!(
                        matches!(e, EngineError::NonFiniteInput { channel: c, sample: s } if (c, s) == (channel, sample)),
                        "{e:?}"
                    );
                    assert!(!e.to_string().contains('\n'));
                }
                other => panic!("{id}, {v} at ({channel}, {sample}): {other:?}"),
            }
        }
    }
}

#[test]
fn card_accessors() {
    let case = synthetic("1b");
    let engine = Engine::from_bytes(&blob(&case, TensorDtype::F32)).unwrap();
    assert_eq!(
        (engine.n_channels(), engine.n_times(), engine.n_classes()),
        (4, 40, 3)
    );
    assert_eq!(engine.channels(), ["Ch1", "Ch2", "Ch3", "Ch4"]);
    assert_eq!(engine.input_unit(), "mV");
    assert_eq!(engine.card().class_name, "QuantumMambaSSM");
    assert!(qssm_engine::supported_models().any(|m| m.id == "3b"));
}

#[test]
fn loads_from_a_path() {
    let case = synthetic("3b");
    let path = std::env::temp_dir().join(format!(
        "qssm-engine-test-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, blob(&case, TensorDtype::F16)).unwrap();
    let loaded = Engine::from_path(&path);
    std::fs::remove_file(&path).unwrap();
    let engine = loaded.expect("loads from a path");
    assert_eq!(engine.card().dtype, "f16");
    assert!(engine.classify_window(case.window(1)).is_ok());
    let e = Engine::from_path(path.with_extension("absent")).expect_err("no such file");
    assert!(
        matches!(e, EngineError::File(ModelFileError::Io { .. })),
        "{e:?}"
    );
}
