//! 3c's Hydra block (`SelectiveSSM` + `HydraBlock` of reference
//! `models/TrueClassicalHydra.py`, spec §3.7). Block input u (L, D), no pre-norm:
//!
//! `z ‖ x ‖ B ‖ C ‖ δ = in_proj(u)` (widths E, E, N, N, R); `x = SiLU(conv1d(x))` (causal);
//! `Δ = softplus(ssm.dt_proj(δ))`; `y_f = scan(x, Δ, B, C)`,
//! `y_b = rev(scan(rev x, rev Δ, rev B, rev C))` — one set of SSM parameters and the same
//! streams for both directions, input term B·x **without Δ**, A = −exp(A_log) (E, N);
//! `out = out_proj(RMSNorm(y_f + y_b) ⊙ SiLU(z))` (D·x enters twice, as in the reference).
//! The conv runs before the reversal, so it is anti-causal for the backward direction.
use super::conv::CausalConv;
use super::hydra::reverse_time;
use super::linear::Linear;
use super::norm::{NormCache, RmsNorm};
use super::ssm::dt_rank_ceil;
use crate::params::{Init, ParamLayout};
use qssm_kernels::ops::activation::{
    silu_backward, silu_forward, softplus_backward, softplus_forward,
};
use qssm_kernels::ops::scan::{scan_backward, scan_forward, ScanDims, ScanGrads};
use std::ops::Range;

/// 3c's `HydraBlock` over width D (`d_model`), inner width E (`d_inner` = 2·D), state size N
/// and dt_rank R = ⌈D/16⌉; no residual inside (the model adds it after `norms.i`).
#[derive(Clone, Debug)]
pub struct ClassicalHydraBlock {
    in_proj: Linear,
    conv: CausalConv,
    a_log: Range<usize>,
    d_skip: Range<usize>,
    dt_proj: Linear,
    out_proj: Linear,
    norm: RmsNorm,
    d: usize,
    e: usize,
    n: usize,
    r: usize,
}

/// Activations saved by [`ClassicalHydraBlock::forward`].
#[derive(Clone, Debug, Default)]
pub struct ClassicalHydraCache {
    /// in_proj output (L, 2E+2N+R)
    zx: Vec<f32>,
    /// gate z (L, E)
    z: Vec<f32>,
    /// conv input (L, E)
    xin: Vec<f32>,
    /// conv output before SiLU (L, E)
    conv: Vec<f32>,
    /// scan input SiLU(conv) (L, E), forward and reversed
    x: Vec<f32>,
    xr: Vec<f32>,
    /// δ (L, R)
    dl: Vec<f32>,
    /// dt_proj output before softplus (L, E)
    dt_pre: Vec<f32>,
    /// Δ (L, E), forward and reversed
    delta: Vec<f32>,
    delta_r: Vec<f32>,
    /// B, C (L, N), forward and reversed
    bm: Vec<f32>,
    cm: Vec<f32>,
    bm_r: Vec<f32>,
    cm_r: Vec<f32>,
    /// A = −exp(A_log) (E, N)
    a: Vec<f32>,
    /// scan states (L+1, E, N) of both directions
    hs_f: Vec<f32>,
    hs_b: Vec<f32>,
    /// y_f + y_b (L, E)
    ysum: Vec<f32>,
    norm: NormCache,
    /// RMSNorm(y_f + y_b) (L, E)
    yn: Vec<f32>,
    /// SiLU(z) (L, E)
    sz: Vec<f32>,
    /// yn ⊙ SiLU(z) (L, E)
    gated: Vec<f32>,
}

impl ClassicalHydraBlock {
    /// Registers `<prefix>.{in_proj.weight (2E+2N+R, D), conv1d.weight (E,1,4), conv1d.bias (E),
    /// ssm.A_log (E, N), ssm.D (E), ssm.dt_proj.weight (E, R), ssm.dt_proj.bias (E),
    /// out_proj.weight (D, E), norm.weight (E)}` in state_dict order.
    pub fn new(lay: &mut ParamLayout, prefix: &str, d: usize, e: usize, n: usize) -> Self {
        let r = dt_rank_ceil(d);
        let in_proj = Linear::new(
            lay,
            &format!("{prefix}.in_proj"),
            d,
            2 * e + 2 * n + r,
            false,
        );
        let conv = CausalConv::new(lay, &format!("{prefix}.conv1d"), e, 4);
        let a_log = lay.add(format!("{prefix}.ssm.A_log"), &[e, n], Init::ALog);
        let d_skip = lay.add(format!("{prefix}.ssm.D"), &[e], Init::Const(1.0));
        let b = 1.0 / (r as f32).sqrt();
        let dt_proj = Linear::with_init(
            lay,
            &format!("{prefix}.ssm.dt_proj"),
            r,
            e,
            true,
            Init::Uniform(-b, b),
            Init::DtBias { floor: 1e-4 },
        );
        let out_proj = Linear::new(lay, &format!("{prefix}.out_proj"), e, d, false);
        let norm = RmsNorm::new(lay, &format!("{prefix}.norm"), e);
        Self {
            in_proj,
            conv,
            a_log,
            d_skip,
            dt_proj,
            out_proj,
            norm,
            d,
            e,
            n,
            r,
        }
    }

