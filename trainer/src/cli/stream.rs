//! `qssm stream`: runs EEG through the inference engine as it would arrive from an amplifier.
//!
//! * `--edf F`: replays an EDF+ recording ([`crate::replay`]) and prints a prediction every
//!   hop and one per trial (T1/T2 cue windows, 1.0 … 4.1 s after the cue, compared with the
//!   cue's label), then the trial accuracy and the latency percentiles of the engine calls.
//!   Causal models stream sample by sample; models the engine cannot stream are classified
//!   window by window (`classify_window`), which the output says. With `--continuous` the
//!   file is instead played as a live stream ([`crate::live`]: no trials, no resets).
//! * `--lsl-in QUERY` (feature `lsl`): a live LSL EEG stream, checked against the card before
//!   the first sample, resampled causally if its rate differs, pushed as it arrives;
//!   `--lsl-out NAME` publishes the predictions as an LSL stream. Ends when the stream stops
//!   sending (`--timeout`), ends, or after `--max-samples`, with the latency from each
//!   predicting sample's timestamp to its prediction (p50/p99).
use crate::live::{self, LiveError, LiveEvent, LiveOptions, LiveReport, StopReason};
use crate::replay::{replay, Mode, Recording, ReplayEvent, ReplayOptions};
use qssm_engine::{Model as EngineModel, Unit};
use std::path::PathBuf;

/// Parses `--unit`: `uV`/`µV`, `mV`, `V` (and the unit words; see [`Unit::parse`]).
pub(crate) fn parse_unit(s: &str) -> Result<Unit, String> {
    Unit::parse(s).ok_or_else(|| format!("unknown unit '{s}' (use uV, mV or V)"))
}

/// Parses `--duration`, `--timeout` and the other durations: a finite number of seconds
/// greater than 0.
pub(crate) fn parse_duration(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number of seconds")),
    }
}

/// Arguments of `qssm stream`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["edf", "lsl_in"])))]
pub struct StreamArgs {
    /// model file (f32 or f16; `trainer fit` / `trainer export` output)
    #[arg(long)]
    pub model: PathBuf,
    /// EDF/EDF+ recording holding every channel of the model card (T1/T2 annotations give the
    /// trials)
    #[arg(long)]
    pub edf: Option<PathBuf>,
    /// live input: the LSL EEG stream with this name (or an LSL predicate such as
    /// "name='amp' and type='EEG'"); its channel labels, units and rate are checked against
    /// the card (needs a build with feature `lsl`)
    #[arg(long, value_name = "NAME_OR_QUERY", conflicts_with_all = ["edf", "realtime", "duration"])]
    pub lsl_in: Option<String>,
    /// publish the predictions as an LSL stream of this name (type Classification, channels
    /// p0…pK−1 then logit0…logitK−1), with --lsl-in or --continuous
    #[arg(long, value_name = "NAME")]
    pub lsl_out: Option<String>,
    /// play the EDF as a live stream: no trials and no resets, a prediction every hop over
    /// everything so far (what --lsl-in gives for the same samples)
    #[arg(long, requires = "edf")]
    pub continuous: bool,
    /// pace the replay at the recording's sampling rate (wall clock) instead of as fast as
    /// possible
    #[arg(long)]
    pub realtime: bool,
    /// EDF: unit the samples are handed to the engine in (default: the card's unit); LSL:
    /// the unit of every stream channel, overriding the stream's description (uV, mV or V)
    #[arg(long, value_parser = parse_unit)]
    pub unit: Option<Unit>,
    /// samples between hop predictions, a positive multiple of the model's step (default:
    /// 0.25 s rounded up to the model's step)
    #[arg(long)]
    pub hop: Option<usize>,
    /// replay only the first SECONDS of the recording (a positive number)
    #[arg(long, value_name = "SECONDS", value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// print only trial predictions (live: only the summary), no per-hop lines
    #[arg(long)]
    pub trials_only: bool,
    /// live: end when no sample arrives for this long (the stream stopped), seconds
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_duration)]
    pub timeout: f64,
    /// live: how long to look for the --lsl-in stream, seconds
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_duration)]
    pub resolve_timeout: f64,
    /// live: end after this many input samples
    #[arg(long, value_name = "N")]
    pub max_samples: Option<u64>,
    /// with --lsl-out: wait at most this long for a consumer of the predictions before taking
    /// the first sample, seconds (default: start at once)
    #[arg(long, value_name = "SECONDS", requires = "lsl_out", value_parser = parse_duration)]
    pub wait_consumer: Option<f64>,
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
    if let Some(query) = &a.lsl_in {
        return run_lsl(&a, &model, query);
    }
    let Some(edf) = &a.edf else {
        return Err("give --edf FILE or --lsl-in NAME".into());
    };
    if a.lsl_out.is_some() && !a.continuous {
        return Err(
            "--lsl-out publishes live predictions: use it with --lsl-in or --continuous".into(),
        );
    }
    let rec = Recording::load(edf, model.channels(), model.sfreq())?;
    for w in &rec.warnings {
        eprintln!("warning: {}: {w}", edf.display());
    }
    let resampled = if rec.source_sfreq == rec.sfreq {
        String::from("no resampling")
    } else {
        format!("resampled to {} Hz", rec.sfreq)
    };
    println!(
        "recording: {}: {} channels matched, {} Hz, {resampled}: {} samples ({:.1} s), {} T1/T2 cues",
        edf.display(),
        rec.n_channels(),
        rec.source_sfreq,
        rec.n_times,
        rec.duration_s(),
        rec.cues.len()
    );
    if a.continuous {
        return run_continuous(&a, &model, &rec);
    }
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

