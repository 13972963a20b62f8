//! The recording backend ([`Recorder`]): a [`Backend`] whose buffers hold the *name* of the
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
//! Operations without an ONNX form yet (the circuit simulator's, the gated cell, …) and every
//! backward are recorded as missing; [`Recorder::finish`] then refuses the graph with the list.
use crate::params::ParamLayout;
use qssm_formats::onnx::{Attr, Node, Tensor, TensorData};
use qssm_kernels::backend::{
    Act, AdamBufs, Backend, ConvP, DropoutCfg, LinearP, ScanGradBufs, ScanInputs, ScanP, Segment,
    Superpose, SuperposeP, Targets,
};
use qssm_kernels::circuit::superpose::{lcu_weights, s3_weights};
use qssm_kernels::circuit::Program;
use qssm_kernels::ops::adam::AdamScalars;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Mutex;

/// A buffer of the recording: its shape (leading dimension = batch) and the name of the value
/// it holds (`None`: zeros, never written).
#[derive(Clone, Debug)]
pub struct RecBuf {
    /// unique per allocation (keys the circuit states kept by the recorder)
    id: usize,
    shape: Vec<usize>,
    value: Option<String>,
}

impl RecBuf {
    fn id(&self) -> usize {
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
    buffers: usize,
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `op` has no ONNX form (the graph will be refused).
    fn missing(&self, op: &'static str) {
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
    fn param_name(&self, r: &Range<usize>, suffix: &str) -> String {
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
    fn batch(&self) -> String {
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
    fn keep_state(&self, b: &mut RecBuf, st: super::circuit::State) {
        self.lock().states.insert(b.id(), st);
        b.value = Some(format!("<circuit states {}>", b.id()));
    }

    /// The circuit state a circuit operation left in `b`.
    fn state_of(&self, b: &RecBuf) -> Option<super::circuit::State> {
        self.lock().states.get(&b.id()).cloned()
    }

    /// Makes `b` hold `v`, reshaped to b's declared shape (leading dimension free): the ops
    /// treat buffers as rows like the other backends, so a value may arrive as (B·L, W) or
    /// (B, 1, W) for a (B, L, W) or (B, W) buffer; every value read then has its buffer's shape
    /// and broadcasting never sees two different ranks. (`Reshape` costs no copy.)
    fn put(&self, b: &mut RecBuf, v: String) {
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
    fn to_buf_shape(&self, v: &str, b: &RecBuf) -> String {
        let mut dims: Vec<i64> = vec![-1];
        dims.extend(b.shape[1..].iter().map(|&d| d as i64));
        self.reshape(v, &dims)
    }

    fn unary(&self, op: &str, x: &str) -> String {
        self.op(op, &[x], vec![])
    }

    fn binary(&self, op: &str, a: &str, b: &str) -> String {
        self.op(op, &[a, b], vec![])
    }

    /// `act(x)` as PyTorch computes it.
    fn activation(&self, act: Act, x: &str) -> String {
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
    fn rstd(&self, centred: &str) -> String {
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

impl Backend for Recorder {
    type Buf = RecBuf;
    type Params = [f32];
    type ParamBuf = Vec<f32>;

    fn name(&self) -> &'static str {
        "onnx"
    }

    fn alloc(&self, shape: &[usize]) -> RecBuf {
        let mut st = self.lock();
        st.buffers += 1;
        RecBuf {
            id: st.buffers,
            shape: shape.to_vec(),
            value: None,
        }
    }

    fn shape<'a>(&self, x: &'a RecBuf) -> &'a [usize] {
        &x.shape
    }

    fn upload(&self, _x: &mut RecBuf, _src: &[f32]) {
        self.missing("upload (data inside the graph)");
    }

    fn download(&self, _x: &RecBuf, _dst: &mut [f32]) {
        self.missing("download (values of a recording)");
    }

    fn fill(&self, x: &mut RecBuf, v: f32) {
        self.put(x, self.filled(&x.shape, v));
    }

    fn params_from_host(&self, host: &[f32]) -> Vec<f32> {
        host.to_vec()
    }

    fn params_upload(&self, p: &mut [f32], host: &[f32]) {
        p.copy_from_slice(host);
    }

    fn params_download(&self, p: &[f32], host: &mut [f32]) {
        host.copy_from_slice(p);
    }

    fn copy(&self, y: &mut RecBuf, x: &RecBuf) {
        let v = self.val(x);
        self.put(
            y,
            if y.shape == x.shape {
                v
            } else {
                let mut dims: Vec<i64> = vec![-1];
                dims.extend(y.shape[1..].iter().map(|&d| d as i64));
                let s = self.ints(&dims);
                self.binary("Reshape", &v, &s)
            },
        );
    }

    fn add_assign(&self, y: &mut RecBuf, x: &RecBuf) {
        let (a, b) = (self.val(y), self.val(x));
        self.put(y, self.binary("Add", &a, &b));
    }

    fn mul(&self, y: &mut RecBuf, a: &RecBuf, b: &RecBuf) {
        let (a, b) = (self.val(a), self.val(b));
        self.put(y, self.binary("Mul", &a, &b));
    }

    fn mul_acc(&self, y: &mut RecBuf, a: &RecBuf, b: &RecBuf) {
        let (a, b, c) = (self.val(a), self.val(b), self.val(y));
        let m = self.binary("Mul", &a, &b);
        self.put(y, self.binary("Add", &c, &m));
    }

    fn to_token_major(&self, y: &mut RecBuf, x: &RecBuf) {
        let v = self.val(x);
        self.put(
            y,
            self.op(
                "Transpose",
                &[&v],
                vec![("perm", Attr::Ints(vec![0, 2, 1]))],
            ),
        );
    }

    fn split_cols(&self, x: &RecBuf, parts: &mut [&mut RecBuf]) {
        let v = self.val(x);
        let widths: Vec<i64> = parts
            .iter()
            .map(|p| *p.shape.last().unwrap_or(&0) as i64)
            .collect();
        let split = self.ints(&widths);
        let outs: Vec<String> = parts.iter().map(|_| self.fresh("split")).collect();
        let refs: Vec<&str> = outs.iter().map(String::as_str).collect();
        self.op_into("Split", &[&v, &split], &refs, vec![("axis", Attr::Int(-1))]);
        for (p, o) in parts.iter_mut().zip(outs) {
            self.put(p, o);
        }
    }

    fn concat_cols(&self, y: &mut RecBuf, parts: &[&RecBuf]) {
        let vals: Vec<String> = parts.iter().map(|p| self.val(p)).collect();
        let refs: Vec<&str> = vals.iter().map(String::as_str).collect();
        self.put(y, self.op("Concat", &refs, vec![("axis", Attr::Int(-1))]));
    }

    fn reverse_time(&self, y: &mut RecBuf, x: &RecBuf) {
        let v = self.val(x);
        self.put(y, self.reverse_time_value(&v));
    }

    fn reverse_time_acc(&self, y: &mut RecBuf, x: &RecBuf) {
        let v = self.val(x);
        let r = self.reverse_time_value(&v);
        let c = self.val(y);
        self.put(y, self.binary("Add", &c, &r));
    }

    fn mean_time(&self, y: &mut RecBuf, x: &RecBuf) {
        let v = self.val(x);
        self.put(
            y,
            self.op(
                "ReduceMean",
                &[&v],
                vec![("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(0))],
            ),
        );
    }

    fn mean_time_bwd(&self, _dx: &mut RecBuf, _dy: &RecBuf) {
        self.missing("mean_time_bwd");
    }

    fn add_table_rows(&self, x: &mut RecBuf, p: &[f32], table: Range<usize>) {
        let (l, d) = (x.shape[1], x.shape[2]);
        let rows = table.start..table.start + l * d;
        let t = self.param(p, &rows, &[l as i64, d as i64], "", <[f32]>::to_vec);
        let v = self.val(x);
        self.put(x, self.binary("Add", &v, &t));
    }

    fn pad_time(&self, y: &mut RecBuf, x: &RecBuf) {
        let extra = (y.shape[1] - x.shape[1]) as i64;
        let v = self.val(x);
        let pads = self.ints(&[0, 0, 0, 0, extra, 0]);
        self.put(y, self.binary("Pad", &v, &pads));
    }

    fn pad_time_bwd(&self, _dx: &mut RecBuf, _dy: &RecBuf) {
        self.missing("pad_time_bwd");
    }

    fn chunk_mean(&self, y: &mut RecBuf, x: &RecBuf, cs: usize) {
        // the mean of every chunk of cs rows, the last one over its true length
        let (l, w) = (x.shape[1], x.shape[2]);
        let cs = cs.max(1);
        let nc = l.div_ceil(cs);
        let v = self.val(x);
        let pads = self.ints(&[0, 0, 0, 0, (nc * cs - l) as i64, 0]);
        let padded = self.binary("Pad", &v, &pads);
        let r = self.reshape(&padded, &[-1, nc as i64, cs as i64, w as i64]);
        let two = self.ints(&[2]);
        let sum = self.op("ReduceSum", &[&r, &two], vec![("keepdims", Attr::Int(0))]);
        let inv: Vec<f32> = (0..nc)
            .map(|j| 1.0 / (((j + 1) * cs).min(l) - j * cs) as f32)
            .collect();
        let inv = self.constant(
            &format!("chunk_mean_inv_{l}_{cs}"),
            &[nc as i64, 1],
            TensorData::F32(inv),
        );
        self.put(y, self.binary("Mul", &sum, &inv));
    }

    fn chunk_mean_bwd(&self, _dx: &mut RecBuf, _dy: &RecBuf, _cs: usize) {
        self.missing("chunk_mean_bwd");
    }

    fn time_slice(&self, y: &mut RecBuf, x: &RecBuf, t: usize) {
        let v = self.val(x);
        let i = self.int_scalar(t as i64);
        self.put(
            y,
            self.op("Gather", &[&v, &i], vec![("axis", Attr::Int(1))]),
        );
    }

    fn time_slice_bwd(&self, dx: &mut RecBuf, dy: &RecBuf, t: usize) {
        // dx[:, t, :] += dy: dy placed at time t of a zero (B, L, W) block
        let l = dx.shape[1] as i64;
        let v = self.val(dy);
        let one = self.ints(&[1]);
        let u = self.binary("Unsqueeze", &v, &one);
        let pads = self.ints(&[0, t as i64, 0, 0, l - 1 - t as i64, 0]);
        let placed = self.binary("Pad", &u, &pads);
        let acc = self.val(dx);
        self.put(dx, self.binary("Add", &acc, &placed));
    }

    fn im2col3(&self, y: &mut RecBuf, x: &RecBuf) {
        // y[t, 3c + k] = x[c, t + k − 1] (zeros outside): pad time, three shifted slices
        let (c, t) = (x.shape[1] as i64, x.shape[2] as i64);
        let v = self.val(x);
        let pads = self.ints(&[0, 0, 1, 0, 0, 1]);
        let padded = self.binary("Pad", &v, &pads);
        let (axes, last) = (self.ints(&[2]), self.ints(&[-1]));
        let taps: Vec<String> = (0..3)
            .map(|k| {
                let (a, b) = (self.ints(&[k]), self.ints(&[k + t]));
                let sl = self.op("Slice", &[&padded, &a, &b, &axes], vec![]);
                self.binary("Unsqueeze", &sl, &last)
            })
            .collect();
        let refs: Vec<&str> = taps.iter().map(String::as_str).collect();
        let st = self.op("Concat", &refs, vec![("axis", Attr::Int(-1))]); // (B, C, T, 3)
        let tr = self.op(
            "Transpose",
            &[&st],
            vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        self.put(y, self.reshape(&tr, &[0, 0, 3 * c]));
    }

    fn scale_segments(&self, y: &mut RecBuf, x: &RecBuf, s: &RecBuf, segs: &[Segment]) {
        // y = x ⊙ (s·M + base): M (S, W) has a 1 where column j is scaled by s[·, k], base
        // a 1 where it is copied (each product has one non-zero term: exact)
        let w: usize = segs.iter().map(|g| g.width).sum();
        let sw = *s.shape.last().unwrap_or(&0);
        let (mut m, mut base) = (vec![0.0f32; sw * w], vec![0.0f32; w]);
        let mut o = 0;
        for g in segs {
            for j in 0..g.width {
                match g.scale {
                    Some(k) if j % g.period < g.prefix => m[k * w + o + j] = 1.0,
                    _ => base[o + j] = 1.0,
                }
            }
            o += g.width;
        }
        let key = format!("scale_segments_{:016x}", fnv(&m, &base));
        let mm = self.constant(
            &format!("{key}_m"),
            &[sw as i64, w as i64],
            TensorData::F32(m),
        );
        let bb = self.constant(&format!("{key}_base"), &[w as i64], TensorData::F32(base));
        let sv = self.val(s);
        let f = self.binary("MatMul", &sv, &mm);
        let f = self.binary("Add", &f, &bb);
        let xv = self.val(x);
        let out = self.binary("Mul", &xv, &f);
        self.put(y, self.to_buf_shape(&out, y));
    }

    fn scale_segments_bwd(
        &self,
        _dx: &mut RecBuf,
        _ds: &mut RecBuf,
        _dy: &RecBuf,
        _x: &RecBuf,
        _s: &RecBuf,
        _segs: &[Segment],
    ) {
        self.missing("scale_segments_bwd");
    }

    fn scale(&self, y: &mut RecBuf, x: &RecBuf, c: f32) {
        let (v, c) = (self.val(x), self.float_scalar(c));
        self.put(y, self.binary("Mul", &v, &c));
    }

    fn axpy(&self, y: &mut RecBuf, c: f32, x: &RecBuf) {
        let (v, c, acc) = (self.val(x), self.float_scalar(c), self.val(y));
        let m = self.binary("Mul", &v, &c);
        self.put(y, self.binary("Add", &acc, &m));
    }

    fn row_mean(&self, y: &mut RecBuf, x: &RecBuf) {
        // mean of every row in float64, rounded once (as the CPU)
        let v = self.val(x);
        let d = self.op("Cast", &[&v], vec![("to", Attr::Int(11))]);
        let m = self.op(
            "ReduceMean",
            &[&d],
            vec![("axes", Attr::Ints(vec![-1])), ("keepdims", Attr::Int(0))],
        );
        let f = self.op("Cast", &[&m], vec![("to", Attr::Int(1))]);
        self.put(y, self.to_buf_shape(&f, y));
    }

    fn row_mean_bwd(&self, _dx: &mut RecBuf, _dy: &RecBuf) {
        self.missing("row_mean_bwd");
    }

    fn add_param_row(&self, x: &mut RecBuf, p: &[f32], range: Range<usize>) {
        let n = range.len() as i64;
        let r = self.param(p, &range, &[n], "", <[f32]>::to_vec);
        let v = self.val(x);
        self.put(x, self.binary("Add", &v, &r));
    }

    fn add_param_row_bwd(&self, _g: &mut [f32], _range: Range<usize>, _dy: &RecBuf) {
        self.missing("add_param_row_bwd");
    }

    fn act(&self, act: Act, y: &mut RecBuf, x: &RecBuf) {
        let v = self.val(x);
        self.put(y, self.activation(act, &v));
    }

    fn act_bwd(&self, _act: Act, _dx: &mut RecBuf, _dy: &RecBuf, _saved: &RecBuf) {
        self.missing("act_bwd");
    }

    fn neg_exp(&self, y: &mut RecBuf, p: &[f32], range: Range<usize>) {
        // A = −exp(A_log), folded into the initializer (f32, as the other backends compute it)
        let dims: Vec<i64> = y.shape.iter().map(|&d| d as i64).collect();
        self.put(
            y,
            self.param(p, &range, &dims, ".neg_exp", |v| {
                v.iter().map(|&a| -a.exp()).collect()
            }),
        );
    }

    fn neg_exp_bwd(&self, _g: &mut [f32], _range: Range<usize>, _da: &RecBuf, _a: &RecBuf) {
        self.missing("neg_exp_bwd");
    }

    fn dropout(&self, _x: &mut RecBuf, _mask: &mut RecBuf, _cfg: DropoutCfg<'_>, _site: u32) {
        self.missing("dropout (train mode)");
    }

    fn dropout_mask(&self, _mask: &mut RecBuf, _cfg: DropoutCfg<'_>, _site: u32) {
        self.missing("dropout_mask (train mode)");
    }

    fn linear(&self, y: &mut RecBuf, x: &RecBuf, p: &[f32], lin: &LinearP) {
        let (din, dout) = (lin.d_in, lin.d_out);
        // W (out, in) → Wᵀ (in, out) for MatMul
        let w = self.param(p, &lin.w, &[din as i64, dout as i64], ".T", |w| {
            let mut t = vec![0.0f32; din * dout];
            for o in 0..dout {
                for i in 0..din {
                    t[i * dout + o] = w[o * din + i];
                }
            }
            t
        });
        let v = self.val(x);
        let mut out = self.binary("MatMul", &v, &w);
        if let Some(b) = &lin.b {
            let b = self.param(p, b, &[dout as i64], "", <[f32]>::to_vec);
            out = self.binary("Add", &out, &b);
        }
        self.put(y, out);
    }

    fn linear_bwd(
        &self,
        _dx: Option<&mut RecBuf>,
        _g: &mut [f32],
        _dy: &RecBuf,
        _x: &RecBuf,
        _p: &[f32],
        _lin: &LinearP,
    ) {
        self.missing("linear_bwd");
    }

    fn rmsnorm(&self, y: &mut RecBuf, rstd: &mut RecBuf, x: &RecBuf, p: &[f32], w: Range<usize>) {
        let v = self.val(x);
        let r = self.rstd(&v);
        let n = self.binary("Mul", &v, &r);
        let w = self.param(p, &w, &[w.len() as i64], "", <[f32]>::to_vec);
        self.put(y, self.binary("Mul", &n, &w));
        self.put(rstd, r);
    }

    fn rmsnorm_bwd(
        &self,
        _dx: &mut RecBuf,
        _g: &mut [f32],
        _dy: &RecBuf,
        _x: &RecBuf,
        _rstd: &RecBuf,
        _p: &[f32],
        _w: Range<usize>,
    ) {
        self.missing("rmsnorm_bwd");
    }

    fn layernorm(
        &self,
        y: &mut RecBuf,
        _stats: [&mut RecBuf; 2],
        x: &RecBuf,
        p: &[f32],
        wb: [Range<usize>; 2],
    ) {
        let v = self.val(x);
        let [w, b] = wb;
        let w = self.param(p, &w, &[w.len() as i64], "", <[f32]>::to_vec);
        let b = self.param(p, &b, &[b.len() as i64], "", <[f32]>::to_vec);
        self.put(
            y,
            self.op(
                "LayerNormalization",
                &[&v, &w, &b],
                vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(1e-5))],
            ),
        );
    }

    fn layernorm_bwd(
        &self,
        _dx: &mut RecBuf,
        _g: &mut [f32],
        _dy: &RecBuf,
        _x: &RecBuf,
        _stats: [&RecBuf; 2],
        _p: &[f32],
        _wb: [Range<usize>; 2],
    ) {
        self.missing("layernorm_bwd");
    }

    fn conv1d(&self, y: &mut RecBuf, x: &RecBuf, p: &[f32], conv: &ConvP) {
        let (e, k) = (conv.e as i64, conv.k as i64);
        let w = self.param(p, &conv.w, &[e, 1, k], "", <[f32]>::to_vec);
        let b = self.param(p, &conv.b, &[e], "", <[f32]>::to_vec);
        let v = self.val(x);
        let xt = self.op(
            "Transpose",
            &[&v],
            vec![("perm", Attr::Ints(vec![0, 2, 1]))],
        );
        // causal: k−1 zeros before the first sample, none after (the first L outputs)
        let c = self.op(
            "Conv",
            &[&xt, &w, &b],
            vec![
                ("group", Attr::Int(e)),
                ("kernel_shape", Attr::Ints(vec![k])),
                ("pads", Attr::Ints(vec![k - 1, 0])),
            ],
        );
        self.put(
            y,
            self.op(
                "Transpose",
                &[&c],
                vec![("perm", Attr::Ints(vec![0, 2, 1]))],
            ),
        );
    }

    fn conv1d_bwd(
        &self,
        _dx: &mut RecBuf,
        _g: &mut [f32],
        _dy: &RecBuf,
        _x: &RecBuf,
        _p: &[f32],
        _conv: &ConvP,
    ) {
        self.missing("conv1d_bwd");
    }

    fn scan(
        &self,
        y: &mut RecBuf,
        h_last: Option<&mut RecBuf>,
        _states: Option<&mut RecBuf>,
        sx: ScanInputs<'_, Self>,
        p: &[f32],
        d: Range<usize>,
        dims: ScanP,
    ) {
        let (yv, hv) = super::scan::record(self, sx, p, d, dims);
        self.put(y, yv);
        if let Some(h) = h_last {
            self.put(h, hv);
        }
    }

    fn scan_bwd(
        &self,
        _grads: ScanGradBufs<'_, Self>,
        _g: &mut [f32],
        _dy: &RecBuf,
        _dh_last: Option<&RecBuf>,
        _states: Option<&RecBuf>,
        _sx: ScanInputs<'_, Self>,
        _p: &[f32],
        _d: Range<usize>,
        _dims: ScanP,
    ) {
        self.missing("scan_bwd");
    }

    fn attention(
        &self,
        o: &mut RecBuf,
        probs: &mut RecBuf,
        q: &RecBuf,
        k: &RecBuf,
        v: &RecBuf,
        drop_mask: Option<&RecBuf>,
        heads: usize,
    ) {
        if drop_mask.is_some() {
            self.missing("attention dropout (train mode)");
        }
        let dmodel = *q.shape.last().unwrap_or(&0);
        let dh = dmodel / heads.max(1);
        let split = self.ints(&[0, 0, heads as i64, dh as i64]);
        let heads_of = |b: &RecBuf, perm: Vec<i64>| {
            let x = self.val(b);
            let r = self.binary("Reshape", &x, &split);
            self.op("Transpose", &[&r], vec![("perm", Attr::Ints(perm))])
        };
        let qh = heads_of(q, vec![0, 2, 1, 3]); // (B, H, L, dh)
        let kh = heads_of(k, vec![0, 2, 3, 1]); // (B, H, dh, L)
        let vh = heads_of(v, vec![0, 2, 1, 3]);
        let s = self.binary("MatMul", &qh, &kh);
        let scale = self.float_scalar((dh as f32).sqrt());
        let s = self.binary("Div", &s, &scale);
        let pr = self.op("Softmax", &[&s], vec![("axis", Attr::Int(-1))]);
        let oh = self.binary("MatMul", &pr, &vh);
        let ot = self.op(
            "Transpose",
            &[&oh],
            vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
        );
        let merge = self.ints(&[0, 0, dmodel as i64]);
        self.put(o, self.binary("Reshape", &ot, &merge));
        self.put(probs, pr);
    }

    fn attention_bwd(
        &self,
        _dq: &mut RecBuf,
        _dk: &mut RecBuf,
        _dv: &mut RecBuf,
        _dout: &RecBuf,
        _qkv: [&RecBuf; 3],
        _probs: &RecBuf,
        _drop_mask: Option<&RecBuf>,
        _heads: usize,
    ) {
        self.missing("attention_bwd");
    }

    fn chunk_pool(
        &self,
        s: &mut RecBuf,
        wts: &mut RecBuf,
        u: &RecBuf,
        scores: &RecBuf,
        valid: Option<usize>,
    ) {
        // per chunk of cs rows: w = softmax(scores) (rows ≥ valid: −∞), s = Σ w·u
        let (nc, f, rows) = (s.shape[1], s.shape[2], u.shape[1]);
        let cs = rows / nc.max(1);
        let a = self.val(scores);
        let a = self.reshape(&a, &[-1, nc as i64, cs as i64]);
        let a = match valid {
            Some(v) if v < rows => {
                let mask: Vec<f32> = (0..rows)
                    .map(|i| if i < v { 0.0 } else { f32::NEG_INFINITY })
                    .collect();
                let m = self.constant(
                    &format!("chunk_pool_mask_{nc}x{cs}_valid{v}"),
                    &[nc as i64, cs as i64],
                    TensorData::F32(mask),
                );
                self.binary("Add", &a, &m)
            }
            _ => a,
        };
        let w = self.op("Softmax", &[&a], vec![("axis", Attr::Int(-1))]);
        let uv = self.val(u);
        let u4 = self.reshape(&uv, &[-1, nc as i64, cs as i64, f as i64]);
        let last = self.ints(&[-1]);
        let w4 = self.binary("Unsqueeze", &w, &last);
        let prod = self.binary("Mul", &u4, &w4);
        let two = self.ints(&[2]);
        self.put(
            s,
            self.op(
                "ReduceSum",
                &[&prod, &two],
                vec![("keepdims", Attr::Int(0))],
            ),
        );
        self.put(wts, self.to_buf_shape(&w, wts));
    }

    fn chunk_pool_bwd(
        &self,
        _du: &mut RecBuf,
        _dscores: &mut RecBuf,
        _ds: &RecBuf,
        _u: &RecBuf,
        _wts: &RecBuf,
    ) {
        self.missing("chunk_pool_bwd");
    }

    fn circuit(
        &self,
        m: &mut RecBuf,
        states: Option<&mut RecBuf>,
        theta: &RecBuf,
        enc: Option<&RecBuf>,
        prog: &Program,
    ) {
        let th = self.val(theta);
        let en = enc.map(|e| self.val(e));
        let (mv, st) = super::circuit::record(self, &th, en.as_deref(), prog);
        self.put(m, self.to_buf_shape(&mv, m));
        if let Some(s) = states {
            self.keep_state(s, st);
        }
    }

    fn circuit_bwd(
        &self,
        _dtheta: &mut RecBuf,
        _denc: Option<&mut RecBuf>,
        _dm: &RecBuf,
        _states: Option<&RecBuf>,
        _theta: &RecBuf,
        _enc: Option<&RecBuf>,
        _prog: &Program,
    ) {
        self.missing("circuit_bwd");
    }

    fn gated_cell(
        &self,
        h: &mut RecBuf,
        saved: [&mut RecBuf; 2],
        pre: &RecBuf,
        h_prev: Option<&RecBuf>,
    ) {
        // f, i, o = σ(a_f, a_i, a_o); g = tanh(a_g); h = o ⊙ tanh(f ⊙ h_prev + i ⊙ g)
        let hd = *h.shape.last().unwrap_or(&0) as i64;
        let v = self.val(pre);
        let split = self.ints(&[hd, hd, hd, hd]);
        let parts: Vec<String> = (0..4).map(|_| self.fresh("gate")).collect();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.op_into("Split", &[&v, &split], &refs, vec![("axis", Attr::Int(-1))]);
        let f = self.unary("Sigmoid", &parts[0]);
        let i = self.unary("Sigmoid", &parts[1]);
        let o = self.unary("Sigmoid", &parts[2]);
        let g = self.unary("Tanh", &parts[3]);
        let ig = self.binary("Mul", &i, &g);
        let inner = match h_prev {
            Some(hp) => {
                let hp = self.val(hp);
                let fh = self.binary("Mul", &f, &hp);
                self.binary("Add", &fh, &ig)
            }
            None => ig,
        };
        let tc = self.unary("Tanh", &inner);
        self.put(h, self.binary("Mul", &o, &tc));
        let [gates, tcb] = saved;
        self.put(
            gates,
            self.op("Concat", &[&f, &i, &o, &g], vec![("axis", Attr::Int(-1))]),
        );
        self.put(tcb, tc);
    }

    fn gated_cell_bwd(
        &self,
        _dpre: &mut RecBuf,
        _dh_prev: Option<&mut RecBuf>,
        _dh: &RecBuf,
        _saved: [&RecBuf; 2],
        _h_prev: Option<&RecBuf>,
    ) {
        self.missing("gated_cell_bwd");
    }

    fn l2_normalize(&self, y: &mut RecBuf, norm: &mut RecBuf, x: &RecBuf, eps: f32) {
        // y = x / √(Σx² + eps) per row
        let v = self.val(x);
        let sq = self.binary("Mul", &v, &v);
        let last = self.ints(&[-1]);
        let s = self.op("ReduceSum", &[&sq, &last], vec![("keepdims", Attr::Int(1))]);
        let e = self.float_scalar(eps);
        let s = self.binary("Add", &s, &e);
        let n = self.unary("Sqrt", &s);
        self.put(y, self.binary("Div", &v, &n));
        self.put(norm, self.to_buf_shape(&n, norm));
    }

    fn l2_normalize_bwd(&self, _dx: &mut RecBuf, _dy: &RecBuf, _x: &RecBuf, _norm: &RecBuf) {
        self.missing("l2_normalize_bwd");
    }

    fn circuit_bwd_state(
        &self,
        _dtheta: &mut RecBuf,
        _denc: Option<&mut RecBuf>,
        _gstate: &RecBuf,
        _states: &RecBuf,
        _theta: &RecBuf,
        _enc: Option<&RecBuf>,
        _prog: &Program,
    ) {
        self.missing("circuit_bwd_state");
    }

    fn s3_measure(&self, m: &mut RecBuf, states: [&RecBuf; 3], p: &[f32], coeffs: usize) {
        // φ = normalise(Σ_k w_k ψ_k), w = s3_weights(p[coeffs..coeffs + 6]); m = ⟨X, Y, Z⟩(φ)
        let Some(sts) = states
            .iter()
            .map(|b| self.state_of(b))
            .collect::<Option<Vec<_>>>()
        else {
            return self.missing("s3_measure of states no circuit wrote");
        };
        let w = s3_weights(&p[coeffs..coeffs + 6]).map(|z| (z.re, z.im));
        let q = *m.shape.last().unwrap_or(&0) / 3;
        let phi = super::circuit::superpose(self, &w, &sts, q);
        let mv = super::circuit::expvals(self, &phi, q);
        self.put(m, self.to_buf_shape(&mv, m));
    }

    fn s3_measure_bwd(
        &self,
        _gstates: [&mut RecBuf; 3],
        _g: &mut [f32],
        _dm: &RecBuf,
        _states: [&RecBuf; 3],
        _p: &[f32],
        _coeffs: usize,
    ) {
        self.missing("s3_measure_bwd");
    }

    fn circuit_from(
        &self,
        m: &mut RecBuf,
        states: &mut RecBuf,
        init: &RecBuf,
        theta: &RecBuf,
        prog: &Program,
    ) {
        let Some(st) = self.state_of(init) else {
            return self.missing("circuit_from a state no circuit wrote");
        };
        let th = self.val(theta);
        let th = self.reshape(&th, &[-1, prog.n_theta as i64]);
        let out = super::circuit::apply(self, st, &th, None, prog);
        let mv = super::circuit::expvals(self, &out, prog.n_qubits);
        self.put(m, self.to_buf_shape(&mv, m));
        self.keep_state(states, out);
    }

    fn circuit_from_bwd(
        &self,
        _dtheta: &mut RecBuf,
        _ginit: &mut RecBuf,
        _dm: &RecBuf,
        _states: &RecBuf,
        _theta: &RecBuf,
        _prog: &Program,
    ) {
        self.missing("circuit_from_bwd");
    }

    fn lcu(&self, phi: &mut RecBuf, states: &RecBuf, p: &[f32], mix: Range<usize>) {
        // φ_b = normalise(Σ_j w_j ψ_{b, j}), w = lcu_weights(mix) over the nc chunk states
        let Some(st) = self.state_of(states) else {
            return self.missing("lcu of states no circuit wrote");
        };
        let nc = mix.len() / 2;
        let mut w = vec![num_complex::Complex64::new(0.0, 0.0); nc];
        lcu_weights(&p[mix], &mut w);
        let q = (*states.shape.last().unwrap_or(&0) / 4).trailing_zeros() as usize;
        let mut dims = vec![-1i64, nc as i64];
        dims.extend(std::iter::repeat_n(2, q));
        let per = |v: &str, j: usize| {
            let r = self.reshape(v, &dims);
            let i = self.int_scalar(j as i64);
            self.op("Gather", &[&r, &i], vec![("axis", Attr::Int(1))])
        };
        let chunks: Vec<super::circuit::State> = (0..nc)
            .map(|j| super::circuit::State {
                re: per(&st.re, j),
                im: per(&st.im, j),
            })
            .collect();
        let w: Vec<(f64, f64)> = w.iter().map(|z| (z.re, z.im)).collect();
        let out = super::circuit::superpose(self, &w, &chunks, q);
        self.keep_state(phi, out);
    }

    fn lcu_bwd(
        &self,
        _gstates: &mut RecBuf,
        _g: &mut [f32],
        _gphi: &RecBuf,
        _states: &RecBuf,
        _p: &[f32],
        _mix: Range<usize>,
    ) {
        self.missing("lcu_bwd");
    }

    fn superpose(&self, y: &mut RecBuf, xs: [&RecBuf; 3], p: &[f32], sp: &SuperposeP) {
        // the coefficients are constants of the file: computed here in f32 as the CPU does
        let c = sp.coeffs.map(|[re, im]| (p[re], p[im]));
        let n = (c.iter().map(|(r, i)| r * r + i * i).sum::<f32>() + sp.eps).sqrt();
        let mag = c.map(|(r, i)| (r * r + i * i).sqrt() / n);
        let x = xs.map(|x| self.val(x));
        let scaled = |k: usize, f: f32| {
            let s = self.float_scalar(f);
            self.binary("Mul", &x[k], &s)
        };
        self.put(
            y,
            match sp.mode {
                Superpose::Concat => {
                    let parts: Vec<String> = (0..3).map(|k| scaled(k, mag[k])).collect();
                    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                    self.op("Concat", &refs, vec![("axis", Attr::Int(-1))])
                }
                Superpose::Sum => {
                    let t: Vec<String> = (0..3).map(|k| scaled(k, mag[k])).collect();
                    let s01 = self.binary("Add", &t[0], &t[1]);
                    self.binary("Add", &s01, &t[2])
                }
                Superpose::Modulus | Superpose::ModulusRaw => {
                    let cb = if sp.mode == Superpose::Modulus {
                        c.map(|(r, i)| (r / n, i / n))
                    } else {
                        c
                    };
                    let part = |f: fn((f32, f32)) -> f32| {
                        let t: Vec<String> = (0..3).map(|k| scaled(k, f(cb[k]))).collect();
                        let s01 = self.binary("Add", &t[0], &t[1]);
                        self.binary("Add", &s01, &t[2])
                    };
                    let re = part(|c| c.0);
                    let im = part(|c| c.1);
                    let rr = self.binary("Mul", &re, &re);
                    let ii = self.binary("Mul", &im, &im);
                    let sq = self.binary("Add", &rr, &ii);
                    self.unary("Sqrt", &sq)
                }
            },
        );
    }

    fn superpose_bwd(
        &self,
        _dxs: [&mut RecBuf; 3],
        _g: &mut [f32],
        _dy: &RecBuf,
        _xs: [&RecBuf; 3],
        _p: &[f32],
        _sp: &SuperposeP,
    ) {
        self.missing("superpose_bwd");
    }

    fn mix_l1(&self, y: &mut RecBuf, xs: [&RecBuf; 3], p: &[f32], coeffs: [usize; 3], eps: f32) {
        // y = Σ_k c_k / (Σ|c| + eps) · x_k, the weights constants of the file (f32, as the CPU)
        let c = coeffs.map(|i| p[i]);
        let s = c[0].abs() + c[1].abs() + c[2].abs() + eps;
        let w = c.map(|v| v / s);
        let t: Vec<String> = (0..3)
            .map(|k| {
                let x = self.val(xs[k]);
                let f = self.float_scalar(w[k]);
                self.binary("Mul", &x, &f)
            })
            .collect();
        let s01 = self.binary("Add", &t[0], &t[1]);
        self.put(y, self.binary("Add", &s01, &t[2]));
    }

    fn mix_l1_bwd(
        &self,
        _dxs: [&mut RecBuf; 3],
        _g: &mut [f32],
        _dy: &RecBuf,
        _xs: [&RecBuf; 3],
        _p: &[f32],
        _coeffs: [usize; 3],
        _eps: f32,
    ) {
        self.missing("mix_l1_bwd");
    }

    fn loss(&self, _dout: &mut RecBuf, _out: &RecBuf, _targets: Targets<'_>) -> f32 {
        self.missing("loss");
        0.0
    }

    fn zero_params(&self, g: &mut [f32]) {
        g.fill(0.0);
    }

    fn grad_norm(&self, _g: &[f32]) -> f64 {
        self.missing("grad_norm");
        0.0
    }

    fn scale_params(&self, _g: &mut [f32], _c: f32) {
        self.missing("scale_params");
    }

    fn adam_step(&self, _bufs: AdamBufs<'_, Self>, _max_norm: Option<f32>, _s: &AdamScalars) {
        self.missing("adam_step");
    }

    fn host_params<'a>(&self, host: &'a [f32]) -> Option<&'a [f32]> {
        Some(host)
    }
}

/// FNV-1a of two float slices' bits (a short key for a constant mask).
fn fnv(a: &[f32], b: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in a.iter().chain(b) {
        for byte in v.to_bits().to_le_bytes() {
            h = (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}
