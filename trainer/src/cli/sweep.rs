//! `trainer sweep`: plans a grid of fits into `<out>/sweep.json` and runs what is not complete,
//! locally (`--local N`) or as a SLURM job array (`--slurm`); `trainer sweep-task` runs one
//! run of a manifest (what each local process and each array task executes).
use super::fit::FitArgs;
use crate::sweep::grid::{parse_int_list, parse_set, Grid, OptValue};
use crate::sweep::local;
use crate::sweep::manifest::{Manifest, RunState, MANIFEST};
use crate::sweep::slurm::{self, SlurmOptions};
use clap::Parser;
use qssm_formats::model_file::write_atomic;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `trainer sweep`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("backend").required(true).args(["local", "slurm"])))]
pub struct SweepArgs {
    /// grid file (TOML: models, sfreq, seeds, init_seeds and a `[fit]` table of fit options; see
    /// the README); the options below override its keys
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// models, ids or class names: `1b,3b`
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// sampling rates in Hz: `40,80,160`
    #[arg(long)]
    pub sfreq: Option<String>,
    /// split seeds: `2024,2025,2026` or a range `2024-2026`
    #[arg(long)]
    pub seeds: Option<String>,
    /// init seeds (`trainer fit --init-seed`): `1-5`; default: each split seed
    #[arg(long)]
    pub init_seeds: Option<String>,
    /// any other fit option, `KEY=VALUE` (the same in every run) or `KEY=V1,V2` (one more axis
    /// of the grid); switches as `causal=true`; repeatable: `--set epochs=1 --set
    /// data=../eeg`
    #[arg(long = "set", value_name = "KEY=VALUES")]
    pub set: Vec<String>,
    /// sweep folder: `sweep.json`, `runs/<name>/` (one fit's output each), `logs/`, `sweep.sbatch`
    #[arg(long)]
    pub out: PathBuf,
    /// run the pending runs here, N at a time (the CPU threads are split between them)
    #[arg(long, value_name = "N")]
    pub local: Option<usize>,
    /// submit the pending runs as one SLURM job array (`sbatch --array`)
    #[arg(long)]
    pub slurm: bool,
    /// plan only: write sweep.json (and, with --slurm, sweep.sbatch), print the runs or the
    /// batch script, start and submit nothing
    #[arg(long)]
    pub dry_run: bool,
    /// --slurm: partition
    #[arg(long)]
    pub partition: Option<String>,
    /// --slurm: time limit per run (SLURM format, e.g. 02:00:00)
    #[arg(long)]
    pub time: Option<String>,
    /// --slurm: GPUs per run (`--gpus-per-task`; use with `--set device=cuda`)
    #[arg(long)]
    pub gpus: Option<u32>,
    /// --slurm: CPUs per run (also the run's worker threads)
    #[arg(long, default_value_t = 2)]
    pub cpus_per_task: u32,
    /// --slurm: memory per run (e.g. 8G)
    #[arg(long)]
    pub mem: Option<String>,
    /// --slurm: account to charge
    #[arg(long)]
    pub account: Option<String>,
    /// --slurm: at most this many runs at once (`--array=…%N`)
    #[arg(long)]
    pub max_parallel: Option<u32>,
    /// --slurm: job name
    #[arg(long, default_value = "qssm-sweep")]
    pub job_name: String,
    /// --slurm: wait until every task of the array has ended, then list the runs' states
    #[arg(long)]
    pub wait: bool,
}

