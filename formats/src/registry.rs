//! The model registry: every model a qssm model file can hold, listed once. The trainer builds
//! and lists these models, the engine loads their files and the C ABI reports their ids from
//! this one table; a model card's `model_id` and `class_name` are an entry's [`ModelInfo::id`]
//! and [`ModelInfo::class_name`].
//!
//! Two families ([`Family`]):
//! * the reference study's EEG zoo (`JHPark9090/Quantum-Hydra-Mamba`): the ablation grid
//!   1a–4e and the two gated models `mg`, `hg` (spec circuits-and-groups-1-3, groups-2-4,
//!   gated-and-protocols);
//! * the paper models (spec hqc-mamba-and-quantum-train): the HQC selective-SSM Mamba, its
//!   classical twin, Quantum-Train (the seed's variant and the authors', qt-liu) and their
//!   target CNNs.

/// Which collection a model belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// the reference study's EEG zoo, with its ablation group: 1 quantum features + classical
    /// mixing, 2 classical features + quantum mixing, 3 classical, 4 quantum end to end; 0 the
    /// gated models (`mg`, `hg`), which are outside the ablation grid (spec
    /// gated-and-protocols §1)
    Zoo {
        /// ablation group (0–4)
        group: u8,
    },
    /// a model of the paper specification (spec hqc-mamba-and-quantum-train), trained on the
    /// image tasks (sequential digits / MNIST)
    Paper,
}

/// One model of the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// id as in the reference study or the paper specification (`1b`, `hqc-mamba`): a model
    /// card's `model_id`
    pub id: &'static str,
    /// the reference's class name (`QuantumMambaSSM`): a model card's `class_name`
    pub class_name: &'static str,
    /// where the architecture comes from (reference source file or specification section)
    pub source: &'static str,
    /// the zoo (with its ablation group) or the paper models
    pub family: Family,
    /// feature extraction kind (`quantum`, `classical`)
    pub features: &'static str,
    /// sequence mixing kind (`mamba`, `quantum-hydra`, …)
    pub mixing: &'static str,
    /// whether the model can run step by step on a stream: sample by sample (3b, the HQC
    /// Mamba and its twin), chunk by chunk (mg, 2d, 2e, 4a–4e), or in its causal configuration
    /// (1b, card `causal = true`)
    pub streamable: bool,
    /// whether a file of this model holds an inference model (its weights classify inputs).
    /// False for Quantum-Train, whose file holds the generator (circuit angles and mapping
    /// network); `trainer export --format generated-cnn` turns it into a `qt-cnn` file.
    pub inference: bool,
}

impl ModelInfo {
    /// The ablation group of a zoo model, `None` for a paper model.
    pub fn zoo_group(&self) -> Option<u8> {
        match self.family {
            Family::Zoo { group } => Some(group),
            Family::Paper => None,
        }
    }

    /// Whether this is one of the reference study's EEG models.
    pub fn is_zoo(&self) -> bool {
        self.zoo_group().is_some()
    }
}

