//! `trainer fit` on the paper models' image tasks (spec hqc-mamba-and-quantum-train §6.3) with
//! the bundled data: the HQC Mamba (small, quantum projections) and its classical twin train a
//! short run on the scikit-learn digits, Quantum-Train on smnist-10k, and write a model file
//! and results with the split, the options and 10-class metrics; bad options give one error
//! line and no output.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn digits() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/digits")
}

fn mnist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/mnist")
}

fn trainer(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("trainer runs")
}

fn results(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn hqc_mamba_and_its_twin_train_on_sdigits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits();
    let data = data.to_str().unwrap();
    for (model, extra) in [
        // small: d_model 16, expand 2 (in_proj 16 → 64 on 6 qubits)
        (
            "hqc-mamba",
            &[
                "--d-model",
                "16",
                "--expand",
                "2",
                "--qproj-affine",
                "scalar",
            ][..],
        ),
        ("hqc-mamba-classical", &[][..]),
    ] {
        let out = tmp.path().join(model);
        let mut args = vec![
            "fit",
            "--model",
            model,
            "--task",
            "sdigits",
            "--data",
            data,
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--no-progress",
            "--out",
        ];
        args.push(out.to_str().unwrap());
        args.extend(extra);
        let o = trainer(&args, tmp.path());
        assert!(
            o.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r = results(&out);
        assert_eq!(r["model_id"], model);
        assert_eq!(r["data_info"]["task"], "sdigits");
        assert_eq!(r["data_info"]["n_test"], 360);
        assert_eq!(
            r["data_info"]["n_train"].as_u64().unwrap() + r["data_info"]["n_val"].as_u64().unwrap(),
            1437
        );
        assert_eq!(r["hyperparameters"]["output_dim"], 10);
        assert_eq!(r["hyperparameters"]["n_timesteps"], 64);
        let acc = r["metrics"]["test"]["acc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{acc}");
        let auc = r["metrics"]["test"]["auc"].as_f64().unwrap();
        assert!(auc > 0.0 && auc <= 1.0, "macro one-vs-rest AUC {auc}");
        assert!(out.join("model.safetensors").exists());
        // spec §3.6: four parameter groups, a constant rate
        let groups = r["hyperparameters"]["param_groups"].as_array().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["in_proj", "x_proj", "out_proj", "other"]);
        assert_eq!(groups[1]["lr"], 1e-4);
        assert_eq!(groups[3]["weight_decay"], 0.01);
        assert_eq!(r["training"]["schedule"], "constant");
        if model == "hqc-mamba" {
            assert_eq!(r["hyperparameters"]["expand"], 2);
            assert_eq!(r["hyperparameters"]["qproj"]["affine"], "scalar");
        } else {
            assert_eq!(r["n_params"], 13_690);
        }
    }
}

/// Quantum-Train (qt-seed) trains with its paper's optimiser by default (Adam at a constant
/// 5e-4, clip 10): 425 trained parameters, the training loss falls over two epochs.
#[test]
fn quantum_train_trains_on_smnist_10k() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("qt");
    let data = mnist();
    // `trainer fit --model quantum-train` on smnist-10k, batch 64, with `extra` options
    let fit = |out: &Path, epochs: &str, extra: &[&str]| {
        let mut a = vec![
            "fit",
            "--model",
            "quantum-train",
            "--task",
            "smnist-10k",
            "--data",
        ];
        a.extend([
            data.to_str().unwrap(),
            "--epochs",
            epochs,
            "--batch-size",
            "64",
        ]);
        a.extend(["--no-progress", "--out", out.to_str().unwrap()]);
        a.extend(extra);
        let o = trainer(&a, tmp.path());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        results(out)
    };
    let r = fit(&out, "2", &[]);
    assert_eq!(r["model_id"], "quantum-train");
    assert_eq!(r["n_params"], 425);
    assert_eq!(r["data_info"]["n_test"], 2000);
    let h = &r["hyperparameters"];
    assert_eq!(h["learning_rate"], 5e-4);
    assert_eq!(h["weight_decay"], 0.0);
    assert_eq!(h["clip_norm"], 10.0);
    assert_eq!(r["training"]["schedule"], "constant");
    let loss = |e: usize| r["history"][e]["train_loss"].as_f64().unwrap();
    assert!(loss(1) < loss(0), "{} → {}", loss(0), loss(1));
    let lr = |e: usize| r["history"][e]["lr"].as_f64().unwrap();
    assert_eq!(lr(0), lr(1));
    assert!(out.join("model.safetensors").exists());

    // `--qt-tensor-gain`: 8 gains more, recorded with the architecture options
    let r = fit(&tmp.path().join("qt-gain"), "1", &["--qt-tensor-gain"]);
    assert_eq!(r["n_params"], 433);
    assert_eq!(r["hyperparameters"]["qt_tensor_gain"], true);
}

