//! Where a model's passes run: the CPU backend, or a CUDA GPU through the `cuda` feature's
//! backend (`qssm_kernels::backend::gpu`). `--device cpu|cuda` on `fit` and `bench`.
//!
//! On the GPU a model's activations live on the device for its whole life; each training
//! step copies the parameters in and the gradients out (the optimiser runs on the host), and
//! reads back the loss rows and the logits.
use std::fmt;

/// A compute device chosen on the command line.
#[derive(Clone)]
pub enum ComputeDevice {
    /// the CPU backend (rayon threads)
    Cpu,
    /// GPU 0 through `cust`
    #[cfg(feature = "cuda")]
    Cuda(std::sync::Arc<qssm_kernels::backend::gpu::cuda::CudaDevice>),
}

/// Why a device cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// not `cpu` or `cuda`, or an unknown model
    #[error("unknown device or model '{0}' (devices: cpu, cuda; models: `trainer models`)")]
    Unknown(String),
    /// `cuda` asked of a build without the `cuda` feature
    #[error("device 'cuda' is not in this build: rebuild with `cargo build --release --features cuda` (needs nvcc, see gpu/README.md)")]
    NotBuilt,
    /// a configuration the model cannot be built with
    #[error(transparent)]
    Config(#[from] crate::models::config_check::ConfigError),
    /// the feature is built but no GPU could be opened
    #[error("device 'cuda': {0}")]
    Unavailable(String),
}

impl ComputeDevice {
    /// Opens the device named `name` (`cpu` or `cuda`).
    pub fn open(name: &str) -> Result<Self, DeviceError> {
        match name.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Self::open_cuda(),
            _ => Err(DeviceError::Unknown(name.to_string())),
        }
    }
    #[cfg(feature = "cuda")]
    fn open_cuda() -> Result<Self, DeviceError> {
        use qssm_kernels::backend::gpu::cuda::CudaDevice;
        CudaDevice::open()
            .map(|d| Self::Cuda(std::sync::Arc::new(d)))
            .map_err(|e| DeviceError::Unavailable(e.0))
    }
    #[cfg(not(feature = "cuda"))]
    fn open_cuda() -> Result<Self, DeviceError> {
        Err(DeviceError::NotBuilt)
    }
    /// Short name (`cpu`, `cuda`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            #[cfg(feature = "cuda")]
            Self::Cuda(_) => "cuda",
        }
    }
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            #[cfg(feature = "cuda")]
            Self::Cuda(d) => write!(f, "cuda ({})", d.device_name()),
        }
    }
}
