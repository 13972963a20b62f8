//! `trainer sweep` and `trainer report` end to end on the bundled EEG (4 subjects, 1 epoch):
//! a local sweep runs every run of the grid exactly as `trainer fit` would, a second
//! submission runs nothing, a run without results is rerun (resuming from its checkpoint),
//! the report holds every run; bad grids fail before anything starts; the SLURM batch script of
//! `--dry-run` carries the options. (The real SLURM cluster test is `.ci/slurm/sweep-test.sh`.)
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb")
}

fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .expect("trainer runs")
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "{}\n{err}",
        String::from_utf8_lossy(&o.stdout)
    );
    err
}

fn fails(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn grid(dir: &Path) -> PathBuf {
    let g = dir.join("grid.toml");
    std::fs::write(
        &g,
        format!(
            "models = [\"1b\", \"2d\"]\nseeds = [2024]\ninit_seeds = [1, 2]\n[fit]\nepochs = 1\nsubjects = \"4\"\ndata = {:?}\ncache_dir = {:?}\n",
            data().display().to_string(),
            dir.join("cache").display().to_string()
        ),
    )
    .unwrap();
    g
}

#[test]
fn local_sweep_runs_skips_reruns_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let g = grid(dir.path());
    let sweep = dir.path().join("sweep");
    let (g_s, sweep_s) = (g.to_str().unwrap(), sweep.to_str().unwrap());
    let run = || trainer(&["sweep", "--grid", g_s, "--out", sweep_s, "--local", "2"]);
    let err = ok(&run());
    assert!(err.contains("4 runs, 0 complete, 4 to run"), "{err}");
    let names = [
        "1b_80Hz_split2024_init1",
        "1b_80Hz_split2024_init2",
        "2d_80Hz_split2024_init1",
        "2d_80Hz_split2024_init2",
    ];
    let model =
        |n: &str| std::fs::read(sweep.join("runs").join(n).join("model.safetensors")).unwrap();
    let models: Vec<Vec<u8>> = names.iter().map(|n| model(n)).collect();

    // a run of the sweep is the fit of its arguments
    let direct = dir.path().join("direct");
    ok(&trainer(&[
        "fit",
        "--model",
        "2d",
        "--seed",
        "2024",
        "--init-seed",
        "2",
        "--epochs",
        "1",
        "--subjects",
        "4",
        "--no-progress",
        "--threads",
        "1",
        "--data",
        data().to_str().unwrap(),
        "--cache-dir",
        dir.path().join("cache").to_str().unwrap(),
        "--out",
        direct.to_str().unwrap(),
    ]));
    assert!(
        std::fs::read(direct.join("model.safetensors")).unwrap() == models[3],
        "the sweep's run differs from `trainer fit` with its arguments"
    );

    // a second submission runs nothing
    let err = ok(&run());
    assert!(
        err.contains("4 complete, 0 to run") && err.contains("nothing to run"),
        "{err}"
    );

    // a run that lost its results (killed after its last checkpoint) is rerun, and only it
    std::fs::remove_file(sweep.join("runs").join(names[1]).join("results.json")).unwrap();
    let err = ok(&run());
    assert!(
        err.contains("3 complete, 1 to run (1 resume from a checkpoint)"),
        "{err}"
    );
    assert!(err.contains(names[1]), "{err}");
    assert!(model(names[1]) == models[1], "the resumed run differs");

    // the report holds the 4 runs
    let out = ok(&trainer(&["report", sweep_s]));
    let rep = sweep.join("report");
    let table = std::fs::read_to_string(rep.join("table.md")).unwrap();
    assert!(
        table.contains("| 1b | 80 | 2 |") && table.contains("| 2d | 80 | 2 |"),
        "{table}\n{out}"
    );
    let runs_csv = std::fs::read_to_string(rep.join("runs.csv")).unwrap();
    assert_eq!(runs_csv.lines().count(), 5, "{runs_csv}");
    let png = |p: PathBuf| {
        let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(&b[1..4], b"PNG", "{} is not a PNG", p.display());
    };
    png(rep.join("accuracy.png"));
    png(rep.join("splits.png"));
    png(rep.join("confusion").join("1b_80Hz.png"));
    png(rep.join("confusion").join("2d_80Hz.png"));
    for n in names {
        png(rep.join("curves").join(format!("{n}.png")));
    }
}

#[test]
fn bad_grids_fail_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let g = grid(dir.path());
    let out = dir.path().join("s");
    let base = |extra: &[&str]| {
        let mut a = vec![
            "sweep",
            "--grid",
            g.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--local",
            "1",
        ];
        a.extend_from_slice(extra);
        trainer(&a)
    };
    let e = fails(&base(&["--models", "1b,9z"]));
    assert!(e.contains("9z"), "{e}");
    let e = fails(&base(&["--set", "epochz=1"]));
    assert!(e.contains("epochz"), "{e}");
    let e = fails(&base(&["--set", "data=/no/such/folder"]));
    assert!(e.contains("/no/such/folder"), "{e}");
    let e = fails(&base(&["--sfreq", "80,x"]));
    assert!(e.contains("--sfreq"), "{e}");
    assert!(!out.exists(), "a failed plan wrote {}", out.display());

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "models = [\"1b\"\nseeds = 1").unwrap();
    let e = fails(&trainer(&[
        "sweep",
        "--grid",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--local",
        "1",
    ]));
    assert!(
        e.contains("malformed grid TOML") && e.contains("bad.toml"),
        "{e}"
    );

    // an output folder that cannot be created (below a regular file)
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let under = file.join("sweep");
    let e = fails(&trainer(&[
        "sweep",
        "--grid",
        g.to_str().unwrap(),
        "--out",
        under.to_str().unwrap(),
        "--local",
        "1",
    ]));
    assert!(e.contains("cannot create sweep folder"), "{e}");
}

#[test]
fn slurm_dry_run_prints_the_batch_script() {
    let dir = tempfile::tempdir().unwrap();
    let g = grid(dir.path());
    let out = dir.path().join("s");
    let o = trainer(&[
        "sweep",
        "--grid",
        g.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--slurm",
        "--dry-run",
        "--partition",
        "gpu",
        "--gpus",
        "1",
        "--cpus-per-task",
        "8",
        "--time",
        "02:00:00",
        "--account",
        "bci",
        "--max-parallel",
        "2",
    ]);
    ok(&o);
    let script = String::from_utf8_lossy(&o.stdout);
    for line in [
        "#SBATCH --array=0-3%2",
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --time=02:00:00",
        "#SBATCH --account=bci",
        &format!("#SBATCH --output={}/logs/%A_%a.out", out.display()),
        "sweep-task --manifest",
    ] {
        assert!(script.contains(line), "{line} missing:\n{script}");
    }
    assert!(out.join("sweep.json").is_file() && out.join("sweep.sbatch").is_file());
    assert!(!out.join("runs").exists(), "a dry run started runs");
}
