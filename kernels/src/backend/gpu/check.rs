//! Backend-against-backend checks: every [`Backend`] op run on the same inputs by any two
//! backends (the CPU oracle and a GPU backend, emulated or real), outputs compared.
//! Used by `kernels/tests/gpu_emu.rs` (small sizes, on the CPU) and `gpu_cuda.rs` (the
//! training sizes, on a GPU).
use crate::backend::{
    Act, AdamBufs, Backend, ConvP, DropoutCfg, LinearP, ScanGradBufs, ScanInputs, ScanP, Targets,
};
use crate::ops::adam::AdamScalars;

/// Sizes of one check run.
#[derive(Clone, Copy, Debug)]
pub struct CheckSize {
    /// B
    pub b: usize,
    /// L
    pub l: usize,
    /// D (input width of the linear layers, width of the row-wise ops)
    pub d: usize,
    /// E (scan channels, linear output width)
    pub e: usize,
    /// N (`d_state`)
    pub n: usize,
    /// H (attention heads; D must be a multiple)
    pub heads: usize,
    /// conv1d kernel size
    pub k: usize,
}

/// Deterministic inputs (splitmix64 → uniform in [lo, hi)).
pub(super) struct Gen(pub(super) u64);
impl Gen {
    pub(super) fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
    }
    pub(super) fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| lo + (hi - lo) * self.next()).collect()
    }
}

