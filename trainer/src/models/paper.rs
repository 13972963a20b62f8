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
use crate::optim::ParamGroup;
use crate::params::ParamLayout;

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
    /// gradient-clip norm). Model A (§3.6): AdamW at a constant rate, 1e-3 and weight decay
    /// 0.01 for the `other` group ([`hqc_param_groups`] sets the projections'), clip 1;
    /// Quantum-Train and its CNN: Adam at a constant 5e-4, no weight decay, global clip 10
    /// (§5.2).
    pub fn optimiser_defaults(self) -> (Recipe, f64, f64, f32) {
        match self {
            Self::Mamba => (Recipe::Constant, 1e-3, 0.01, 1.0),
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

    /// Every tensor of the HQC model and its twin is in exactly one group; the projections'
    /// groups hold exactly the projection tensors (quantum weights, γ, β; Linear weights).
    #[test]
    fn the_groups_cover_every_tensor_once() {
        for m in PAPER_MODELS.iter().filter(|m| m.arch == PaperArch::Mamba) {
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
                            assert!(o.is_none(), "{}: element in two groups", m.id);
                            *o = Some(gi);
                        }
                    }
                }
                assert!(
                    owner.iter().all(Option::is_some),
                    "{}: element in no group",
                    m.id
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
