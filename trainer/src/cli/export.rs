//! `trainer export`: re-stores an existing model file's weights in another dtype (f32 → f16
//! halves the file and the engine's weight memory), keeping every tensor name and the model
//! card (whose `dtype` records the new storage); see [`crate::convert`]. Prints the max abs
//! rounding error of every tensor and overall, checks that the inference engine loads the new
//! file (for the architectures it runs), then writes it atomically.
//!
//! `--format onnx` writes the model's window graph as an ONNX file instead ([`crate::onnx`]),
//! with f32 weights or, with `--dtype f16`, f16 initializers widened by `Cast` nodes;
//! `--graph step` writes the streaming step graph of a causal model (3b, the causal 1b, mg, 2d,
//! 2e, 4a–4e) instead.
//!
//! `--format generated-cnn` turns a trained Quantum-Train file into the classical CNN its
//! parameters generate (model `qt-cnn`, 6,676 weights; from qt-liu `qt-liu-cnn`, 6,690), which
//! the inference engine runs.
use crate::convert::{convert_bytes, dtype_name};
use qssm_engine::{EngineError, Model as EngineModel};
use qssm_formats::model_file::{read_bytes, write_atomic, ModelFile, TensorDtype};
use std::path::PathBuf;

/// `--dtype` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtypeArg {
    /// IEEE binary16 (2 bytes per weight, ≈ 3 significant digits)
    F16,
    /// IEEE binary32 (exact widening of an f16 file)
    F32,
}

impl From<DtypeArg> for TensorDtype {
    fn from(d: DtypeArg) -> Self {
        match d {
            DtypeArg::F16 => TensorDtype::F16,
            DtypeArg::F32 => TensorDtype::F32,
        }
    }
}

/// `--format` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// a qssm model file (safetensors + model card)
    Safetensors,
    /// an ONNX window graph (opset 17, dynamic batch)
    Onnx,
    /// the CNN a trained quantum-train model file generates, as a model file of `qt-cnn`
    /// (purely classical: the inference engine runs it)
    GeneratedCnn,
}

/// Arguments of `trainer export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// existing model file (e.g. `model.safetensors` written by `trainer fit`)
    #[arg(long)]
    pub model_file: PathBuf,
    /// weight dtype of the new file (default: f16 for a model file, f32 for ONNX)
    #[arg(long, value_enum)]
    pub dtype: Option<DtypeArg>,
    /// where to write the new file (default: next to the input, `<stem>.<dtype>.safetensors`
    /// or `<stem>.onnx` / `<stem>.f16.onnx`)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// what to write
    #[arg(long, value_enum, default_value_t = FormatArg::Safetensors)]
    pub format: FormatArg,
    /// which ONNX graph: the whole window, or one streaming step with its state as inputs and
    /// outputs (causal models: 3b)
    #[arg(long, value_enum, default_value_t = GraphArg::Window)]
    pub graph: GraphArg,
}

/// `--graph` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphArg {
    /// input (batch, C, T) → logits (batch, K)
    Window,
    /// (sample (batch, C), state.*) → (logits, next_state.*)
    Step,
}

/// `--out`, or the model file's stem + `suffix` next to it.
fn output_path(a: &ExportArgs, suffix: &str) -> PathBuf {
    a.out.clone().unwrap_or_else(|| {
        let stem = a
            .model_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into());
        a.model_file.with_file_name(format!("{stem}{suffix}"))
    })
}

/// Runs `trainer export`.
pub fn run(a: ExportArgs) -> Result<(), Box<dyn std::error::Error>> {
    if a.format == FormatArg::Onnx {
        return run_onnx(&a);
    }
    if a.graph == GraphArg::Step {
        return Err("--graph step needs --format onnx".into());
    }
    if a.format == FormatArg::GeneratedCnn {
        return run_generated_cnn(&a);
    }
    let dtype = TensorDtype::from(a.dtype.unwrap_or(DtypeArg::F16));
    let name = dtype_name(dtype);
    let out = output_path(&a, &format!(".{name}.safetensors"));
    let input = read_bytes(&a.model_file)?;
    let conv =
        convert_bytes(&input, dtype).map_err(|e| format!("{}: {e}", a.model_file.display()))?;
    println!(
        "{} ({}, {} tensors, {} values) -> {} ({name})",
        a.model_file.display(),
        conv.from,
        conv.tensors.len(),
        conv.n_values(),
        out.display()
    );
    println!(
        "{:<64} {:>14} {:>12} {:>12}",
        "tensor", "shape", "max |w|", "max |err|"
    );
    for t in &conv.tensors {
        println!(
            "{:<64} {:>14} {:>12.4e} {:>12.4e}",
            t.name,
            format!("{:?}", t.shape),
            t.max_abs,
            t.max_abs_err
        );
    }
    println!("overall max |err| = {:.4e}", conv.max_abs_err());
    // the device side must accept the file; models the engine does not run are written anyway
    match EngineModel::from_bytes(&conv.bytes) {
        Ok(m) => println!(
            "engine: loads the {name} file ({} {}, {} weight bytes)",
            m.model_id(),
            m.card().class_name,
            m.weight_bytes()
        ),
        Err(EngineError::UnsupportedModel { id }) => {
            println!("engine: model {id} is not one the engine runs (file written anyway)")
        }
        Err(e) => return Err(format!("the engine rejects the converted file: {e}").into()),
    }
    write_atomic(&out, &conv.bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "wrote {} ({} bytes, was {} bytes)",
        out.display(),
        conv.bytes.len(),
        input.len()
    );
    Ok(())
}

