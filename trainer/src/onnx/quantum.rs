//! The circuit operations as ONNX nodes: circuits per row ([`super::circuit`]), the states kept
//! for the operations that continue from them (`circuit_from`, LCU, S3 measurement), chunk
//! attention pooling (masked softmax per chunk), and the file's mixing coefficients folded into
//! constants (superposition, L1 mix).
use super::recorder::{RecBuf, Recorder};
use qssm_formats::onnx::{Attr, TensorData};
use qssm_kernels::backend::{mix_l1_weights, Superpose, SuperposeP};
use qssm_kernels::circuit::superpose::{lcu_weights, s3_weights};
use qssm_kernels::circuit::Program;
use std::ops::Range;

impl Recorder {
    pub(super) fn chunk_pool_rec(
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
        self.put(wts, w);
    }

    /// The streaming attention pool (`Infer::online_softmax_pool`): with the same formulas
    /// as the CPU and GPU backends (an empty state, z = 0, takes m = −∞).
    pub(super) fn online_softmax_pool_rec(
        &self,
        y: &mut RecBuf,
        u: &RecBuf,
        scores: &RecBuf,
        [m, z, acc]: [&mut RecBuf; 3],
    ) {
        let (sv, uv) = (self.val(scores), self.val(u));
        let (mv, zv, av) = (self.val(m), self.val(z), self.val(acc));
        // m_prev = z > 0 ? m : −∞ (B, 1); m′ = max(m_prev, max_t s_t)
        let any = self.binary("Greater", &zv, &self.float_scalar(0.0));
        let prev = self.op(
            "Where",
            &[&any, &mv, &self.float_scalar(f32::NEG_INFINITY)],
            vec![],
        );
        let smax = self.op(
            "ReduceMax",
            &[&sv],
            vec![("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(0))],
        );
        let mn = self.binary("Max", &prev, &smax);
        let r = self.unary("Exp", &self.binary("Sub", &prev, &mn));
        // e_t = e^(s_t − m′) (B, L, 1)
        let one = self.ints(&[1]);
        let e = self.unary(
            "Exp",
            &self.binary("Sub", &sv, &self.binary("Unsqueeze", &mn, &one)),
        );
        let sum_t = |v: &str| self.op("ReduceSum", &[v, &one], vec![("keepdims", Attr::Int(0))]);
        let zn = self.binary("Add", &self.binary("Mul", &zv, &r), &sum_t(&e));
        let an = self.binary(
            "Add",
            &self.binary("Mul", &av, &r),
            &sum_t(&self.binary("Mul", &e, &uv)),
        );
        self.put(y, self.binary("Div", &an, &zn));
        self.put(m, mn);
        self.put(z, zn);
        self.put(acc, an);
    }

    /// `Infer::zero_rows_from`: x times a constant row mask.
    pub(super) fn zero_rows_from_rec(&self, x: &mut RecBuf, from: usize) {
        let l = x.shape[1];
        let mask: Vec<f32> = (0..l).map(|t| if t < from { 1.0 } else { 0.0 }).collect();
        let c = self.constant(
            &format!("row_mask_{l}_from{from}"),
            &[l as i64, 1],
            TensorData::F32(mask),
        );
        let v = self.val(x);
        self.put(x, self.binary("Mul", &v, &c));
    }

    pub(super) fn circuit_rec(
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
        self.put(m, mv);
        if let Some(s) = states {
            self.keep_state(s, st);
        }
    }

    pub(super) fn s3_measure_rec(
        &self,
        m: &mut RecBuf,
        states: [&RecBuf; 3],
        p: &[f32],
        coeffs: usize,
    ) {
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
        self.put(m, mv);
    }

    pub(super) fn circuit_from_rec(
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
        self.put(m, mv);
        self.keep_state(states, out);
    }

    pub(super) fn lcu_rec(&self, phi: &mut RecBuf, states: &RecBuf, p: &[f32], mix: Range<usize>) {
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

    pub(super) fn superpose_rec(
        &self,
        y: &mut RecBuf,
        xs: [&RecBuf; 3],
        p: &[f32],
        sp: &SuperposeP,
    ) {
        // the coefficients are constants of the file, by the backends' one formula
        let (c, n) = sp.coefficients(p);
        let mag = sp.magnitudes(p);
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

    pub(super) fn mix_l1_rec(
        &self,
        y: &mut RecBuf,
        xs: [&RecBuf; 3],
        p: &[f32],
        coeffs: [usize; 3],
        eps: f32,
    ) {
        // y = Σ_k c_k / (Σ|c| + eps) · x_k, the weights constants of the file (f32, as the CPU)
        let w = mix_l1_weights(p, coeffs, eps);
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
}
