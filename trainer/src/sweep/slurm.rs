//! `trainer sweep --slurm`: the pending runs of a manifest as one `sbatch --array` job, one
//! array task per run (`trainer sweep-task --index $SLURM_ARRAY_TASK_ID`), logs in
//! `<sweep>/logs/%A_%a.out`.
//!
//! SLURM's documented behaviour this relies on: `--array` takes a list of indices and ranges
//! with an optional `%N` limit on concurrent tasks; `sbatch --parsable` prints `JOBID[;CLUSTER]`;
//! an array job is listed by `squeue -j JOBID` until its last task ends.
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Resources and placement of the array job (`#SBATCH` lines).
#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    /// `--job-name`
    pub job_name: String,
    /// `--partition`
    pub partition: Option<String>,
    /// `--time` (e.g. `02:00:00`)
    pub time: Option<String>,
    /// `--gpus-per-task`
    pub gpus: Option<u32>,
    /// `--cpus-per-task` (also the run's `--threads`)
    pub cpus_per_task: u32,
    /// `--mem` (e.g. `8G`)
    pub mem: Option<String>,
    /// `--account`
    pub account: Option<String>,
    /// at most this many tasks at once (`--array=…%N`)
    pub max_parallel: Option<u32>,
}

/// `--array` value for `indices` (ascending): runs of consecutive indices as ranges, e.g.
/// `0-3,5,7-9`, plus `%N` when `max_parallel` is set.
pub fn array_spec(indices: &[usize], max_parallel: Option<u32>) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            indices[i].to_string()
        } else {
            format!("{}-{}", indices[i], indices[j])
        });
        i = j + 1;
    }
    let mut s = parts.join(",");
    if let Some(n) = max_parallel {
        s.push_str(&format!("%{n}"));
    }
    s
}

/// Quotes `s` for a POSIX shell (single quotes).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Refuses values that would break an `#SBATCH` line.
fn check_field(name: &str, v: &str) -> Result<(), String> {
    if v.is_empty()
        || v.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '#')
    {
        return Err(format!(
            "--{name} '{v}': empty, or holds a space, control character or '#'"
        ));
    }
    Ok(())
}

/// The batch script of the array job. `trainer` and `manifest` must be absolute paths; every
/// task runs `trainer sweep-task` for its index with `--threads` = its CPUs.
pub fn script(
    o: &SlurmOptions,
    trainer: &Path,
    manifest: &Path,
    log_dir: &Path,
    indices: &[usize],
) -> Result<String, String> {
    if indices.is_empty() {
        return Err("no runs to submit".into());
    }
    check_field("job-name", &o.job_name)?;
    if o.cpus_per_task == 0 {
        return Err("--cpus-per-task must be at least 1".into());
    }
    let log_dir_s = log_dir.display().to_string();
    check_field("log folder", &log_dir_s)?;
    let mut s = String::from("#!/bin/bash\n");
    s.push_str("# qssm sweep: one array task per run of the manifest (written by `trainer sweep --slurm`)\n");
    s.push_str(&format!("#SBATCH --job-name={}\n", o.job_name));
    s.push_str(&format!(
        "#SBATCH --array={}\n",
        array_spec(indices, o.max_parallel)
    ));
    s.push_str(&format!("#SBATCH --output={log_dir_s}/%A_%a.out\n"));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", o.cpus_per_task));
    for (name, v) in [
        ("partition", &o.partition),
        ("time", &o.time),
        ("mem", &o.mem),
        ("account", &o.account),
    ] {
        if let Some(v) = v {
            check_field(name, v)?;
            s.push_str(&format!("#SBATCH --{name}={v}\n"));
        }
    }
    if let Some(g) = o.gpus {
        s.push_str(&format!("#SBATCH --gpus-per-task={g}\n"));
    }
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!(
        "exec {} sweep-task --manifest {} --index \"$SLURM_ARRAY_TASK_ID\" --threads \"${{SLURM_CPUS_PER_TASK:-{}}}\"\n",
        sh_quote(&trainer.display().to_string()),
        sh_quote(&manifest.display().to_string()),
        o.cpus_per_task
    ));
    Ok(s)
}

/// Submits `script_path` with `sbatch --parsable`; returns the job id.
pub fn submit(script_path: &Path) -> Result<String, String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(script_path)
        .output()
        .map_err(|e| format!("cannot run sbatch (is SLURM installed and on PATH?): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "sbatch refused the job ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("unexpected sbatch output '{}'", text.trim()));
    }
    Ok(id)
}

/// Waits until `squeue` no longer lists job `id` (every task ended), polling every `poll`.
pub fn wait(id: &str, poll: Duration) -> Result<(), String> {
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-j", id, "-o", "%i %T"])
            .output()
            .map_err(|e| format!("cannot run squeue: {e}"))?;
        // squeue fails with "Invalid job id" once the job has left the controller's memory
        if !out.status.success() || String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return Ok(());
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_compress_ranges() {
        assert_eq!(array_spec(&[0, 1, 2, 3, 5, 7, 8, 9], None), "0-3,5,7-9");
        assert_eq!(array_spec(&[4], Some(2)), "4%2");
    }

    #[test]
    fn scripts_carry_the_options_and_refuse_broken_fields() {
        let o = SlurmOptions {
            job_name: "qssm-sweep".into(),
            partition: Some("gpu".into()),
            time: Some("01:00:00".into()),
            gpus: Some(1),
            cpus_per_task: 4,
            account: Some("bci".into()),
            ..SlurmOptions::default()
        };
        let s = script(
            &o,
            Path::new("/opt/it's/trainer"),
            Path::new("/s/sweep.json"),
            Path::new("/s/logs"),
            &[0, 1, 3],
        )
        .unwrap();
        assert!(s.starts_with("#!/bin/bash\n"));
        for line in [
            "#SBATCH --array=0-1,3\n",
            "#SBATCH --output=/s/logs/%A_%a.out\n",
            "#SBATCH --cpus-per-task=4\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --time=01:00:00\n",
            "#SBATCH --gpus-per-task=1\n",
            "#SBATCH --account=bci\n",
        ] {
            assert!(s.contains(line), "{line} missing from\n{s}");
        }
        assert!(s.contains(r"exec '/opt/it'\''s/trainer' sweep-task --manifest '/s/sweep.json'"));
        let bad = SlurmOptions {
            partition: Some("gpu debug".into()),
            ..o
        };
        assert!(script(
            &bad,
            Path::new("/t"),
            Path::new("/m"),
            Path::new("/l"),
            &[0]
        )
        .unwrap_err()
        .contains("--partition"));
        assert!(script(
            &SlurmOptions {
                job_name: "j".into(),
                cpus_per_task: 1,
                ..SlurmOptions::default()
            },
            Path::new("/t"),
            Path::new("/m"),
            Path::new("/l"),
            &[]
        )
        .is_err());
    }
}
