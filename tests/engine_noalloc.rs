//! Proof that streaming allocates nothing after the stream is created: a counting global
//! allocator (`qssm-alloc-count`, counting only on the test's own thread, while armed)
//! around every [`qssm_engine::Stream`] operation — `push` with and without predictions,
//! `push_in` with unit conversion, `prediction`, `snapshot`, `restore`, `reset`, and the
//! error paths (wrong channel count, NaN, invalid snapshot, too-small snapshot buffer) — for
//! every model that streams (3b; the causal 1b and mg, chunked: chunk closes with their
//! circuits and, between chunk boundaries, on-demand predictions that close a partial chunk
//! in scratch; group 4's 4b and 4d: the Conv3 look-ahead, per-chunk composed / S3-superposed
//! circuits; 2d: per-sample front-end, chunks of 32, S3-superposed circuits; the HQC Mamba),
//! at EEG size, from f32 and f16 model files (3b and causal 1b also with an input filter and
//! normalisation in the card), with owned and caller-lent buffers. Its own test binary
//! because a `#[global_allocator]` is process-wide.
use qssm_alloc_count::{on_this_thread, Counting};
use qssm_engine::{EngineError, Model as Engine, Stream, StreamOptions, Unit};
use qssm_formats::model_file::{to_bytes, TensorDtype, TensorOut};
use qssm_kernels::signal::design::{design, FilterSpec};
use qssm_trainer::data::input_filter::{card_entry, normalisation_card, ChannelStats};
use qssm_trainer::export::{model_card, ExportInfo};
use qssm_trainer::models::{registry, ModelConfig};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (and frees) made on this thread while running `f`.
fn allocations_in(f: impl FnOnce()) -> usize {
    allocations_and_bytes_in(f).0
}

/// (allocations and frees, bytes allocated) on this thread while `f` runs.
fn allocations_and_bytes_in(f: impl FnOnce()) -> (usize, usize) {
    let (_, c) = on_this_thread(f);
    (c.allocations, c.bytes)
}

/// A random-weight EEG-size model file (C 64; 3b: D 128, N 16, 2 blocks; causal 1b: D 128,
/// N 16, Q 6, 2 blocks; mg: n 6, H 64, chunk 8; 4b, 4d, 2d: D 128, Q 6, L 2) with the card the
/// trainer's export writes.
fn model_file(id: &str, dtype: TensorDtype, preprocessing: serde_json::Value) -> Vec<u8> {
    let cfg = ModelConfig {
        causal: id == "1b",
        ..ModelConfig::eeg(32)
    };
    let model = registry::build(id, cfg.clone()).expect("model in the registry");
    let mut s = 7u64;
    let params: Vec<f32> = (0..model.layout().len())
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.3
        })
        .collect();
    let info = ExportInfo {
        sfreq: 160.0,
        channels: (1..=cfg.n_channels).map(|i| format!("Ch{i}")).collect(),
        unit: "mV".into(),
        preprocessing,
        split: None,
        training: serde_json::json!({}),
        metrics: serde_json::json!({}),
    };
    let card = model_card(model.as_ref(), &info);
    assert!(card.causal, "{id} streams");
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
    to_bytes(&card, &tensors, dtype).expect("serialises")
}

/// The models whose streams run their shared description's streaming form (planned per
/// stream: creating one on lent buffers allocates the plans' bookkeeping, never an f32).
const STREAM_THROUGH_DESCRIPTION: [&str; 5] = ["mg", "1b", "2d", "4b", "4d"];

/// Whether model `id` streams through its description in this build (3b with feature
/// `stream-3b-description`).
fn through_description(id: &str) -> bool {
    STREAM_THROUGH_DESCRIPTION.contains(&id)
        || (cfg!(feature = "stream-3b-description") && id == "3b")
}

/// Most bytes creating one of those streams on lent buffers may allocate (bookkeeping only).
const CREATION_BYTES: usize = 40 * 1024;

/// Every stream operation, many times; returns how many predictions came out (so the work is
/// not optimised away).
fn exercise(
    s: &mut Stream<'_>,
    samples: &[Vec<f32>],
    snap: &mut [f32],
    short: &mut [f32],
) -> usize {
    let mut emitted = 0;
    for (i, x) in samples.iter().enumerate() {
        let p = if i % 2 == 0 {
            s.push(x)
        } else {
            s.push_in(x, Unit::Microvolt)
        };
        if let Some(p) = p.expect("push") {
            emitted += p.class + 1;
        }
        if i == 20 {
            s.snapshot(snap).expect("snapshot");
        }
        if i == 40 {
            s.restore(snap).expect("restore");
        }
        if i == 50 {
            s.reset();
        }
        if i % 7 == 0 {
            emitted += s
                .prediction()
                .expect("prediction")
                .map_or(0, |p| p.class + 1);
        }
    }
    // error paths
    assert!(matches!(
        s.push(&samples[0][..3]),
        Err(EngineError::WrongChannelCount { .. })
    ));
    let mut bad = [0.0f32; 64];
    bad[5] = f32::NAN;
    assert!(matches!(
        s.push(&bad),
        Err(EngineError::NonFiniteInput { .. })
    ));
    assert!(matches!(
        s.push_in(&bad, Unit::Volt),
        Err(EngineError::NonFiniteInput { .. })
    ));
    snap[0] = 99.0;
    assert!(matches!(
        s.restore(snap),
        Err(EngineError::InvalidSnapshot { .. })
    ));
    assert!(matches!(
        s.snapshot(short),
        Err(EngineError::BufferTooSmall { .. })
    ));
    emitted
}

