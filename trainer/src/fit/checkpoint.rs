//! Training checkpoints: everything [`super::fit_with`] needs to continue a run as if it had
//! never stopped — parameters, optimiser moments and step counts, the learning-rate schedule,
//! the best-so-far weights, epoch and patience counters, and the per-epoch history. Shuffling
//! and dropout draws are pure functions of (seed, epoch, sample), so no RNG stream is stored:
//! a resumed CPU run ends with the same model file, byte for byte, as an uninterrupted one.
//!
//! File: a safetensors file (written atomically, write-then-rename) with the f32 tensors
//! `params`, `best_params`, `adam.m`, `adam.v` and the u32 tensor `adam.step`, and the string
//! metadata `format` = `qssm-checkpoint`, `format_version` = `1`, `fingerprint` (what the run
//! trains: model, configuration, recipe and data, see [`fingerprint`]) and `state` (JSON of
//! [`State`]). A checkpoint of a different run, a truncated or corrupt file, or one whose
//! tensors disagree with the model's parameter count is refused with a typed error.
use super::loop_::{EpochRecord, FitConfig};
use super::{Labels, Windows};
use crate::models::Model;
use crate::optim::{AdamState, CosineAnnealingLR, ReduceLROnPlateau};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Value of the `format` metadata key.
const FORMAT: &str = "qssm-checkpoint";
/// Value of the `format_version` metadata key.
const VERSION: &str = "1";

/// Errors reading or writing a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("checkpoint {path}: {source}")]
    Io {
        /// file
        path: String,
        /// cause
        source: std::io::Error,
    },
    /// Not a qssm checkpoint (truncated, corrupt, another format or version).
    #[error("checkpoint {path}: not a usable qssm checkpoint: {why}")]
    Corrupt {
        /// file
        path: String,
        /// what is wrong
        why: String,
    },
    /// The checkpoint belongs to another run (model, configuration, recipe or data differ).
    #[error(
        "checkpoint {path} was written by a different run (model, hyperparameters, recipe or \
         data differ: fingerprint {found}, this run {expected}); remove it or use another --out"
    )]
    Mismatch {
        /// file
        path: String,
        /// fingerprint in the file
        found: String,
        /// fingerprint of this run
        expected: String,
    },
}

/// The learning-rate schedule's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// the ablation recipe's cosine annealing
    Cosine(CosineAnnealingLR),
    /// the gated recipe's plateau schedule
    Plateau(ReduceLROnPlateau),
}

/// The scalar state of a run after an epoch (the `state` metadata, JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// the epoch to run next (from 0)
    pub next_epoch: usize,
    /// epoch of the best validation score
    pub best_epoch: usize,
    /// best validation score, as f64 bits (exact, and −∞ or NaN survive JSON)
    pub best_score_bits: u64,
    /// epochs since the best one (early-stopping counter)
    pub since_best: usize,
    /// wall time of the training loop so far, seconds
    pub elapsed_s: f64,
    /// the learning-rate schedule
    pub schedule: Schedule,
    /// per-epoch history so far
    pub history: Vec<EpochRecord>,
}

/// A run's state after an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// what the run trains ([`fingerprint`])
    pub fingerprint: String,
    /// parameters after the epoch
    pub params: Vec<f32>,
    /// weights of the best validation epoch so far
    pub best_params: Vec<f32>,
    /// optimiser moments and step counts
    pub adam: AdamState,
    /// everything else
    pub state: State,
}

/// Where a run keeps its checkpoint, and whether it starts from it.
#[derive(Clone, Debug)]
pub struct Checkpointing {
    /// the checkpoint file (rewritten atomically after every epoch)
    pub path: PathBuf,
    /// continue from the file if it exists (else start from scratch)
    pub resume: bool,
}

fn hex(h: u64) -> String {
    format!("{h:016x}")
}

