//! `trainer fit --on-nonfinite`: a run whose updates blow up (learning rate 1e30) stops with an
//! error that names the epoch, the step and the tensor (default), or, with `skip`, finishes and
//! counts the skipped steps in its history (and its checkpoint, NaN metrics included, resumes);
//! neither panics.
use std::process::Command;

fn fit(out: &std::path::Path, policy: &str) -> std::process::Output {
    fit_cmd(out, policy).output().expect("trainer runs")
}

fn fit_cmd(out: &std::path::Path, policy: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.args(["fit", "--model", "3b", "--task", "adding"])
        .args(["--seq-len", "32", "--n-samples", "200", "--epochs", "2"])
        .args(["--batch-size", "16", "--lr", "1e30", "--no-progress"])
        .args(["--on-nonfinite", policy, "--out"])
        .arg(out);
    c
}

#[test]
fn a_diverging_run_stops_with_a_named_step_or_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = fit(&dir.path().join("stop"), "stop");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("training diverged: non-finite") && err.contains("at epoch 1, step"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let out = dir.path().join("skip");
    let o = fit(&out, "skip");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("step skipped"), "{err}");
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let skipped: u64 = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["skipped_steps"].as_u64().unwrap())
        .sum();
    assert!(skipped > 0, "{r}");
    // its checkpoint (NaN validation metrics in the history) resumes
    let o = fit_cmd(&out, "skip").arg("--resume").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.contains("resuming from"), "{err}");
}
