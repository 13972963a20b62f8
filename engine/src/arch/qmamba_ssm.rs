//! 1b — `QuantumMambaSSM` (reference `models/QuantumSSM.py`, spec §4.2), eval mode
//! (dropout = identity):
//!
//! x (T, C) → u = SiLU(LayerNorm(Linear(C, D)(x))) (`feature_proj.0/.1`) (T, D)
//! → [`ChunkProcessor`] (`quantum_processor.`, cs = 32) (nc, D)
//! → n_layers × [`MambaBlock`] with residual `c = c + block(c)`, **block i starting from block
//! i−1's final SSM state** (block 0 from zeros; the causal variant, card `causal`, starts
//! every block from zeros and gives the chunk softmax's pad rows no weight)
//! → LayerNorm (`output_norm`) → mean over the nc chunks → Linear(D, D) (`output_layer.0`) →
//! ReLU → Linear(D, n_classes) (`output_layer.3`).
use super::chunk_processor::ChunkProcessor;
use super::layers::{mean_over_rows, LayerNorm, Linear};
use super::mamba_block::MambaBlock;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::ops::activation::{relu_forward, silu_forward};

/// Chunk size of 1b's `ChunkedQuantumProcessor`.
pub(crate) const CHUNK_SIZE: usize = 32;
/// Largest Q the engine simulates (state of 2^Q complex128 amplitudes per circuit).
pub(crate) const MAX_QUBITS: usize = 12;

/// Loaded 1b.
#[derive(Clone, Debug)]
pub(crate) struct QuantumMambaSsm {
    /// causal variant (card `causal`): no state chaining, pad rows masked in the chunk softmax
    causal: bool,
    t: usize,
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

impl QuantumMambaSsm {
    /// Checks the 1b-specific card fields and loads every tensor (shapes from the card's
    /// hyperparameters, E = 2·D).
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, t, d, n, q, layers) = (
            hp.n_channels,
            hp.n_times,
            hp.d_model,
            hp.d_state,
            hp.n_qubits,
            hp.n_layers,
        );
        if d < 8 {
            return Err(mismatch(format!(
                "1b needs d_model ≥ 8 (dt_rank = d_inner/16 ≥ 1), card has {d}"
            )));
        }
        if !(2..=MAX_QUBITS).contains(&q) {
            return Err(mismatch(format!(
                "1b needs 2 ≤ n_qubits ≤ {MAX_QUBITS}, card has {q}"
            )));
        }
        if 5 * q * layers > u16::MAX as usize + 1 {
            return Err(mismatch(format!(
                "1b circuit with {q} qubits × {layers} layers has too many angles"
            )));
        }
        if let Some(cl) = &card.circuit {
            if cl.n_qubits != q || cl.n_layers != layers {
                return Err(mismatch(format!(
                    "circuit layout has {} qubits × {} layers, hyperparameters say {q} × {layers}",
                    cl.n_qubits, cl.n_layers
                )));
            }
            if cl.chunk_size != CHUNK_SIZE {
                return Err(mismatch(format!(
                    "1b chunk size is {CHUNK_SIZE}, circuit layout says {}",
                    cl.chunk_size
                )));
            }
            if !cl.ansatz.starts_with("unified") {
                return Err(mismatch(format!(
                    "1b uses the unified ansatz, circuit layout says '{}'",
                    cl.ansatz
                )));
            }
        }
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
            causal: card.causal,
            t,
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

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        let (t, d) = (self.t, self.d);
        let f0 = self.feat0.apply(xt, t);
        let f1 = self.feat_ln.apply(&f0, t);
        let mut u = f0; // reuse the buffer
        silu_forward(&mut u, &f1);
        let mut c = self.proc.apply(&u, t, self.causal);
        let nc = self.proc.n_chunks(t);
        let mut state = vec![0.0; self.blocks.first().map_or(0, MambaBlock::state_len)];
        for blk in &self.blocks {
            if self.causal {
                // causal variant: every block's scan starts from zero
                state.iter_mut().for_each(|v| *v = 0.0);
            }
            let y = blk.apply(&c, nc, &mut state);
            c.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
        }
        let on = self.out_norm.apply(&c, nc);
        let pooled = mean_over_rows(&on, nc, d);
        let h0 = self.head0.apply(&pooled, 1);
        let mut r = vec![0.0; h0.len()];
        relu_forward(&mut r, &h0);
        self.head3.apply(&r, 1)
    }
}