/// The options of a live session from the arguments.
fn live_options(a: &StreamArgs) -> LiveOptions {
    LiveOptions {
        hop: a.hop,
        unit: a.unit,
        timeout_s: a.timeout,
        max_samples: a.max_samples,
    }
}

/// Prints one live event (predictions unless `--trials-only`; refused samples always).
fn print_live(sfreq: f64, quiet: bool) -> impl FnMut(LiveEvent<'_>) {
    let mut refused = 0u64;
    move |ev| match ev {
        LiveEvent::Prediction(p) => {
            if !quiet {
                println!(
                    "hop    t = {:>9.3} s  n = {:>6}  class {}  p = {}",
                    p.samples_seen as f64 / sfreq,
                    p.samples_seen,
                    p.class,
                    probs(p.probabilities)
                );
            }
        }
        LiveEvent::Refused { sample, channel } => {
            refused += 1;
            if refused <= 10 {
                eprintln!(
                    "warning: input sample {sample}: non-finite value in channel {channel}: refused (nothing pushed)"
                );
            }
        }
    }
}

/// Prints the end of a live session.
fn print_live_report(r: &LiveReport, sfreq: f64) {
    let mode = if r.streamed {
        "streamed sample by sample"
    } else {
        "classify_window on the last T samples"
    };
    let stop = match r.stop {
        StopReason::Timeout(s) => format!("the stream stopped: no sample for {s} s"),
        StopReason::Ended => "the stream ended".to_string(),
        StopReason::MaxSamples => "--max-samples reached".to_string(),
    };
    println!("stopped: {stop}");
    println!(
        "live: {} input samples ({} refused), {} at the model's {sfreq} Hz, {} predictions (hop {} samples = {:.3} s, {mode}) in {:.2} s",
        r.samples_in,
        r.refused,
        r.samples_model,
        r.predictions,
        r.hop,
        r.hop as f64 / sfreq,
        r.wall_s
    );
    if let Some((l, m)) = r.resampled {
        println!(
            "resampled causally ×{l}/{m} (polyphase FIR, delay {:.1} ms)",
            1e3 * r.resampler_delay_s
        );
    }
    let ms = |p: f64| r.latency.percentile_us(p).map_or(f64::NAN, |us| us / 1e3);
    println!(
        "latency (sample timestamp → prediction): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} predictions",
        ms(50.0),
        ms(99.0),
        r.latency.max_us().map_or(f64::NAN, |us| us / 1e3),
        r.latency.count()
    );
    let us = |p: f64| r.engine.percentile_us(p).unwrap_or(f64::NAN);
    println!(
        "engine calls: p50 {:.2} µs, p99 {:.2} µs over {} calls",
        us(50.0),
        us(99.0),
        r.engine.count()
    );
}

/// `--edf F --continuous`: the file through the live session.
fn run_continuous(
    a: &StreamArgs,
    model: &EngineModel,
    rec: &Recording,
) -> Result<(), Box<dyn std::error::Error>> {
    let unit = model
        .unit()
        .ok_or_else(|| LiveError::UnknownCardUnit(model.input_unit().to_string()))?;
    let unit = a.unit.unwrap_or(unit);
    let n = a.duration.map(|s| (s * rec.sfreq).floor() as usize);
    let mut src = live::RecordingSource::new(rec, unit, n, a.realtime.then_some(1.0));
    let name = a
        .edf
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let layout = src.layout(&name);
    // the file's unit is known: --unit sets the values' unit, not an override
    let opts = LiveOptions {
        unit: None,
        ..live_options(a)
    };
    println!("mode: the recording as a live stream (no trials, no resets)");
    run_session(a, model, &layout, &mut src, &opts)
}

