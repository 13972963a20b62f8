//! Model-file export: the trained weights under their reference `state_dict` names plus the
//! model card (see [`qssm_formats::model_file`]), written atomically.
use crate::models::Model;
use qssm_formats::model_file::{
    self, CircuitLayout, Hyperparameters, InputSpec, ModelCard, ModelFileError, SplitInfo,
    TensorDtype, TensorOut,
};
use std::path::Path;

/// Everything about a trained model that is not its weights.
pub struct ExportInfo {
    /// sampling frequency of the input, Hz
    pub sfreq: f64,
    /// channel names in input order
    pub channels: Vec<String>,
    /// physical unit of the input values (`mV` for EEG)
    pub unit: String,
    /// preprocessing description
    pub preprocessing: serde_json::Value,
    /// subject split
    pub split: Option<SplitInfo>,
    /// training recipe
    pub training: serde_json::Value,
    /// metrics
    pub metrics: serde_json::Value,
}

/// The circuit layout of a quantum model, as recorded in its card.
fn circuit_layout(model: &dyn Model) -> CircuitLayout {
    use crate::models::AnsatzKind;
    let c = model.config();
    let q = c.n_qubits - 1;
    let unified = "unified: RX,RY,RZ per wire; forward CRX ring i->i+1; backward CRX ring";
    let (ansatz, encoding, chunk_size) = match model.id() {
        // QSSM flavour (models/QuantumSSM.py): RY data encoding, raw angles, chunks of 32
        "1b" | "1c" => (
            unified,
            "RY(tanh(input_proj(s)) * pi) on every wire",
            crate::models::zoo::CHUNK_SIZE_1B,
        ),
        // QGR flavour (models/QuantumGatedRecurrence.py): no encoding, angles 2*pi*sigmoid
        "1a" => (
            unified,
            "none; angles 2*pi*sigmoid(proj(s) + base_params)",
            16,
        ),
        // group 4 (models/QuantumE2E*.py): composed circuits per chunk of 16 (spec
        // groups-2-4 §3.6-3.11)
        "4a" | "4b" | "4c" | "4d" | "4e" => (
            "unified layers, plus backward layers (angle triple j on wire Q-1-j, backward ring \
             first) in 4c/4d/4e; 4b-4e scale the single-qubit angles of the mixing layers by \
             dt = sigmoid(dt_proj(s))",
            "RY(pi*tanh(encoding_proj(s))) on every wire; raw Linear angles; 4b-4e end with \
             RY(dt*pi*tanh(input_injection_proj(s)))",
            crate::models::zoo::CHUNK_SIZE_4X,
        ),
        // group 2 (models/QuantumMixingSSM.py, models/QuantumHydraSSM.py; spec groups-2-4
        // §3.1-3.5): circuits in the sequence mixing
        "2a" => (
            unified,
            "none; per chunk of 16 angles sigmoid(param_proj(s)); LCU over chunks with \
             mix_coeffs, renormalised, then one unified layer (qff_params)",
            crate::models::zoo::CHUNK_SIZE_2A,
        ),
        "2b" | "2c" => (
            "delta-modulated unified layers (single-qubit angles x ds = sigmoid(mean(softplus(dt_proj))))",
            "RY(h) with h = pi*tanh(<Z> of the previous chunk step), then the layers with trainable \
             circuit_params, then RY(ds*pi*tanh(quantum_input_proj(z)))",
            crate::models::zoo::CHUNK_SIZE_2BC,
        ),
        "2d" | "2e" => (
            "3 branches: delta-modulated unified, backward (angle triple j on wire Q-1-j) x dt, \
             unified; S3 superposition with complex alpha, beta, gamma",
            "RY(pi*tanh(encoding_proj(s))) on every wire; raw Linear angles",
            crate::models::zoo::CHUNK_SIZE_2D,
        ),
        _ => (
            match c.ansatz {
                AnsatzKind::Unified5 => unified,
                AnsatzKind::Legacy4 => "legacy4: RY; forward CRX ring; RY; backward CRX ring",
            },
            "none; angles 2*pi*sigmoid(proj(x_t) + base_params), one evaluation per time step",
            c.chunk_size,
        ),
    };
    CircuitLayout {
        ansatz: ansatz.into(),
        n_qubits: c.n_qubits,
        n_layers: c.n_layers,
        encoding: encoding.into(),
        measurement: match model.id() {
            "4a" | "4b" | "4c" => format!("X0..X{q},Y0..Y{q},Z0..Z{q} of one circuit"),
            "4d" => format!("X0..X{q},Y0..Y{q},Z0..Z{q} of the S3 superposition of 3 branches"),
            "4e" => format!("X0..X{q},Y0..Y{q},Z0..Z{q} per core (fwd, bwd), S3 of 3 branches"),
            "2a" => format!("X0..X{q},Y0..Y{q},Z0..Z{q} of the QFF circuit on the LCU state"),
            "2b" | "2c" => format!("X0..X{q},Y0..Y{q},Z0..Z{q} per recurrence step"),
            "2d" => format!("X0..X{q},Y0..Y{q},Z0..Z{q} of the S3 superposition of 3 branches"),
            "2e" => format!("X0..X{q},Y0..Y{q},Z0..Z{q} per core (fwd, bwd), S3 of 3 branches"),
            _ => format!("X0..X{q},Y0..Y{q},Z0..Z{q} per branch, 3 branches"),
        },
        wire_order: "wire 0 = most significant bit (PennyLane)".into(),
        chunk_size,
    }
}

