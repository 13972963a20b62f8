//! The zoo as the trainer builds it: the registry ([`qssm_formats::registry`]) lists the
//! models once, `qssm_models::zoo` holds the one list of constructors ([`visit_net`]), and here
//! each id becomes a [`Model`] on a backend after its configuration check.
use super::config_check::check_config;
use super::config_check::ConfigError;
use super::nn::{Batched, Net};
use super::{Model, ModelConfig};

pub use qssm_models::zoo::{visit_net, visit_step_net, NetVisitor, StepNetVisitor};

pub use qssm_formats::registry::{Family, ModelInfo};

/// The models of the EEG zoo this build trains: the registry's zoo
/// ([`qssm_formats::registry::zoo_models`]), each with its constructor in [`visit_net`].
pub fn zoo() -> impl Iterator<Item = &'static ModelInfo> + Clone {
    qssm_formats::registry::zoo_models()
}

/// Why a model could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// not in the registry
    #[error(transparent)]
    Unknown(#[from] UnknownModel),
    /// a configuration the model cannot be built with
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Error for an id or class name that is not in the registry.
#[derive(Debug, thiserror::Error)]
#[error("unknown model '{0}' (known: {known})", known = zoo().map(|m| format!("{} ({})", m.id, m.class_name)).collect::<Vec<_>>().join(", "))]
pub struct UnknownModel(pub String);

/// Finds a zoo model by id (`1b`) or class name (`QuantumMambaSSM`), case-insensitive.
pub fn lookup(name: &str) -> Result<&'static ModelInfo, UnknownModel> {
    qssm_formats::registry::lookup(name)
        .filter(|m| m.is_zoo())
        .ok_or_else(|| UnknownModel(name.to_string()))
}

/// Builds the model for an id or class name on `device`.
pub fn build_on(
    name: &str,
    cfg: ModelConfig,
    device: &crate::device::ComputeDevice,
) -> Result<Box<dyn Model>, Box<dyn std::error::Error + Send + Sync>> {
    use crate::device::ComputeDevice;
    match device {
        ComputeDevice::Cpu => Ok(build(name, cfg)?),
        #[cfg(feature = "cuda")]
        ComputeDevice::Cuda(dev) => {
            let gpu = qssm_kernels::backend::gpu::Gpu::new(dev.clone());
            Ok(build_on_backend(name, cfg, gpu)?)
        }
    }
}

/// Builds the model for an id or class name on backend `be` (every model is written over the
/// backend interface).
pub fn build_on_backend<B>(
    name: &str,
    cfg: ModelConfig,
    be: B,
) -> Result<Box<dyn Model>, crate::device::DeviceError>
where
    B: qssm_kernels::backend::Backend + Send + 'static,
    B::Params: Send,
{
    let unknown = || crate::device::DeviceError::Unknown(name.to_string());
    let entry = lookup(name).map_err(|_| unknown())?;
    check_config(entry, &cfg)?;
    backend_net(entry.id, cfg, be).ok_or_else(unknown)
}

/// Boxes a net as a [`Model`] on a backend.
struct OnBackend<B>(B);

impl<B> NetVisitor for OnBackend<B>
where
    B: qssm_kernels::backend::Backend + Send + 'static,
    B::Params: Send,
{
    type Output = Box<dyn Model>;
    fn visit<M: Net + 'static>(self, net: M) -> Box<dyn Model> {
        Box::new(Batched::on(net, self.0))
    }
}

/// The model `id` written over the backend interface, on `be`; `None` for an id not in
/// [`zoo`].
fn backend_net<B>(id: &str, cfg: ModelConfig, be: B) -> Option<Box<dyn Model>>
where
    B: qssm_kernels::backend::Backend + Send + 'static,
    B::Params: Send,
{
    visit_net(id, cfg, OnBackend(be))
}

/// Builds the model for an id or class name (CPU).
///
/// # Errors
/// [`BuildError::Unknown`]; [`BuildError::Config`] for a configuration the model cannot be
/// built with ([`check_config`]).
pub fn build(name: &str, cfg: ModelConfig) -> Result<Box<dyn Model>, BuildError> {
    let entry = lookup(name)?;
    check_config(entry, &cfg)?;
    backend_net(entry.id, cfg, qssm_kernels::backend::cpu::Cpu)
        .ok_or_else(|| UnknownModel(name.to_string()).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use qssm_kernels::backend::cpu::Cpu;

    /// Every zoo model of the registry has its constructor in `backend_net` (one list), under
    /// its own id and class name.
    #[test]
    fn every_registry_model_has_a_constructor() {
        for m in zoo() {
            let built = backend_net(m.id, ModelConfig::eeg(64), Cpu)
                .unwrap_or_else(|| panic!("{}: no constructor", m.id));
            assert_eq!((built.id(), built.class_name()), (m.id, m.class_name));
        }
    }
}
