//! The architectures the engine runs, one module per model, composed of shared inference
//! blocks ([`layers`], [`ssm`], [`mamba_block`], [`hydra_block`], [`qsb`], [`qsb_qgr`],
//! [`chunk_processor`], [`gated_recurrence`]) which in turn call the `qssm_kernels` forward
//! ops. The window path works on one token-major window
//! (T, C); causal architectures also run in recurrent mode ([`step::CausalStep`], one sample
//! at a time, for [`crate::stream`]).
mod chunk_processor;
mod chydra;
mod circuit_card;
mod cmamba;
mod composed_circuit;
mod ctransformer;
mod gated_config;
mod gated_recurrence;
mod hydra_block;
mod layers;
mod mamba_block;
mod matvec;
mod online_pool;
mod proj;
mod qe2e;
mod qhydra_gated;
mod qhydra_ssm;
mod qhydra_sup;
mod qmamba_gated;
mod qmamba_ssm;
mod qmixing;
mod qsb;
mod qsb_qgr;
mod qtransformer;
mod running_mean;
mod s3_core;
mod seq_pool_head;
mod ssm;
mod statevec;
pub(crate) mod step;
mod target_cnn;
mod transformer;

use crate::error::EngineError;
use crate::weights::Loader;
use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;

/// A loaded architecture.
#[derive(Clone, Debug)]
pub(crate) enum Arch {
    /// 1b
    QuantumMambaSsm(Box<qmamba_ssm::QuantumMambaSsm>),
    /// 3b
    TrueClassicalMamba(Box<cmamba::TrueClassicalMamba>),
    /// 1c (window-only)
    QuantumHydraSsm(Box<qhydra_ssm::QuantumHydraSsm>),
    /// mg
    QuantumMambaGated(Box<qmamba_gated::QuantumMambaGated>),
    /// hg (window-only)
    QuantumHydraGated(Box<qhydra_gated::QuantumHydraGated>),
    /// 4a, 4b, 4c, 4d, 4e (group 4, streams chunk by chunk)
    QuantumE2e(Box<qe2e::QuantumE2e>),
    /// 2a, 2b, 2c (group 2 sequence mixing, window-only)
    QuantumMixing(Box<qmixing::QuantumMixing>),
    /// 2d, 2e (group 2 superposition, streams chunk by chunk)
    QuantumHydraSup(Box<qhydra_sup::QuantumHydraSup>),
    /// 3c (window-only)
    TrueClassicalHydra(Box<chydra::TrueClassicalHydra>),
    /// 3a (window-only)
    ClassicalTransformer(Box<ctransformer::ClassicalTransformer>),
    /// 1a (window-only)
    QuantumTransformer(Box<qtransformer::QuantumTransformer>),
    /// qt-cnn, qt-liu-cnn: Quantum-Train's target CNNs (window-only: one 28×28 image)
    TargetCnn(Box<target_cnn::TargetCnnArch>),
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
                let m = cmamba::TrueClassicalMamba::load(ld, card, Some(2), None)?;
                Ok(Self::TrueClassicalMamba(Box::new(m)))
            }
            "hqc-mamba-classical" | "hqc-mamba" => {
                let arch = card.architecture.as_ref();
                let q = arch.and_then(|a| a.qproj.as_ref());
                if (id == "hqc-mamba") != q.is_some() {
                    return Err(EngineError::Mismatch {
                        what: format!(
                            "model '{id}' with{} architecture.qproj in its card",
                            if q.is_some() { "" } else { "out" }
                        ),
                    });
                }
                let expand = arch.map(|a| a.expand);
                let m = cmamba::TrueClassicalMamba::load(ld, card, expand, q)?;
                Ok(Self::TrueClassicalMamba(Box::new(m)))
            }
            "1c" => {
                let m = qhydra_ssm::QuantumHydraSsm::load(ld, card)?;
                Ok(Self::QuantumHydraSsm(Box::new(m)))
            }
            "mg" => {
                let m = qmamba_gated::QuantumMambaGated::load(ld, card)?;
                Ok(Self::QuantumMambaGated(Box::new(m)))
            }
            "hg" => {
                let m = qhydra_gated::QuantumHydraGated::load(ld, card)?;
                Ok(Self::QuantumHydraGated(Box::new(m)))
            }
            "3c" => {
                let m = chydra::TrueClassicalHydra::load(ld, card)?;
                Ok(Self::TrueClassicalHydra(Box::new(m)))
            }
            "3a" => {
                let m = ctransformer::ClassicalTransformer::load(ld, card)?;
                Ok(Self::ClassicalTransformer(Box::new(m)))
            }
            "1a" => {
                let m = qtransformer::QuantumTransformer::load(ld, card)?;
                Ok(Self::QuantumTransformer(Box::new(m)))
            }
            "4a" | "4b" | "4c" | "4d" | "4e" => {
                let m = qe2e::QuantumE2e::load(id, ld, card)?;
                Ok(Self::QuantumE2e(Box::new(m)))
            }
            "2a" | "2b" | "2c" => {
                let m = qmixing::QuantumMixing::load(id, ld, card)?;
                Ok(Self::QuantumMixing(Box::new(m)))
            }
            "2d" | "2e" => {
                let m = qhydra_sup::QuantumHydraSup::load(id, ld, card)?;
                Ok(Self::QuantumHydraSup(Box::new(m)))
            }
            "qt-cnn" | "qt-liu-cnn" => {
                use qssm_kernels::ops::target_cnn::{LIU_CNN, SEED_CNN};
                let spec = if id == "qt-cnn" { SEED_CNN } else { LIU_CNN };
                let m = target_cnn::TargetCnnArch::load(ld, card, spec)?;
                Ok(Self::TargetCnn(Box::new(m)))
            }
            other => Err(EngineError::UnsupportedModel { id: other.into() }),
        }
    }

    /// The recurrent mode of the architecture, if it has one (3b, the causal variant of 1b,
    /// mg); `None` for window-only architectures (the reference 1b: its block 1 starts from
    /// block 0's final state; 1c: backward scans over the whole window; hg: a time-reversed
    /// branch and a global mean; 3c: backward scans; 3a, 1a: global attention; 2a: one LCU over
    /// the window's chunks; 2b: layer 1 starts from layer 0's final state; 2c: backward
    /// recurrences; spec §6, gated §1.11, groups-2-4 §3.1–3.3).
    pub(crate) fn causal_step(&self) -> Option<&dyn step::CausalStep> {
        match self {
            Self::QuantumMambaSsm(m) if m.is_causal() => Some(m.as_ref()),
            Self::QuantumMambaSsm(_)
            | Self::QuantumHydraSsm(_)
            | Self::QuantumMixing(_)
            | Self::QuantumHydraGated(_)
            | Self::TrueClassicalHydra(_)
            | Self::ClassicalTransformer(_)
            | Self::QuantumTransformer(_)
            | Self::TargetCnn(_) => None,
            Self::TrueClassicalMamba(m) => Some(m.as_ref()),
            Self::QuantumMambaGated(m) => Some(m.as_ref()),
            Self::QuantumE2e(m) => Some(m.as_ref()),
            Self::QuantumHydraSup(m) => Some(m.as_ref()),
        }
    }

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        match self {
            Self::QuantumMambaSsm(m) => m.logits(xt),
            Self::QuantumMambaGated(m) => m.logits(xt),
            Self::QuantumHydraGated(m) => m.logits(xt),
            Self::TrueClassicalMamba(m) => m.logits(xt),
            Self::QuantumHydraSsm(m) => m.logits(xt),
            Self::QuantumMixing(m) => m.logits(xt),
            Self::QuantumE2e(m) => m.logits(xt),
            Self::QuantumHydraSup(m) => m.logits(xt),
            Self::TrueClassicalHydra(m) => m.logits(xt),
            Self::ClassicalTransformer(m) => m.logits(xt),
            Self::QuantumTransformer(m) => m.logits(xt),
            Self::TargetCnn(m) => m.logits(xt),
        }
    }
}
