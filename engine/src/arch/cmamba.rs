//! 3b — `TrueClassicalMamba` (reference `models/TrueClassicalMamba.py`, spec §4.5), eval mode
//! (dropout = identity):
//!
//! x (T, C) → Linear(C, D) (`embedding`) → n_layers × [`MambaBlock`] (`layers.i`: RMSNorm
//! pre-norm, residual inside, SSM from a zero state) → RMSNorm (`final_norm`) → mean over T →
//! Linear(D, n_classes) (`classifier`).
//!
//! Causal up to the mean pool (spec §6), so it streams ([`CausalStep`], one sample per step):
//! the state is the running sum of the `final_norm` outputs (D, Kahan-compensated: sum and
//! compensation), then per block the conv history (3, E) and the SSM state (N, E); the logits
//! of a prefix of t samples are `classifier(sum / t)`. The stream holds up to [`BLOCK`] − 1
//! samples back (in the state) and runs [`BLOCK`] at a time, so every weight matrix is read once
//! per block rather than once per sample (on a Cortex-M7 this and the scan's channel order
//! halved the instructions per sample, `engine/examples/cortex-m7/README.md`);
//! [`CausalStep::flush`] runs the held-back ones before a prediction. Every token gets the same
//! floats whatever the blocking.
use super::layers::{Linear, RmsNorm};
use super::mamba_block::MambaBlock;
use super::running_mean;
use super::step::CausalStep;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;

/// Loaded 3b.
#[derive(Clone, Debug)]
pub(crate) struct TrueClassicalMamba {
    d: usize,
    embedding: Linear,
    blocks: Vec<MambaBlock>,
    final_norm: RmsNorm,
    classifier: Linear,
}

impl TrueClassicalMamba {
    /// Loads every tensor (shapes from the card's hyperparameters; d_inner E = 2·D).
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, d, n) = (hp.n_channels, hp.d_model, hp.d_state);
        let e = 2 * d;
        let embedding = Linear::load(ld, "embedding", c, d, true)?;
        let blocks = (0..hp.n_layers)
            .map(|i| MambaBlock::load_true_classical(ld, &format!("layers.{i}"), (d, e, n)))
            .collect::<Result<Vec<_>, _>>()?;
        let final_norm = RmsNorm::load(ld, "final_norm", d)?;
        let classifier = Linear::load(ld, "classifier", d, hp.n_classes, true)?;
        Ok(Self {
            d,
            embedding,
            blocks,
            final_norm,
            classifier,
        })
    }
}

impl TrueClassicalMamba {
    /// The pending samples' count, kept in the state as a float.
    fn pending(state: &[f32]) -> usize {
        state[0] as usize
    }

    /// Runs the `nb` pending samples (the first of time t0) through the network into the
    /// state: embedding, every block ([`MambaBlock::step_rows`]), `final_norm` and the running
    /// sum, token by token in order; empties the pending buffer.
    fn run_pending(&self, nb: usize, t0: u64, state: &mut [f32], scratch: &mut [f32]) {
        let (c, d) = (self.embedding.d_in(), self.d);
        let (head, rest) = state.split_at_mut(1 + BLOCK * c);
        let (sum, rest) = rest.split_at_mut(d);
        let (comp, mut layers) = rest.split_at_mut(d);
        let (u, rest) = scratch.split_at_mut(BLOCK * d);
        let (f, blk_scratch) = rest.split_at_mut(d);
        let u = &mut u[..nb * d];
        self.embedding.apply_rows(u, d, &head[1..], c, nb);
        for blk in &self.blocks {
            let (st, next) = core::mem::take(&mut layers).split_at_mut(blk.step_state_len());
            blk.step_rows(u, nb, st, t0, blk_scratch);
            layers = next;
        }
        for ut in u.chunks_exact(d) {
            self.final_norm.apply_one(f, ut);
            running_mean::add(sum, comp, f);
        }
        head[0] = 0.0;
    }
}

/// Samples 3b holds back to run its projections over together (a register block of the
/// Cortex-M kernel, [`qssm_kernels::ops::matvec::blocked`]; the extra state is BLOCK·C + 1 floats and the
/// extra scratch about (BLOCK − 1)·(2·D + 4·E) floats).
const BLOCK: usize = 4;

impl CausalStep for TrueClassicalMamba {
    fn chunk(&self) -> usize {
        1
    }

    /// The pending count (1) and samples (BLOCK, C), the running sum and its compensation
    /// (D each), then per block [`MambaBlock::step_state_len`].
    fn state_len(&self) -> usize {
        1 + BLOCK * self.embedding.d_in()
            + 2 * self.d
            + self
                .blocks
                .iter()
                .map(MambaBlock::step_state_len)
                .sum::<usize>()
    }

    /// u (BLOCK, D), final-norm output / pooled mean (D), then the largest block scratch for
    /// BLOCK tokens.
    fn scratch_len(&self) -> usize {
        let blk = self.blocks.iter().map(|b| b.rows_scratch_len(BLOCK)).max();
        (BLOCK + 1) * self.d + blk.unwrap_or(0)
    }

    /// Holds the sample back; every BLOCK samples, runs them (the logits need a
    /// [`CausalStep::flush`] first).
    fn step(&self, x: &[f32], t: u64, state: &mut [f32], scratch: &mut [f32]) {
        let c = x.len();
        let k = Self::pending(state);
        state[1 + k * c..1 + (k + 1) * c].copy_from_slice(x);
        state[0] = (k + 1) as f32;
        if k + 1 == BLOCK {
            self.run_pending(BLOCK, t + 1 - BLOCK as u64, state, scratch);
        }
    }

    fn flush(&self, t: u64, state: &mut [f32], scratch: &mut [f32]) {
        let k = Self::pending(state);
        if k > 0 {
            self.run_pending(k, t - k as u64, state, scratch);
        }
    }

    fn check_state(&self, state: &[f32]) -> Result<(), &'static str> {
        let k = state[0];
        if (0.0..BLOCK as f32).contains(&k) && k == (k as usize) as f32 {
            Ok(())
        } else {
            Err("the count of held-back samples is not an integer in 0..4")
        }
    }

    fn logits(&self, t: u64, state: &[f32], scratch: &mut [f32], logits: &mut [f32]) {
        debug_assert_eq!(Self::pending(state), 0, "3b logits before a flush");
        let (c, d) = (self.embedding.d_in(), self.d);
        let at = 1 + BLOCK * c;
        let pooled = &mut scratch[..d];
        running_mean::mean(pooled, &state[at..at + d], &state[at + d..at + 2 * d], t);
        self.classifier.apply_one(logits, pooled);
    }
}