#[test]
fn streaming_allocates_nothing_after_creation() {
    // the counter works
    let n = allocations_in(|| drop(std::hint::black_box(vec![1u8; 3])));
    assert_eq!(n, 2, "one allocation and one free");
    let samples: Vec<Vec<f32>> = (0..120)
        .map(|t| {
            (0..64)
                .map(|c| ((t * 64 + c) as f32 * 0.37).sin() * 0.05)
                .collect()
        })
        .collect();
    // (model, step): hops of one and five steps
    for (id, step) in [
        ("3b", 1),
        ("1b", 32),
        ("mg", 8),
        ("4b", 16),
        ("4d", 16),
        ("2d", 32),
    ] {
        for dtype in [TensorDtype::F32, TensorDtype::F16] {
            check_model(id, step, dtype, &samples, serde_json::json!({}));
        }
    }
    // input conditioning in the card (a band-pass + notch filter and a per-channel z-score):
    // applied in every push, still nothing allocated
    let spec = FilterSpec {
        fs: 160.0,
        highpass_hz: Some(1.0),
        lowpass_hz: Some(30.0),
        order: 4,
        notch_hz: Some(50.0),
        notch_q: 30.0,
    };
    let sos = design(&spec).unwrap();
    let stats = ChannelStats {
        mean: (0..64).map(|c| c as f32 * 1e-3).collect(),
        std: (0..64).map(|c| 0.02 + c as f32 * 1e-4).collect(),
    };
    let pre = serde_json::json!({
        "filter": card_entry(&sos, &spec),
        "normalisation": normalisation_card(&stats),
    });
    for (id, step) in [("3b", 1), ("1b", 32)] {
        for dtype in [TensorDtype::F32, TensorDtype::F16] {
            check_model(id, step, dtype, &samples, pre.clone());
        }
    }
}

/// [`exercise`] on model `id` (step = its chunk) from a `dtype` file, hops of 1 and 5 steps,
/// owned and lent buffers: no allocation.
fn check_model(
    id: &str,
    step: usize,
    dtype: TensorDtype,
    samples: &[Vec<f32>],
    preprocessing: serde_json::Value,
) {
    let conditioned = preprocessing.get("filter").is_some();
    let bytes = model_file(id, dtype, preprocessing);
    let model = Engine::from_bytes(&bytes).expect("loads");
    assert_eq!(!model.input_filter().is_identity(), conditioned);
    let ns = model.stream_state_len().unwrap();
    let mut snap = vec![0.0f32; ns];
    let mut short = vec![0.0f32; ns - 1];
    for hop in [step, 5 * step] {
        let mut own = model.stream(StreamOptions { hop }).unwrap();
        // warm-up outside the armed region (one-time CPU feature detection)
        own.push(&samples[0]).unwrap();
        own.reset();
        let mut emitted = 0;
        let n = allocations_in(|| emitted = exercise(&mut own, samples, &mut snap, &mut short));
        assert_eq!(
            n, 0,
            "{id} {dtype:?} hop {hop}: {n} allocations in the push path (owned buffers)"
        );
        assert!(emitted > 0);

        let mut st = vec![0.0f32; ns];
        let mut sc = vec![0.0f32; model.stream_scratch_len().unwrap()];
        let lent_bytes = 4 * sc.len();
        let mut lent = None;
        let (created, bytes) = allocations_and_bytes_in(|| {
            lent = Some(
                Stream::with_buffers(&model, StreamOptions { hop }, &mut st, &mut sc).unwrap(),
            );
        });
        let mut lent = lent.unwrap();
        if through_description(id) {
            // the plans' bookkeeping (shapes, the plan structs, the compiled circuits),
            // once; every f32 is lent: a bound well under any state or activation buffer of
            // these models (1b: 31 KB, mg: 23 KB, 2d: 28 KB, 4b: 19 KB, 4d: 34 KB measured) catches
            // one falling to the heap
            eprintln!(
                "{id} {dtype:?} hop {hop}: {created} allocations and frees, {bytes} bytes at creation ({lent_bytes} bytes of scratch lent)"
            );
            assert!(
                bytes <= CREATION_BYTES,
                "{id} {dtype:?} hop {hop}: {bytes} bytes allocated creating a stream on lent buffers"
            );
        } else {
            assert_eq!(
                created, 0,
                "{id} {dtype:?} hop {hop}: {created} allocations creating a stream on lent buffers"
            );
        }
        let n = allocations_in(|| emitted = exercise(&mut lent, samples, &mut snap, &mut short));
        assert_eq!(
            n, 0,
            "{id} {dtype:?} hop {hop}: {n} allocations running a stream on lent buffers"
        );
        eprintln!(
            "{id} {dtype:?} hop {hop} (conditioned: {conditioned}): 0 allocations over {} samples",
            samples.len()
        );
    }
}

