//! `trainer fit --init-seed`: the initialisation/shuffle/dropout seed is separate from the
//! split seed. Without it `--seed` drives both (same model file as `--init-seed` = `--seed`);
//! with another value the trained weights change while the data stay those of `--seed`.
use std::path::Path;
use std::process::Command;

fn fit(out: &Path, extra: &[&str]) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["fit", "--model", "3b", "--task", "adding"])
        .args(["--seq-len", "32", "--n-samples", "200", "--epochs", "2"])
        .args([
            "--batch-size",
            "16",
            "--no-progress",
            "--seed",
            "7",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .expect("trainer runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out.join("model.safetensors")).unwrap()
}

fn results(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap()
}

#[test]
fn init_seed_is_separate_from_the_split_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let plain = fit(&a, &[]);
    assert!(
        fit(&b, &["--init-seed", "7"]) == plain,
        "--init-seed = --seed changed the run"
    );
    assert!(
        fit(&c, &["--init-seed", "8"]) != plain,
        "--init-seed had no effect"
    );
    let (ra, rc) = (results(&a), results(&c));
    assert_eq!(
        (ra["seed"].as_u64(), ra["init_seed"].as_u64()),
        (Some(7), Some(7))
    );
    assert_eq!(
        (rc["seed"].as_u64(), rc["init_seed"].as_u64()),
        (Some(7), Some(8))
    );
    // same data: the generated set and its split follow --seed only
    assert_eq!(ra["data_info"], rc["data_info"]);
}
