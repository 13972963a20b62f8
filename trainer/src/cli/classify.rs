//! `trainer classify`: runs an exported model file through the **inference engine**
//! (`qssm-engine`, the code that runs on devices) over EEGMMIDB windows and prints accuracy,
//! AUC and F1. By default it uses the test subjects recorded in the model card, so
//! `trainer fit … && trainer classify --model-file …` shows what the device would score on
//! held-out subjects.
use super::subjects::parse_subjects;
use crate::data::{EegmmidbConfig, EpochCache};
use crate::metrics::ClassificationMetrics;
use qssm_engine::Model as EngineModel;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `trainer classify`.
#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// exported model file (`model.safetensors` written by `trainer fit`)
    #[arg(long)]
    pub model_file: PathBuf,
    /// EEGMMIDB root holding SNNN/SNNNRKK.edf
    #[arg(long, default_value = "data/eegmmidb")]
    pub data: PathBuf,
    /// subjects to classify (N or a list like 1-10,12); default: the card's test subjects
    #[arg(long)]
    pub subjects: Option<String>,
    /// directory for cached epoched arrays
    #[arg(long, default_value = ".qssm-cache")]
    pub cache_dir: PathBuf,
}

/// Runs `trainer classify`.
pub fn run(a: ClassifyArgs) -> Result<(), Box<dyn std::error::Error>> {
    let model = EngineModel::from_path(&a.model_file)
        .map_err(|e| format!("{}: {e}", a.model_file.display()))?;
    let card = model.card().clone();
    let subjects = match (&a.subjects, &card.split) {
        (Some(s), _) => parse_subjects(s)?,
        (None, Some(split)) => split.test.clone(),
        (None, None) => {
            return Err("the model card records no subject split: pass --subjects".into())
        }
    };
    if card.input.unit != "mV" {
        return Err(format!(
            "model expects input in '{}', EEGMMIDB windows are prepared in mV",
            card.input.unit
        )
        .into());
    }
    let sfreq = card.input.sfreq;
    if sfreq.fract() != 0.0 || sfreq <= 0.0 {
        return Err(format!("model sfreq {sfreq} Hz is not a whole number of Hz").into());
    }
    let mut cfg = EegmmidbConfig::new(&a.data, sfreq as u32);
    // the card's input filter runs over each whole run, as in training
    cfg.filter = *model.input_filter();
    let set = EpochCache::new(&a.cache_dir).load_subjects(&cfg, &subjects)?;
    if set.channel_names != card.input.channels {
        return Err(format!(
            "channel names/order of {} differ from the model's ({} vs {} channels)",
            a.data.display(),
            set.n_channels,
            card.input.channels.len()
        )
        .into());
    }
    if set.n_times != model.n_times() {
        return Err(format!(
            "windows have T = {}, the model expects {}",
            set.n_times,
            model.n_times()
        )
        .into());
    }
    let t0 = Instant::now();
    let mut logits = Vec::with_capacity(set.n_trials() * model.n_classes());
    let mut window = vec![0.0f32; set.n_channels * set.n_times];
    for i in 0..set.n_trials() {
        // and its normalisation (if any) on the windows, as in training
        window.copy_from_slice(set.trial(i));
        model.normalise(&mut window, set.n_times)?;
        logits.extend(model.classify_window(&window)?.logits);
    }
    let per_window_ms = t0.elapsed().as_secs_f64() * 1e3 / set.n_trials().max(1) as f64;
    let labels: Vec<usize> = set.y.iter().map(|v| *v as usize).collect();
    let m = ClassificationMetrics::compute(&logits, &labels, model.n_classes(), f64::NAN);
    println!(
        "engine ({} {}, f32, {}): subjects {:?}, {} windows: acc {:.2} %  AUC {:.2} %  F1 {:.2} %  ({:.2} ms per window)",
        card.model_id,
        card.class_name,
        a.model_file.display(),
        subjects,
        set.n_trials(),
        100.0 * m.acc,
        100.0 * m.auc,
        100.0 * m.f1,
        per_window_ms
    );
    Ok(())
}
