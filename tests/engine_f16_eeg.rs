//! f16 weights on real EEG: 3b (`TrueClassicalMamba`) trained briefly with the trainer's
//! library API (reference recipe, 2 epochs) on the bundled EEGMMIDB subjects at 40 Hz
//! (T = 125), split as `trainer fit` splits them (reference subject split, seed 2024), is
//! exported as f32 and converted to f16 with [`qssm_trainer::convert`] (what
//! `trainer export --dtype f16` runs). On the held-out (validation + test) subjects' windows
//! and on every bundled window, the engine with the f16 file must give the f32 file's class
//! on ≥ 99.5 % of the windows, with logits within 1e-2 on every window.
use qssm_engine::Model as Engine;
use qssm_formats::model_file::TensorDtype;
use qssm_trainer::convert::convert_bytes;
use qssm_trainer::data::{load_subjects, subject_split, EegmmidbConfig, EpochSet};
use qssm_trainer::export::{model_card, ExportInfo};
use qssm_trainer::fit::{fit, FitConfig, Labels, Windows};
use qssm_trainer::models::{registry, Model, ModelConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;

fn windows(set: &EpochSet) -> Windows<'_> {
    Windows {
        x: &set.x,
        labels: Labels::Classes(&set.y),
        window_len: set.n_channels * set.n_times,
    }
}

/// The f32 model file of `model` with `params`, serialised in memory.
fn f32_file(model: &dyn Model, params: &[f32], set: &EpochSet) -> Vec<u8> {
    let info = ExportInfo {
        sfreq: 40.0,
        channels: set.channel_names.clone(),
        unit: "mV".into(),
        preprocessing: serde_json::json!({ "resample_hz": 40 }),
        split: None,
        training: serde_json::json!({ "epochs": 2 }),
        metrics: serde_json::json!({}),
    };
    let card = model_card(model, &info);
    let tensors: Vec<qssm_formats::model_file::TensorOut<'_>> = model
        .layout()
        .specs()
        .iter()
        .map(|s| qssm_formats::model_file::TensorOut {
            name: &s.name,
            shape: &s.shape,
            data: &params[s.range.clone()],
        })
        .collect();
    qssm_formats::model_file::to_bytes(&card, &tensors, TensorDtype::F32).unwrap()
}

/// (windows with the same class, max |f16 − f32| logit, f32 accuracy) over `set`.
fn compare(e32: &Engine, e16: &Engine, set: &EpochSet) -> (usize, f32, f64) {
    let (mut same, mut dmax, mut correct) = (0, 0.0f32, 0);
    for i in 0..set.n_trials() {
        let (a, b) = (
            e32.classify_window(set.trial(i)).unwrap(),
            e16.classify_window(set.trial(i)).unwrap(),
        );
        same += usize::from(a.class == b.class);
        correct += usize::from(a.class == set.y[i] as usize);
        let d = a
            .logits
            .iter()
            .zip(&b.logits)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        dmax = dmax.max(d);
    }
    (same, dmax, correct as f64 / set.n_trials().max(1) as f64)
}

#[test]
fn f16_keeps_the_class_of_a_trained_3b_on_bundled_eeg() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/eegmmidb");
    let cfg = EegmmidbConfig::new(&root, 40);
    let ids: Vec<u32> = (1..=10).collect();
    let split = subject_split(&ids, 2024);
    let held_out: Vec<u32> = split.val.iter().chain(&split.test).copied().collect();
    let train = load_subjects(&cfg, &split.train).unwrap();
    let val = load_subjects(&cfg, &split.val).unwrap();
    let test = load_subjects(&cfg, &held_out).unwrap();
    let all = load_subjects(&cfg, &ids).unwrap();

    let model = registry::build("3b", ModelConfig::eeg(train.n_times)).unwrap();
    let params = model.layout().init(&mut ChaCha8Rng::seed_from_u64(2024));
    let fcfg = FitConfig {
        epochs: 2,
        progress: false,
        ..FitConfig::default()
    };
    let out = fit(
        model.as_ref(),
        params,
        windows(&train),
        windows(&val),
        &fcfg,
        &mut |_| {},
    )
    .unwrap();

    let bytes32 = f32_file(model.as_ref(), &out.best_params, &train);
    let conv = convert_bytes(&bytes32, TensorDtype::F16).unwrap();
    let e32 = Engine::from_bytes(&bytes32).unwrap();
    let e16 = Engine::from_bytes(&conv.bytes).unwrap();
    assert_eq!(e16.card().dtype, "f16");
    // the engine's f32 path is the trainer's forward
    let want = model.forward_eval(&out.best_params, test.trial(0));
    let got = e32.classify_window(test.trial(0)).unwrap().logits;
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-5));

    for (what, set) in [("held-out subjects", &test), ("all bundled subjects", &all)] {
        let n = set.n_trials();
        let (same, dmax, acc) = compare(&e32, &e16, set);
        let agree = same as f64 / n as f64;
        eprintln!(
            "3b trained 2 epochs at 40 Hz (best epoch {}), {what} ({n} windows): f32 accuracy {:.1} %, \
             f16 same class on {same}/{n} = {:.2} %, max |f16 − f32| logit = {dmax:e}; weight max |err| {:.3e}, \
             weights {} → {} bytes",
            out.best_epoch,
            100.0 * acc,
            100.0 * agree,
            conv.max_abs_err(),
            e32.weight_bytes(),
            e16.weight_bytes()
        );
        assert!(n >= 80, "{what}: only {n} windows");
        assert!(
            agree >= 0.995,
            "{what}: f16 keeps the class on {same}/{n} windows only"
        );
        assert!(dmax <= 1e-2, "{what}: f16 logits differ by {dmax:e}");
    }
}