/// Runs the live session over `src` with the printing and the optional prediction outlet.
fn run_session(
    a: &StreamArgs,
    model: &EngineModel,
    layout: &live::StreamLayout,
    src: &mut dyn live::SampleSource,
    opts: &LiveOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut print = print_live(model.sfreq(), a.trials_only);
    let report = match &a.lsl_out {
        None => live::run(model, layout, src, &mut live::NoSink, opts, &mut print)?,
        Some(out) => {
            let hop = live::session_hop(model, a.hop)?;
            let mut sink =
                transport::prediction_outlet(out, model, hop, &a.model, a.wait_consumer)?;
            live::run(model, layout, src, sink.as_mut(), opts, &mut print)?
        }
    };
    print_live_report(&report, model.sfreq());
    Ok(())
}

/// `--lsl-in QUERY`.
fn run_lsl(
    a: &StreamArgs,
    model: &EngineModel,
    query: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let (mut src, layout) = transport::open_inlet(query, a.resolve_timeout)?;
    println!(
        "stream: '{}', {} channels at {} Hz{}",
        layout.name,
        layout.channel_count,
        layout.sfreq,
        if layout.sfreq == model.sfreq() {
            String::new()
        } else {
            format!(", resampled causally to {} Hz", model.sfreq())
        }
    );
    let opts = live_options(a);
    // everything about the stream is checked before the outlet opens and a sample is pulled
    let map = live::InputMap::new(model, &layout, opts.unit)?;
    println!(
        "channels: the model's {} channels matched by label; units {}",
        map.picks.len(),
        distinct_units(&map.units)
    );
    run_session(a, model, &layout, src.as_mut(), &opts)
}

/// The units of the picked channels, e.g. `µV`, or `µV, mV` when they differ.
fn distinct_units(units: &[Unit]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for u in units {
        if !seen.contains(&u.symbol()) {
            seen.push(u.symbol());
        }
    }
    seen.join(", ")
}

/// The LSL transport, or [`LiveError::NoLsl`] in a build without feature `lsl`.
mod transport {
    use crate::live::{LiveError, PredictionSink, SampleSource, StreamLayout};
    use qssm_engine::Model;
    use std::path::Path;

    /// An inlet on the stream `query` and its description.
    #[cfg(feature = "lsl")]
    pub fn open_inlet(
        query: &str,
        timeout_s: f64,
    ) -> Result<(Box<dyn SampleSource>, StreamLayout), LiveError> {
        let (inlet, layout) = crate::live::lsl::LslInlet::open(query, timeout_s)?;
        Ok((Box::new(inlet), layout))
    }

    /// An inlet on the stream `query` and its description.
    #[cfg(not(feature = "lsl"))]
    pub fn open_inlet(
        _query: &str,
        _timeout_s: f64,
    ) -> Result<(Box<dyn SampleSource>, StreamLayout), LiveError> {
        Err(LiveError::NoLsl)
    }

    /// The prediction outlet `name` for predictions every `hop` samples; with `wait_s`, once
    /// a consumer has connected (or an error after `wait_s` seconds).
    #[cfg(feature = "lsl")]
    pub fn prediction_outlet(
        name: &str,
        model: &Model,
        hop: usize,
        file: &Path,
        wait_s: Option<f64>,
    ) -> Result<Box<dyn PredictionSink>, LiveError> {
        let outlet = crate::live::lsl::LslPredictionOutlet::new(
            name,
            model,
            hop,
            &file.display().to_string(),
        )?;
        if let Some(s) = wait_s {
            outlet.wait_for_consumer(s)?;
        }
        Ok(Box::new(outlet))
    }

    /// The prediction outlet `name`.
    #[cfg(not(feature = "lsl"))]
    pub fn prediction_outlet(
        _name: &str,
        _model: &Model,
        _hop: usize,
        _file: &Path,
        _wait_s: Option<f64>,
    ) -> Result<Box<dyn PredictionSink>, LiveError> {
        Err(LiveError::NoLsl)
    }
}
