//! The selective scan ([`qssm_kernels::ops::scan`]) as an ONNX `Loop` over time:
//!
//! ```text
//! h_t = exp(Δ_t ⊗ A) ⊙ h_{t−1} + (Δ_t ⊙ x_t if dt_on_b else x_t) ⊗ B_t      (B, E, N)
//! y_t = Σ_n h_t ⊙ C_t + D ⊙ x_t                                              (B, E)
//! ```
//!
//! The body reads step t of x, Δ (B, L, E) and B, C (B, L, N) with `Gather(axis = 1)` from the
//! enclosing graph, carries h, and emits y_t; the loop's stacked outputs (L, B, E) are
//! transposed to (B, L, E). A reverse-time scan reverses its inputs and its output around the
//! same loop. The trip count is the fixed L of the model's window.
use super::recorder::Recorder;
use qssm_formats::onnx::{Attr, Dim, Graph, Node, ValueInfo, ValueKind};
use qssm_kernels::backend::{Infer, ScanInputs, ScanP};
use std::ops::Range;

/// Records the scan; returns (y (B, L, E), h_last (B, E, N)) value names.
pub(super) fn record(
    r: &Recorder,
    sx: ScanInputs<'_, Recorder>,
    p: &[f32],
    d: Range<usize>,
    dims: ScanP,
) -> (String, String) {
    let (e, n) = (dims.e as i64, dims.n as i64);
    let l = r.shape(sx.x)[1] as i64;
    let maybe_rev = |v: String| {
        if dims.reverse {
            r.reverse_time_value(&v)
        } else {
            v
        }
    };
    let x = maybe_rev(r.val(sx.x));
    let dt = maybe_rev(r.val(sx.delta));
    let bm = maybe_rev(r.val(sx.bm));
    let cm = maybe_rev(r.val(sx.cm));
    // A: (N) shared, or (E, N)
    let a_flat = r.val(sx.a);
    let a_shape = if dims.a_row_stride == 0 {
        r.ints(&[1, n])
    } else {
        r.ints(&[e, n])
    };
    let a = r.op("Reshape", &[&a_flat, &a_shape], vec![]);
    let dvec = r.param(p, &d, &[e], "", <[f32]>::to_vec);
    let h0 = match sx.h0 {
        Some(h) => r.val(h),
        None => r.filled(&[1, dims.e, dims.n], 0.0),
    };
    // the body
    let (i, cond_in, h_prev) = (r.fresh("t"), r.fresh("cond"), r.fresh("h_prev"));
    let mut body = Body {
        r,
        nodes: Vec::new(),
    };
    let (last, mid) = (r.ints(&[-1]), r.ints(&[1]));
    let at_t = vec![("axis", Attr::Int(1))];
    let xt = body.op("Gather", &[&x, &i], at_t.clone());
    let dtt = body.op("Gather", &[&dt, &i], at_t.clone());
    let bt = body.op("Gather", &[&bm, &i], at_t.clone());
    let ct = body.op("Gather", &[&cm, &i], at_t);
    let dtu = body.op("Unsqueeze", &[&dtt, &last], vec![]); // (B, E, 1)
    let da = body.op("Mul", &[&dtu, &a], vec![]);
    let da = body.op("Exp", &[&da], vec![]); // (B, E, N)
    let u = if dims.dt_on_b {
        body.op("Mul", &[&dtt, &xt], vec![])
    } else {
        xt.clone()
    };
    let uu = body.op("Unsqueeze", &[&u, &last], vec![]); // (B, E, 1)
    let bu = body.op("Unsqueeze", &[&bt, &mid], vec![]); // (B, 1, N)
    let inp = body.op("Mul", &[&uu, &bu], vec![]);
    let decayed = body.op("Mul", &[&da, &h_prev], vec![]);
    let h = body.op("Add", &[&decayed, &inp], vec![]);
    let cu = body.op("Unsqueeze", &[&ct, &mid], vec![]);
    let hc = body.op("Mul", &[&h, &cu], vec![]);
    let yv = body.op("ReduceSum", &[&hc, &last], vec![("keepdims", Attr::Int(0))]);
    let dx = body.op("Mul", &[&dvec, &xt], vec![]);
    let yt = body.op("Add", &[&yv, &dx], vec![]);
    let cond_out = body.op("Identity", &[&cond_in], vec![]);
    let h_out = body.op("Identity", &[&h], vec![]);
    let batch = || Dim::Param("batch".into());
    let graph = Graph {
        name: r.fresh("scan_body"),
        nodes: body.nodes,
        inputs: vec![
            ValueInfo::of(&i, ValueKind::I64, vec![]),
            ValueInfo::of(&cond_in, ValueKind::Bool, vec![]),
            ValueInfo::f32(&h_prev, vec![batch(), Dim::Fixed(e), Dim::Fixed(n)]),
        ],
        outputs: vec![
            ValueInfo::of(&cond_out, ValueKind::Bool, vec![]),
            ValueInfo::f32(&h_out, vec![batch(), Dim::Fixed(e), Dim::Fixed(n)]),
            ValueInfo::f32(&yt, vec![batch(), Dim::Fixed(e)]),
        ],
        initializers: Vec::new(),
    };
    let trip = r.int_scalar(l);
    let (h_last, ys) = (r.fresh("scan_h_last"), r.fresh("scan_ys"));
    r.op_into(
        "Loop",
        &[&trip, "", &h0],
        &[&h_last, &ys],
        vec![("body", Attr::Graph(Box::new(graph)))],
    );
    let y = r.op(
        "Transpose",
        &[&ys],
        vec![("perm", Attr::Ints(vec![1, 0, 2]))],
    );
    (maybe_rev(y), h_last)
}

/// The nodes of the loop body, named from the recorder's counter (unique in the whole graph).
struct Body<'a> {
    r: &'a Recorder,
    nodes: Vec<Node>,
}

impl Body<'_> {
    /// Appends a node with one output; returns its name.
    fn op(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let out = self.r.fresh(&format!("scan_{}", op.to_ascii_lowercase()));
        let mut node = Node::new(op, inputs, &[&out]);
        for (k, a) in attrs {
            node = node.attr(k, a);
        }
        self.nodes.push(node);
        out
    }
}
