//! Backend-against-backend checks of the quantum-feature ops (LayerNorm, padding, chunk
//! pooling, circuits, superposition, and the small glue they need): outputs of one backend,
//! compared with [`super::check::compare`].
use super::check::Gen;
use crate::backend::{circuit_state_words, Act, Backend, QProjP, Segment, Superpose, SuperposeP};
use crate::circuit::qproj::{Affine, QProj};
use crate::circuit::Program;

/// Sizes of one run of [`feature_outputs`].
#[derive(Clone, Copy, Debug)]
pub struct FeatureSize {
    /// B
    pub b: usize,
    /// T (samples per sequence before chunk padding)
    pub t: usize,
    /// chunk size
    pub cs: usize,
    /// F (feature width)
    pub f: usize,
    /// Q qubits
    pub q: usize,
    /// circuit layers
    pub layers: usize,
}

/// Named outputs of every quantum-feature op on backend `be`.
pub fn feature_outputs<B: Backend>(be: &B, s: FeatureSize) -> Vec<(String, Vec<f32>)> {
    let FeatureSize {
        b,
        t,
        cs,
        f,
        q,
        layers,
    } = s;
    let mut out: Vec<(String, Vec<f32>)> = Vec::new();
    let mut g = Gen(777);
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
    // parameters: LayerNorm w, b (f), base row (f), six coefficients
    let np = 3 * f + 6;
    let mut ph = g.vec(np, -0.8, 0.8);
    ph[3 * f + 5] = 0.0; // |c| = 0 path of the magnitude gradient
    let p = be.params_from_host(&ph);
    let mut gr = be.params_from_host(&vec![0.0; np]);
    let mut gh = vec![0.0; np];
    let (w, bb, base) = (0..f, f..2 * f, 2 * f..3 * f);
    let nc = t.div_ceil(cs);
    let rows = nc * cs;

    // glue
    let x = buf(be, &g.vec(b * t * f, -2.0, 2.0), &[b, t, f]);
    let dy_pad = buf(be, &g.vec(b * rows * f, -1.0, 1.0), &[b, rows, f]);
    let mut up = be.alloc(&[b, rows, f]);
    be.pad_time(&mut up, &x);
    out.push(("pad_time".into(), host(be, &up)));
    let mut dx = buf(be, &g.vec(b * t * f, -1.0, 1.0), &[b, t, f]);
    be.pad_time_bwd(&mut dx, &dy_pad);
    out.push(("pad_time_bwd".into(), host(be, &dx)));
    let mut y = be.alloc(&[b, t, f]);
    be.scale(&mut y, &x, 1.75);
    be.axpy(&mut y, -0.5, &dx);
    out.push(("scale+axpy".into(), host(be, &y)));
    be.add_param_row(&mut y, &p, base.clone());
    out.push(("add_param_row".into(), host(be, &y)));
    be.zero_params(&mut gr);
    be.add_param_row_bwd(&mut gr, base.clone(), &x);
    be.params_download(&gr, &mut gh);
    out.push(("add_param_row_bwd".into(), gh[base].to_vec()));
    let mut sg = be.alloc(&[b, t, f]);
    be.act(Act::Sigmoid, &mut sg, &x);
    let mut dsg = be.alloc(&[b, t, f]);
    be.act_bwd(Act::Sigmoid, &mut dsg, &dx, &sg);
    out.push((
        "sigmoid fwd+bwd".into(),
        [host(be, &sg), host(be, &dsg)].concat(),
    ));

    // LayerNorm
    let mut ln = be.alloc(&[b, t, f]);
    let (mut mean, mut rstd) = (be.alloc(&[b, t]), be.alloc(&[b, t]));
    be.layernorm(
        &mut ln,
        [&mut mean, &mut rstd],
        &x,
        &p,
        [w.clone(), bb.clone()],
    );
    out.push(("layernorm".into(), host(be, &ln)));
    let mut dln = be.alloc(&[b, t, f]);
    be.zero_params(&mut gr);
    be.layernorm_bwd(
        &mut dln,
        &mut gr,
        &dx,
        &x,
        [&mean, &rstd],
        &p,
        [w.clone(), bb.clone()],
    );
    be.params_download(&gr, &mut gh);
    out.push((
        "layernorm_bwd".into(),
        [host(be, &dln), gh[w.start..bb.end].to_vec()].concat(),
    ));

    // chunk pooling, all rows and the causal mask
    let scores = buf(be, &g.vec(b * rows, -3.0, 3.0), &[b, rows, 1]);
    let ds = buf(be, &g.vec(b * nc * f, -1.0, 1.0), &[b, nc, f]);
    for valid in [None, Some(t)] {
        let mut sm = be.alloc(&[b, nc, f]);
        let mut wts = be.alloc(&[b, rows]);
        be.chunk_pool(&mut sm, &mut wts, &up, &scores, valid);
        out.push((
            format!("chunk_pool valid={valid:?}"),
            [host(be, &sm), host(be, &wts)].concat(),
        ));
        let mut dup = be.alloc(&[b, rows, f]);
        let mut dsc = be.alloc(&[b, rows, 1]);
        be.chunk_pool_bwd(&mut dup, &mut dsc, &ds, &up, &wts);
        out.push((
            format!("chunk_pool_bwd valid={valid:?}"),
            [host(be, &dup), host(be, &dsc)].concat(),
        ));
    }

    // the streaming pool over every row: the first two rows, then the other t − 2 (scores up
    // to ±6: the running max moves); and zeroed rows
    {
        let uh = g.vec(b * t * f, -1.0, 1.0);
        let sh = g.vec(b * t, -6.0, 6.0);
        let piece = |be: &B, t0: usize, n: usize| {
            let u: Vec<f32> = (0..b)
                .flat_map(|i| uh[(i * t + t0) * f..(i * t + t0 + n) * f].to_vec())
                .collect();
            let sc: Vec<f32> = (0..b)
                .flat_map(|i| sh[i * t + t0..i * t + t0 + n].to_vec())
                .collect();
            (buf(be, &u, &[b, n, f]), buf(be, &sc, &[b, n, 1]))
        };
        let (mut m, mut z, mut acc) = (be.alloc(&[b, 1]), be.alloc(&[b, 1]), be.alloc(&[b, f]));
        let mut y = be.alloc(&[b, f]);
        let mut seen = Vec::new();
        for (t0, n) in [(0, 2), (2, t - 2)] {
            let (u, sc) = piece(be, t0, n);
            be.online_softmax_pool(&mut y, &u, &sc, &mut m, &mut z, &mut acc);
            seen.extend(host(be, &y));
        }
        seen.extend([host(be, &m), host(be, &z), host(be, &acc)].concat());
        out.push(("online_softmax_pool".into(), seen));
        // the streaming Conv3 im2col: two steps of L = t/2 − 1 samples (with the look-ahead
        // sample), the second a prefix of t/4 valid samples
        let l = t / 2 - 1;
        let mut prev = buf(be, &g.vec(b * f, -1.0, 1.0), &[b, f]);
        let mut cols = be.alloc(&[b, l, 3 * f]);
        let mut seen = Vec::new();
        for valid in [l + 1, (t / 4).max(1)] {
            let xs = buf(be, &g.vec(b * f * (l + 1), -1.0, 1.0), &[b, f, l + 1]);
            be.im2col3_step(&mut cols, &mut prev, &xs, valid);
            seen.extend([host(be, &cols), host(be, &prev)].concat());
        }
        out.push(("im2col3_step".into(), seen));
        let mut zr = buf(be, &uh, &[b, t, f]);
        be.zero_rows_from(&mut zr, t / 2);
        out.push(("zero_rows_from".into(), host(be, &zr)));
    }

    // circuits: with an RY encoding (QSSM flavour) and without (QGR flavour)
    let r = b * nc;
    for encoded in [true, false] {
        let prog = Program::unified_ansatz(q, layers, encoded);
        let k = prog.n_theta;
        let theta = buf(be, &g.vec(r * k, -3.2, 3.2), &[b, nc, k]);
        let enc = buf(be, &g.vec(r * q, -3.0, 3.0), &[b, nc, q]);
        let e = encoded.then_some(&enc);
        let mut m = be.alloc(&[b, nc, 3 * q]);
        let mut states = be.alloc(&[b, nc, circuit_state_words(q)]);
        be.circuit(&mut m, Some(&mut states), &theta, e, &prog);
        out.push((format!("circuit encoded={encoded}"), host(be, &m)));
        let mut m2 = be.alloc(&[b, nc, 3 * q]);
        be.circuit(&mut m2, None, &theta, e, &prog);
        out.push((
            format!("circuit encoded={encoded} no states"),
            host(be, &m2),
        ));
        let dm = buf(be, &g.vec(r * 3 * q, -1.0, 1.0), &[b, nc, 3 * q]);
        let dth0 = g.vec(r * k, -0.1, 0.1);
        for stored in [true, false] {
            let mut dth = buf(be, &dth0, &[b, nc, k]);
            let mut de = be.alloc(&[b, nc, q]);
            let st = stored.then_some(&states);
            be.circuit_bwd(
                &mut dth,
                encoded.then_some(&mut de),
                &dm,
                st,
                &theta,
                e,
                &prog,
            );
            out.push((
                format!("circuit_bwd encoded={encoded} stored={stored}"),
                [host(be, &dth), host(be, &de)].concat(),
            ));
        }
    }

    // Conv3 im2col (x read as (B, C, T) = (B, 13, 40)) and scaled column segments
    let mut cols = be.alloc(&[b, f, 3 * t]);
    let x_ct = buf(be, &host(be, &x), &[b, t, f]);
    be.im2col3(&mut cols, &x_ct);
    out.push(("im2col3".into(), host(be, &cols)));
    let segs = [
        Segment {
            width: 10,
            period: 5,
            prefix: 3,
            scale: Some(1),
        },
        Segment {
            width: 7,
            period: 7,
            prefix: 7,
            scale: None,
        },
        Segment {
            width: 23,
            period: 23,
            prefix: 23,
            scale: Some(0),
        },
    ];
    let sc = buf(be, &g.vec(b * t * 2, -1.5, 1.5), &[b, t, 2]);
    let mut ys = be.alloc(&[b, t, f]);
    be.scale_segments(&mut ys, &x, &sc, &segs);
    out.push(("scale_segments".into(), host(be, &ys)));
    let mut dxs = be.alloc(&[b, t, f]);
    let mut dsc = be.alloc(&[b, t, 2]);
    be.scale_segments_bwd(&mut dxs, &mut dsc, &dx, &x, &sc, &segs);
    out.push((
        "scale_segments_bwd".into(),
        [host(be, &dxs), host(be, &dsc)].concat(),
    ));

    // L2 row normalisation
    let mut yn = be.alloc(&[b, t, f]);
    let mut nrm = be.alloc(&[b, t]);
    be.l2_normalize(&mut yn, &mut nrm, &x, 1e-8);
    let mut dxn = be.alloc(&[b, t, f]);
    be.l2_normalize_bwd(&mut dxn, &dx, &x, &nrm);
    out.push((
        "l2_normalize fwd+bwd".into(),
        [host(be, &yn), host(be, &dxn)].concat(),
    ));

    // row means (2b/2c's ds)
    let mut rm = be.alloc(&[b, t, 1]);
    be.row_mean(&mut rm, &x);
    let mut drm = buf(be, &g.vec(b * t * f, -1.0, 1.0), &[b, t, f]);
    be.row_mean_bwd(&mut drm, &rm);
    out.push((
        "row_mean fwd+bwd".into(),
        [host(be, &rm), host(be, &drm)].concat(),
    ));

    // chunk means (a short last chunk), time slices, the gated cell
    let mut cm = be.alloc(&[b, nc, f]);
    be.chunk_mean(&mut cm, &x, cs);
    out.push(("chunk_mean".into(), host(be, &cm)));
    let mut dcm = buf(be, &g.vec(b * t * f, -1.0, 1.0), &[b, t, f]);
    be.chunk_mean_bwd(&mut dcm, &ds, cs);
    out.push(("chunk_mean_bwd".into(), host(be, &dcm)));
    let mut sl = be.alloc(&[b, f]);
    be.time_slice(&mut sl, &x, t - 2);
    be.time_slice_bwd(&mut dcm, &sl, 1);
    out.push((
        "time_slice+bwd".into(),
        [host(be, &sl), host(be, &dcm)].concat(),
    ));
    let hd = f / 4;
    let pre = buf(be, &g.vec(b * 4 * hd, -2.0, 2.0), &[b, 4 * hd]);
    let h_prev = buf(be, &g.vec(b * hd, -1.0, 1.0), &[b, hd]);
    let dh = buf(be, &g.vec(b * hd, -1.0, 1.0), &[b, hd]);
    for with_prev in [true, false] {
        let hp = with_prev.then_some(&h_prev);
        let (mut h, mut gates, mut tc) = (
            be.alloc(&[b, hd]),
            be.alloc(&[b, 4 * hd]),
            be.alloc(&[b, hd]),
        );
        be.gated_cell(&mut h, [&mut gates, &mut tc], &pre, hp);
        out.push((
            format!("gated_cell h_prev={with_prev}"),
            [host(be, &h), host(be, &gates), host(be, &tc)].concat(),
        ));
        let (mut dpre, mut dhp) = (be.alloc(&[b, 4 * hd]), be.alloc(&[b, hd]));
        be.gated_cell_bwd(&mut dpre, Some(&mut dhp), &dh, [&gates, &tc], hp);
        out.push((
            format!("gated_cell_bwd h_prev={with_prev}"),
            [host(be, &dpre), host(be, &dhp)].concat(),
        ));
    }

    // the S3 core over three circuits' states, and the adjoint from a state gradient
    {
        let prog = Program::unified_ansatz(q, layers, true);
        let k = prog.n_theta;
        let enc = buf(be, &g.vec(r * q, -3.0, 3.0), &[b, nc, q]);
        let thetas: Vec<B::Buf> = (0..3)
            .map(|_| buf(be, &g.vec(r * k, -3.2, 3.2), &[b, nc, k]))
            .collect();
        let mut sts: Vec<B::Buf> = (0..3)
            .map(|_| be.alloc(&[b, nc, circuit_state_words(q)]))
            .collect();
        let mut mk = be.alloc(&[b, nc, 3 * q]);
        for (th, st) in thetas.iter().zip(sts.iter_mut()) {
            be.circuit(&mut mk, Some(st), th, Some(&enc), &prog);
        }
        // coefficients: the first six parameters
        let mut m3 = be.alloc(&[b, nc, 3 * q]);
        be.s3_measure(&mut m3, [&sts[0], &sts[1], &sts[2]], &p, 0);
        out.push(("s3_measure".into(), host(be, &m3)));
        let dm3 = buf(be, &g.vec(r * 3 * q, -1.0, 1.0), &[b, nc, 3 * q]);
        let mut gs: Vec<B::Buf> = (0..3)
            .map(|_| be.alloc(&[b, nc, circuit_state_words(q)]))
            .collect();
        be.zero_params(&mut gr);
        {
            let [g0, g1, g2] = &mut gs[..] else {
                unreachable!("three states")
            };
            be.s3_measure_bwd(
                [g0, g1, g2],
                &mut gr,
                &dm3,
                [&sts[0], &sts[1], &sts[2]],
                &p,
                0,
            );
        }
        be.params_download(&gr, &mut gh);
        let mut dth = be.alloc(&[b, nc, k]);
        let mut de = be.alloc(&[b, nc, q]);
        be.circuit_bwd_state(
            &mut dth,
            Some(&mut de),
            &gs[1],
            &sts[1],
            &thetas[1],
            Some(&enc),
            &prog,
        );
        out.push((
            "s3_measure_bwd+circuit_bwd_state".into(),
            [gh[..6].to_vec(), host(be, &dth), host(be, &de)].concat(),
        ));

        // 2a: the LCU of the nc chunk states of every sample (one zero coefficient: the
        // |m| = 0 subgradient), a QFF layer from the mixed state, and back to the chunk
        // circuits' angles
        let mut mix = g.vec(2 * nc, 0.0, 1.0);
        mix[0] = 0.0;
        mix[1] = 0.0;
        let lp = be.params_from_host(&mix);
        let mut glp = be.params_from_host(&vec![0.0; 2 * nc]);
        let mut phi = be.alloc(&[b, circuit_state_words(q)]);
        be.lcu(&mut phi, &sts[0], &lp, 0..2 * nc);
        let mut qff = Program::empty(q);
        qff.push_unified_layer(0);
        let tq = buf(be, &g.vec(b * 5 * q, -3.2, 3.2), &[b, 5 * q]);
        let mut mq = be.alloc(&[b, 3 * q]);
        let mut sq = be.alloc(&[b, circuit_state_words(q)]);
        be.circuit_from(&mut mq, &mut sq, &phi, &tq, &qff);
        out.push(("lcu+circuit_from".into(), host(be, &mq)));
        let dmq = buf(be, &g.vec(b * 3 * q, -1.0, 1.0), &[b, 3 * q]);
        let mut dtq = be.alloc(&[b, 5 * q]);
        let mut gphi = be.alloc(&[b, circuit_state_words(q)]);
        be.circuit_from_bwd(&mut dtq, &mut gphi, &dmq, &sq, &tq, &qff);
        let mut gst = be.alloc(&[b, nc, circuit_state_words(q)]);
        be.lcu_bwd(&mut gst, &mut glp, &gphi, &sts[0], &lp, 0..2 * nc);
        let mut gmix = vec![0.0; 2 * nc];
        be.params_download(&glp, &mut gmix);
        let mut dth0 = be.alloc(&[b, nc, k]);
        let mut de0 = be.alloc(&[b, nc, q]);
        be.circuit_bwd_state(
            &mut dth0,
            Some(&mut de0),
            &gst,
            &sts[0],
            &thetas[0],
            Some(&enc),
            &prog,
        );
        out.push((
            "circuit_from_bwd+lcu_bwd+circuit_bwd_state".into(),
            [host(be, &dtq), gmix, host(be, &dth0), host(be, &de0)].concat(),
        ));
    }

    // superposition, all three modes
    let wq = 3 * q;
    let xs: Vec<B::Buf> = (0..3)
        .map(|_| buf(be, &g.vec(r * wq, -1.0, 1.0), &[b, nc, wq]))
        .collect();
    for mode in [
        Superpose::Concat,
        Superpose::Sum,
        Superpose::Modulus,
        Superpose::ModulusRaw,
    ] {
        let sp = SuperposeP {
            coeffs: [0, 1, 2].map(|k| [3 * f + 2 * k, 3 * f + 2 * k + 1]),
            eps: 1e-8,
            mode,
        };
        let yw = if mode == Superpose::Concat {
            3 * wq
        } else {
            wq
        };
        let mut ys = be.alloc(&[b, nc, yw]);
        be.superpose(&mut ys, [&xs[0], &xs[1], &xs[2]], &p, &sp);
        out.push((format!("superpose {mode:?}"), host(be, &ys)));
        let dys = buf(be, &g.vec(r * yw, -1.0, 1.0), &[b, nc, yw]);
        let mut d: Vec<B::Buf> = (0..3).map(|_| be.alloc(&[b, nc, wq])).collect();
        be.zero_params(&mut gr);
        let [d0, d1, d2] = &mut d[..] else {
            unreachable!("three branches")
        };
        be.superpose_bwd(
            [d0, d1, d2],
            &mut gr,
            &dys,
            [&xs[0], &xs[1], &xs[2]],
            &p,
            &sp,
        );
        be.params_download(&gr, &mut gh);
        out.push((
            format!("superpose_bwd {mode:?}"),
            [
                host(be, &d[0]),
                host(be, &d[1]),
                host(be, &d[2]),
                gh[3 * f..].to_vec(),
            ]
            .concat(),
        ));
    }
    qproj_outputs(be, &mut out, &mut g);
    out
}

