//! The inference engine's window path for the group-2 sequence-mixing models **2a**
//! `ClassicalQuantumAttention`, **2b** `ClassicalMambaQuantumSSM` and **2c**
//! `ClassicalHydraQuantumSSM` (reference `models/QuantumMixingSSM.py`, spec groups-2-4
//! §3.1–3.3) against the trainer (`forward_eval`, the oracle) and the reference fixtures
//! `2a`, `2b`, `2c`: a model file is built from the parameters (fixture `param.*`, or a random
//! init from the trainer registry) with the trainer's model card, serialised with
//! `qssm_formats::model_file::to_bytes`, loaded by the engine, and its logits compared
//! (≤ 1e-5 abs); the f16 file must give the same class with logits within 1e-2.
//! Also: none of them can stream (typed [`EngineError::NotCausal`]), a card claiming
//! `causal = true` is inconsistent, 2a's `mix_coeffs` must match the card's window length,
//! missing tensors are named.
use qssm_engine::{EngineError, Model as Engine};
use qssm_formats::model_file::{ModelFile, ModelFileError, TensorDtype};
use qssm_tests::engine_case::{
    blob, blob_with, card, check_missing_tensor_named, check_window_only,
    check_window_parity_within, from_fixture, random_init, ulp_sensitivity, Case,
};
use qssm_tests::max_abs_diff;
use qssm_trainer::models::ModelConfig;

/// A small model (no fixture needed): C = 4, T = 40 (three chunks of 16, the last one padded),
/// D = 16, N = 4, Q = 2, 3 layers (2b/2c: 3 stacked cores of 3-layer circuits), 3 classes.
fn small(id: &str) -> Case {
    random_init(
        id,
        ModelConfig {
            n_channels: 4,
            n_times: 40,
            d_model: 16,
            d_state: 4,
            n_qubits: 2,
            n_layers: 3,
            n_classes: 3,
            ..ModelConfig::eeg(40)
        },
        11,
        3,
    )
}

/// What a check demands beyond engine = trainer (≤ 1e-5 for the f32 and the f16 file).
#[derive(Clone, Copy)]
struct Tol {
    /// engine vs the fixture's PyTorch logits
    fixture: f32,
    /// f16 file vs f32 file: same class and logits within 1e-2 (false: reported only)
    f16_close: bool,
    /// engine vs trainer within max(1e-5, 4 × [`ulp_sensitivity`]) instead of 1e-5: the
    /// trainer's batched GEMMs round differently from the engine's per-row products, and the
    /// recurrence of 2b/2c at the EEG configuration amplifies 1-ulp differences to 7e-6 (2b,
    /// T = 125) … 2e-2 (2c, T = 497), measured by [`ulp_sensitivity`]
    conditioned: bool,
}

/// 2a, 2c: as every other model (the fixture ≤ 1e-5, f16 close).
const STRICT: Tol = Tol {
    fixture: 1e-5,
    f16_close: true,
    conditioned: false,
};

/// 2b against its fixture: 5e-4 (spec §6; the trainer's own parity tolerance, see
/// `parity_group2_mixing.rs` `Tol2b`: the recurrence of 2·nc serial circuit steps amplifies the
/// reference's complex128-vs-f32 rounding; the trainer and the engine are 1.9e-5 from it).
const FIXTURE_2B: Tol = Tol {
    fixture: 5e-4,
    f16_close: true,
    conditioned: false,
};

/// 2b/2c at the EEG configuration, T = 125 (nc = 8): f16 stays close, engine vs trainer within
/// the float conditioning (see [`Tol::conditioned`]).
const RECURRENT: Tol = Tol {
    fixture: 1e-5,
    f16_close: true,
    conditioned: true,
};

/// 2b/2c at T ≥ 249 (nc ≥ 16 serial steps per layer): the recurrence is chaotic (spec §5.1),
/// so rounding the weights to f16 moves the logits by more than 1e-2 and may change the class.
/// The f16 file is then checked against the trainer run on the same f16-rounded parameters
/// (within the float conditioning, see [`Tol::conditioned`]), and its distance to the f32
/// file is only reported.
const CHAOTIC: Tol = Tol {
    fixture: 1e-5,
    f16_close: false,
    conditioned: true,
};

