//! One Adam/AdamW element update: PyTorch's single-tensor `Adam`/`AdamW` step (Kingma & Ba
//! 2015; Loshchilov & Hutter 2019 for the decoupled weight decay), as its CPU kernels round
//! it. The trainer's host optimiser and the backends' fused steps ([`crate::backend`]) share
//! it, so every device updates parameters with the same formula.
use super::fastmath::fma;

/// How weight decay enters the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum WeightDecay {
    /// none (weight decay 0)
    None = 0,
    /// AdamW: p ← p·(1 − lr·wd) before the update
    Decoupled = 1,
    /// Adam's L2 form: g ← g + wd·p
    L2 = 2,
}

/// The scalars of one step (the same for every element of a step count t).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamScalars {
    /// −lr / (1 − β1ᵗ), rounded to f32
    pub neg_step: f32,
    /// √(1 − β2ᵗ), rounded to f32
    pub bc2_sqrt: f32,
    /// 1 − β1 (the moment's lerp weight)
    pub w1: f32,
    /// β2
    pub b2: f32,
    /// 1 − β2
    pub c2: f32,
    /// ε
    pub eps: f32,
    /// 1 − lr·wd (decoupled decay factor)
    pub decay: f32,
    /// wd (L2 form)
    pub wd: f32,
    /// how weight decay enters
    pub mode: WeightDecay,
}

impl AdamScalars {
    /// The scalars of a step for learning rate `lr`, betas, ε and weight decay (decoupled for
    /// AdamW, L2 for Adam), given its bias terms `(−lr/(1 − β1ᵗ), √(1 − β2ᵗ))` (computed by
    /// the caller in f64, as PyTorch's Python scalars are).
    pub fn new(
        lr: f64,
        betas: (f64, f64),
        eps: f64,
        weight_decay: f64,
        decoupled: bool,
        (neg_step, bc2_sqrt): (f32, f32),
    ) -> Self {
        let (b1, b2) = betas;
        Self {
            neg_step,
            bc2_sqrt,
            w1: (1.0 - b1) as f32,
            b2: b2 as f32,
            c2: (1.0 - b2) as f32,
            eps: eps as f32,
            decay: (1.0 - lr * weight_decay) as f32,
            wd: weight_decay as f32,
            mode: match (weight_decay != 0.0, decoupled) {
                (false, _) => WeightDecay::None,
                (true, true) => WeightDecay::Decoupled,
                (true, false) => WeightDecay::L2,
            },
        }
    }
}

#[inline(always)]
fn sqrt(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.sqrt()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::sqrtf(x)
    }
}

/// `torch.lerp(start, end, w)` as ATen's vectorised CPU kernel computes it.
#[inline(always)]
pub fn lerp(start: f32, end: f32, w: f32) -> f32 {
    if w.abs() < 0.5 {
        fma(w, end - start, start)
    } else {
        fma(w - 1.0, end - start, end)
    }
}

/// One element: updates the moments `m`, `v` and returns the new parameter.
#[inline(always)]
pub fn adam_element(p: f32, g: f32, m: &mut f32, v: &mut f32, s: &AdamScalars) -> f32 {
    let (mut p, mut g) = (p, g);
    match s.mode {
        WeightDecay::None => {}
        WeightDecay::Decoupled => p *= s.decay,
        WeightDecay::L2 => g = fma(p, s.wd, g),
    }
    *m = lerp(*m, g, s.w1);
    *v = *v * s.b2 + s.c2 * g * g;
    let denom = sqrt(*v) / s.bc2_sqrt + s.eps;
    p + s.neg_step * *m / denom
}
