//! `trainer fit`: EEGMMIDB (or a synthetic task, or an image-sequence task of the paper
//! models) → split → training → test metrics → model file + results.
use super::subjects::parse_subjects;
use crate::data::image_set::ImageSet;
use crate::data::image_tasks::{ImageTask, MNIST_MEAN, MNIST_STD};
use crate::data::input_filter::{
    apply_stats, card_entry as filter_card, channel_stats, normalisation_card,
};
use crate::data::synthetic::{self, SyntheticTask};
use crate::data::{discover_subjects, subject_split, EegmmidbConfig, EpochCache, EpochSet};
use crate::export::{export, ExportInfo};
use crate::fit::{
    evaluate, fit_with, Checkpointing, FitConfig, Labels, OnNonFinite, Recipe, Windows,
};
use crate::models::nn::{QProjOptions, QuantumInit};
use crate::models::paper::{self, PaperOptions};
use crate::models::{registry, AnsatzKind, Model, ModelConfig};
use qssm_formats::model_file::{write_atomic, SplitInfo, TensorDtype};
use qssm_kernels::circuit::qproj::Affine;
use qssm_kernels::signal::design::{design, FilterSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// `--recipe` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipeArg {
    /// AdamW + cosine annealing
    Ablation,
    /// Adam + ReduceLROnPlateau
    Gated,
    /// AdamW at a constant learning rate (Adam with --weight-decay 0)
    Constant,
    /// Adam with L2 weight decay, eps 1e-6, ReduceLROnPlateau on the training loss (qt-liu's)
    PlateauLoss,
}

/// `--qt-variant` values (spec hqc-mamba-and-quantum-train §5.2–5.3).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum QtVariantArg {
    /// the seed's: 13-qubit RY/CNOT chain, ReLU mapping MLP, the CNN with ReLUs (qt-seed)
    Seed,
    /// the authors': U3/CU3 ring, post-processed probabilities, linear mapping, the CNN
    /// without activations (qt-liu)
    Liu,
}

/// `--on-nonfinite` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonFiniteArg {
    /// stop the run with an error
    Stop,
    /// skip the step and go on
    Skip,
}

/// `--ansatz` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnsatzArg {
    /// RX, RY, RZ + two CRX rings (5 angles per qubit and layer)
    Unified5,
    /// RY, CRX ring, RY, CRX ring (4 angles per qubit and layer)
    Legacy4,
}

/// What to train on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// EEGMMIDB motor imagery, left vs right fist (classification)
    Eeg,
    /// the adding problem (regression, 1 output)
    Adding,
    /// selective copy with 8 markers (regression, 8 outputs)
    SelectiveCopy,
    /// sequential scikit-learn digits: 8×8 pixels as T = 64 steps, 10 classes (paper models)
    Sdigits,
    /// sequential MNIST on the test set: 28×28 as T = 784, 10 classes, 8,000 / 2,000 split
    #[value(name = "smnist-10k")]
    Smnist10k,
}

impl Task {
    /// The image-sequence task, if this is one.
    fn images(self) -> Option<ImageTask> {
        match self {
            Self::Sdigits => Some(ImageTask::Sdigits),
            Self::Smnist10k => Some(ImageTask::Smnist10k),
            _ => None,
        }
    }
}

/// `--qproj-affine` values (spec hqc-mamba-and-quantum-train §3.8 A2).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffineArg {
    /// γ, β per output
    PerOutput,
    /// one γ, one β
    Scalar,
    /// none
    None,
}

/// `--param-groups` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupsArg {
    /// the HQC Mamba's groups (spec §3.6): in_proj, x_proj, out_proj at 0.3, 0.1, 0.3 × --lr
    /// without weight decay, the rest at --lr with --weight-decay
    Paper,
    /// one group at --lr with --weight-decay
    Single,
}

/// `--qproj-init` values (spec §3.8 A6).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum QInitArg {
    /// U[0, 2π)
    Uniform,
    /// N(0, 0.1²)
    Normal,
}

