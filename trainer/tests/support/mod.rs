//! Shared by the tests that need a model file (`live_session.rs`, `lsl_roundtrip.rs`,
//! `malformed_inputs.rs`): a random-init model at the EEG configuration the bundled recordings
//! are replayed at.
use qssm_formats::model_file::TensorDtype;
use qssm_trainer::data::EEGMMIDB_CHANNELS;
use qssm_trainer::export::{export, ExportInfo};
use qssm_trainer::models::{registry, ModelConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Writes model `id` (causal variant if `causal`) with the trainer's random init (`seed`) at
/// 40 Hz (T = 125), the 64 EEGMMIDB channels, millivolts, f32, to `path`.
pub fn write_eeg_model(path: &Path, id: &str, causal: bool, seed: u64) {
    let cfg = ModelConfig {
        causal,
        ..ModelConfig::eeg(125)
    };
    let m = registry::build(id, cfg).unwrap();
    let params = m.layout().init(&mut ChaCha8Rng::seed_from_u64(seed));
    let info = ExportInfo {
        sfreq: 40.0,
        channels: EEGMMIDB_CHANNELS.iter().map(|s| s.to_string()).collect(),
        unit: "mV".into(),
        preprocessing: serde_json::json!({ "resample_hz": 40 }),
        split: None,
        training: serde_json::json!({}),
        metrics: serde_json::json!({}),
    };
    export(path, m.as_ref(), &params, &info, TensorDtype::F32).unwrap();
}
