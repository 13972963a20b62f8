//! Which [`ModelConfig`]s a model of the zoo can be built with: checked before a constructor
//! runs, so that a zero or absurd dimension is a [`ConfigError`] naming the field instead of a
//! panic deep inside a block (found by building every model with each field at 0 or 1).
use super::registry::ModelInfo;
use super::ModelConfig;
use qssm_formats::model_file::{MAX_DIM, MAX_QUBITS};

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
/// dropout in [0, 1).
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::registry::{self, zoo};
    use super::*;

    fn small() -> ModelConfig {
        ModelConfig {
            n_channels: 4,
            d_model: 16,
            d_state: 4,
            n_qubits: 3,
            ..ModelConfig::eeg(20)
        }
    }

    /// Every field that made a constructor or forward pass panic is refused, for every model;
    /// whatever is accepted builds and runs a forward pass without panicking.
    #[test]
    fn zero_dimensions_are_refused_before_building() {
        use rand::SeedableRng;
        type Edit = fn(&mut ModelConfig);
        let edits: [(&str, Edit); 11] = [
            ("n_channels", |c| c.n_channels = 0),
            ("n_times", |c| c.n_times = 0),
            ("n_classes", |c| c.n_classes = 0),
            ("n_layers", |c| c.n_layers = 0),
            ("d_model", |c| c.d_model = 0),
            ("d_state", |c| c.d_state = 0),
            ("n_qubits", |c| c.n_qubits = 1),
            ("n_qubits", |c| c.n_qubits = 0),
            ("hidden_dim", |c| c.hidden_dim = 0),
            ("chunk_size", |c| c.chunk_size = 0),
            ("dropout", |c| c.dropout = 1.0),
        ];
        for m in zoo() {
            assert_eq!(check_config(m, &small()), Ok(()), "{}", m.id);
            for (field, edit) in edits {
                let mut c = small();
                edit(&mut c);
                let must_refuse = match field {
                    "d_model" | "d_state" => m.zoo_group() != Some(0),
                    "n_qubits" => m.zoo_group() != Some(3),
                    "hidden_dim" => m.zoo_group() == Some(0),
                    "chunk_size" => false,
                    _ => true,
                };
                let ran = std::panic::catch_unwind(|| match registry::build(m.id, c.clone()) {
                    Err(e) => Err(e.to_string()),
                    Ok(model) => {
                        let p = model
                            .layout()
                            .init(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
                        let x = vec![0.1f32; 2 * c.n_channels * c.n_times];
                        model.forward_eval_batch(&p, &x, 2);
                        Ok(())
                    }
                });
                match ran {
                    Err(_) => panic!("{}: {field} = 0/1 panicked instead of an error", m.id),
                    Ok(Err(e)) => assert!(e.contains(field), "{}: {e}", m.id),
                    Ok(Ok(())) => assert!(!must_refuse, "{}: {field} accepted", m.id),
                }
            }
        }
        let e = registry::build(
            "1b",
            ModelConfig {
                d_state: 0,
                ..small()
            },
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "model 1b: d_state = 0: outside 1..=16777216");
        assert!(registry::build(
            "mg",
            ModelConfig {
                d_model: 0,
                d_state: 0,
                ..small()
            }
        )
        .is_ok());
    }
}
