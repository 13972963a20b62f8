//! The recording backend ([`Recorder`]): a [`Backend`](qssm_kernels::backend::Backend) whose buffers hold the *name* of the
//! ONNX value they currently contain, and whose operations append ONNX nodes instead of
//! computing. A model's shared `forward` (the trainer's, the same code the CPU and CUDA
//! backends run) on a [`Recorder`] leaves the whole window graph behind.
//!
//! Values are SSA: an op writing buffer `y` gives `y` a new value name; reading a buffer that was
//! never written reads zeros of its shape (as the other backends' zeroed allocations). The
//! leading dimension of every buffer is the batch, which stays symbolic in the graph (shapes
//! are built from the graph input's batch at run time), so one graph serves every batch size.
//!
//! Parameters: the host parameter values are at hand in every op (`Params = [f32]`), so weights
//! become initializers named after the reference's `state_dict` tensors (`layers.0.in_proj.weight`),
//! in the layout the ONNX operator wants (W transposed for `MatMul`, A = −exp(A_log) folded).
//!
//! The recorder is an inference backend ([`qssm_kernels::backend::Infer`] only): a backward
//! pass cannot be recorded at all. Forward operations without an ONNX form (train-mode
//! dropout, the HQC Mamba's quantum projection, …) are recorded as missing;
//! [`Recorder::finish`] then refuses the graph with the list.
use crate::params::ParamLayout;
use qssm_formats::onnx::{Attr, Node, Tensor, TensorData};
use qssm_kernels::backend::Act;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Mutex;

/// A buffer of the recording: its shape (leading dimension = batch) and the name of the value
/// it holds (`None`: zeros, never written).
#[derive(Clone, Debug)]
pub struct RecBuf {
    /// unique per allocation (keys the circuit states kept by the recorder)
    pub(super) id: usize,
    /// declared shape, batch first
    pub(super) shape: Vec<usize>,
    /// the value it holds (`None`: zeros)
    pub(super) value: Option<String>,
}

impl RecBuf {
    pub(super) fn id(&self) -> usize {
        self.id
    }

    /// The value this buffer holds (`None` before the first write).
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// Makes the buffer hold `value` (e.g. the graph input).
    pub fn set(&mut self, value: &str) {
        self.value = Some(value.to_string());
    }
}

/// What has been recorded.
#[derive(Default)]
pub(super) struct State {
    pub nodes: Vec<Node>,
    pub inits: Vec<Tensor>,
    next: usize,
    /// cache: key → initializer name
    consts: HashMap<String, String>,
    /// operations that have no ONNX form here
    pub missing: BTreeSet<&'static str>,
    /// the batch size as a 1-element int64 tensor (from the graph input), once built
    batch: Option<String>,
    /// final circuit states by the id of the `states` buffer they were written to
    pub states: HashMap<usize, super::circuit::State>,
    /// buffers allocated
    pub buffers: usize,
}

/// The recording backend: ops append ONNX nodes (see `trainer::onnx`).
pub struct Recorder {
    st: Mutex<State>,
    /// tensor names by parameter range
    names: Vec<(Range<usize>, String, Vec<usize>)>,
    /// the graph input (B, C, T), whose batch dimension every dynamic shape uses
    input: String,
}

impl Recorder {
    /// A recorder for a model with this parameter layout; `input` names the graph input.
    pub fn new(layout: &ParamLayout, input: &str) -> Self {
        Self {
            st: Mutex::new(State::default()),
            names: layout
                .specs()
                .iter()
                .map(|s| (s.range.clone(), s.name.clone(), s.shape.clone()))
                .collect(),
            input: input.to_string(),
        }
    }

