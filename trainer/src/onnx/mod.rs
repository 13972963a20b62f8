//! ONNX export of a model file's window graph (`trainer export --format onnx`): the model's
//! shared forward pass — the trainer's own `Net::forward`, the code the CPU and CUDA backends
//! train with — run once on the recording backend ([`recorder::Recorder`]), which leaves an
//! ONNX graph behind: input `input` (batch, C, T) in the card's unit, output `logits`
//! (batch, n_classes), dynamic batch, opset [`OPSET`], weights as initializers named after the
//! `state_dict` tensors, the model card in `metadata_props` (`qssm.model_card`).
//!
//! For the causal models (3b, the causal 1b, mg, 2d, 2e, 4a–4e), [`step_graph`] records one step of the
//! model's streaming form ([`crate::models::nn::StepNet`], the blocks' own steps) the same way:
//! input [`STEP_INPUT`], the next sample (batch, C), and every recurrent state tensor as
//! `state.<name>`; outputs the logits after the sample and `next_state.<name>`. A runtime
//! streams by feeding each step's `next_state.*` back as the next step's `state.*`, starting
//! from zeros. The states: per Mamba block the conv1d's last k−1 inputs `layers.i.conv1d`
//! (batch, 3, E) and the SSM state `layers.i.ssm` (batch, E, N) (`mamba_layers.i.*` in 1b);
//! the mean pool's running sum `pool.sum` (batch, D) and count `pool.count` (batch, 1); mg's
//! recurrent `cgs.h` (batch, H). The chunked models (1b: L = 32 samples, mg: its chunk size,
//! 2d/2e: 32, 4a–4e: 16 and one sample of look-ahead a) compute once per chunk, in an `If`
//! branch recorded from their chunk step; their graph also keeps the last L + a − 1 samples
//! `chunk` (batch, C, L + a − 1), the samples since the last step's chunk `position` (int64
//! (1)) and the last chunk's `logits` (batch, K).
//!
//! It expresses every operation of the 18 models' eval forward passes: linear layers, norms,
//! causal depthwise conv1d, activations, the selective scan as a `Loop`, attention, chunk
//! pooling and means, the gated cell, and the circuit simulator in standard operators
//! (`circuit.rs`: float64 real/imaginary state tensors, one axis per wire; rotations and CRX by
//! split/mix/concat; the superpositions; X/Y/Z expectation values as reductions). Training-only
//! operations have no ONNX form: the recorder implements only the inference half of the backend
//! interface ([`qssm_kernels::backend::Infer`]), so a backward pass or an optimiser step cannot
//! be recorded at all, and a forward pass that used train-mode dropout (or another forward
//! operation without an ONNX form) is refused with [`OnnxExportError::Unsupported`], naming
//! them. Checked against
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
use crate::models::nn::StepNet;
use crate::models::registry::{self, NetVisitor, StepNetVisitor};
use crate::models::ModelConfig;
use crate::params::ParamLayout;
use qssm_formats::model_file::{ModelCard, ModelFile, ModelFileError};
use qssm_formats::onnx::{Dim, Graph, Model, Node, OnnxError, ValueInfo};

/// The operator set of the exported graphs (LayerNormalization needs 17).
pub const OPSET: i64 = 17;

/// Name of the graph input.
pub const INPUT: &str = "input";

/// Name of the graph output.
pub const OUTPUT: &str = "logits";

/// Name of a step graph's sample (or chunk) input.
pub const STEP_INPUT: &str = "sample";

/// Prefix of a step graph's state inputs (`state.layers.0.ssm`).
pub const STATE_IN: &str = "state.";

/// Prefix of a step graph's next-state outputs (`next_state.layers.0.ssm`).
pub const STATE_OUT: &str = "next_state.";

/// The chunk a chunked model's step graph assembles from its samples (a value inside the graph).
const CHUNK: &str = "chunk";

/// ONNX `TensorProto` type codes (`Cast`'s `to`): float32.
const FLOAT: i64 = 1;
/// int64
const INT64: i64 = 7;
/// float64
const DOUBLE: i64 = 11;

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

/// The trainer's configuration for a card's model ([`ModelConfig::from_card`]).
pub fn config_from_card(card: &ModelCard) -> ModelConfig {
    ModelConfig::from_card(card)
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
        check_layout(layout, self.params)?;
        let rec = Recorder::new(layout, INPUT);
        let mut acts = net.plan(&rec, 1);
        M::io(&mut acts).x.set(INPUT);
        net.forward(&rec, self.params, &mut acts, None);
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

/// Runs a causal net's eval step on a [`Recorder`]: the step input and every state tensor are
/// graph inputs; the outputs and the next state are graph outputs.
struct RecordStep<'a> {
    params: &'a [f32],
}

