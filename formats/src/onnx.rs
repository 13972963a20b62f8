//! ONNX model files: a graph built in memory ([`Graph`]: nodes, initializers, inputs and
//! outputs, subgraphs for `Loop`), checked ([`Model::check`]) and encoded with the
//! `onnx-protobuf` crate's generated `onnx.proto` types ([`Model::encode`], [`Model::write`],
//! atomically).
//!
//! ONNX (Open Neural Network Exchange, <https://onnx.ai>) is a protobuf file: a `ModelProto`
//! with an IR version, operator-set imports, metadata properties and a `GraphProto` (nodes in
//! topological order, named values, initializers). The schema `onnx-protobuf` 0.2.3 ships is IR
//! version 10; models here use [`IR_VERSION`] 8 with the operator set the caller chooses
//! (≥ [`MIN_OPSET`]).
mod encode;
mod ir;

pub use ir::{Attr, Dim, Graph, Model, Node, Tensor, TensorData, ValueInfo, ValueKind};

/// The IR version written (ONNX 1.10+; accepted by every onnxruntime of the last years).
pub const IR_VERSION: i64 = 8;

/// The lowest operator set accepted (`LayerNormalization` is opset 17).
pub const MIN_OPSET: i64 = 17;

/// Why a graph cannot be written. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The graph has no named input or output.
    #[error("ONNX graph '{graph}' has no {what}")]
    NoIo {
        /// graph name
        graph: String,
        /// `input` or `output`
        what: &'static str,
    },
    /// The operator set is below [`MIN_OPSET`].
    #[error("ONNX opset {0} is below the lowest supported, {MIN_OPSET}")]
    Opset(i64),
    /// A node reads a value nothing defines.
    #[error("ONNX graph '{graph}': node {node} ({op}) reads '{value}', which no input, initializer or earlier node defines")]
    Undefined {
        /// graph name
        graph: String,
        /// node index
        node: usize,
        /// its operator
        op: String,
        /// the value
        value: String,
    },
    /// A value is defined twice.
    #[error("ONNX graph '{graph}': value '{value}' is defined twice")]
    Redefined {
        /// graph name
        graph: String,
        /// the value
        value: String,
    },
    /// An initializer's data does not fit its dimensions.
    #[error("ONNX initializer '{name}': {len} values for dimensions {dims:?}")]
    TensorSize {
        /// initializer name
        name: String,
        /// values given
        len: usize,
        /// dimensions
        dims: Vec<i64>,
    },
    /// The file cannot be written.
    #[error("{path}: {source}")]
    Io {
        /// the file
        path: std::path::PathBuf,
        /// why
        #[source]
        source: std::io::Error,
    },
    /// protobuf encoding failed.
    #[error("ONNX encoding: {0}")]
    Encode(String),
}
