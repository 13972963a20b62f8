//! 3c — `TrueClassicalHydra` (reference `models/TrueClassicalHydra.py`, spec §4.6 and §3.7;
//! trainer `models/zoo/true_classical_hydra.rs`, `models/blocks/hydra_classical.rs`), eval mode
//! (dropout = identity):
//!
//! x (T, C) → Linear(C, D) (`embedding`) → n_layers × (u ← RMSNorm_i(HydraBlock_i(u)) + u)
//! (post-norm residual, `norms.i`) → RMSNorm (`final_norm`) → mean over T → `classifier` =
//! Linear(D, D/2) → GELU (erf) → Linear(D/2, n_classes) (`classifier.0`, `classifier.3`).
//!
//! The Hydra block ([`ClassicalHydraBlock`], `layers.i`), on u (L, D), no pre-norm:
//! `z ‖ x ‖ B ‖ C ‖ δ = in_proj(u)` (widths E, E, N, N, R = ⌈D/16⌉); `x = SiLU(conv1d(x))`
//! (causal depthwise, width 4); `Δ = softplus(ssm.dt_proj(δ))`; `y_f = scan(x, Δ, B, C)`,
//! `y_b = rev(scan(rev x, rev Δ, rev B, rev C))` — one set of SSM parameters for both
//! directions, input term B·x **without** Δ, A = −exp(A_log) (E, N), both scans from zero;
//! `out = out_proj(RMSNorm(y_f + y_b) ⊙ SiLU(z))` (`norm`, D·x enters twice, as in the
//! reference).
//!
//! Window-only (spec §6: the backward scan sees the whole window), so the card must say
//! `causal = false` and [`crate::Model::stream`] answers [`EngineError::NotCausal`].
use super::hydra_block::reverse_time;
use super::layers::{mean_over_rows, CausalConv, Linear, RmsNorm};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::ops::activation::{gelu_forward, silu_forward, softplus_forward};
use qssm_kernels::ops::scan::{scan_forward, ScanDims};

/// Kernel width of the depthwise conv (`d_conv` = 4).
const D_CONV: usize = 4;
/// Steps per scan segment: only (SEGMENT+1)·E·N states are held at a time.
const SEGMENT: usize = 16;

/// 3c's `HydraBlock` over width D, inner width E = 2·D, state size N, dt_rank R = ⌈D/16⌉.
#[derive(Clone, Debug)]
pub(crate) struct ClassicalHydraBlock {
    in_proj: Linear,
    conv: CausalConv,
    /// A = −exp(A_log) (E, N)
    a: Vec<f32>,
    d_skip: Vec<f32>,
    dt_proj: Linear,
    out_proj: Linear,
    norm: RmsNorm,
    e: usize,
    n: usize,
    r: usize,
}

