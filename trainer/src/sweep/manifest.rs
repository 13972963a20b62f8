//! The manifest of a sweep (`<sweep>/sweep.json`): every run's name, output folder and
//! `trainer fit` arguments, and the state of a run read from its folder.
use super::grid::PlannedRun;
use qssm_formats::model_file::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the manifest inside a sweep folder.
pub const MANIFEST: &str = "sweep.json";

/// One run of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// stable name (also the name of its folder under `<sweep>/runs/`)
    pub name: String,
    /// its output folder (absolute): model.safetensors, results.json, checkpoint, fit.log
    pub out: PathBuf,
    /// `trainer fit` arguments, `--out` and `--resume` included
    pub args: Vec<String>,
}

/// A sweep: its runs in grid order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// format version of this file
    pub version: u32,
    /// the runs
    pub runs: Vec<Run>,
}

/// Where a run stands, read from its output folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// `results.json` holds test metrics: the run is skipped on resubmission
    Complete,
    /// interrupted after at least one epoch: a rerun resumes from its checkpoint
    Interrupted,
    /// not started (or killed before its first checkpoint): a rerun starts from scratch
    New,
}

impl Run {
    /// The run's state (see [`RunState`]). A `results.json` that does not parse or lacks
    /// `metrics.test` (a write cut short on a file system without atomic rename) is not
    /// complete.
    pub fn state(&self) -> RunState {
        if results_complete(&self.out.join("results.json")) {
            RunState::Complete
        } else if self.out.join("checkpoint.safetensors").is_file() {
            RunState::Interrupted
        } else {
            RunState::New
        }
    }
}

fn results_complete(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .map(|v| v["metrics"]["test"].is_object())
        .unwrap_or(false)
}

impl Manifest {
    /// The manifest of `planned` runs whose folders are `<sweep_dir>/runs/<name>`
    /// (`sweep_dir` absolute).
    pub fn new(sweep_dir: &Path, planned: Vec<PlannedRun>) -> Manifest {
        let runs = planned
            .into_iter()
            .map(|p| {
                let out = sweep_dir.join("runs").join(&p.name);
                let mut args = p.args;
                args.push("--out".into());
                args.push(out.display().to_string());
                args.push("--resume".into());
                Run {
                    name: p.name,
                    out,
                    args,
                }
            })
            .collect();
        Manifest { version: 1, runs }
    }

    /// Reads `<sweep_dir>/sweep.json`, `None` if there is none.
    pub fn read(sweep_dir: &Path) -> Result<Option<Manifest>, String> {
        Self::read_file(&sweep_dir.join(MANIFEST))
    }

    /// Reads a manifest file, `None` if there is none.
    pub fn read_file(path: &Path) -> Result<Option<Manifest>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: not a sweep manifest: {e}", path.display()))
    }

    /// Refuses a plan that gives an existing run of `old` other arguments: its results would
    /// be taken for this plan's (use another sweep folder). New runs may be added.
    pub fn check_compatible(&self, old: &Manifest) -> Result<(), String> {
        for r in &self.runs {
            if let Some(o) = old.runs.iter().find(|o| o.name == r.name) {
                if o.args != r.args {
                    return Err(format!(
                        "run {} already exists in this sweep folder with other options ({}); use a new --out",
                        r.name,
                        o.args.join(" ")
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes `<sweep_dir>/sweep.json` atomically, creating the folder.
    pub fn write(&self, sweep_dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(sweep_dir)
            .map_err(|e| format!("cannot create sweep folder {}: {e}", sweep_dir.display()))?;
        let path = sweep_dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        write_atomic(&path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Indices of the runs that are not complete.
    pub fn pending(&self) -> Vec<usize> {
        (0..self.runs.len())
            .filter(|&i| self.runs[i].state() != RunState::Complete)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(name: &str, extra: &str) -> PlannedRun {
        PlannedRun {
            name: name.into(),
            args: vec![
                "--model".into(),
                "1b".into(),
                "--epochs".into(),
                extra.into(),
            ],
        }
    }

    #[test]
    fn states_follow_the_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::new(dir.path(), vec![planned("a", "1"), planned("b", "1")]);
        assert_eq!(m.pending(), [0, 1]);
        let a = &m.runs[0];
        assert!(a.args.ends_with(&[
            "--out".to_string(),
            a.out.display().to_string(),
            "--resume".into()
        ]));
        std::fs::create_dir_all(&a.out).unwrap();
        std::fs::write(a.out.join("checkpoint.safetensors"), b"x").unwrap();
        assert_eq!(a.state(), RunState::Interrupted);
        std::fs::write(a.out.join("results.json"), b"{\"metrics\": {\"te").unwrap();
        assert_eq!(a.state(), RunState::Interrupted, "a cut results.json");
        std::fs::write(
            a.out.join("results.json"),
            b"{\"metrics\": {\"test\": {\"acc\": 0.5}}}",
        )
        .unwrap();
        assert_eq!(a.state(), RunState::Complete);
        assert_eq!(m.pending(), [1]);
    }

    #[test]
    fn manifests_round_trip_and_refuse_changed_runs() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::new(dir.path(), vec![planned("a", "1")]);
        m.write(dir.path()).unwrap();
        let back = Manifest::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, m);
        let grown = Manifest::new(dir.path(), vec![planned("a", "1"), planned("b", "2")]);
        grown.check_compatible(&back).unwrap();
        let changed = Manifest::new(dir.path(), vec![planned("a", "2")]);
        let e = changed.check_compatible(&back).unwrap_err();
        assert!(e.contains("run a already exists"), "{e}");
        std::fs::write(dir.path().join(MANIFEST), b"[1,").unwrap();
        assert!(Manifest::read(dir.path())
            .unwrap_err()
            .contains("not a sweep manifest"));
    }
}
