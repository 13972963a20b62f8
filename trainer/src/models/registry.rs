//! The zoo registry: ids, class names and constructors.
use super::zoo::{ClassicalTransformer, QuantumTransformer};
use super::zoo::{
    QuantumHydraGated, QuantumHydraSsm, QuantumMambaGated, QuantumMambaSsm, TrueClassicalHydra,
    TrueClassicalMamba,
};
use super::{Model, ModelConfig};

/// One registry entry.
#[derive(Clone, Copy, Debug)]
pub struct ModelEntry {
    /// id as in the reference study (`1b`)
    pub id: &'static str,
    /// reference class name (`QuantumMambaSSM`)
    pub class_name: &'static str,
    /// ablation group: 1 quantum features + classical mixing, 3 classical; 0 the gated models
    /// (`mg`, `hg`), which are outside the ablation grid (spec gated-and-protocols §1)
    pub group: u8,
    /// feature extraction kind
    pub features: &'static str,
    /// sequence mixing kind
    pub mixing: &'static str,
    /// whether the model can run step by step on a stream (see spec §6)
    pub streamable: bool,
}

/// Every model this build can train.
pub const MODELS: &[ModelEntry] = &[
    ModelEntry {
        id: "1a",
        class_name: "QuantumTransformer",
        group: 1,
        features: "quantum",
        mixing: "transformer",
        streamable: false,
    },
    ModelEntry {
        id: "3a",
        class_name: "ClassicalTransformer",
        group: 3,
        features: "classical",
        mixing: "transformer",
        streamable: false,
    },
    ModelEntry {
        id: "1b",
        class_name: "QuantumMambaSSM",
        group: 1,
        features: "quantum",
        mixing: "mamba",
        streamable: true, // in its causal configuration (`--causal`)
    },
    ModelEntry {
        id: "3b",
        class_name: "TrueClassicalMamba",
        group: 3,
        features: "classical",
        mixing: "mamba",
        streamable: true,
    },
    ModelEntry {
        id: "1c",
        class_name: "QuantumHydraSSM",
        group: 1,
        features: "quantum",
        mixing: "hydra",
        streamable: false,
    },
    ModelEntry {
        id: "3c",
        class_name: "TrueClassicalHydra",
        group: 3,
        features: "classical",
        mixing: "hydra",
        streamable: false,
    },
    ModelEntry {
        id: "mg",
        class_name: "QuantumMambaGated",
        group: 0,
        features: "quantum",
        mixing: "gated-recurrence",
        streamable: true,
    },
    ModelEntry {
        id: "hg",
        class_name: "QuantumHydraGated",
        group: 0,
        features: "quantum",
        mixing: "gated-recurrence",
        streamable: false,
    },
];

/// Error for an id or class name that is not in the registry.
#[derive(Debug, thiserror::Error)]
#[error("unknown model '{0}' (known: {known})", known = MODELS.iter().map(|m| format!("{} ({})", m.id, m.class_name)).collect::<Vec<_>>().join(", "))]
pub struct UnknownModel(pub String);

/// Finds an entry by id (`1b`) or class name (`QuantumMambaSSM`), case-insensitive.
pub fn lookup(name: &str) -> Result<&'static ModelEntry, UnknownModel> {
    MODELS
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(name) || m.class_name.eq_ignore_ascii_case(name))
        .ok_or_else(|| UnknownModel(name.to_string()))
}

/// Builds the model for an id or class name.
pub fn build(name: &str, cfg: ModelConfig) -> Result<Box<dyn Model>, UnknownModel> {
    let entry = lookup(name)?;
    Ok(match entry.id {
        "1a" => Box::new(QuantumTransformer::new(cfg)),
        "3a" => Box::new(ClassicalTransformer::new(cfg)),
        "1b" => Box::new(QuantumMambaSsm::new(cfg)),
        "3b" => Box::new(TrueClassicalMamba::new(cfg)),
        "1c" => Box::new(QuantumHydraSsm::new(cfg)),
        "3c" => Box::new(TrueClassicalHydra::new(cfg)),
        "mg" => Box::new(QuantumMambaGated::new(cfg)),
        "hg" => Box::new(QuantumHydraGated::new(cfg)),
        other => return Err(UnknownModel(other.to_string())),
    })
}
