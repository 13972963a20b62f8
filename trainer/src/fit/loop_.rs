//! The reference training loop (`scripts/run_ablation_eeg.py::train_model`, spec §2.4/§7;
//! `scripts/run_synthetic_benchmark.py`, spec gated-and-protocols §3.4): AdamW (lr 1e-3,
//! wd 1e-4, one parameter group), CosineAnnealingLR(T_max = epochs) stepped per epoch,
//! cross-entropy (classes) or MSE (values), gradient clipping to global norm 1.0, batch 32,
//! training set shuffled every epoch, early stopping after `patience` epochs without a strict
//! gain in validation accuracy (classes) or a strict drop in validation MSE (values), the
//! best-validation weights kept (earliest epoch reaching the optimum).
use super::checkpoint::{fingerprint, Checkpoint, CheckpointError, Checkpointing, Schedule, State};
use super::health::{first_nonfinite, OnNonFinite, OutlierDetector, Z_OUTLIER};
use super::step::BatchWorkspace;
use super::{evaluate, Labels, Windows};
use crate::metrics::{accuracy, argmax_rows};
use crate::models::{DeviceOptim, Model, Target};
use crate::optim::{
    clip_grad_norm, Adam, AdamConfig, AdamW, AdamWConfig, CosineAnnealingLR, PlateauConfig,
    PlateauMode, ReduceLROnPlateau,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Optimiser and learning-rate schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Recipe {
    /// the ablation's (`run_ablation_eeg.py`): AdamW with decoupled weight decay,
    /// CosineAnnealingLR(T_max = epochs) stepped per epoch
    #[default]
    Ablation,
    /// the gated models' (`run_gated_models.py`, spec gated §1.13): Adam without weight decay,
    /// ReduceLROnPlateau(max, factor 0.5, patience 5) on the validation score
    Gated,
    /// AdamW (with the configured weight decay: 0 is Adam) at a constant learning rate (the
    /// cosine schedule with its floor at the base rate); Quantum-Train's (spec
    /// hqc-mamba-and-quantum-train §5.2: Adam, lr 5e-4)
    Constant,
    /// Adam with L2 weight decay (the configured weight decay, added to the gradient) and
    /// eps 1e-6, ReduceLROnPlateau(min, factor 0.5, patience 5) on the mean training loss of
    /// each epoch: the Quantum-Train authors' notebook (spec hqc-mamba-and-quantum-train
    /// §5.3, qt-liu)
    PlateauLoss,
}

/// Training recipe (defaults: the reference's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// maximum number of training epochs (passes over the training set)
    pub epochs: usize,
    /// mini-batch size
    pub batch_size: usize,
    /// base learning rate
    pub lr: f64,
    /// AdamW decoupled weight decay
    pub weight_decay: f64,
    /// early-stopping patience in epochs
    pub patience: usize,
    /// seed of shuffling and dropout
    pub seed: u64,
    /// global gradient-norm clip
    pub clip_norm: f32,
    /// show a progress bar
    pub progress: bool,
    /// optimiser and schedule
    pub recipe: Recipe,
    /// a step whose loss or gradient is NaN/∞: stop the run (default) or skip the step
    #[serde(default)]
    pub on_nonfinite: OnNonFinite,
    /// parameter groups with their own rates and weight decays (AdamW recipes on the host
    /// optimiser; their rates follow the schedule: group lr · current / base); empty: one
    /// group at `lr` and `weight_decay`
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<crate::optim::ParamGroup>,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            epochs: 50,
            batch_size: 32,
            lr: 1e-3,
            weight_decay: 1e-4,
            patience: 10,
            seed: 2024,
            clip_norm: 1.0,
            recipe: Recipe::Ablation,
            progress: true,
            on_nonfinite: OnNonFinite::Stop,
            groups: Vec::new(),
        }
    }
}

