//! Selective SSM with input-dependent Δ, B, C (Mamba S6), in the two flavours of the reference:
//!
//! * `MambaSelectiveSSM` of `models/QuantumSSM.py` (1b, 1c; spec §3.3): A_log (N) shared by
//!   all channels, dt_rank = E/16, an extra `out_proj` (E→E) applied to the scan output;
//! * `SelectiveSSM` of `models/TrueClassicalMamba.py` (3b; spec §3.6): A_log (E, N),
//!   dt_rank = ⌈d_model/16⌉, `x_proj` owned by the enclosing block, no out_proj.
//!
//! Both: p = x_proj(x) split [δ (R) | B (N) | C (N)], Δ = softplus(dt_proj(δ)), then the scan
//! of [`qssm_kernels::ops::scan`] with A = −exp(A_log).
use super::linear::Linear;
use crate::params::{Init, ParamLayout};
use qssm_kernels::ops::activation::{softplus_backward, softplus_forward};
use qssm_kernels::ops::scan::{scan_backward, scan_forward, ScanDims, ScanGrads};
use std::ops::Range;

/// Parameter names of one SSM (they differ between the two reference files).
pub struct SsmNames<'a> {
    /// e.g. `mamba_layers.0.ssm.x_proj` or `layers.0.x_proj`
    pub x_proj: &'a str,
    /// e.g. `mamba_layers.0.ssm.dt_proj`
    pub dt_proj: &'a str,
    /// e.g. `mamba_layers.0.ssm.A_log`
    pub a_log: &'a str,
    /// e.g. `mamba_layers.0.ssm.D`
    pub d: &'a str,
    /// `Some(name)` for the QuantumSSM.py flavour's inner out_proj
    pub out_proj: Option<&'a str>,
}

/// One selective SSM over E channels with state size N and dt_rank R.
#[derive(Clone, Debug)]
pub struct SelectiveSsm {
    x_proj: Linear,
    dt_proj: Linear,
    a_log: Range<usize>,
    d: Range<usize>,
    out_proj: Option<Linear>,
    dims: ScanDims,
    r: usize,
}

/// Activations saved by [`SelectiveSsm::forward`].
#[derive(Clone, Debug, Default)]
pub struct SsmCache {
    /// x_proj output (L, R+2N)
    xdbl: Vec<f32>,
    /// δ (L, R)
    dl: Vec<f32>,
    /// dt_proj output before softplus (L, E)
    dt_pre: Vec<f32>,
    /// Δ (L, E)
    delta: Vec<f32>,
    /// B (L, N), C (L, N)
    bm: Vec<f32>,
    cm: Vec<f32>,
    /// A = −exp(A_log)
    a: Vec<f32>,
    /// states (L+1, E, N)
    pub hs: Vec<f32>,
    /// scan output before out_proj (L, E)
    ys: Vec<f32>,
}

impl SsmCache {
    /// Final state (E, N) of the last forward.
    pub fn final_state(&self, l: usize, en: usize) -> &[f32] {
        &self.hs[l * en..(l + 1) * en]
    }
}

impl SelectiveSsm {
    /// Registers the SSM's tensors. `shared_a`: A_log is (N) (QuantumSSM.py) instead of (E, N).
    /// `dt_floor`: the floor applied to the sampled dt before the inverse-softplus bias init
    /// (1e-4 in TrueClassicalMamba.py, none (0) in QuantumSSM.py).
    pub fn new(
        lay: &mut ParamLayout,
        names: SsmNames<'_>,
        e: usize,
        n: usize,
        r: usize,
        shared_a: bool,
        dt_floor: f32,
    ) -> Self {
        let a_shape: Vec<usize> = if shared_a { vec![n] } else { vec![e, n] };
        // registration order of the reference modules
        let (a_log, d, x_proj, dt_proj);
        if names.out_proj.is_some() {
            a_log = lay.add(names.a_log, &a_shape, Init::ALog);
            d = lay.add(names.d, &[e], Init::Const(1.0));
            x_proj = Linear::new(lay, names.x_proj, e, r + 2 * n, false);
            dt_proj = Self::dt_proj(lay, names.dt_proj, r, e, dt_floor);
        } else {
            x_proj = Linear::new(lay, names.x_proj, e, r + 2 * n, false);
            a_log = lay.add(names.a_log, &a_shape, Init::ALog);
            d = lay.add(names.d, &[e], Init::Const(1.0));
            dt_proj = Self::dt_proj(lay, names.dt_proj, r, e, dt_floor);
        }
        let out_proj = names.out_proj.map(|o| Linear::new(lay, o, e, e, false));
        let dims = ScanDims {
            l: 0,
            e,
            n,
            a_row_stride: if shared_a { 0 } else { n },
            dt_on_b: true,
        };
        Self {
            x_proj,
            dt_proj,
            a_log,
            d,
            out_proj,
            dims,
            r,
        }
    }

