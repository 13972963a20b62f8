//! The configuration of a gated model (`mg`, `hg`; spec gated-and-protocols §1.0–1.2) read from
//! its card and file, as the trainer's export records it: F = `hyperparameters.n_channels`,
//! n = `n_qubits`, circuit layers = `n_layers`, O = `n_classes`; the card's `circuit` layout
//! gives the ansatz (`unified…` = the current 5-angle ansatz, `legacy4…` = the 4-angle one
//! behind the published gated numbers) and the chunk size C; the hidden size H, which the card
//! does not record, is read from the stored shape of a LayerNorm weight (H).
use super::circuit_card::MAX_QUBITS;
use crate::error::EngineError;
use crate::model::MAX_DIM;
use crate::weights::Loader;
use alloc::format;
use alloc::string::String;
use qssm_formats::model_file::ModelCard;

/// Everything a gated model's shapes depend on.
#[derive(Clone, Debug)]
pub(crate) struct GatedConfig {
    /// H: hidden size of the recurrence
    pub(crate) h: usize,
    /// C: chunk size of the recurrence
    pub(crate) chunk: usize,
    /// whether the QSB branches' circuit is the legacy 4-angle ansatz (else the unified
    /// 5-angle one)
    pub(crate) legacy4: bool,
}

fn mismatch(what: String) -> EngineError {
    EngineError::Mismatch { what }
}

impl GatedConfig {
    /// Reads the configuration of model `id` from `card`, H from the shape of tensor
    /// `h_tensor` (a LayerNorm weight, (H)). Errors: [`EngineError::Mismatch`] (no circuit
    /// layout, layout ≠ hyperparameters, unknown ansatz, n outside 2..=12, chunk size 0,
    /// H out of range), `File(MissingTensor)` / `File(ShapeMismatch)` for `h_tensor`.
    pub(crate) fn from_card(
        id: &str,
        card: &ModelCard,
        ld: &Loader<'_, '_>,
        h_tensor: &str,
    ) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (q, layers) = (hp.n_qubits, hp.n_layers);
        let cl = card.circuit.as_ref().ok_or_else(|| {
            mismatch(format!(
                "{id} needs the card's circuit layout (ansatz, chunk size)"
            ))
        })?;
        if cl.n_qubits != q || cl.n_layers != layers {
            return Err(mismatch(format!(
                "circuit layout has {} qubits × {} layers, hyperparameters say {q} × {layers}",
                cl.n_qubits, cl.n_layers
            )));
        }
        if !(2..=MAX_QUBITS).contains(&q) {
            return Err(mismatch(format!(
                "{id} needs 2 ≤ n_qubits ≤ {MAX_QUBITS}, card has {q}"
            )));
        }
        if 5 * q * layers > u16::MAX as usize + 1 {
            return Err(mismatch(format!(
                "{id} circuit with {q} qubits × {layers} layers has too many angles"
            )));
        }
        let legacy4 = if cl.ansatz.starts_with("unified") {
            false
        } else if cl.ansatz.starts_with("legacy4") {
            true
        } else {
            return Err(mismatch(format!(
                "{id} circuit ansatz '{}' is neither 'unified…' nor 'legacy4…'",
                cl.ansatz
            )));
        };
        if !(1..=MAX_DIM).contains(&cl.chunk_size) {
            return Err(mismatch(format!(
                "{id} chunk size {} is outside 1..={MAX_DIM}",
                cl.chunk_size
            )));
        }
        let h = match ld.shape(h_tensor)? {
            &[h] if (1..=MAX_DIM).contains(&h) => h,
            other => {
                return Err(mismatch(format!(
                    "{h_tensor} has shape {other:?}, expected (H) with 1 ≤ H ≤ {MAX_DIM}"
                )))
            }
        };
        Ok(Self {
            h,
            chunk: cl.chunk_size,
            legacy4,
        })
    }
}
