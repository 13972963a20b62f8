//! The causal variant of 1b — `QuantumMambaSSM` (reference `models/QuantumSSM.py`, spec §4.2;
//! card `causal`), eval mode (dropout = identity). The reference 1b (window-only: its block i
//! starts from block i−1's final SSM state) runs its shared description ([`super::shared`]).
//!
//! x (T, C) → u = SiLU(LayerNorm(Linear(C, D)(x))) (`feature_proj.0/.1`) (T, D)
//! → [`ChunkProcessor`] (`quantum_processor.`, cs = 32, the pad rows of the last chunk without
//! weight in the chunk softmax) (nc, D)
//! → n_layers × [`MambaBlock`] with residual `c = c + block(c)`, every block's scan from zeros
//! → LayerNorm (`output_norm`) → mean over the nc chunks → Linear(D, D) (`output_layer.0`) →
//! ReLU → Linear(D, n_classes) (`output_layer.3`).
//!
//! The causal variant streams chunk by chunk ([`CausalStep`] with step cs = 32): per sample
//! the feature projection and the chunk-attention score, pooled online
//! ([`ChunkProcessor::push_row`]); per completed chunk its output row through the blocks' recurrent
//! mode ([`MambaBlock::step_rows`], one step per chunk) and `output_norm` into a running mean
//! ([`running_mean`]). State: sum and compensation (2·D), the pool (D + 2), per block the conv
//! history (3, E) and SSM state (N, E). Logits exist after every sample: between chunk
//! boundaries the partial chunk is closed tentatively in scratch (what the window path
//! computes on a window of that many samples, whose last chunk is padded and masked).
use super::chunk_processor::ChunkProcessor;
use super::circuit_card::{check_circuit, AnsatzRule};
use super::layers::{LayerNorm, Linear};
use super::mamba_block::MambaBlock;
use super::running_mean;
use super::step::CausalStep;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::ops::activation::silu_forward;

/// Chunk size of 1b's `ChunkedQuantumProcessor`.
pub(crate) const CHUNK_SIZE: usize = 32;

/// Loaded 1b.
#[derive(Clone, Debug)]
pub(crate) struct QuantumMambaSsm {
    d: usize,
    feat0: Linear,
    feat_ln: LayerNorm,
    proc: ChunkProcessor,
    blocks: Vec<MambaBlock>,
    out_norm: LayerNorm,
    head0: Linear,
    head3: Linear,
}

fn mismatch(what: alloc::string::String) -> EngineError {
    EngineError::Mismatch { what }
}

/// Card checks shared by the QuantumSSM.py models (1b, 1c; `id` names the model in errors):
/// d_model ≥ 8 (dt_rank = d_inner/16 ≥ 1), 2 ≤ Q ≤ [`MAX_QUBITS`](super::statevec::MAX_QUBITS), a circuit program small
/// enough for the simulator, and a circuit layout (if the card has one) that agrees with the
/// hyperparameters: Q, layers, chunk size [`CHUNK_SIZE`], unified ansatz. Errors:
/// [`EngineError::Mismatch`].
pub(crate) fn check_qssm_card(card: &ModelCard, id: &str) -> Result<(), EngineError> {
    let hp = &card.hyperparameters;
    let d = hp.d_model;
    if d < 8 {
        return Err(mismatch(format!(
            "{id} needs d_model ≥ 8 (dt_rank = d_inner/16 ≥ 1), card has {d}"
        )));
    }
    check_circuit(id, card, 1, CHUNK_SIZE, AnsatzRule::Unified)?;
    Ok(())
}

impl QuantumMambaSsm {
    /// Checks the 1b-specific card fields and loads every tensor of the causal variant (shapes from the card's
    /// hyperparameters, E = 2·D).
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, d, n, q, layers) = (
            hp.n_channels,
            hp.d_model,
            hp.d_state,
            hp.n_qubits,
            hp.n_layers,
        );
        check_qssm_card(card, "1b")?;
        let feat0 = Linear::load(ld, "feature_proj.0", c, d, true)?;
        let feat_ln = LayerNorm::load(ld, "feature_proj.1", d)?;
        let proc = ChunkProcessor::load(ld, "quantum_processor.", d, d, CHUNK_SIZE, q, layers)?;
        let blocks = (0..layers)
            .map(|i| MambaBlock::load_quantum_ssm(ld, &format!("mamba_layers.{i}"), d, n))
            .collect::<Result<Vec<_>, _>>()?;
        let out_norm = LayerNorm::load(ld, "output_norm", d)?;
        let head0 = Linear::load(ld, "output_layer.0", d, d, true)?;
        let head3 = Linear::load(ld, "output_layer.3", d, hp.n_classes, true)?;
        Ok(Self {
            d,
            feat0,
            feat_ln,
            proc,
            blocks,
            out_norm,
            head0,
            head3,
        })
    }
}

