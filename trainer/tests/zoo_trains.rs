//! Every model of the registry trains on the bundled real EEG: two epochs of `fit` with the
//! reference recipe (AdamW 1e-3, wd 1e-4, cosine, clip 1.0, dropout 0.1, batch 32) on the
//! windows of subjects S001–S007 at 40 Hz (~300 windows, ~10 steps per epoch), with finite
//! losses and weights, and a lower mean training loss in epoch 2 than in epoch 1.
use qssm_trainer::data::{EegmmidbConfig, EpochCache};
use qssm_trainer::fit::{fit, FitConfig, Labels, Windows};
use qssm_trainer::models::{registry, ModelConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

#[test]
fn every_model_trains_two_epochs_on_bundled_eeg() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb");
    let cache = tempfile::tempdir().unwrap();
    let cfg = EegmmidbConfig::new(&root, 40);
    let set = EpochCache::new(cache.path())
        .load_subjects(&cfg, &[1, 2, 3, 4, 5, 6, 7])
        .unwrap();
    let (wl, n) = (set.n_channels * set.n_times, set.n_trials());
    let n_val = 32;
    let train = Windows {
        x: &set.x[..(n - n_val) * wl],
        labels: Labels::Classes(&set.y[..n - n_val]),
        window_len: wl,
    };
    let val = Windows {
        x: &set.x[(n - n_val) * wl..],
        labels: Labels::Classes(&set.y[n - n_val..]),
        window_len: wl,
    };
    let fcfg = FitConfig {
        epochs: 2,
        progress: false,
        ..FitConfig::default()
    };
    let mut report = Vec::new();
    // `QSSM_ZOO_ONLY=4a,4b` restricts the run to those ids (e.g. while developing a model)
    let only: Option<Vec<String>> = std::env::var("QSSM_ZOO_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    for entry in registry::MODELS
        .iter()
        .filter(|e| only.as_ref().is_none_or(|o| o.iter().any(|i| i == e.id)))
    {
        let model = registry::build(entry.id, ModelConfig::eeg(set.n_times)).unwrap();
        let params = model.layout().init(&mut ChaCha8Rng::seed_from_u64(2024));
        let out = fit(model.as_ref(), params, train, val, &fcfg, &mut |_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", entry.id));
        let losses: Vec<f64> = out.history.iter().map(|r| r.train_loss).collect();
        assert_eq!(losses.len(), 2, "{}", entry.id);
        assert!(
            losses.iter().all(|l| l.is_finite()),
            "{}: non-finite loss {losses:?}",
            entry.id
        );
        assert!(
            out.best_params.iter().all(|p| p.is_finite()),
            "{}: non-finite weights",
            entry.id
        );
        report.push((entry.id, losses[0], losses[1]));
    }
    for (id, a, b) in &report {
        eprintln!("{id}: mean train loss epoch 1 {a:.4}, epoch 2 {b:.4}");
    }
    for (id, a, b) in &report {
        assert!(
            b < a,
            "{id}: training loss did not decrease: {a:.4} -> {b:.4}"
        );
    }
}
