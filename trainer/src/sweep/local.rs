//! `trainer sweep --local N`: the pending runs of a manifest as N concurrent `trainer
//! sweep-task` processes on this machine, each with its share of the CPU threads; a run's
//! output goes to `<run>/fit.log`.
use super::manifest::Manifest;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// How one run ended.
#[derive(Debug)]
pub struct Outcome {
    /// index in the manifest
    pub index: usize,
    /// `Ok` or why it failed (exit status, or the process could not start)
    pub result: Result<(), String>,
    /// wall time in seconds
    pub seconds: f64,
}

/// Runs `pending` (indices into `manifest`) with `jobs` concurrent processes of `trainer`
/// (the binary), `threads` worker threads each. Returns every run's outcome, in completion
/// order; a failed run does not stop the others.
pub fn run(
    trainer: &Path,
    manifest_path: &Path,
    manifest: &Manifest,
    pending: &[usize],
    jobs: usize,
    threads: usize,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(pending.len()));
    let n = pending.len();
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&index) = pending.get(k) else { break };
                let run = &manifest.runs[index];
                let t0 = Instant::now();
                let result = run_one(trainer, manifest_path, index, threads, &run.out);
                let seconds = t0.elapsed().as_secs_f64();
                let mut d = done.lock().unwrap_or_else(|p| p.into_inner());
                let status = match &result {
                    Ok(()) => "done".to_string(),
                    Err(e) => format!("FAILED ({e}; see {})", run.out.join("fit.log").display()),
                };
                eprintln!(
                    "[{}/{}] {} {status} [{seconds:.0} s]",
                    d.len() + 1,
                    n,
                    run.name
                );
                d.push(Outcome {
                    index,
                    result,
                    seconds,
                });
            });
        }
    });
    done.into_inner().unwrap_or_else(|p| p.into_inner())
}

fn run_one(
    trainer: &Path,
    manifest_path: &Path,
    index: usize,
    threads: usize,
    out: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let log_path = out.join("fit.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let status = Command::new(trainer)
        .arg("sweep-task")
        .arg("--manifest")
        .arg(manifest_path)
        .arg("--index")
        .arg(index.to_string())
        .arg("--threads")
        .arg(threads.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", trainer.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(status.to_string())
    }
}
