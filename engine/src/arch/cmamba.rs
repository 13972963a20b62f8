//! 3b — `TrueClassicalMamba` (reference `models/TrueClassicalMamba.py`, spec §4.5), eval mode
//! (dropout = identity):
//!
//! x (T, C) → Linear(C, D) (`embedding`) → n_layers × [`MambaBlock`] (`layers.i`: RMSNorm
//! pre-norm, residual inside, SSM from a zero state) → RMSNorm (`final_norm`) → mean over T →
//! Linear(D, n_classes) (`classifier`).
use super::layers::{mean_over_rows, Linear, RmsNorm};
use super::mamba_block::MambaBlock;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;

/// Loaded 3b.
#[derive(Clone, Debug)]
pub(crate) struct TrueClassicalMamba {
    t: usize,
    d: usize,
    embedding: Linear,
    blocks: Vec<MambaBlock>,
    final_norm: RmsNorm,
    classifier: Linear,
}

impl TrueClassicalMamba {
    /// Loads every tensor (shapes from the card's hyperparameters, E = 2·D).
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, t, d, n) = (hp.n_channels, hp.n_times, hp.d_model, hp.d_state);
        let embedding = Linear::load(ld, "embedding", c, d, true)?;
        let blocks = (0..hp.n_layers)
            .map(|i| MambaBlock::load_true_classical(ld, &format!("layers.{i}"), d, n))
            .collect::<Result<Vec<_>, _>>()?;
        let final_norm = RmsNorm::load(ld, "final_norm", d)?;
        let classifier = Linear::load(ld, "classifier", d, hp.n_classes, true)?;
        Ok(Self {
            t,
            d,
            embedding,
            blocks,
            final_norm,
            classifier,
        })
    }

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        let (t, d) = (self.t, self.d);
        let mut u = self.embedding.apply(xt, t);
        let mut state = alloc::vec![0.0; self.blocks.first().map_or(0, MambaBlock::state_len)];
        for blk in &self.blocks {
            state.fill(0.0);
            u = blk.apply(&u, t, &mut state);
        }
        let fnorm = self.final_norm.apply(&u, t);
        let pooled = mean_over_rows(&fnorm, t, d);
        self.classifier.apply(&pooled, 1)
    }
}
