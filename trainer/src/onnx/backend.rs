//! The [`Backend`] implementation of the [`Recorder`]: every forward operation appends its ONNX
//! nodes (the glue here; layers, sequence and quantum operations in their modules); backward,
//! dropout, loss and optimiser operations are recorded as missing (a window graph has none).
use super::recorder::{RecBuf, Recorder};
use qssm_formats::onnx::Attr;
use qssm_kernels::backend::{
    Act, AdamBufs, Backend, ConvP, DropoutCfg, LinearP, QProjP, ScanGradBufs, ScanInputs, ScanP,
    Segment, SuperposeP, Targets,
};
use qssm_kernels::circuit::Program;
use qssm_kernels::ops::adam::AdamScalars;
use std::ops::Range;

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
        self.chunk_mean_rec(y, x, cs)
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
        self.time_slice_bwd_rec(dx, dy, t)
    }
    fn im2col3(&self, y: &mut RecBuf, x: &RecBuf) {
        self.im2col3_rec(y, x)
    }
    fn scale_segments(&self, y: &mut RecBuf, x: &RecBuf, s: &RecBuf, segs: &[Segment]) {
        self.scale_segments_rec(y, x, s, segs)
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
        self.row_mean_rec(y, x)
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
        self.linear_rec(y, x, p, lin)
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
        self.rmsnorm_rec(y, rstd, x, p, w)
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
        self.layernorm_rec(y, _stats, x, p, wb)
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
        self.conv1d_rec(y, x, p, conv)
    }
    fn conv1d_step(&self, y: &mut RecBuf, x: &RecBuf, hist: &mut RecBuf, p: &[f32], conv: &ConvP) {
        self.conv1d_step_rec(y, x, hist, p, conv)
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
        self.attention_rec(o, probs, q, k, v, drop_mask, heads)
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
        self.chunk_pool_rec(s, wts, u, scores, valid)
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
        self.circuit_rec(m, states, theta, enc, prog)
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

    fn qproj(&self, _y: &mut RecBuf, _x: &RecBuf, _p: &[f32], _qp: &QProjP) {
        self.missing("qproj (the HQC Mamba's quantum projection)");
    }

    fn qproj_bwd(
        &self,
        _dx: Option<&mut RecBuf>,
        _g: &mut [f32],
        _dy: &RecBuf,
        _x: &RecBuf,
        _p: &[f32],
        _qp: &QProjP,
    ) {
        self.missing("qproj_bwd");
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
        self.l2_normalize_rec(y, norm, x, eps)
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
        self.s3_measure_rec(m, states, p, coeffs)
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
        self.circuit_from_rec(m, states, init, theta, prog)
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
        self.lcu_rec(phi, states, p, mix)
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
        self.superpose_rec(y, xs, p, sp)
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
        self.mix_l1_rec(y, xs, p, coeffs, eps)
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
