//! The causal signal conditioning a model was trained with, read from the card's
//! `preprocessing` object, so that the engine can apply exactly what the trainer applied:
//!
//! ```json
//! "filter": {"kind": "sos", "sos": [[b0, b1, b2, 1.0, a1, a2], …], "design": "…", …}
//! ```
//!
//! a cascade of second-order IIR sections (scipy's `sos` rows, a0 = 1) run causally over the
//! continuous signal at the card's `input.sfreq`, in the card's unit, from a zero state at the
//! start of the recording. `"filter": "none"` (or no key, or a non-object `preprocessing`)
//! means no filter. Any other value is refused: a model whose preprocessing cannot be
//! reproduced must not run on raw samples as if it had none.
use super::{ModelCard, ModelFileError};
use alloc::format;
use alloc::string::ToString;
use alloc::vec::Vec;
use serde_json::Value;

/// The conditioning of a card.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditioning {
    /// IIR sections `[b0, b1, b2, a0, a1, a2]` in order (empty: no filter)
    pub sos: Vec<[f64; 6]>,
}

impl Conditioning {
    /// Whether nothing is applied.
    pub fn is_none(&self) -> bool {
        self.sos.is_empty()
    }
}

/// Reads the conditioning of `card`.
///
/// # Errors
/// [`ModelFileError::BadCard`] naming what cannot be applied: a filter of another kind, rows
/// that are not 6 finite numbers.
pub fn conditioning(card: &ModelCard) -> Result<Conditioning, ModelFileError> {
    let bad = |what: &str| ModelFileError::BadCard(format!("preprocessing.filter: {what}"));
    let Some(filter) = card.preprocessing.get("filter") else {
        return Ok(Conditioning::default());
    };
    match filter {
        Value::Null => Ok(Conditioning::default()),
        Value::String(s) if s == "none" => Ok(Conditioning::default()),
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
            Ok(Conditioning { sos })
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
