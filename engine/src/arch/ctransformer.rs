//! 3a — `ClassicalTransformer` (reference `models/ClassicalTransformer.py`, spec §4.4; trainer
//! `models/zoo/classical_transformer.rs`), eval mode (dropout = identity):
//!
//! x (T, C) → Linear(C, D) (`embedding`) → + `pos_encoding`\[:T\] (frozen sinusoidal table
//! (1, T, D), max_len = T) → n_layers × [`TransformerBlock`] (`layers.i`, bidirectional
//! attention over all T samples) → RMSNorm (`final_norm`) → mean over T → Linear(D, n_classes)
//! (`classifier`).
//!
//! Window-only (spec §6: global attention over the whole window), so the card must say
//! `causal = false` and [`crate::Model::stream`] answers [`EngineError::NotCausal`].
use super::layers::{mean_over_rows, Linear, RmsNorm};
use super::transformer::{check_heads, PositionalTable, TransformerBlock};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;

/// Loaded 3a.
#[derive(Clone, Debug)]
pub(crate) struct ClassicalTransformer {
    t: usize,
    d: usize,
    pos: PositionalTable,
    embedding: Linear,
    blocks: Vec<TransformerBlock>,
    final_norm: RmsNorm,
    classifier: Linear,
}

impl ClassicalTransformer {
    /// Checks the 3a-specific card fields (`causal = false`, D divisible by the 4 heads) and
    /// loads every tensor (shapes from the card's hyperparameters, E = 2·D).
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, t, d) = (hp.n_channels, hp.n_times, hp.d_model);
        if card.causal {
            return Err(EngineError::Mismatch {
                what: String::from(
                    "3a is window-only (global attention over the whole window), card says causal = true",
                ),
            });
        }
        check_heads("3a", d)?;
        let pos = PositionalTable::load(ld, "pos_encoding", t, d)?;
        let embedding = Linear::load(ld, "embedding", c, d, true)?;
        let blocks = (0..hp.n_layers)
            .map(|i| TransformerBlock::load(ld, &format!("layers.{i}"), d))
            .collect::<Result<Vec<_>, _>>()?;
        let final_norm = RmsNorm::load(ld, "final_norm", d)?;
        let classifier = Linear::load(ld, "classifier", d, hp.n_classes, true)?;
        Ok(Self {
            t,
            d,
            pos,
            embedding,
            blocks,
            final_norm,
            classifier,
        })
    }

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        let (t, d) = (self.t, self.d);
        let mut h = self.embedding.apply(xt, t);
        self.pos.add(&mut h, t);
        for blk in &self.blocks {
            h = blk.apply(&h, t);
        }
        let fnorm = self.final_norm.apply(&h, t);
        let pooled = mean_over_rows(&fnorm, t, d);
        self.classifier.apply(&pooled, 1)
    }
}