/// A fingerprint of what a run trains: the model (id, configuration, parameter count), the
/// recipe (every [`FitConfig`] field that changes the numbers) and the data (a hash of the
/// training and validation windows and labels). Two runs with the same fingerprint and seed
/// compute the same thing.
pub fn fingerprint(
    model: &dyn Model,
    cfg: &FitConfig,
    train: Windows<'_>,
    val: Windows<'_>,
) -> String {
    use xxhash_rust::xxh3::Xxh3;
    let mut h = Xxh3::new();
    h.update(model.id().as_bytes());
    h.update(format!("{:?}", model.config()).as_bytes());
    h.update(&(model.layout().len() as u64).to_le_bytes());
    let recipe = FitConfig {
        progress: false,
        ..cfg.clone()
    };
    h.update(
        serde_json::to_string(&recipe)
            .unwrap_or_default()
            .as_bytes(),
    );
    for w in [train, val] {
        h.update(&(w.len() as u64).to_le_bytes());
        for v in w.x {
            h.update(&v.to_le_bytes());
        }
        match w.labels {
            Labels::Classes(y) => h.update(y),
            Labels::Values { v, dim } => {
                h.update(&(dim as u64).to_le_bytes());
                for x in v {
                    h.update(&x.to_le_bytes());
                }
            }
        }
    }
    hex(h.digest())
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically (write-then-rename).
    ///
    /// # Errors
    /// [`CheckpointError::Io`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io {
            path: path.display().to_string(),
            source,
        };
        let state = serde_json::to_string(&self.state)
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let steps: Vec<u8> = self
            .adam
            .step
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let bufs = [
            ("params", Dtype::F32, f32_bytes(&self.params)),
            ("best_params", Dtype::F32, f32_bytes(&self.best_params)),
            ("adam.m", Dtype::F32, f32_bytes(&self.adam.m)),
            ("adam.v", Dtype::F32, f32_bytes(&self.adam.v)),
            ("adam.step", Dtype::U32, steps),
        ];
        let views = bufs
            .iter()
            .map(|(name, dt, b)| {
                TensorView::new(*dt, vec![b.len() / 4], b)
                    .map(|v| (name.to_string(), v))
                    .map_err(|e| io(std::io::Error::other(e.to_string())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let meta: HashMap<String, String> = [
            ("format", FORMAT.to_string()),
            ("format_version", VERSION.to_string()),
            ("fingerprint", self.fingerprint.clone()),
            ("state", state),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let bytes = safetensors::serialize(views, Some(meta))
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        qssm_formats::model_file::write_atomic(path, &bytes).map_err(io)
    }

    /// Reads a checkpoint for a model of `n_params` parameters and checks that it belongs to
    /// the run with `fingerprint`.
    ///
    /// # Errors
    /// [`CheckpointError::Io`], [`CheckpointError::Corrupt`] (not a checkpoint, wrong version,
    /// missing or mis-sized tensors, unreadable state), [`CheckpointError::Mismatch`].
    pub fn load(path: &Path, n_params: usize, fingerprint: &str) -> Result<Self, CheckpointError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: name.clone(),
            source,
        })?;
        let corrupt = |why: String| CheckpointError::Corrupt {
            path: name.clone(),
            why,
        };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |k: &str| {
            meta.get(k)
                .cloned()
                .ok_or_else(|| corrupt(format!("no `{k}` metadata")))
        };
        if get("format")? != FORMAT || get("format_version")? != VERSION {
            return Err(corrupt(format!(
                "format {:?} version {:?} (expected {FORMAT} {VERSION})",
                meta.get("format"),
                meta.get("format_version")
            )));
        }
        let found = get("fingerprint")?;
        if found != fingerprint {
            return Err(CheckpointError::Mismatch {
                path: name.clone(),
                found,
                expected: fingerprint.to_string(),
            });
        }
        let state: State =
            serde_json::from_str(&get("state")?).map_err(|e| corrupt(format!("state: {e}")))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let tensor = |k: &str, dt: Dtype| -> Result<Vec<[u8; 4]>, CheckpointError> {
            let t = st.tensor(k).map_err(|e| corrupt(format!("{k}: {e}")))?;
            if t.dtype() != dt || t.shape() != [n_params] {
                return Err(corrupt(format!(
                    "{k}: {:?} {:?}, expected {dt:?} [{n_params}]",
                    t.dtype(),
                    t.shape()
                )));
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect())
        };
        let f32s = |k: &str| -> Result<Vec<f32>, CheckpointError> {
            Ok(tensor(k, Dtype::F32)?
                .into_iter()
                .map(f32::from_le_bytes)
                .collect())
        };
        let adam = AdamState {
            m: f32s("adam.m")?,
            v: f32s("adam.v")?,
            step: tensor("adam.step", Dtype::U32)?
                .into_iter()
                .map(u32::from_le_bytes)
                .collect(),
        };
        Ok(Self {
            fingerprint: found,
            params: f32s("params")?,
            best_params: f32s("best_params")?,
            adam,
            state,
        })
    }
}