/// What a step recording gives, beyond a [`Recording`]: the step length and the state tensors
/// (name, shape without the batch, the value holding the next state).
struct StepRecording {
    rec: Recording,
    step_len: usize,
    /// samples the step reads past its chunk
    lookahead: usize,
    state: Vec<(String, Vec<usize>, String)>,
}

impl StepNetVisitor for RecordStep<'_> {
    type Output = Result<StepRecording, String>;
    fn visit<M: StepNet + 'static>(self, net: M) -> Self::Output {
        let layout: &ParamLayout = net.layout();
        check_layout(layout, self.params)?;
        let (c, len, la) = (net.config().n_channels, net.step_len(), net.lookahead());
        // a chunked model's step (or one reading ahead) runs on the chunk the per-sample graph
        // assembles (`chunked`)
        let per_sample = len == 1 && la == 0;
        let rec = Recorder::new(layout, if per_sample { STEP_INPUT } else { CHUNK });
        let mut st = net.plan_state(&rec, 1);
        let mut s = net.plan_step(&rec, 1, len);
        let x = if per_sample {
            rec.reshape(STEP_INPUT, &[-1, c as i64, 1])
        } else {
            CHUNK.to_string()
        };
        M::step_io(&mut s).x.set(&x);
        for (name, buf) in M::state(&mut st) {
            buf.set(&format!("{STATE_IN}{name}"));
        }
        net.step(&rec, self.params, &mut st, &mut s);
        let output = M::step_io(&mut s).out.value().map(str::to_string);
        let mut state = Vec::new();
        for (name, buf) in M::state(&mut st) {
            let value = buf.value().map_or_else(|| rec.val(buf), str::to_string);
            state.push((name, buf.shape[1..].to_vec(), value));
        }
        drop((s, st));
        let layout_len = layout.len();
        let st = rec.finish();
        Ok(StepRecording {
            rec: Recording {
                nodes: st.nodes,
                inits: st.inits,
                output,
                missing: st.missing.into_iter().collect(),
                layout_len,
            },
            step_len: len,
            lookahead: la,
            state,
        })
    }
}

/// Whether `params` fills `layout`.
fn check_layout(layout: &ParamLayout, params: &[f32]) -> Result<(), String> {
    if layout.len() == params.len() {
        Ok(())
    } else {
        Err(format!(
            "{} parameters given for a layout of {}",
            params.len(),
            layout.len()
        ))
    }
}

/// A model file's card, configuration and parameters, ready to record.
fn prepare(file: &ModelFile<'_>) -> Result<(String, ModelConfig, Vec<f32>), OnnxExportError> {
    let card = &file.card;
    let id = card.model_id.clone();
    let cfg = config_from_card(card);
    let model = registry::build(&id, cfg.clone()).map_err(|e| OnnxExportError::Model {
        id: id.clone(),
        reason: e.to_string(),
    })?;
    let params = crate::export::load_params(file, model.as_ref())?;
    Ok((id, cfg, params))
}

/// The recorded nodes, or why they cannot be a graph; the output value.
fn finished(
    id: &str,
    rec: Recording,
) -> Result<(Vec<Node>, Vec<qssm_formats::onnx::Tensor>, String), OnnxExportError> {
    if !rec.missing.is_empty() {
        return Err(OnnxExportError::Unsupported {
            id: id.to_string(),
            ops: rec.missing.join(", "),
        });
    }
    let Some(out) = rec.output else {
        return Err(OnnxExportError::Unsupported {
            id: id.to_string(),
            ops: "nothing (the forward pass wrote no output)".into(),
        });
    };
    Ok((rec.nodes, rec.inits, out))
}

/// The window graph of the model in `file` (see the [module docs](self)).
///
/// Errors: [`OnnxExportError::ModelFile`] (unreadable card or weights, a tensor missing or of
/// the wrong shape), [`OnnxExportError::Model`] (an unknown model), and
/// [`OnnxExportError::Unsupported`] naming every operation without an ONNX form.
pub fn window_graph(file: &ModelFile<'_>) -> Result<Model, OnnxExportError> {
    let card = &file.card;
    let (id, cfg, params) = prepare(file)?;
    let rec = registry::visit_net(&id, cfg.clone(), Record { params: &params })
        .ok_or_else(|| OnnxExportError::Model {
            id: id.clone(),
            reason: "not in the registry".into(),
        })?
        .map_err(|reason| OnnxExportError::Model {
            id: id.clone(),
            reason,
        })?;
    debug_assert_eq!(rec.layout_len, params.len());
    let (mut nodes, inits, out) = finished(&id, rec)?;
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
        initializers: inits,
    };
    finish_model(
        graph,
        card,
        vec![
            ("qssm.input".into(), format!(
                "{INPUT}: (batch, {} channels, {} samples) at {} Hz in {}, channel-major, after the card's preprocessing",
                cfg.n_channels, cfg.n_times, card.input.sfreq, card.input.unit
            )),
            ("qssm.output".into(), format!("{OUTPUT}: (batch, {}) logits", cfg.n_classes)),
        ],
    )
}

