//! `qssm replay`: publishes an EDF/EDF+ recording as a live LSL EEG stream (feature `lsl`),
//! paced at its rate (× `--speed`), for demos and tests of `qssm stream --lsl-in` and of any
//! other LSL consumer. Channels: every ordinary signal of the file (or `--channels`), labelled
//! as in the file, in `--unit` (default µV, written `microvolts` as LSL apps do); rate: the
//! file's, or `--sfreq` (the trainer's FFT resampling of the whole recording, exactly what
//! `qssm stream --edf` replays). Waits for a consumer before the first sample.
use crate::live::LiveError;
use crate::replay::Recording;
use qssm_engine::Unit;
use qssm_formats::edf::Edf;
use std::path::PathBuf;

/// Arguments of `qssm replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// EDF/EDF+ recording to publish
    #[arg(long)]
    pub edf: PathBuf,
    /// name of the LSL stream to publish (type EEG)
    #[arg(long, value_name = "NAME")]
    pub lsl_out: String,
    /// resample the recording to this rate first (Hz; default: the file's rate)
    #[arg(long, value_name = "HZ")]
    pub sfreq: Option<f64>,
    /// unit of the published values (uV, mV or V)
    #[arg(long, default_value = "uV", value_parser = super::stream::parse_unit)]
    pub unit: Unit,
    /// pace at this multiple of real time (a positive number)
    #[arg(long, default_value = "1", value_parser = super::stream::parse_duration)]
    pub speed: f64,
    /// publish only the first SECONDS of the recording
    #[arg(long, value_name = "SECONDS", value_parser = super::stream::parse_duration)]
    pub duration: Option<f64>,
    /// publish only these channels (comma-separated file labels, in this order)
    #[arg(long, value_delimiter = ',')]
    pub channels: Option<Vec<String>>,
    /// wait at most this long for a consumer before the first sample, seconds
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = super::stream::parse_duration)]
    pub wait_consumer: f64,
}

/// Runs `qssm replay`.
pub fn run(a: ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
    let edf = Edf::open(&a.edf).map_err(|e| format!("{}: {e}", a.edf.display()))?;
    let ordinary = edf.ordinary_signals();
    let labels = match &a.channels {
        Some(c) => c.clone(),
        None => ordinary
            .iter()
            .map(|&i| edf.signals()[i].label.clone())
            .collect(),
    };
    let file_rate = ordinary.first().map_or(0.0, |&i| edf.signals()[i].sfreq);
    let sfreq = a.sfreq.unwrap_or(file_rate);
    let rec = Recording::load(&a.edf, &labels, sfreq)?;
    for w in &rec.warnings {
        eprintln!("warning: {}: {w}", a.edf.display());
    }
    let n = a.duration.map(|s| (s * rec.sfreq).floor() as usize);
    println!(
        "replay: {}: {} channels at {} Hz{} in {}, {:.1} s, as LSL stream '{}' at {}× real time",
        a.edf.display(),
        rec.n_channels(),
        rec.sfreq,
        if rec.source_sfreq == rec.sfreq {
            String::new()
        } else {
            format!(" (resampled from {} Hz)", rec.source_sfreq)
        },
        a.unit.symbol(),
        n.unwrap_or(rec.n_times).min(rec.n_times) as f64 / rec.sfreq,
        a.lsl_out,
        a.speed
    );
    let published = publish(&rec, &a, n)?;
    println!("replay: published {published} samples");
    Ok(())
}

#[cfg(feature = "lsl")]
fn publish(rec: &Recording, a: &ReplayArgs, n: Option<usize>) -> Result<usize, LiveError> {
    use crate::live::lsl::{publish_recording, PublishOptions};
    let opts = PublishOptions {
        unit: a.unit,
        speed: a.speed,
        max_samples: n,
        wait_consumer_s: a.wait_consumer,
    };
    publish_recording(rec, &a.lsl_out, &a.edf.display().to_string(), &opts)
}

#[cfg(not(feature = "lsl"))]
fn publish(_rec: &Recording, _a: &ReplayArgs, _n: Option<usize>) -> Result<usize, LiveError> {
    Err(LiveError::NoLsl)
}
