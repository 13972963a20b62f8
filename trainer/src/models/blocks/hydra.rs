//! 1c's Hydra block (`HydraBidirectionalSSM` + `HydraBlock` of reference
//! `models/QuantumSSM.py`, spec §3.5):
//!
//! `xs ‖ xg = in_proj(c)`; `y = out_proj(BiSSM(xs) ⊙ SiLU(xg))` with
//! `BiSSM(xs) = out_proj(ā·fwd(xs) + β̄·rev(bwd(rev(xs))) + γ̄·diagonal(xs))`,
//! `ā = α/(|α|+|β|+|γ|+1e-8)` etc. (signed, L1-normalised), `fwd`/`bwd` two independent
//! [`SelectiveSsm`]s of the QuantumSSM.py flavour, each scanning from a zero state, `rev` the
//! time reversal. No conv, no normalisation: both `norm` LayerNorms are constructed by the
//! reference but never used (registered with `add_unused`).
use super::linear::Linear;
use super::norm::LayerNorm;
use super::ssm::{SelectiveSsm, SsmCache, SsmNames};
use crate::params::{Init, ParamLayout};
use qssm_kernels::ops::activation::{silu_backward, silu_forward};
use std::ops::Range;

/// Added to the L1 norm of the mixing weights (reference constant).
const MIX_EPS: f32 = 1e-8;

/// Time reversal of a token-major sequence: x (L, W) → rows in the order L−1, …, 0.
pub fn reverse_time(x: &[f32], l: usize, w: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(l * w);
    for t in (0..l).rev() {
        y.extend_from_slice(&x[t * w..(t + 1) * w]);
    }
    y
}

/// `HydraBidirectionalSSM` over E channels: forward and backward selective SSMs (separate
/// parameters), a `diagonal` Linear(E, E), signed L1-normalised scalar weights α, β, γ and an
/// `out_proj` Linear(E, E), all without bias.
#[derive(Clone, Debug)]
pub struct HydraBidirectionalSsm {
    alpha: Range<usize>,
    beta: Range<usize>,
    gamma: Range<usize>,
    fwd: SelectiveSsm,
    bwd: SelectiveSsm,
    diagonal: Linear,
    out_proj: Linear,
    e: usize,
}

/// Activations saved by [`HydraBidirectionalSsm::forward`].
#[derive(Clone, Debug, Default)]
pub struct BiSsmCache {
    fwd: SsmCache,
    bwd: SsmCache,
    /// time-reversed input (L, E)
    xr: Vec<f32>,
    /// forward-SSM output (L, E)
    f: Vec<f32>,
    /// backward-SSM output, re-reversed to original time (L, E)
    r: Vec<f32>,
    /// diagonal(xs) (L, E)
    dg: Vec<f32>,
    /// ā·f + β̄·r + γ̄·dg (L, E)
    comb: Vec<f32>,
}

impl HydraBidirectionalSsm {
    /// Registers `<prefix>.{alpha, beta, gamma, forward_ssm.*, backward_ssm.*, diagonal.weight,
    /// out_proj.weight, norm.*}` (state_dict order) for E channels, state size N, dt_rank E/16.
    pub fn new(lay: &mut ParamLayout, prefix: &str, e: usize, n: usize) -> Self {
        let alpha = lay.add(format!("{prefix}.alpha"), &[1], Init::Const(1.0));
        let beta = lay.add(format!("{prefix}.beta"), &[1], Init::Const(1.0));
        let gamma = lay.add(format!("{prefix}.gamma"), &[1], Init::Const(0.5));
        let ssm = |lay: &mut ParamLayout, name: &str| {
            let names = [
                format!("{prefix}.{name}.x_proj"),
                format!("{prefix}.{name}.dt_proj"),
                format!("{prefix}.{name}.A_log"),
                format!("{prefix}.{name}.D"),
                format!("{prefix}.{name}.out_proj"),
            ];
            SelectiveSsm::new(
                lay,
                SsmNames {
                    x_proj: &names[0],
                    dt_proj: &names[1],
                    a_log: &names[2],
                    d: &names[3],
                    out_proj: Some(&names[4]),
                },
                e,
                n,
                e / 16,
                true,
                0.0,
            )
        };
        let fwd = ssm(lay, "forward_ssm");
        let bwd = ssm(lay, "backward_ssm");
        let diagonal = Linear::new(lay, &format!("{prefix}.diagonal"), e, e, false);
        let out_proj = Linear::new(lay, &format!("{prefix}.out_proj"), e, e, false);
        LayerNorm::register_unused(lay, &format!("{prefix}.norm"), e);
        Self {
            alpha,
            beta,
            gamma,
            fwd,
            bwd,
            diagonal,
            out_proj,
            e,
        }
    }

