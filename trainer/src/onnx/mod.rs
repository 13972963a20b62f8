//! ONNX export of a model file's window graph (`trainer export --format onnx`): the model's
//! shared forward pass — the trainer's own `Net::forward`, the code the CPU and CUDA backends
//! train with — run once on the recording backend ([`recorder::Recorder`]), which leaves an
//! ONNX graph behind: input `input` (batch, C, T) in the card's unit, output `logits`
//! (batch, n_classes), dynamic batch, opset [`OPSET`], weights as initializers named after the
//! `state_dict` tensors, the model card in `metadata_props` (`qssm.model_card`).
//!
//! It expresses every operation of the 18 models' eval forward passes: linear layers, norms,
//! causal depthwise conv1d, activations, the selective scan as a `Loop`, attention, chunk
//! pooling and means, the gated cell, and the circuit simulator in standard operators
//! (`circuit.rs`: float64 real/imaginary state tensors, one axis per wire; rotations and CRX by
//! split/mix/concat; the superpositions; X/Y/Z expectation values as reductions). Training-only
//! operations (backward passes, dropout, the optimiser) have no ONNX form; a forward pass that
//! used one would be refused with [`OnnxExportError::Unsupported`], naming them. Checked against
//! onnxruntime by `.ci/onnx/check.sh`.
mod backend;
mod circuit;
mod layers;
mod quantum;
mod recorder;
mod scan;
mod sequence;

pub use recorder::{RecBuf, Recorder};

use crate::models::nn::Net;
use crate::models::registry::{self, NetVisitor};
use crate::models::ModelConfig;
use crate::params::ParamLayout;
use qssm_formats::model_file::{ModelCard, ModelFile, ModelFileError};
use qssm_formats::onnx::{Dim, Graph, Model, Node, OnnxError, ValueInfo};
use qssm_kernels::backend::Backend;

/// The operator set of the exported graphs (LayerNormalization needs 17).
pub const OPSET: i64 = 17;

/// Name of the graph input.
pub const INPUT: &str = "input";

/// Name of the graph output.
pub const OUTPUT: &str = "logits";

/// Why a model file cannot be exported. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum OnnxExportError {
    /// The model file or its card cannot be read.
    #[error("{0}")]
    ModelFile(#[from] ModelFileError),
    /// The card names a model the registry does not know or cannot build.
    #[error("model '{id}': {reason}")]
    Model {
        /// the card's model id
        id: String,
        /// why
        reason: String,
    },
    /// The forward pass uses operations the exporter cannot express yet.
    #[error("model '{id}' cannot be exported to ONNX yet: its forward pass uses {ops} (no ONNX form in this exporter)")]
    Unsupported {
        /// the card's model id
        id: String,
        /// the operations, comma-separated
        ops: String,
    },
    /// The recorded graph is not a valid ONNX graph (an exporter bug).
    #[error("ONNX: {0}")]
    Onnx(#[from] OnnxError),
}

/// The trainer's configuration for a card's model (the card's hyperparameters; the gated
/// models' chunk size from its circuit layout).
pub fn config_from_card(card: &ModelCard) -> ModelConfig {
    let h = &card.hyperparameters;
    let mut c = ModelConfig::eeg(h.n_times);
    c.n_channels = h.n_channels;
    c.d_model = h.d_model;
    c.d_state = h.d_state;
    c.n_qubits = h.n_qubits;
    c.n_layers = h.n_layers;
    c.n_classes = h.n_classes;
    c.dropout = h.dropout;
    c.causal = card.causal;
    if let Some(circ) = &card.circuit {
        c.chunk_size = circ.chunk_size;
    }
    c
}

/// Runs a net's eval forward pass on a [`Recorder`].
struct Record<'a> {
    params: &'a [f32],
}

/// What a recording gives: nodes, initializers, the output value, missing operations.
struct Recording {
    nodes: Vec<Node>,
    inits: Vec<qssm_formats::onnx::Tensor>,
    output: Option<String>,
    missing: Vec<&'static str>,
    layout_len: usize,
}

impl NetVisitor for Record<'_> {
    type Output = Result<Recording, String>;
    fn visit<M: Net + 'static>(self, net: M) -> Self::Output {
        let layout: &ParamLayout = net.layout();
        if layout.len() != self.params.len() {
            return Err(format!(
                "{} parameters given for a layout of {}",
                self.params.len(),
                layout.len()
            ));
        }
        let rec = Recorder::new(layout, INPUT);
        let mut acts = net.plan(&rec, 1);
        M::io(&mut acts).x.set(INPUT);
        net.forward(
            &rec,
            rec.host_params(self.params).unwrap_or(self.params),
            &mut acts,
            None,
        );
        let output = M::io(&mut acts).out.value().map(str::to_string);
        drop(acts);
        let layout_len = layout.len();
        let st = rec.finish();
        Ok(Recording {
            nodes: st.nodes,
            inits: st.inits,
            output,
            missing: st.missing.into_iter().collect(),
            layout_len,
        })
    }
}

