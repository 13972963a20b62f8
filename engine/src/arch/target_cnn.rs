//! `qt-cnn`: the Quantum-Train qt-seed target CNN (spec hqc-mamba-and-quantum-train §5.2) with
//! its 6,676 weights from the file — a CNN trained directly, or the one a trained
//! Quantum-Train generated (`trainer export --format generated-cnn`). It runs the network's one
//! description, [`qssm_kernels::ops::target_cnn::TargetCnn`], which the trainer trains through.
//! Window-only: one 28×28 image (1 channel, 784 samples, row-major = the token-major window)
//! → 10 logits.
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::ops::target_cnn::{TargetCnn, N_CLASSES, N_WEIGHTS, SIDE, TENSORS};

/// The loaded CNN: θ in the network's order (conv1, conv2, fc1, fc2; weights then bias).
#[derive(Clone, Debug)]
pub(crate) struct TargetCnnArch {
    theta: Vec<f32>,
}

impl TargetCnnArch {
    /// Takes the eight tensors (`conv1.weight` (4, 1, 3, 3) … `fc2.bias` (10)); the card must
    /// declare one channel of 784 samples and 10 classes.
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        if (hp.n_channels, hp.n_times, hp.n_classes) != (1, SIDE * SIDE, N_CLASSES) {
            return Err(EngineError::Mismatch {
                what: format!(
                    "qt-cnn takes one 28×28 image (1 channel, 784 samples) and gives {N_CLASSES} \
                     classes; the card declares {} channel(s), {} samples, {} classes",
                    hp.n_channels, hp.n_times, hp.n_classes
                ),
            });
        }
        let mut theta = Vec::with_capacity(N_WEIGHTS);
        for (name, shape) in TENSORS {
            theta.extend(ld.take(name, shape)?);
        }
        Ok(Self { theta })
    }

    /// Token-major window xt (784, 1) = the image, row-major → logits (10).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        TargetCnn::new(&self.theta).logits(xt)
    }
}