    fn dims(&self, l: usize) -> ScanDims {
        ScanDims {
            l,
            e: self.e,
            n: self.n,
            a_row_stride: self.n,
            dt_on_b: false,
        }
    }

    /// u (L, D) → out (L, D).
    pub fn forward(&self, p: &[f32], u: &[f32], l: usize, c: &mut ClassicalHydraCache) -> Vec<f32> {
        let (e, n, r) = (self.e, self.n, self.r);
        let w = 2 * e + 2 * n + r;
        c.zx = self.in_proj.apply(p, u, l);
        c.z = Vec::with_capacity(l * e);
        c.xin = Vec::with_capacity(l * e);
        c.bm = Vec::with_capacity(l * n);
        c.cm = Vec::with_capacity(l * n);
        c.dl = Vec::with_capacity(l * r);
        for row in c.zx.chunks_exact(w) {
            c.z.extend_from_slice(&row[..e]);
            c.xin.extend_from_slice(&row[e..2 * e]);
            c.bm.extend_from_slice(&row[2 * e..2 * e + n]);
            c.cm.extend_from_slice(&row[2 * e + n..2 * e + 2 * n]);
            c.dl.extend_from_slice(&row[2 * e + 2 * n..]);
        }
        c.conv = vec![0.0; l * e];
        self.conv.forward(p, &c.xin, l, &mut c.conv);
        c.x = vec![0.0; l * e];
        silu_forward(&mut c.x, &c.conv);
        c.dt_pre = self.dt_proj.apply(p, &c.dl, l);
        c.delta = vec![0.0; l * e];
        softplus_forward(&mut c.delta, &c.dt_pre);
        c.a = p[self.a_log.clone()].iter().map(|v| -v.exp()).collect();
        c.xr = reverse_time(&c.x, l, e);
        c.delta_r = reverse_time(&c.delta, l, e);
        c.bm_r = reverse_time(&c.bm, l, n);
        c.cm_r = reverse_time(&c.cm, l, n);
        let dskip = &p[self.d_skip.clone()];
        let dims = self.dims(l);
        let mut yf = vec![0.0; l * e];
        c.hs_f = vec![0.0; (l + 1) * e * n];
        scan_forward(
            &mut yf,
            &mut c.hs_f,
            &c.x,
            &c.delta,
            &c.a,
            &c.bm,
            &c.cm,
            dskip,
            None,
            dims,
        );
        let mut ybr = vec![0.0; l * e];
        c.hs_b = vec![0.0; (l + 1) * e * n];
        scan_forward(
            &mut ybr,
            &mut c.hs_b,
            &c.xr,
            &c.delta_r,
            &c.a,
            &c.bm_r,
            &c.cm_r,
            dskip,
            None,
            dims,
        );
        c.ysum = yf;
        for (t, row) in ybr.chunks_exact(e).enumerate() {
            let dst = &mut c.ysum[(l - 1 - t) * e..(l - t) * e];
            dst.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        c.yn = vec![0.0; l * e];
        self.norm.forward(p, &c.ysum, l, &mut c.yn, &mut c.norm);
        c.sz = vec![0.0; l * e];
        silu_forward(&mut c.sz, &c.z);
        c.gated = c.yn.iter().zip(&c.sz).map(|(a, b)| a * b).collect();
        self.out_proj.apply(p, &c.gated, l)
    }

    /// Backward of [`Self::forward`]: accumulates parameter gradients into `g` and du (L, D).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        u: &[f32],
        l: usize,
        c: &ClassicalHydraCache,
        dout: &[f32],
        du: &mut [f32],
    ) {
        let (d, e, n, r) = (self.d, self.e, self.n, self.r);
        debug_assert_eq!(du.len(), l * d);
        let mut dgated = vec![0.0; l * e];
        self.out_proj
            .backward(p, g, &c.gated, dout, l, Some(&mut dgated));
        let dyn_: Vec<f32> = dgated.iter().zip(&c.sz).map(|(a, b)| a * b).collect();
        let dsz: Vec<f32> = dgated.iter().zip(&c.yn).map(|(a, b)| a * b).collect();
        let mut dz = vec![0.0; l * e];
        silu_backward(&mut dz, &dsz, &c.z);
        let mut dysum = vec![0.0; l * e];
        self.norm
            .backward(p, g, &c.ysum, &dyn_, l, &c.norm, &mut dysum);

        // Both scans: gradients of the forward direction directly, of the backward direction
        // in reversed time (un-reversed below). A_log and D are shared.
        let dims = self.dims(l);
        let dskip = &p[self.d_skip.clone()];
        let mut da = vec![0.0; e * n];
        let (mut dx, mut ddelta) = (vec![0.0; l * e], vec![0.0; l * e]);
        let (mut dbm, mut dcm) = (vec![0.0; l * n], vec![0.0; l * n]);
        let (mut dxr, mut ddelta_r) = (vec![0.0; l * e], vec![0.0; l * e]);
        let (mut dbm_r, mut dcm_r) = (vec![0.0; l * n], vec![0.0; l * n]);
        {
            let dd = &mut g[self.d_skip.clone()];
            let grads = ScanGrads {
                dx: &mut dx,
                ddelta: &mut ddelta,
                da: &mut da,
                dbm: &mut dbm,
                dcm: &mut dcm,
                dd,
                dh0: None,
            };
            scan_backward(
                grads, &dysum, None, &c.hs_f, &c.x, &c.delta, &c.a, &c.bm, &c.cm, dskip, dims,
            );
        }
        {
            let dy_r = reverse_time(&dysum, l, e);
            let dd = &mut g[self.d_skip.clone()];
            let grads = ScanGrads {
                dx: &mut dxr,
                ddelta: &mut ddelta_r,
                da: &mut da,
                dbm: &mut dbm_r,
                dcm: &mut dcm_r,
                dd,
                dh0: None,
            };
            scan_backward(
                grads, &dy_r, None, &c.hs_b, &c.xr, &c.delta_r, &c.a, &c.bm_r, &c.cm_r, dskip, dims,
            );
        }
        let unreverse_add = |dst: &mut [f32], src: &[f32], w: usize| {
            for (t, row) in src.chunks_exact(w).enumerate() {
                let o = &mut dst[(l - 1 - t) * w..(l - t) * w];
                o.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
        };
        unreverse_add(&mut dx, &dxr, e);
        unreverse_add(&mut ddelta, &ddelta_r, e);
        unreverse_add(&mut dbm, &dbm_r, n);
        unreverse_add(&mut dcm, &dcm_r, n);
        // A = −exp(A_log) ⇒ dA_log = dA·A
        for ((ga, dv), a) in g[self.a_log.clone()].iter_mut().zip(&da).zip(&c.a) {
            *ga += dv * a;
        }
        let mut ddt_pre = vec![0.0; l * e];
        softplus_backward(&mut ddt_pre, &ddelta, &c.dt_pre);
        let mut ddl = vec![0.0; l * r];
        self.dt_proj
            .backward(p, g, &c.dl, &ddt_pre, l, Some(&mut ddl));
        let mut dconv = vec![0.0; l * e];
        silu_backward(&mut dconv, &dx, &c.conv);
        let mut dxin = vec![0.0; l * e];
        self.conv.backward(p, g, &c.xin, &dconv, l, &mut dxin);
        let w = 2 * e + 2 * n + r;
        let mut dzx = Vec::with_capacity(l * w);
        for t in 0..l {
            dzx.extend_from_slice(&dz[t * e..(t + 1) * e]);
            dzx.extend_from_slice(&dxin[t * e..(t + 1) * e]);
            dzx.extend_from_slice(&dbm[t * n..(t + 1) * n]);
            dzx.extend_from_slice(&dcm[t * n..(t + 1) * n]);
            dzx.extend_from_slice(&ddl[t * r..(t + 1) * r]);
        }
        self.in_proj.backward(p, g, u, &dzx, l, Some(du));
    }
}
