//! mg — `QuantumMambaGated` (reference `models/QuantumGatedRecurrence.py`, spec
//! gated-and-protocols §1.6), eval mode (dropout = identity):
//!
//! x (T, F) → x_p = SiLU(Linear(F, F)(x)) (`feature_proj`) (T, F) → [`GatedRecurrence`]
//! (`gated_recurrence.`, chunk size C) h (H) → Linear(H, H) (`output_layer.0`) → ReLU →
//! Linear(H, O) (`output_layer.3`).
//!
//! Fully causal (§1.11), so it streams chunk by chunk ([`CausalStep`] with step C): per sample
//! x_p and the three circuits (q_t added to a running sum), per completed chunk the gated
//! update; the state is h (H) + the chunk sum (Q = 3n). Logits exist after every sample: at a
//! chunk boundary from h, between boundaries from h advanced by the partial chunk (what the
//! window path computes on a window of that many samples, whose last chunk is short).
use super::gated_config::GatedConfig;
use super::gated_recurrence::GatedRecurrence;
use super::layers::Linear;
use super::step::CausalStep;
use crate::error::EngineError;
use crate::weights::Loader;
use qssm_formats::model_file::ModelCard;
use qssm_kernels::ops::activation::silu_forward;

/// Loaded mg.
#[derive(Clone, Debug)]
pub(crate) struct QuantumMambaGated {
    f: usize,
    h: usize,
    chunk: usize,
    feature_proj: Linear,
    cgs: GatedRecurrence,
    head0: Linear,
    head3: Linear,
}

impl QuantumMambaGated {
    /// Checks the card's circuit layout ([`GatedConfig`]) and loads every tensor.
    pub(crate) fn load(ld: &mut Loader<'_, '_>, card: &ModelCard) -> Result<Self, EngineError> {
        let cfg = GatedConfig::from_card("mg", card, ld, "gated_recurrence.chunk_agg.1.weight")?;
        let (f, h) = (cfg.f, cfg.h);
        let feature_proj = Linear::load(ld, "feature_proj", f, f, true)?;
        let cgs = GatedRecurrence::load(ld, "gated_recurrence.", f, h, cfg.chunk, cfg.program)?;
        let head0 = Linear::load(ld, "output_layer.0", h, h, true)?;
        let head3 = Linear::load(
            ld,
            "output_layer.3",
            h,
            card.hyperparameters.n_classes,
            true,
        )?;
        Ok(Self {
            f,
            h,
            chunk: cfg.chunk,
            feature_proj,
            cgs,
            head0,
            head3,
        })
    }

    /// h (H) → logits (O) through `output_layer`, `r` (H) scratch. No allocation.
    fn head(&self, h: &[f32], r: &mut [f32], logits: &mut [f32]) {
        self.head0.apply_one(r, h);
        r.iter_mut().for_each(|v| *v = v.max(0.0));
        self.head3.apply_one(logits, r);
    }
}

impl CausalStep for QuantumMambaGated {
    fn chunk(&self) -> usize {
        self.chunk
    }

    /// h (H), the current chunk's q_t sum (Q).
    fn state_len(&self) -> usize {
        self.cgs.state_len()
    }

    /// feature_proj output and x_p (2F) or the head's ReLU buffer (H), then the recurrence's.
    fn scratch_len(&self) -> usize {
        (2 * self.f).max(self.h) + self.cgs.step_scratch_len()
    }

    fn step(&self, x: &[f32], t: u64, state: &mut [f32], scratch: &mut [f32]) {
        let (own, rest) = scratch.split_at_mut((2 * self.f).max(self.h));
        let (a, xp) = own.split_at_mut(self.f);
        self.feature_proj.apply_one(a, x);
        silu_forward(xp, a);
        self.cgs.step(&xp[..self.f], t, state, rest);
    }

    fn logits(&self, t: u64, state: &[f32], scratch: &mut [f32], logits: &mut [f32]) {
        let (r, rest) = scratch.split_at_mut((2 * self.f).max(self.h));
        let h = self.cgs.peek(t, state, rest);
        self.head(h, &mut r[..self.h], logits);
    }
}
