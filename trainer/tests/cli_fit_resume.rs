//! `trainer fit` checkpoints and `--resume`: a fit killed with SIGKILL at a random point after
//! its first checkpoint and then resumed writes a model file identical, byte for byte, to an
//! uninterrupted run with the same seed (and the same training history apart from wall
//! times); a checkpoint of another run or a damaged one is refused with a clear error.
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

/// A short regression fit of 3b (adding problem, L = 48): 8 epochs of ~0.1–0.5 s each.
fn fit_cmd(out: &Path, lr: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.args(["fit", "--model", "3b", "--task", "adding"])
        .args(["--seq-len", "48", "--n-samples", "600", "--epochs", "8"])
        .args(["--patience", "100", "--batch-size", "16", "--lr", lr])
        .args(["--no-progress", "--out"])
        .arg(out);
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("trainer runs")
}

fn history_losses(dir: &Path) -> Vec<f64> {
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["train_loss"].as_f64().unwrap())
        .collect()
}

#[test]
fn killed_and_resumed_fit_equals_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = run(fit_cmd(&a, "1e-3"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // start the same run, SIGKILL it at a random moment after its first checkpoint
    let mut child = fit_cmd(&b, "1e-3")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ckpt = b.join("checkpoint.safetensors");
    let t0 = Instant::now();
    while !ckpt.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no checkpoint written"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::thread::sleep(Duration::from_millis(u64::from(nanos % 400)));
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the run finished before it could be killed"
    );
    assert!(
        !b.join("model.safetensors").exists(),
        "killed run wrote a model"
    );

    let mut c = fit_cmd(&b, "1e-3");
    c.arg("--resume");
    let o = run(c);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("resuming from"), "{err}");
    let (ma, mb) = (
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap(),
    );
    assert!(
        ma == mb,
        "resumed model file differs from the uninterrupted run's"
    );
    assert_eq!(history_losses(&a), history_losses(&b));

    // resuming a finished run changes nothing
    let mut c = fit_cmd(&b, "1e-3");
    c.arg("--resume");
    let o = run(c);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(b.join("model.safetensors")).unwrap() == ma);

    // another run's checkpoint (different learning rate) is refused, not silently used
    let mut c = fit_cmd(&b, "2e-3");
    c.arg("--resume");
    let o = run(c);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "resumed from another run's checkpoint");
    assert!(err.contains("different run"), "{err}");

    // a damaged checkpoint is refused with a typed error
    let bytes = std::fs::read(&ckpt).unwrap();
    std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).unwrap();
    let mut c = fit_cmd(&b, "1e-3");
    c.arg("--resume");
    let o = run(c);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("not a usable qssm checkpoint"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
