//! The paper models that `trainer fit` trains on the image-sequence tasks
//! ([`crate::data::image_tasks`]; spec hqc-mamba-and-quantum-train): model A, the HQC
//! selective-SSM Mamba (`hqc-mamba`), and its classical twin (`hqc-mamba-classical`), both the
//! 3b network ([`TrueClassicalMamba::hqc_mamba`]) with quantum or Linear projections. They are
//! not in the EEG zoo's [`super::registry::MODELS`] (no reference fixtures, no engine form yet).
use super::nn::{Batched, ProjKind, QProjOptions};
use super::zoo::TrueClassicalMamba;
use super::{Model, ModelConfig};
use crate::device::ComputeDevice;

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
}

/// The paper models.
pub const PAPER_MODELS: &[PaperModel] = &[
    PaperModel {
        id: "hqc-mamba",
        class_name: "HqcMamba",
        d_model: 128,
        quantum: true,
    },
    PaperModel {
        id: "hqc-mamba-classical",
        class_name: "HqcMambaClassical",
        d_model: 16,
        quantum: false,
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
    /// The network for `cfg` on `device`.
    pub fn build_on(
        &self,
        cfg: ModelConfig,
        o: &PaperOptions,
        device: &ComputeDevice,
    ) -> Box<dyn Model> {
        let kind = if self.quantum {
            ProjKind::Quantum(o.qproj)
        } else {
            ProjKind::Linear
        };
        let net = TrueClassicalMamba::hqc_mamba(cfg, o.expand, &kind);
        match device {
            ComputeDevice::Cpu => Box::new(Batched::new(net)),
            #[cfg(feature = "cuda")]
            ComputeDevice::Cuda(dev) => {
                let gpu = qssm_kernels::backend::gpu::Gpu::new(dev.clone());
                Box::new(Batched::on(net, gpu))
            }
        }
    }
}
