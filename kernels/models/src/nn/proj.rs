//! A token-wise projection of (rows, d_in) into (rows, d_out): a [`Linear`] layer, or the HQC
//! Mamba's quantum projection QProj (spec hqc-mamba-and-quantum-train §3.4: amplitude
//! encoding, `StronglyEntanglingLayers`, marginal probabilities, ρ·γ·u + β;
//! [`qssm_kernels::circuit::qproj`]), one circuit per row. The Mamba block takes its
//! `in_proj`, `x_proj` and `out_proj` as [`Proj`]s, so the classical and the hybrid block are one
//! description.
//!
//! A quantum projection `{name}` registers `{name}.weights` (L, n, 3) (U[0, 2π), PennyLane
//! `TorchLayer`'s default, or N(0, 0.1²)), and with an affine `{name}.gamma` (ones) and
//! `{name}.beta` (zeros), d_out values each (one each for the scalar affine).
use super::linear::Linear;
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use qssm_formats::model_file::QProjCard;
use qssm_kernels::backend::{Backend, Infer, QProjP};
use qssm_kernels::circuit::qproj::{Affine, QProj};

/// Initialisation of the circuit weights (spec §3.4 A6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantumInit {
    /// U[0, 2π) (the default)
    Uniform,
    /// N(0, 0.1²)
    Normal,
}

/// The options of the quantum projections (spec §3.4 and §3.8 flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QProjOptions {
    /// L_Q: entangling layers per circuit (1)
    pub layers: usize,
    /// the output affine (per output)
    pub affine: Affine,
    /// the input-RMS rescale ρ (on)
    pub rescale: bool,
    /// circuit weight init (uniform)
    pub init: QuantumInit,
}

impl Default for QProjOptions {
    fn default() -> Self {
        Self {
            layers: 1,
            affine: Affine::PerOutput,
            rescale: true,
            init: QuantumInit::Uniform,
        }
    }
}

impl QProjOptions {
    /// What a model card records of these options (`architecture.qproj`; the initialisation
    /// is not recorded: it does not change a trained model).
    pub fn card(&self) -> QProjCard {
        QProjCard {
            layers: self.layers,
            affine: self.affine.card_name().into(),
            rescale: self.rescale,
        }
    }

    /// The options a card records ([`Self::card`]; the initialisation is the default).
    /// Errors: an affine name other than `per_output`, `scalar` or `none`, or no layers.
    pub fn from_card(q: &QProjCard) -> Result<Self, String> {
        let affine = Affine::from_card_name(&q.affine).ok_or_else(|| {
            format!(
                "architecture.qproj.affine '{}' (per_output, scalar or none)",
                q.affine
            )
        })?;
        if q.layers == 0 {
            return Err(
                "architecture.qproj.layers is 0 (a quantum projection needs a layer)".into(),
            );
        }
        Ok(Self {
            layers: q.layers,
            affine,
            rescale: q.rescale,
            init: QuantumInit::Uniform,
        })
    }
}

/// Which kind of projection a block builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjKind {
    /// `nn.Linear` without bias (the Mamba reference)
    Linear,
    /// QProj with these options
    Quantum(QProjOptions),
}

impl ProjKind {
    /// Registers a projection `{name}` of this kind (see the [module docs](self)).
    pub fn build(&self, lay: &mut ParamLayout, name: &str, d_in: usize, d_out: usize) -> Proj {
        match self {
            Self::Linear => Proj::Linear(Linear::new(lay, name, d_in, d_out, false)),
            Self::Quantum(o) => {
                let qp = QProj::new(d_in, d_out, o.layers, o.affine, o.rescale);
                let init = match o.init {
                    QuantumInit::Uniform => Init::Uniform(0.0, core::f32::consts::TAU),
                    QuantumInit::Normal => Init::Normal(0.1),
                };
                let w = lay.add(format!("{name}.weights"), &[o.layers, qp.n, 3], init);
                let na = o.affine.len(d_out);
                let (gamma, beta) = if na > 0 {
                    (
                        lay.add(format!("{name}.gamma"), &[na], Init::Const(1.0)),
                        lay.add(format!("{name}.beta"), &[na], Init::Const(0.0)),
                    )
                } else {
                    (w.end..w.end, w.end..w.end)
                };
                Proj::Quantum(QProjP { qp, w, gamma, beta })
            }
        }
    }
}

/// A classical or quantum token-wise projection.
#[derive(Clone, Debug)]
pub enum Proj {
    /// a fully connected layer
    Linear(Linear),
    /// a quantum projection
    Quantum(QProjP),
}

impl Proj {
    /// Output features.
    pub fn d_out(&self) -> usize {
        match self {
            Self::Linear(l) => l.d_out(),
            Self::Quantum(q) => q.qp.d_out,
        }
    }

    /// y (rows, d_out) from x (rows, d_in).
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, x: &B::Buf, y: &mut B::Buf) {
        match self {
            Self::Linear(l) => l.forward(be, p, x, y),
            Self::Quantum(q) => be.qproj(y, x, p, q),
        }
    }

    /// Accumulates the parameter gradients into `g` and dx (if given).
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        dy: &B::Buf,
        dx: Option<&mut B::Buf>,
    ) {
        match self {
            Self::Linear(l) => l.backward(be, p, g, x, dy, dx),
            Self::Quantum(q) => be.qproj_bwd(dx, g, dy, x, p, q),
        }
    }
}
