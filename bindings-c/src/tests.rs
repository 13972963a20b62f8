//! Rust-side tests of the C ABI, so `cargo test --workspace` covers it without a C compiler:
//! every entry point against the engine it wraps (bit-identical results), NULL arguments,
//! bad codes and lengths, out-parameters untouched on failure, double free, panics caught
//! at the boundary and poisoned streams, caller-provided stream memory, snapshot/restore.
//! Models are small synthetic ones built with the trainer (dev-dependency only).
use crate::*;
use core::ffi::{c_char, CStr};
use core::ptr::{null, null_mut};
use qssm_engine::{Model as Engine, StreamOptions, Unit};
use qssm_formats::model_file::{
    to_bytes, CircuitLayout, Hyperparameters, InputSpec, ModelCard, TensorDtype, TensorOut,
};
use qssm_trainer::models::{registry, ModelConfig};

const C: usize = 4;
const T: usize = 40;
const K: usize = 3;

/// Deterministic pseudo-random values in [−1, 1) (splitmix64).
fn noise(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// A model file of a small synthetic `id` model (C = 4, T = 40, D = 16, N = 4, Q = 2, two
/// blocks, 3 classes, seeded random weights) with input unit `unit`.
fn model_bytes(id: &str, unit: &str) -> Vec<u8> {
    model_bytes_as(id, unit, None)
}

/// [`model_bytes`] with the card's `model_id` replaced by `card_id` (if given).
fn model_bytes_as(id: &str, unit: &str, card_id: Option<&str>) -> Vec<u8> {
    let cfg = ModelConfig {
        n_channels: C,
        n_times: T,
        d_model: 16,
        d_state: 4,
        n_qubits: 2,
        n_layers: 2,
        n_classes: K,
        dropout: 0.1,
        ..ModelConfig::eeg(T)
    };
    let model = registry::build(id, cfg).expect("model in registry");
    let params: Vec<f32> = noise(7, model.layout().len())
        .iter()
        .map(|v| v * 0.3)
        .collect();
    let c = model.config();
    let card = ModelCard {
        qssm_version: "0.1.0".into(),
        model_id: card_id.unwrap_or(model.id()).into(),
        class_name: model.class_name().into(),
        causal: id == "3b",
        hyperparameters: Hyperparameters {
            n_channels: c.n_channels,
            n_times: c.n_times,
            d_model: c.d_model,
            d_state: c.d_state,
            n_qubits: c.n_qubits,
            n_layers: c.n_layers,
            n_classes: c.n_classes,
            dropout: c.dropout,
        },
        circuit: (id == "1b").then(|| CircuitLayout {
            ansatz: "unified".into(),
            n_qubits: c.n_qubits,
            n_layers: c.n_layers,
            encoding: "ry(tanh(input_proj(s))*pi)".into(),
            measurement: format!("X0..X{q},Y0..Y{q},Z0..Z{q}", q = c.n_qubits - 1),
            wire_order: "wire 0 = most significant bit".into(),
            chunk_size: 32,
        }),
        architecture: None,
        input: InputSpec {
            sfreq: 160.0,
            n_times: c.n_times,
            channels: (1..=c.n_channels).map(|i| format!("Ch{i}")).collect(),
            unit: unit.into(),
            layout: "channel_major".into(),
        },
        preprocessing: serde_json::json!({ "note": "test model" }),
        split: None,
        training: serde_json::json!({}),
        metrics: serde_json::json!({}),
        dtype: "f32".into(),
    };
    let tensors: Vec<TensorOut<'_>> = model
        .layout()
        .specs()
        .iter()
        .map(|s| TensorOut {
            name: &s.name,
            shape: &s.shape,
            data: &params[s.range.clone()],
        })
        .collect();
    to_bytes(&card, &tensors, TensorDtype::F32).expect("serialises")
}

fn load(bytes: &[u8]) -> *mut QssmModel {
    let mut m = null_mut();
    let st = unsafe { qssm_model_load(bytes.as_ptr(), bytes.len(), &mut m) };
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    assert!(!m.is_null());
    m
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(qssm_last_error()) }
        .to_str()
        .expect("UTF-8")
        .to_owned()
}

fn new_stream(m: *const QssmModel, hop: usize) -> *mut QssmStream {
    let mut s = null_mut();
    let st = unsafe { qssm_stream_new(m, hop, &mut s) };
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    s
}

/// Asserts `st` is `want` and the last error mentions `needle`.
#[track_caller]
fn expect(st: QssmStatus, want: QssmStatus, needle: &str) {
    assert_eq!(st, want, "last error: {}", last_error());
    let msg = last_error();
    assert!(
        msg.contains(needle),
        "message {msg:?} should mention {needle:?}"
    );
}

/// `n` samples of C channels in µV, sample-major.
fn samples_uv(seed: u64, n: usize) -> Vec<f32> {
    noise(seed, n * C).iter().map(|v| v * 50.0).collect()
}

fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut y = vec![0.0; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            y[c * rows + r] = x[r * cols + c];
        }
    }
    y
}

struct Latest {
    logits: [f32; K],
    probabilities: [f32; K],
    class: usize,
    seen: u64,
}

fn latest(s: *const QssmStream) -> (QssmStatus, Latest) {
    let mut l = Latest {
        logits: [-7.0; K],
        probabilities: [-7.0; K],
        class: 99,
        seen: 99,
    };
    let st = unsafe {
        qssm_stream_latest(
            s,
            l.logits.as_mut_ptr(),
            l.probabilities.as_mut_ptr(),
            K,
            &mut l.class,
            &mut l.seen,
        )
    };
    (st, l)
}