/// Model A (`hqc-mamba`: quantum `in_proj`, `x_proj`, `out_proj`, one QProj circuit each per
/// token, streamed through its description, the state vectors in the backend's scratch), f32
/// and f16, owned and lent buffers: pushing pixels, predictions (hop 8 and on demand),
/// snapshot/restore and reset allocate nothing.
#[test]
fn model_a_streams_without_allocating() {
    use qssm_trainer::models::nn::{Batched, ProjKind, QProjOptions};
    use qssm_trainer::models::zoo::TrueClassicalMamba;
    use qssm_trainer::models::Model as _;
    let cfg = ModelConfig {
        n_channels: 1,
        d_model: 32,
        d_state: 16,
        n_layers: 2,
        n_classes: 10,
        dropout: 0.0,
        ..ModelConfig::eeg(64)
    };
    let proj = ProjKind::Quantum(QProjOptions::default());
    let net = Batched::new(TrueClassicalMamba::hqc_mamba(cfg, 4, &proj));
    let mut s = 11u64;
    let params: Vec<f32> = (0..net.layout().len())
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.6
        })
        .collect();
    let info = ExportInfo {
        sfreq: 1.0,
        channels: vec!["pixel".into()],
        unit: "none".into(),
        preprocessing: serde_json::json!({}),
        split: None,
        training: serde_json::json!({}),
        metrics: serde_json::json!({}),
    };
    let pixels: Vec<[f32; 1]> = (0..100).map(|t| [(t as f32 * 0.37).sin()]).collect();
    for dtype in [TensorDtype::F32, TensorDtype::F16] {
        let bytes =
            qssm_trainer::export::to_bytes(&net, &params, &info, dtype).expect("serialises");
        let model = Engine::from_bytes(&bytes).expect("loads");
        assert_eq!(model.model_id(), "hqc-mamba");
        let ns = model.stream_state_len().unwrap();
        let mut snap = vec![0.0f32; ns];
        let run = |st: &mut Stream<'_>, snap: &mut [f32]| {
            let mut emitted = 0;
            for (i, x) in pixels.iter().enumerate() {
                if let Some(p) = st.push(x).expect("push") {
                    emitted += p.class + 1;
                }
                if i % 7 == 0 {
                    emitted += st.prediction().unwrap().map_or(0, |p| p.class + 1);
                }
                match i {
                    20 => {
                        st.snapshot(snap).unwrap();
                    }
                    40 => st.restore(snap).unwrap(),
                    60 => st.reset(),
                    _ => {}
                }
            }
            assert!(matches!(
                st.push(&[f32::NAN]),
                Err(EngineError::NonFiniteInput { .. })
            ));
            emitted
        };
        let mut own = model.stream(StreamOptions { hop: 8 }).unwrap();
        own.push(&pixels[0]).unwrap();
        own.reset();
        let mut emitted = 0;
        let n = allocations_in(|| emitted = run(&mut own, &mut snap));
        assert_eq!(n, 0, "hqc-mamba {dtype:?}: {n} allocations (owned buffers)");
        assert!(emitted > 0);
        let mut st = vec![0.0f32; ns];
        let mut sc = vec![0.0f32; model.stream_scratch_len().unwrap()];
        // creating the stream plans its steps once: bookkeeping on the heap (bounded as for the
        // other description streams), every f32 in `sc`; running it allocates nothing
        let lent_bytes = 4 * sc.len();
        let mut lent = None;
        let (_, bytes) = allocations_and_bytes_in(|| {
            lent = Some(
                Stream::with_buffers(&model, StreamOptions { hop: 8 }, &mut st, &mut sc).unwrap(),
            );
        });
        eprintln!(
            "hqc-mamba {dtype:?}: {bytes} bytes at creation ({lent_bytes} bytes of scratch lent)"
        );
        assert!(
            bytes <= CREATION_BYTES,
            "hqc-mamba {dtype:?}: {bytes} bytes allocated creating a stream on lent buffers"
        );
        let mut lent = lent.unwrap();
        let n = allocations_in(|| emitted = run(&mut lent, &mut snap));
        assert_eq!(n, 0, "hqc-mamba {dtype:?}: {n} allocations (lent buffers)");
        eprintln!(
            "hqc-mamba {dtype:?}: 0 allocations over {} pixels",
            pixels.len()
        );
    }
}
