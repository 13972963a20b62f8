//! 1c — `QuantumHydraSSM` (reference `models/QuantumSSM.py`, spec §4.3; trainer
//! `models/zoo/quantum_hydra_ssm.rs`), eval mode (dropout = identity):
//!
//! x (T, C) → u = SiLU(LayerNorm(Linear(C, D)(x))) (`feature_proj.0/.1`) (T, D)
//! → three [`ChunkProcessor`]s (cs = 32, (nc, D) each): q_f = `quantum_forward.`(u),
//! q_b = rev(`quantum_backward.`(rev u)) (the time reversal comes **before** the zero padding,
//! so that branch's pad rows sit at the start of original time; its output is re-reversed in
//! chunk order), q_d = `quantum_diagonal.`(u)
//! → c = w_α·q_f + w_β·q_b + w_γ·q_d with w_k = |c_k|/√(|α|²+|β|²+|γ|²+1e-8) for the complex
//! top-level `alpha`, `beta`, `gamma` (stored (1, 2) = (re, im); weights computed once at load)
//! → n_layers × (c + [`HydraBlock`]\(c)) (`hydra_layers.i`, every scan from zero)
//! → LayerNorm (`output_norm`) → mean over the nc chunks → Linear(D, n_classes)
//! (`output_layer`).
//!
//! Window-only (spec §6: the Hydra blocks' backward scans and the backward processor need the
//! whole window), so the card must say `causal = false` and [`crate::Model::stream`] answers
//! [`EngineError::NotCausal`].
use super::chunk_processor::ChunkProcessor;
use super::hydra_block::{reverse_time, HydraBlock};
use super::layers::{mean_over_rows, LayerNorm, Linear};
use super::qmamba_ssm::{check_qssm_card, CHUNK_SIZE};
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::ops::activation::silu_forward;

/// Added to Σ|c_k|² before the square root (reference constant).
const MIX_EPS: f32 = 1e-8;

/// Loaded 1c.
#[derive(Clone, Debug)]
pub(crate) struct QuantumHydraSsm {
    t: usize,
    d: usize,
    feat0: Linear,
    feat_ln: LayerNorm,
    /// forward, backward, diagonal processors
    procs: [ChunkProcessor; 3],
    /// w_α, w_β, w_γ
    w: [f32; 3],
    blocks: Vec<HydraBlock>,
    out_norm: LayerNorm,
    head: Linear,
}

impl QuantumHydraSsm {
    /// Checks the 1c-specific card fields (those of 1b, see [`check_qssm_card`], plus
    /// `causal = false`) and loads every tensor (shapes from the card's hyperparameters,
    /// E = 2·D).
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
        check_qssm_card(card, "1c")?;
        if card.causal {
            return Err(EngineError::Mismatch {
                what: String::from(
                    "1c is window-only (backward scans over the whole window), card says causal = true",
                ),
            });
        }
        // complex64 (1) parameters stored as (1, 2) = (re, im): the magnitudes |c_k|
        let mut mags = [0.0f32; 3];
        for (m, name) in mags.iter_mut().zip(["alpha", "beta", "gamma"]) {
            let v = ld.take(name, &[1, 2])?;
            *m = libm::hypotf(v[0], v[1]);
        }
        let norm = libm::sqrtf(mags[0] * mags[0] + mags[1] * mags[1] + mags[2] * mags[2] + MIX_EPS);
        let feat0 = Linear::load(ld, "feature_proj.0", c, d, true)?;
        let feat_ln = LayerNorm::load(ld, "feature_proj.1", d)?;
        let mut load_proc = |pre: &str| ChunkProcessor::load(ld, pre, d, d, CHUNK_SIZE, q, layers);
        let procs = [
            load_proc("quantum_forward.")?,
            load_proc("quantum_backward.")?,
            load_proc("quantum_diagonal.")?,
        ];
        let blocks = (0..layers)
            .map(|i| HydraBlock::load(ld, &format!("hydra_layers.{i}"), d, n))
            .collect::<Result<Vec<_>, _>>()?;
        let out_norm = LayerNorm::load(ld, "output_norm", d)?;
        let head = Linear::load(ld, "output_layer", d, hp.n_classes, true)?;
        Ok(Self {
            t,
            d,
            feat0,
            feat_ln,
            procs,
            w: mags.map(|m| m / norm),
            blocks,
            out_norm,
            head,
        })
    }

    /// Token-major window xt (T, C) → logits (n_classes).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        let (t, d) = (self.t, self.d);
        let f0 = self.feat0.apply(xt, t);
        let f1 = self.feat_ln.apply(&f0, t);
        let mut u = f0; // reuse the buffer
        silu_forward(&mut u, &f1);
        let nc = self.procs[0].n_chunks(t);
        let qf = self.procs[0].apply(&u, t, false);
        let qb = reverse_time(
            &self.procs[1].apply(&reverse_time(&u, t, d), t, false),
            nc,
            d,
        );
        let qd = self.procs[2].apply(&u, t, false);
        let w = self.w;
        let mut c: Vec<f32> = (0..nc * d)
            .map(|i| w[0] * qf[i] + w[1] * qb[i] + w[2] * qd[i])
            .collect();
        for blk in &self.blocks {
            let y = blk.apply(&c, nc);
            c.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
        }
        let on = self.out_norm.apply(&c, nc);
        let pooled = mean_over_rows(&on, nc, d);
        self.head.apply(&pooled, 1)
    }
}
