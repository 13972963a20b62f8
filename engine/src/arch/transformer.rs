//! The transformer pieces of 1a and 3a for inference (reference `models/QuantumTransformer.py`
//! and `models/ClassicalTransformer.py`, identical code; spec circuits-and-groups-1-3
//! §3.1–3.2; trainer `models/blocks/{transformer,attention,positional}.rs`), eval mode
//! (dropout = identity):
//!
//! * [`TransformerBlock`] (pre-norm, gated MLP) on x (L, D), E = 2·D, H = 4 heads:
//!   `x ← x + MHSA(RMSNorm₁(x))`; `g ‖ v = in_proj(RMSNorm₂(x))` (Linear(D, 2E), first E =
//!   gate); `x ← x + out_proj(SiLU(g) ⊙ v)` (Linear(E, D)). MHSA: Q, K, V = `q_proj`,
//!   `k_proj`, `v_proj` (Linear(D, D)), per head `softmax(Q_h·K_hᵀ/√d_h)·V_h` over all L tokens
//!   (bidirectional, [`attention_forward`]), heads concatenated, `out_proj` (Linear(D, D)).
//! * [`PositionalTable`]: the frozen sinusoidal `pos_encoding` (1, max_len, D) as stored in the
//!   file (the trainer exports the table it ran with), added to the first L ≤ max_len tokens.
use super::layers::{Linear, RmsNorm};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use qssm_kernels::ops::activation::silu_forward;
use qssm_kernels::ops::attention::attention_forward;

/// Attention heads of the reference's transformer blocks (default `n_heads`).
pub(crate) const N_HEADS: usize = 4;
/// MLP expansion of the transformer blocks (E = 2·D).
const EXPAND: usize = 2;

/// Checks that D splits into [`N_HEADS`] heads (the reference asserts the same).
pub(crate) fn check_heads(id: &str, d: usize) -> Result<(), EngineError> {
    if d.is_multiple_of(N_HEADS) {
        Ok(())
    } else {
        Err(EngineError::Mismatch {
            what: format!("{id} needs d_model divisible by {N_HEADS} heads, card has {d}"),
        })
    }
}

/// `MultiHeadSelfAttention` over (L, D) with [`N_HEADS`] heads.
#[derive(Clone, Debug)]
struct SelfAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    d: usize,
}

impl SelfAttention {
    /// Loads `<prefix>.{q,k,v,out}_proj.{weight (D, D), bias (D)}`.
    fn load(ld: &mut Loader<'_, '_>, prefix: &str, d: usize) -> Result<Self, EngineError> {
        let mut lin = |w: &str| Linear::load(ld, &format!("{prefix}.{w}_proj"), d, d, true);
        Ok(Self {
            q_proj: lin("q")?,
            k_proj: lin("k")?,
            v_proj: lin("v")?,
            out_proj: lin("out")?,
            d,
        })
    }

    /// x (L, D) → (L, D).
    fn apply(&self, x: &[f32], l: usize) -> Vec<f32> {
        let d = self.d;
        let q = self.q_proj.apply(x, l);
        let k = self.k_proj.apply(x, l);
        let v = self.v_proj.apply(x, l);
        let mut probs = vec![0.0; N_HEADS * l * l];
        let mut o = vec![0.0; l * d];
        attention_forward(&mut o, &mut probs, &q, &k, &v, None, l, d, N_HEADS);
        self.out_proj.apply(&o, l)
    }
}

/// One pre-norm transformer block over width D (E = 2·D).
#[derive(Clone, Debug)]
pub(crate) struct TransformerBlock {
    norm1: RmsNorm,
    norm2: RmsNorm,
    attention: SelfAttention,
    in_proj: Linear,
    out_proj: Linear,
    e: usize,
}

impl TransformerBlock {
    /// Loads block `prefix` (e.g. `layers.0`): `norm1.weight`, `norm2.weight` (D),
    /// `attention.*`, `in_proj.{weight (2E, D), bias (2E)}`, `out_proj.{weight (D, E),
    /// bias (D)}`. The caller has checked D with [`check_heads`].
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        d: usize,
    ) -> Result<Self, EngineError> {
        let e = EXPAND * d;
        let norm1 = RmsNorm::load(ld, &format!("{prefix}.norm1"), d)?;
        let norm2 = RmsNorm::load(ld, &format!("{prefix}.norm2"), d)?;
        let attention = SelfAttention::load(ld, &format!("{prefix}.attention"), d)?;
        let in_proj = Linear::load(ld, &format!("{prefix}.in_proj"), d, 2 * e, true)?;
        let out_proj = Linear::load(ld, &format!("{prefix}.out_proj"), e, d, true)?;
        Ok(Self {
            norm1,
            norm2,
            attention,
            in_proj,
            out_proj,
            e,
        })
    }

    /// x (L, D) → block output (L, D), residuals included.
    pub(crate) fn apply(&self, x: &[f32], l: usize) -> Vec<f32> {
        let e = self.e;
        let n1 = self.norm1.apply(x, l);
        let mut x1 = self.attention.apply(&n1, l);
        x1.iter_mut().zip(x).for_each(|(a, x)| *a += x);
        let n2 = self.norm2.apply(&x1, l);
        let gv = self.in_proj.apply(&n2, l);
        let mut m = vec![0.0; l * e];
        for (gv, m) in gv.chunks_exact(2 * e).zip(m.chunks_exact_mut(e)) {
            let (g, v) = gv.split_at(e);
            silu_forward(m, g);
            m.iter_mut().zip(v).for_each(|(m, v)| *m *= v);
        }
        let mut y = self.out_proj.apply(&m, l);
        y.iter_mut().zip(&x1).for_each(|(y, x)| *y += x);
        y
    }
}

/// The frozen `pos_encoding` table (1, max_len, D) from the file.
#[derive(Clone, Debug)]
pub(crate) struct PositionalTable {
    pe: Vec<f32>,
    max_len: usize,
    d: usize,
}

impl PositionalTable {
    /// Loads `name` with shape (1, max_len, D).
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        name: &str,
        max_len: usize,
        d: usize,
    ) -> Result<Self, EngineError> {
        Ok(Self {
            pe: ld.take(name, &[1, max_len, d])?,
            max_len,
            d,
        })
    }

    /// h (L, D) += PE\[:L\], L ≤ max_len (the callers size the table to their L at load).
    pub(crate) fn add(&self, h: &mut [f32], l: usize) {
        let l = l.min(self.max_len);
        h[..l * self.d]
            .iter_mut()
            .zip(&self.pe)
            .for_each(|(a, b)| *a += b);
    }
}