/// The step graph of the causal model in `file`: one streaming step per sample (see the
/// module docs).
///
/// Inputs: [`STEP_INPUT`], the next sample (batch, C) in the card's unit after its
/// preprocessing, and every state tensor `state.<name>` (zeros at the start of a stream).
/// Outputs: [`OUTPUT`] (batch, K), the model's logits after this sample, and
/// `next_state.<name>` for every state tensor, to feed to the next step. A chunked model
/// (causal 1b, mg, 2d, 2e, 4a–4e: chunks of L samples; 4a–4e read a = 1 sample past theirs)
/// computes once per chunk: its graph keeps the last samples (`state.chunk`, (batch, C,
/// L + a − 1)), the samples since the last step's chunk (`state.position`, int64 (1), shared
/// by the batch's streams, which step together) and the logits of the last complete chunk
/// (`state.logits`, zeros before the first), and runs the chunk's step in an `If` branch
/// when the chunk's L-th sample and the a after it have arrived: its logits change every L
/// samples from L + a on (the metadata's `qssm.hop` and `qssm.lookahead`), as the engine's
/// `Stream` emits. The state tensors and their shapes are listed in the metadata
/// (`qssm.state`).
///
/// Errors: those of [`window_graph`], and [`OnnxExportError::Model`] for a model (or a
/// configuration: 1b without `causal`) that has no streaming form.
pub fn step_graph(file: &ModelFile<'_>) -> Result<Model, OnnxExportError> {
    let card = &file.card;
    let (id, cfg, params) = prepare(file)?;
    let rec = registry::visit_step_net(&id, cfg.clone(), RecordStep { params: &params })
        .ok_or_else(|| OnnxExportError::Model {
            id: id.clone(),
            reason: "has no step graph: it does not stream sample by sample or chunk by chunk \
                     in this exporter (streamed: 3b, causal 1b, mg, 2d, 2e, 4a–4e)"
                .into(),
        })?
        .map_err(|reason| OnnxExportError::Model {
            id: id.clone(),
            reason,
        })?;
    let (len, la, state) = (rec.step_len, rec.lookahead, rec.state);
    let (nodes, mut inits, out) = finished(&id, rec.rec)?;
    let (c, k) = (cfg.n_channels, cfg.n_classes);
    let step = if len == 1 && la == 0 {
        per_sample(nodes, &out, &state, c, k)
    } else {
        chunked(nodes, &mut inits, &out, &state, (c, len, la, k))
    };
    let described: Vec<String> = step
        .inputs
        .iter()
        .filter_map(|v| {
            v.name
                .strip_prefix(STATE_IN)
                .map(|n| format!("{n} {}", v.shape_text()))
        })
        .collect();
    let graph = Graph {
        name: format!("qssm_{id}_step"),
        nodes: step.nodes,
        inputs: step.inputs,
        outputs: step.outputs,
        initializers: inits,
    };
    finish_model(
        graph,
        card,
        vec![
            ("qssm.graph".into(), "step".into()),
            ("qssm.step_len".into(), "1".into()),
            ("qssm.hop".into(), len.to_string()),
            ("qssm.lookahead".into(), la.to_string()),
            ("qssm.input".into(), format!(
                "{STEP_INPUT}: the next sample (batch, {c} channels) at {} Hz in {}, after the card's preprocessing",
                card.input.sfreq,
                card.input.unit
            )),
            ("qssm.output".into(), format!(
                "{OUTPUT}: (batch, {k}) logits after this sample{}; {STATE_OUT}<name>: the state for the next step",
                match (len, la) {
                    (1, 0) => String::new(),
                    (_, 0) => format!(" (they change every {len} samples, when a chunk is complete; zeros before the first)"),
                    _ => format!(" (they change every {len} samples, when a chunk and the {la} sample(s) after it have arrived: first after {} samples; zeros before)", len + la),
                }
            )),
            ("qssm.state".into(), format!(
                "{STATE_IN}<name> in, {STATE_OUT}<name> out, zeros at the start of a stream: {}",
                described.join("; ")
            )),
        ],
    )
}