/// One epoch of the training history (what the reference logs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// epoch index, from 0
    pub epoch: usize,
    /// learning rate used during the epoch
    #[serde(deserialize_with = "crate::metrics::nan_if_null")]
    pub lr: f64,
    /// mean training loss (train mode, dropout on)
    #[serde(deserialize_with = "crate::metrics::nan_if_null")]
    pub train_loss: f64,
    /// training accuracy (train mode; classification only)
    pub train_acc: Option<f64>,
    /// validation loss (mean of batch means)
    #[serde(deserialize_with = "crate::metrics::nan_if_null")]
    pub val_loss: f64,
    /// validation metrics
    pub val: super::Metrics,
    /// wall time of the epoch, seconds
    #[serde(deserialize_with = "crate::metrics::nan_if_null")]
    pub seconds: f64,
    /// steps skipped for a non-finite loss or gradient (`OnNonFinite::Skip`)
    #[serde(default)]
    pub skipped_steps: usize,
    /// steps whose loss or gradient norm was an outlier (z > 5 against the previous 128)
    #[serde(default)]
    pub outlier_steps: usize,
}

/// What [`fit`] returns.
#[derive(Clone, Debug)]
pub struct FitOutcome {
    /// weights of the best validation epoch
    pub best_params: Vec<f32>,
    /// that epoch (from 0)
    pub best_epoch: usize,
    /// weights after the last epoch that ran (to resume training, or to inspect what the
    /// optimiser reached when early stopping kept an earlier epoch)
    pub last_params: Vec<f32>,
    /// its validation selection score (accuracy, or −MSE for regression)
    pub best_val_score: f64,
    /// per-epoch history
    pub history: Vec<EpochRecord>,
    /// wall time of the training loop, seconds (excludes data loading and testing)
    pub training_time_s: f64,
}

