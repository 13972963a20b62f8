//! The architectures the engine runs. Every zoo model's window runs its one description, the
//! trainer's (`qssm_models`, see [`shared`]), on parameters stored once in the file's dtype.
//! mg, the causal 1b, 2d, 2e, 4a–4e and the HQC Mambas stream through their description's own
//! streaming step (`qssm_models::nn::StepNet`, [`shared_step`]). The streaming form of 3b
//! ([`step::CausalStep`], one sample at a time, for [`crate::stream`]) is still an engine
//! module here, whose weight matrices are views of those parameters, composed of inference
//! blocks ([`layers`], [`ssm`], [`mamba_block`]) over the `qssm_kernels` forward ops;
//! replacing it by the shared blocks' own steps is the rest of the one-description work: with
//! feature `stream-3b-description` 3b streams through its description too (as fast; its plan
//! arena is still about 14× this form's scratch). The
//! Quantum-Train CNNs run the shared `qssm_kernels::ops::target_cnn` forward through their
//! engine form ([`Arch::logits`]).
mod circuit_card;
mod cmamba;
mod gated_config;
mod layers;
mod mamba_block;
mod running_mean;
pub(crate) mod shared;
pub(crate) mod shared_step;
mod ssm;
pub(crate) mod step;
mod target_cnn;

use crate::error::EngineError;
use crate::weights::Loader;
use alloc::boxed::Box;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_formats::registry::ModelInfo;

/// A loaded architecture.
#[derive(Clone, Debug)]
pub(crate) enum Arch {
    /// 3b (its streaming form)
    TrueClassicalMamba(Box<cmamba::TrueClassicalMamba>),
    /// qt-cnn, qt-liu-cnn: Quantum-Train's target CNNs (window-only: one 28×28 image)
    TargetCnn(Box<target_cnn::TargetCnnArch>),
}

/// Whether model `id` (with a shared description) has an engine streaming form ([`Arch`]): 3b
/// (mg, the causal 1b, 2d, 2e, 4a–4e and the HQC Mambas stream through their description,
/// [`shared_step`]). The others are window-only.
pub(crate) fn streams(id: &str) -> bool {
    id == "3b" && !cfg!(feature = "stream-3b-description")
}

impl Arch {
    /// Loads the architecture of registry entry `entry` (already checked to be supported).
    pub(crate) fn load(
        entry: &ModelInfo,
        ld: &mut Loader<'_, '_>,
        card: &ModelCard,
    ) -> Result<Self, EngineError> {
        let id = entry.id;
        match id {
            "3b" => {
                let m = cmamba::TrueClassicalMamba::load(ld, card)?;
                Ok(Self::TrueClassicalMamba(Box::new(m)))
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

    /// The recurrent mode of the architecture, if it has one (3b); `None` for
    /// window-only architectures (the reference
    /// 1b: its block 1 starts from block 0's final state; 1c: backward scans over the whole
    /// window; hg: a time-reversed branch and a global mean; 3c: backward scans; 3a, 1a: global
    /// attention; 2a: one LCU over the window's chunks; 2b: layer 1 starts from layer 0's final
    /// state; 2c: backward recurrences; spec §6, gated §1.11, groups-2-4 §3.1–3.3).
    pub(crate) fn causal_step(&self) -> Option<&dyn step::CausalStep> {
        match self {
            Self::TargetCnn(_) => None,
            Self::TrueClassicalMamba(m) => Some(m.as_ref()),
        }
    }

    /// Window x (C, T) channel-major → logits (n_classes), for the models without a shared
    /// description (the Quantum-Train CNNs); `None` for the streaming forms (those models'
    /// windows run their shared description).
    pub(crate) fn logits(&self, x: &[f32], c: usize, t: usize) -> Option<Vec<f32>> {
        match self {
            Self::TargetCnn(m) => Some(m.logits(&to_token_major(x, c, t))),
            _ => None,
        }
    }
}

/// (C, T) channel-major → (T, C) token-major, the layout of the engine's own forward passes.
fn to_token_major(x: &[f32], c: usize, t: usize) -> Vec<f32> {
    let mut y = alloc::vec![0.0; c * t];
    for (ci, row) in x.chunks_exact(t).enumerate() {
        for (ti, v) in row.iter().enumerate() {
            y[ti * c + ci] = *v;
        }
    }
    y
}