/// Arguments of `trainer sweep-task` (run by the sweep's processes and array tasks).
#[derive(clap::Args, Debug)]
pub struct SweepTaskArgs {
    /// the sweep's sweep.json
    #[arg(long)]
    pub manifest: PathBuf,
    /// index of the run in the manifest (`$SLURM_ARRAY_TASK_ID`)
    #[arg(long)]
    pub index: usize,
    /// worker threads
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `trainer fit`'s parser, to check a run's arguments before anything starts.
#[derive(Parser, Debug)]
#[command(name = "trainer fit", no_binary_name = true)]
struct FitCommand {
    #[command(flatten)]
    fit: FitArgs,
}

/// Parses a run's fit arguments (the manifest's, plus the task's own).
pub fn parse_fit_args(args: &[String]) -> Result<FitArgs, String> {
    FitCommand::try_parse_from(args)
        .map(|c| c.fit)
        .map_err(|e| e.render().to_string().trim().to_string())
}

/// Fit options whose values are paths: made absolute, so that a run does not depend on the
/// folder it is started from.
const PATH_OPTIONS: [&str; 2] = ["data", "cache-dir"];

fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// Builds the grid: the file, then the command line over it.
fn grid(a: &SweepArgs) -> Result<Grid, String> {
    let mut g = match &a.grid {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read grid file {}: {e}", p.display()))?;
            Grid::from_toml(&text).map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => Grid::default(),
    };
    if let Some(m) = &a.models {
        g.models = m.clone();
    }
    if let Some(s) = &a.sfreq {
        g.sfreqs = parse_int_list("--sfreq", s)?;
    }
    if let Some(s) = &a.seeds {
        g.seeds = parse_int_list("--seeds", s)?;
    }
    if let Some(s) = &a.init_seeds {
        g.init_seeds = parse_int_list("--init-seeds", s)?;
    }
    for s in &a.set {
        let (k, v) = parse_set(s)?;
        g.options.insert(k, v);
    }
    // the defaults of `trainer fit`, made explicit (and absolute below)
    for (key, default) in [("data", "data/eegmmidb"), ("cache-dir", ".qssm-cache")] {
        g.options
            .entry(key.to_string())
            .or_insert_with(|| vec![OptValue::Value(default.into())]);
    }
    for key in PATH_OPTIONS {
        if let Some(values) = g.options.get_mut(key) {
            for v in values.iter_mut() {
                if let OptValue::Value(s) = v {
                    *s = absolute(Path::new(s))?.display().to_string();
                }
            }
        }
    }
    Ok(g)
}

/// Runs `trainer sweep`.
pub fn run(a: SweepArgs) -> Result<(), Box<dyn std::error::Error>> {
    if a.local == Some(0) {
        return Err("--local needs at least 1 concurrent run".into());
    }
    let g = grid(&a)?;
    let planned = g.expand()?;
    let dir = absolute(&a.out)?;
    let manifest = Manifest::new(&dir, planned);
    // every run's arguments must parse, and its data folder exist, before anything starts
    for r in &manifest.runs {
        let f = parse_fit_args(&r.args).map_err(|e| format!("run {}: {e}", r.name))?;
        let data = super::fit::data_dir(&f);
        let needs_data = !matches!(
            f.task,
            super::fit::Task::Adding | super::fit::Task::SelectiveCopy
        );
        if needs_data && !data.is_dir() {
            return Err(format!(
                "run {}: data directory {} does not exist (set it with --set data=DIR)",
                r.name,
                data.display()
            )
            .into());
        }
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create sweep folder {}: {e}", dir.display()))?;
    if let Some(old) = Manifest::read(&dir)? {
        manifest.check_compatible(&old)?;
    }
    manifest.write(&dir)?;
    let manifest_path = dir.join(MANIFEST);
    let pending = manifest.pending();
    let resumed = pending
        .iter()
        .filter(|&&i| manifest.runs[i].state() == RunState::Interrupted)
        .count();
    eprintln!(
        "sweep {}: {} runs, {} complete, {} to run ({} resume from a checkpoint)",
        dir.display(),
        manifest.runs.len(),
        manifest.runs.len() - pending.len(),
        pending.len(),
        resumed
    );
    if pending.is_empty() {
        eprintln!("nothing to run: every run has its results.json");
        return Ok(());
    }
    let trainer = std::env::current_exe()?;
    if let Some(jobs) = a.local {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / jobs).max(1);
        if a.dry_run {
            for &i in &pending {
                println!(
                    "{}\t{}",
                    manifest.runs[i].name,
                    manifest.runs[i].args.join(" ")
                );
            }
            return Ok(());
        }
        eprintln!(
            "running {} runs here, {jobs} at a time, {threads} threads each",
            pending.len()
        );
        let outcomes = local::run(&trainer, &manifest_path, &manifest, &pending, jobs, threads);
        let failed: Vec<&str> = outcomes
            .iter()
            .filter(|o| o.result.is_err())
            .map(|o| manifest.runs[o.index].name.as_str())
            .collect();
        if !failed.is_empty() {
            return Err(format!(
                "{} of {} runs failed: {} (their fit.log says why; submit the sweep again to rerun them)",
                failed.len(),
                outcomes.len(),
                failed.join(", ")
            )
            .into());
        }
        eprintln!(
            "all {} runs done; `trainer report {}` aggregates them",
            outcomes.len(),
            a.out.display()
        );
        return Ok(());
    }
    let opts = SlurmOptions {
        job_name: a.job_name.clone(),
        partition: a.partition.clone(),
        time: a.time.clone(),
        gpus: a.gpus,
        cpus_per_task: a.cpus_per_task,
        mem: a.mem.clone(),
        account: a.account.clone(),
        max_parallel: a.max_parallel,
    };
    let log_dir = dir.join("logs");
    let script = slurm::script(&opts, &trainer, &manifest_path, &log_dir, &pending)?;
    let script_path = dir.join("sweep.sbatch");
    write_atomic(&script_path, script.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", script_path.display()))?;
    if a.dry_run {
        print!("{script}");
        return Ok(());
    }
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let id = slurm::submit(&script_path)?;
    eprintln!(
        "submitted job array {id} ({} tasks); logs in {}",
        pending.len(),
        log_dir.display()
    );
    println!("{id}");
    if a.wait {
        slurm::wait(&id, Duration::from_millis(500))?;
        let still: Vec<&str> = pending
            .iter()
            .filter(|&&i| manifest.runs[i].state() != RunState::Complete)
            .map(|&i| manifest.runs[i].name.as_str())
            .collect();
        if !still.is_empty() {
            return Err(format!(
                "job {id} ended with {} of {} runs incomplete: {} (see {}/{id}_<task>.out; submit the sweep again to rerun them)",
                still.len(),
                pending.len(),
                still.join(", "),
                log_dir.display()
            )
            .into());
        }
        eprintln!("job {id}: all {} runs complete", pending.len());
    }
    Ok(())
}

/// Runs `trainer sweep-task`: one run of a manifest, unless it is already complete.
pub fn run_task(a: SweepTaskArgs) -> Result<(), Box<dyn std::error::Error>> {
    let m = Manifest::read_file(&a.manifest)?
        .ok_or_else(|| format!("no sweep manifest at {}", a.manifest.display()))?;
    let run = m.runs.get(a.index).ok_or_else(|| {
        format!(
            "index {} is outside the manifest's {} runs",
            a.index,
            m.runs.len()
        )
    })?;
    if run.state() == RunState::Complete {
        eprintln!("{}: already complete", run.name);
        return Ok(());
    }
    let mut args = run.args.clone();
    args.push("--no-progress".into());
    if let Some(t) = a.threads {
        args.push("--threads".into());
        args.push(t.to_string());
    }
    eprintln!("{}: trainer fit {}", run.name, args.join(" "));
    let f = parse_fit_args(&args).map_err(|e| format!("run {}: {e}", run.name))?;
    super::fit::run(f)
}