/// Errors of the training loop.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The loss or a gradient became NaN or infinite.
    #[error(
        "training diverged: non-finite {tensor} at epoch {}, step {} (lower --lr, or \
         --on-nonfinite skip to skip such steps)",
        .epoch + 1,
        .step + 1
    )]
    NonFinite {
        /// epoch (from 0)
        epoch: usize,
        /// step within the epoch (from 0)
        step: usize,
        /// `loss`, or the gradient of the first parameter tensor holding a NaN/∞
        tensor: String,
    },
    /// An empty training or validation set.
    #[error("empty {0} set: nothing to train on (check --subjects and the data directory)")]
    Empty(&'static str),
    /// Parameter groups with a recipe or device that cannot step them.
    #[error("parameter groups need an AdamW recipe (ablation or constant) on the host optimiser (CPU); {0}")]
    Groups(&'static str),
    /// Optimiser misuse (internal).
    #[error("optimiser: {0}")]
    Optim(#[from] crate::optim::OptimError),
    /// A checkpoint could not be written or resumed from.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Trains `model` from `params` on `train`, selecting on `val`. `on_epoch` sees every record
/// as it is produced (for logging).
///
/// # Errors
/// See [`FitError`].
pub fn fit(
    model: &dyn Model,
    params: Vec<f32>,
    train: Windows<'_>,
    val: Windows<'_>,
    cfg: &FitConfig,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<FitOutcome, FitError> {
    fit_with(model, params, train, val, cfg, None, on_epoch)
}

/// [`fit`], writing a [`Checkpoint`] after every epoch to `ckpt.path` (atomically) and, with
/// `ckpt.resume`, continuing from that file when it exists: a resumed run computes exactly
/// what the uninterrupted run would have (same updates, same selection, same history apart
/// from wall times). On a device backend the optimiser moments are read back from the device
/// once per epoch for the checkpoint.
///
/// # Errors
/// See [`FitError`]; [`FitError::Checkpoint`] for a checkpoint that cannot be written, or one
/// to resume from that is corrupt or belongs to another run (model, recipe or data differ).
pub fn fit_with(
    model: &dyn Model,
    mut params: Vec<f32>,
    train: Windows<'_>,
    val: Windows<'_>,
    cfg: &FitConfig,
    ckpt: Option<&Checkpointing>,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<FitOutcome, FitError> {
    if train.is_empty() {
        return Err(FitError::Empty("training"));
    }
    if val.is_empty() {
        return Err(FitError::Empty("validation"));
    }
    let k = model.config().n_classes;
    let active = model.layout().trainable_ranges();
    enum Opt {
        AdamW(AdamW, CosineAnnealingLR),
        Adam(Adam, ReduceLROnPlateau),
    }
    let mut opt = match cfg.recipe {
        Recipe::Ablation | Recipe::Constant => Opt::AdamW(
            AdamW::new(
                params.len(),
                AdamWConfig {
                    lr: cfg.lr,
                    weight_decay: cfg.weight_decay,
                    ..AdamWConfig::reference()
                },
            ),
            // the constant recipe: the cosine's floor at the base rate
            CosineAnnealingLR::new(
                cfg.lr,
                cfg.epochs,
                if cfg.recipe == Recipe::Constant {
                    cfg.lr
                } else {
                    0.0
                },
            ),
        ),
        Recipe::Gated => Opt::Adam(
            Adam::new(
                params.len(),
                AdamConfig {
                    lr: cfg.lr,
                    ..AdamConfig::default()
                },
            ),
            ReduceLROnPlateau::new(cfg.lr, PlateauConfig::gated_reference()),
        ),
        Recipe::PlateauLoss => Opt::Adam(
            Adam::new(
                params.len(),
                AdamConfig {
                    lr: cfg.lr,
                    eps: 1e-6,
                    weight_decay: cfg.weight_decay,
                    ..AdamConfig::default()
                },
            ),
            ReduceLROnPlateau::new(
                cfg.lr,
                PlateauConfig {
                    mode: PlateauMode::Min,
                    factor: 0.5,
                    patience: 5,
                    ..PlateauConfig::default()
                },
            ),
        ),
    };
    // on a device backend the parameters and the optimiser live on the device for the whole
    // run (the same clip and Adam/AdamW formula); the host copy is refreshed once per epoch
    let dev_opt = match &opt {
        Opt::AdamW(o, _) => DeviceOptim::adamw(o.config(), Some(cfg.clip_norm)),
        Opt::Adam(o, _) => DeviceOptim::adam(o.config(), Some(cfg.clip_norm)),
    };
    let fp = ckpt.map(|_| fingerprint(model, cfg, train, val));
    let resumed = match ckpt {
        Some(c) if c.resume && c.path.exists() => Some(Checkpoint::load(
            &c.path,
            params.len(),
            fp.as_deref().unwrap_or_default(),
        )?),
        _ => None,
    };
    let mut best = (params.clone(), 0usize, f64::NEG_INFINITY);
    let mut since_best = 0usize;
    let mut history = Vec::new();
    let (mut start, mut elapsed0) = (0usize, 0.0f64);
    if let Some(c) = &resumed {
        params.clone_from(&c.params);
        best = (
            c.best_params.clone(),
            c.state.best_epoch,
            f64::from_bits(c.state.best_score_bits),
        );
        since_best = c.state.since_best;
        history.clone_from(&c.state.history);
        (start, elapsed0) = (c.state.next_epoch, c.state.elapsed_s);
        opt = match (opt, &c.state.schedule) {
            (Opt::AdamW(o, _), Schedule::Cosine(s)) => {
                Opt::AdamW(AdamW::from_state(*o.config(), c.adam.clone())?, s.clone())
            }
            (Opt::Adam(o, _), Schedule::Plateau(s)) => {
                Opt::Adam(Adam::from_state(*o.config(), c.adam.clone())?, s.clone())
            }
            _ => {
                return Err(CheckpointError::Corrupt {
                    path: ckpt
                        .map(|c| c.path.display().to_string())
                        .unwrap_or_default(),
                    why: "its schedule is not this recipe's".into(),
                }
                .into())
            }
        };
    }
    if !cfg.groups.is_empty() && cfg.recipe == Recipe::Gated {
        return Err(FitError::Groups("the gated recipe is Adam"));
    }
    let mut session = model.device_session(&params, dev_opt);
    if !cfg.groups.is_empty() && session.is_some() {
        // the device optimiser has one rate and weight decay
        return Err(FitError::Groups("this model trains on a device"));
    }
    if let (Some(s), Some(c)) = (session.as_mut(), &resumed) {
        s.restore_optim(&c.adam);
    }
    let mut ws = BatchWorkspace::default();
    let mut grads = vec![0.0f32; params.len()];
    let (mut loss_watch, mut norm_watch) = (OutlierDetector::default(), OutlierDetector::default());
    // a resumed run that had already stopped early stays stopped
    let stopped = resumed.is_some() && since_best >= cfg.patience;
    let n_steps = train.len().div_ceil(cfg.batch_size);
    let bar = if cfg.progress {
        ProgressBar::new((cfg.epochs * n_steps) as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed, ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_position((start.min(cfg.epochs) * n_steps) as u64);
    let t0 = Instant::now();
    for epoch in start..cfg.epochs {
        if stopped {
            break;
        }
        let te = Instant::now();
        let lr = match &opt {
            Opt::AdamW(_, s) => s.lr(),
            Opt::Adam(_, s) => s.lr(),
        };
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, cfg.epochs));
        let mut order: Vec<usize> = (0..train.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(splitmix(
            cfg.seed ^ ((epoch as u64) << 32),
        )));
        let (mut loss_sum, mut preds, mut labels) = (0.0f64, Vec::new(), Vec::new());
        let (mut skipped, mut outliers) = (0usize, 0usize);
        for (step, idx) in order.chunks(cfg.batch_size).enumerate() {
            let windows: Vec<&[f32]> = idx.iter().map(|&i| train.window(i)).collect();
            let targets: Vec<Target<'_>> = idx.iter().map(|&i| train.target(i)).collect();
            let seeds: Vec<u64> = idx
                .iter()
                .map(|&i| {
                    splitmix(
                        cfg.seed.wrapping_mul(0x1000_0000_01B3)
                            ^ ((epoch as u64) << 40)
                            ^ (i as u64),
                    )
                })
                .collect();
            let out = match session.as_mut() {
                Some(s) => {
                    // the device applies the update inside the step: a non-finite loss stops
                    // the run whatever the policy (the parameters may already hold it)
                    let out = s.step(ws.gather(&windows), idx.len(), &targets, Some(&seeds), lr);
                    if !out.loss.is_finite() {
                        return Err(FitError::NonFinite {
                            epoch,
                            step,
                            tensor: "loss".into(),
                        });
                    }
                    out
                }
                None => {
                    let out = ws.forward_backward(
                        model,
                        &params,
                        &windows,
                        &targets,
                        Some(&seeds),
                        &mut grads,
                    );
                    let norm = clip_grad_norm(&mut grads, cfg.clip_norm);
                    let bad = if !out.loss.is_finite() {
                        Some("loss".to_string())
                    } else if !norm.is_finite() {
                        Some(format!(
                            "gradient of {}",
                            first_nonfinite(model.layout(), &grads)
                                .unwrap_or_else(|| "a parameter".into())
                        ))
                    } else {
                        None
                    };
                    match (bad, cfg.on_nonfinite) {
                        (Some(tensor), OnNonFinite::Stop) => {
                            return Err(FitError::NonFinite {
                                epoch,
                                step,
                                tensor,
                            })
                        }
                        (Some(tensor), OnNonFinite::Skip) => {
                            skipped += 1;
                            bar.suspend(|| {
                                eprintln!(
                                    "epoch {}, step {}: non-finite {tensor}: step skipped",
                                    epoch + 1,
                                    step + 1
                                )
                            });
                            bar.inc(1);
                            continue;
                        }
                        (None, _) => {}
                    }
                    if let Some(z) = norm_watch.update(f64::from(norm)) {
                        if z > Z_OUTLIER {
                            outliers += 1;
                            bar.suspend(|| {
                                eprintln!(
                                    "epoch {}, step {}: gradient norm {norm:.3e} is an \
                                     outlier (z = {z:.1})",
                                    epoch + 1,
                                    step + 1
                                )
                            });
                        }
                    }
                    match &mut opt {
                        Opt::AdamW(o, _) if !cfg.groups.is_empty() => {
                            let factor = if cfg.lr > 0.0 { lr / cfg.lr } else { 0.0 };
                            o.step_groups(&mut params, &grads, &active, &cfg.groups, factor)?
                        }
                        Opt::AdamW(o, _) => o.step(&mut params, &grads, &active, lr)?,
                        Opt::Adam(o, _) => o.step(&mut params, &grads, &active, lr)?,
                    }
                    out
                }
            };
            if let Some(z) = loss_watch.update(f64::from(out.loss)) {
                if z > Z_OUTLIER {
                    outliers += 1;
                    bar.suspend(|| {
                        eprintln!(
                            "epoch {}, step {}: loss {:.4} is an outlier (z = {z:.1})",
                            epoch + 1,
                            step + 1,
                            out.loss
                        )
                    });
                }
            }
            loss_sum += out.loss as f64;
            if let Labels::Classes(y) = train.labels {
                preds.extend(argmax_rows(&out.logits, k));
                labels.extend(idx.iter().map(|&i| y[i] as usize));
            }
            bar.inc(1);
        }
        if let Some(s) = &session {
            params = s.params();
        }
        let ev = evaluate(model, &params, val, cfg.batch_size);
        let rec = EpochRecord {
            epoch,
            lr,
            // mean over the steps that ran
            train_loss: loss_sum / (n_steps - skipped).max(1) as f64,
            train_acc: matches!(train.labels, Labels::Classes(_))
                .then(|| accuracy(&preds, &labels)),
            val_loss: ev.metrics.loss(),
            val: ev.metrics.clone(),
            seconds: te.elapsed().as_secs_f64(),
            skipped_steps: skipped,
            outlier_steps: outliers,
        };
        bar.set_message(format!("val {}", rec.val.summary()));
        let score = rec.val.score();
        match &mut opt {
            Opt::AdamW(_, s) => {
                s.step();
            }
            Opt::Adam(_, s) => {
                s.step(if cfg.recipe == Recipe::PlateauLoss {
                    rec.train_loss
                } else {
                    score
                });
            }
        }
        if score > best.2 {
            best = (params.clone(), epoch, score);
            since_best = 0;
        } else {
            since_best += 1;
        }
        bar.suspend(|| on_epoch(&rec));
        history.push(rec);
        if let (Some(c), Some(fp)) = (ckpt, &fp) {
            let (adam, schedule) = match &opt {
                Opt::AdamW(o, s) => (o.state(), Schedule::Cosine(s.clone())),
                Opt::Adam(o, s) => (o.state(), Schedule::Plateau(s.clone())),
            };
            let adam = match &session {
                Some(s) => s.optim_state(),
                None => adam.clone(),
            };
            Checkpoint {
                fingerprint: fp.clone(),
                params: params.clone(),
                best_params: best.0.clone(),
                adam,
                state: State {
                    next_epoch: epoch + 1,
                    best_epoch: best.1,
                    best_score_bits: best.2.to_bits(),
                    since_best,
                    elapsed_s: elapsed0 + t0.elapsed().as_secs_f64(),
                    schedule,
                    history: history.clone(),
                },
            }
            .save(&c.path)?;
        }
        if since_best >= cfg.patience {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(FitOutcome {
        best_params: best.0,
        best_epoch: best.1,
        last_params: params,
        best_val_score: best.2,
        history,
        training_time_s: elapsed0 + t0.elapsed().as_secs_f64(),
    })
}
