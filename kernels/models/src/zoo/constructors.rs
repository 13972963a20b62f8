//! The one list of the zoo's constructors: a registry id ([`qssm_formats::registry`]) and a
//! [`ModelConfig`] → the model's [`Net`] (or, for a causal model, its [`StepNet`]), handed to a
//! visitor because every model is its own type. The trainer wraps the net for training, the
//! engine runs it, the ONNX exporter records it.
use super::*;
use crate::nn::{Net, StepNet};
use crate::ModelConfig;

/// Something done with a causal model's streaming form ([`StepNet`]), whatever its concrete
/// type ([`visit_step_net`]).
pub trait StepNetVisitor {
    /// What the visit gives.
    type Output;
    /// Called with the model's description.
    fn visit<M: StepNet + 'static>(self, net: M) -> Self::Output;
}

/// Hands `v` the streaming form of model `id` in configuration `cfg`; `None` where the model
/// (in this configuration) has none written yet. Written: 3b, the causal 1b, mg, 2d, 2e,
/// 4a–4e.
pub fn visit_step_net<V: StepNetVisitor>(id: &str, cfg: ModelConfig, v: V) -> Option<V::Output> {
    Some(match id {
        "3b" => v.visit(TrueClassicalMamba::new(cfg)),
        "1b" if cfg.causal => v.visit(QuantumMambaSsm::new(cfg)),
        "mg" => v.visit(QuantumMambaGated::new(cfg)),
        "2d" => v.visit(QuantumHydraSuperposition::mamba_hydra(cfg)),
        "2e" => v.visit(QuantumHydraSuperposition::hydra_hydra(cfg)),
        "4a" => v.visit(QuantumE2e::new(cfg, E2eVariant::Transformer)),
        "4b" => v.visit(QuantumE2e::new(cfg, E2eVariant::Mamba)),
        "4c" => v.visit(QuantumE2e::new(cfg, E2eVariant::Hydra)),
        "4d" => v.visit(QuantumE2eSuperposition::new(cfg, false)),
        "4e" => v.visit(QuantumE2eSuperposition::new(cfg, true)),
        _ => return None,
    })
}

/// Something done with a model's [`Net`] description, whatever its concrete type (the registry
/// holds one list of constructors; [`visit_net`] hands the right one to the visitor).
pub trait NetVisitor {
    /// What the visit gives.
    type Output;
    /// Called with the model's description.
    fn visit<M: Net + 'static>(self, net: M) -> Self::Output;
}

/// Builds the [`Net`] of model `id` for `cfg` and hands it to `v` (the one list of
/// constructors); `None` for an id that is not a zoo model.
pub fn visit_net<V: NetVisitor>(id: &str, cfg: ModelConfig, v: V) -> Option<V::Output> {
    Some(match id {
        "3a" => v.visit(ClassicalTransformer::new(cfg)),
        "1a" => v.visit(QuantumTransformer::new(cfg)),
        "1b" => v.visit(QuantumMambaSsm::new(cfg)),
        "1c" => v.visit(QuantumHydraSsm::new(cfg)),
        "3b" => v.visit(TrueClassicalMamba::new(cfg)),
        "mg" => v.visit(QuantumMambaGated::new(cfg)),
        "hg" => v.visit(QuantumHydraGated::new(cfg)),
        "4a" => v.visit(QuantumE2e::new(cfg, E2eVariant::Transformer)),
        "4b" => v.visit(QuantumE2e::new(cfg, E2eVariant::Mamba)),
        "4c" => v.visit(QuantumE2e::new(cfg, E2eVariant::Hydra)),
        "2d" => v.visit(QuantumHydraSuperposition::mamba_hydra(cfg)),
        "2e" => v.visit(QuantumHydraSuperposition::hydra_hydra(cfg)),
        "4d" => v.visit(QuantumE2eSuperposition::new(cfg, false)),
        "4e" => v.visit(QuantumE2eSuperposition::new(cfg, true)),
        "3c" => v.visit(TrueClassicalHydra::new(cfg)),
        "2a" => v.visit(ClassicalQuantumAttention::new(cfg)),
        "2b" => v.visit(QuantumMixingSsm::mamba(cfg)),
        "2c" => v.visit(QuantumMixingSsm::hydra(cfg)),
        _ => return None,
    })
}
