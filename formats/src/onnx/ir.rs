//! The in-memory graph: what an ONNX file holds, in plain Rust types.
use super::{OnnxError, MIN_OPSET};
use std::collections::HashSet;

/// A dimension of a graph input or output: fixed, or named and free (`batch`).
#[derive(Clone, Debug, PartialEq)]
pub enum Dim {
    /// a fixed size
    Fixed(i64),
    /// a symbolic size
    Param(String),
}

/// A named value of a graph's interface (inputs, outputs).
#[derive(Clone, Debug, PartialEq)]
pub struct ValueInfo {
    /// value name
    pub name: String,
    /// its dimensions
    pub dims: Vec<Dim>,
    /// element type
    pub kind: ValueKind,
}

/// Element type of a [`ValueInfo`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// float32
    F32,
    /// int64
    I64,
    /// bool
    Bool,
}

impl ValueInfo {
    /// An f32 value.
    pub fn f32(name: &str, dims: Vec<Dim>) -> Self {
        Self {
            name: name.into(),
            dims,
            kind: ValueKind::F32,
        }
    }

    /// A value of `kind` with the given dimensions.
    pub fn of(name: &str, kind: ValueKind, dims: Vec<Dim>) -> Self {
        Self {
            name: name.into(),
            dims,
            kind,
        }
    }

    /// The dimensions as text: `(batch, 64, 3)`.
    pub fn shape_text(&self) -> String {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => n.to_string(),
                Dim::Param(p) => p.clone(),
            })
            .collect();
        format!("({})", dims.join(", "))
    }
}

/// Values of an initializer or constant.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// float32
    F32(Vec<f32>),
    /// float16 bit patterns
    F16(Vec<u16>),
    /// float64
    F64(Vec<f64>),
    /// int64
    I64(Vec<i64>),
    /// bool
    Bool(Vec<bool>),
}

impl TensorData {
    fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::Bool(v) => v.len(),
        }
    }
}

/// A named constant tensor (an initializer).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// name
    pub name: String,
    /// dimensions (empty: a scalar)
    pub dims: Vec<i64>,
    /// values, row-major
    pub data: TensorData,
}

/// An attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    /// INT
    Int(i64),
    /// INTS
    Ints(Vec<i64>),
    /// FLOAT
    Float(f32),
    /// STRING
    Str(String),
    /// GRAPH (a `Loop` body)
    Graph(Box<Graph>),
    /// TENSOR (`ConstantOfShape`'s value)
    Tensor(Tensor),
}

/// A node: an operator applied to named values.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// operator (`MatMul`)
    pub op: String,
    /// input value names ("" = an omitted optional input)
    pub inputs: Vec<String>,
    /// output value names
    pub outputs: Vec<String>,
    /// attributes
    pub attrs: Vec<(String, Attr)>,
}

impl Node {
    /// A node without attributes.
    pub fn new(op: &str, inputs: &[&str], outputs: &[&str]) -> Self {
        Self {
            op: op.into(),
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            attrs: Vec::new(),
        }
    }

    /// Adds an attribute.
    pub fn attr(mut self, name: &str, value: Attr) -> Self {
        self.attrs.push((name.into(), value));
        self
    }
}

/// A graph: nodes in topological order over named values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    /// name
    pub name: String,
    /// nodes, each reading only values defined before it
    pub nodes: Vec<Node>,
    /// inputs
    pub inputs: Vec<ValueInfo>,
    /// outputs
    pub outputs: Vec<ValueInfo>,
    /// constants
    pub initializers: Vec<Tensor>,
}

impl Graph {
    /// Checks that every node reads defined values (inputs, initializers, earlier outputs, or
    /// `outer` values for a subgraph), that nothing is defined twice, that initializers fit
    /// their dimensions, and (for the main graph) that inputs and outputs exist.
    fn check(&self, outer: &HashSet<String>, main: bool) -> Result<(), OnnxError> {
        let graph = self.name.clone();
        if main && self.inputs.is_empty() {
            return Err(OnnxError::NoIo {
                graph,
                what: "input",
            });
        }
        if self.outputs.is_empty() {
            return Err(OnnxError::NoIo {
                graph,
                what: "output",
            });
        }
        let mut defined: HashSet<String> = HashSet::new();
        let define = |v: &str, defined: &mut HashSet<String>| {
            if defined.insert(v.to_string()) {
                Ok(())
            } else {
                Err(OnnxError::Redefined {
                    graph: self.name.clone(),
                    value: v.to_string(),
                })
            }
        };
        for t in &self.initializers {
            let n: i64 = t.dims.iter().product();
            if n < 0 || n as usize != t.data.len() {
                return Err(OnnxError::TensorSize {
                    name: t.name.clone(),
                    len: t.data.len(),
                    dims: t.dims.clone(),
                });
            }
            define(&t.name, &mut defined)?;
        }
        for v in &self.inputs {
            define(&v.name, &mut defined)?;
        }
        for (i, node) in self.nodes.iter().enumerate() {
            for v in &node.inputs {
                if !v.is_empty() && !defined.contains(v) && !outer.contains(v) {
                    return Err(OnnxError::Undefined {
                        graph: self.name.clone(),
                        node: i,
                        op: node.op.clone(),
                        value: v.clone(),
                    });
                }
            }
            for (_, a) in &node.attrs {
                if let Attr::Graph(g) = a {
                    let scope: HashSet<String> = outer.union(&defined).cloned().collect();
                    g.check(&scope, false)?;
                }
            }
            for v in &node.outputs {
                define(v, &mut defined)?;
            }
        }
        for v in &self.outputs {
            if !defined.contains(&v.name) && !outer.contains(&v.name) {
                return Err(OnnxError::Undefined {
                    graph: self.name.clone(),
                    node: self.nodes.len(),
                    op: "graph output".into(),
                    value: v.name.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A model: a graph, its operator set and metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// the main graph
    pub graph: Graph,
    /// default-domain operator set version (≥ [`MIN_OPSET`])
    pub opset: i64,
    /// producer name (`qssm`)
    pub producer: String,
    /// `metadata_props` (key, value)
    pub metadata: Vec<(String, String)>,
}

impl Model {
    /// Checks the model (see the errors of [`OnnxError`]): opset, named inputs and outputs,
    /// every value defined once before it is read, initializer sizes.
    pub fn check(&self) -> Result<(), OnnxError> {
        if self.opset < MIN_OPSET {
            return Err(OnnxError::Opset(self.opset));
        }
        self.graph.check(&HashSet::new(), true)
    }
}
