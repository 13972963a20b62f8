//! Small MLP heads of the group-2/4 models (spec groups-2-4 §3, "Shared heads"):
//!
//! * [`ClassifierHead`] **H_relu** (2a–2c: `classifier.0` Linear(D→D) → ReLU → Dropout →
//!   `classifier.3` Linear(D→K)) and **H_silu** (2d–4e: Linear(D→D/2) → SiLU → Dropout →
//!   Linear(D/2→K)); K = `output_dim` (2 classes, or regression outputs);
//! * [`OutputProj`] **OP_k**: `output_proj.0` Linear(k→D) → `output_proj.1` LayerNorm(D) →
//!   SiLU → Dropout, applied row-wise to (L, k).
use super::dropout::Dropout;
use super::linear::Linear;
use super::norm::{LayerNorm, NormCache};
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::{relu_backward, relu_forward, silu_backward, silu_forward};
use rand_chacha::ChaCha8Rng;

/// Hidden activation of a [`ClassifierHead`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadAct {
    /// ReLU (H_relu)
    Relu,
    /// SiLU (H_silu)
    Silu,
}

/// `<name>.0` Linear(D→H) → act → Dropout → `<name>.3` Linear(H→K) on one vector (D).
#[derive(Clone, Debug)]
pub struct ClassifierHead {
    l0: Linear,
    l3: Linear,
    act: HeadAct,
    drop: Dropout,
}

/// Activations of a [`ClassifierHead`] forward.
#[derive(Clone, Debug, Default)]
pub struct HeadCache {
    x: Vec<f32>,
    /// hidden pre-activation `<name>.0` output (H)
    pub pre: Vec<f32>,
    /// hidden after activation and dropout (H)
    pub hidden: Vec<f32>,
    mask: Vec<f32>,
}

impl ClassifierHead {
    /// Registers `<name>.0` (D → H) and `<name>.3` (H → K).
    pub fn new(
        lay: &mut ParamLayout,
        name: &str,
        d: usize,
        h: usize,
        k: usize,
        act: HeadAct,
        dropout: f32,
    ) -> Self {
        let l0 = Linear::new(lay, &format!("{name}.0"), d, h, true);
        let l3 = Linear::new(lay, &format!("{name}.3"), h, k, true);
        Self {
            l0,
            l3,
            act,
            drop: Dropout { p: dropout },
        }
    }

    /// x (D) → outputs (K).
    pub fn forward(
        &self,
        p: &[f32],
        x: &[f32],
        rng: Option<&mut ChaCha8Rng>,
        c: &mut HeadCache,
    ) -> Vec<f32> {
        c.x = x.to_vec();
        c.pre = self.l0.apply(p, x, 1);
        c.hidden = vec![0.0; c.pre.len()];
        match self.act {
            HeadAct::Relu => relu_forward(&mut c.hidden, &c.pre),
            HeadAct::Silu => silu_forward(&mut c.hidden, &c.pre),
        }
        c.mask = self.drop.forward(&mut c.hidden, rng);
        self.l3.apply(p, &c.hidden, 1)
    }

    /// Accumulates parameter gradients and dx (D) from dy (K).
    pub fn backward(&self, p: &[f32], g: &mut [f32], c: &HeadCache, dy: &[f32], dx: &mut [f32]) {
        let mut dh = vec![0.0; c.hidden.len()];
        self.l3.backward(p, g, &c.hidden, dy, 1, Some(&mut dh));
        self.drop.backward(&mut dh, &c.mask);
        let mut dpre = vec![0.0; dh.len()];
        match self.act {
            HeadAct::Relu => relu_backward(&mut dpre, &dh, &c.pre),
            HeadAct::Silu => silu_backward(&mut dpre, &dh, &c.pre),
        }
        self.l0.backward(p, g, &c.x, &dpre, 1, Some(dx));
    }
}

/// OP_k: `<name>.0` Linear(k→D) → `<name>.1` LayerNorm(D) → SiLU → Dropout, row-wise.
#[derive(Clone, Debug)]
pub struct OutputProj {
    l0: Linear,
    ln: LayerNorm,
    drop: Dropout,
    d: usize,
}

/// Activations of an [`OutputProj`] forward.
#[derive(Clone, Debug, Default)]
pub struct OutputProjCache {
    x: Vec<f32>,
    /// `<name>.0` (Linear) output (L, D)
    pub o0: Vec<f32>,
    /// `<name>.1` (LayerNorm) output (L, D)
    pub o1: Vec<f32>,
    ln: NormCache,
    mask: Vec<f32>,
    rows: usize,
}

impl OutputProj {
    /// Registers `<name>.0` (k → D) and the LayerNorm `<name>.1` (D).
    pub fn new(lay: &mut ParamLayout, name: &str, k: usize, d: usize, dropout: f32) -> Self {
        let l0 = Linear::new(lay, &format!("{name}.0"), k, d, true);
        let ln = LayerNorm::new(lay, &format!("{name}.1"), d);
        Self {
            l0,
            ln,
            drop: Dropout { p: dropout },
            d,
        }
    }

    /// x (L, k) → (L, D).
    pub fn forward(
        &self,
        p: &[f32],
        x: &[f32],
        l: usize,
        rng: Option<&mut ChaCha8Rng>,
        c: &mut OutputProjCache,
    ) -> Vec<f32> {
        c.x = x.to_vec();
        c.rows = l;
        c.o0 = self.l0.apply(p, x, l);
        c.o1 = vec![0.0; l * self.d];
        self.ln.forward(p, &c.o0, l, &mut c.o1, &mut c.ln);
        let mut y = vec![0.0; l * self.d];
        silu_forward(&mut y, &c.o1);
        c.mask = self.drop.forward(&mut y, rng);
        y
    }

    /// Accumulates parameter gradients and dx (L, k) from dy (L, D).
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        c: &OutputProjCache,
        dy: &[f32],
        dx: &mut [f32],
    ) {
        let l = c.rows;
        let mut d = dy.to_vec();
        self.drop.backward(&mut d, &c.mask);
        let mut do1 = vec![0.0; l * self.d];
        silu_backward(&mut do1, &d, &c.o1);
        let mut do0 = vec![0.0; l * self.d];
        self.ln.backward(p, g, &c.o0, &do1, l, &c.ln, &mut do0);
        self.l0.backward(p, g, &c.x, &do0, l, Some(dx));
    }
}
