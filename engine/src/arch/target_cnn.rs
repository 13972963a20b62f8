//! `qt-cnn` / `qt-liu-cnn`: a Quantum-Train target CNN (spec hqc-mamba-and-quantum-train
//! §5.2: qt-seed's, 6,676 weights; §5.3: qt-liu's, 6,690, no ReLUs) with its weights from the
//! file — a CNN trained directly, or the one a trained Quantum-Train generated (`trainer export
//! --format generated-cnn`). It runs the networks' one description,
//! [`qssm_kernels::ops::target_cnn::TargetCnn`], which the trainer trains through.
//! Window-only: one 28×28 image (1 channel, 784 samples, row-major = the token-major window)
//! → 10 logits.
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::ops::target_cnn::{CnnSpec, TargetCnn, N_CLASSES, SIDE};

/// The loaded CNN: θ in the network's order (conv1, conv2, fc1, fc2; weights then bias).
#[derive(Clone, Debug)]
pub(crate) struct TargetCnnArch {
    spec: CnnSpec,
    theta: Vec<f32>,
}

impl TargetCnnArch {
    /// Takes the eight tensors of the CNN `spec` (`conv1.weight` (c1, 1, k, k) … `fc2.bias`
    /// (10)); the card must declare one channel of 784 samples and 10 classes.
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        card: &ModelCard,
        spec: CnnSpec,
    ) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        if (hp.n_channels, hp.n_times, hp.n_classes) != (1, SIDE * SIDE, N_CLASSES) {
            return Err(EngineError::Mismatch {
                what: format!(
                    "{} takes one 28×28 image (1 channel, 784 samples) and gives {N_CLASSES} \
                     classes; the card declares {} channel(s), {} samples, {} classes",
                    card.model_id, hp.n_channels, hp.n_times, hp.n_classes
                ),
            });
        }
        let mut theta = Vec::with_capacity(spec.n_weights());
        for (name, shape) in spec.tensors() {
            theta.extend(ld.take(name, &shape)?);
        }
        Ok(Self { spec, theta })
    }

    /// Token-major window xt (784, 1) = the image, row-major → logits (10).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        TargetCnn::new(self.spec, &self.theta).logits(xt)
    }
}