/// Arguments of `trainer fit` (defaults: the reference's recipe).
#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// model id or class name (`trainer models` lists them), e.g. 1b or QuantumMambaSSM
    #[arg(long)]
    pub model: String,
    /// train the causal variant (streamable models only, see `trainer models`): e.g. 1b with
    /// every SSM scan from a zero state and no padding in the chunk softmax
    #[arg(long)]
    pub causal: bool,
    /// optimiser/schedule: `ablation` (AdamW + cosine, the EEG ablation; the default),
    /// `gated` (Adam + ReduceLROnPlateau on validation accuracy, the gated models' script; use
    /// with --subjects 50 --chunk-size 8 to reproduce it), `constant` (AdamW at a constant
    /// rate; quantum-train's default) or `plateau-loss` (Adam with L2 weight decay, eps 1e-6,
    /// ReduceLROnPlateau on the training loss; qt-liu's default)
    #[arg(long, value_enum)]
    pub recipe: Option<RecipeArg>,
    /// Quantum-Train's variant, for `--model quantum-train` (and its CNN `qt-cnn`): `seed`
    /// (qt-seed, the default) or `liu` (qt-liu: the model `qt-liu`, its CNN `qt-liu-cnn`)
    #[arg(long, value_enum)]
    pub qt_variant: Option<QtVariantArg>,
    /// qt-seed only: standardise each generated CNN tensor and scale it by a learnable gain
    /// started at PyTorch's init scale (8 more parameters; weight standardisation with the
    /// QTLSTM notebook's per-tensor scale; not the seed's method, which keeps its raw
    /// mapping outputs and often starts with a dead or exploding CNN)
    #[arg(long)]
    pub qt_tensor_gain: bool,
    /// circuit ansatz of the gated models: unified5 (current code) or legacy4 (behind the
    /// published gated numbers)
    #[arg(long, value_enum, default_value_t = AnsatzArg::Unified5)]
    pub ansatz: AnsatzArg,
    /// chunk size of the gated recurrence (gated models)
    #[arg(long, default_value_t = 8)]
    pub chunk_size: usize,
    /// hidden size H of the gated recurrence (gated models)
    #[arg(long, default_value_t = 64)]
    pub hidden_dim: usize,
    /// D: `d_model` (the reference's constructors; default 128)
    #[arg(long)]
    pub d_model: Option<usize>,
    /// N: `d_state` of the selective SSMs (default 16)
    #[arg(long)]
    pub d_state: Option<usize>,
    /// Q: qubits per circuit (default 6)
    #[arg(long)]
    pub n_qubits: Option<usize>,
    /// model blocks and circuit layers (the reference's `--n-layers`; default 2)
    #[arg(long)]
    pub n_layers: Option<usize>,
    /// dropout probability in training (default 0.1)
    #[arg(long)]
    pub dropout: Option<f32>,
    /// task: EEG classification or a synthetic regression benchmark
    #[arg(long, value_enum, default_value_t = Task::Eeg)]
    pub task: Task,
    /// sequence length L of the synthetic tasks
    #[arg(long, default_value_t = 100)]
    pub seq_len: usize,
    /// samples generated for a synthetic task (split 80/10/10)
    #[arg(long, default_value_t = 5000)]
    pub n_samples: usize,
    /// the task's data folder (default: data/eegmmidb, data/digits or data/mnist; EEGMMIDB in
    /// the PhysioNet layout SNNN/SNNNRKK.edf)
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// paper models (hqc-mamba): d_inner / d_model
    #[arg(long, default_value_t = 4)]
    pub expand: usize,
    /// hqc-mamba: entangling layers per quantum projection (L_Q)
    #[arg(long, default_value_t = 1)]
    pub qproj_layers: usize,
    /// hqc-mamba: the quantum projections' output affine
    #[arg(long, value_enum, default_value_t = AffineArg::PerOutput)]
    pub qproj_affine: AffineArg,
    /// hqc-mamba: no input-RMS rescale of the quantum projections (the paper-minimal variant)
    #[arg(long)]
    pub qproj_no_rescale: bool,
    /// hqc-mamba: circuit weight initialisation
    #[arg(long, value_enum, default_value_t = QInitArg::Uniform)]
    pub qproj_init: QInitArg,
    /// optimiser parameter groups: `paper` (hqc-mamba and its twin's default, spec §3.6; CPU)
    /// or `single` (every other model's)
    #[arg(long, value_enum)]
    pub param_groups: Option<GroupsArg>,
    /// with --param-groups paper: no weight decay on A_log, D, biases and norms (the Mamba
    /// reference's exemption; spec §3.6 `wd_mamba_exempt`)
    #[arg(long)]
    pub wd_mamba_exempt: bool,
    /// resampling rate in Hz (40, 80 or 160 in the reference; window T = 3.1·sfreq + 1)
    #[arg(long, default_value_t = 80)]
    pub sfreq: u32,
    /// causal Butterworth high-pass cutoff in Hz, run over each whole recording after
    /// resampling and recorded in the model card, so the engine's stream applies the same
    /// filter (EEG drift: 0.5–1 Hz); default none, as the reference
    #[arg(long, value_name = "HZ")]
    pub highpass: Option<f64>,
    /// causal Butterworth low-pass cutoff in Hz (below sfreq/2), as --highpass; both together
    /// make a band-pass
    #[arg(long, value_name = "HZ")]
    pub lowpass: Option<f64>,
    /// order of the --highpass and --lowpass Butterworth filters (1..=8)
    #[arg(long, default_value_t = 4)]
    pub filter_order: usize,
    /// causal notch at this frequency in Hz (line noise: 50 or 60), as --highpass
    #[arg(long, value_name = "HZ")]
    pub notch: Option<f64>,
    /// quality factor of the --notch (centre / −3 dB bandwidth)
    #[arg(long, default_value_t = 30.0)]
    pub notch_q: f64,
    /// normalise every channel by the mean and standard deviation of the training windows
    /// (after the filter), recorded in the model card so the engine's stream applies them too
    #[arg(long)]
    pub normalise: bool,
    /// subjects: N (1..=N, the reference's sample_size) or a list like 1-10,12; default: every
    /// subject directory found under --data
    #[arg(long)]
    pub subjects: Option<String>,
    /// seed of the subject split (synthetic tasks: of the generated set and its split) and,
    /// unless --init-seed is given, of the initialisation, shuffling and dropout too
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
    /// seed of the parameter initialisation, shuffling and dropout, separate from the split
    /// seed (default: --seed); sweeps vary it to separate training noise from split noise
    #[arg(long)]
    pub init_seed: Option<u64>,
    /// maximum training epochs (passes over the training set); default 50 (EEG) or 100
    /// (synthetic)
    #[arg(long)]
    pub epochs: Option<usize>,
    /// mini-batch size
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// learning rate (the ablation recipe anneals it per epoch to 0 at the last epoch);
    /// default 1e-3, quantum-train 5e-4
    #[arg(long)]
    pub lr: Option<f64>,
    /// AdamW decoupled weight decay; default 1e-4, quantum-train 0
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// clip the gradient to this global L2 norm before each step; default 1, quantum-train 10
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// early stopping: epochs without a strict gain in validation accuracy (EEG, default 10)
    /// or a strict drop in validation MSE (synthetic, default 20)
    #[arg(long)]
    pub patience: Option<usize>,
    /// output directory (model.safetensors, results.json, and checkpoint.safetensors, rewritten
    /// after every epoch); default `runs/<id>_<sfreq>Hz_seed<seed>`
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// continue an interrupted run from `<out>/checkpoint.safetensors` (same model, options and
    /// data; refused otherwise); without a checkpoint the run starts from scratch. The result
    /// equals an uninterrupted run's
    #[arg(long)]
    pub resume: bool,
    /// a step whose loss or gradient is NaN/∞: `stop` the run with an error naming the epoch,
    /// step and tensor, or `skip` the step (no update; counted in the history). On `--device
    /// cuda` the update happens on the device, so a non-finite loss always stops
    #[arg(long, value_enum, default_value_t = NonFiniteArg::Stop)]
    pub on_nonfinite: NonFiniteArg,
    /// directory for cached epoched arrays (keyed by preprocessing settings)
    #[arg(long, default_value = ".qssm-cache")]
    pub cache_dir: PathBuf,
    /// device: `cpu`, or `cuda` (builds with the `cuda` feature; every model)
    #[arg(long, default_value = "cpu")]
    pub device: String,
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
        labels: Labels::Classes(&set.y),
        window_len: set.n_channels * set.n_times,
    }
}

