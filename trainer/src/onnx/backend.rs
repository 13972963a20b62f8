//! The [`Infer`] implementation of the [`Recorder`]: every forward operation appends its ONNX
//! nodes (the glue here; layers, sequence and quantum operations in their modules); train-mode
//! dropout is recorded as missing (an eval-mode graph has none). The recorder implements no
//! training backend, so no backward can be recorded.
use super::recorder::{RecBuf, Recorder};
use qssm_formats::onnx::Attr;
use qssm_kernels::backend::{
    Act, ConvP, DropoutCfg, Infer, LinearP, QProjP, ScanInputs, ScanP, Segment, SuperposeP,
};
use qssm_kernels::circuit::Program;
use std::ops::Range;

impl Infer for Recorder {
    type Buf = RecBuf;
    type Params = [f32];

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

    fn copy(&self, y: &mut RecBuf, x: &RecBuf) {
        // same element count: `put` gives the value y's shape
        let v = self.val(x);
        self.put(y, v);
    }

    fn add_assign(&self, y: &mut RecBuf, x: &RecBuf) {
        let (a, b) = (self.val(y), self.val(x));
        self.put(y, self.binary("Add", &a, &b));
    }

    fn mul(&self, y: &mut RecBuf, a: &RecBuf, b: &RecBuf) {
        let (a, b) = (self.val(a), self.val(b));
        self.put(y, self.binary("Mul", &a, &b));
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

    fn running_mean(&self, y: &mut RecBuf, x: &RecBuf, sum: &mut RecBuf, count: &mut RecBuf) {
        let l = x.shape[1] as f32;
        let (v, s, n) = (self.val(x), self.val(sum), self.val(count));
        let axes = self.ints(&[1]);
        let chunk = self.op("ReduceSum", &[&v, &axes], vec![("keepdims", Attr::Int(0))]);
        let s = self.binary("Add", &s, &chunk);
        let n = self.binary("Add", &n, &self.float_scalar(l));
        self.put(sum, s.clone());
        self.put(count, n.clone());
        self.put(y, self.binary("Div", &s, &n));
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

    fn chunk_mean(&self, y: &mut RecBuf, x: &RecBuf, cs: usize) {
        self.chunk_mean_rec(y, x, cs)
    }

    fn time_slice(&self, y: &mut RecBuf, x: &RecBuf, t: usize) {
        let v = self.val(x);
        let i = self.int_scalar(t as i64);
        self.put(
            y,
            self.op("Gather", &[&v, &i], vec![("axis", Attr::Int(1))]),
        );
    }

    fn im2col3(&self, y: &mut RecBuf, x: &RecBuf) {
        self.im2col3_rec(y, x)
    }
    fn im2col3_step(&self, y: &mut RecBuf, prev: &mut RecBuf, x: &RecBuf, valid: usize) {
        self.im2col3_step_rec(y, prev, x, valid)
    }
    fn scale_segments(&self, y: &mut RecBuf, x: &RecBuf, s: &RecBuf, segs: &[Segment]) {
        self.scale_segments_rec(y, x, s, segs)
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
        self.row_mean_rec(y, x)
    }

    fn add_param_row(&self, x: &mut RecBuf, p: &[f32], range: Range<usize>) {
        let n = range.len() as i64;
        let r = self.param(p, &range, &[n], "", <[f32]>::to_vec);
        let v = self.val(x);
        self.put(x, self.binary("Add", &v, &r));
    }

    fn act(&self, act: Act, y: &mut RecBuf, x: &RecBuf) {
        let v = self.val(x);
        self.put(y, self.activation(act, &v));
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

    fn dropout(&self, _x: &mut RecBuf, _mask: &mut RecBuf, _cfg: DropoutCfg<'_>, _site: u32) {
        self.missing("dropout (train mode)");
    }

    fn linear(&self, y: &mut RecBuf, x: &RecBuf, p: &[f32], lin: &LinearP) {
        self.linear_rec(y, x, p, lin)
    }

    fn rmsnorm(&self, y: &mut RecBuf, rstd: &mut RecBuf, x: &RecBuf, p: &[f32], w: Range<usize>) {
        self.rmsnorm_rec(y, rstd, x, p, w)
    }

    fn layernorm(
        &self,
        y: &mut RecBuf,
        _stats: [&mut RecBuf; 2],
        x: &RecBuf,
        p: &[f32],
        wb: [Range<usize>; 2],
    ) {
        self.layernorm_rec(y, _stats, x, p, wb)
    }

    fn conv1d(&self, y: &mut RecBuf, x: &RecBuf, p: &[f32], conv: &ConvP) {
        self.conv1d_rec(y, x, p, conv)
    }
    fn conv1d_step(&self, y: &mut RecBuf, x: &RecBuf, hist: &mut RecBuf, p: &[f32], conv: &ConvP) {
        self.conv1d_step_rec(y, x, hist, p, conv)
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
        self.attention_rec(o, probs, q, k, v, drop_mask, heads)
    }

    fn chunk_pool(
        &self,
        s: &mut RecBuf,
        wts: &mut RecBuf,
        u: &RecBuf,
        scores: &RecBuf,
        valid: Option<usize>,
    ) {
        self.chunk_pool_rec(s, wts, u, scores, valid)
    }

    fn online_softmax_pool(
        &self,
        y: &mut RecBuf,
        u: &RecBuf,
        scores: &RecBuf,
        m: &mut RecBuf,
        z: &mut RecBuf,
        acc: &mut RecBuf,
    ) {
        self.online_softmax_pool_rec(y, u, scores, [m, z, acc])
    }

    fn zero_rows_from(&self, x: &mut RecBuf, from: usize) {
        self.zero_rows_from_rec(x, from)
    }

    fn circuit(
        &self,
        m: &mut RecBuf,
        states: Option<&mut RecBuf>,
        theta: &RecBuf,
        enc: Option<&RecBuf>,
        prog: &Program,
    ) {
        self.circuit_rec(m, states, theta, enc, prog)
    }

    fn qproj(&self, _y: &mut RecBuf, _x: &RecBuf, _p: &[f32], _qp: &QProjP) {
        self.missing("qproj (the HQC Mamba's quantum projection)");
    }

    fn gated_cell(
        &self,
        h: &mut RecBuf,
        saved: [&mut RecBuf; 2],
        pre: &RecBuf,
        h_prev: Option<&RecBuf>,
    ) {
        self.gated_cell_rec(h, saved, pre, h_prev)
    }

    fn l2_normalize(&self, y: &mut RecBuf, norm: &mut RecBuf, x: &RecBuf, eps: f32) {
        self.l2_normalize_rec(y, norm, x, eps)
    }

    fn s3_measure(&self, m: &mut RecBuf, states: [&RecBuf; 3], p: &[f32], coeffs: usize) {
        self.s3_measure_rec(m, states, p, coeffs)
    }

    fn circuit_from(
        &self,
        m: &mut RecBuf,
        states: &mut RecBuf,
        init: &RecBuf,
        theta: &RecBuf,
        prog: &Program,
    ) {
        self.circuit_from_rec(m, states, init, theta, prog)
    }

    fn lcu(&self, phi: &mut RecBuf, states: &RecBuf, p: &[f32], mix: Range<usize>) {
        self.lcu_rec(phi, states, p, mix)
    }

    fn superpose(&self, y: &mut RecBuf, xs: [&RecBuf; 3], p: &[f32], sp: &SuperposeP) {
        self.superpose_rec(y, xs, p, sp)
    }

    fn mix_l1(&self, y: &mut RecBuf, xs: [&RecBuf; 3], p: &[f32], coeffs: [usize; 3], eps: f32) {
        self.mix_l1_rec(y, xs, p, coeffs, eps)
    }

    fn mul_acc(&self, y: &mut RecBuf, a: &RecBuf, b: &RecBuf) {
        let (a, b, c) = (self.val(a), self.val(b), self.val(y));
        let m = self.binary("Mul", &a, &b);
        self.put(y, self.binary("Add", &c, &m));
    }
    fn pad_time_bwd(&self, _dx: &mut RecBuf, _dy: &RecBuf) {
        self.missing("pad_time_bwd");
    }
    fn time_slice_bwd(&self, dx: &mut RecBuf, dy: &RecBuf, t: usize) {
        self.time_slice_bwd_rec(dx, dy, t)
    }
    fn dropout_mask(&self, _mask: &mut RecBuf, _cfg: DropoutCfg<'_>, _site: u32) {
        self.missing("dropout_mask (train mode)");
    }
}