    /// (α, β, γ) and S = |α|+|β|+|γ|+1e-8 (the reference's f32 evaluation order).
    fn coeffs(&self, p: &[f32]) -> ([f32; 3], f32) {
        let c = [p[self.alpha.start], p[self.beta.start], p[self.gamma.start]];
        (c, c[0].abs() + c[1].abs() + c[2].abs() + MIX_EPS)
    }

    /// xs (L, E) → y (L, E).
    pub fn forward(&self, p: &[f32], xs: &[f32], l: usize, c: &mut BiSsmCache) -> Vec<f32> {
        let e = self.e;
        c.f = vec![0.0; l * e];
        self.fwd.forward(p, xs, l, None, &mut c.fwd, &mut c.f);
        c.xr = reverse_time(xs, l, e);
        let mut rb = vec![0.0; l * e];
        self.bwd.forward(p, &c.xr, l, None, &mut c.bwd, &mut rb);
        c.r = reverse_time(&rb, l, e);
        c.dg = self.diagonal.apply(p, xs, l);
        let (k, s) = self.coeffs(p);
        let w = [k[0] / s, k[1] / s, k[2] / s];
        c.comb =
            c.f.iter()
                .zip(&c.r)
                .zip(&c.dg)
                .map(|((f, r), d)| w[0] * f + w[1] * r + w[2] * d)
                .collect();
        self.out_proj.apply(p, &c.comb, l)
    }

    /// Backward of [`Self::forward`]: accumulates parameter gradients into `g` and dxs (L, E).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        xs: &[f32],
        l: usize,
        c: &BiSsmCache,
        dy: &[f32],
        dxs: &mut [f32],
    ) {
        let e = self.e;
        let mut dcomb = vec![0.0; l * e];
        self.out_proj
            .backward(p, g, &c.comb, dy, l, Some(&mut dcomb));
        let (k, s) = self.coeffs(p);
        let w = [k[0] / s, k[1] / s, k[2] / s];
        // dL/dw_k = Σ dcomb ⊙ branch_k (f64 sums: these are reductions over L·E elements)
        let mut gw = [0.0f64; 3];
        for (i, &dc) in dcomb.iter().enumerate() {
            let dc = dc as f64;
            gw[0] += dc * c.f[i] as f64;
            gw[1] += dc * c.r[i] as f64;
            gw[2] += dc * c.dg[i] as f64;
        }
        // w_k = c_k/S, S = Σ|c_j| + ε ⇒ dL/dc_j = gw_j/S − sgn(c_j)·(Σ_k gw_k c_k)/S²
        // (sgn(0) = 0, PyTorch's abs backward).
        let s = s as f64;
        let dot: f64 = (0..3).map(|j| gw[j] * k[j] as f64).sum();
        for (j, r) in [&self.alpha, &self.beta, &self.gamma]
            .into_iter()
            .enumerate()
        {
            let sgn = if k[j] > 0.0 {
                1.0
            } else if k[j] < 0.0 {
                -1.0
            } else {
                0.0
            };
            g[r.start] += (gw[j] / s - sgn * dot / (s * s)) as f32;
        }
        let scaled = |wk: f32| -> Vec<f32> { dcomb.iter().map(|v| wk * v).collect() };
        self.fwd
            .backward(p, g, xs, l, &c.fwd, &scaled(w[0]), None, dxs, None);
        let drb = reverse_time(&scaled(w[1]), l, e);
        let mut dxr = vec![0.0; l * e];
        self.bwd
            .backward(p, g, &c.xr, l, &c.bwd, &drb, None, &mut dxr, None);
        for (t, row) in dxr.chunks_exact(e).enumerate() {
            let dst = &mut dxs[(l - 1 - t) * e..(l - t) * e];
            dst.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        self.diagonal
            .backward(p, g, xs, &scaled(w[2]), l, Some(dxs));
    }
}

