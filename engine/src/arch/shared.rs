//! Models the engine runs through their one description (`qssm_models`): the model's
//! [`Net`] is built from the card by the same constructor the trainer uses
//! ([`qssm_models::zoo::visit_net`]), every tensor of its parameter layout is taken from the
//! file by its reference `state_dict` name with exactly the layout's shape, and a window runs
//! the net's eval forward on the CPU backend ([`qssm_kernels::backend::cpu::Cpu`], sequential
//! without `std`). Nothing here re-implements a model: a window's logits are the trainer's
//! `forward_eval` on the same parameters.
//!
//! Weights stay in the file's dtype: an f16 file's parameters are kept as f16 bits (half the
//! memory) and widened (exactly) to a temporary f32 buffer per window, the layout of the
//! backend's parameter buffer.
use super::circuit_card::{check_circuit, AnsatzRule};
use super::gated_config::GatedConfig;
use super::matvec::f16_to_f32;
use crate::error::EngineError;
use crate::weights::{Loader, Matrix};
use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use qssm_formats::model_file::ModelCard;
use qssm_formats::registry::ModelInfo;
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::Backend;
use qssm_models::config_check::check_config;
use qssm_models::nn::Net;
use qssm_models::zoo::{self, visit_net, NetVisitor};
use qssm_models::{AnsatzKind, ModelConfig};

/// A model's window forward with its parameters (object-safe: each model is its own type).
pub(crate) trait WindowNet: Send + Sync {
    /// Registry id.
    fn id(&self) -> &'static str;
    /// Window x (C, T) channel-major → outputs (n_classes), eval mode.
    fn logits(&self, x: &[f32]) -> Vec<f32>;
}

impl core::fmt::Debug for dyn WindowNet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "WindowNet({})", self.id())
    }
}

/// A model's parameters in the layout's flat order, in the file's dtype.
enum Params {
    /// f32 values
    F32(Vec<f32>),
    /// IEEE binary16 bit patterns (finite: the loader rejects ±∞/NaN)
    F16(Vec<u16>),
}

/// A [`Net`] and its parameters.
struct OnCpu<M: Net> {
    net: M,
    params: Params,
}

impl<M: Net> WindowNet for OnCpu<M> {
    fn id(&self) -> &'static str {
        self.net.id()
    }

    fn logits(&self, x: &[f32]) -> Vec<f32> {
        let widened: Vec<f32>;
        let p: &[f32] = match &self.params {
            Params::F32(p) => p,
            Params::F16(bits) => {
                widened = bits.iter().map(|&h| f16_to_f32(h)).collect();
                &widened
            }
        };
        let mut acts = self.net.plan(&Cpu, 1);
        Cpu.upload(&mut M::io(&mut acts).x, x);
        self.net.forward(&Cpu, p, &mut acts, None);
        let out = &M::io(&mut acts).out;
        let mut v = vec![0.0; Cpu.numel(out)];
        Cpu.download(out, &mut v);
        v
    }
}

/// Takes a net's parameters from the file, tensor by tensor in layout order.
struct Take<'l, 'f, 'a> {
    ld: &'l mut Loader<'f, 'a>,
}

impl NetVisitor for Take<'_, '_, '_> {
    type Output = Result<Arc<dyn WindowNet>, EngineError>;
    fn visit<M: Net + 'static>(self, net: M) -> Self::Output {
        let layout = net.layout();
        let (mut p32, mut p16) = (Vec::new(), Vec::new());
        for s in layout.specs() {
            if !s.used {
                // constructed but never read by the forward (1b's `mamba_layers.i.norm`)
                self.ld.accept_unused(&s.name, &s.shape)?;
                continue;
            }
            let at = s.range.clone();
            match self.ld.take_matrix(&s.name, &s.shape)? {
                Matrix::F32(v) => {
                    p32.resize(layout.len(), 0.0);
                    p32[at].copy_from_slice(&v);
                }
                Matrix::F16(v) => {
                    p16.resize(layout.len(), 0);
                    p16[at].copy_from_slice(&v);
                }
            }
        }
        // the loader admits one dtype per file (the card's)
        let params = if p16.is_empty() {
            p32.resize(layout.len(), 0.0);
            Params::F32(p32)
        } else {
            Params::F16(p16)
        };
        Ok(Arc::new(OnCpu { net, params }))
    }
}

/// The configuration the card describes: its hyperparameters, its causal flag, the gated
/// models' chunk size, ansatz (circuit layout) and hidden size H (the stored shape of
/// `h_tensor`, which the card does not record), checked as the trainer checks it before
/// building ([`check_config`]).
fn config(
    entry: &ModelInfo,
    card: &ModelCard,
    ld: &Loader<'_, '_>,
) -> Result<ModelConfig, EngineError> {
    let hp = &card.hyperparameters;
    if card.causal {
        return Err(EngineError::Mismatch {
            what: format!(
                "{} is window-only (its output at a time depends on later samples), card says causal = true",
                entry.id
            ),
        });
    }
    // circuit layout (if the card has one) = hyperparameters; Q within the simulator's range
    let circuit = match entry.id {
        "1b" => Some((zoo::CHUNK_SIZE_1B, AnsatzRule::Unified)),
        "1c" => Some((zoo::CHUNK_SIZE_1C, AnsatzRule::Unified)),
        "1a" => Some((zoo::CHUNK_SIZE_1A, AnsatzRule::Unified)),
        "2a" => Some((zoo::CHUNK_SIZE_2A, AnsatzRule::Any)),
        "2b" | "2c" => Some((zoo::CHUNK_SIZE_2BC, AnsatzRule::Any)),
        _ => None,
    };
    if let Some((chunk, ansatz)) = circuit {
        check_circuit(entry.id, card, 1, chunk, ansatz)?;
    }
    let mut cfg = ModelConfig {
        n_channels: hp.n_channels,
        n_times: hp.n_times,
        d_model: hp.d_model,
        d_state: hp.d_state,
        n_qubits: hp.n_qubits,
        n_layers: hp.n_layers,
        n_classes: hp.n_classes,
        dropout: hp.dropout,
        causal: card.causal,
        ..ModelConfig::eeg(hp.n_times)
    };
    let h_tensor = match entry.id {
        "mg" => Some("gated_recurrence.chunk_agg.1.weight"),
        "hg" => Some("branch_forward.chunk_agg.1.weight"),
        _ => None,
    };
    if let Some(h_tensor) = h_tensor {
        let g = GatedConfig::from_card(entry.id, card, ld, h_tensor)?;
        cfg.hidden_dim = g.h;
        cfg.chunk_size = g.chunk;
        cfg.ansatz = if g.legacy4 {
            AnsatzKind::Legacy4
        } else {
            AnsatzKind::Unified5
        };
    }
    check_config(entry, &cfg).map_err(|e| EngineError::Mismatch {
        what: e.to_string(),
    })?;
    Ok(cfg)
}

/// Builds model `entry` from the card and takes its parameters from `ld`. Errors:
/// [`EngineError::Mismatch`] (a configuration the model cannot be built with),
/// `File(MissingTensor)`, `File(ShapeMismatch)`, [`EngineError::NonFiniteWeight`].
pub(crate) fn load(
    entry: &ModelInfo,
    card: &ModelCard,
    ld: &mut Loader<'_, '_>,
) -> Result<Arc<dyn WindowNet>, EngineError> {
    let cfg = config(entry, card, ld)?;
    visit_net(entry.id, cfg, Take { ld }).unwrap_or_else(|| {
        Err(EngineError::UnsupportedModel {
            id: format!("{} (no shared description)", entry.id),
        })
    })
}
