//! Which [`ModelConfig`]s a model of the zoo can be built with: checked before a constructor
//! runs, so that a zero or absurd dimension is a [`ConfigError`] naming the field instead of a
//! panic deep inside a block (found by building every model with each field at 0 or 1).
use crate::prelude::*;
use crate::ModelConfig;
use qssm_formats::model_file::{MAX_DIM, MAX_QUBITS};
use qssm_formats::registry::ModelInfo;

/// A configuration the model cannot be built with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("model {model}: {field} = {value}: {why}")]
pub struct ConfigError {
    /// model id
    pub model: &'static str,
    /// the field of [`ModelConfig`]
    pub field: &'static str,
    /// its value
    pub value: String,
    /// what it must be
    pub why: String,
}

/// Checks `cfg` for the zoo model `entry`: C, T, classes and layers in 1..=`MAX_DIM` (C·T without
/// overflow); `d_model` and `d_state` likewise, except for the gated models, which do not
/// use them; 2..=`MAX_QUBITS` qubits for every model with
/// circuits (all but group 3); hidden size and chunk size ≥ 1 for the gated models;
/// dropout in [0, 1); and per model: `d_model` divisible by the attention heads (3a, 1a), at
/// least 8 (1b, 1c: `dt_rank` = d_inner/16) or 2 (3c, 2a–2c), C ≥ 2 (1a).
///
/// # Errors
/// The first field out of range.
pub fn check_config(entry: &ModelInfo, cfg: &ModelConfig) -> Result<(), ConfigError> {
    let err = |field, value: &dyn ToString, why: String| ConfigError {
        model: entry.id,
        field,
        value: value.to_string(),
        why,
    };
    let group = entry.zoo_group();
    let gated = group == Some(0);
    let mut dims = vec![
        ("n_channels", cfg.n_channels),
        ("n_times", cfg.n_times),
        ("n_classes", cfg.n_classes),
        ("n_layers", cfg.n_layers),
    ];
    if !gated {
        dims.push(("d_model", cfg.d_model));
        dims.push(("d_state", cfg.d_state));
    }
    if gated {
        dims.push(("hidden_dim", cfg.hidden_dim));
        dims.push(("chunk_size", cfg.chunk_size));
    }
    for (field, v) in dims {
        if !(1..=MAX_DIM).contains(&v) {
            return Err(err(field, &v, format!("outside 1..={MAX_DIM}")));
        }
    }
    if cfg.n_channels.checked_mul(cfg.n_times).is_none() {
        return Err(err(
            "n_times",
            &cfg.n_times,
            format!("a window of {} channels × it overflows", cfg.n_channels),
        ));
    }
    if group != Some(3) && !(2..=MAX_QUBITS).contains(&cfg.n_qubits) {
        return Err(err(
            "n_qubits",
            &cfg.n_qubits,
            format!("outside 2..={MAX_QUBITS} (the circuits entangle neighbouring wires)"),
        ));
    }
    if !(cfg.dropout.is_finite() && (0.0..1.0).contains(&cfg.dropout)) {
        return Err(err("dropout", &cfg.dropout, "outside [0, 1)".into()));
    }
    // what individual models need beyond the ranges
    let heads = crate::zoo::N_HEADS;
    match entry.id {
        "3a" | "1a" if !cfg.d_model.is_multiple_of(heads) => Err(err(
            "d_model",
            &cfg.d_model,
            format!("not divisible by the {heads} attention heads"),
        )),
        "1b" | "1c" if cfg.d_model < 8 => Err(err(
            "d_model",
            &cfg.d_model,
            "below 8 (dt_rank = d_inner/16 must be at least 1)".into(),
        )),
        "1a" if cfg.n_channels < 2 => Err(err(
            "n_channels",
            &cfg.n_channels,
            "below 2 (the chunk attention's width is C/2)".into(),
        )),
        "3c" | "2a" | "2b" | "2c" if cfg.d_model < 2 => Err(err(
            "d_model",
            &cfg.d_model,
            "below 2 (an inner width of D/2)".into(),
        )),
        _ => Ok(()),
    }
}
