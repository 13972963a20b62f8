//! Shared pieces of the fuzz targets: a small streamable model (3b at C = 4, T = 40, D = 16,
//! N = 4) as model-file bytes, and the corpus seeds written by the `seeds` binary.
use qssm_formats::model_file::TensorDtype;
use qssm_trainer::export::ExportInfo;
use qssm_trainer::models::{registry, ModelConfig};

/// Channels, samples and classes of the seed models.
pub const C: usize = 4;
/// Samples per window of the seed models.
pub const T: usize = 40;

/// Model-file bytes of model `id` at a small configuration (deterministic weights), or `None`
/// if the registry cannot build it there.
pub fn model_bytes(id: &str) -> Option<Vec<u8>> {
    let cfg = ModelConfig {
        n_channels: C,
        n_times: T,
        d_model: 16,
        d_state: 4,
        n_qubits: 2,
        n_layers: 2,
        n_classes: 3,
        dropout: 0.1,
        causal: id == "3b",
        ..ModelConfig::eeg(T)
    };
    let model = registry::build(id, cfg).ok()?;
    let params: Vec<f32> = (0..model.layout().len())
        .map(|i| ((i * 2_654_435_761) % 1000) as f32 / 5000.0 - 0.1)
        .collect();
    let info = ExportInfo {
        sfreq: 40.0,
        channels: (0..C).map(|c| format!("Ch{c}")).collect(),
        unit: "mV".into(),
        preprocessing: serde_json::Value::Null,
        split: None,
        training: serde_json::Value::Null,
        metrics: serde_json::Value::Null,
    };
    qssm_trainer::export::to_bytes(model.as_ref(), &params, &info, TensorDtype::F32).ok()
}

/// The streamable model every snapshot target restores into.
pub fn stream_model() -> qssm_engine::Model {
    qssm_engine::Model::from_bytes(&model_bytes("3b").expect("3b builds"))
        .expect("the seed model loads")
}

/// Floats of `data` (little-endian, whole words only).
pub fn floats(data: &[u8]) -> Vec<f32> {
    data.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
