//! [`ModelCard::validate`]: the one check of a model card's fields (each within its range) and
//! of the relations between them, used by every reader (the engine's loader, hence the C ABI,
//! and the trainer's commands), so a card is accepted or refused alike everywhere and nothing
//! downstream sizes a buffer or plans a resampling from an absurd value.
use super::ModelCard;
use crate::units::{card_unit_volts, MAX_SFREQ_HZ, MIN_SFREQ_HZ};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Largest dimension (channels, samples, widths, classes, layers) a card may declare.
pub const MAX_DIM: usize = 1 << 24;
/// Most qubits a card may declare (2^Q amplitudes per state vector).
pub const MAX_QUBITS: usize = 24;
/// The memory layout of a window every reader takes.
pub const CHANNEL_MAJOR: &str = "channel_major";

/// A card field out of range, or two fields that contradict each other.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("model card {field} = {value}: {why}")]
pub struct CardError {
    /// the field, as a JSON path (`input.sfreq`, `hyperparameters.n_times`, …)
    pub field: &'static str,
    /// its value
    pub value: String,
    /// the rule it breaks (with the other field's value for a contradiction)
    pub why: String,
}

fn err(field: &'static str, value: impl ToString, why: impl Into<String>) -> CardError {
    CardError {
        field,
        value: value.to_string(),
        why: why.into(),
    }
}