/// qt-liu (`--qt-variant liu`, spec §5.3) trains with the notebook's recipe by default (Adam
/// 1e-4 with L2 weight decay 1e-5, eps 1e-6, ReduceLROnPlateau on the training loss) on the
/// (0.5, 0.5)-scaled images: 1,497 trained parameters, the training loss falls.
#[test]
fn qt_liu_trains_on_smnist_10k() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("liu");
    let data = mnist();
    let o = trainer(
        &[
            "fit",
            "--model",
            "quantum-train",
            "--qt-variant",
            "liu",
            "--task",
            "smnist-10k",
            "--data",
            data.to_str().unwrap(),
            "--epochs",
            "2",
            "--batch-size",
            "128",
            "--no-progress",
            "--out",
            out.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = results(&out);
    assert_eq!(r["model_id"], "qt-liu");
    assert_eq!(r["model_name"], "LewHybridNN");
    assert_eq!(r["n_params"], 1_497);
    let h = &r["hyperparameters"];
    assert_eq!(h["learning_rate"], 1e-4);
    assert_eq!(h["weight_decay"], 1e-5);
    assert_eq!(r["training"]["eps"], 1e-6);
    assert!(r["training"]["schedule"]
        .as_str()
        .unwrap()
        .starts_with("ReduceLROnPlateau(mode=min on the training loss"));
    let loss = |e: usize| r["history"][e]["train_loss"].as_f64().unwrap();
    assert!(loss(1) < loss(0), "{} → {}", loss(0), loss(1));
    // the model card (in the file's header) records the notebook's scaling
    let file = std::fs::read(out.join("model.safetensors")).unwrap();
    let scale = b"(pixel / 255 - 0.5) / 0.5";
    assert!(file.windows(scale.len()).any(|w| w == scale));
}

#[test]
fn bad_options_are_one_line_errors_before_any_output() {
    let tmp = tempfile::tempdir().unwrap();
    let mnist = mnist();
    let out = tmp.path().join("run");
    let o = out.to_str().unwrap();
    for (args, want) in [
        (
            vec![
                "--model",
                "hqc-mamba",
                "--task",
                "sdigits",
                "--qproj-layers",
                "0",
            ],
            "--qproj-layers",
        ),
        (
            vec![
                "--model",
                "hqc-mamba",
                "--task",
                "sdigits",
                "--data",
                "/nonexistent/digits",
            ],
            "digits.csv.gz",
        ),
        (
            vec!["--model", "hqc-mamba", "--task", "sdigits", "--notch", "50"],
            "image tasks",
        ),
        // Quantum-Train's CNN takes 28×28 images
        (
            vec!["--model", "quantum-train", "--task", "sdigits"],
            "smnist-10k",
        ),
        // the variant is Quantum-Train's option
        (vec!["--model", "3b", "--qt-variant", "liu"], "--qt-variant"),
        // the per-tensor gain is qt-seed's option
        (
            vec![
                "--model",
                "qt-cnn",
                "--task",
                "smnist-10k",
                "--qt-tensor-gain",
            ],
            "--qt-tensor-gain",
        ),
        (
            vec![
                "--model",
                "quantum-train",
                "--qt-variant",
                "liu",
                "--task",
                "smnist-10k",
                "--qt-tensor-gain",
            ],
            "--qt-tensor-gain",
        ),
        // the §3.6 groups are model A's
        (
            vec![
                "--model",
                "qt-cnn",
                "--task",
                "smnist-10k",
                "--data",
                mnist.to_str().unwrap(),
                "--param-groups",
                "paper",
            ],
            "--param-groups paper",
        ),
    ] {
        let mut a = vec!["fit", "--epochs", "1", "--no-progress", "--out", o];
        a.extend(args);
        let r = trainer(&a, tmp.path());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{a:?} succeeded");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(want), "{want} not in {err}");
        assert!(!out.join("results.json").exists());
    }
}