    /// The recorded nodes, initializers and missing operations.
    pub(super) fn finish(self) -> State {
        self.st.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `op` has no ONNX form (the graph will be refused).
    pub(super) fn missing(&self, op: &'static str) {
        self.lock().missing.insert(op);
    }

    /// A fresh value name.
    pub(super) fn fresh(&self, hint: &str) -> String {
        let mut st = self.lock();
        st.next += 1;
        format!("{hint}_{}", st.next)
    }

    /// Appends a node with one output; returns the output's name.
    pub(super) fn op(&self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let out = self.fresh(&op.to_ascii_lowercase());
        self.op_into(op, inputs, &[&out], attrs);
        out
    }

    /// Appends a node with the given outputs.
    pub(super) fn op_into(
        &self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<(&str, Attr)>,
    ) {
        let mut n = Node::new(op, inputs, outputs);
        for (k, a) in attrs {
            n = n.attr(k, a);
        }
        self.lock().nodes.push(n);
    }

    /// An initializer, cached by `key` (the same key gives the same name).
    pub(super) fn constant(&self, key: &str, dims: &[i64], data: TensorData) -> String {
        let mut st = self.lock();
        if let Some(n) = st.consts.get(key) {
            return n.clone();
        }
        let name = key.to_string();
        st.consts.insert(key.to_string(), name.clone());
        st.inits.push(Tensor {
            name: name.clone(),
            dims: dims.to_vec(),
            data,
        });
        name
    }

    /// An int64 vector constant.
    pub(super) fn ints(&self, v: &[i64]) -> String {
        let key = format!(
            "const_i64_{}",
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("_")
        );
        self.constant(
            &key.replace('-', "m"),
            &[v.len() as i64],
            TensorData::I64(v.to_vec()),
        )
    }

    /// An int64 scalar constant.
    pub(super) fn int_scalar(&self, v: i64) -> String {
        self.constant(
            &format!("const_i64_scalar_{v}").replace('-', "m"),
            &[],
            TensorData::I64(vec![v]),
        )
    }

    /// An f32 scalar constant.
    pub(super) fn float_scalar(&self, v: f32) -> String {
        self.constant(
            &format!("const_f32_{:08x}", v.to_bits()),
            &[],
            TensorData::F32(vec![v]),
        )
    }

    /// The name of parameter range `r` (the `state_dict` tensor, or a slice of one) with a
    /// suffix for a transformed copy.
    pub(super) fn param_name(&self, r: &Range<usize>, suffix: &str) -> String {
        for (range, name, _) in &self.names {
            if range == r {
                return format!("{name}{suffix}");
            }
            if range.start <= r.start && r.end <= range.end {
                return format!(
                    "{name}[{}..{}]{suffix}",
                    r.start - range.start,
                    r.end - range.start
                );
            }
        }
        format!("params[{}..{}]{suffix}", r.start, r.end)
    }

    /// `p[r]` as an initializer of `dims`, values mapped by `f` (cached per range and suffix).
    pub(super) fn param(
        &self,
        p: &[f32],
        r: &Range<usize>,
        dims: &[i64],
        suffix: &str,
        f: impl Fn(&[f32]) -> Vec<f32>,
    ) -> String {
        let name = self.param_name(r, suffix);
        self.constant(&name, dims, TensorData::F32(f(&p[r.clone()])))
    }

    /// The batch size as a 1-element int64 tensor, from the graph input.
    pub(super) fn batch(&self) -> String {
        if let Some(b) = self.lock().batch.clone() {
            return b;
        }
        let shape = self.op("Shape", &[&self.input], vec![]);
        let (zero, one) = (self.ints(&[0]), self.ints(&[1]));
        let b = self.op("Slice", &[&shape, &zero, &one], vec![]);
        self.lock().batch = Some(b.clone());
        b
    }

    /// The dynamic shape (batch, shape[1..]) as an int64 tensor.
    pub(super) fn dyn_shape(&self, shape: &[usize]) -> String {
        let b = self.batch();
        if shape.len() <= 1 {
            return b;
        }
        let rest: Vec<i64> = shape[1..].iter().map(|&d| d as i64).collect();
        let rest = self.ints(&rest);
        self.op("Concat", &[&b, &rest], vec![("axis", Attr::Int(0))])
    }

    /// A tensor of `shape` (batch first) filled with `v`.
    pub(super) fn filled(&self, shape: &[usize], v: f32) -> String {
        let s = self.dyn_shape(shape);
        let value = Tensor {
            name: String::new(),
            dims: vec![1],
            data: TensorData::F32(vec![v]),
        };
        self.op(
            "ConstantOfShape",
            &[&s],
            vec![("value", Attr::Tensor(value))],
        )
    }

    /// Keeps `st` as the content of the circuit-state buffer `b` (its value is not a tensor:
    /// only the operations that continue from states read it, through [`Self::state_of`]).
    pub(super) fn keep_state(&self, b: &mut RecBuf, st: super::circuit::State) {
        self.lock().states.insert(b.id(), st);
        b.value = Some(format!("<circuit states {}>", b.id()));
    }

    /// The circuit state a circuit operation left in `b`.
    pub(super) fn state_of(&self, b: &RecBuf) -> Option<super::circuit::State> {
        self.lock().states.get(&b.id()).cloned()
    }

    /// Makes `b` hold `v`, reshaped to b's declared shape (leading dimension free): the ops
    /// treat buffers as rows like the other backends, so a value may arrive as (B·L, W) or
    /// (B, 1, W) for a (B, L, W) or (B, W) buffer; every value read then has its buffer's shape
    /// and broadcasting never sees two different ranks. (`Reshape` costs no copy.)
    pub(super) fn put(&self, b: &mut RecBuf, v: String) {
        let v = self.to_buf_shape(&v, b);
        b.value = Some(v);
    }

    /// The value of `b` (zeros of its shape if never written).
    pub(super) fn val(&self, b: &RecBuf) -> String {
        match &b.value {
            Some(v) => v.clone(),
            None => self.filled(&b.shape, 0.0),
        }
    }

    /// `v` reshaped to `dims` (−1 and 0 as ONNX `Reshape` reads them).
    pub(super) fn reshape(&self, v: &str, dims: &[i64]) -> String {
        let s = self.ints(dims);
        self.binary("Reshape", v, &s)
    }

    /// `v` reshaped to the shape of buffer `b` with its leading dimension left free (−1).
    pub(super) fn to_buf_shape(&self, v: &str, b: &RecBuf) -> String {
        let mut dims: Vec<i64> = vec![-1];
        dims.extend(b.shape[1..].iter().map(|&d| d as i64));
        self.reshape(v, &dims)
    }

    pub(super) fn unary(&self, op: &str, x: &str) -> String {
        self.op(op, &[x], vec![])
    }

    pub(super) fn binary(&self, op: &str, a: &str, b: &str) -> String {
        self.op(op, &[a, b], vec![])
    }

    /// `act(x)` as PyTorch computes it.
    pub(super) fn activation(&self, act: Act, x: &str) -> String {
        match act {
            Act::Silu => {
                let s = self.unary("Sigmoid", x);
                self.binary("Mul", x, &s)
            }
            Act::Softplus => {
                // PyTorch: x above the threshold 20, ln(1 + eˣ) below
                let t = self.float_scalar(20.0);
                let above = self.binary("Greater", x, &t);
                let sp = self.unary("Softplus", x);
                self.op("Where", &[&above, x, &sp], vec![])
            }
            Act::Gelu => {
                // x·½·(1 + erf(x/√2)), PyTorch's exact GELU
                let r = self.float_scalar(std::f32::consts::FRAC_1_SQRT_2);
                let xs = self.binary("Mul", x, &r);
                let e = self.unary("Erf", &xs);
                let one = self.float_scalar(1.0);
                let e1 = self.binary("Add", &e, &one);
                let half = self.float_scalar(0.5);
                let xh = self.binary("Mul", x, &half);
                self.binary("Mul", &xh, &e1)
            }
            Act::Relu => self.unary("Relu", x),
            Act::Tanh => self.unary("Tanh", x),
            Act::Sigmoid => self.unary("Sigmoid", x),
        }
    }

    /// x reversed along the time axis (1).
    pub(super) fn reverse_time_value(&self, x: &str) -> String {
        let (s, e, a, st) = (
            self.ints(&[-1]),
            self.ints(&[i64::MIN]),
            self.ints(&[1]),
            self.ints(&[-1]),
        );
        self.op("Slice", &[x, &s, &e, &a, &st], vec![])
    }

    /// The RMS of the last dimension's reciprocal, (rows, 1): 1/√(mean(x²) + 1e-5).
    pub(super) fn rstd(&self, centred: &str) -> String {
        let sq = self.binary("Mul", centred, centred);
        let mean = self.op(
            "ReduceMean",
            &[&sq],
            vec![("axes", Attr::Ints(vec![-1])), ("keepdims", Attr::Int(1))],
        );
        let eps = self.float_scalar(1e-5);
        let v = self.binary("Add", &mean, &eps);
        let s = self.unary("Sqrt", &v);
        self.unary("Reciprocal", &s)
    }
}
