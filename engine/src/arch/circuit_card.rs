//! The card checks every circuit model shares (1a, 1b, 1c, 2a–2e, 4a–4e; the gated models
//! check their own layout, which also names the ansatz and the recurrence chunk): the qubit
//! count the simulator supports, a circuit small enough for a compiled
//! [`Program`](qssm_kernels::circuit::Program) (u16 angle indices), and — where the card has a
//! circuit layout — agreement of that layout with the hyperparameters.
use crate::error::EngineError;
use alloc::format;
use qssm_formats::model_file::ModelCard;

/// Largest Q the engine simulates (a state of 2^Q complex128 amplitudes per circuit; 64 KiB
/// at Q = 12).
pub(crate) const MAX_QUBITS: usize = 12;

/// Which ansatz a model's circuit layout must name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AnsatzRule {
    /// `unified…` (RX, RY, RZ + two CRX rings; QuantumSSM.py / QTSTransformer models)
    Unified,
    /// not checked (models whose circuits compose several layer kinds)
    Any,
}

/// Checks Q (2 ≤ Q ≤ [`MAX_QUBITS`]), that `n_blocks` blocks of 5Q·L angles fit u16 indices,
/// and a circuit layout if present: same Q and layers, chunk size `chunk`, ansatz per `ansatz`.
/// Returns (Q, L, 5Q·L).
///
/// Errors: [`EngineError::Mismatch`] naming the model `id` and the offending value.
pub(super) fn check_circuit(
    id: &str,
    card: &ModelCard,
    n_blocks: usize,
    chunk: usize,
    ansatz: AnsatzRule,
) -> Result<(usize, usize, usize), EngineError> {
    let hp = &card.hyperparameters;
    let (q, layers) = (hp.n_qubits, hp.n_layers);
    let mismatch = |what| Err(EngineError::Mismatch { what });
    if !(2..=MAX_QUBITS).contains(&q) {
        return mismatch(format!(
            "{id} needs 2 ≤ n_qubits ≤ {MAX_QUBITS}, card has {q}"
        ));
    }
    let pb = 5 * q * layers;
    if n_blocks * pb > u16::MAX as usize + 1 {
        return mismatch(format!(
            "{id} circuit with {q} qubits × {layers} layers has too many angles"
        ));
    }
    if let Some(cl) = &card.circuit {
        if cl.n_qubits != q || cl.n_layers != layers {
            return mismatch(format!(
                "circuit layout has {} qubits × {} layers, hyperparameters say {q} × {layers}",
                cl.n_qubits, cl.n_layers
            ));
        }
        if cl.chunk_size != chunk {
            return mismatch(format!(
                "{id} chunk size is {chunk}, circuit layout says {}",
                cl.chunk_size
            ));
        }
        if ansatz == AnsatzRule::Unified && !cl.ansatz.starts_with("unified") {
            return mismatch(format!(
                "{id} uses the unified ansatz, circuit layout says '{}'",
                cl.ansatz
            ));
        }
    }
    Ok((q, layers, pb))
}