/// The quantum projection (HQC Mamba) in each affine mode, with and without rescale, a
/// register wider than the input (ancillas) and one narrower than the readout allows, forward
/// and backward (dx, dW, dγ, dβ).
fn qproj_outputs<B: Backend>(be: &B, out: &mut Vec<(String, Vec<f32>)>, g: &mut Gen) {
    for (d_in, d_out, layers, affine, rescale) in [
        (5, 12, 2, Affine::PerOutput, true),
        (9, 3, 1, Affine::Scalar, false),
        (6, 8, 3, Affine::None, true),
    ] {
        let qp = QProj::new(d_in, d_out, layers, affine, rescale);
        let (nw, na) = (qp.n_weights(), affine.len(d_out));
        let np = nw + 2 * na;
        let ph = g.vec(np, 0.0, 2.0);
        let p = be.params_from_host(&ph);
        let mut gr = be.params_from_host(&vec![0.0; np]);
        let args = QProjP {
            qp,
            w: 0..nw,
            gamma: nw..nw + na,
            beta: nw + na..np,
        };
        let rows = 37; // more rows than one block's warps
        let mut x = be.alloc(&[rows, d_in]);
        be.upload(&mut x, &g.vec(rows * d_in, -1.0, 1.0));
        let mut y = be.alloc(&[rows, d_out]);
        be.qproj(&mut y, &x, &p, &args);
        let mut yh = vec![0.0; rows * d_out];
        be.download(&y, &mut yh);
        let name = format!("qproj {d_in}→{d_out} L{layers} {affine:?} rescale {rescale}");
        out.push((name.clone(), yh));
        let mut dy = be.alloc(&[rows, d_out]);
        be.upload(&mut dy, &g.vec(rows * d_out, -1.0, 1.0));
        let mut dx = be.alloc(&[rows, d_in]);
        be.fill(&mut dx, 0.5); // accumulates
        be.qproj_bwd(Some(&mut dx), &mut gr, &dy, &x, &p, &args);
        let mut dxh = vec![0.0; rows * d_in];
        be.download(&dx, &mut dxh);
        let mut gh = vec![0.0; np];
        be.params_download(&gr, &mut gh);
        out.push((format!("{name} backward"), [dxh, gh].concat()));
    }
}