/// The parameters of the layout as stored in the model file `bytes` (f16-rounded for an f16
/// file), widened to f32.
fn params_of(case: &Case, bytes: &[u8]) -> Vec<f32> {
    let file = ModelFile::parse(bytes).expect("parses");
    let mut p = vec![0.0f32; case.params.len()];
    for spec in case.model.layout().specs() {
        let t = file.expect(&spec.name, &spec.shape).expect("tensor stored");
        p[spec.range.clone()].copy_from_slice(&t.to_f32());
    }
    p
}

/// Engine (f32 file) vs trainer ≤ 1e-5 and vs the fixture ≤ `tol.fixture`; engine (f16 file)
/// vs trainer on the f16-rounded parameters ≤ 1e-5 (both engine-vs-trainer bounds widen to
/// the model's float conditioning where `tol.conditioned`); f16 file vs f32 file: same class, logits
/// within 1e-2 (if `tol.f16_close`). Returns (max |engine − trainer/fixture|, max |f16 − f32|).
fn check(case: &Case, tol: Tol) -> (f32, f32) {
    let name = &case.name;
    let trainer_tol = if tol.conditioned {
        let sens = ulp_sensitivity(case);
        eprintln!("{name}: 1-ulp parameter perturbations move the trainer's logits by {sens:e}");
        (4.0 * sens).max(1e-5)
    } else {
        1e-5
    };
    let (d_trainer, d_fixture) = check_window_parity_within(case, tol.fixture, trainer_tol);
    let e32 = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("engine loads the f32 file");
    let bytes16 = blob(case, TensorDtype::F16);
    let e16 = Engine::from_bytes(&bytes16).expect("engine loads the f16 file");
    assert_eq!(e16.card().dtype, "f16");
    assert!(e16.weight_bytes() < e32.weight_bytes());
    let params16 = params_of(case, &bytes16);
    let (mut d_trainer16, mut d_f16) = (0.0f32, 0.0f32);
    for i in 0..case.b {
        let p = e32.classify_window(case.window(i)).unwrap();
        let p16 = e16
            .classify_window(case.window(i))
            .expect("f16 window classifies");
        let want16 = case.model.forward_eval(&params16, case.window(i));
        let d = max_abs_diff(&p16.logits, &want16);
        assert!(
            d <= trainer_tol,
            "{name}: f16 engine vs trainer, sample {i}: {d:e} (tolerance {trainer_tol:e})"
        );
        d_trainer16 = d_trainer16.max(d);
        let d = max_abs_diff(&p.logits, &p16.logits);
        if tol.f16_close {
            assert!(d <= 1e-2, "{name}: f16 vs f32, sample {i}: {d:e}");
            assert_eq!(
                p.class, p16.class,
                "{name}: f16 changes the class of sample {i} ({:?} vs {:?})",
                p.logits, p16.logits
            );
        }
        d_f16 = d_f16.max(d);
    }
    eprintln!(
        "{name}: max |f16 engine − trainer on f16 weights| = {d_trainer16:e}; f16 file {} bytes (weights {} vs {} bytes f32), max |f16 − f32| = {d_f16:e}{}",
        bytes16.len(),
        e16.weight_bytes(),
        e32.weight_bytes(),
        if tol.f16_close { "" } else { " (chaotic, not bounded)" }
    );
    (d_trainer.max(d_fixture).max(d_trainer16), d_f16)
}

const IDS: [&str; 3] = ["2a", "2b", "2c"];

#[test]
fn fixture_2a() {
    if let Some(case) = from_fixture("2a") {
        check(&case, STRICT);
    }
}

#[test]
fn fixture_2b() {
    if let Some(case) = from_fixture("2b") {
        check(&case, FIXTURE_2B);
    }
}

#[test]
fn fixture_2c() {
    if let Some(case) = from_fixture("2c") {
        check(&case, STRICT);
    }
}