/// Named outputs of every op on backend `be` (same names and order for every backend).
pub fn op_outputs<B: Backend>(be: &B, s: CheckSize) -> Vec<(String, Vec<f32>)> {
    let mut out: Vec<(String, Vec<f32>)> = Vec::new();
    let mut g = Gen(12345);
    let CheckSize {
        b,
        l,
        d,
        e,
        n,
        heads,
        k,
    } = s;
    let rows = b * l;
    let host = |be: &B, x: &B::Buf| {
        let mut v = vec![0.0; be.numel(x)];
        be.download(x, &mut v);
        v
    };
    let buf = |be: &B, v: &[f32], shape: &[usize]| {
        let mut x = be.alloc(shape);
        be.upload(&mut x, v);
        x
    };
    // parameters: W (e×d), bias (e), rms w (d), conv w (e×k), conv b (e), A_log (e×n), D (e),
    // table (l×d), mix coefficients (3)
    let sizes = [e * d, e, d, e * k, e, e * n, e, l * d, 3];
    let mut ranges = Vec::new();
    let mut off = 0;
    for sz in sizes {
        ranges.push(off..off + sz);
        off += sz;
    }
    let mut ph = g.vec(off, -0.5, 0.5);
    ph[ranges[8].start] = 0.7;
    ph[ranges[8].start + 1] = -0.4;
    ph[ranges[8].start + 2] = 0.0; // sgn(0) = 0 path
    let p = be.params_from_host(&ph);
    let mut gr = be.params_from_host(&vec![0.0; off]);
    let xd = buf(be, &g.vec(rows * d, -2.0, 2.0), &[b, l, d]);
    let xe = buf(be, &g.vec(rows * e, -2.0, 2.0), &[b, l, e]);
    let ye = buf(be, &g.vec(rows * e, -1.0, 1.0), &[b, l, e]);

    // glue and element-wise
    let mut y = be.alloc(&[b, l, e]);
    be.fill(&mut y, 0.25);
    be.add_assign(&mut y, &xe);
    out.push(("fill+add".into(), host(be, &y)));
    be.mul(&mut y, &xe, &ye);
    be.mul_acc(&mut y, &xe, &ye);
    out.push(("mul+mul_acc".into(), host(be, &y)));
    let cm_in = buf(be, &g.vec(rows * d, -1.0, 1.0), &[b, d, l]);
    let mut tm = be.alloc(&[b, l, d]);
    be.to_token_major(&mut tm, &cm_in);
    out.push(("to_token_major".into(), host(be, &tm)));
    let (w1, w2) = (e / 3, e - e / 3);
    let (mut p1, mut p2) = (be.alloc(&[b, l, w1]), be.alloc(&[b, l, w2]));
    be.split_cols(&xe, &mut [&mut p1, &mut p2]);
    out.push(("split_cols".into(), [host(be, &p1), host(be, &p2)].concat()));
    let mut cat = be.alloc(&[b, l, e]);
    be.concat_cols(&mut cat, &[&p2, &p1]);
    out.push(("concat_cols".into(), host(be, &cat)));
    let mut rv = be.alloc(&[b, l, e]);
    be.reverse_time(&mut rv, &xe);
    be.reverse_time_acc(&mut rv, &ye);
    out.push(("reverse_time".into(), host(be, &rv)));
    let mut mt = be.alloc(&[b, e]);
    be.mean_time(&mut mt, &xe);
    out.push(("mean_time".into(), host(be, &mt)));
    // streaming mean: twice over the whole sequence from a running state (count L, then 2L)
    let (mut rs, mut rc) = (be.alloc(&[b, e]), be.alloc(&[b, 1]));
    let mut rm = be.alloc(&[b, e]);
    be.running_mean(&mut rm, &xe, &mut rs, &mut rc);
    let first = host(be, &rm);
    be.running_mean(&mut rm, &ye, &mut rs, &mut rc);
    out.push((
        "running_mean".into(),
        [first, host(be, &rm), host(be, &rs), host(be, &rc)].concat(),
    ));
    let mut mtb = be.alloc(&[b, l, e]);
    be.copy(&mut mtb, &ye);
    be.mean_time_bwd(&mut mtb, &mt);
    out.push(("copy+mean_time_bwd".into(), host(be, &mtb)));
    let mut tab = be.alloc(&[b, l, d]);
    be.copy(&mut tab, &xd);
    be.add_table_rows(&mut tab, &p, ranges[7].clone());
    out.push(("add_table_rows".into(), host(be, &tab)));
    for act in [Act::Silu, Act::Softplus, Act::Gelu, Act::Relu, Act::Tanh] {
        let mut a = be.alloc(&[b, l, e]);
        be.act(act, &mut a, &xe);
        let saved = if act == Act::Tanh { &a } else { &xe };
        let mut da = be.alloc(&[b, l, e]);
        be.copy(&mut da, &ye);
        be.act_bwd(act, &mut da, &ye, saved);
        out.push((format!("act {act:?}"), host(be, &a)));
        out.push((format!("act_bwd {act:?}"), host(be, &da)));
    }
    let mut a = be.alloc(&[e, n]);
    be.neg_exp(&mut a, &p, ranges[5].clone());
    out.push(("neg_exp".into(), host(be, &a)));
    let seeds: Vec<u64> = (0..b as u64).map(|i| i * 7919 + 3).collect();
    let cfg = DropoutCfg {
        p: 0.3,
        seeds: &seeds,
    };
    let mut dx = be.alloc(&[b, l, e]);
    be.copy(&mut dx, &xe);
    let mut mask = be.alloc(&[b, l, e]);
    be.dropout(&mut dx, &mut mask, cfg, 5);
    out.push(("dropout".into(), [host(be, &dx), host(be, &mask)].concat()));

    // layers with parameters
    for bias in [true, false] {
        let lin = LinearP {
            w: ranges[0].clone(),
            b: bias.then(|| ranges[1].clone()),
            d_in: d,
            d_out: e,
        };
        let mut yl = be.alloc(&[b, l, e]);
        be.linear(&mut yl, &xd, &p, &lin);
        out.push((format!("linear bias={bias}"), host(be, &yl)));
        let mut dxl = be.alloc(&[b, l, d]);
        be.zero_params(&mut gr);
        be.linear_bwd(Some(&mut dxl), &mut gr, &ye, &xd, &p, &lin);
        out.push((format!("linear_bwd dx bias={bias}"), host(be, &dxl)));
        let mut gh = vec![0.0; off];
        be.params_download(&gr, &mut gh);
        out.push((
            format!("linear_bwd dW,db bias={bias}"),
            gh[..e * d + e].to_vec(),
        ));
    }
    let mut yn = be.alloc(&[b, l, d]);
    let mut rstd = be.alloc(&[b, l]);
    be.rmsnorm(&mut yn, &mut rstd, &xd, &p, ranges[2].clone());
    out.push(("rmsnorm".into(), [host(be, &yn), host(be, &rstd)].concat()));
    let dyn_ = buf(be, &g.vec(rows * d, -1.0, 1.0), &[b, l, d]);
    let mut dxn = be.alloc(&[b, l, d]);
    be.zero_params(&mut gr);
    be.rmsnorm_bwd(&mut dxn, &mut gr, &dyn_, &xd, &rstd, &p, ranges[2].clone());
    let mut gh = vec![0.0; off];
    be.params_download(&gr, &mut gh);
    out.push((
        "rmsnorm_bwd".into(),
        [host(be, &dxn), gh[ranges[2].clone()].to_vec()].concat(),
    ));
    let conv = ConvP {
        w: ranges[3].clone(),
        b: ranges[4].clone(),
        e,
        k,
    };
    let mut yc = be.alloc(&[b, l, e]);
    be.conv1d(&mut yc, &xe, &p, &conv);
    out.push(("conv1d".into(), host(be, &yc)));
    // streaming form: the sequence in two chunks (L₁ = ⌈L/2⌉, then the rest) through one
    // history, and the history afterwards
    let l1 = l.div_ceil(2);
    let mut hist = be.alloc(&[b, k - 1, e]);
    let mut steps = Vec::new();
    for (t0, n) in [(0, l1), (l1, l - l1)] {
        if n == 0 {
            continue;
        }
        let xs: Vec<f32> = host(be, &xe)
            .chunks_exact(l * e)
            .flat_map(|r| r[t0 * e..(t0 + n) * e].to_vec())
            .collect();
        let xs = buf(be, &xs, &[b, n, e]);
        let mut ys = be.alloc(&[b, n, e]);
        be.conv1d_step(&mut ys, &xs, &mut hist, &p, &conv);
        steps.push(host(be, &ys));
    }
    steps.push(host(be, &hist));
    out.push(("conv1d_step".into(), steps.concat()));
    let mut dxc = be.alloc(&[b, l, e]);
    be.zero_params(&mut gr);
    be.conv1d_bwd(&mut dxc, &mut gr, &ye, &xe, &p, &conv);
    be.params_download(&gr, &mut gh);
    out.push((
        "conv1d_bwd".into(),
        [host(be, &dxc), gh[ranges[3].start..ranges[4].end].to_vec()].concat(),
    ));

    // selective scan: both A layouts, both input terms, with and without stored states
    let delta = buf(be, &g.vec(rows * e, 0.01, 0.3), &[b, l, e]);
    let bm = buf(be, &g.vec(rows * n, -1.0, 1.0), &[b, l, n]);
    let cmm = buf(be, &g.vec(rows * n, -1.0, 1.0), &[b, l, n]);
    let h0 = buf(be, &g.vec(b * e * n, -0.5, 0.5), &[b, e, n]);
    let dhl = buf(be, &g.vec(b * e * n, -0.5, 0.5), &[b, e, n]);
    let a_shared = {
        let mut a = be.alloc(&[n]);
        be.neg_exp(&mut a, &p, ranges[5].start..ranges[5].start + n);
        a
    };
    for (a_row_stride, dt_on_b, store, reverse) in [
        (n, true, true, false),
        (0, true, false, false),
        (n, false, true, false),
        (n, true, true, true),
        (0, true, false, true),
    ] {
        let dims = ScanP {
            e,
            n,
            a_row_stride,
            dt_on_b,
            reverse,
        };
        let av = if a_row_stride == 0 { &a_shared } else { &a };
        let sx = || ScanInputs::<B> {
            x: &xe,
            delta: &delta,
            a: av,
            bm: &bm,
            cm: &cmm,
            h0: Some(&h0),
        };
        let mut ys = be.alloc(&[b, l, e]);
        let mut hl = be.alloc(&[b, e, n]);
        let mut st = be.alloc(&[b, l + 1, e, n]);
        be.scan(
            &mut ys,
            Some(&mut hl),
            store.then_some(&mut st),
            sx(),
            &p,
            ranges[6].clone(),
            dims,
        );
        let tag =
            format!("stride={a_row_stride} dt_on_b={dt_on_b} states={store} reverse={reverse}");
        out.push((
            format!("scan {tag}"),
            [host(be, &ys), host(be, &hl)].concat(),
        ));
        let mut gx = be.alloc(&[b, l, e]);
        let mut gdt = be.alloc(&[b, l, e]);
        let mut ga = be.alloc(be.shape(av));
        let mut gb = be.alloc(&[b, l, n]);
        let mut gc = be.alloc(&[b, l, n]);
        let mut gh0 = be.alloc(&[b, e, n]);
        be.zero_params(&mut gr);
        be.scan_bwd(
            ScanGradBufs {
                dx: &mut gx,
                ddelta: &mut gdt,
                da: &mut ga,
                dbm: &mut gb,
                dcm: &mut gc,
                dh0: Some(&mut gh0),
            },
            &mut gr,
            &ye,
            Some(&dhl),
            store.then_some(&st),
            sx(),
            &p,
            ranges[6].clone(),
            dims,
        );
        be.params_download(&gr, &mut gh);
        for (nm, v) in [
            ("dx", host(be, &gx)),
            ("dΔ", host(be, &gdt)),
            ("dA", host(be, &ga)),
            ("dB", host(be, &gb)),
            ("dC", host(be, &gc)),
            ("dh0", host(be, &gh0)),
            ("dD", gh[ranges[6].clone()].to_vec()),
        ] {
            out.push((format!("scan_bwd {nm} {tag}"), v));
        }
    }

    // attention with a dropout mask, and without
    let q = buf(be, &g.vec(rows * d, -1.0, 1.0), &[b, l, d]);
    let kk = buf(be, &g.vec(rows * d, -1.0, 1.0), &[b, l, d]);
    let v = buf(be, &g.vec(rows * d, -1.0, 1.0), &[b, l, d]);
    let dout = buf(be, &g.vec(rows * d, -1.0, 1.0), &[b, l, d]);
    let mut am = be.alloc(&[b, heads, l, l]);
    be.dropout_mask(
        &mut am,
        DropoutCfg {
            p: 0.2,
            seeds: &seeds,
        },
        9,
    );
    for masked in [true, false] {
        let mut o = be.alloc(&[b, l, d]);
        let mut probs = be.alloc(&[b, heads, l, l]);
        let m = masked.then_some(&am);
        be.attention(&mut o, &mut probs, &q, &kk, &v, m, heads);
        out.push((
            format!("attention masked={masked}"),
            [host(be, &o), host(be, &probs)].concat(),
        ));
        let (mut dq, mut dk, mut dv) = (
            be.alloc(&[b, l, d]),
            be.alloc(&[b, l, d]),
            be.alloc(&[b, l, d]),
        );
        be.attention_bwd(
            &mut dq,
            &mut dk,
            &mut dv,
            &dout,
            [&q, &kk, &v],
            &probs,
            m,
            heads,
        );
        out.push((
            format!("attention_bwd masked={masked}"),
            [host(be, &dq), host(be, &dk), host(be, &dv)].concat(),
        ));
    }

    // 1c's mix
    let coeffs = [ranges[8].start, ranges[8].start + 1, ranges[8].start + 2];
    let mut ym = be.alloc(&[b, l, e]);
    be.mix_l1(&mut ym, [&xe, &ye, &yc], &p, coeffs, 1e-8);
    out.push(("mix_l1".into(), host(be, &ym)));
    let (mut d0, mut d1, mut d2) = (
        be.alloc(&[b, l, e]),
        be.alloc(&[b, l, e]),
        be.alloc(&[b, l, e]),
    );
    be.zero_params(&mut gr);
    be.mix_l1_bwd(
        [&mut d0, &mut d1, &mut d2],
        &mut gr,
        &ye,
        [&xe, &ye, &yc],
        &p,
        coeffs,
        1e-8,
    );
    be.params_download(&gr, &mut gh);
    out.push((
        "mix_l1_bwd".into(),
        [
            host(be, &d0),
            host(be, &d1),
            host(be, &d2),
            gh[ranges[8].clone()].to_vec(),
        ]
        .concat(),
    ));

    // objective and gradient buffer ops
    let logits = buf(be, &g.vec(b * 3, -3.0, 3.0), &[b, 3]);
    let mut dl = be.alloc(&[b, 3]);
    let classes: Vec<usize> = (0..b.saturating_sub(1)).map(|i| i % 3).collect();
    let loss = be.loss(&mut dl, &logits, Targets::Classes(&classes));
    out.push((
        "loss ce (padded)".into(),
        [vec![loss], host(be, &dl)].concat(),
    ));
    let vals = g.vec(b * 3, -1.0, 1.0);
    let loss = be.loss(&mut dl, &logits, Targets::Values(&vals));
    out.push(("loss mse".into(), [vec![loss], host(be, &dl)].concat()));
    let pn = be.params_from_host(&ph);
    let norm = be.grad_norm(&pn);
    let mut ps = be.params_from_host(&ph);
    be.scale_params(&mut ps, 0.5);
    be.params_download(&ps, &mut gh);
    out.push((
        "grad_norm+scale".into(),
        [vec![norm as f32], gh.clone()].concat(),
    ));

    // the optimiser step: clipped (the norm of these gradients is > 1) and not, AdamW and
    // Adam with L2 decay, a frozen range
    for (clip, decoupled) in [(Some(1.0), true), (None, false)] {
        let mut pp = be.params_from_host(&ph);
        let mut gg = be.params_from_host(&g.vec(off, -0.3, 0.3));
        let mut m = be.params_from_host(&g.vec(off, -0.01, 0.01));
        let mut v = be.params_from_host(&g.vec(off, 0.0, 1e-4));
        let mut act = vec![1.0; off];
        act[ranges[1].clone()].fill(0.0);
        let active = be.params_from_host(&act);
        for t in 1..=2 {
            let bias = (
                -(1e-3 / (1.0 - 0.9f64.powi(t))) as f32,
                (1.0 - 0.999f64.powi(t)).sqrt() as f32,
            );
            let s = AdamScalars::new(1e-3, (0.9, 0.999), 1e-8, 1e-2, decoupled, bias);
            let bufs = AdamBufs::<B> {
                p: &mut *pp,
                g: &mut *gg,
                m: &mut *m,
                v: &mut *v,
                active: &*active,
            };
            be.adam_step(bufs, clip, &s);
        }
        let mut res = Vec::new();
        for x in [&*pp, &*gg, &*m, &*v] {
            be.params_download(x, &mut gh);
            res.extend_from_slice(&gh);
        }
        out.push((
            format!("adam_step clip={clip:?} decoupled={decoupled}"),
            res,
        ));
    }
    out
}