fn synthetic_windows(set: &synthetic::SyntheticSet) -> Windows<'_> {
    Windows {
        x: &set.x,
        labels: Labels::Values {
            v: &set.y,
            dim: set.output_dim,
        },
        window_len: 2 * set.seq_len,
    }
}

/// The three splits of a task, ready to train on, and what the model file must record.
struct Prepared<'a> {
    train: Windows<'a>,
    val: Windows<'a>,
    test: Windows<'a>,
    n_channels: usize,
    n_times: usize,
    output_dim: usize,
    info: ExportInfo,
    data_info: serde_json::Value,
}

/// Runs `trainer fit`.
pub fn run(a: FitArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(n) = a.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    let id = match (paper::lookup(&a.model).map(|m| m.id()), a.qt_variant) {
        (Some("quantum-train"), Some(QtVariantArg::Liu)) => "qt-liu",
        (Some("qt-cnn"), Some(QtVariantArg::Liu)) => "qt-liu-cnn",
        (Some(id @ ("qt-liu" | "qt-liu-cnn")), Some(QtVariantArg::Seed)) => {
            return Err(format!("{id} is the liu variant; --qt-variant seed contradicts it").into())
        }
        (Some(id @ ("quantum-train" | "qt-cnn" | "qt-liu" | "qt-liu-cnn")), _) => id,
        (_, Some(_)) => {
            return Err(format!(
                "--qt-variant is an option of --model quantum-train (and qt-cnn), not of '{}'",
                a.model
            )
            .into())
        }
        (Some(id), None) => id,
        (None, None) => registry::lookup(&a.model)?.id,
    };
    if a.qt_tensor_gain && id != "quantum-train" {
        return Err(format!(
            "--qt-tensor-gain is an option of quantum-train's qt-seed variant, not of '{id}'"
        )
        .into());
    }
    if paper::lookup(id).is_some_and(|m| m.arch != paper::PaperArch::Mamba)
        && a.task != Task::Smnist10k
    {
        return Err(
            format!("{id}: its target CNN classifies 28×28 images; use --task smnist-10k").into(),
        );
    }
    param_groups(&a, paper::lookup(id))?;
    check_hyperparameters(&model_config(&a, 1))?;
    if a.qproj_layers == 0 || a.qproj_layers > 16 || a.expand == 0 {
        return Err("--qproj-layers must be in 1..=16 and --expand at least 1".into());
    }
    let data = data_dir(&a);
    match a.task {
        Task::Eeg => {
            if !data.is_dir() {
                return Err(
                    format!("EEGMMIDB data directory {} does not exist", data.display()).into(),
                );
            }
            let ids = match &a.subjects {
                Some(s) => parse_subjects(s)?,
                None => discover_subjects(&data)?,
            };
            let split = subject_split(&ids, a.seed as u32);
            if split.train.is_empty() || split.val.is_empty() || split.test.is_empty() {
                return Err(format!("{} subjects leave an empty train, validation or test set in the 70/15/15 subject split; use at least 4", ids.len()).into());
            }
            let mut cfg = EegmmidbConfig::new(&data, a.sfreq);
            let filter_spec = FilterSpec {
                fs: a.sfreq as f64,
                highpass_hz: a.highpass,
                lowpass_hz: a.lowpass,
                order: a.filter_order,
                notch_hz: a.notch,
                notch_q: a.notch_q,
            };
            cfg.filter = design(&filter_spec).map_err(|e| format!("input filter: {e}"))?;
            let cache = EpochCache::new(&a.cache_dir);
            let t_load = Instant::now();
            let mut train = cache.load_subjects(&cfg, &split.train)?;
            let mut val = cache.load_subjects(&cfg, &split.val)?;
            let mut test = cache.load_subjects(&cfg, &split.test)?;
            let normalisation = if a.normalise {
                let stats = channel_stats(&train)?;
                for set in [&mut train, &mut val, &mut test] {
                    apply_stats(set, &stats);
                }
                normalisation_card(&stats)
            } else {
                json!("none")
            };
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
            let preprocessing = json!({
                "dataset": "PhysioNet EEGMMIDB v1.0.0", "runs": cfg.runs, "events": {"T1": 0, "T2": 1},
                "window_s": [cfg.tmin_s, cfg.tmax_s], "resample": "FFT resampling of each whole run, as MNE's raw.resample(npad='auto') (see qssm_trainer::data::resample)",
                "scale": "volts x 1e3 (millivolts)", "filter": filter_card(&cfg.filter, &filter_spec), "normalisation": normalisation,
            });
            let prepared = Prepared {
                train: windows(&train),
                val: windows(&val),
                test: windows(&test),
                n_channels: train.n_channels,
                n_times: train.n_times,
                output_dim: 2,
                info: ExportInfo {
                    sfreq: a.sfreq as f64,
                    channels: train.channel_names.clone(),
                    unit: "mV".into(),
                    preprocessing,
                    split: Some(SplitInfo {
                        seed: a.seed,
                        train: split.train.clone(),
                        val: split.val.clone(),
                        test: split.test.clone(),
                    }),
                    training: json!(null),
                    metrics: json!(null),
                },
                data_info: json!({"task": "eeg", "sample_size": ids.len(), "sampling_freq": a.sfreq, "n_train": train.n_trials(), "n_val": val.n_trials(), "n_test": test.n_trials(),
                    "split": {"train": split.train, "val": split.val, "test": split.test}}),
            };
            train_and_export(&a, id, prepared, 50, 10)
        }
        Task::Sdigits | Task::Smnist10k => {
            let task = a.task.images().expect("an image task");
            if a.highpass.is_some() || a.lowpass.is_some() || a.notch.is_some() || a.normalise {
                return Err(
                    "--highpass, --lowpass, --notch and --normalise condition EEG \
                     recordings; the image tasks have none"
                        .into(),
                );
            }
            let (mean, std) =
                paper::lookup(id).map_or((MNIST_MEAN, MNIST_STD), |m| m.arch.mnist_scaling());
            let set = task.load_normalised(&data, (mean, std))?;
            let s = task.split(&set, a.seed)?;
            eprintln!(
                "data: {} from {} (T = {}): train {}, val {}, test {} images",
                task.name(),
                data.display(),
                set.pixels(),
                s.train.len(),
                s.val.len(),
                s.test.len()
            );
            fn images(set: &ImageSet) -> Windows<'_> {
                Windows {
                    x: &set.x,
                    labels: Labels::Classes(&set.y),
                    window_len: set.pixels(),
                }
            }
            let prepared = Prepared {
                train: images(&s.train),
                val: images(&s.val),
                test: images(&s.test),
                n_channels: 1,
                n_times: set.pixels(),
                output_dim: set.n_classes,
                info: ExportInfo {
                    sfreq: 1.0,
                    channels: vec!["pixel".into()],
                    unit: "none".into(),
                    preprocessing: json!({"task": task.name(), "data": data.display().to_string(),
                    "pixels": "raster order, one per step", "scale": match task {
                        ImageTask::Sdigits => "pixel / 16".to_string(),
                        ImageTask::Smnist10k => format!("(pixel / 255 - {mean}) / {std}"),
                    }}),
                    split: None,
                    training: json!(null),
                    metrics: json!(null),
                },
                data_info: json!({"task": task.name(), "seq_len": set.pixels(), "n_train": s.train.len(), "n_val": s.val.len(), "n_test": s.test.len(),
                    "split": format!("stratified {} test images (seed {}), validation: stratified 10 % of the rest (seed {})", task.n_test(), a.seed, a.seed.wrapping_add(1))}),
            };
            train_and_export(&a, id, prepared, 30, 10)
        }
        Task::Adding | Task::SelectiveCopy => {
            if a.highpass.is_some() || a.lowpass.is_some() || a.notch.is_some() || a.normalise {
                return Err(
                    "--highpass, --lowpass, --notch and --normalise condition EEG \
                            recordings; the synthetic tasks have none"
                        .into(),
                );
            }
            let task = if a.task == Task::Adding {
                SyntheticTask::Adding
            } else {
                SyntheticTask::SelectiveCopy
            };
            let all = synthetic::generate(task, a.seq_len, a.n_samples, a.seed)?;
            let (train, val, test) = synthetic::split(&all, a.seed);
            eprintln!(
                "data: {} L = {}: train {}, val {}, test {} samples",
                task.name(),
                a.seq_len,
                train.len(),
                val.len(),
                test.len()
            );
            let prepared = Prepared {
                train: synthetic_windows(&train),
                val: synthetic_windows(&val),
                test: synthetic_windows(&test),
                n_channels: 2,
                n_times: a.seq_len,
                output_dim: task.output_dim(),
                info: ExportInfo {
                    sfreq: 1.0,
                    channels: vec!["value".into(), "marker".into()],
                    unit: "none".into(),
                    preprocessing: json!({"task": task.name(), "seq_len": a.seq_len, "n_samples": a.n_samples, "generator": "qssm_trainer::data::synthetic (ChaCha8, seeded)"}),
                    split: None,
                    training: json!(null),
                    metrics: json!(null),
                },
                data_info: json!({"task": task.name(), "seq_len": a.seq_len, "n_train": train.len(), "n_val": val.len(), "n_test": test.len(), "baseline_mse": task.baseline_mse()}),
            };
            train_and_export(&a, id, prepared, 100, 20)
        }
    }
}

