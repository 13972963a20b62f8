//! The runs of a sweep as the report reads them: one [`RunResult`] per complete
//! `results.json` (an EEG classification fit), found through the sweep's manifest or, without
//! one, by a search of the folder.
use crate::sweep::manifest::Manifest;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One epoch of a run's learning curve.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochPoint {
    /// 1-based epoch (pass over the training set)
    pub epoch: usize,
    /// mean training cross-entropy
    pub train_loss: f64,
    /// validation cross-entropy
    pub val_loss: f64,
    /// validation accuracy, fraction
    pub val_acc: f64,
}

/// One complete run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// run name (its folder's name)
    pub name: String,
    /// model id
    pub model: String,
    /// sampling rate, Hz
    pub sfreq: u32,
    /// split seed
    pub seed: u64,
    /// init seed
    pub init_seed: u64,
    /// test accuracy, fraction
    pub acc: f64,
    /// test ROC AUC, fraction
    pub auc: f64,
    /// test weighted F1, fraction
    pub f1: f64,
    /// test confusion matrix (rows true class, columns predicted)
    pub confusion: Vec<Vec<u64>>,
    /// epochs trained
    pub epochs: usize,
    /// 1-based epoch of the selected (best validation) parameters
    pub best_epoch: usize,
    /// training wall time, s
    pub training_time_s: f64,
    /// learning curve
    pub history: Vec<EpochPoint>,
}

fn f(v: &Value, what: &str) -> Result<f64, String> {
    v.as_f64()
        .or_else(|| v.is_null().then_some(f64::NAN))
        .ok_or_else(|| format!("{what} is not a number"))
}

impl RunResult {
    /// Reads one `results.json` of an EEG classification fit.
    pub fn parse(name: &str, text: &str) -> Result<RunResult, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let test = &v["metrics"]["test"];
        if !test.is_object() {
            return Err("no test metrics (run incomplete)".into());
        }
        if test.get("acc").is_none() {
            return Err("not a classification run (no test accuracy)".into());
        }
        let int = |x: &Value, what: &str| x.as_u64().ok_or_else(|| format!("{what} missing"));
        let confusion = test["confusion"]
            .as_array()
            .ok_or("test confusion matrix missing")?
            .iter()
            .map(|row| {
                row.as_array()
                    .ok_or("confusion row is not an array")?
                    .iter()
                    .map(|c| c.as_u64().ok_or("confusion count is not an integer"))
                    .collect::<Result<Vec<u64>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let history = v["history"]
            .as_array()
            .ok_or("history missing")?
            .iter()
            .map(|e| {
                Ok(EpochPoint {
                    epoch: int(&e["epoch"], "history epoch")? as usize + 1,
                    train_loss: f(&e["train_loss"], "train_loss")?,
                    val_loss: f(&e["val_loss"], "val_loss")?,
                    val_acc: f(&e["val"]["acc"], "validation accuracy")?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(RunResult {
            name: name.to_string(),
            model: v["model_id"]
                .as_str()
                .ok_or("model_id missing")?
                .to_string(),
            sfreq: int(&v["data_info"]["sampling_freq"], "data_info.sampling_freq")? as u32,
            seed: int(&v["seed"], "seed")?,
            init_seed: int(&v["init_seed"], "init_seed")?,
            acc: f(&test["acc"], "test accuracy")?,
            auc: f(&test["auc"], "test AUC")?,
            f1: f(&test["f1"], "test F1")?,
            confusion,
            epochs: history.len(),
            best_epoch: int(&v["metrics"]["best_epoch"], "metrics.best_epoch")? as usize + 1,
            training_time_s: f(&v["training_time"], "training_time")?,
            history,
        })
    }
}

/// What was found in a sweep folder.
#[derive(Debug, Default)]
pub struct Collected {
    /// complete runs, in the manifest's order (or by name)
    pub runs: Vec<RunResult>,
    /// runs of the manifest without results (name)
    pub missing: Vec<String>,
    /// results that could not be read (path, why)
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Collects the runs of the sweep folder `dir`: those of its `sweep.json` in the manifest's
/// order, or, when it has no manifest (a folder holding several sweeps), every `results.json`
/// up to 4 levels below it, ordered by model, rate, split seed and init seed.
pub fn collect(dir: &Path) -> Result<Collected, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    let mut c = Collected::default();
    let read = |name: String, path: PathBuf, c: &mut Collected| match std::fs::read_to_string(&path)
    {
        Ok(text) => match RunResult::parse(&name, &text) {
            Ok(r) => c.runs.push(r),
            Err(e) if e.contains("run incomplete") => c.missing.push(name),
            Err(e) => c.unreadable.push((path, e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => c.missing.push(name),
        Err(e) => c.unreadable.push((path, e.to_string())),
    };
    if let Some(m) = Manifest::read(dir)? {
        for r in &m.runs {
            read(r.name.clone(), r.out.join("results.json"), &mut c);
        }
    } else {
        let mut found = Vec::new();
        find_results(dir, 0, &mut found);
        found.sort();
        for p in found {
            let name = p
                .parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            read(name, p, &mut c);
        }
        // runs gathered from several sweeps: in grid order (model, rate, split, init seed)
        c.runs.sort_by(|a, b| {
            (&a.model, a.sfreq, a.seed, a.init_seed, &a.name).cmp(&(
                &b.model,
                b.sfreq,
                b.seed,
                b.init_seed,
                &b.name,
            ))
        });
    }
    Ok(c)
}

fn find_results(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 4 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            find_results(&p, depth + 1, out);
        } else if p.file_name().is_some_and(|n| n == "results.json") {
            out.push(p);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A results.json as `trainer fit` writes it (the fields the report reads).
    pub(crate) fn results_json(model: &str, seed: u64, init: u64, acc: f64) -> String {
        serde_json::json!({
            "model_id": model, "seed": seed, "init_seed": init, "training_time": 12.5,
            "data_info": {"sampling_freq": 80},
            "metrics": {"best_epoch": 1, "test": {"acc": acc, "auc": 0.8, "f1": acc, "loss": 0.6, "confusion": [[40, 10], [12, 38]]}},
            "history": [
                {"epoch": 0, "train_loss": 0.7, "val_loss": 0.69, "val": {"acc": 0.5, "auc": 0.5, "f1": 0.4, "loss": 0.69, "confusion": [[1, 0], [0, 1]]}},
                {"epoch": 1, "train_loss": 0.6, "val_loss": null, "val": {"acc": 0.6, "auc": 0.6, "f1": 0.6, "loss": 0.6, "confusion": [[1, 0], [0, 1]]}}
            ]
        })
        .to_string()
    }

    #[test]
    fn parses_a_results_file() {
        let r = RunResult::parse("x", &results_json("3b", 2024, 3, 0.7)).unwrap();
        assert_eq!(
            (r.model.as_str(), r.sfreq, r.seed, r.init_seed),
            ("3b", 80, 2024, 3)
        );
        assert_eq!((r.epochs, r.best_epoch), (2, 2));
        assert!(r.history[1].val_loss.is_nan(), "null reads as NaN");
        assert_eq!(r.confusion, [[40, 10], [12, 38]]);
        let e = RunResult::parse("x", "{\"metrics\": {}}").unwrap_err();
        assert!(e.contains("incomplete"), "{e}");
        assert!(RunResult::parse("x", "[").unwrap_err().contains("not JSON"));
        let mse = "{\"metrics\": {\"test\": {\"mse\": 0.1}}}";
        assert!(RunResult::parse("x", mse)
            .unwrap_err()
            .contains("classification"));
    }
}
