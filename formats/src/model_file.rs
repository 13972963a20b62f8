//! The qssm model file: a [safetensors](https://github.com/huggingface/safetensors) file whose
//! tensors are named exactly as the reference's PyTorch `state_dict` (complex parameters as
//! `[..., 2]` (re, im) pairs), stored as little-endian f32 or f16, with a self-describing
//! **model card** in `__metadata__`:
//!
//! * `format` = `"qssm-model"`, `format_version` = `"1"` (string values, as safetensors
//!   metadata is a string map);
//! * `qssm` = the [`ModelCard`] as JSON: model id and class, every hyperparameter, the circuit
//!   layout, whether the model is causal, the input contract (sfreq in Hz, ordered channel
//!   names, unit), the preprocessing, the subject split, the training recipe and metrics.
//!
//! Parsing ([`ModelFile::parse`]) borrows the tensor bytes zero-copy and needs only `alloc`.
//! Writing ([`write_model_file`], feature `std`) is atomic: the file is written next to the
//! target under a temporary name, flushed, then renamed, so a crash never leaves a
//! half-written model.
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use safetensors::{Dtype, SafeTensors};

mod conditioning;
mod validate;
pub use conditioning::{conditioning, Conditioning};
use serde::{Deserialize, Serialize};
pub use validate::{CardError, CHANNEL_MAJOR, MAX_DIM, MAX_QUBITS};

/// Value of the `format` metadata key.
pub const FORMAT: &str = "qssm-model";
/// Current format version (the `format_version` metadata key).
pub const FORMAT_VERSION: u32 = 1;

/// Errors reading or writing a model file. Each message is one line.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// The bytes are not a safetensors file (truncated, corrupt header, …).
    #[error("not a valid safetensors model file: {0}")]
    NotSafetensors(String),
    /// A safetensors file without qssm metadata.
    #[error("not a qssm model file: missing metadata key '{0}'")]
    MissingMetadata(&'static str),
    /// `format` is not `qssm-model`.
    #[error("not a qssm model file: format is '{0}'")]
    WrongFormat(String),
    /// A `format_version` this build cannot read.
    #[error("unsupported model file version {found} (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion {
        /// version found in the file
        found: String,
    },
    /// The model card JSON does not parse.
    #[error("invalid model card: {0}")]
    BadCard(String),
    /// A tensor the model needs is absent.
    #[error("model file lacks tensor '{0}'")]
    MissingTensor(String),
    /// A tensor has the wrong shape.
    #[error("tensor '{name}' has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// tensor name
        name: String,
        /// shape in the file
        found: Vec<usize>,
        /// shape the model needs
        expected: Vec<usize>,
    },
    /// A tensor has a dtype other than f32/f16.
    #[error("tensor '{name}' has unsupported dtype {dtype}")]
    UnsupportedDtype {
        /// tensor name
        name: String,
        /// dtype found
        dtype: String,
    },
    /// I/O failure (std only).
    #[cfg(feature = "std")]
    #[error("{path}: {source}")]
    Io {
        /// file concerned
        path: String,
        /// cause
        source: std::io::Error,
    },
}

/// Model hyperparameters (names as in the reference's `create_model`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    /// C: input channels
    pub n_channels: usize,
    /// T: samples per window
    pub n_times: usize,
    /// D: `d_model`
    pub d_model: usize,
    /// N: `d_state`
    pub d_state: usize,
    /// Q: qubits per circuit (0 for classical models)
    pub n_qubits: usize,
    /// number of model blocks (= circuit layers in the reference)
    pub n_layers: usize,
    /// number of output classes
    pub n_classes: usize,
    /// training dropout probability
    pub dropout: f32,
}