impl ClassicalHydraBlock {
    /// Loads block `prefix` (e.g. `layers.0`): `in_proj.weight` (2E+2N+R, D),
    /// `conv1d.{weight (E, 1, 4), bias (E)}`, `ssm.{A_log (E, N), D (E), dt_proj.weight (E, R),
    /// dt_proj.bias (E)}`, `out_proj.weight` (D, E), `norm.weight` (E).
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        d: usize,
        n: usize,
    ) -> Result<Self, EngineError> {
        let (e, r) = (2 * d, d.div_ceil(16));
        let in_proj = Linear::load(
            ld,
            &format!("{prefix}.in_proj"),
            d,
            2 * e + 2 * n + r,
            false,
        )?;
        let conv = CausalConv::load(ld, &format!("{prefix}.conv1d"), e, D_CONV)?;
        let a_log = ld.take(&format!("{prefix}.ssm.A_log"), &[e, n])?;
        let d_skip = ld.take(&format!("{prefix}.ssm.D"), &[e])?;
        let dt_proj = Linear::load(ld, &format!("{prefix}.ssm.dt_proj"), r, e, true)?;
        let out_proj = Linear::load(ld, &format!("{prefix}.out_proj"), e, d, false)?;
        let norm = RmsNorm::load(ld, &format!("{prefix}.norm"), e)?;
        Ok(Self {
            in_proj,
            conv,
            a: a_log.iter().map(|v| -libm::expf(*v)).collect(),
            d_skip,
            dt_proj,
            out_proj,
            norm,
            e,
            n,
            r,
        })
    }

    /// One selective scan from a zero state over L steps: x, Δ (L, E), B, C (L, N) → y (L, E),
    /// in segments of [`SEGMENT`] steps.
    fn scan(&self, x: &[f32], delta: &[f32], bm: &[f32], cm: &[f32], l: usize) -> Vec<f32> {
        let (e, n) = (self.e, self.n);
        let en = e * n;
        let mut y = vec![0.0; l * e];
        let mut hs = vec![0.0; (SEGMENT.min(l) + 1) * en];
        let mut state = vec![0.0; en];
        let mut t0 = 0;
        while t0 < l {
            let seg = SEGMENT.min(l - t0);
            let dims = ScanDims {
                l: seg,
                e,
                n,
                a_row_stride: n,
                dt_on_b: false,
            };
            scan_forward(
                &mut y[t0 * e..],
                &mut hs,
                &x[t0 * e..],
                &delta[t0 * e..],
                &self.a,
                &bm[t0 * n..],
                &cm[t0 * n..],
                &self.d_skip,
                Some(&state),
                dims,
            );
            state.copy_from_slice(&hs[seg * en..(seg + 1) * en]);
            t0 += seg;
        }
        y
    }

    /// u (L, D) → out (L, D) (without the residual).
    pub(crate) fn apply(&self, u: &[f32], l: usize) -> Vec<f32> {
        let (e, n, r) = (self.e, self.n, self.r);
        let w = 2 * e + 2 * n + r;
        let zx = self.in_proj.apply(u, l);
        let mut z = Vec::with_capacity(l * e);
        let mut xin = Vec::with_capacity(l * e);
        let mut bm = Vec::with_capacity(l * n);
        let mut cm = Vec::with_capacity(l * n);
        let mut dl = Vec::with_capacity(l * r);
        for row in zx.chunks_exact(w) {
            z.extend_from_slice(&row[..e]);
            xin.extend_from_slice(&row[e..2 * e]);
            bm.extend_from_slice(&row[2 * e..2 * e + n]);
            cm.extend_from_slice(&row[2 * e + n..2 * e + 2 * n]);
            dl.extend_from_slice(&row[2 * e + 2 * n..]);
        }
        drop(zx);
        let conv = self.conv.apply(&xin, l);
        let mut x = xin; // reuse the buffer
        silu_forward(&mut x, &conv);
        let dt_pre = self.dt_proj.apply(&dl, l);
        let mut delta = conv; // reuse the buffer
        softplus_forward(&mut delta, &dt_pre);
        let mut ysum = self.scan(&x, &delta, &bm, &cm, l);
        let ybr = self.scan(
            &reverse_time(&x, l, e),
            &reverse_time(&delta, l, e),
            &reverse_time(&bm, l, n),
            &reverse_time(&cm, l, n),
            l,
        );
        for (t, row) in ybr.chunks_exact(e).enumerate() {
            let dst = &mut ysum[(l - 1 - t) * e..(l - t) * e];
            dst.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        let yn = self.norm.apply(&ysum, l);
        let mut gated = ysum; // reuse the buffer: RMSNorm(y_f + y_b) ⊙ SiLU(z)
        silu_forward(&mut gated, &z);
        gated.iter_mut().zip(&yn).for_each(|(g, v)| *g *= v);
        self.out_proj.apply(&gated, l)
    }
}

/// Loaded 3c.
#[derive(Clone, Debug)]
pub(crate) struct TrueClassicalHydra {
    t: usize,
    d: usize,
    embedding: Linear,
    blocks: Vec<ClassicalHydraBlock>,
    norms: Vec<RmsNorm>,
    final_norm: RmsNorm,
    cls0: Linear,
    cls3: Linear,
}

impl TrueClassicalHydra {
    /// Checks the 3c-specific card fields (`causal = false`, D ≥ 2 for the D/2 classifier
    /// width) and loads every tensor (shapes from the card's hyperparameters, E = 2·D).
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, t, d, n) = (hp.n_channels, hp.n_times, hp.d_model, hp.d_state);
        if card.causal {
            return Err(EngineError::Mismatch {
                what: String::from(
                    "3c is window-only (backward scans over the whole window), card says causal = true",
                ),
            });
        }
        if d < 2 {
            return Err(EngineError::Mismatch {
                what: format!("3c needs d_model ≥ 2 (classifier width D/2), card has {d}"),
            });
        }
        let embedding = Linear::load(ld, "embedding", c, d, true)?;
        let blocks = (0..hp.n_layers)
            .map(|i| ClassicalHydraBlock::load(ld, &format!("layers.{i}"), d, n))
            .collect::<Result<Vec<_>, _>>()?;
        let norms = (0..hp.n_layers)
            .map(|i| RmsNorm::load(ld, &format!("norms.{i}"), d))
            .collect::<Result<Vec<_>, _>>()?;
        let final_norm = RmsNorm::load(ld, "final_norm", d)?;
        let cls0 = Linear::load(ld, "classifier.0", d, d / 2, true)?;
        let cls3 = Linear::load(ld, "classifier.3", d / 2, hp.n_classes, true)?;
        Ok(Self {
            t,
            d,
            embedding,
            blocks,
            norms,
            final_norm,
            cls0,
            cls3,
        })
    }

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        let (t, d) = (self.t, self.d);
        let mut u = self.embedding.apply(xt, t);
        for (blk, norm) in self.blocks.iter().zip(&self.norms) {
            let y = blk.apply(&u, t);
            let nrm = norm.apply(&y, t);
            u.iter_mut().zip(&nrm).for_each(|(a, b)| *a += b);
        }
        let fnorm = self.final_norm.apply(&u, t);
        let pooled = mean_over_rows(&fnorm, t, d);
        let h0 = self.cls0.apply(&pooled, 1);
        let mut h1 = vec![0.0; h0.len()];
        gelu_forward(&mut h1, &h0);
        self.cls3.apply(&h1, 1)
    }
}
