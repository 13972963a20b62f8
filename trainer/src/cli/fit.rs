//! `trainer fit`: EEGMMIDB → subject split → training → test metrics → model file + results.
use super::subjects::parse_subjects;
use crate::data::{discover_subjects, subject_split, EegmmidbConfig, EpochCache, EpochSet};
use crate::export::{export, ExportInfo};
use crate::fit::{evaluate, fit, FitConfig, Windows};
use crate::models::{registry, ModelConfig};
use qssm_formats::model_file::{write_atomic, SplitInfo, TensorDtype};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `trainer fit` (defaults: the reference's recipe).
#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// model id or class name (`trainer models` lists them), e.g. 1b or QuantumMambaSSM
    #[arg(long)]
    pub model: String,
    /// EEGMMIDB root holding SNNN/SNNNRKK.edf (PhysioNet layout)
    #[arg(long, default_value = "data/eegmmidb")]
    pub data: PathBuf,
    /// resampling rate in Hz (40, 80 or 160 in the reference; window T = 3.1·sfreq + 1)
    #[arg(long, default_value_t = 80)]
    pub sfreq: u32,
    /// subjects: N (1..=N, the reference's sample_size) or a list like 1-10,12; default: every
    /// subject directory found under --data
    #[arg(long)]
    pub subjects: Option<String>,
    /// seed of the subject split, initialisation, shuffling and dropout
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// maximum training epochs (passes over the training set)
    #[arg(long, default_value_t = 50)]
    pub epochs: usize,
    /// mini-batch size
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// AdamW learning rate (cosine-annealed per epoch to 0 at --epochs)
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// AdamW decoupled weight decay
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f64,
    /// early stopping: epochs without a strict gain in validation accuracy
    #[arg(long, default_value_t = 10)]
    pub patience: usize,
    /// output directory (model.safetensors, results.json); default runs/<id>_<sfreq>Hz_seed<seed>
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// directory for cached epoched arrays (keyed by preprocessing settings)
    #[arg(long, default_value = ".qssm-cache")]
    pub cache_dir: PathBuf,
    /// worker threads (default: all cores)
    #[arg(long)]
    pub threads: Option<usize>,
    /// hide the progress bar
    #[arg(long)]
    pub no_progress: bool,
}

fn windows(set: &EpochSet) -> Windows<'_> {
    Windows {
        x: &set.x,
        y: &set.y,
        window_len: set.n_channels * set.n_times,
    }
}