/// `--data`, or the task's bundled folder.
pub(super) fn data_dir(a: &FitArgs) -> PathBuf {
    a.data.clone().unwrap_or_else(|| {
        PathBuf::from(match a.task.images() {
            Some(t) => t.default_dir(),
            None => "data/eegmmidb",
        })
    })
}

/// The paper models' options from the command line.
fn paper_options(a: &FitArgs) -> PaperOptions {
    PaperOptions {
        expand: a.expand,
        qt_tensor_gain: a.qt_tensor_gain,
        qproj: QProjOptions {
            layers: a.qproj_layers,
            affine: match a.qproj_affine {
                AffineArg::PerOutput => Affine::PerOutput,
                AffineArg::Scalar => Affine::Scalar,
                AffineArg::None => Affine::None,
            },
            rescale: !a.qproj_no_rescale,
            init: match a.qproj_init {
                QInitArg::Uniform => QuantumInit::Uniform,
                QInitArg::Normal => QuantumInit::Normal,
            },
        },
    }
}

/// The EEG configuration for windows of `n_times` with the command line's hyperparameters (a
/// paper model: its own d_model and no dropout unless given).
fn model_config(a: &FitArgs, n_times: usize) -> ModelConfig {
    let mut base = ModelConfig::eeg(n_times);
    if let Some(m) = paper::lookup(&a.model) {
        base.d_model = m.d_model;
        base.dropout = 0.0;
    }
    ModelConfig {
        d_model: a.d_model.unwrap_or(base.d_model),
        d_state: a.d_state.unwrap_or(base.d_state),
        n_qubits: a.n_qubits.unwrap_or(base.n_qubits),
        n_layers: a.n_layers.unwrap_or(base.n_layers),
        dropout: a.dropout.unwrap_or(base.dropout),
        chunk_size: a.chunk_size,
        hidden_dim: a.hidden_dim,
        ..base
    }
}

