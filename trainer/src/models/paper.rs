//! The paper models that `trainer fit` trains on the image tasks
//! ([`crate::data::image_tasks`]; spec hqc-mamba-and-quantum-train): model A, the HQC
//! selective-SSM Mamba (`hqc-mamba`), and its classical twin (`hqc-mamba-classical`), both the
//! 3b network ([`TrueClassicalMamba::hqc_mamba`]) with quantum or Linear projections; and
//! model B, Quantum-Train (`quantum-train`, variant qt-seed: [`QuantumTrain`], on the
//! host CPU), and its target CNN trained directly (`qt-cnn`, the baseline). The registry lists
//! them as [`qssm_formats::registry::Family::Paper`]; they have no reference fixtures.
use super::nn::{Batched, ProjKind, QProjOptions};
use super::quantum_train::{QuantumTrain, QuantumTrainLiu, TargetCnnModel};
use super::zoo::TrueClassicalMamba;
use super::{Model, ModelConfig};
use crate::device::ComputeDevice;
use crate::fit::Recipe;
use crate::optim::ParamGroup;
use crate::params::ParamLayout;
use qssm_formats::registry::ModelInfo;
use qssm_kernels::ops::target_cnn::LIU_CNN;

/// A paper model of `trainer fit`: its registry entry and configuration.
#[derive(Clone, Copy, Debug)]
pub struct PaperModel {
    /// the registry entry (id `hqc-mamba`, class name)
    pub info: &'static ModelInfo,
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
    /// model B, the authors' variant qt-liu (§5.3)
    QuantumTrainLiu,
    /// qt-liu's target CNN with its own weights (the file a trained qt-liu exports)
    TargetCnnLiu,
}

impl PaperArch {
    /// The optimiser's defaults of the model's paper: (recipe, learning rate, weight decay,
    /// gradient-clip norm). Model A (§3.6): AdamW at a constant rate, 1e-3 and weight decay
    /// 0.01 for the `other` group ([`hqc_param_groups`] sets the projections'), clip 1;
    /// Quantum-Train and its CNN: Adam at a constant 5e-4, no weight decay, global clip 10
    /// (§5.2).
    pub fn optimiser_defaults(self) -> (Recipe, f64, f64, f32) {
        match self {
            Self::Mamba => (Recipe::Constant, 1e-3, 0.01, 1.0),
            Self::QuantumTrain | Self::TargetCnn => (Recipe::Constant, 5e-4, 0.0, 10.0),
            // the notebook: Adam(lr 1e-4, weight_decay 1e-5, eps 1e-6) + ReduceLROnPlateau on
            // the training loss; no clipping (a clip norm this large never acts)
            Self::QuantumTrainLiu | Self::TargetCnnLiu => (Recipe::PlateauLoss, 1e-4, 1e-5, 1e12),
        }
    }

    /// The (mean, std) the model's source scales MNIST pixels with, (pixel/255 − mean)/std:
    /// qt-liu's notebook (0.5, 0.5), everything else MNIST's own statistics (spec §3.3, §5.2).
    pub fn mnist_scaling(self) -> (f32, f32) {
        use crate::data::image_tasks::{MNIST_MEAN, MNIST_STD};
        match self {
            Self::QuantumTrainLiu | Self::TargetCnnLiu => (0.5, 0.5),
            _ => (MNIST_MEAN, MNIST_STD),
        }
    }

    /// Whether the model is Quantum-Train or one of its CNNs (28×28 images only, host CPU).
    pub fn is_cnn(self) -> bool {
        self != Self::Mamba
    }
}

impl PaperModel {
    /// The paper model of a registry entry; `None` for a model of the zoo.
    fn of(info: &'static ModelInfo) -> Option<Self> {
        let (d_model, quantum, arch) = match info.id {
            "hqc-mamba" => (128, true, PaperArch::Mamba),
            "hqc-mamba-classical" => (16, false, PaperArch::Mamba),
            "quantum-train" => (16, true, PaperArch::QuantumTrain),
            "qt-cnn" => (16, false, PaperArch::TargetCnn),
            "qt-liu" => (16, true, PaperArch::QuantumTrainLiu),
            "qt-liu-cnn" => (16, false, PaperArch::TargetCnnLiu),
            _ => return None,
        };
        Some(Self {
            info,
            d_model,
            quantum,
            arch,
        })
    }

    /// The registry id (`hqc-mamba`).
    pub fn id(&self) -> &'static str {
        self.info.id
    }
}

/// The paper models of the registry ([`qssm_formats::registry::paper_models`]), each with its
/// configuration.
pub fn paper_models() -> impl Iterator<Item = PaperModel> {
    qssm_formats::registry::paper_models().filter_map(PaperModel::of)
}

/// The paper model of this id or class name (case-insensitive), if it is one.
pub fn lookup(name: &str) -> Option<PaperModel> {
    qssm_formats::registry::lookup(name).and_then(PaperModel::of)
}

/// Options of model A (spec §3.3 expand, §3.4/§3.8 the quantum projection's flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaperOptions {
    /// d_inner / d_model (4)
    pub expand: usize,
    /// the quantum projections' options
    pub qproj: QProjOptions,
    /// Quantum-Train qt-seed: standardise each generated tensor with a learnable gain
    /// ([`QuantumTrain::with_tensor_gain`])
    pub qt_tensor_gain: bool,
}

