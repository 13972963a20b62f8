//! The architectures the engine runs, one module per model, composed of shared inference
//! blocks ([`layers`], [`ssm`], [`mamba_block`], [`qsb`], [`chunk_processor`]) which in turn
//! call the `qssm_kernels` forward ops. The window path works on one token-major window
//! (T, C); causal architectures also run in recurrent mode ([`step::CausalStep`], one sample
//! at a time, for [`crate::stream`]).
mod chunk_processor;
mod cmamba;
mod layers;
mod mamba_block;
mod matvec;
mod qmamba_ssm;
mod qsb;
mod ssm;
pub(crate) mod step;

use crate::error::EngineError;
use crate::weights::Loader;
use alloc::boxed::Box;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;

/// A loaded architecture.
#[derive(Clone, Debug)]
pub(crate) enum Arch {
    /// 1b
    QuantumMambaSsm(Box<qmamba_ssm::QuantumMambaSsm>),
    /// 3b
    TrueClassicalMamba(Box<cmamba::TrueClassicalMamba>),
}

impl Arch {
    /// Loads the architecture with registry id `id` (already checked to be supported).
    pub(crate) fn load(
        id: &str,
        ld: &mut Loader<'_, '_>,
        card: &ModelCard,
    ) -> Result<Self, EngineError> {
        match id {
            "1b" => {
                let m = qmamba_ssm::QuantumMambaSsm::load(ld, card)?;
                Ok(Self::QuantumMambaSsm(Box::new(m)))
            }
            "3b" => {
                let m = cmamba::TrueClassicalMamba::load(ld, card)?;
                Ok(Self::TrueClassicalMamba(Box::new(m)))
            }
            other => Err(EngineError::UnsupportedModel { id: other.into() }),
        }
    }

    /// The recurrent mode of the architecture, if it has one (3b); `None` for window-only
    /// architectures (1b: its block 1 starts from block 0's final state, spec §6).
    pub(crate) fn causal_step(&self) -> Option<&dyn step::CausalStep> {
        match self {
            Self::QuantumMambaSsm(_) => None,
            Self::TrueClassicalMamba(m) => Some(m.as_ref()),
        }
    }

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        match self {
            Self::QuantumMambaSsm(m) => m.logits(xt),
            Self::TrueClassicalMamba(m) => m.logits(xt),
        }
    }
}