/// Layout of the variational circuits (spec §2.2); absent for classical models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CircuitLayout {
    /// ansatz name, e.g. `unified` (RX,RY,RZ per wire; forward and backward CRX rings)
    pub ansatz: String,
    /// Q
    pub n_qubits: usize,
    /// circuit layers
    pub n_layers: usize,
    /// data encoding, e.g. `ry(tanh(input_proj(s))*pi)`
    pub encoding: String,
    /// measured observables in output order, e.g. `X0..X5,Y0..Y5,Z0..Z5`
    pub measurement: String,
    /// wire ordering of the state vector, e.g. `wire 0 = most significant bit`
    pub wire_order: String,
    /// samples per attention-pooled chunk fed to one circuit evaluation
    pub chunk_size: usize,
}

/// Architecture options a model id and the hyperparameters do not fix (the paper models'
/// flags, spec hqc-mamba-and-quantum-train §3.3–3.4); absent for the reference zoo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Architecture {
    /// d_inner / d_model of the Mamba blocks
    pub expand: usize,
    /// the quantum projections' options (`hqc-mamba`), absent for Linear projections
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qproj: Option<QProjCard>,
}

/// Options of the HQC Mamba's quantum projection QProj (spec hqc-mamba-and-quantum-train
/// §3.4): amplitude encoding, `StronglyEntanglingLayers`, marginal probabilities, affine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QProjCard {
    /// L_Q: entangling layers per projection circuit
    pub layers: usize,
    /// the output affine: `per_output` (γ, β per output), `scalar` (one γ, β) or `none`
    pub affine: String,
    /// whether the outputs are scaled by the input RMS ρ = ‖x‖_ε / √d_in
    pub rescale: bool,
}

/// What the model expects as input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    /// sampling frequency in Hz
    pub sfreq: f64,
    /// T: samples per window
    pub n_times: usize,
    /// channel names, in the order of the input's channel axis
    pub channels: Vec<String>,
    /// physical unit of the input values (`mV` for the reference's models)
    pub unit: String,
    /// memory layout of one window (`channel_major`: (C, T))
    pub layout: String,
}

/// Subject-wise split used for training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitInfo {
    /// split seed
    pub seed: u64,
    /// training subject ids, in split order
    pub train: Vec<u32>,
    /// validation subject ids
    pub val: Vec<u32>,
    /// test subject ids
    pub test: Vec<u32>,
}

/// The JSON model card stored under the `qssm` metadata key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// qssm version that wrote the file
    pub qssm_version: String,
    /// registry id, e.g. `1b`
    pub model_id: String,
    /// reference class name, e.g. `QuantumMambaSSM`
    pub class_name: String,
    /// whether the model is causal (can stream)
    pub causal: bool,
    /// hyperparameters
    pub hyperparameters: Hyperparameters,
    /// circuit layout (quantum models)
    pub circuit: Option<CircuitLayout>,
    /// architecture options beyond the hyperparameters (the paper models); absent otherwise
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
    /// input contract
    pub input: InputSpec,
    /// preprocessing applied to the training data (free-form, documented by the trainer)
    pub preprocessing: serde_json::Value,
    /// subject split
    pub split: Option<SplitInfo>,
    /// training recipe (optimiser, schedule, epochs, …)
    pub training: serde_json::Value,
    /// evaluation metrics (accuracy, AUC, F1 on the test subjects, …)
    pub metrics: serde_json::Value,
    /// dtype of the stored weights (`f32` or `f16`)
    pub dtype: String,
}

/// Element type of a stored tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorDtype {
    /// IEEE binary32
    F32,
    /// IEEE binary16
    F16,
}

/// A borrowed tensor of a parsed model file.
#[derive(Clone, Debug)]
pub struct TensorView<'a> {
    /// `state_dict` name
    pub name: String,
    /// shape
    pub shape: Vec<usize>,
    /// element type
    pub dtype: TensorDtype,
    /// little-endian bytes
    pub bytes: &'a [u8],
}

impl TensorView<'_> {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Element `i` widened to f32.
    pub fn get(&self, i: usize) -> f32 {
        match self.dtype {
            TensorDtype::F32 => {
                f32::from_le_bytes(self.bytes[4 * i..4 * i + 4].try_into().expect("4 bytes"))
            }
            TensorDtype::F16 => {
                half::f16::from_le_bytes(self.bytes[2 * i..2 * i + 2].try_into().expect("2 bytes"))
                    .to_f32()
            }
        }
    }

    /// All elements widened to f32 (allocates).
    pub fn to_f32(&self) -> Vec<f32> {
        (0..self.numel()).map(|i| self.get(i)).collect()
    }
}