const fn zoo(
    (id, class_name, source): (&'static str, &'static str, &'static str),
    group: u8,
    (features, mixing): (&'static str, &'static str),
    streamable: bool,
) -> ModelInfo {
    ModelInfo {
        id,
        class_name,
        source,
        family: Family::Zoo { group },
        features,
        mixing,
        streamable,
        inference: true,
    }
}

const QSSM: &str = "models/QuantumSSM.py";
const MIXING: &str = "models/QuantumMixingSSM.py";
const HYDRA_SSM: &str = "models/QuantumHydraSSM.py";
const GATED: &str = "models/QuantumGatedRecurrence.py";
const E2E: &str = "models/QuantumE2E.py";
const E2E_SUP: &str = "models/QuantumE2E_Superposition.py";

/// Every model, the zoo first (in the order of the study's table), then the paper models.
pub const MODELS: &[ModelInfo] = &[
    zoo(
        ("1a", "QuantumTransformer", "models/QuantumTransformer.py"),
        1,
        ("quantum", "transformer"),
        false,
    ),
    zoo(
        (
            "3a",
            "ClassicalTransformer",
            "models/ClassicalTransformer.py",
        ),
        3,
        ("classical", "transformer"),
        false,
    ),
    // streams in its causal configuration (card `causal = true`), chunk by chunk
    zoo(
        ("1b", "QuantumMambaSSM", QSSM),
        1,
        ("quantum", "mamba"),
        true,
    ),
    zoo(
        ("3b", "TrueClassicalMamba", "models/TrueClassicalMamba.py"),
        3,
        ("classical", "mamba"),
        true,
    ),
    zoo(
        ("1c", "QuantumHydraSSM", QSSM),
        1,
        ("quantum", "hydra"),
        false,
    ),
    zoo(
        ("3c", "TrueClassicalHydra", "models/TrueClassicalHydra.py"),
        3,
        ("classical", "hydra"),
        false,
    ),
    // one output per fixed window (the LCU mixes all chunks)
    zoo(
        ("2a", "ClassicalQuantumAttention", MIXING),
        2,
        ("classical", "quantum-attention"),
        false,
    ),
    // layer 1 starts from layer 0's final state
    zoo(
        ("2b", "ClassicalMambaQuantumSSM", MIXING),
        2,
        ("classical", "quantum-mamba"),
        false,
    ),
    // backward recurrences
    zoo(
        ("2c", "ClassicalHydraQuantumSSM", MIXING),
        2,
        ("classical", "quantum-hydra"),
        false,
    ),
    // 2d, 2e: chunk by chunk (spec groups-2-4 §4.3 R1)
    zoo(
        ("2d", "QuantumMambaHydraSSM", HYDRA_SSM),
        2,
        ("classical", "quantum-superposition"),
        true,
    ),
    zoo(
        ("2e", "QuantumHydraHydraSSM", HYDRA_SSM),
        2,
        ("classical", "quantum-superposition-x2"),
        true,
    ),
    zoo(
        ("mg", "QuantumMambaGated", GATED),
        0,
        ("quantum", "gated-recurrence"),
        true,
    ),
    zoo(
        ("hg", "QuantumHydraGated", GATED),
        0,
        ("quantum", "gated-recurrence"),
        false,
    ),
    // group 4: chunk by chunk, Conv3 look-ahead of one sample (spec groups-2-4 §4.3 R1)
    zoo(
        ("4a", "QuantumTransformerE2E", E2E),
        4,
        ("quantum", "quantum-transformer"),
        true,
    ),
    zoo(
        ("4b", "QuantumMambaE2E", E2E),
        4,
        ("quantum", "quantum-mamba"),
        true,
    ),
    zoo(
        ("4c", "QuantumHydraE2E", E2E),
        4,
        ("quantum", "quantum-hydra"),
        true,
    ),
    zoo(
        ("4d", "QuantumMambaE2E_Superposition", E2E_SUP),
        4,
        ("quantum", "quantum-mamba-superposition"),
        true,
    ),
    zoo(
        ("4e", "QuantumHydraE2E_Superposition", E2E_SUP),
        4,
        ("quantum", "quantum-hydra-superposition"),
        true,
    ),
    ModelInfo {
        id: "hqc-mamba",
        class_name: "HqcMamba",
        source: "the HQC selective-SSM Mamba (spec hqc-mamba-and-quantum-train §3.3–3.4: the 3b \
                 network with quantum in_proj, x_proj and out_proj, QProj)",
        family: Family::Paper,
        features: "quantum",
        mixing: "mamba",
        streamable: true,
        inference: true,
    },
    ModelInfo {
        id: "hqc-mamba-classical",
        class_name: "HqcMambaClassical",
        source: "the HQC Mamba's classical twin (spec hqc-mamba-and-quantum-train §3.3: the 3b \
                 network, d_inner = 4·d_model, one input channel)",
        family: Family::Paper,
        features: "classical",
        mixing: "mamba",
        streamable: true,
        inference: true,
    },
    ModelInfo {
        id: "quantum-train",
        class_name: "QuantumTrain",
        source: "Quantum-Train, variant qt-seed (spec hqc-mamba-and-quantum-train §5.2): a \
                 13-qubit circuit and a mapping network generate the target CNN's weights",
        family: Family::Paper,
        features: "quantum-generated weights",
        mixing: "cnn",
        streamable: false,
        inference: false,
    },
    ModelInfo {
        id: "qt-cnn",
        class_name: "ClassicalTargetNN",
        source: "quantum_train/models/classical_target_nn.py (Quantum-Train seed, spec \
                 hqc-mamba-and-quantum-train §5.2)",
        family: Family::Paper,
        features: "classical",
        mixing: "cnn",
        streamable: false,
        inference: true,
    },
    ModelInfo {
        id: "qt-liu",
        class_name: "LewHybridNN",
        source: "Quantum-Train, the authors' variant qt-liu (spec hqc-mamba-and-quantum-train \
                 §5.3; Hon-Hai-Quantum-Computing/QuantumTrain MNIST notebook): a 13-qubit U3/CU3 \
                 circuit and a linear mapping network generate the weights of a CNN without \
                 activations",
        family: Family::Paper,
        features: "quantum-generated weights",
        mixing: "cnn",
        streamable: false,
        inference: false,
    },
    ModelInfo {
        id: "qt-liu-cnn",
        class_name: "CNNModel",
        source: "qt-liu's target CNN (spec hqc-mamba-and-quantum-train §5.3, the notebook's \
                 CNNModel: 5×5 convolutions, no activations)",
        family: Family::Paper,
        features: "classical",
        mixing: "cnn",
        streamable: false,
        inference: true,
    },
];

/// The entry with this id or class name (case-insensitive: `1b`, `quantummambassm`).
pub fn lookup(name: &str) -> Option<&'static ModelInfo> {
    MODELS
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(name) || m.class_name.eq_ignore_ascii_case(name))
}

