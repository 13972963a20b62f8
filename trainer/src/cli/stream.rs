//! `qssm stream`: replays an EDF+ recording through the inference engine as a live amplifier
//! stream ([`crate::replay`]) and prints a prediction every hop and one per trial (T1/T2 cue
//! windows, 1.0 … 4.1 s after the cue, compared with the cue's label), then the trial
//! accuracy and the latency percentiles of the engine calls. Causal models stream sample by
//! sample; models the engine cannot stream are classified window by window (`classify_window`),
//! which the output says.
use crate::replay::{replay, Mode, Recording, ReplayEvent, ReplayOptions};
use qssm_engine::{Model as EngineModel, Unit};
use std::path::PathBuf;

/// Parses `--unit`: `uV`/`µV`, `mV`, `V` (and the unit words; see [`Unit::parse`]).
fn parse_unit(s: &str) -> Result<Unit, String> {
    Unit::parse(s).ok_or_else(|| format!("unknown unit '{s}' (use uV, mV or V)"))
}

/// Parses `--duration`: a finite number of seconds greater than 0.
fn parse_duration(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number of seconds")),
    }
}

/// Arguments of `qssm stream`.
#[derive(clap::Args, Debug)]
pub struct StreamArgs {
    /// model file (f32 or f16; `trainer fit` / `trainer export` output)
    #[arg(long)]
    pub model: PathBuf,
    /// EDF/EDF+ recording holding every channel of the model card (T1/T2 annotations give the
    /// trials)
    #[arg(long)]
    pub edf: PathBuf,
    /// pace the replay at the recording's sampling rate (wall clock) instead of as fast as
    /// possible
    #[arg(long)]
    pub realtime: bool,
    /// unit the samples are handed to the engine in (uV, mV or V; the engine converts to the
    /// card's unit; default: the card's unit)
    #[arg(long, value_parser = parse_unit)]
    pub unit: Option<Unit>,
    /// samples between hop predictions, a positive multiple of the model's step (default:
    /// 0.25 s rounded up to the model's step)
    #[arg(long)]
    pub hop: Option<usize>,
    /// replay only the first SECONDS of the recording (a positive number)
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// print only trial predictions and the summary, no per-hop lines
    #[arg(long)]
    pub trials_only: bool,
}

/// `[p0 p1 …]` with 4 decimals.
fn probs(p: &[f32]) -> String {
    let v: Vec<String> = p.iter().map(|x| format!("{x:.4}")).collect();
    format!("[{}]", v.join(" "))
}

/// Runs `qssm stream`.
pub fn run(a: StreamArgs) -> Result<(), Box<dyn std::error::Error>> {
    let model =
        EngineModel::from_path(&a.model).map_err(|e| format!("{}: {e}", a.model.display()))?;
    let card = model.card();
    println!(
        "model: {} {} ({}, {}) from {}: {} channels × {} samples at {} Hz in {}",
        card.model_id,
        card.class_name,
        card.dtype,
        if card.causal { "causal" } else { "not causal" },
        a.model.display(),
        model.n_channels(),
        model.n_times(),
        model.sfreq(),
        model.input_unit()
    );
    let rec = Recording::load(&a.edf, model.channels(), model.sfreq())?;
    for w in &rec.warnings {
        eprintln!("warning: {}: {w}", a.edf.display());
    }
    let resampled = if rec.source_sfreq == rec.sfreq {
        String::from("no resampling")
    } else {
        format!("resampled to {} Hz", rec.sfreq)
    };
    println!(
        "recording: {}: {} channels matched, {} Hz, {resampled}: {} samples ({:.1} s), {} T1/T2 cues",
        a.edf.display(),
        rec.n_channels(),
        rec.source_sfreq,
        rec.n_times,
        rec.duration_s(),
        rec.cues.len()
    );
    let opts = ReplayOptions {
        unit: a.unit,
        hop: a.hop,
        realtime: a.realtime,
        duration_s: a.duration,
    };
    let sf = rec.sfreq;
    let trials_only = a.trials_only;
    let mut print = |ev: ReplayEvent<'_>| match ev {
        ReplayEvent::Hop(h) => {
            if !trials_only {
                let trial = h
                    .trial
                    .map(|i| format!("  (trial {i})"))
                    .unwrap_or_default();
                println!(
                    "hop    t = {:>9.3} s  n = {:>5}  class {}  p = {}{trial}",
                    (h.sample + 1) as f64 / sf,
                    h.samples_seen,
                    h.class,
                    probs(&h.probabilities)
                );
            }
        }
        ReplayEvent::Trial(t) => {
            println!(
                "trial {:>3}  {} (label {}) at {:>8.3} s, window {:.3} … {:.3} s: class {}  p = {}  {}",
                t.cue_index,
                t.cue.text,
                t.cue.label,
                t.cue.onset_s,
                t.start as f64 / sf,
                (t.start + t.len - 1) as f64 / sf,
                t.class,
                probs(&t.probabilities),
                if t.correct() { "correct" } else { "wrong" }
            );
        }
        ReplayEvent::Skipped {
            cue_index,
            cue,
            reason,
        } => println!(
            "trial {cue_index:>3}  {} at {:.3} s: skipped ({reason})",
            cue.text, cue.onset_s
        ),
    };
    // announce the mode before the events: streamable iff the engine gives a stream state
    match model.stream_state_len() {
        Ok(_) => println!(
            "mode: streaming sample by sample through the engine's Stream{}",
            if a.realtime {
                ", paced in real time"
            } else {
                ""
            }
        ),
        Err(e) => println!(
            "mode: {e}: classifying each trial window with classify_window instead{}",
            if a.realtime {
                ", paced in real time"
            } else {
                ""
            }
        ),
    }
    let report = replay(&model, &rec, &opts, &mut print)?;
    let n_trials = report.trials.len();
    let correct = report.trials.iter().filter(|t| t.correct()).count();
    let acc = report
        .accuracy()
        .map(|x| format!("{:.2} %", 100.0 * x))
        .unwrap_or_else(|| "n/a".into());
    println!(
        "trials: {n_trials} classified, {correct} correct: accuracy {acc} ({} skipped)",
        report.skipped
    );
    let pct = |p: f64| report.latency.percentile_us(p).unwrap_or(f64::NAN);
    match &report.mode {
        Mode::Streamed { hop } => {
            println!(
                "streamed {} samples in {} ({} hop predictions, hop {hop} samples = {:.3} s) in {:.2} s",
                report.samples,
                report.unit,
                report.hops,
                *hop as f64 / sf,
                report.wall_s
            );
            println!(
                "push latency: p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs over {} pushes",
                pct(50.0),
                pct(99.0),
                report.latency.max_us().unwrap_or(f64::NAN),
                report.latency.count()
            );
        }
        Mode::Windowed { .. } => {
            println!(
                "classified {n_trials} windows ({} samples replayed, values in {}) in {:.2} s",
                report.samples, report.unit, report.wall_s
            );
            println!(
                "classify_window latency: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs over {} windows",
                pct(50.0),
                pct(99.0),
                report.latency.max_us().unwrap_or(f64::NAN),
                report.latency.count()
            );
        }
    }
    Ok(())
}