/// `--format onnx`.
fn run_onnx(a: &ExportArgs) -> Result<(), Box<dyn std::error::Error>> {
    let f16 = a.dtype == Some(DtypeArg::F16);
    let step = a.graph == GraphArg::Step;
    let suffix = match (step, f16) {
        (false, false) => ".onnx",
        (false, true) => ".f16.onnx",
        (true, false) => ".step.onnx",
        (true, true) => ".step.f16.onnx",
    };
    let out = output_path(a, suffix);
    let bytes = read_bytes(&a.model_file)?;
    let file = ModelFile::parse(&bytes).map_err(|e| format!("{}: {e}", a.model_file.display()))?;
    let graph = if step {
        crate::onnx::step_graph(&file)
    } else {
        crate::onnx::window_graph(&file)
    };
    let mut graph = graph.map_err(|e| format!("{}: {e}", a.model_file.display()))?;
    if f16 {
        crate::onnx::to_f16_initializers(&mut graph);
    }
    graph.write(&out)?;
    let g = &graph.graph;
    let io = |v: &[qssm_formats::onnx::ValueInfo]| {
        v.iter()
            .map(|i| format!("{} {}", i.name, i.shape_text()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "wrote {}: ONNX opset {}, {} nodes, {} initializers ({} weights); inputs {}; outputs {}",
        out.display(),
        graph.opset,
        g.nodes.len(),
        g.initializers.len(),
        if f16 { "f16" } else { "f32" },
        io(&g.inputs),
        io(&g.outputs),
    );
    Ok(())
}

/// `--format generated-cnn`: the CNN weights θ a quantum-train (qt-liu) file's circuit and
/// mapping network generate, written as a `qt-cnn` (`qt-liu-cnn`) model file (same input
/// contract and preprocessing, the Quantum-Train card's training and metrics kept), in
/// `--dtype` (default f32); the engine must load it.
fn run_generated_cnn(a: &ExportArgs) -> Result<(), Box<dyn std::error::Error>> {
    use crate::export::{load_params, to_bytes, ExportInfo};
    use crate::models::quantum_train::{QuantumTrain, QuantumTrainLiu, TargetCnnModel};
    use qssm_kernels::ops::target_cnn::LIU_CNN;
    let bytes = read_bytes(&a.model_file)?;
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", a.model_file.display());
    let file = ModelFile::parse(&bytes).map_err(|e| at(&e))?;
    let card = &file.card;
    let cfg = crate::onnx::config_from_card(card);
    let (theta, cnn) = match card.model_id.as_str() {
        "quantum-train" => {
            // the `--qt-tensor-gain` form is told by its gain tensors
            let names = file.tensors.iter().map(|t| t.name.as_str());
            let qt = if QuantumTrain::names_have_tensor_gain(names) {
                QuantumTrain::with_tensor_gain(cfg.clone())
            } else {
                QuantumTrain::new(cfg.clone())
            }
            .map_err(|e| at(&e))?;
            let params = load_params(&file, &qt).map_err(|e| at(&e))?;
            let cnn = TargetCnnModel::new(cfg).map_err(|e| at(&e))?;
            (qt.generate(&params).1, cnn)
        }
        "qt-liu" => {
            let qt = QuantumTrainLiu::new(cfg.clone()).map_err(|e| at(&e))?;
            let params = load_params(&file, &qt).map_err(|e| at(&e))?;
            let cnn = TargetCnnModel::with_spec("qt-liu-cnn", LIU_CNN, cfg).map_err(|e| at(&e))?;
            (qt.generate(&params), cnn)
        }
        other => {
            return Err(at(&format!(
                "--format generated-cnn takes a quantum-train (or qt-liu) model file; this one \
                 holds '{other}'"
            ))
            .into())
        }
    };
    let info = ExportInfo {
        sfreq: card.input.sfreq,
        channels: card.input.channels.clone(),
        unit: card.input.unit.clone(),
        preprocessing: card.preprocessing.clone(),
        split: card.split.clone(),
        training: serde_json::json!({"generated_by": card.model_id, "quantum_train": card.training}),
        metrics: card.metrics.clone(),
    };
    let dtype = TensorDtype::from(a.dtype.unwrap_or(DtypeArg::F32));
    let out = output_path(a, &format!(".cnn.{}.safetensors", dtype_name(dtype)));
    let blob = to_bytes(&cnn, &theta, &info, dtype)?;
    let m = EngineModel::from_bytes(&blob)
        .map_err(|e| format!("the engine rejects the generated CNN: {e}"))?;
    write_atomic(&out, &blob).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "wrote {}: the {} weights of the CNN generated by {} ({}); the engine loads it ({} {}, {} weight bytes)",
        out.display(),
        theta.len(),
        a.model_file.display(),
        dtype_name(dtype),
        m.model_id(),
        m.card().class_name,
        m.weight_bytes()
    );
    Ok(())
}