/// The nodes and interface of a step graph.
struct StepGraph {
    nodes: Vec<Node>,
    inputs: Vec<ValueInfo>,
    outputs: Vec<ValueInfo>,
}

/// (batch, dims…)
fn batch_dims(shape: &[usize]) -> Vec<Dim> {
    std::iter::once(Dim::Param("batch".into()))
        .chain(shape.iter().map(|&d| Dim::Fixed(d as i64)))
        .collect()
}

/// A per-sample model's step graph: the recorded step as it is, its output and next state
/// renamed to the graph's outputs. `state`: (name, shape after the batch, next value).
fn per_sample(
    mut nodes: Vec<Node>,
    out: &str,
    state: &[(String, Vec<usize>, String)],
    c: usize,
    k: usize,
) -> StepGraph {
    nodes.push(Node::new("Identity", &[out], &[OUTPUT]));
    let mut inputs = vec![ValueInfo::f32(STEP_INPUT, batch_dims(&[c]))];
    let mut outputs = vec![ValueInfo::f32(OUTPUT, batch_dims(&[k]))];
    for (name, shape, value) in state {
        let (sin, sout) = (format!("{STATE_IN}{name}"), format!("{STATE_OUT}{name}"));
        nodes.push(Node::new("Identity", &[value], &[&sout]));
        inputs.push(ValueInfo::f32(&sin, batch_dims(shape)));
        outputs.push(ValueInfo::f32(&sout, batch_dims(shape)));
    }
    StepGraph {
        nodes,
        inputs,
        outputs,
    }
}

/// A chunked model's per-sample step graph around its recorded chunk step `nodes` (which read
/// [`CHUNK`] (batch, C, L + a): a chunk and the a samples after it): the sample is appended to
/// the kept L + a − 1 samples; when they make a chunk and its look-ahead, an `If` runs the
/// chunk's step, otherwise it passes the logits and the model's state through (see
/// [`step_graph`]). The position counts the samples kept since the last step's chunk: a step
/// fires at L + a and leaves a (the look-ahead samples begin the next chunk), so the steps
/// run at L + a, 2L + a, … `(c, l, a, k)`: channels, chunk length, look-ahead, classes.
fn chunked(
    nodes: Vec<Node>,
    inits: &mut Vec<qssm_formats::onnx::Tensor>,
    out: &str,
    state: &[(String, Vec<usize>, String)],
    (c, l, a, k): (usize, usize, usize, usize),
) -> StepGraph {
    use qssm_formats::onnx::{Attr, Tensor, TensorData, ValueKind};
    let (kept_in, kept_out) = (format!("{STATE_IN}chunk"), format!("{STATE_OUT}chunk"));
    let (pos_in, pos_out) = (
        format!("{STATE_IN}position"),
        format!("{STATE_OUT}position"),
    );
    let (last_in, last_out) = (format!("{STATE_IN}logits"), format!("{STATE_OUT}logits"));
    let mut int = |name: &str, v: i64| {
        inits.push(Tensor {
            name: name.into(),
            dims: vec![1],
            data: TensorData::I64(vec![v]),
        });
    };
    int("step.one", 1);
    int("step.axis_time", 2);
    int("step.chunk_len", l as i64);
    int("step.window_len", (l + a) as i64);
    let position = || ValueInfo::of("", ValueKind::I64, vec![Dim::Fixed(1)]);
    // a branch: Identity of each value to the branch's outputs, named `{tag}.{output}`
    let branch = |tag: &str, mut body: Vec<Node>, values: &[&str]| {
        let mut outputs = Vec::new();
        let names = std::iter::once((OUTPUT.to_string(), vec![k]))
            .chain(state.iter().map(|(n, s, _)| (n.clone(), s.clone())));
        for ((name, shape), v) in names.zip(values) {
            let o = format!("{tag}.{name}");
            body.push(Node::new("Identity", &[v], &[&o]));
            outputs.push(ValueInfo::f32(&o, batch_dims(&shape)));
        }
        Attr::Graph(Box::new(Graph {
            name: format!("chunk_{tag}"),
            nodes: body,
            inputs: Vec::new(),
            outputs,
            initializers: Vec::new(),
        }))
    };
    let stepped: Vec<&str> = std::iter::once(out)
        .chain(state.iter().map(|(_, _, v)| v.as_str()))
        .collect();
    let state_in: Vec<String> = state
        .iter()
        .map(|(n, _, _)| format!("{STATE_IN}{n}"))
        .collect();
    let held: Vec<&str> = std::iter::once(last_in.as_str())
        .chain(state_in.iter().map(String::as_str))
        .collect();
    let then_branch = branch("then", nodes, &stepped);
    let else_branch = branch("else", Vec::new(), &held);
    let state_out: Vec<String> = state
        .iter()
        .map(|(n, _, _)| format!("{STATE_OUT}{n}"))
        .collect();
    let if_outputs: Vec<&str> = std::iter::once(OUTPUT)
        .chain(state_out.iter().map(String::as_str))
        .collect();
    let nodes = vec![
        Node::new(
            "Unsqueeze",
            &[STEP_INPUT, "step.axis_time"],
            &["step.sample"],
        ),
        Node::new("Concat", &[&kept_in, "step.sample"], &[CHUNK]).attr("axis", Attr::Int(2)),
        Node::new(
            "Slice",
            &[CHUNK, "step.one", "step.window_len", "step.axis_time"],
            &[&kept_out],
        ),
        Node::new("Add", &[&pos_in, "step.one"], &["step.count"]),
        Node::new("Equal", &["step.count", "step.window_len"], &["step.full"]),
        // a step consumes its chunk: count − L when it fires, else count
        Node::new("Cast", &["step.full"], &["step.fired"]).attr("to", Attr::Int(INT64)),
        Node::new("Mul", &["step.fired", "step.chunk_len"], &["step.consumed"]),
        Node::new("Sub", &["step.count", "step.consumed"], &[&pos_out]),
        Node::new("If", &["step.full"], &if_outputs)
            .attr("then_branch", then_branch)
            .attr("else_branch", else_branch),
        Node::new("Identity", &[OUTPUT], &[&last_out]),
    ];
    let mut inputs = vec![ValueInfo::f32(STEP_INPUT, batch_dims(&[c]))];
    let mut outputs = vec![ValueInfo::f32(OUTPUT, batch_dims(&[k]))];
    for (name, shape, _) in state {
        inputs.push(ValueInfo::f32(
            &format!("{STATE_IN}{name}"),
            batch_dims(shape),
        ));
        outputs.push(ValueInfo::f32(
            &format!("{STATE_OUT}{name}"),
            batch_dims(shape),
        ));
    }
    inputs.push(ValueInfo::f32(&kept_in, batch_dims(&[c, l + a - 1])));
    outputs.push(ValueInfo::f32(&kept_out, batch_dims(&[c, l + a - 1])));
    inputs.push(ValueInfo {
        name: pos_in,
        ..position()
    });
    outputs.push(ValueInfo {
        name: pos_out,
        ..position()
    });
    inputs.push(ValueInfo::f32(&last_in, batch_dims(&[k])));
    outputs.push(ValueInfo::f32(&last_out, batch_dims(&[k])));
    StepGraph {
        nodes,
        inputs,
        outputs,
    }
}