/// The command line's policy on hyperparameters, with errors naming the flags, before any data
/// is read: stricter than the library's check of a configuration
/// ([`crate::models::config_check::check_config`], which `registry::build_on` runs
/// too): `d_model` a multiple of 16 and at most 12 qubits (the reference's shapes and what a
/// training run can simulate), and every size flag ≥ 1 even where the chosen model ignores it.
fn check_hyperparameters(c: &ModelConfig) -> Result<(), String> {
    if c.d_model < 16 || !c.d_model.is_multiple_of(16) {
        return Err(format!(
            "--d-model {} must be a positive multiple of 16 (dt_rank = d_model/16 and 4 attention heads)",
            c.d_model
        ));
    }
    if c.d_state == 0 || c.n_layers == 0 {
        return Err("--d-state and --n-layers must be at least 1".into());
    }
    if c.chunk_size == 0 || c.hidden_dim == 0 {
        return Err("--chunk-size and --hidden-dim must be at least 1".into());
    }
    if !(2..=12).contains(&c.n_qubits) {
        return Err(format!(
            "--n-qubits {} is outside 2..=12 (state vectors of 2^Q amplitudes)",
            c.n_qubits
        ));
    }
    if !(0.0..1.0).contains(&c.dropout) {
        return Err(format!("--dropout {} must be in [0, 1)", c.dropout));
    }
    Ok(())
}