/// 1c's `HydraBlock` over width D (`d_model`) with inner width E (`d_inner` = 2·D):
/// `in_proj` Linear(D, 2E) → [xs | xg], [`HydraBidirectionalSsm`] on xs, gate SiLU(xg),
/// `out_proj` Linear(E, D); no residual inside (the model adds it).
#[derive(Clone, Debug)]
pub struct HydraBlock {
    in_proj: Linear,
    bissm: HydraBidirectionalSsm,
    out_proj: Linear,
    e: usize,
}

/// Activations saved by [`HydraBlock::forward`].
#[derive(Clone, Debug, Default)]
pub struct HydraBlockCache {
    xs: Vec<f32>,
    xg: Vec<f32>,
    bissm: BiSsmCache,
    s: Vec<f32>,
    sg: Vec<f32>,
    gated: Vec<f32>,
}

impl HydraBlock {
    /// Registers `<prefix>.{in_proj.weight, bidirectional_ssm.*, out_proj.weight, norm.*}`
    /// (state_dict order); `norm` is unused.
    pub fn new(lay: &mut ParamLayout, prefix: &str, d: usize, e: usize, n: usize) -> Self {
        let in_proj = Linear::new(lay, &format!("{prefix}.in_proj"), d, 2 * e, false);
        let bissm = HydraBidirectionalSsm::new(lay, &format!("{prefix}.bidirectional_ssm"), e, n);
        let out_proj = Linear::new(lay, &format!("{prefix}.out_proj"), e, d, false);
        LayerNorm::register_unused(lay, &format!("{prefix}.norm"), d);
        Self {
            in_proj,
            bissm,
            out_proj,
            e,
        }
    }

    /// u (L, D) → out (L, D).
    pub fn forward(&self, p: &[f32], u: &[f32], l: usize, c: &mut HydraBlockCache) -> Vec<f32> {
        let e = self.e;
        let xz = self.in_proj.apply(p, u, l);
        c.xs = Vec::with_capacity(l * e);
        c.xg = Vec::with_capacity(l * e);
        for row in xz.chunks_exact(2 * e) {
            c.xs.extend_from_slice(&row[..e]);
            c.xg.extend_from_slice(&row[e..]);
        }
        c.s = self.bissm.forward(p, &c.xs, l, &mut c.bissm);
        c.sg = vec![0.0; l * e];
        silu_forward(&mut c.sg, &c.xg);
        c.gated = c.s.iter().zip(&c.sg).map(|(a, b)| a * b).collect();
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
        c: &HydraBlockCache,
        dout: &[f32],
        du: &mut [f32],
    ) {
        let e = self.e;
        let mut dgated = vec![0.0; l * e];
        self.out_proj
            .backward(p, g, &c.gated, dout, l, Some(&mut dgated));
        let ds: Vec<f32> = dgated.iter().zip(&c.sg).map(|(a, b)| a * b).collect();
        let dsg: Vec<f32> = dgated.iter().zip(&c.s).map(|(a, b)| a * b).collect();
        let mut dxg = vec![0.0; l * e];
        silu_backward(&mut dxg, &dsg, &c.xg);
        let mut dxs = vec![0.0; l * e];
        self.bissm.backward(p, g, &c.xs, l, &c.bissm, &ds, &mut dxs);
        let mut dxz = Vec::with_capacity(l * 2 * e);
        for (a, b) in dxs.chunks_exact(e).zip(dxg.chunks_exact(e)) {
            dxz.extend_from_slice(a);
            dxz.extend_from_slice(b);
        }
        self.in_proj.backward(p, g, u, &dxz, l, Some(du));
    }
}
