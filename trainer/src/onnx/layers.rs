//! Layers with parameters and the gated cell, as ONNX nodes: `MatMul` + `Add` (W transposed
//! into the initializer), RMSNorm (reduce + reciprocal square root), `LayerNormalization`, the
//! causal depthwise conv1d (`Conv` with k − 1 leading pads, groups = channels), multi-head
//! attention (reshape per head, `MatMul`, `Softmax`), row-wise L2 normalisation, the gated
//! recurrence cell (split into four gates, sigmoid/tanh).
use super::recorder::{RecBuf, Recorder};
use qssm_formats::onnx::Attr;
use qssm_kernels::backend::{ConvP, LinearP};
use std::ops::Range;

impl Recorder {
    pub(super) fn linear_rec(&self, y: &mut RecBuf, x: &RecBuf, p: &[f32], lin: &LinearP) {
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

    pub(super) fn rmsnorm_rec(
        &self,
        y: &mut RecBuf,
        rstd: &mut RecBuf,
        x: &RecBuf,
        p: &[f32],
        w: Range<usize>,
    ) {
        let v = self.val(x);
        let r = self.rstd(&v);
        let n = self.binary("Mul", &v, &r);
        let w = self.param(p, &w, &[w.len() as i64], "", <[f32]>::to_vec);
        self.put(y, self.binary("Mul", &n, &w));
        self.put(rstd, r);
    }

    pub(super) fn layernorm_rec(
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

    pub(super) fn conv1d_rec(&self, y: &mut RecBuf, x: &RecBuf, p: &[f32], conv: &ConvP) {
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

    /// The streaming conv1d: `Concat(hist, x)` over time, an unpadded depthwise `Conv` (its L
    /// outputs), and the new history as the last k−1 rows of the concatenation.
    pub(super) fn conv1d_step_rec(
        &self,
        y: &mut RecBuf,
        x: &RecBuf,
        hist: &mut RecBuf,
        p: &[f32],
        conv: &ConvP,
    ) {
        let (e, k) = (conv.e as i64, conv.k as i64);
        let (l, m) = (x.shape[1] as i64, k - 1);
        let w = self.param(p, &conv.w, &[e, 1, k], "", <[f32]>::to_vec);
        let b = self.param(p, &conv.b, &[e], "", <[f32]>::to_vec);
        let v = self.val(x);
        let cat = if m > 0 {
            let h = self.val(hist);
            self.op("Concat", &[&h, &v], vec![("axis", Attr::Int(1))])
        } else {
            v
        };
        let ct = self.op(
            "Transpose",
            &[&cat],
            vec![("perm", Attr::Ints(vec![0, 2, 1]))],
        );
        let c = self.op(
            "Conv",
            &[&ct, &w, &b],
            vec![
                ("group", Attr::Int(e)),
                ("kernel_shape", Attr::Ints(vec![k])),
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
        if m > 0 {
            let (starts, ends, axes) = (self.ints(&[l]), self.ints(&[l + m]), self.ints(&[1]));
            self.put(
                hist,
                self.op("Slice", &[&cat, &starts, &ends, &axes], vec![]),
            );
        }
    }

    pub(super) fn attention_rec(
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

    pub(super) fn gated_cell_rec(
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

    pub(super) fn l2_normalize_rec(&self, y: &mut RecBuf, norm: &mut RecBuf, x: &RecBuf, eps: f32) {
        // y = x / √(Σx² + eps) per row
        let v = self.val(x);
        let sq = self.binary("Mul", &v, &v);
        let last = self.ints(&[-1]);
        let s = self.op("ReduceSum", &[&sq, &last], vec![("keepdims", Attr::Int(1))]);
        let e = self.float_scalar(eps);
        let s = self.binary("Add", &s, &e);
        let n = self.unary("Sqrt", &s);
        self.put(y, self.binary("Div", &v, &n));
        self.put(norm, n);
    }
}