fn train_and_export(
    a: &FitArgs,
    id: &str,
    mut p: Prepared<'_>,
    default_epochs: usize,
    default_patience: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let epochs = a.epochs.unwrap_or(default_epochs);
    if a.batch_size == 0 || epochs == 0 {
        return Err("--batch-size and --epochs must be at least 1".into());
    }
    let paper = paper::lookup(id);
    if a.causal && paper.is_none() && !registry::lookup(id)?.streamable {
        return Err(format!("model {id} has no causal variant (see `trainer models`)").into());
    }
    let mcfg = ModelConfig {
        n_channels: p.n_channels,
        n_classes: p.output_dim,
        causal: a.causal,
        chunk_size: a.chunk_size,
        hidden_dim: a.hidden_dim,
        ansatz: match a.ansatz {
            AnsatzArg::Unified5 => AnsatzKind::Unified5,
            AnsatzArg::Legacy4 => AnsatzKind::Legacy4,
        },
        ..model_config(a, p.n_times)
    };
    let device = crate::device::ComputeDevice::open(&a.device)?;
    let model = match paper {
        Some(m) => m.build_on(mcfg, &paper_options(a), &device)?,
        None => registry::build_on(id, mcfg, &device).map_err(|e| e.to_string())?,
    };
    let opt = optimiser(a, paper);
    let grouped = param_groups(a, paper)?;
    if grouped && !matches!(device, crate::device::ComputeDevice::Cpu) {
        return Err(
            "--param-groups paper runs on the CPU (the device optimiser has one rate and \
                    weight decay): use --param-groups single with --device cuda"
                .into(),
        );
    }
    let groups = if grouped {
        paper::hqc_param_groups(model.layout(), opt.lr, opt.weight_decay, a.wd_mamba_exempt)
    } else {
        Vec::new()
    };
    let init_seed = a.init_seed.unwrap_or(a.seed);
    let params = model
        .layout()
        .init(&mut ChaCha8Rng::seed_from_u64(init_seed));
    let fcfg = FitConfig {
        epochs,
        batch_size: a.batch_size,
        lr: opt.lr,
        weight_decay: opt.weight_decay,
        patience: a.patience.unwrap_or(default_patience),
        seed: init_seed,
        clip_norm: opt.clip_norm,
        progress: !a.no_progress,
        recipe: opt.recipe,
        on_nonfinite: match a.on_nonfinite {
            NonFiniteArg::Stop => OnNonFinite::Stop,
            NonFiniteArg::Skip => OnNonFinite::Skip,
        },
        groups,
    };
    eprintln!(
        "model: {} {} ({} parameters), {} threads, device {}",
        model.id(),
        model.class_name(),
        model.layout().n_params(),
        rayon::current_num_threads(),
        device
    );
    let task = format!("{:?}", a.task).to_lowercase();
    let init = match a.init_seed {
        Some(i) if i != a.seed => format!("_init{i}"),
        _ => String::new(),
    };
    let out_dir = a.out.clone().unwrap_or_else(|| match a.task {
        Task::Eeg => PathBuf::from(format!(
            "runs/{}_{}Hz_seed{}{init}",
            model.id(),
            a.sfreq,
            a.seed
        )),
        Task::Sdigits | Task::Smnist10k => {
            PathBuf::from(format!("runs/{}_{}_seed{}{init}", model.id(), task, a.seed))
        }
        _ => PathBuf::from(format!(
            "runs/{}_{}_L{}_seed{}{init}",
            model.id(),
            task,
            a.seq_len,
            a.seed
        )),
    });
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let ckpt = Checkpointing {
        path: out_dir.join("checkpoint.safetensors"),
        resume: a.resume,
    };
    if a.resume {
        if ckpt.path.exists() {
            eprintln!("resuming from {}", ckpt.path.display());
        } else {
            eprintln!(
                "no checkpoint at {}: starting from scratch",
                ckpt.path.display()
            );
        }
    }
    let out = fit_with(
        model.as_ref(),
        params,
        p.train,
        p.val,
        &fcfg,
        Some(&ckpt),
        &mut |r| {
            eprintln!(
                "epoch {:>3}  lr {:.2e}  train loss {:.4}{}  val loss {:.4}  {}  ({:.1} s)",
                r.epoch + 1,
                r.lr,
                r.train_loss,
                r.train_acc
                    .map(|v| format!(" acc {v:.3}"))
                    .unwrap_or_default(),
                r.val_loss,
                r.val.summary(),
                r.seconds
            )
        },
    )?;
    let ev = evaluate(model.as_ref(), &out.best_params, p.test, a.batch_size);
    println!(
        "test: {}  ({} samples, best epoch {}, training {:.1} s)",
        ev.metrics.summary(),
        p.test.len(),
        out.best_epoch + 1,
        out.training_time_s
    );
    let classes = matches!(a.task, Task::Eeg | Task::Sdigits | Task::Smnist10k);
    let metrics = json!({"test": ev.metrics, "best_val_score": out.best_val_score, "best_epoch": out.best_epoch, "epochs_trained": out.history.len()});
    let (optimizer, schedule) = match fcfg.recipe {
        Recipe::Ablation => ("AdamW", "CosineAnnealingLR(T_max=epochs)"),
        Recipe::Gated => (
            "Adam",
            "ReduceLROnPlateau(mode=max, factor=0.5, patience=5)",
        ),
        Recipe::Constant => ("AdamW", "constant"),
        Recipe::PlateauLoss => (
            "Adam (L2 weight decay)",
            "ReduceLROnPlateau(mode=min on the training loss, factor=0.5, patience=5)",
        ),
    };
    let eps = if fcfg.recipe == Recipe::PlateauLoss {
        1e-6
    } else {
        1e-8
    };
    let training = json!({"recipe": fcfg, "optimizer": optimizer, "betas": [0.9, 0.999], "eps": eps, "schedule": schedule,
        "loss": if classes { "cross-entropy" } else { "mse" },
        "selection": if classes { "best validation accuracy" } else { "lowest validation MSE" }});
    p.info.training = training.clone();
    p.info.metrics = metrics.clone();
    let model_path = out_dir.join("model.safetensors");
    export(
        &model_path,
        model.as_ref(),
        &out.best_params,
        &p.info,
        TensorDtype::F32,
    )?;
    let results = json!({
        "model_id": model.id(), "model_name": model.class_name(), "seed": a.seed, "init_seed": init_seed, "n_params": model.layout().n_params(),
        "hyperparameters": hyperparameters(model.as_ref(), a, epochs),
        "data_info": p.data_info, "history": out.history, "metrics": metrics, "training": training,
        "training_time": out.training_time_s, "threads": rayon::current_num_threads(),
        "device": device.to_string(),
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

/// The optimiser of a run: the command line's choices, else the model's defaults.
struct Optimiser {
    recipe: Recipe,
    lr: f64,
    weight_decay: f64,
    clip_norm: f32,
}

/// The command line's optimiser options over the defaults of `paper`'s model (or the EEG
/// ablation's: AdamW + cosine, lr 1e-3, weight decay 1e-4, clip 1).
fn optimiser(a: &FitArgs, paper: Option<paper::PaperModel>) -> Optimiser {
    let (recipe, lr, weight_decay, clip_norm) = paper
        .map(|m| m.arch.optimiser_defaults())
        .unwrap_or((Recipe::Ablation, 1e-3, 1e-4, 1.0));
    Optimiser {
        recipe: match a.recipe {
            Some(RecipeArg::Ablation) => Recipe::Ablation,
            Some(RecipeArg::Gated) => Recipe::Gated,
            Some(RecipeArg::Constant) => Recipe::Constant,
            Some(RecipeArg::PlateauLoss) => Recipe::PlateauLoss,
            None => recipe,
        },
        lr: a.lr.unwrap_or(lr),
        weight_decay: a.weight_decay.unwrap_or(weight_decay),
        clip_norm: a.clip_norm.unwrap_or(clip_norm),
    }
}

/// Whether the run trains with model A's parameter groups: `--param-groups`, else the
/// model's default (paper groups for the HQC Mamba and its twin). Errors: paper groups for
/// another model, or `--wd-mamba-exempt` without them.
fn param_groups(a: &FitArgs, paper: Option<paper::PaperModel>) -> Result<bool, String> {
    let mamba = paper.is_some_and(|m| m.arch == paper::PaperArch::Mamba);
    let grouped =
        match a.param_groups {
            Some(GroupsArg::Paper) if !mamba => return Err(
                "--param-groups paper is the HQC Mamba's recipe (hqc-mamba, hqc-mamba-classical)"
                    .into(),
            ),
            Some(g) => g == GroupsArg::Paper,
            None => mamba,
        };
    if a.wd_mamba_exempt && !grouped {
        return Err("--wd-mamba-exempt applies to --param-groups paper".into());
    }
    Ok(grouped)
}

fn hyperparameters(m: &dyn Model, a: &FitArgs, epochs: usize) -> serde_json::Value {
    let c = m.config();
    let opt = optimiser(a, paper::lookup(m.id()));
    let mut h = json!({"n_qubits": c.n_qubits, "n_layers": c.n_layers, "d_model": c.d_model, "d_state": c.d_state, "n_channels": c.n_channels,
        "n_timesteps": c.n_times, "output_dim": c.n_classes, "n_epochs": epochs, "batch_size": a.batch_size, "learning_rate": opt.lr,
        "weight_decay": opt.weight_decay, "clip_norm": opt.clip_norm});
    if let Ok(true) = param_groups(a, paper::lookup(m.id())) {
        let g = paper::hqc_param_groups(m.layout(), opt.lr, opt.weight_decay, a.wd_mamba_exempt);
        h["param_groups"] = g
            .iter()
            .map(|g| json!({"name": g.name, "lr": g.lr, "weight_decay": g.weight_decay}))
            .collect();
    }
    // the architecture options as the model card records them (model A), plus the
    // training-only circuit init
    if let Some(arch) = m.architecture() {
        h["expand"] = json!(arch.expand);
        if let Some(q) = arch.qproj {
            h["qproj"] = json!(q);
            h["qproj"]["init"] = json!(format!("{:?}", paper_options(a).qproj.init));
        }
    }
    if m.id() == "quantum-train" {
        // the file's tensors tell the form too (`tensor_gain.*`)
        h["qt_tensor_gain"] = json!(a.qt_tensor_gain);
    }
    h
}
