//! 1a — `QuantumTransformer` (reference `models/QuantumTransformer.py`, spec §4.1; trainer
//! `models/zoo/quantum_transformer.rs`), eval mode (dropout = identity):
//!
//! x (T, C) → u = SiLU(Linear(C, C)(x)) (`feature_proj`) → `QuantumFeatureProcessor`
//! ([`ChunkProcessor`] with QGR-flavour branches on the unified ansatz without encoding,
//! cs = 16, F = C, `quantum_processor.`) (nc, D), nc = ⌈T/16⌉ (zero pad rows of the last chunk
//! enter its softmax, as in the reference) → + `pos_encoding`\[:nc\] (frozen sinusoidal table
//! (1, nc, D)) → n_layers × [`TransformerBlock`] (`transformer_layers.i`, bidirectional
//! attention over the nc chunk tokens) → RMSNorm (`final_norm`) → mean over the chunks →
//! Linear(D, n_classes) (`classifier`). `n_layers` is both the circuit depth and the number of
//! transformer blocks (one hyperparameter in the reference).
//!
//! Window-only (spec §6: global attention), so the card must say `causal = false` and
//! [`crate::Model::stream`] answers [`EngineError::NotCausal`].
use super::chunk_processor::ChunkProcessor;
use super::circuit_card::{check_circuit, AnsatzRule};
use super::layers::{mean_over_rows, Linear, RmsNorm};
use super::transformer::{check_heads, PositionalTable, TransformerBlock};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::circuit::Program;
use qssm_kernels::ops::activation::silu_forward;

/// Chunk size of 1a's `QuantumFeatureProcessor`.
const CHUNK_SIZE: usize = 16;

fn mismatch(what: String) -> EngineError {
    EngineError::Mismatch { what }
}

/// Loaded 1a.
#[derive(Clone, Debug)]
pub(crate) struct QuantumTransformer {
    t: usize,
    d: usize,
    pos: PositionalTable,
    feature_proj: Linear,
    proc: ChunkProcessor,
    blocks: Vec<TransformerBlock>,
    final_norm: RmsNorm,
    classifier: Linear,
}

impl QuantumTransformer {
    /// Checks the 1a-specific card fields (`causal = false`, 2 ≤ n_qubits ≤ 12, C ≥ 2 for the
    /// C/2 chunk-attention width, D divisible by the 4 heads, and if the card has a circuit
    /// layout: the same qubits × layers, chunk size 16, the unified ansatz) and loads every
    /// tensor (shapes from the card's hyperparameters).
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let hp = &card.hyperparameters;
        let (c, t, d, q, layers) = (
            hp.n_channels,
            hp.n_times,
            hp.d_model,
            hp.n_qubits,
            hp.n_layers,
        );
        if card.causal {
            return Err(mismatch(String::from(
                "1a is window-only (global attention over the whole window), card says causal = true",
            )));
        }
        check_heads("1a", d)?;
        if c < 2 {
            return Err(mismatch(format!(
                "1a needs n_channels ≥ 2 (chunk attention width C/2), card has {c}"
            )));
        }
        check_circuit("1a", card, 1, CHUNK_SIZE, AnsatzRule::Unified)?;
        let nc = t.div_ceil(CHUNK_SIZE);
        let pos = PositionalTable::load(ld, "pos_encoding", nc, d)?;
        let feature_proj = Linear::load(ld, "feature_proj", c, c, true)?;
        let program = Program::unified_ansatz(q, layers, false);
        let proc = ChunkProcessor::load_qgr(ld, "quantum_processor.", c, d, CHUNK_SIZE, program)?;
        let blocks = (0..layers)
            .map(|i| TransformerBlock::load(ld, &format!("transformer_layers.{i}"), d))
            .collect::<Result<Vec<_>, _>>()?;
        let final_norm = RmsNorm::load(ld, "final_norm", d)?;
        let classifier = Linear::load(ld, "classifier", d, hp.n_classes, true)?;
        Ok(Self {
            t,
            d,
            pos,
            feature_proj,
            proc,
            blocks,
            final_norm,
            classifier,
        })
    }

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        let (t, d) = (self.t, self.d);
        let f0 = self.feature_proj.apply(xt, t);
        let mut u = alloc::vec![0.0; f0.len()];
        silu_forward(&mut u, &f0);
        let nc = self.proc.n_chunks(t);
        let mut h = self.proc.apply(&u, t, false);
        self.pos.add(&mut h, nc);
        for blk in &self.blocks {
            h = blk.apply(&h, nc);
        }
        let fnorm = self.final_norm.apply(&h, nc);
        let pooled = mean_over_rows(&fnorm, nc, d);
        self.classifier.apply(&pooled, 1)
    }
}