#[test]
fn small_random_models_match_the_trainer() {
    for id in IDS {
        check(&small(id), STRICT);
    }
    // other small shapes: one chunk (T = 16), a window shorter than a chunk (T = 5), Q = 3
    for id in IDS {
        for (t, q, layers, seed) in [(16, 3, 1, 21), (5, 2, 2, 22), (70, 3, 2, 23)] {
            let cfg = ModelConfig {
                n_channels: 3,
                n_times: t,
                d_model: 8,
                d_state: 2,
                n_qubits: q,
                n_layers: layers,
                n_classes: 2,
                ..ModelConfig::eeg(t)
            };
            check(&random_init(id, cfg, seed, 2), STRICT);
        }
    }
}

/// The EEG configuration (C = 64, D = 128, N = 16, Q = 6, 2 layers) at 40, 80 and 160 Hz
/// (T = 125 / 249 / 497), trainer random init; 2b/2c are [`RECURRENT`] at T = 125 and
/// [`CHAOTIC`] at T ≥ 249.
fn eeg(id: &str, seed: u64) {
    for (i, t) in [125, 249, 497].into_iter().enumerate() {
        let tol = match (id, t) {
            ("2a", _) => STRICT,
            (_, 125) => RECURRENT,
            _ => CHAOTIC,
        };
        check(
            &random_init(id, ModelConfig::eeg(t), seed + i as u64, 2),
            tol,
        );
    }
}

#[test]
fn eeg_config_random_2a_matches_the_trainer() {
    eeg("2a", 2024);
}

#[test]
fn eeg_config_random_2b_matches_the_trainer() {
    eeg("2b", 2025);
}

#[test]
fn eeg_config_random_2c_matches_the_trainer() {
    eeg("2c", 2026);
}

#[test]
fn streaming_is_a_typed_error() {
    for id in IDS {
        check_window_only(&small(id));
    }
}

/// 2a's `mix_coeffs` (nc, 2) fixes the window length: a card whose T needs another chunk count
/// is a typed error naming the tensor and both shapes; a T with the same chunk count loads.
#[test]
fn mix_coeffs_must_match_the_window_length() {
    let case = small("2a"); // T = 40: 3 chunks
    for (t, ok) in [(64, false), (32, false), (33, true), (48, true)] {
        let mut c = card(case.model.as_ref());
        c.hyperparameters.n_times = t;
        c.input.n_times = t;
        let r = Engine::from_bytes(&blob_with(&case, &c, TensorDtype::F32, |_| true));
        match (r, ok) {
            (Ok(e), true) => assert_eq!(e.n_times(), t),
            (Err(e @ EngineError::File(ModelFileError::ShapeMismatch { .. })), false) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("quantum_attention.mix_coeffs"),
                    "T = {t}: {msg}"
                )
            }
            (r, _) => panic!("T = {t}: {:?}", r.map(|_| ())),
        }
    }
}

#[test]
fn missing_tensors_are_named() {
    let gone = [
        (
            "2a",
            &[
                "feature_extractor.embedding.bias",
                "chunk_attention.2.weight",
                "quantum_attention.mix_coeffs",
                "quantum_attention.qff_params",
                "quantum_attention.param_proj.weight",
                "output_norm.bias",
                "classifier.3.weight",
            ][..],
        ),
        (
            "2b",
            &[
                "quantum_ssm_layers.0.circuit_params",
                "quantum_ssm_layers.1.D",
                "quantum_ssm_layers.2.x_proj.weight",
                "quantum_ssm_layers.1.dt_proj.bias",
                "quantum_ssm_layers.0.quantum_output_proj.weight",
                "output_norm.weight",
            ][..],
        ),
        (
            "2c",
            &[
                "quantum_hydra_layers.0.alpha",
                "quantum_hydra_layers.2.gamma",
                "quantum_hydra_layers.1.backward_ssm.circuit_params",
                "quantum_hydra_layers.0.forward_ssm.out_proj.bias",
                "quantum_hydra_layers.1.diagonal.weight",
                "quantum_hydra_layers.2.out_proj.weight",
                "classifier.0.bias",
            ][..],
        ),
    ];
    for (id, names) in gone {
        let case = small(id);
        for &gone in names {
            check_missing_tensor_named(&case, gone);
        }
    }
}
