//! [`Model`] → `onnx.proto` messages → bytes, and the atomic file write.
use super::ir::{Attr, Dim, Graph, Model, Node, Tensor, TensorData, ValueInfo, ValueKind};
use super::{OnnxError, IR_VERSION};
use onnx_protobuf::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::MessageField;
use std::path::Path;

fn tensor(t: &Tensor) -> TensorProto {
    let mut p = TensorProto::new();
    p.name = t.name.clone();
    p.dims = t.dims.clone();
    // raw_data: little-endian values, what onnx.numpy_helper writes
    let (ty, raw): (DataType, Vec<u8>) = match &t.data {
        TensorData::F32(v) => (
            DataType::FLOAT,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        TensorData::F16(v) => (
            DataType::FLOAT16,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        TensorData::F64(v) => (
            DataType::DOUBLE,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        TensorData::I64(v) => (
            DataType::INT64,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        TensorData::Bool(v) => (DataType::BOOL, v.iter().map(|&b| u8::from(b)).collect()),
    };
    p.data_type = ty as i32;
    p.raw_data = raw;
    p
}

fn value_info(v: &ValueInfo) -> ValueInfoProto {
    let mut shape = TensorShapeProto::new();
    shape.dim = v
        .dims
        .iter()
        .map(|d| {
            let mut dim = tensor_shape_proto::Dimension::new();
            dim.value = Some(match d {
                Dim::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(*n),
                Dim::Param(p) => tensor_shape_proto::dimension::Value::DimParam(p.clone()),
            });
            dim
        })
        .collect();
    let mut tt = type_proto::Tensor::new();
    tt.elem_type = match v.kind {
        ValueKind::F32 => DataType::FLOAT,
        ValueKind::I64 => DataType::INT64,
        ValueKind::Bool => DataType::BOOL,
    } as i32;
    tt.shape = MessageField::some(shape);
    let mut ty = TypeProto::new();
    ty.value = Some(type_proto::Value::TensorType(tt));
    let mut p = ValueInfoProto::new();
    p.name = v.name.clone();
    p.type_ = MessageField::some(ty);
    p
}

fn attribute(name: &str, a: &Attr) -> AttributeProto {
    let mut p = AttributeProto::new();
    p.name = name.into();
    let ty = match a {
        Attr::Int(v) => {
            p.i = *v;
            AttributeType::INT
        }
        Attr::Ints(v) => {
            p.ints = v.clone();
            AttributeType::INTS
        }
        Attr::Float(v) => {
            p.f = *v;
            AttributeType::FLOAT
        }
        Attr::Str(v) => {
            p.s = v.as_bytes().to_vec();
            AttributeType::STRING
        }
        Attr::Graph(g) => {
            p.g = MessageField::some(graph(g));
            AttributeType::GRAPH
        }
        Attr::Tensor(t) => {
            p.t = MessageField::some(tensor(t));
            AttributeType::TENSOR
        }
    };
    p.type_ = ty.into();
    p
}

fn node(n: &Node, i: usize) -> NodeProto {
    let mut p = NodeProto::new();
    p.op_type = n.op.clone();
    p.name = format!("{}_{i}", n.op);
    p.input = n.inputs.clone();
    p.output = n.outputs.clone();
    p.attribute = n.attrs.iter().map(|(k, a)| attribute(k, a)).collect();
    p
}

fn graph(g: &Graph) -> GraphProto {
    let mut p = GraphProto::new();
    p.name = g.name.clone();
    p.node = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| node(n, i))
        .collect();
    p.input = g.inputs.iter().map(value_info).collect();
    p.output = g.outputs.iter().map(value_info).collect();
    p.initializer = g.initializers.iter().map(tensor).collect();
    p
}

impl Model {
    /// The model as ONNX protobuf bytes, after [`Model::check`].
    pub fn encode(&self) -> Result<Vec<u8>, OnnxError> {
        self.check()?;
        let mut m = ModelProto::new();
        m.ir_version = IR_VERSION;
        m.producer_name = self.producer.clone();
        m.producer_version = env!("CARGO_PKG_VERSION").into();
        let mut op = OperatorSetIdProto::new();
        op.domain = String::new();
        op.version = self.opset;
        m.opset_import = vec![op];
        m.metadata_props = self
            .metadata
            .iter()
            .map(|(k, v)| {
                let mut e = StringStringEntryProto::new();
                e.key = k.clone();
                e.value = v.clone();
                e
            })
            .collect();
        m.graph = MessageField::some(graph(&self.graph));
        m.write_to_bytes()
            .map_err(|e| OnnxError::Encode(e.to_string()))
    }

    /// Writes the model to `path` atomically (a temporary file renamed into place).
    pub fn write(&self, path: &Path) -> Result<(), OnnxError> {
        let bytes = self.encode()?;
        crate::model_file::write_atomic(path, &bytes).map_err(|source| OnnxError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
