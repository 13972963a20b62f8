//! `TransformerBlock` of 1a and 3a (reference `models/QuantumTransformer.py` and
//! `models/ClassicalTransformer.py`, identical code; spec circuits-and-groups-1-3 §3.1),
//! pre-norm with a gated MLP, on x (L, D), E = 2·D:
//!
//! ```text
//! x ← x + Dropout(MHSA(RMSNorm₁(x)))
//! g ‖ v = in_proj(RMSNorm₂(x))          in_proj: Linear(D, 2E), first E = gate g, last E = v
//! x ← x + Dropout(out_proj(SiLU(g) ⊙ v)) out_proj: Linear(E, D)
//! ```
//!
//! Parameters (registration order): `norm1.weight`, `norm2.weight`, `attention.*`,
//! `in_proj.{weight,bias}`, `out_proj.{weight,bias}` — 165,248 at D = 128.
use super::attention::{AttentionCache, MultiHeadSelfAttention};
use super::dropout::Dropout;
use super::linear::Linear;
use super::norm::{NormCache, RmsNorm};
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::{silu_backward, silu_forward};
use rand_chacha::ChaCha8Rng;

/// One transformer block over width D with H heads and MLP width E = expand·D.
#[derive(Clone, Debug)]
pub struct TransformerBlock {
    norm1: RmsNorm,
    norm2: RmsNorm,
    attention: MultiHeadSelfAttention,
    in_proj: Linear,
    out_proj: Linear,
    drop: Dropout,
    d: usize,
    e: usize,
}

/// Activations saved by [`TransformerBlock::forward`].
#[derive(Clone, Debug, Default)]
pub struct TransformerBlockCache {
    /// RMSNorm₁(x) (L, D)
    n1: Vec<f32>,
    nc1: NormCache,
    att: AttentionCache,
    /// dropout mask of the attention branch (L, D); empty in eval
    mask_att: Vec<f32>,
    /// x after the attention residual (L, D)
    x1: Vec<f32>,
    /// RMSNorm₂(x1) (L, D)
    n2: Vec<f32>,
    nc2: NormCache,
    /// in_proj output g ‖ v (L, 2E)
    gv: Vec<f32>,
    /// SiLU(g) (L, E)
    sg: Vec<f32>,
    /// SiLU(g) ⊙ v (L, E)
    m: Vec<f32>,
    /// dropout mask of the MLP branch (L, D); empty in eval
    mask_mlp: Vec<f32>,
}

impl TransformerBlock {
    /// Registers `<name>.norm1`, `<name>.norm2`, `<name>.attention.*`, `<name>.in_proj`
    /// (Linear(D, 2·expand·D)), `<name>.out_proj` (Linear(expand·D, D)); `dropout` is used at
    /// the three dropout sites (attention probabilities, both residual branches).
    pub fn new(
        lay: &mut ParamLayout,
        name: &str,
        d: usize,
        n_heads: usize,
        expand: usize,
        dropout: f32,
    ) -> Self {
        let e = expand * d;
        let norm1 = RmsNorm::new(lay, &format!("{name}.norm1"), d);
        let norm2 = RmsNorm::new(lay, &format!("{name}.norm2"), d);
        let attention =
            MultiHeadSelfAttention::new(lay, &format!("{name}.attention"), d, n_heads, dropout);
        let in_proj = Linear::new(lay, &format!("{name}.in_proj"), d, 2 * e, true);
        let out_proj = Linear::new(lay, &format!("{name}.out_proj"), e, d, true);
        Self {
            norm1,
            norm2,
            attention,
            in_proj,
            out_proj,
            drop: Dropout { p: dropout },
            d,
            e,
        }
    }

    /// x (L, D) → block output (L, D) (residuals included). Dropout masks come from `rng`
    /// (training); `None` = eval.
    pub fn forward(
        &self,
        p: &[f32],
        x: &[f32],
        l: usize,
        mut rng: Option<&mut ChaCha8Rng>,
        c: &mut TransformerBlockCache,
    ) -> Vec<f32> {
        let (d, e) = (self.d, self.e);
        c.n1 = vec![0.0; l * d];
        self.norm1.forward(p, x, l, &mut c.n1, &mut c.nc1);
        let mut a = self
            .attention
            .forward(p, &c.n1, l, rng.as_deref_mut(), &mut c.att);
        c.mask_att = self.drop.forward(&mut a, rng.as_deref_mut());
        a.iter_mut().zip(x).for_each(|(a, x)| *a += x);
        c.x1 = a;
        c.n2 = vec![0.0; l * d];
        self.norm2.forward(p, &c.x1, l, &mut c.n2, &mut c.nc2);
        c.gv = self.in_proj.apply(p, &c.n2, l);
        c.sg = vec![0.0; l * e];
        c.m = vec![0.0; l * e];
        for ((gv, sg), m) in
            c.gv.chunks_exact(2 * e)
                .zip(c.sg.chunks_exact_mut(e))
                .zip(c.m.chunks_exact_mut(e))
        {
            let (g, v) = gv.split_at(e);
            silu_forward(sg, g);
            m.iter_mut()
                .zip(sg.iter().zip(v))
                .for_each(|(m, (s, v))| *m = s * v);
        }
        let mut y = self.out_proj.apply(p, &c.m, l);
        c.mask_mlp = self.drop.forward(&mut y, rng);
        y.iter_mut().zip(&c.x1).for_each(|(y, x)| *y += x);
        y
    }

    /// Backward: accumulates parameter gradients into `g` and dx (L, D) given the gradient
    /// of the block output `dout` (L, D); `x` is the block input.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        l: usize,
        c: &TransformerBlockCache,
        dout: &[f32],
        dx: &mut [f32],
    ) {
        let (d, e) = (self.d, self.e);
        // MLP branch: out = x1 + drop(out_proj(m))
        let mut dx1 = dout[..l * d].to_vec();
        let mut dy = dout[..l * d].to_vec();
        self.drop.backward(&mut dy, &c.mask_mlp);
        let mut dm = vec![0.0; l * e];
        self.out_proj.backward(p, g, &c.m, &dy, l, Some(&mut dm));
        let mut dgv = vec![0.0; l * 2 * e];
        let mut dsg = vec![0.0; e];
        for (((dgv, gv), sg), dm) in dgv
            .chunks_exact_mut(2 * e)
            .zip(c.gv.chunks_exact(2 * e))
            .zip(c.sg.chunks_exact(e))
            .zip(dm.chunks_exact(e))
        {
            let (g_, v) = gv.split_at(e);
            let (dg, dv) = dgv.split_at_mut(e);
            for i in 0..e {
                dsg[i] = dm[i] * v[i];
                dv[i] = dm[i] * sg[i];
            }
            silu_backward(dg, &dsg, g_);
        }
        let mut dn2 = vec![0.0; l * d];
        self.in_proj.backward(p, g, &c.n2, &dgv, l, Some(&mut dn2));
        self.norm2.backward(p, g, &c.x1, &dn2, l, &c.nc2, &mut dx1);
        // attention branch: x1 = x + drop(mhsa(norm1(x)))
        let mut da = dx1.clone();
        self.drop.backward(&mut da, &c.mask_att);
        let mut dn1 = vec![0.0; l * d];
        self.attention
            .backward(p, g, &c.n1, l, &c.att, &da, &mut dn1);
        self.norm1.backward(p, g, x, &dn1, l, &c.nc1, dx);
        dx[..l * d].iter_mut().zip(&dx1).for_each(|(a, b)| *a += b);
    }
}