#[test]
fn version_and_status_names() {
    let v = unsafe { CStr::from_ptr(qssm_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    for s in QssmStatus::ALL {
        let name = unsafe { CStr::from_ptr(qssm_status_name(s as u32)) };
        let name = name.to_str().unwrap();
        assert!(name.starts_with("QSSM_STATUS_"), "{name}");
        // the header spells each constant exactly like this
        let header = include_str!("../include/qssm.h");
        assert!(
            header.contains(&format!("{name} = {},", s as u32)),
            "{name} = {} not in qssm.h",
            s as u32
        );
    }
    for bad in [2u32, 999, 1019, u32::MAX] {
        let name = unsafe { CStr::from_ptr(qssm_status_name(bad)) };
        assert_eq!(name.to_str().unwrap(), "QSSM_STATUS_UNKNOWN");
    }
    assert!(QssmStatus::ALL[2..]
        .iter()
        .all(|s| (1000..2000).contains(&(*s as u32))));
}

#[test]
fn panics_are_caught_at_the_boundary() {
    let st =
        crate::boundary::status(|| -> Result<(), crate::status::Error> { panic!("boom {}", 42) });
    expect(st, QssmStatus::Panic, "boom 42");
    let st = crate::boundary::status(|| -> Result<(), crate::status::Error> {
        std::panic::panic_any(3u8)
    });
    expect(st, QssmStatus::Panic, "non-string panic payload");
    assert_eq!(crate::boundary::infallible(5, || panic!("x")), 5);
    // a later successful call clears the message
    let st = crate::boundary::status(|| Ok(()));
    assert_eq!(st, QssmStatus::Ok);
    assert_eq!(last_error(), "");
}

#[test]
fn a_stream_that_panicked_is_poisoned_but_can_be_freed() {
    let m = load(&model_bytes("3b", "mV"));
    let mut s = new_stream(m, 1);
    let st = crate::stream::poison_by_panic(unsafe { &mut *s });
    expect(st, QssmStatus::Panic, "injected test panic");
    let x = samples_uv(1, 1);
    let mut n = 77usize;
    let st = unsafe {
        qssm_stream_push(
            s,
            x.as_ptr(),
            C,
            C,
            QSSM_LAYOUT_SAMPLE_MAJOR,
            QSSM_UNIT_MICROVOLT,
            &mut n,
        )
    };
    expect(st, QssmStatus::Panic, "poisoned");
    assert_eq!(n, 77);
    let mut seen = 5u64;
    let st = unsafe { qssm_stream_samples_seen(s, &mut seen) };
    expect(st, QssmStatus::Panic, "poisoned");
    expect(
        unsafe { qssm_stream_reset(s) },
        QssmStatus::Panic,
        "poisoned",
    );
    unsafe { qssm_stream_free(&mut s) };
    assert!(s.is_null());
    unsafe { qssm_model_free(&mut { m }) };
}

#[test]
fn loading_errors_have_codes_and_messages() {
    let mut m = 0x1 as *mut QssmModel; // sentinel: must stay untouched on failure
    let st = unsafe { qssm_model_load(b"garbage".as_ptr(), 7, &mut m) };
    expect(st, QssmStatus::InvalidModel, "safetensors");
    assert_eq!(m, 0x1 as *mut QssmModel);
    let st = unsafe { qssm_model_load(null(), 7, &mut m) };
    expect(st, QssmStatus::NullArgument, "bytes");
    let bytes = model_bytes("3b", "mV");
    let st = unsafe { qssm_model_load(bytes.as_ptr(), bytes.len(), null_mut()) };
    expect(st, QssmStatus::NullArgument, "out_model");
    // an architecture the engine does not run: a reference model it does not run (yet), if
    // any is left, else a 3b file whose card names an unknown model id
    let unsupported = registry::zoo()
        .map(|m| m.id)
        .find(|id| !qssm_engine::supported_models().any(|s| s.id == *id));
    let (mut b, id) = match unsupported {
        Some(id) => (model_bytes(id, "mV"), id),
        None => (model_bytes_as("3b", "mV", Some("9z")), "9z"),
    };
    let st = unsafe { qssm_model_load(b.as_mut_ptr(), b.len(), &mut m) };
    expect(st, QssmStatus::UnsupportedModel, id);
    let path = c"/nonexistent/dir/model.safetensors";
    let st = unsafe { qssm_model_load_file(path.as_ptr(), &mut m) };
    expect(st, QssmStatus::Io, "/nonexistent/dir/model.safetensors");
    let bad = [0x66u8, 0xff, 0xfe, 0];
    let st = unsafe { qssm_model_load_file(bad.as_ptr().cast(), &mut m) };
    expect(st, QssmStatus::InvalidUtf8, "UTF-8");
    let st = unsafe { qssm_model_load_file(null(), &mut m) };
    expect(st, QssmStatus::NullArgument, "path");
    assert_eq!(m, 0x1 as *mut QssmModel);
}

#[test]
fn load_file_and_info() {
    let bytes = model_bytes("3b", "mV");
    let dir = std::env::temp_dir().join(format!("qssm-c-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    std::fs::write(&path, &bytes).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let mut m = null_mut();
    let st = unsafe { qssm_model_load_file(cpath.as_ptr(), &mut m) };
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    std::fs::remove_dir_all(&dir).unwrap();
    let engine = Engine::from_bytes(&bytes).unwrap();

    let mut n = 0usize;
    assert_eq!(unsafe { qssm_model_n_channels(m, &mut n) }, QssmStatus::Ok);
    assert_eq!(n, C);
    assert_eq!(unsafe { qssm_model_n_times(m, &mut n) }, QssmStatus::Ok);
    assert_eq!(n, T);
    assert_eq!(unsafe { qssm_model_n_classes(m, &mut n) }, QssmStatus::Ok);
    assert_eq!(n, K);
    let mut hz = 0.0;
    assert_eq!(unsafe { qssm_model_sfreq(m, &mut hz) }, QssmStatus::Ok);
    assert_eq!(hz, 160.0);
    let mut name: *const c_char = null();
    for i in 0..C {
        assert_eq!(
            unsafe { qssm_model_channel_name(m, i, &mut name) },
            QssmStatus::Ok
        );
        let got = unsafe { CStr::from_ptr(name) }.to_str().unwrap();
        assert_eq!(got, format!("Ch{}", i + 1));
    }
    let before = name;
    let st = unsafe { qssm_model_channel_name(m, C, &mut name) };
    expect(st, QssmStatus::IndexOutOfRange, "4 channels");
    assert_eq!(name, before);
    let mut id: *const c_char = null();
    assert_eq!(unsafe { qssm_model_id(m, &mut id) }, QssmStatus::Ok);
    assert_eq!(unsafe { CStr::from_ptr(id) }.to_str().unwrap(), "3b");
    let (mut causal, mut can) = (false, false);
    assert_eq!(
        unsafe { qssm_model_is_causal(m, &mut causal) },
        QssmStatus::Ok
    );
    assert_eq!(
        unsafe { qssm_model_can_stream(m, &mut can) },
        QssmStatus::Ok
    );
    assert!(causal && can);
    let mut unit = 0;
    assert_eq!(
        unsafe { qssm_model_input_unit(m, &mut unit) },
        QssmStatus::Ok
    );
    assert_eq!(unit, QSSM_UNIT_MILLIVOLT);
    let (mut sb, mut kb) = (0usize, 0usize);
    assert_eq!(
        unsafe { qssm_model_required_state_bytes(m, &mut sb) },
        QssmStatus::Ok
    );
    assert_eq!(
        unsafe { qssm_model_required_scratch_bytes(m, &mut kb) },
        QssmStatus::Ok
    );
    assert_eq!(sb, qssm_engine::required_state_bytes(&engine).unwrap());
    assert_eq!(kb, qssm_engine::required_scratch_bytes(&engine).unwrap());
    unsafe { qssm_model_free(&mut m) };
    assert!(m.is_null());
}

#[test]
fn every_getter_checks_null() {
    let m = load(&model_bytes("3b", "mV"));
    let mut n = 5usize;
    expect(
        unsafe { qssm_model_n_channels(null(), &mut n) },
        QssmStatus::NullArgument,
        "model",
    );
    assert_eq!(n, 5);
    for st in [
        unsafe { qssm_model_n_channels(m, null_mut()) },
        unsafe { qssm_model_n_times(m, null_mut()) },
        unsafe { qssm_model_n_classes(m, null_mut()) },
        unsafe { qssm_model_required_state_bytes(m, null_mut()) },
        unsafe { qssm_model_required_scratch_bytes(m, null_mut()) },
    ] {
        expect(st, QssmStatus::NullArgument, "is NULL");
    }
    for st in [
        unsafe { qssm_model_sfreq(m, null_mut()) },
        unsafe { qssm_model_sfreq(null(), &mut 0.0) },
        unsafe { qssm_model_is_causal(m, null_mut()) },
        unsafe { qssm_model_can_stream(null(), &mut false) },
        unsafe { qssm_model_input_unit(m, null_mut()) },
        unsafe { qssm_model_channel_name(m, 0, null_mut()) },
        unsafe { qssm_model_id(null(), &mut null()) },
        unsafe { qssm_stream_new(null(), 1, &mut null_mut()) },
        unsafe { qssm_stream_new(m, 1, null_mut()) },
        unsafe { qssm_stream_reset(null_mut()) },
        unsafe { qssm_stream_samples_seen(null(), &mut 0) },
        unsafe { qssm_stream_restore(null_mut(), [0f32; 4].as_ptr().cast(), 16) },
        unsafe { qssm_stream_snapshot(null(), [0f32; 4].as_mut_ptr().cast(), 16, &mut 0) },
        unsafe { qssm_stream_latest(null(), null_mut(), null_mut(), 0, &mut 0, &mut 0) },
        unsafe {
            qssm_stream_push(
                null_mut(),
                [0f32; 4].as_ptr(),
                4,
                4,
                QSSM_LAYOUT_SAMPLE_MAJOR,
                QSSM_UNIT_MICROVOLT,
                &mut 0,
            )
        },
        unsafe {
            qssm_model_classify_window(
                null(),
                [0f32; 4].as_ptr(),
                4,
                QSSM_UNIT_MILLIVOLT,
                null_mut(),
                null_mut(),
                0,
                &mut 0,
            )
        },
    ] {
        expect(st, QssmStatus::NullArgument, "is NULL");
    }
    unsafe { qssm_model_free(&mut { m }) };
}

#[test]
fn free_accepts_null_and_nulls_the_pointer() {
    unsafe {
        qssm_model_free(null_mut());
        qssm_stream_free(null_mut());
        let mut m: *mut QssmModel = null_mut();
        qssm_model_free(&mut m);
        let mut s: *mut QssmStream = null_mut();
        qssm_stream_free(&mut s);
    }
    let mut m = load(&model_bytes("3b", "mV"));
    let mut s = new_stream(m, 1);
    unsafe {
        qssm_stream_free(&mut s);
        assert!(s.is_null());
        qssm_stream_free(&mut s); // second free through the same variable: no-op
        qssm_model_free(&mut m);
        assert!(m.is_null());
        qssm_model_free(&mut m);
    }
}

fn classify(
    m: *const QssmModel,
    x: &[f32],
    unit: QssmUnit,
) -> (QssmStatus, [f32; K], [f32; K], usize) {
    let (mut logits, mut probs, mut class) = ([-7.0; K], [-7.0; K], 99usize);
    let st = unsafe {
        qssm_model_classify_window(
            m,
            x.as_ptr(),
            x.len(),
            unit,
            logits.as_mut_ptr(),
            probs.as_mut_ptr(),
            K,
            &mut class,
        )
    };
    (st, logits, probs, class)
}

#[test]
fn classify_matches_the_engine_in_every_unit() {
    let bytes = model_bytes("3b", "mV");
    let engine = Engine::from_bytes(&bytes).unwrap();
    let m = load(&bytes);
    let x_mv: Vec<f32> = noise(3, C * T).iter().map(|v| v * 0.05).collect();
    let want = engine.classify_window(&x_mv).unwrap();
    let (st, logits, probs, class) = classify(m, &x_mv, QSSM_UNIT_MILLIVOLT);
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    assert_eq!(logits.to_vec(), want.logits);
    assert_eq!(probs.to_vec(), want.probabilities);
    assert_eq!(class, want.class);
    for (code, unit) in [
        (QSSM_UNIT_MICROVOLT, Unit::Microvolt),
        (QSSM_UNIT_VOLT, Unit::Volt),
    ] {
        let x: Vec<f32> = x_mv
            .iter()
            .map(|v| v * Unit::Millivolt.factor_to(unit))
            .collect();
        let f = unit.factor_to(Unit::Millivolt);
        let want = engine
            .classify_window(&x.iter().map(|v| v * f).collect::<Vec<_>>())
            .unwrap();
        let (st, logits, probs, class) = classify(m, &x, code);
        assert_eq!(st, QssmStatus::Ok);
        assert_eq!(logits.to_vec(), want.logits);
        assert_eq!(probs.to_vec(), want.probabilities);
        assert_eq!(class, want.class);
    }
    // outputs are optional; class only
    let mut class = 99;
    let st = unsafe {
        qssm_model_classify_window(
            m,
            x_mv.as_ptr(),
            x_mv.len(),
            QSSM_UNIT_MILLIVOLT,
            null_mut(),
            null_mut(),
            0,
            &mut class,
        )
    };
    assert_eq!(st, QssmStatus::Ok);
    assert_eq!(class, want.class);
    unsafe { qssm_model_free(&mut { m }) };
}

#[test]
fn classify_misuse_returns_codes_and_writes_nothing() {
    let m = load(&model_bytes("3b", "mV"));
    let x = vec![0.01f32; C * T];
    let untouched = |r: (QssmStatus, [f32; K], [f32; K], usize)| {
        assert_eq!((r.1, r.2, r.3), ([-7.0; K], [-7.0; K], 99));
        r.0
    };
    expect(
        untouched(classify(m, &x[..C * T - 1], QSSM_UNIT_MILLIVOLT)),
        QssmStatus::WrongLength,
        "159 floats",
    );
    for bad in [0, 5, 42] {
        expect(
            untouched(classify(m, &x, bad)),
            QssmStatus::UnknownUnit,
            &format!("unit code {bad}"),
        );
    }
    let mut nan = x.clone();
    nan[2 * T + 5] = f32::NAN;
    expect(
        untouched(classify(m, &nan, QSSM_UNIT_MILLIVOLT)),
        QssmStatus::NonFiniteInput,
        "channel 2, sample 5",
    );
    // finite in µV... but not once scaled from V to mV
    let mut big = x.clone();
    big[0] = f32::MAX;
    expect(
        untouched(classify(m, &big, QSSM_UNIT_VOLT)),
        QssmStatus::NonFiniteInput,
        "channel 0, sample 0",
    );
    let (mut probs, mut class) = ([-7.0f32; K], 99usize);
    let st = unsafe {
        qssm_model_classify_window(
            m,
            x.as_ptr(),
            x.len(),
            QSSM_UNIT_MILLIVOLT,
            null_mut(),
            probs.as_mut_ptr(),
            K - 1,
            &mut class,
        )
    };
    expect(st, QssmStatus::BufferTooSmall, "3 classes");
    assert_eq!((probs, class), ([-7.0; K], 99));
    let st = unsafe {
        qssm_model_classify_window(
            m,
            x.as_ptr(),
            x.len(),
            QSSM_UNIT_MILLIVOLT,
            probs.as_mut_ptr(),
            probs.as_mut_ptr(),
            K,
            &mut class,
        )
    };
    expect(st, QssmStatus::InvalidArgument, "same buffer");
    let st = unsafe {
        qssm_model_classify_window(
            m,
            x.as_ptr(),
            x.len(),
            QSSM_UNIT_MILLIVOLT,
            null_mut(),
            null_mut(),
            0,
            null_mut(),
        )
    };
    expect(st, QssmStatus::NullArgument, "out_class");
    let st = unsafe {
        qssm_model_classify_window(
            m,
            x.as_ptr().cast::<u8>().add(1).cast(),
            8,
            QSSM_UNIT_MILLIVOLT,
            null_mut(),
            null_mut(),
            0,
            &mut class,
        )
    };
    expect(st, QssmStatus::MisalignedBuffer, "window");
    unsafe { qssm_model_free(&mut { m }) };
}

#[test]
fn a_card_unit_that_is_not_a_voltage_cannot_be_converted() {
    // `none` (a non-EEG task's card) loads and takes QSSM_UNIT_NONE; its values cannot be
    // converted from volts
    let m = load(&model_bytes("3b", "none"));
    let mut unit = 0;
    assert_eq!(
        unsafe { qssm_model_input_unit(m, &mut unit) },
        QssmStatus::Ok
    );
    assert_eq!(unit, QSSM_UNIT_NONE);
    let x = vec![0.0f32; C * T];
    expect(
        classify(m, &x, QSSM_UNIT_MILLIVOLT).0,
        QssmStatus::UnknownUnit,
        "'none'",
    );
    assert_eq!(classify(m, &x, QSSM_UNIT_NONE).0, QssmStatus::Ok);
    // and it streams its values as they are
    let s = new_stream(m, 1);
    let engine = Engine::from_bytes(&model_bytes("3b", "none")).unwrap();
    let mut es = engine.stream(StreamOptions { hop: 1 }).unwrap();
    let chunk = noise(8, 3 * C);
    let mut made = 0;
    let st = unsafe {
        qssm_stream_push(
            s,
            chunk.as_ptr(),
            chunk.len(),
            C,
            QSSM_LAYOUT_SAMPLE_MAJOR,
            QSSM_UNIT_NONE,
            &mut made,
        )
    };
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    assert_eq!(made, 3);
    let mut want = Vec::new();
    for x in chunk.chunks(C) {
        want = es
            .push(x)
            .unwrap()
            .expect("a prediction per sample")
            .logits
            .to_vec();
    }
    let (mut logits, mut class, mut seen) = ([0.0f32; K], 0usize, 0u64);
    let st =
        unsafe { qssm_stream_latest(s, logits.as_mut_ptr(), null_mut(), K, &mut class, &mut seen) };
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    assert_eq!(logits.to_vec(), want);
    unsafe { qssm_stream_free(&mut { s }) };
    unsafe { qssm_model_free(&mut { m }) };
    // a card naming no unit at all is refused when the model is loaded
    let bytes = model_bytes("3b", "furlongs");
    let mut m = null_mut();
    let st = unsafe { qssm_model_load(bytes.as_ptr(), bytes.len(), &mut m) };
    assert!(m.is_null());
    assert_eq!(st, QssmStatus::InvalidModel);
    let msg = last_error();
    assert!(
        msg.contains("input.unit") && msg.contains("furlongs"),
        "{msg}"
    );
}

#[test]
fn non_causal_models_cannot_stream() {
    let m = load(&model_bytes("1b", "mV"));
    let (mut causal, mut can) = (true, true);
    assert_eq!(
        unsafe { qssm_model_is_causal(m, &mut causal) },
        QssmStatus::Ok
    );
    assert_eq!(
        unsafe { qssm_model_can_stream(m, &mut can) },
        QssmStatus::Ok
    );
    assert!(!causal && !can);
    let mut bytes = 7usize;
    expect(
        unsafe { qssm_model_required_state_bytes(m, &mut bytes) },
        QssmStatus::NotCausal,
        "causal = false",
    );
    assert_eq!(bytes, 7);
    let mut s = null_mut();
    expect(
        unsafe { qssm_stream_new(m, 1, &mut s) },
        QssmStatus::NotCausal,
        "cannot stream",
    );
    assert!(s.is_null());
    // but it classifies windows
    let (st, ..) = classify(m, &vec![0.01; C * T], QSSM_UNIT_MILLIVOLT);
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    unsafe { qssm_model_free(&mut { m }) };
}

fn push(s: *mut QssmStream, x: &[f32], layout: QssmLayout, unit: QssmUnit) -> (QssmStatus, usize) {
    let mut n = 777usize;
    let st = unsafe { qssm_stream_push(s, x.as_ptr(), x.len(), C, layout, unit, &mut n) };
    (st, n)
}

#[test]
fn streaming_matches_the_engine_in_both_layouts() {
    let bytes = model_bytes("3b", "mV");
    let engine = Engine::from_bytes(&bytes).unwrap();
    let n = 30;
    let x = samples_uv(5, n); // sample-major µV
                              // the engine, sample by sample
    let mut want = Vec::new();
    let mut es = engine.stream(StreamOptions { hop: 4 }).unwrap();
    for t in 0..n {
        if let Some(p) = es.push_in(&x[t * C..(t + 1) * C], Unit::Microvolt).unwrap() {
            want.push((p.to_prediction(), p.samples_seen));
        }
    }
    assert_eq!(want.len(), n / 4);

    let m = load(&bytes);
    let sm = new_stream(m, 4);
    let cm = new_stream(m, 4);
    assert_eq!(latest(sm).0, QssmStatus::NoPrediction);
    // chunks of uneven sizes; the same chunks channel-major on the other stream
    let mut t0 = 0;
    let mut got = 0;
    for len in [1, 2, 5, 0, 9, 13] {
        let chunk = &x[t0 * C..(t0 + len) * C];
        let (st, np) = push(sm, chunk, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT);
        assert_eq!(st, QssmStatus::Ok, "{}", last_error());
        let cmajor = transpose(chunk, len, C);
        let (st2, np2) = push(cm, &cmajor, QSSM_LAYOUT_CHANNEL_MAJOR, QSSM_UNIT_MICROVOLT);
        assert_eq!(st2, QssmStatus::Ok, "{}", last_error());
        assert_eq!(np, np2);
        t0 += len;
        let expected_new = t0 / 4 - got;
        assert_eq!(np, expected_new, "predictions after {t0} samples");
        got += np;
        if got > 0 {
            let (w, seen) = &want[got - 1];
            for s in [sm, cm] {
                let (st, l) = latest(s);
                assert_eq!(st, QssmStatus::Ok);
                assert_eq!(l.logits.to_vec(), w.logits);
                assert_eq!(l.probabilities.to_vec(), w.probabilities);
                assert_eq!(l.class, w.class);
                assert_eq!(l.seen, *seen);
            }
        }
    }
    assert_eq!(t0, n);
    let mut seen = 0;
    assert_eq!(
        unsafe { qssm_stream_samples_seen(sm, &mut seen) },
        QssmStatus::Ok
    );
    assert_eq!(seen, n as u64);
    // reset forgets the prediction and the samples
    assert_eq!(unsafe { qssm_stream_reset(sm) }, QssmStatus::Ok);
    assert_eq!(latest(sm).0, QssmStatus::NoPrediction);
    assert!(last_error().contains("no prediction yet"));
    assert_eq!(
        unsafe { qssm_stream_samples_seen(sm, &mut seen) },
        QssmStatus::Ok
    );
    assert_eq!(seen, 0);
    unsafe {
        qssm_stream_free(&mut { sm });
        qssm_stream_free(&mut { cm });
        qssm_model_free(&mut { m });
    }
}

#[test]
fn stream_misuse_leaves_the_state_unchanged() {
    let m = load(&model_bytes("3b", "mV"));
    let s = new_stream(m, 1);
    let x = samples_uv(9, 3);
    assert_eq!(
        push(s, &x, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT).0,
        QssmStatus::Ok
    );
    let (_, before) = latest(s);
    let check_unchanged = || {
        let mut seen = 0;
        assert_eq!(
            unsafe { qssm_stream_samples_seen(s, &mut seen) },
            QssmStatus::Ok
        );
        assert_eq!(seen, 3);
        let (st, l) = latest(s);
        assert_eq!(st, QssmStatus::Ok);
        assert_eq!(l.logits, before.logits);
    };
    let (st, n) = push(s, &x, 0, QSSM_UNIT_MICROVOLT);
    expect(st, QssmStatus::UnknownLayout, "layout code 0");
    assert_eq!(n, 777);
    expect(
        push(s, &x, 3, QSSM_UNIT_MICROVOLT).0,
        QssmStatus::UnknownLayout,
        "layout code 3",
    );
    expect(
        push(s, &x, QSSM_LAYOUT_SAMPLE_MAJOR, 7).0,
        QssmStatus::UnknownUnit,
        "unit code 7",
    );
    expect(
        push(
            s,
            &x[..C * 2 + 1],
            QSSM_LAYOUT_SAMPLE_MAJOR,
            QSSM_UNIT_MICROVOLT,
        )
        .0,
        QssmStatus::WrongLength,
        "not a multiple",
    );
    let mut n = 777usize;
    let st = unsafe {
        qssm_stream_push(
            s,
            x.as_ptr(),
            x.len(),
            C - 1,
            QSSM_LAYOUT_SAMPLE_MAJOR,
            QSSM_UNIT_MICROVOLT,
            &mut n,
        )
    };
    expect(st, QssmStatus::WrongChannelCount, "C = 4");
    assert_eq!(n, 777);
    // a NaN in the last sample of a chunk: nothing of the chunk is consumed
    let mut bad = samples_uv(10, 5);
    bad[4 * C + 2] = f32::NAN;
    expect(
        push(s, &bad, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT).0,
        QssmStatus::NonFiniteInput,
        "channel 2, sample 4",
    );
    let bad_cm = transpose(&bad, 5, C);
    expect(
        push(s, &bad_cm, QSSM_LAYOUT_CHANNEL_MAJOR, QSSM_UNIT_MICROVOLT).0,
        QssmStatus::NonFiniteInput,
        "channel 2, sample 4",
    );
    check_unchanged();
    let st = unsafe {
        qssm_stream_push(
            s,
            x.as_ptr(),
            x.len(),
            C,
            QSSM_LAYOUT_SAMPLE_MAJOR,
            QSSM_UNIT_MICROVOLT,
            null_mut(),
        )
    };
    expect(st, QssmStatus::NullArgument, "out_n_predictions");
    let st = unsafe {
        qssm_stream_push(
            s,
            null(),
            4,
            C,
            QSSM_LAYOUT_SAMPLE_MAJOR,
            QSSM_UNIT_MICROVOLT,
            &mut n,
        )
    };
    expect(st, QssmStatus::NullArgument, "data");
    check_unchanged();
    // latest: buffer too small, missing out-params
    let mut probs = [0.0f32; K];
    let (mut class, mut seen) = (0usize, 0u64);
    let st = unsafe {
        qssm_stream_latest(
            s,
            null_mut(),
            probs.as_mut_ptr(),
            K - 1,
            &mut class,
            &mut seen,
        )
    };
    expect(st, QssmStatus::BufferTooSmall, "n_classes = 2");
    let st = unsafe { qssm_stream_latest(s, null_mut(), null_mut(), 0, null_mut(), &mut seen) };
    expect(st, QssmStatus::NullArgument, "out_class");
    // hop 0
    let mut s2 = null_mut();
    expect(
        unsafe { qssm_stream_new(m, 0, &mut s2) },
        QssmStatus::InvalidHop,
        "hop 0",
    );
    assert!(s2.is_null());
    unsafe {
        qssm_stream_free(&mut { s });
        qssm_model_free(&mut { m });
    }
}

#[test]
fn caller_memory_streams_match_and_are_checked() {
    let bytes = model_bytes("3b", "mV");
    let m = load(&bytes);
    let (mut sb, mut kb) = (0usize, 0usize);
    unsafe {
        qssm_model_required_state_bytes(m, &mut sb);
        qssm_model_required_scratch_bytes(m, &mut kb);
    }
    // f32-aligned buffers, one float longer than needed
    let mut state = vec![f32::NAN; sb / 4 + 1];
    let mut scratch = vec![f32::NAN; kb / 4 + 1];
    let new_in = |state: *mut f32, sbytes: usize, scratch: *mut f32, kbytes: usize| {
        let mut s = null_mut();
        let st = unsafe {
            qssm_stream_new_in(m, 2, state.cast(), sbytes, scratch.cast(), kbytes, &mut s)
        };
        (st, s)
    };
    let (st, s0) = new_in(state.as_mut_ptr(), sb - 1, scratch.as_mut_ptr(), kb);
    expect(st, QssmStatus::BufferTooSmall, "state buffer");
    assert!(s0.is_null());
    let (st, _) = new_in(state.as_mut_ptr(), sb, scratch.as_mut_ptr(), kb - 4);
    expect(st, QssmStatus::BufferTooSmall, "scratch buffer");
    let misaligned = unsafe { state.as_mut_ptr().cast::<u8>().add(2).cast::<f32>() };
    let (st, _) = new_in(misaligned, sb, scratch.as_mut_ptr(), kb);
    expect(st, QssmStatus::MisalignedBuffer, "state");
    let (st, _) = new_in(state.as_mut_ptr(), sb + 4, state.as_mut_ptr(), kb);
    expect(st, QssmStatus::InvalidArgument, "overlap");
    let (st, _) = new_in(null_mut(), sb, scratch.as_mut_ptr(), kb);
    expect(st, QssmStatus::NullArgument, "state");

    let (st, mine) = new_in(state.as_mut_ptr(), sb + 4, scratch.as_mut_ptr(), kb + 4);
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    let lib = new_stream(m, 2);
    let x = samples_uv(11, 12);
    for s in [mine, lib] {
        assert_eq!(
            push(s, &x, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT),
            (QssmStatus::Ok, 6)
        );
    }
    assert_eq!(latest(mine).1.logits, latest(lib).1.logits);
    assert_eq!(
        state[1],
        (sb / 4) as f32,
        "the state lives in the caller's buffer"
    );
    assert!(state[sb / 4].is_nan(), "nothing past the state is written");
    // the stream keeps the model alive after the model handle is freed
    unsafe { qssm_model_free(&mut { m }) };
    assert_eq!(
        push(mine, &x, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT).0,
        QssmStatus::Ok
    );
    unsafe {
        qssm_stream_free(&mut { mine });
        qssm_stream_free(&mut { lib });
    }
}

#[test]
fn snapshot_and_restore_continue_bit_for_bit() {
    let bytes = model_bytes("3b", "mV");
    let m = load(&bytes);
    let a = new_stream(m, 1);
    let b = new_stream(m, 1);
    let x = samples_uv(12, 20);
    let (head, tail) = x.split_at(8 * C);
    assert_eq!(
        push(a, head, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT).0,
        QssmStatus::Ok
    );
    let mut sb = 0usize;
    unsafe { qssm_model_required_state_bytes(m, &mut sb) };
    let mut snap = vec![0.0f32; sb / 4];
    let mut written = 0usize;
    let st = unsafe { qssm_stream_snapshot(a, snap.as_mut_ptr().cast(), sb - 1, &mut written) };
    expect(st, QssmStatus::BufferTooSmall, "needs");
    assert_eq!(written, 0);
    let st = unsafe { qssm_stream_snapshot(a, snap.as_mut_ptr().cast(), sb, &mut written) };
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    assert_eq!(written, sb);
    let st = unsafe { qssm_stream_restore(b, snap.as_ptr().cast(), sb) };
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    assert_eq!(latest(b).0, QssmStatus::NoPrediction);
    let mut seen = 0;
    unsafe { qssm_stream_samples_seen(b, &mut seen) };
    assert_eq!(seen, 8);
    for s in [a, b] {
        assert_eq!(
            push(s, tail, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT).0,
            QssmStatus::Ok
        );
    }
    let (la, lb) = (latest(a).1, latest(b).1);
    assert_eq!(la.logits, lb.logits);
    assert_eq!(la.seen, 20);
    // corrupt or short snapshots are rejected, the stream unchanged
    let st = unsafe { qssm_stream_restore(b, snap.as_ptr().cast(), sb - 4) };
    expect(st, QssmStatus::InvalidSnapshot, "shorter");
    snap[0] = 9.0;
    let st = unsafe { qssm_stream_restore(b, snap.as_ptr().cast(), sb) };
    expect(st, QssmStatus::InvalidSnapshot, "format tag");
    unsafe { qssm_stream_samples_seen(b, &mut seen) };
    assert_eq!(seen, 20);
    unsafe {
        qssm_stream_free(&mut { a });
        qssm_stream_free(&mut { b });
        qssm_model_free(&mut { m });
    }
}

#[test]
fn last_error_copy_truncates_and_reports_the_length() {
    let st = unsafe { qssm_model_n_channels(null(), &mut 0) };
    assert_eq!(st, QssmStatus::NullArgument);
    let full = last_error();
    let mut buf = [0x55 as c_char; 8];
    let mut len = 0usize;
    let st = unsafe { qssm_last_error_copy(buf.as_mut_ptr(), buf.len(), &mut len) };
    assert_eq!(st, QssmStatus::Ok);
    assert_eq!(len, full.len());
    let got = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
    assert_eq!(got, &full[..7]);
    let st = unsafe { qssm_last_error_copy(buf.as_mut_ptr(), 0, &mut len) };
    assert_eq!(st, QssmStatus::BufferTooSmall);
    assert_eq!(
        unsafe { qssm_last_error_copy(null_mut(), 8, &mut len) },
        QssmStatus::NullArgument
    );
    // reading never changes the message
    assert_eq!(last_error(), full);
}

#[test]
fn the_last_error_is_per_thread() {
    let st = unsafe { qssm_model_n_channels(null(), &mut 0) };
    assert_eq!(st, QssmStatus::NullArgument);
    let other = std::thread::spawn(|| {
        let mine = last_error();
        let st = unsafe { qssm_model_load(b"x".as_ptr(), 1, &mut null_mut()) };
        (mine, st, last_error())
    })
    .join()
    .unwrap();
    assert_eq!(other.0, "");
    assert_eq!(other.1, QssmStatus::InvalidModel);
    assert!(last_error().contains("'model' is NULL"));
}

#[test]
fn a_model_is_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
}

/// The model-card classes of the hardening corpus through `qssm_model_load`: each refused with
/// `QSSM_STATUS_INVALID_MODEL` and a one-line message naming the field, no handle written.
#[test]
fn contradictory_or_out_of_range_cards_are_refused_at_load() {
    let good = model_bytes("3b", "mV");
    type Break = fn(&mut ModelCard);
    let cases: [(&str, Break); 6] = [
        ("input.sfreq", |c| c.input.sfreq = 1e12),
        ("input.sfreq", |c| c.input.sfreq = 0.0),
        ("input.n_times", |c| c.input.n_times += 1),
        ("input.channels", |c| {
            c.input.channels[1] = c.input.channels[0].clone()
        }),
        ("dropout", |c| c.hyperparameters.dropout = 2.0),
        ("input.unit", |c| c.input.unit = "mv".into()),
    ];
    for (field, breaks) in cases {
        let file = qssm_formats::model_file::ModelFile::parse(&good).unwrap();
        let mut card = file.card.clone();
        breaks(&mut card);
        let bytes = file.to_bytes_with_card(&card, TensorDtype::F32).unwrap();
        let mut m = null_mut();
        let st = unsafe { qssm_model_load(bytes.as_ptr(), bytes.len(), &mut m) };
        assert!(m.is_null(), "{field}");
        expect(st, QssmStatus::InvalidModel, field);
        assert!(!last_error().contains('\n'));
    }
}

/// An image model (`qt-cnn`, Quantum-Train's target CNN; card unit `none`) classifies through
/// the C ABI with `QSSM_UNIT_NONE`, bit-identical to the engine; a voltage unit is refused for
/// it, and `QSSM_UNIT_NONE` for an EEG model.
#[test]
fn an_image_model_classifies_with_the_unitless_code() {
    use qssm_trainer::export::{to_bytes as model_file, ExportInfo};
    use qssm_trainer::models::quantum_train::TargetCnnModel;
    use qssm_trainer::models::Model as _;
    let cfg = ModelConfig {
        n_channels: 1,
        n_classes: 10,
        ..ModelConfig::eeg(784)
    };
    let cnn = TargetCnnModel::new(cfg).unwrap();
    let params: Vec<f32> = noise(5, cnn.layout().len())
        .iter()
        .map(|v| v * 0.2)
        .collect();
    let info = ExportInfo {
        sfreq: 1.0,
        channels: vec!["pixel".into()],
        unit: "none".into(),
        preprocessing: serde_json::json!({"task": "smnist-10k"}),
        split: None,
        training: serde_json::json!(null),
        metrics: serde_json::json!(null),
    };
    let bytes = model_file(&cnn, &params, &info, TensorDtype::F32).unwrap();
    let engine = Engine::from_bytes(&bytes).unwrap();
    let m = load(&bytes);
    let mut unit = 0;
    assert_eq!(
        unsafe { qssm_model_input_unit(m, &mut unit) },
        QssmStatus::Ok
    );
    assert_eq!(unit, QSSM_UNIT_NONE);
    let image = noise(6, 784);
    let want = engine.classify_window(&image).unwrap();
    let (mut logits, mut probs, mut class) = ([0.0f32; 10], [0.0f32; 10], 99usize);
    let run = |unit, logits: &mut [f32; 10], probs: &mut [f32; 10], class: &mut usize| unsafe {
        qssm_model_classify_window(
            m,
            image.as_ptr(),
            image.len(),
            unit,
            logits.as_mut_ptr(),
            probs.as_mut_ptr(),
            10,
            class,
        )
    };
    let st = run(QSSM_UNIT_NONE, &mut logits, &mut probs, &mut class);
    assert_eq!(st, QssmStatus::Ok, "{}", last_error());
    assert_eq!(logits.to_vec(), want.logits);
    assert_eq!(probs.to_vec(), want.probabilities);
    assert_eq!(class, want.class);
    let st = run(QSSM_UNIT_MILLIVOLT, &mut logits, &mut probs, &mut class);
    expect(st, QssmStatus::UnknownUnit, "QSSM_UNIT_NONE");
    unsafe { qssm_model_free(&mut { m }) };
    // an EEG model takes voltages only
    let eeg = load(&model_bytes("3b", "mV"));
    let x = noise(3, C * T);
    let (st, ..) = classify(eeg, &x, QSSM_UNIT_NONE);
    expect(st, QssmStatus::UnknownUnit, "no unit");
    unsafe { qssm_model_free(&mut { eeg }) };
}