/// The model around a recorded graph: opset, producer, the card and its id in the metadata,
/// then `extra` metadata; checked.
fn finish_model(
    graph: Graph,
    card: &ModelCard,
    extra: Vec<(String, String)>,
) -> Result<Model, OnnxExportError> {
    let mut metadata = vec![
        (
            "qssm.model_card".into(),
            serde_json::to_string(card).unwrap_or_default(),
        ),
        ("qssm.model_id".into(), card.model_id.clone()),
    ];
    metadata.extend(extra);
    let model = Model {
        graph,
        opset: OPSET,
        producer: "qssm".into(),
        metadata,
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
            casts.push(Node::new("Cast", &[&t.name], &[&wide]).attr("to", Attr::Int(FLOAT)));
            t.data = TensorData::F16(half);
        }
    }
    casts.append(&mut g.nodes);
    g.nodes = casts;
}

#[cfg(test)]
mod tests {
    use super::*;
    use qssm_kernels::backend::{DropoutCfg, Infer};

    /// A forward operation without an ONNX form (here train-mode dropout) is recorded as
    /// missing, by name, which `window_graph` turns into [`OnnxExportError::Unsupported`].
    #[test]
    fn operations_without_an_onnx_form_are_recorded_as_missing() {
        let rec = Recorder::new(&ParamLayout::new(), INPUT);
        let mut mask = rec.alloc(&[1, 3]);
        let cfg = DropoutCfg {
            p: 0.1,
            seeds: &[7],
        };
        rec.dropout_mask(&mut mask, cfg, 0);
        let st = rec.finish();
        assert_eq!(
            st.missing.into_iter().collect::<Vec<_>>(),
            ["dropout_mask (train mode)"]
        );
    }
}