/// The model card of `model` with `info`.
pub fn model_card(model: &dyn Model, info: &ExportInfo) -> ModelCard {
    let c = model.config();
    let group = qssm_formats::registry::by_id(model.id()).and_then(|e| e.zoo_group());
    // every zoo model with a circuit (all but group 3); the paper models record none
    let circuit = group.is_some_and(|g| g != 3).then(|| circuit_layout(model));
    ModelCard {
        qssm_version: env!("CARGO_PKG_VERSION").into(),
        model_id: model.id().into(),
        class_name: model.class_name().into(),
        causal: model.is_causal(),
        hyperparameters: Hyperparameters {
            n_channels: c.n_channels,
            n_times: c.n_times,
            d_model: c.d_model,
            d_state: c.d_state,
            n_qubits: c.n_qubits,
            n_layers: c.n_layers,
            n_classes: c.n_classes,
            dropout: c.dropout,
        },
        circuit,
        architecture: model.architecture(),
        input: InputSpec {
            sfreq: info.sfreq,
            n_times: c.n_times,
            channels: info.channels.clone(),
            unit: info.unit.clone(),
            layout: "channel_major".into(),
        },
        preprocessing: info.preprocessing.clone(),
        split: info.split.clone(),
        training: info.training.clone(),
        metrics: info.metrics.clone(),
        dtype: "f32".into(),
    }
}

/// The model file of `params` of `model` with its card, as bytes (f32 or f16 weights).
///
/// # Errors
/// [`ModelFileError`] if the tensors cannot be serialised.
pub fn to_bytes(
    model: &dyn Model,
    params: &[f32],
    info: &ExportInfo,
    dtype: TensorDtype,
) -> Result<Vec<u8>, ModelFileError> {
    model_file::to_bytes(&model_card(model, info), &tensors(model, params), dtype)
}

/// The named tensors of `params` (the flat parameter vector, in `model`'s layout order) as
/// [`TensorOut`]s: `state_dict` names, shapes, row-major f32 values.
pub fn tensors<'a>(model: &'a dyn Model, params: &'a [f32]) -> Vec<TensorOut<'a>> {
    model
        .layout()
        .specs()
        .iter()
        .map(|s| TensorOut {
            name: &s.name,
            shape: &s.shape,
            data: &params[s.range.clone()],
        })
        .collect()
}

/// Writes `params` of `model` with its card to `path` (atomic), as f32 or f16.
pub fn export(
    path: &Path,
    model: &dyn Model,
    params: &[f32],
    info: &ExportInfo,
    dtype: TensorDtype,
) -> Result<(), ModelFileError> {
    let card = model_card(model, info);
    model_file::write_model_file(path, &card, &tensors(model, params), dtype)
}

/// Loads the weights of a model file into a fresh buffer in `model`'s layout, checking every
/// tensor is present with the right shape (typed errors otherwise).
pub fn load_params(
    file: &model_file::ModelFile<'_>,
    model: &dyn Model,
) -> Result<Vec<f32>, ModelFileError> {
    let mut p = vec![0.0f32; model.layout().len()];
    for s in model.layout().specs() {
        let t = file.expect(&s.name, &s.shape)?;
        p[s.range.clone()].copy_from_slice(&t.to_f32());
    }
    Ok(p)
}