impl ModelCard {
    /// Checks every field of the card against its range and the fields against each other:
    /// dimensions in 1..=[`MAX_DIM`] (C·T without overflow), Q ≤ [`MAX_QUBITS`], dropout in
    /// [0, 1), `input.sfreq` in [[`MIN_SFREQ_HZ`], [`MAX_SFREQ_HZ`]] Hz, `input.n_times` =
    /// `hyperparameters.n_times`, one non-empty, distinct (case-insensitively) name per
    /// channel, `input.unit` a voltage unit as cards write it ([`card_unit_volts`]; or `none`
    /// for non-EEG tasks), layout
    /// `channel_major`, a circuit layout that agrees with Q and the layer count, dtype `f32`
    /// or `f16`.
    ///
    /// # Errors
    /// The first [`CardError`] found, naming the field and its value.
    pub fn validate(&self) -> Result<(), CardError> {
        let hp = &self.hyperparameters;
        let dims = [
            ("hyperparameters.n_channels", hp.n_channels),
            ("hyperparameters.n_times", hp.n_times),
            ("hyperparameters.d_model", hp.d_model),
            ("hyperparameters.d_state", hp.d_state),
            ("hyperparameters.n_layers", hp.n_layers),
            ("hyperparameters.n_classes", hp.n_classes),
        ];
        for (field, v) in dims {
            if !(1..=MAX_DIM).contains(&v) {
                return Err(err(field, v, format!("outside 1..={MAX_DIM}")));
            }
        }
        if hp.n_channels.checked_mul(hp.n_times).is_none() {
            return Err(err(
                "hyperparameters.n_times",
                hp.n_times,
                format!("a window of {} channels × it overflows", hp.n_channels),
            ));
        }
        if hp.n_qubits > MAX_QUBITS {
            return Err(err(
                "hyperparameters.n_qubits",
                hp.n_qubits,
                format!("more than {MAX_QUBITS} qubits"),
            ));
        }
        if !(hp.dropout.is_finite() && (0.0..1.0).contains(&hp.dropout)) {
            return Err(err("hyperparameters.dropout", hp.dropout, "outside [0, 1)"));
        }
        let inp = &self.input;
        if !(inp.sfreq.is_finite() && (MIN_SFREQ_HZ..=MAX_SFREQ_HZ).contains(&inp.sfreq)) {
            return Err(err(
                "input.sfreq",
                inp.sfreq,
                format!("outside [{MIN_SFREQ_HZ}, {MAX_SFREQ_HZ}] Hz"),
            ));
        }
        if inp.n_times != hp.n_times {
            return Err(err(
                "input.n_times",
                inp.n_times,
                format!("differs from hyperparameters.n_times = {}", hp.n_times),
            ));
        }
        if inp.channels.len() != hp.n_channels {
            return Err(err(
                "input.channels",
                format!("[{} names]", inp.channels.len()),
                format!("hyperparameters.n_channels = {}", hp.n_channels),
            ));
        }
        let mut seen: Vec<String> = Vec::with_capacity(inp.channels.len());
        for name in &inp.channels {
            let key = name.trim().to_lowercase();
            if key.is_empty() {
                return Err(err("input.channels", format!("{name:?}"), "an empty name"));
            }
            if seen.contains(&key) {
                return Err(err(
                    "input.channels",
                    format!("{name:?}"),
                    "named twice (names match case-insensitively)",
                ));
            }
            seen.push(key);
        }
        if inp.unit != "none" && card_unit_volts(&inp.unit).is_none() {
            return Err(err(
                "input.unit",
                format!("{:?}", inp.unit),
                "not a voltage unit as cards write them (uV, µV, mV, V, or the words) nor `none`",
            ));
        }
        if inp.layout != CHANNEL_MAJOR {
            return Err(err(
                "input.layout",
                format!("{:?}", inp.layout),
                format!("readers take `{CHANNEL_MAJOR}` windows"),
            ));
        }
        if let Some(c) = &self.circuit {
            if c.n_qubits != hp.n_qubits {
                return Err(err(
                    "circuit.n_qubits",
                    c.n_qubits,
                    format!("differs from hyperparameters.n_qubits = {}", hp.n_qubits),
                ));
            }
            if c.n_layers != hp.n_layers {
                return Err(err(
                    "circuit.n_layers",
                    c.n_layers,
                    format!("differs from hyperparameters.n_layers = {}", hp.n_layers),
                ));
            }
            if c.chunk_size == 0 || c.chunk_size > MAX_DIM {
                return Err(err(
                    "circuit.chunk_size",
                    c.chunk_size,
                    format!("outside 1..={MAX_DIM}"),
                ));
            }
        }
        if self.dtype != "f32" && self.dtype != "f16" {
            return Err(err("dtype", format!("{:?}", self.dtype), "not f32 or f16"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CircuitLayout, Hyperparameters, InputSpec};
    use super::*;
    use alloc::vec;

    fn card() -> ModelCard {
        ModelCard {
            qssm_version: "0.1.0".into(),
            model_id: "1b".into(),
            class_name: "QuantumMambaSSM".into(),
            causal: false,
            hyperparameters: Hyperparameters {
                n_channels: 3,
                n_times: 125,
                d_model: 128,
                d_state: 16,
                n_qubits: 6,
                n_layers: 2,
                n_classes: 2,
                dropout: 0.1,
            },
            circuit: Some(CircuitLayout {
                ansatz: "unified".into(),
                n_qubits: 6,
                n_layers: 2,
                encoding: "ry".into(),
                measurement: "X,Y,Z".into(),
                wire_order: "wire 0 = most significant bit".into(),
                chunk_size: 16,
            }),
            architecture: None,
            input: InputSpec {
                sfreq: 40.0,
                n_times: 125,
                channels: vec!["Fc5.".into(), "Fc3.".into(), "Cz..".into()],
                unit: "mV".into(),
                layout: CHANNEL_MAJOR.into(),
            },
            preprocessing: serde_json::Value::Null,
            split: None,
            training: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
            dtype: "f32".into(),
        }
    }

    /// Every rule: a card broken in exactly that field is refused, and the error names it.
    #[test]
    fn each_broken_field_is_named() {
        assert_eq!(card().validate(), Ok(()));
        type Break = fn(&mut ModelCard);
        let cases: Vec<(&str, Break)> = vec![
            ("hyperparameters.n_channels", |c| {
                c.hyperparameters.n_channels = 0
            }),
            ("hyperparameters.n_times", |c| {
                c.hyperparameters.n_times = MAX_DIM + 1
            }),
            ("hyperparameters.d_model", |c| c.hyperparameters.d_model = 0),
            ("hyperparameters.n_classes", |c| {
                c.hyperparameters.n_classes = 0
            }),
            ("hyperparameters.n_qubits", |c| {
                c.hyperparameters.n_qubits = 40
            }),
            ("hyperparameters.dropout", |c| {
                c.hyperparameters.dropout = 1.0
            }),
            ("hyperparameters.dropout", |c| {
                c.hyperparameters.dropout = f32::NAN
            }),
            ("input.sfreq", |c| c.input.sfreq = 0.0),
            ("input.sfreq", |c| c.input.sfreq = 1e12),
            ("input.sfreq", |c| c.input.sfreq = f64::NAN),
            ("input.n_times", |c| c.input.n_times = 124),
            ("input.channels", |c| {
                c.input.channels.pop();
            }),
            ("input.channels", |c| c.input.channels[2] = "FC3.".into()),
            ("input.channels", |c| c.input.channels[0] = "  ".into()),
            ("input.unit", |c| c.input.unit = "furlongs".into()),
            ("input.unit", |c| c.input.unit = "mv".into()),
            ("input.unit", |c| c.input.unit = "nV".into()),
            ("input.layout", |c| c.input.layout = "time_major".into()),
            ("circuit.n_qubits", |c| {
                c.circuit.as_mut().unwrap().n_qubits = 4;
            }),
            ("circuit.n_layers", |c| {
                c.circuit.as_mut().unwrap().n_layers = 1;
            }),
            ("circuit.chunk_size", |c| {
                c.circuit.as_mut().unwrap().chunk_size = 0;
            }),
            ("dtype", |c| c.dtype = "bf16".into()),
        ];
        for (field, breaks) in cases {
            let mut c = card();
            breaks(&mut c);
            let e = c.validate().expect_err(field);
            assert_eq!(e.field, field, "{e}");
            assert!(e.to_string().starts_with("model card"), "{e}");
        }
        // legal variants
        for unit in ["uV", "µV", "V", "millivolts", "none"] {
            let mut c = card();
            c.input.unit = unit.into();
            assert_eq!(c.validate(), Ok(()), "{unit}");
        }
        let mut c = card();
        c.circuit = None;
        c.hyperparameters.n_qubits = 0;
        assert_eq!(c.validate(), Ok(()));
    }
}