/// A parsed model file: the card and zero-copy tensor views.
#[derive(Clone, Debug)]
pub struct ModelFile<'a> {
    /// the model card
    pub card: ModelCard,
    /// tensors in file order
    pub tensors: Vec<TensorView<'a>>,
}

impl<'a> ModelFile<'a> {
    /// Parses and validates the container and the card (not the tensor set: see
    /// [`Self::expect`]). Errors: [`ModelFileError::NotSafetensors`], `MissingMetadata`,
    /// `WrongFormat`, `UnsupportedVersion`, `BadCard`, `UnsupportedDtype`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ModelFileError> {
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| ModelFileError::NotSafetensors(e.to_string()))?;
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| ModelFileError::NotSafetensors(e.to_string()))?;
        let md = meta
            .metadata()
            .as_ref()
            .ok_or(ModelFileError::MissingMetadata("format"))?;
        let format = md
            .get("format")
            .ok_or(ModelFileError::MissingMetadata("format"))?;
        if format != FORMAT {
            return Err(ModelFileError::WrongFormat(format.clone()));
        }
        let version = md
            .get("format_version")
            .ok_or(ModelFileError::MissingMetadata("format_version"))?;
        if version.parse::<u32>().ok() != Some(FORMAT_VERSION) {
            return Err(ModelFileError::UnsupportedVersion {
                found: version.clone(),
            });
        }
        let card_json = md
            .get("qssm")
            .ok_or(ModelFileError::MissingMetadata("qssm"))?;
        let card: ModelCard =
            serde_json::from_str(card_json).map_err(|e| ModelFileError::BadCard(e.to_string()))?;
        let mut tensors = Vec::new();
        for (name, view) in st.tensors() {
            let dtype = match view.dtype() {
                Dtype::F32 => TensorDtype::F32,
                Dtype::F16 => TensorDtype::F16,
                other => {
                    return Err(ModelFileError::UnsupportedDtype {
                        name,
                        dtype: alloc::format!("{other:?}"),
                    })
                }
            };
            let data = view.data();
            // the borrowed slice lives as long as `bytes`; recover it by offset
            let start = data.as_ptr() as usize - bytes.as_ptr() as usize;
            tensors.push(TensorView {
                name,
                shape: view.shape().to_vec(),
                dtype,
                bytes: &bytes[start..start + data.len()],
            });
        }
        Ok(Self { card, tensors })
    }

    /// The same tensors under another card, serialised with `dtype` weights (e.g. a card
    /// edited by a tool, or a conversion). Errors: as [`to_bytes`].
    pub fn to_bytes_with_card(
        &self,
        card: &ModelCard,
        dtype: TensorDtype,
    ) -> Result<Vec<u8>, ModelFileError> {
        let values: Vec<Vec<f32>> = self.tensors.iter().map(|t| t.to_f32()).collect();
        let outs: Vec<TensorOut<'_>> = self
            .tensors
            .iter()
            .zip(&values)
            .map(|(t, v)| TensorOut {
                name: &t.name,
                shape: &t.shape,
                data: v,
            })
            .collect();
        to_bytes(card, &outs, dtype)
    }

    /// The tensor `name`, checked to have `shape`. Errors: `MissingTensor`, `ShapeMismatch`.
    pub fn expect(&self, name: &str, shape: &[usize]) -> Result<&TensorView<'a>, ModelFileError> {
        let t = self
            .tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ModelFileError::MissingTensor(name.to_string()))?;
        if t.shape != shape {
            return Err(ModelFileError::ShapeMismatch {
                name: name.to_string(),
                found: t.shape.clone(),
                expected: shape.to_vec(),
            });
        }
        Ok(t)
    }
}