    fn dt_proj(lay: &mut ParamLayout, name: &str, r: usize, e: usize, floor: f32) -> Linear {
        let b = 1.0 / (r as f32).sqrt();
        Linear::with_init(
            lay,
            name,
            r,
            e,
            true,
            Init::Uniform(-b, b),
            Init::DtBias { floor },
        )
    }

    /// E·N, the size of one state.
    pub fn state_len(&self) -> usize {
        self.dims.e * self.dims.n
    }

    /// x (L, E) → y (L, E) from initial state `h0` (E, N) (zeros if `None`).
    pub fn forward(
        &self,
        p: &[f32],
        x: &[f32],
        l: usize,
        h0: Option<&[f32]>,
        c: &mut SsmCache,
        y: &mut [f32],
    ) {
        let (e, n, r) = (self.dims.e, self.dims.n, self.r);
        let w = r + 2 * n;
        c.xdbl = self.x_proj.apply(p, x, l);
        c.dl = vec![0.0; l * r];
        c.bm = vec![0.0; l * n];
        c.cm = vec![0.0; l * n];
        for t in 0..l {
            let row = &c.xdbl[t * w..(t + 1) * w];
            c.dl[t * r..(t + 1) * r].copy_from_slice(&row[..r]);
            c.bm[t * n..(t + 1) * n].copy_from_slice(&row[r..r + n]);
            c.cm[t * n..(t + 1) * n].copy_from_slice(&row[r + n..]);
        }
        c.dt_pre = self.dt_proj.apply(p, &c.dl, l);
        c.delta = vec![0.0; l * e];
        softplus_forward(&mut c.delta, &c.dt_pre);
        c.a = p[self.a_log.clone()].iter().map(|v| -v.exp()).collect();
        c.hs = vec![0.0; (l + 1) * e * n];
        let dims = ScanDims { l, ..self.dims };
        match &self.out_proj {
            None => scan_forward(
                y,
                &mut c.hs,
                x,
                &c.delta,
                &c.a,
                &c.bm,
                &c.cm,
                &p[self.d.clone()],
                h0,
                dims,
            ),
            Some(op) => {
                c.ys = vec![0.0; l * e];
                scan_forward(
                    &mut c.ys,
                    &mut c.hs,
                    x,
                    &c.delta,
                    &c.a,
                    &c.bm,
                    &c.cm,
                    &p[self.d.clone()],
                    h0,
                    dims,
                );
                op.forward(p, &c.ys, l, y);
            }
        }
    }

    /// Backward. Accumulates parameter gradients into `g`, dx (L, E), and, if given, the
    /// gradient w.r.t. the initial state `dh0` (E, N). `dh_last`: upstream gradient on the final
    /// state (E, N).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        l: usize,
        c: &SsmCache,
        dy: &[f32],
        dh_last: Option<&[f32]>,
        dx: &mut [f32],
        dh0: Option<&mut [f32]>,
    ) {
        let (e, n, r) = (self.dims.e, self.dims.n, self.r);
        let w = r + 2 * n;
        let mut dys_buf;
        let dys: &[f32] = match &self.out_proj {
            None => dy,
            Some(op) => {
                dys_buf = vec![0.0; l * e];
                op.backward(p, g, &c.ys, dy, l, Some(&mut dys_buf));
                &dys_buf
            }
        };
        let mut ddelta = vec![0.0; l * e];
        let mut da = vec![0.0; c.a.len()];
        let mut dbm = vec![0.0; l * n];
        let mut dcm = vec![0.0; l * n];
        let dims = ScanDims { l, ..self.dims };
        {
            let dd = &mut g[self.d.clone()];
            let grads = ScanGrads {
                dx: &mut *dx,
                ddelta: &mut ddelta,
                da: &mut da,
                dbm: &mut dbm,
                dcm: &mut dcm,
                dd,
                dh0,
            };
            scan_backward(
                grads,
                dys,
                dh_last,
                &c.hs,
                x,
                &c.delta,
                &c.a,
                &c.bm,
                &c.cm,
                &p[self.d.clone()],
                dims,
            );
        }
        // A = −exp(A_log) ⇒ dA_log = dA·A
        for ((ga, d), a) in g[self.a_log.clone()].iter_mut().zip(&da).zip(&c.a) {
            *ga += d * a;
        }
        let mut ddt_pre = vec![0.0; l * e];
        softplus_backward(&mut ddt_pre, &ddelta, &c.dt_pre);
        let mut ddl = vec![0.0; l * r];
        self.dt_proj
            .backward(p, g, &c.dl, &ddt_pre, l, Some(&mut ddl));
        let mut dxdbl = vec![0.0; l * w];
        for t in 0..l {
            let row = &mut dxdbl[t * w..(t + 1) * w];
            row[..r].copy_from_slice(&ddl[t * r..(t + 1) * r]);
            row[r..r + n].copy_from_slice(&dbm[t * n..(t + 1) * n]);
            row[r + n..].copy_from_slice(&dcm[t * n..(t + 1) * n]);
        }
        self.x_proj.backward(p, g, x, &dxdbl, l, Some(dx));
    }
}