impl Default for PaperOptions {
    fn default() -> Self {
        Self {
            expand: 4,
            qproj: QProjOptions::default(),
            qt_tensor_gain: false,
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
        if self.arch.is_cnn() {
            if !matches!(device, ComputeDevice::Cpu) {
                return Err(format!(
                    "{}: runs on the CPU only (its target CNN has no CUDA kernels yet); use --device cpu",
                    self.id()
                ));
            }
            return Ok(match self.arch {
                PaperArch::QuantumTrain if o.qt_tensor_gain => {
                    Box::new(QuantumTrain::with_tensor_gain(cfg)?)
                }
                PaperArch::QuantumTrain => Box::new(QuantumTrain::new(cfg)?),
                PaperArch::QuantumTrainLiu => Box::new(QuantumTrainLiu::new(cfg)?),
                PaperArch::TargetCnnLiu => {
                    Box::new(TargetCnnModel::with_spec("qt-liu-cnn", LIU_CNN, cfg)?)
                }
                _ => Box::new(TargetCnnModel::new(cfg)?),
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

/// The learning rates of §3.6's groups relative to the `other` group's (1e-3): `in_proj`
/// 3e-4, `x_proj` 1e-4, `out_proj` 3e-4.
const PROJ_LR: [(&str, f64); 3] = [("in_proj", 0.3), ("x_proj", 0.1), ("out_proj", 0.3)];

/// Model A's parameter groups (spec §3.6), identical for the HQC model and its twin: every
/// layer's `in_proj`, `x_proj` and `out_proj` (quantum weights with γ, β, or the Linear
/// weight) at 0.3, 0.1 and 0.3 × `lr` without weight decay, and the rest (`other`: embedding,
/// norms, conv1d, dt_proj, A_log, D, head) at `lr` with weight decay `wd`. With
/// `wd_mamba_exempt`, `other`'s A_log, D, biases and norms get no weight decay (the Mamba
/// reference's exemption; a group `other_no_decay`). Empty groups are left out.
pub fn hqc_param_groups(
    layout: &ParamLayout,
    lr: f64,
    wd: f64,
    wd_mamba_exempt: bool,
) -> Vec<ParamGroup> {
    let mut groups: Vec<ParamGroup> = PROJ_LR
        .iter()
        .map(|&(name, f)| (name, f * lr, 0.0))
        .chain([("other", lr, wd), ("other_no_decay", lr, 0.0)])
        .map(|(name, lr, weight_decay)| ParamGroup {
            name: name.into(),
            ranges: Vec::new(),
            lr,
            weight_decay,
        })
        .collect();
    for s in layout.specs() {
        let parts: Vec<&str> = s.name.split('.').collect();
        let last = parts.last().copied().unwrap_or_default();
        let g = match PROJ_LR.iter().position(|(p, _)| parts.contains(p)) {
            Some(i) => i,
            None if wd_mamba_exempt
                && (last == "A_log"
                    || last == "D"
                    || last == "bias"
                    || parts.iter().any(|p| p.contains("norm"))) =>
            {
                4
            }
            None => 3,
        };
        groups[g].ranges.push(s.range.clone());
    }
    groups.retain(|g| !g.ranges.is_empty());
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every paper model of the registry has its configuration here, and builds under its own
    /// id and class name.
    #[test]
    fn every_registry_paper_model_is_configured() {
        assert_eq!(
            paper_models().count(),
            qssm_formats::registry::paper_models().count()
        );
        for m in paper_models() {
            let cfg = ModelConfig {
                n_channels: 1,
                n_classes: 10,
                d_model: m.d_model,
                ..ModelConfig::eeg(784)
            };
            let model = m
                .build_on(cfg, &PaperOptions::default(), &ComputeDevice::Cpu)
                .unwrap();
            assert_eq!(
                (model.id(), model.class_name()),
                (m.id(), m.info.class_name)
            );
        }
    }

    /// Every tensor of the HQC model and its twin is in exactly one group; the projections'
    /// groups hold exactly the projection tensors (quantum weights, γ, β; Linear weights).
    #[test]
    fn the_groups_cover_every_tensor_once() {
        for m in paper_models().filter(|m| m.arch == PaperArch::Mamba) {
            let cfg = ModelConfig {
                n_channels: 1,
                n_classes: 10,
                d_model: 16,
                ..ModelConfig::eeg(64)
            };
            let model = m
                .build_on(cfg, &PaperOptions::default(), &ComputeDevice::Cpu)
                .unwrap();
            let layout = model.layout();
            for exempt in [false, true] {
                let groups = hqc_param_groups(layout, 1e-3, 0.01, exempt);
                let mut owner = vec![None; layout.len()];
                for (gi, g) in groups.iter().enumerate() {
                    for r in &g.ranges {
                        for o in &mut owner[r.clone()] {
                            assert!(o.is_none(), "{}: element in two groups", m.id());
                            *o = Some(gi);
                        }
                    }
                }
                assert!(
                    owner.iter().all(Option::is_some),
                    "{}: element in no group",
                    m.id()
                );
                for s in layout.specs() {
                    let g = &groups[owner[s.range.start].unwrap()];
                    let proj = ["in_proj", "x_proj", "out_proj"]
                        .iter()
                        .find(|p| s.name.split('.').any(|c| c == **p));
                    match proj {
                        Some(p) => assert_eq!(&g.name, p, "{}", s.name),
                        None => assert!(g.name.starts_with("other"), "{}", s.name),
                    }
                }
                let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
                assert_eq!(names.len(), if exempt { 5 } else { 4 }, "{names:?}");
                assert_eq!(groups[1].lr, 1e-4);
                assert_eq!(groups[3].weight_decay, 0.01);
            }
        }
    }
}
