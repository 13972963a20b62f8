//! `MultiHeadSelfAttention` of 1a and 3a (reference `models/QuantumTransformer.py` and
//! `models/ClassicalTransformer.py`, identical code; spec circuits-and-groups-1-3 §3.1):
//! Q, K, V = `q_proj`, `k_proj`, `v_proj` (Linear(D, D) with bias) of x (L, D); per head
//! `softmax(Q_h·K_hᵀ/√d_h)` over all L tokens (no mask: bidirectional), Dropout on the
//! probabilities in training, `·V_h`; heads concatenated; `out_proj` (Linear(D, D) with bias).
//! The core is [`qssm_kernels::ops::attention`].
use super::dropout::Dropout;
use super::linear::Linear;
use crate::params::ParamLayout;
use qssm_kernels::ops::attention::{attention_backward, attention_forward};
use rand_chacha::ChaCha8Rng;

/// Multi-head self-attention over (L, D) with H heads (d_h = D/H).
#[derive(Clone, Debug)]
pub struct MultiHeadSelfAttention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    d: usize,
    h: usize,
    drop: Dropout,
}

/// Activations saved by [`MultiHeadSelfAttention::forward`].
#[derive(Clone, Debug, Default)]
pub struct AttentionCache {
    /// Q, K, V (L, D)
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    /// softmax probabilities (H, L, L), before dropout
    pub probs: Vec<f32>,
    /// dropout mask on the probabilities (H, L, L); empty in eval / without dropout
    mask: Vec<f32>,
    /// heads concatenated, before `out_proj` (L, D)
    o: Vec<f32>,
}

impl MultiHeadSelfAttention {
    /// Registers `<name>.{q,k,v,out}_proj.{weight,bias}` (D×D each, PyTorch default init);
    /// `dropout` is the probability of the attention-probability dropout.
    ///
    /// # Panics
    /// If D is not a multiple of H (the reference asserts the same).
    pub fn new(lay: &mut ParamLayout, name: &str, d: usize, h: usize, dropout: f32) -> Self {
        assert!(
            h > 0 && d.is_multiple_of(h),
            "d_model {d} must be divisible by n_heads {h}"
        );
        let lin = |lay: &mut ParamLayout, w: &str| {
            Linear::new(lay, &format!("{name}.{w}_proj"), d, d, true)
        };
        let q_proj = lin(lay, "q");
        let k_proj = lin(lay, "k");
        let v_proj = lin(lay, "v");
        let out_proj = lin(lay, "out");
        Self {
            q_proj,
            k_proj,
            v_proj,
            out_proj,
            d,
            h,
            drop: Dropout { p: dropout },
        }
    }

    /// x (L, D) → y (L, D). Dropout masks (training) come from `rng`; `None` = eval.
    pub fn forward(
        &self,
        p: &[f32],
        x: &[f32],
        l: usize,
        rng: Option<&mut ChaCha8Rng>,
        c: &mut AttentionCache,
    ) -> Vec<f32> {
        let (d, h) = (self.d, self.h);
        c.q = self.q_proj.apply(p, x, l);
        c.k = self.k_proj.apply(p, x, l);
        c.v = self.v_proj.apply(p, x, l);
        c.probs = vec![0.0; h * l * l];
        // The mask is drawn for every probability (the reference drops elements of
        // attn_weights); `Dropout::forward` on ones returns it (empty in eval).
        c.mask = match rng {
            Some(r) if self.drop.p > 0.0 => {
                let mut ones = vec![1.0f32; h * l * l];
                self.drop.forward(&mut ones, Some(r))
            }
            _ => Vec::new(),
        };
        let mask = (!c.mask.is_empty()).then_some(&c.mask[..]);
        c.o = vec![0.0; l * d];
        attention_forward(&mut c.o, &mut c.probs, &c.q, &c.k, &c.v, mask, l, d, h);
        self.out_proj.apply(p, &c.o, l)
    }

    /// Backward: accumulates parameter gradients into `g` and dx (L, D) given dy (L, D).
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        x: &[f32],
        l: usize,
        c: &AttentionCache,
        dy: &[f32],
        dx: &mut [f32],
    ) {
        let (d, h) = (self.d, self.h);
        let mut d_o = vec![0.0; l * d];
        self.out_proj.backward(p, g, &c.o, dy, l, Some(&mut d_o));
        let (mut dq, mut dk, mut dv) = (vec![0.0; l * d], vec![0.0; l * d], vec![0.0; l * d]);
        let mask = (!c.mask.is_empty()).then_some(&c.mask[..]);
        attention_backward(
            &mut dq, &mut dk, &mut dv, &d_o, &c.q, &c.k, &c.v, &c.probs, mask, l, d, h,
        );
        self.q_proj.backward(p, g, x, &dq, l, Some(&mut *dx));
        self.k_proj.backward(p, g, x, &dk, l, Some(&mut *dx));
        self.v_proj.backward(p, g, x, &dv, l, Some(dx));
    }
}
