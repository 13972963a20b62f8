//! 1c's Hydra block for inference (`HydraBidirectionalSSM` + `HydraBlock` of reference
//! `models/QuantumSSM.py`, spec §3.5; trainer `models/blocks/hydra.rs`), eval mode:
//!
//! `xs ‖ xg = in_proj(c)` (Linear(D, 2E), no bias, first E = SSM path);
//! `BiSSM(xs) = out_proj(ā·fwd(xs) + β̄·rev(bwd(rev(xs))) + γ̄·diagonal(xs))` with
//! `ā = α/(|α|+|β|+|γ|+1e-8)` etc. (**signed**, L1-normalised; computed once at load),
//! `fwd`/`bwd` two independent [`SelectiveSsm`]s of the QuantumSSM.py flavour, each scanning
//! from a zero state, `rev` the time reversal, `diagonal`/`out_proj` Linear(E, E) without bias;
//! `out = out_proj(BiSSM(xs) ⊙ SiLU(xg))` (Linear(E, D), no bias). No conv, no residual inside
//! (the model adds it). Both `norm` LayerNorms are constructed by the reference but never used:
//! accepted in the file, not required.
//!
//! Shapes: c, out (L, D) token-major; xs, xg (L, E), E = 2·D. Window-only: the backward scan
//! needs the whole window (spec §6), so 1c has no recurrent mode.
use super::layers::Linear;
use super::ssm::SelectiveSsm;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use qssm_kernels::ops::activation::silu_forward;

/// Added to the L1 norm of the mixing weights (reference constant).
const MIX_EPS: f32 = 1e-8;

/// Time reversal of a token-major sequence: x (L, W) → rows in the order L−1, …, 0.
pub(crate) fn reverse_time(x: &[f32], l: usize, w: usize) -> Vec<f32> {
    let mut y = Vec::with_capacity(l * w);
    for t in (0..l).rev() {
        y.extend_from_slice(&x[t * w..(t + 1) * w]);
    }
    y
}

/// `HydraBidirectionalSSM` over E channels.
#[derive(Clone, Debug)]
struct BiSsm {
    /// ā, β̄, γ̄ (signed, L1-normalised)
    w: [f32; 3],
    fwd: SelectiveSsm,
    bwd: SelectiveSsm,
    diagonal: Linear,
    out_proj: Linear,
    e: usize,
}

impl BiSsm {
    /// Loads `<prefix>.{alpha, beta, gamma} (1)`, `<prefix>.{forward,backward}_ssm.*`,
    /// `<prefix>.diagonal.weight (E, E)`, `<prefix>.out_proj.weight (E, E)`; accepts the unused
    /// `<prefix>.norm.{weight, bias} (E)`.
    fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        e: usize,
        n: usize,
    ) -> Result<Self, EngineError> {
        let mut k = [0.0f32; 3];
        for (v, name) in k.iter_mut().zip(["alpha", "beta", "gamma"]) {
            *v = ld.take(&format!("{prefix}.{name}"), &[1])?[0];
        }
        let fwd =
            SelectiveSsm::load_quantum_ssm_module(ld, &format!("{prefix}.forward_ssm"), e, n)?;
        let bwd =
            SelectiveSsm::load_quantum_ssm_module(ld, &format!("{prefix}.backward_ssm"), e, n)?;
        let diagonal = Linear::load(ld, &format!("{prefix}.diagonal"), e, e, false)?;
        let out_proj = Linear::load(ld, &format!("{prefix}.out_proj"), e, e, false)?;
        ld.accept_unused(&format!("{prefix}.norm.weight"), &[e])?;
        ld.accept_unused(&format!("{prefix}.norm.bias"), &[e])?;
        // the reference's f32 evaluation order: S = |α|+|β|+|γ|+ε, then c/S
        let s = libm::fabsf(k[0]) + libm::fabsf(k[1]) + libm::fabsf(k[2]) + MIX_EPS;
        Ok(Self {
            w: k.map(|c| c / s),
            fwd,
            bwd,
            diagonal,
            out_proj,
            e,
        })
    }

    /// xs (L, E) → (L, E).
    fn apply(&self, xs: &[f32], l: usize) -> Vec<f32> {
        let e = self.e;
        // both scans start from zero
        let mut h = vec![0.0; self.fwd.state_len()];
        let f = self.fwd.apply(xs, l, &mut h);
        h.iter_mut().for_each(|v| *v = 0.0);
        let rb = self.bwd.apply(&reverse_time(xs, l, e), l, &mut h);
        let r = reverse_time(&rb, l, e);
        let dg = self.diagonal.apply(xs, l);
        let w = self.w;
        let comb: Vec<f32> = f
            .iter()
            .zip(&r)
            .zip(&dg)
            .map(|((f, r), d)| w[0] * f + w[1] * r + w[2] * d)
            .collect();
        self.out_proj.apply(&comb, l)
    }
}

/// 1c's `HydraBlock` over width D with inner width E = 2·D and state size N.
#[derive(Clone, Debug)]
pub(crate) struct HydraBlock {
    in_proj: Linear,
    bissm: BiSsm,
    out_proj: Linear,
    e: usize,
}

impl HydraBlock {
    /// Loads block `prefix` (e.g. `hydra_layers.0`): `in_proj.weight` (2E, D),
    /// `bidirectional_ssm.*`, `out_proj.weight` (D, E); accepts the unused `norm.{weight,
    /// bias}` (D).
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        d: usize,
        n: usize,
    ) -> Result<Self, EngineError> {
        let e = 2 * d;
        let in_proj = Linear::load(ld, &format!("{prefix}.in_proj"), d, 2 * e, false)?;
        let bissm = BiSsm::load(ld, &format!("{prefix}.bidirectional_ssm"), e, n)?;
        let out_proj = Linear::load(ld, &format!("{prefix}.out_proj"), e, d, false)?;
        ld.accept_unused(&format!("{prefix}.norm.weight"), &[d])?;
        ld.accept_unused(&format!("{prefix}.norm.bias"), &[d])?;
        Ok(Self {
            in_proj,
            bissm,
            out_proj,
            e,
        })
    }

    /// c (L, D) → out (L, D) (without the residual).
    pub(crate) fn apply(&self, c: &[f32], l: usize) -> Vec<f32> {
        let e = self.e;
        let xz = self.in_proj.apply(c, l);
        let (mut xs, mut xg) = (Vec::with_capacity(l * e), Vec::with_capacity(l * e));
        for row in xz.chunks_exact(2 * e) {
            xs.extend_from_slice(&row[..e]);
            xg.extend_from_slice(&row[e..]);
        }
        let s = self.bissm.apply(&xs, l);
        let mut gated = xs; // reuse the buffer: BiSSM(xs) ⊙ SiLU(xg)
        silu_forward(&mut gated, &xg);
        gated.iter_mut().zip(&s).for_each(|(g, sv)| *g *= sv);
        self.out_proj.apply(&gated, l)
    }
}
