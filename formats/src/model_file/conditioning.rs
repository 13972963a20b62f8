//! The causal signal conditioning a model was trained with, read from the card's
//! `preprocessing` object, so that the engine can apply exactly what the trainer applied:
//!
//! ```json
//! "filter": {"kind": "sos", "sos": [[b0, b1, b2, 1.0, a1, a2], …], "design": "…", …}
//! ```
//!
//! a cascade of second-order IIR sections (scipy's `sos` rows, a0 = 1) run causally over the
//! continuous signal at the card's `input.sfreq`, in the card's unit, from a zero state at the
//! start of the recording; then
//!
//! ```json
//! "normalisation": {"kind": "per_channel_zscore", "mean": [m_0, …], "std": [s_0, …], …}
//! ```
//!
//! `x' = (x − m_c) / s_c` per channel (C values each, card channel order, the card's unit;
//! statistics of the training windows after filtering). `"none"` (or no key, or a non-object
//! `preprocessing`) means no filter / no normalisation. Any other value is refused: a model
//! whose preprocessing cannot be reproduced must not run on raw samples as if it had none.
use super::{ModelCard, ModelFileError};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use serde_json::Value;

/// Per-channel (mean, std), C values each.
pub type ChannelZscore = (Vec<f32>, Vec<f32>);

/// The conditioning of a card.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditioning {
    /// IIR sections `[b0, b1, b2, a0, a1, a2]` in order (empty: no filter)
    pub sos: Vec<[f64; 6]>,
    /// per-channel (mean, std) applied after the filter, if any
    pub normalisation: Option<ChannelZscore>,
}

impl Conditioning {
    /// Whether nothing is applied.
    pub fn is_none(&self) -> bool {
        self.sos.is_empty() && self.normalisation.is_none()
    }
}

/// Reads the conditioning of `card`.
///
/// # Errors
/// [`ModelFileError::BadCard`] naming what cannot be applied: a filter of another kind, rows
/// that are not 6 finite numbers.
pub fn conditioning(card: &ModelCard) -> Result<Conditioning, ModelFileError> {
    Ok(Conditioning {
        sos: filter(card)?,
        normalisation: normalisation(card)?,
    })
}

/// `preprocessing.normalisation`: `None`, or (mean, std) of C finite values each, std > 0.
fn normalisation(card: &ModelCard) -> Result<Option<ChannelZscore>, ModelFileError> {
    let bad = |what: &str| ModelFileError::BadCard(format!("preprocessing.normalisation: {what}"));
    let c = card.input.channels.len();
    match card.preprocessing.get("normalisation") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "none" => Ok(None),
        Some(Value::Object(o)) => {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind != "per_channel_zscore" {
                return Err(bad(&format!(
                    "kind {kind:?} is not supported (this build applies \"per_channel_zscore\")"
                )));
            }
            let vec = |key: &str| -> Result<Vec<f32>, ModelFileError> {
                let v: Option<Vec<f32>> = o.get(key).and_then(Value::as_array).and_then(|a| {
                    a.iter()
                        .map(|x| x.as_f64().map(|f| f as f32))
                        .collect::<Option<Vec<f32>>>()
                });
                match v {
                    Some(v) if v.len() == c && v.iter().all(|x| x.is_finite()) => Ok(v),
                    _ => Err(bad(&format!(
                        "{key} is not {c} finite numbers (one per channel)"
                    ))),
                }
            };
            let (mean, std) = (vec("mean")?, vec("std")?);
            if let Some(i) = std.iter().position(|&s| s <= 0.0) {
                return Err(bad(&format!("std of channel {i} is not positive")));
            }
            Ok(Some((mean, std)))
        }
        Some(other) => Err(bad(&format!(
            "{} is not supported (expected \"none\" or a per_channel_zscore object)",
            other
                .to_string()
                .chars()
                .take(40)
                .collect::<alloc::string::String>()
        ))),
    }
}

/// `preprocessing.filter`: the sections (empty: no filter).
fn filter(card: &ModelCard) -> Result<Vec<[f64; 6]>, ModelFileError> {
    let bad = |what: &str| ModelFileError::BadCard(format!("preprocessing.filter: {what}"));
    let Some(filter) = card.preprocessing.get("filter") else {
        return Ok(Vec::new());
    };
    match filter {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s == "none" => Ok(Vec::new()),
        Value::Object(o) => {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind != "sos" {
                return Err(bad(&format!(
                    "kind {:?} is not supported (this build applies \"sos\" cascades only)",
                    kind
                )));
            }
            let rows = o
                .get("sos")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("no \"sos\" array"))?;
            let mut sos = Vec::with_capacity(rows.len());
            for (i, r) in rows.iter().enumerate() {
                let vals: Option<Vec<f64>> = r
                    .as_array()
                    .map(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
                    .unwrap_or(None);
                match vals {
                    Some(v) if v.len() == 6 && v.iter().all(|x| x.is_finite()) => {
                        sos.push([v[0], v[1], v[2], v[3], v[4], v[5]])
                    }
                    _ => return Err(bad(&format!("section {i} is not 6 finite numbers"))),
                }
            }
            Ok(sos)
        }
        other => Err(bad(&format!(
            "{} is not supported (expected \"none\" or an sos object)",
            other
                .to_string()
                .chars()
                .take(40)
                .collect::<alloc::string::String>()
        ))),
    }
}