/// The entry with exactly this id (a model card's `model_id`; ids are matched
/// case-insensitively, class names are not accepted).
pub fn by_id(id: &str) -> Option<&'static ModelInfo> {
    MODELS.iter().find(|m| m.id.eq_ignore_ascii_case(id))
}

/// The reference study's EEG zoo: the 18 models of [`Family::Zoo`], in table order.
pub fn zoo_models() -> impl Iterator<Item = &'static ModelInfo> + Clone {
    MODELS.iter().filter(|m| m.is_zoo())
}

/// The paper models ([`Family::Paper`]).
pub fn paper_models() -> impl Iterator<Item = &'static ModelInfo> + Clone {
    MODELS.iter().filter(|m| !m.is_zoo())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_class_names_are_unique_and_the_zoo_has_its_18_models() {
        for (i, a) in MODELS.iter().enumerate() {
            for b in &MODELS[i + 1..] {
                assert!(!a.id.eq_ignore_ascii_case(b.id), "{}", a.id);
                assert!(!a.class_name.eq_ignore_ascii_case(b.class_name), "{}", a.id);
                // a name must not be both one model's id and another's class name
                assert!(!a.id.eq_ignore_ascii_case(b.class_name), "{}", a.id);
                assert!(!b.id.eq_ignore_ascii_case(a.class_name), "{}", b.id);
            }
        }
        assert_eq!(zoo_models().count(), 18);
        assert_eq!(paper_models().count(), 6);
        for g in 0..=4 {
            let n = zoo_models().filter(|m| m.zoo_group() == Some(g)).count();
            assert_eq!(n, [2, 3, 5, 3, 5][g as usize], "group {g}");
        }
    }

    #[test]
    fn lookup_by_id_or_class_name() {
        assert_eq!(lookup("QUANTUMMAMBASSM").map(|m| m.id), Some("1b"));
        assert_eq!(lookup("Hqc-Mamba").map(|m| m.id), Some("hqc-mamba"));
        assert_eq!(by_id("TrueClassicalMamba"), None);
        assert_eq!(
            by_id("3B").map(|m| m.class_name),
            Some("TrueClassicalMamba")
        );
        assert_eq!(lookup("9z"), None);
        assert!(!by_id("quantum-train").unwrap().inference);
    }
}
