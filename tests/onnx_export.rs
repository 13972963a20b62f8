//! The ONNX exporter ([`qssm_trainer::onnx`]) without onnxruntime (that check is
//! `.ci/onnx/check.sh`): for every model of the registry, a model file of its reference
//! fixture (or its random init where the fixture is absent) is exported.
//!
//! * every model: a checked graph (`Model::check`: every value defined before use, once),
//!   input `input` (batch, C, T) and output `logits` (batch, K) with a symbolic batch, opset 17,
//!   the model card in `metadata_props`, every weight matrix an initializer under its
//!   `state_dict` name, the same bytes on a second export; the f16 variant stores every f32
//!   initializer as f16 behind a `Cast`;
//! * a model file missing a tensor: the model-file error naming it.
use qssm_formats::model_file::{ModelFile, TensorDtype};
use qssm_formats::onnx::{Dim, TensorData};
use qssm_tests::engine_case::{blob, blob_with, card, from_fixture, random_init, Case};
use qssm_trainer::models::registry::zoo;
use qssm_trainer::models::ModelConfig;
use qssm_trainer::onnx::{to_f16_initializers, window_graph, OnnxExportError, OPSET};

fn case(id: &str) -> Case {
    from_fixture(id).unwrap_or_else(|| random_init(id, ModelConfig::eeg(64), 5, 2))
}

#[test]
fn every_model_exports_a_checked_graph() {
    for m in zoo() {
        let c = case(m.id);
        let bytes = blob(&c, TensorDtype::F32);
        let file = ModelFile::parse(&bytes).unwrap();
        let cfg = c.model.config();
        let g = window_graph(&file).unwrap_or_else(|e| panic!("{}: {e}", m.id));
        g.check().unwrap();
        assert_eq!(g.opset, OPSET);
        let inp = &g.graph.inputs[0];
        assert_eq!(inp.name, "input");
        assert_eq!(
            inp.dims,
            [
                Dim::Param("batch".into()),
                Dim::Fixed(cfg.n_channels as i64),
                Dim::Fixed(cfg.n_times as i64)
            ]
        );
        let out = &g.graph.outputs[0];
        assert_eq!(out.name, "logits");
        assert_eq!(out.dims[1], Dim::Fixed(cfg.n_classes as i64));
        let meta: Vec<&str> = g.metadata.iter().map(|(k, _)| k.as_str()).collect();
        assert!(meta.contains(&"qssm.model_card"), "{meta:?}");
        // every used weight matrix is an initializer under its name (transposed weights carry a
        // suffix; scalar and complex coefficients are folded into constants)
        let names: Vec<&str> = g
            .graph
            .initializers
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        for s in c
            .model
            .layout()
            .specs()
            .iter()
            .filter(|s| s.used && !s.complex && s.shape.len() >= 2)
        {
            assert!(
                names.iter().any(|n| n.starts_with(&s.name)),
                "{}: no initializer for {}",
                m.id,
                s.name
            );
        }
        let again = window_graph(&file).unwrap();
        assert_eq!(
            g.encode().unwrap(),
            again.encode().unwrap(),
            "{}: deterministic",
            m.id
        );
        let mut h = g.clone();
        to_f16_initializers(&mut h);
        h.check().unwrap();
        let count = |g: &qssm_formats::onnx::Model, f16: bool| -> usize {
            g.graph
                .initializers
                .iter()
                .map(|t| match (&t.data, f16) {
                    (TensorData::F32(v), false) => v.len(),
                    (TensorData::F16(v), true) => v.len(),
                    _ => 0,
                })
                .sum()
        };
        assert!(count(&g, false) > 0);
        assert_eq!(
            count(&h, true),
            count(&g, false),
            "{}: every f32 value as f16",
            m.id
        );
        assert_eq!(count(&h, false), 0, "{}: no f32 initializer left", m.id);
    }
}

#[test]
fn a_model_file_missing_a_tensor_is_refused_naming_it() {
    let c = case("3b");
    let bytes = blob_with(&c, &card(c.model.as_ref()), TensorDtype::F32, |n| {
        n != "layers.1.out_proj.weight"
    });
    let file = ModelFile::parse(&bytes).unwrap();
    let e = window_graph(&file).unwrap_err();
    assert!(matches!(e, OnnxExportError::ModelFile(_)), "{e}");
    assert!(e.to_string().contains("layers.1.out_proj.weight"), "{e}");
}
