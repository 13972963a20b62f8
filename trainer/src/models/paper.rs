//! The paper models that `trainer fit` trains on the image tasks
//! ([`crate::data::image_tasks`]; spec hqc-mamba-and-quantum-train): model A, the HQC
//! selective-SSM Mamba (`hqc-mamba`), and its classical twin (`hqc-mamba-classical`), both the
//! 3b network ([`TrueClassicalMamba::hqc_mamba`]) with quantum or Linear projections; and
//! model B, Quantum-Train (`quantum-train`, variant qt-seed: [`QuantumTrain`], on the
//! host CPU), and its target CNN trained directly (`qt-cnn`, the baseline). They are not in the EEG zoo's [`super::registry::MODELS`] (no reference
//! fixtures, no engine form yet).
use super::nn::{Batched, ProjKind, QProjOptions};
use super::quantum_train::{QuantumTrain, TargetCnnModel};
use super::zoo::TrueClassicalMamba;
use super::{Model, ModelConfig};
use crate::device::ComputeDevice;
use crate::fit::Recipe;

/// A paper model of `trainer fit`.
#[derive(Clone, Copy, Debug)]
pub struct PaperModel {
    /// id (`hqc-mamba`)
    pub id: &'static str,
    /// class name
    pub class_name: &'static str,
    /// d_model of the paper's configuration (§3.3: 128 hybrid, 16 classical)
    pub d_model: usize,
    /// whether the projections are quantum
    pub quantum: bool,
    /// the network
    pub arch: PaperArch,
}

/// The network of a paper model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaperArch {
    /// model A: the 3b network with quantum or Linear projections
    Mamba,
    /// model B: Quantum-Train qt-seed (its target CNN classifies 28×28 images)
    QuantumTrain,
    /// model B's target CNN with its own weights (the directly trained baseline; the file a
    /// trained Quantum-Train exports)
    TargetCnn,
}

impl PaperArch {
    /// The optimiser's defaults of the model's paper: (recipe, learning rate, weight decay,
    /// gradient-clip norm). Model A: the EEG ablation's AdamW + cosine (1e-3, 1e-4, 1);
    /// Quantum-Train and its CNN: Adam at a constant 5e-4, no weight decay, global clip 10
    /// (§5.2).
    pub fn optimiser_defaults(self) -> (Recipe, f64, f64, f32) {
        match self {
            Self::Mamba => (Recipe::Ablation, 1e-3, 1e-4, 1.0),
            Self::QuantumTrain | Self::TargetCnn => (Recipe::Constant, 5e-4, 0.0, 10.0),
        }
    }
}

/// The paper models.
pub const PAPER_MODELS: &[PaperModel] = &[
    PaperModel {
        id: "hqc-mamba",
        class_name: "HqcMamba",
        d_model: 128,
        quantum: true,
        arch: PaperArch::Mamba,
    },
    PaperModel {
        id: "hqc-mamba-classical",
        class_name: "HqcMambaClassical",
        d_model: 16,
        quantum: false,
        arch: PaperArch::Mamba,
    },
    PaperModel {
        id: "quantum-train",
        class_name: "QuantumTrain",
        d_model: 16,
        quantum: true,
        arch: PaperArch::QuantumTrain,
    },
    PaperModel {
        id: "qt-cnn",
        class_name: "ClassicalTargetNN",
        d_model: 16,
        quantum: false,
        arch: PaperArch::TargetCnn,
    },
];

/// The paper model of this id or class name (case-insensitive), if it is one.
pub fn lookup(name: &str) -> Option<&'static PaperModel> {
    PAPER_MODELS
        .iter()
        .find(|m| m.id.eq_ignore_ascii_case(name) || m.class_name.eq_ignore_ascii_case(name))
}

/// Options of model A (spec §3.3 expand, §3.4/§3.8 the quantum projection's flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaperOptions {
    /// d_inner / d_model (4)
    pub expand: usize,
    /// the quantum projections' options
    pub qproj: QProjOptions,
}

impl Default for PaperOptions {
    fn default() -> Self {
        Self {
            expand: 4,
            qproj: QProjOptions::default(),
        }
    }
}

impl PaperModel {
    /// The network for `cfg` on `device`, or why it cannot be built (Quantum-Train: a
    /// configuration other than 28×28 images, or a GPU).
    pub fn build_on(
        &self,
        cfg: ModelConfig,
        o: &PaperOptions,
        device: &ComputeDevice,
    ) -> Result<Box<dyn Model>, String> {
        if self.arch != PaperArch::Mamba {
            if !matches!(device, ComputeDevice::Cpu) {
                return Err(format!(
                    "{}: runs on the CPU only (its target CNN has no CUDA kernels yet); use --device cpu",
                    self.id
                ));
            }
            return Ok(if self.arch == PaperArch::QuantumTrain {
                Box::new(QuantumTrain::new(cfg)?)
            } else {
                Box::new(TargetCnnModel::new(cfg)?)
            });
        }
        let kind = if self.quantum {
            ProjKind::Quantum(o.qproj)
        } else {
            ProjKind::Linear
        };
        let net = TrueClassicalMamba::hqc_mamba(cfg, o.expand, &kind);
        Ok(match device {
            ComputeDevice::Cpu => Box::new(Batched::new(net)),
            #[cfg(feature = "cuda")]
            ComputeDevice::Cuda(dev) => {
                let gpu = qssm_kernels::backend::gpu::Gpu::new(dev.clone());
                Box::new(Batched::on(net, gpu))
            }
        })
    }
}