/// Runs `trainer fit`.
pub fn run(a: FitArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(n) = a.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    if a.batch_size == 0 || a.epochs == 0 {
        return Err("--batch-size and --epochs must be at least 1".into());
    }
    let entry = registry::lookup(&a.model)?;
    if !a.data.is_dir() {
        return Err(format!(
            "EEGMMIDB data directory {} does not exist",
            a.data.display()
        )
        .into());
    }
    let ids = match &a.subjects {
        Some(s) => parse_subjects(s)?,
        None => discover_subjects(&a.data)?,
    };
    let split = subject_split(&ids, a.seed as u32);
    if split.train.is_empty() || split.val.is_empty() || split.test.is_empty() {
        return Err(format!("{} subjects leave an empty train, validation or test set in the 70/15/15 subject split; use at least 4", ids.len()).into());
    }
    let cfg = EegmmidbConfig::new(&a.data, a.sfreq);
    let cache = EpochCache::new(&a.cache_dir);
    let t_load = Instant::now();
    let train = cache.load_subjects(&cfg, &split.train)?;
    let val = cache.load_subjects(&cfg, &split.val)?;
    let test = cache.load_subjects(&cfg, &split.test)?;
    eprintln!(
        "data: {} subjects at {} Hz (T = {}): train {:?} ({} windows), val {:?} ({}), test {:?} ({}) [{:.1} s]",
        ids.len(),
        a.sfreq,
        train.n_times,
        split.train,
        train.n_trials(),
        split.val,
        val.n_trials(),
        split.test,
        test.n_trials(),
        t_load.elapsed().as_secs_f64()
    );
    let mcfg = ModelConfig {
        n_channels: train.n_channels,
        ..ModelConfig::eeg(train.n_times)
    };
    let model = registry::build(entry.id, mcfg)?;
    let params = model.layout().init(&mut ChaCha8Rng::seed_from_u64(a.seed));
    let fcfg = FitConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        lr: a.lr,
        weight_decay: a.weight_decay,
        patience: a.patience,
        seed: a.seed,
        clip_norm: 1.0,
        progress: !a.no_progress,
    };
    eprintln!(
        "model: {} {} ({} parameters), {} threads",
        model.id(),
        model.class_name(),
        model.layout().len(),
        rayon::current_num_threads()
    );
    let out = fit(
        model.as_ref(),
        params,
        windows(&train),
        windows(&val),
        &fcfg,
        &mut |r| {
            eprintln!(
            "epoch {:>3}  lr {:.2e}  train loss {:.4} acc {:.3}  val loss {:.4} acc {:.3} auc {:.3}  ({:.1} s)",
            r.epoch + 1,
            r.lr,
            r.train_loss,
            r.train_acc,
            r.val_loss,
            r.val_acc,
            r.val_auc,
            r.seconds
        )
        },
    )?;
    let ev = evaluate(
        model.as_ref(),
        &out.best_params,
        windows(&test),
        a.batch_size,
    );
    let m = &ev.metrics;
    println!(
        "test: acc {:.2} %  AUC {:.2} %  F1 {:.2} %  ({} windows, best epoch {}, val acc {:.2} %, training {:.1} s)",
        100.0 * m.acc,
        100.0 * m.auc,
        100.0 * m.f1,
        test.n_trials(),
        out.best_epoch + 1,
        100.0 * out.best_val_acc,
        out.training_time_s
    );
    let out_dir = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!("runs/{}_{}Hz_seed{}", model.id(), a.sfreq, a.seed))
    });
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let metrics = json!({
        "test_acc": m.acc, "test_auc": m.auc, "test_f1": m.f1, "test_cm": m.confusion, "test_loss": m.loss,
        "best_val_acc": out.best_val_acc, "best_epoch": out.best_epoch, "epochs_trained": out.history.len(),
    });
    let preprocessing = json!({
        "dataset": "PhysioNet EEGMMIDB v1.0.0", "runs": cfg.runs, "events": {"T1": 0, "T2": 1},
        "window_s": [cfg.tmin_s, cfg.tmax_s], "resample": "FFT resampling of each whole run (see qssm_trainer::data::resample)",
        "scale": "volts x 1e3 (millivolts)", "filter": "none", "normalisation": "none",
    });
    let training = json!({"recipe": fcfg, "optimizer": "AdamW", "betas": [0.9, 0.999], "eps": 1e-8, "schedule": "CosineAnnealingLR(T_max=epochs)", "loss": "cross-entropy", "selection": "best validation accuracy"});
    let info = ExportInfo {
        sfreq: a.sfreq as f64,
        channels: train.channel_names.clone(),
        preprocessing,
        split: Some(SplitInfo {
            seed: a.seed,
            train: split.train.clone(),
            val: split.val.clone(),
            test: split.test.clone(),
        }),
        training: training.clone(),
        metrics: metrics.clone(),
    };
    let model_path = out_dir.join("model.safetensors");
    export(
        &model_path,
        model.as_ref(),
        &out.best_params,
        &info,
        TensorDtype::F32,
    )?;
    let results = json!({
        "model_id": model.id(), "model_name": model.class_name(), "seed": a.seed, "n_params": model.layout().len(),
        "hyperparameters": {"n_qubits": mcfg_q(model.as_ref()), "n_layers": model.config().n_layers, "d_model": model.config().d_model,
            "d_state": model.config().d_state, "n_epochs": a.epochs, "batch_size": a.batch_size, "learning_rate": a.lr,
            "weight_decay": a.weight_decay, "sample_size": ids.len(), "sampling_freq": a.sfreq},
        "data_info": {"n_channels": train.n_channels, "n_timesteps": train.n_times, "output_dim": model.config().n_classes,
            "n_train": train.n_trials(), "n_val": val.n_trials(), "n_test": test.n_trials()},
        "split": {"train": split.train, "val": split.val, "test": split.test},
        "history": out.history, "metrics": metrics, "training": training,
        "training_time": out.training_time_s, "threads": rayon::current_num_threads(),
    });
    let results_path = out_dir.join("results.json");
    write_atomic(
        &results_path,
        serde_json::to_string_pretty(&results)?.as_bytes(),
    )
    .map_err(|e| format!("{}: {e}", results_path.display()))?;
    println!(
        "wrote {} and {}",
        model_path.display(),
        results_path.display()
    );
    Ok(())
}

fn mcfg_q(m: &dyn crate::models::Model) -> usize {
    m.config().n_qubits
}