/// The window graph of the model in `file` (see the [module docs](self)).
///
/// Errors: [`OnnxExportError::ModelFile`] (unreadable card or weights, a tensor missing or of
/// the wrong shape), [`OnnxExportError::Model`] (an unknown model), and
/// [`OnnxExportError::Unsupported`] naming every operation without an ONNX form.
pub fn window_graph(file: &ModelFile<'_>) -> Result<Model, OnnxExportError> {
    let card = &file.card;
    let id = card.model_id.clone();
    let cfg = config_from_card(card);
    let model = registry::build(&id, cfg.clone()).map_err(|e| OnnxExportError::Model {
        id: id.clone(),
        reason: e.to_string(),
    })?;
    let params = crate::export::load_params(file, model.as_ref())?;
    let rec = registry::visit_net(&id, cfg.clone(), Record { params: &params })
        .ok_or_else(|| OnnxExportError::Model {
            id: id.clone(),
            reason: "not in the registry".into(),
        })?
        .map_err(|reason| OnnxExportError::Model {
            id: id.clone(),
            reason,
        })?;
    if !rec.missing.is_empty() {
        return Err(OnnxExportError::Unsupported {
            id,
            ops: rec.missing.join(", "),
        });
    }
    debug_assert_eq!(rec.layout_len, params.len());
    let Some(out) = rec.output else {
        return Err(OnnxExportError::Unsupported {
            id,
            ops: "nothing (the forward pass wrote no output)".into(),
        });
    };
    let mut nodes = rec.nodes;
    // the output buffer's value already has its shape (batch, K): `Recorder::put`
    nodes.push(Node::new("Identity", &[&out], &[OUTPUT]));
    let batch = || Dim::Param("batch".into());
    let graph = Graph {
        name: format!("qssm_{id}_window"),
        nodes,
        inputs: vec![ValueInfo::f32(
            INPUT,
            vec![
                batch(),
                Dim::Fixed(cfg.n_channels as i64),
                Dim::Fixed(cfg.n_times as i64),
            ],
        )],
        outputs: vec![ValueInfo::f32(
            OUTPUT,
            vec![batch(), Dim::Fixed(cfg.n_classes as i64)],
        )],
        initializers: rec.inits,
    };
    let card_json = serde_json::to_string(card).unwrap_or_default();
    let model = Model {
        graph,
        opset: OPSET,
        producer: "qssm".into(),
        metadata: vec![
            ("qssm.model_card".into(), card_json),
            ("qssm.model_id".into(), id.clone()),
            ("qssm.input".into(), format!(
                "{INPUT}: (batch, {} channels, {} samples) at {} Hz in {}, channel-major, after the card's preprocessing",
                cfg.n_channels, cfg.n_times, card.input.sfreq, card.input.unit
            )),
            ("qssm.output".into(), format!("{OUTPUT}: (batch, {}) logits", cfg.n_classes)),
        ],
    };
    model.check()?;
    Ok(model)
}

/// Stores every f32 initializer of `model`'s main graph as f16 (IEEE binary16, round to
/// nearest even) and widens it back with a `Cast` node at the start of the graph, so the graph
/// computes in f32 from half the weight bytes (the engine's f16 files do the same).
pub fn to_f16_initializers(model: &mut Model) {
    use qssm_formats::onnx::{Attr, TensorData};
    let g = &mut model.graph;
    let mut casts = Vec::new();
    for t in &mut g.initializers {
        if let TensorData::F32(v) = &t.data {
            let half: Vec<u16> = v
                .iter()
                .map(|&x| half::f16::from_f32(x).to_bits())
                .collect();
            let narrow = format!("{}.f16", t.name);
            let wide = std::mem::replace(&mut t.name, narrow);
            casts.push(Node::new("Cast", &[&t.name], &[&wide]).attr("to", Attr::Int(1)));
            t.data = TensorData::F16(half);
        }
    }
    casts.append(&mut g.nodes);
    g.nodes = casts;
}

#[cfg(test)]
mod tests {
    use super::*;
    use qssm_kernels::backend::LinearP;

    /// An operation without an ONNX form (here a backward) is recorded as missing, by name,
    /// which `window_graph` turns into [`OnnxExportError::Unsupported`].
    #[test]
    fn training_operations_are_recorded_as_missing() {
        let rec = Recorder::new(&ParamLayout::new(), INPUT);
        let (mut dx, dy, x) = (rec.alloc(&[1, 3]), rec.alloc(&[1, 2]), rec.alloc(&[1, 3]));
        let lin = LinearP {
            w: 0..6,
            b: None,
            d_in: 3,
            d_out: 2,
        };
        let mut g = vec![0.0f32; 6];
        rec.linear_bwd(Some(&mut dx), &mut g, &dy, &x, &[0.0; 6], &lin);
        let st = rec.finish();
        assert_eq!(st.missing.into_iter().collect::<Vec<_>>(), ["linear_bwd"]);
    }
}
