//! hg — `QuantumHydraGated` (reference `models/QuantumGatedRecurrence.py`, spec
//! gated-and-protocols §1.7), eval mode (dropout = identity), window only:
//!
//! x (T, F) → x_p = Linear(F, F)(x) (`feature_proj`; no SiLU) →
//! * h_f = [`GatedRecurrence`] `branch_forward.`(x_p) (H),
//! * h_b = `branch_backward.`(reverse_time(x_p)) (H): its chunks are anchored at the end of the
//!   original sequence, the short remainder (the first samples) processed last,
//! * h_g = Linear(Q, H)(QSB(mean_t x_p)) (`global_proj`; the QSB [`QsbQgr`] is
//!   `branch_global.`) (H);
//!
//! s = α h_f + β h_b + γ h_g ∈ ℂ^H with the complex scalars `alpha`, `beta`, `gamma` (stored
//! (1, 2) = (re, im)), ŝ_k = |s_k| / √(Σ_j |s_j|² + 1e-8), logits = Linear(H, O)(ŝ)
//! (`output_layer`).
//!
//! Not causal (the reversed branch and the global mean see the whole window; spec §1.11), so
//! it has no recurrent mode: asking it to stream is [`EngineError::NotCausal`].
use super::gated_config::GatedConfig;
use super::gated_recurrence::GatedRecurrence;
use super::layers::{mean_over_rows, Linear};
use super::qsb_qgr::QsbQgr;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::vec;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;

/// ε inside the norm of the complex mix (reference: `+ 1e-8`).
const MIX_EPS: f32 = 1e-8;

/// Loaded hg.
#[derive(Clone, Debug)]
pub(crate) struct QuantumHydraGated {
    t: usize,
    f: usize,
    /// (re, im) of α, β, γ
    coeffs: [(f32, f32); 3],
    feature_proj: Linear,
    fwd: GatedRecurrence,
    bwd: GatedRecurrence,
    glob: QsbQgr,
    global_proj: Linear,
    output_layer: Linear,
}

impl QuantumHydraGated {
    /// Checks the card's circuit layout ([`GatedConfig`]) and loads every tensor.
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let cfg = GatedConfig::from_card("hg", card, ld, "branch_forward.chunk_agg.1.weight")?;
        let (f, h, c) = (cfg.f, cfg.h, cfg.chunk);
        let mut coeffs = [(0.0f32, 0.0f32); 3];
        for (co, name) in coeffs.iter_mut().zip(["alpha", "beta", "gamma"]) {
            let v = ld.take(name, &[1, 2])?;
            *co = (v[0], v[1]);
        }
        let feature_proj = Linear::load(ld, "feature_proj", f, f, true)?;
        let program = cfg.program;
        let fwd = GatedRecurrence::load(ld, "branch_forward.", f, h, c, program.clone())?;
        let bwd = GatedRecurrence::load(ld, "branch_backward.", f, h, c, program.clone())?;
        let glob = QsbQgr::load(ld, "branch_global.", f, program)?;
        let global_proj = Linear::load(ld, "global_proj", glob.out_dim(), h, true)?;
        let output_layer =
            Linear::load(ld, "output_layer", h, card.hyperparameters.n_classes, true)?;
        Ok(Self {
            t: cfg.t,
            f,
            coeffs,
            feature_proj,
            fwd,
            bwd,
            glob,
            global_proj,
            output_layer,
        })
    }

    /// Token-major window xt (T, F) → logits (O).
    pub(crate) fn logits(&self, xt: &[f32]) -> Vec<f32> {
        let (t, f) = (self.t, self.f);
        let xp = self.feature_proj.apply(xt, t);
        let hf = self.fwd.apply(&xp, t);
        let reversed: Vec<f32> = xp.chunks_exact(f).rev().flatten().copied().collect();
        let hb = self.bwd.apply(&reversed, t);
        let mean = mean_over_rows(&xp, t, f);
        let qg = self.glob.apply(&mean, 1);
        let mut hg = vec![0.0; hf.len()];
        self.global_proj.apply_one(&mut hg, &qg);
        // |α h_f + β h_b + γ h_g|, normalised over H
        let [a, b, c] = self.coeffs;
        let modulus: Vec<f32> = (0..hf.len())
            .map(|j| {
                let re = a.0 * hf[j] + b.0 * hb[j] + c.0 * hg[j];
                let im = a.1 * hf[j] + b.1 * hb[j] + c.1 * hg[j];
                libm::sqrtf(re * re + im * im)
            })
            .collect();
        let norm = libm::sqrtf(modulus.iter().map(|m| m * m).sum::<f32>() + MIX_EPS);
        let feat: Vec<f32> = modulus.iter().map(|m| m / norm).collect();
        let mut logits = vec![0.0; self.output_layer.d_out()];
        self.output_layer.apply_one(&mut logits, &feat);
        logits
    }
}