/// The blocks' recurrent states while closing a chunk: advanced in place, or copied into
/// scratch first (a tentative close; the state is unchanged).
enum Blocks<'s> {
    Advance(&'s mut [f32]),
    Peek(&'s [f32]),
}

impl QuantumMambaSsm {
    /// The largest per-block recurrent state.
    fn block_state_max(&self) -> usize {
        self.blocks
            .iter()
            .map(MambaBlock::step_state_len)
            .max()
            .unwrap_or(0)
    }

    /// Floats of scratch [`Self::chunk_out`] needs: on, c, v (3·D), a block state copy, then
    /// the chunk processor's or the blocks' own.
    fn chunk_out_len(&self) -> usize {
        let blk = self.blocks.iter().map(|b| b.rows_scratch_len(1)).max();
        3 * self.d + self.block_state_max() + self.proc.step_scratch_len().max(blk.unwrap_or(0))
    }

    /// Chunk `j`'s output row: the pooled chunk (`pool`) → chunk processor → every block with
    /// its residual (block step j) → `output_norm`; returns on (D), at the start of `scratch`.
    /// No allocation.
    fn chunk_out<'s>(
        &self,
        j: u64,
        pool: &[f32],
        mut blocks: Blocks<'_>,
        scratch: &'s mut [f32],
    ) -> &'s [f32] {
        let d = self.d;
        let (on, rest) = scratch.split_at_mut(d);
        let (c, rest) = rest.split_at_mut(d);
        let (v, rest) = rest.split_at_mut(d);
        let (tmp, work) = rest.split_at_mut(self.block_state_max());
        self.proc.close(pool, c, work);
        let mut offset = 0;
        for blk in &self.blocks {
            let n = blk.step_state_len();
            let st: &mut [f32] = match &mut blocks {
                Blocks::Advance(s) => &mut s[offset..offset + n],
                Blocks::Peek(s) => {
                    tmp[..n].copy_from_slice(&s[offset..offset + n]);
                    &mut tmp[..n]
                }
            };
            v.copy_from_slice(c);
            blk.step_rows(v, 1, st, j, work);
            c.iter_mut().zip(v.iter()).for_each(|(a, b)| *a += b);
            offset += n;
        }
        self.out_norm.apply_one(on, c);
        on
    }
}

impl CausalStep for QuantumMambaSsm {
    fn chunk(&self) -> usize {
        self.proc.chunk_size()
    }

    /// sum (D), compensation (D), the pool (D + 2), then per block
    /// [`MambaBlock::step_state_len`].
    fn state_len(&self) -> usize {
        let blocks: usize = self.blocks.iter().map(MambaBlock::step_state_len).sum();
        2 * self.d + self.proc.pool_len() + blocks
    }

    /// 4·D (features, or the tentative sum, compensation, mean and head), then the chunk
    /// close's or the score's.
    fn scratch_len(&self) -> usize {
        4 * self.d + self.chunk_out_len().max(self.proc.step_scratch_len())
    }

    fn step(&self, x: &[f32], t: u64, state: &mut [f32], scratch: &mut [f32]) {
        let (d, cs) = (self.d, self.proc.chunk_size() as u64);
        let (sum, rest) = state.split_at_mut(d);
        let (comp, rest) = rest.split_at_mut(d);
        let (pool, layers) = rest.split_at_mut(self.proc.pool_len());
        let (f0, rest) = scratch.split_at_mut(d);
        let (f1, rest) = rest.split_at_mut(d);
        let rest = &mut rest[2 * d..];
        self.feat0.apply_one(f0, x);
        self.feat_ln.apply_one(f1, f0);
        silu_forward(f0, f1);
        self.proc.push_row(f0, (t % cs) as usize, pool, rest);
        if (t + 1).is_multiple_of(cs) {
            let on = self.chunk_out(t / cs, pool, Blocks::Advance(layers), rest);
            running_mean::add(sum, comp, on);
        }
    }

    fn logits(&self, t: u64, state: &[f32], scratch: &mut [f32], logits: &mut [f32]) {
        let (d, cs) = (self.d, self.proc.chunk_size() as u64);
        let (sum, rest) = state.split_at(d);
        let (comp, rest) = rest.split_at(d);
        let (pool, layers) = rest.split_at(self.proc.pool_len());
        let (s2, rest) = scratch.split_at_mut(d);
        let (c2, rest) = rest.split_at_mut(d);
        let (pooled, rest) = rest.split_at_mut(d);
        let (r, rest) = rest.split_at_mut(d);
        s2.copy_from_slice(sum);
        c2.copy_from_slice(comp);
        let mut n = t / cs;
        if !t.is_multiple_of(cs) {
            // the partial last chunk, closed tentatively
            let on = self.chunk_out(n, pool, Blocks::Peek(layers), rest);
            running_mean::add(s2, c2, on);
            n += 1;
        }
        running_mean::mean(pooled, s2, c2, n);
        self.head0.apply_one(r, pooled);
        r.iter_mut().for_each(|v| *v = v.max(0.0));
        self.head3.apply_one(logits, r);
    }
}