/// Outputs of a linear layer and its backward over `rows` rows (long enough, with few output
/// tiles, for the weight gradient to take the GEMM's split-K path).
pub fn linear_outputs<B: Backend>(
    be: &B,
    rows: usize,
    d_in: usize,
    d_out: usize,
) -> Vec<(String, Vec<f32>)> {
    let mut g = Gen(777);
    let n = d_out * d_in + d_out;
    let p = be.params_from_host(&g.vec(n, -0.5, 0.5));
    let mut gr = be.params_from_host(&vec![0.0; n]);
    let mut x = be.alloc(&[rows, d_in]);
    be.upload(&mut x, &g.vec(rows * d_in, -1.0, 1.0));
    let mut dy = be.alloc(&[rows, d_out]);
    be.upload(&mut dy, &g.vec(rows * d_out, -1.0, 1.0));
    let lin = LinearP {
        w: 0..d_out * d_in,
        b: Some(d_out * d_in..n),
        d_in,
        d_out,
    };
    let mut y = be.alloc(&[rows, d_out]);
    be.linear(&mut y, &x, &p, &lin);
    let mut dx = be.alloc(&[rows, d_in]);
    be.linear_bwd(Some(&mut dx), &mut gr, &dy, &x, &p, &lin);
    let mut gh = vec![0.0; n];
    be.params_download(&gr, &mut gh);
    let host = |x: &B::Buf| {
        let mut v = vec![0.0; be.numel(x)];
        be.download(x, &mut v);
        v
    };
    vec![
        ("linear".into(), host(&y)),
        ("linear_bwd dx".into(), host(&dx)),
        ("linear_bwd dW,db".into(), gh),
    ]
}

/// Compares two runs of [`op_outputs`]: for each op, the largest |a − b| relative to
/// max(1, max |a|). Returns one line per op and whether all are within `tol`.
pub fn compare(
    oracle: &[(String, Vec<f32>)],
    other: &[(String, Vec<f32>)],
    tol: f32,
) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let mut ok = oracle.len() == other.len();
    for ((na, a), (nb, b)) in oracle.iter().zip(other) {
        assert_eq!(na, nb, "op lists differ");
        let scale = a.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let err = if a.len() != b.len() {
            f32::INFINITY
        } else {
            a.iter().zip(b).fold(0.0f32, |m, (x, y)| {
                m.max(((x - y) / scale).abs())
                    .max(if y.is_nan() { f32::INFINITY } else { 0.0 })
            })
        };
        let pass = err <= tol;
        ok &= pass;
        lines.push(format!(
            "{:<48} n={:<8} rel.err={err:.2e} {}",
            na,
            a.len(),
            if pass { "ok" } else { "FAIL" }
        ));
    }
    (lines, ok)
}