/// A tensor to write: name, shape, f32 values.
pub struct TensorOut<'a> {
    /// `state_dict` name
    pub name: &'a str,
    /// shape
    pub shape: &'a [usize],
    /// row-major values
    pub data: &'a [f32],
}

/// Serialises a model file to bytes, storing weights as `dtype` (f16 rounds to nearest).
pub fn to_bytes(
    card: &ModelCard,
    tensors: &[TensorOut<'_>],
    dtype: TensorDtype,
) -> Result<Vec<u8>, ModelFileError> {
    use safetensors::tensor::TensorView as StView;
    let mut card = card.clone();
    card.dtype = match dtype {
        TensorDtype::F32 => "f32".into(),
        TensorDtype::F16 => "f16".into(),
    };
    let bufs: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| match dtype {
            TensorDtype::F32 => t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorDtype::F16 => t
                .data
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
        })
        .collect();
    let st_dtype = match dtype {
        TensorDtype::F32 => Dtype::F32,
        TensorDtype::F16 => Dtype::F16,
    };
    let mut views = Vec::new();
    for (t, b) in tensors.iter().zip(&bufs) {
        let v = StView::new(st_dtype, t.shape.to_vec(), b)
            .map_err(|e| ModelFileError::NotSafetensors(e.to_string()))?;
        views.push((t.name.to_string(), v));
    }
    let mut md = alloc::collections::BTreeMap::new();
    md.insert("format".to_string(), FORMAT.to_string());
    md.insert("format_version".to_string(), FORMAT_VERSION.to_string());
    md.insert(
        "qssm".to_string(),
        serde_json::to_string(&card).map_err(|e| ModelFileError::BadCard(e.to_string()))?,
    );
    let raw = safetensors::serialize(views, Some(md.into_iter().collect()))
        .map_err(|e| ModelFileError::NotSafetensors(e.to_string()))?;
    canonical_header(&raw)
}

/// Re-encodes the JSON header of a serialised safetensors buffer with sorted keys (safetensors
/// stores `__metadata__` in a hash map whose iteration order changes from process to
/// process), so that the same model always gives the same bytes. The header is padded with
/// spaces to a multiple of 8 bytes, as safetensors does; tensor bytes are unchanged (their
/// offsets are relative to the end of the header).
fn canonical_header(raw: &[u8]) -> Result<Vec<u8>, ModelFileError> {
    let bad = |m: &str| ModelFileError::NotSafetensors(m.to_string());
    let n = u64::from_le_bytes(
        raw.get(..8)
            .ok_or_else(|| bad("short buffer"))?
            .try_into()
            .expect("8 bytes"),
    ) as usize;
    let header = raw.get(8..8 + n).ok_or_else(|| bad("short header"))?;
    // serde_json's Map is a BTreeMap (no `preserve_order`): keys come out sorted
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
    let mut json = serde_json::to_vec(&value).map_err(|e| bad(&e.to_string()))?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + raw.len() - 8 - n);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&raw[8 + n..]);
    Ok(out)
}

/// Writes a model file atomically (temporary file in the same directory, flush + fsync,
/// rename). On error nothing is left at `path` and the temporary file is removed.
#[cfg(feature = "std")]
pub fn write_model_file(
    path: &std::path::Path,
    card: &ModelCard,
    tensors: &[TensorOut<'_>],
    dtype: TensorDtype,
) -> Result<(), ModelFileError> {
    let bytes = to_bytes(card, tensors, dtype)?;
    write_atomic(path, &bytes).map_err(|source| ModelFileError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes `bytes` to `path` atomically (write to a temporary sibling, fsync, rename).
#[cfg(feature = "std")]
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads and parses a model file from disk (the bytes are returned alongside so the views can
/// borrow them: call [`ModelFile::parse`] on them).
#[cfg(feature = "std")]
pub fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>, ModelFileError> {
    std::fs::read(path).map_err(|source| ModelFileError::Io {
        path: path.display().to_string(),
        source,
    })
}
