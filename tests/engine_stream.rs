//! The engine's streaming path ([`qssm_engine::Stream`]) against the window path and the
//! trainer: a causal model fed one time sample at a time must give, after t samples, the
//! prediction of the model applied to those t samples (prefix semantics; spec §6: 3b is causal
//! up to its mean pool).
//!
//! * streaming = batch: the reference fixtures `3b` / `3b_bigdt` (EEG size, T = 90) and
//!   random-weight 3b models of other sizes; the prediction after the last sample equals
//!   `classify_window` and the trainer's `forward_eval` (≤ 1e-4), and prefixes equal the
//!   trainer on the prefix window;
//! * a property test over random inputs and push patterns (hops, resets, snapshot/restore in
//!   the middle, units): every emitted prediction is bit-identical to a plain hop-1 stream's;
//! * f16 files stream from f16 weights and agree with the f16 window path;
//! * bad input (wrong channel count, NaN/±∞ → typed error and the state unchanged), non-causal
//!   models (`NotCausal`), bad hops, too-small buffers, invalid snapshots.
//!
//! The zero-allocation guarantee of `push` is proved separately (`engine_noalloc.rs`: it needs
//! its own global allocator).
use qssm_engine::{
    required_scratch_bytes, required_state_bytes, EngineError, Model as Engine, Stream,
    StreamOptions, Unit,
};
use qssm_formats::model_file::TensorDtype;
use qssm_tests::engine_case::{
    blob, blob_with, card as test_card, from_fixture, noise, prefix, sample, Case, Rng,
};
use qssm_tests::max_abs_diff;
use qssm_trainer::models::{registry, ModelConfig};

/// Tolerance of stream vs window / trainer logits.
const TOL: f32 = 1e-4;

/// Trainer logits of the first `t` samples of `window` (C, T): the same weights built for
/// n_times = t (3b's parameters do not depend on T).
fn trainer_prefix(case: &Case, window: &[f32], t: usize) -> Vec<f32> {
    let big_t = case.model.config().n_times;
    case.model_t(t)
        .forward_eval(&case.params, &prefix(window, big_t, t))
}

/// A random-weight model of the given sizes (weights like the trainer's init scale).
fn synthetic(id: &str, c: usize, t: usize, d: usize, n: usize, layers: usize, k: usize) -> Case {
    let cfg = ModelConfig {
        n_channels: c,
        n_times: t,
        d_model: d,
        d_state: n,
        n_qubits: 2,
        n_layers: layers,
        n_classes: k,
        dropout: 0.1,
        ..ModelConfig::eeg(t)
    };
    let model = registry::build(id, cfg).expect("model in registry");
    let seed = (c * 1_000_003 + t * 1009 + d * 101 + n * 11 + layers * 3 + k) as u64;
    let mut params = noise(seed, model.layout().len());
    params.iter_mut().for_each(|v| *v *= 0.3);
    let b = 2;
    let x = noise(seed + 1, b * c * t).iter().map(|v| v * 0.5).collect();
    Case {
        name: format!("synthetic {id} C{c} T{t} D{d} N{n} L{layers} K{k}"),
        model,
        params,
        x,
        b,
        want: None,
    }
}

fn engine(case: &Case, dtype: TensorDtype) -> Engine {
    Engine::from_bytes(&blob(case, dtype)).expect("engine loads the file")
}

/// Streams every window of `case` sample by sample (hop 1) through a model loaded from a
/// `dtype` file and checks: the last prediction = `classify_window` (same file) and, for f32,
/// = the trainer's `forward_eval`; the prefixes in `prefixes` = the trainer on the prefix (f32)
/// or the f32 stream (f16, within `f16_tol`). Returns (max |stream − window|, max |stream −
/// trainer|).
fn check_stream(case: &Case, dtype: TensorDtype, prefixes: &[usize]) -> (f32, f32) {
    let eng = engine(case, dtype);
    let (c, t) = (eng.n_channels(), eng.n_times());
    let mut s = eng.stream(StreamOptions::default()).expect("3b streams");
    let (mut d_window, mut d_trainer) = (0.0f32, 0.0f32);
    for i in 0..case.b {
        let w = case.window(i);
        s.reset();
        assert_eq!(s.samples_seen(), 0);
        let mut last = None;
        for ti in 0..t {
            let x = sample(w, t, ti);
            assert_eq!(x.len(), c);
            let p = s
                .push(&x)
                .expect("push")
                .expect("hop 1: a prediction per sample");
            assert_eq!(p.samples_seen, ti as u64 + 1);
            let sum: f32 = p.probabilities.iter().sum();
            assert!((sum - 1.0).abs() <= 1e-6, "probabilities sum to {sum}");
            let best = p.logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(p.logits[p.class], best, "class is the argmax");
            if prefixes.contains(&(ti + 1)) && dtype == TensorDtype::F32 {
                let want = trainer_prefix(case, w, ti + 1);
                let d = max_abs_diff(p.logits, &want);
                assert!(
                    d <= TOL,
                    "{}: prefix of {} samples: stream vs trainer {d:e}",
                    case.name,
                    ti + 1
                );
                d_trainer = d_trainer.max(d);
            }
            last = Some(p.to_prediction());
        }
        let last = last.expect("T ≥ 1");
        let win = eng.classify_window(w).expect("window classifies");
        let d = max_abs_diff(&last.logits, &win.logits);
        assert!(
            d <= TOL,
            "{} [{dtype:?}]: stream vs window {d:e}",
            case.name
        );
        assert_eq!(last.class, win.class);
        d_window = d_window.max(d);
        if dtype == TensorDtype::F32 {
            let want = case.model.forward_eval(&case.params, w);
            let d = max_abs_diff(&last.logits, &want);
            assert!(d <= TOL, "{}: stream vs trainer {d:e}", case.name);
            d_trainer = d_trainer.max(d);
        }
    }
    let vs_trainer = match dtype {
        TensorDtype::F32 => format!("{d_trainer:e}"),
        TensorDtype::F16 => "n/a (f16 weights)".into(),
    };
    eprintln!(
        "{} [{dtype:?}, {} weight bytes]: max |stream − window| = {d_window:e}, max |stream − trainer| = {vs_trainer}",
        case.name,
        eng.weight_bytes()
    );
    (d_window, d_trainer)
}

fn fixture_case(name: &str) {
    let Some(case) = from_fixture(name) else {
        return;
    };
    let t = case.model.config().n_times;
    check_stream(&case, TensorDtype::F32, &[1, 2, 3, 4, 5, 17, t / 2, t]);
    check_stream(&case, TensorDtype::F16, &[]);
    // against the reference PyTorch logits too
    let fx = qssm_tests::Fixture::load(name).expect("fixture");
    let want = &fx.get("output.logits_eval").data;
    let eng = engine(&case, TensorDtype::F32);
    let k = eng.n_classes();
    for i in 0..case.b {
        let mut s = eng.stream(StreamOptions { hop: t }).unwrap();
        let w = case.window(i);
        for ti in 0..t - 1 {
            assert!(s.push(&sample(w, t, ti)).unwrap().is_none());
        }
        let p = s.push(&sample(w, t, t - 1)).unwrap().expect("hop = T");
        let d = max_abs_diff(p.logits, &want[i * k..(i + 1) * k]);
        eprintln!("{name}: window {i}: max |stream − PyTorch| = {d:e}");
        assert!(d <= TOL, "{name}: stream vs PyTorch {d:e}");
    }
}

#[test]
fn fixture_3b_streams_like_the_window() {
    fixture_case("3b");
}

#[test]
fn fixture_3b_bigdt_streams_like_the_window() {
    fixture_case("3b_bigdt");
}

/// Random-weight 3b models of other sizes: odd widths (matvec tails), d_state 1, one or three
/// blocks, one or four classes, dt_rank ⌈D/16⌉ > 1; every prefix checked on the small ones.
#[test]
fn synthetic_sizes_stream_like_the_window_at_every_prefix() {
    for &(c, t, d, n, layers, k) in &[
        (3, 23, 8, 1, 1, 2),
        (5, 30, 16, 4, 3, 3),
        (2, 19, 24, 7, 2, 4),
        (7, 25, 20, 5, 2, 1),
    ] {
        let case = synthetic("3b", c, t, d, n, layers, k);
        let all: Vec<usize> = (1..=t).collect();
        check_stream(&case, TensorDtype::F32, &all);
        check_stream(&case, TensorDtype::F16, &[]);
    }
    // EEG width with a longer window
    let case = synthetic("3b", 64, 160, 128, 16, 2, 2);
    check_stream(&case, TensorDtype::F32, &[1, 4, 80, 160]);
    check_stream(&case, TensorDtype::F16, &[]);
}

/// f16 file: streams from f16 weights (half the weight bytes) and stays close to f32. Storage:
/// the weight matrices once in the file's dtype (the shared description's store, which the
/// stream reads in place), the small tensors (biases, norms, conv kernels, SSM parameters) once
/// in f32 for the description, plus the engine streaming form's own f32 copies of them.
#[test]
fn f16_weights_are_kept_as_f16() {
    let case = synthetic("3b", 64, 40, 128, 16, 2, 2);
    let (e32, e16) = (
        engine(&case, TensorDtype::F32),
        engine(&case, TensorDtype::F16),
    );
    let linear: usize = case
        .model
        .layout()
        .specs()
        .iter()
        .filter(|s| s.shape.len() == 2 && !s.name.ends_with("A_log"))
        .map(|s| s.shape.iter().product::<usize>())
        .sum();
    let total = case.model.layout().len();
    let small = total - linear;
    // the engine streaming form's f32 copies of the small tensors (none when 3b streams
    // through its description)
    let copies = if cfg!(feature = "stream-3b-description") {
        0
    } else {
        4 * small
    };
    assert_eq!(e32.weight_bytes(), 4 * total + copies);
    assert_eq!(e16.weight_bytes(), 2 * linear + 4 * small + copies);
    eprintln!(
        "EEG 3b: weights {} bytes (f32 file), {} bytes (f16 file)",
        e32.weight_bytes(),
        e16.weight_bytes()
    );
    let t = e32.n_times();
    let (mut s32, mut s16) = (
        e32.stream(StreamOptions::default()).unwrap(),
        e16.stream(StreamOptions::default()).unwrap(),
    );
    let mut dmax = 0.0f32;
    for ti in 0..t {
        let x = sample(case.window(0), t, ti);
        let p32 = s32.push(&x).unwrap().unwrap().to_prediction();
        let p16 = s16.push(&x).unwrap().unwrap().to_prediction();
        dmax = dmax.max(max_abs_diff(&p32.logits, &p16.logits));
    }
    eprintln!("EEG 3b: max |f16 − f32| stream logits over {t} prefixes = {dmax:e}");
    assert!(dmax <= 1e-2, "{dmax}");
}

/// What a plain stream (hop 1, no interruptions) predicts after each sample of `xs`.
fn reference_run(eng: &Engine, xs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let mut s = eng.stream(StreamOptions::default()).unwrap();
    xs.iter()
        .map(|x| s.push(x).unwrap().unwrap().logits.to_vec())
        .collect()
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Property test: random inputs and random push patterns — hops, resets, snapshot/restore
/// with a divergent detour in between, a second stream restored from a snapshot, caller
/// buffers, push_in with the card's unit. Every emitted prediction must be bit-identical to a
/// plain hop-1 stream over the same segment, emitted exactly at multiples of the hop, and each
/// segment's final prediction must match the trainer on that segment.
#[test]
fn random_push_patterns_match_a_plain_stream() {
    let mut rng = Rng(2024);
    for round in 0..12 {
        let (c, d, n, layers, k) = [
            (3, 8, 2, 1, 2),
            (4, 16, 4, 2, 3),
            (2, 12, 3, 2, 2),
            (6, 24, 5, 1, 4),
        ][round % 4];
        let big_t = 64;
        let case = synthetic("3b", c, big_t, d, n, layers, k);
        let eng = engine(&case, TensorDtype::F32);
        let hop = 1 + rng.below(7);
        let mut s = eng.stream(StreamOptions { hop }).unwrap();
        let mut seg: Vec<Vec<f32>> = Vec::new(); // samples since the last reset
        let mut snap = vec![f32::NAN; eng.stream_state_len().unwrap()];
        let mut saved: Option<usize> = None; // segment length at the snapshot
        let mut seed = 1000 * round as u64;
        let fresh = |seed: &mut u64| {
            *seed += 1;
            let scale = [0.05f32, 0.5, 2.0][(*seed % 3) as usize];
            noise(*seed, c)
                .iter()
                .map(|v| v * scale)
                .collect::<Vec<f32>>()
        };
        for _op in 0..160 {
            match rng.below(20) {
                0 => {
                    // reset: a new segment
                    if let Some(last) = seg.len().checked_sub(1) {
                        check_segment_end(&case, &eng, &seg, last);
                    }
                    s.reset();
                    seg.clear();
                    saved = None;
                }
                1 => {
                    assert_eq!(s.snapshot(&mut snap).unwrap(), snap.len());
                    saved = Some(seg.len());
                }
                2 if saved.is_some() => {
                    // detour: push a few unrelated samples, then go back to the snapshot
                    for _ in 0..1 + rng.below(5) {
                        let x = fresh(&mut seed);
                        s.push(&x).unwrap();
                    }
                    s.restore(&snap).unwrap();
                    seg.truncate(saved.unwrap());
                    assert_eq!(s.samples_seen(), seg.len() as u64);
                }
                3 if saved.is_some() => {
                    // a second stream (caller buffers) continues from the snapshot
                    let mut st = vec![0.0; eng.stream_state_len().unwrap() + 3];
                    let mut sc = vec![0.0; eng.stream_scratch_len().unwrap()];
                    let mut s2 =
                        Stream::with_buffers(&eng, StreamOptions::default(), &mut st, &mut sc)
                            .unwrap();
                    s2.restore(&snap).unwrap();
                    let mut seg2 = seg[..saved.unwrap()].to_vec();
                    for _ in 0..1 + rng.below(4) {
                        seg2.push(fresh(&mut seed));
                        let p = s2.push(seg2.last().unwrap()).unwrap().unwrap();
                        let want = reference_run(&eng, &seg2);
                        assert!(same_bits(p.logits, want.last().unwrap()));
                    }
                }
                _ => {
                    let x = fresh(&mut seed);
                    seg.push(x.clone());
                    let out = if rng.below(2) == 0 {
                        s.push(&x).unwrap().map(|p| p.to_prediction())
                    } else {
                        s.push_in(&x, Unit::Millivolt)
                            .unwrap()
                            .map(|p| p.to_prediction())
                    };
                    assert_eq!(s.samples_seen(), seg.len() as u64);
                    let due = seg.len().is_multiple_of(hop);
                    assert_eq!(out.is_some(), due, "hop {hop}, after {} samples", seg.len());
                    if let Some(p) = out {
                        let want = reference_run(&eng, &seg);
                        assert!(
                            same_bits(&p.logits, want.last().unwrap()),
                            "round {round}, hop {hop}, {} samples: {:?} vs {:?}",
                            seg.len(),
                            p.logits,
                            want.last()
                        );
                    }
                    // on demand, regardless of the hop (now and then, so that samples are
                    // also held back and run in blocks of up to 4 between predictions)
                    if rng.below(3) == 0 {
                        let now = s.prediction().unwrap().unwrap();
                        assert_eq!(now.samples_seen, seg.len() as u64);
                        let want = reference_run(&eng, &seg);
                        assert!(same_bits(now.logits, want.last().unwrap()));
                    }
                }
            }
        }
        if let Some(last) = seg.len().checked_sub(1) {
            check_segment_end(&case, &eng, &seg, last);
        }
    }
}

/// The stream's prediction for segment `seg[..=last]` against the trainer and the window path
/// on the same samples.
fn check_segment_end(case: &Case, eng: &Engine, seg: &[Vec<f32>], last: usize) {
    let t = last + 1;
    let c = seg[0].len();
    let window: Vec<f32> = (0..c)
        .flat_map(|ci| seg[..t].iter().map(move |x| x[ci]))
        .collect();
    let got = reference_run(eng, &seg[..t]);
    let cfg = ModelConfig {
        n_times: t,
        ..case.model.config().clone()
    };
    let m = registry::build("3b", cfg).unwrap();
    let want = m.forward_eval(&case.params, &window);
    let d = max_abs_diff(got.last().unwrap(), &want);
    assert!(d <= TOL, "segment of {t}: stream vs trainer {d:e}");
}

#[test]
fn units_are_converted() {
    let case = synthetic("3b", 4, 30, 16, 4, 2, 2);
    let eng = engine(&case, TensorDtype::F32);
    assert_eq!(eng.unit(), Some(Unit::Millivolt));
    let t = eng.n_times();
    let mut mv = eng.stream(StreamOptions::default()).unwrap();
    let mut uv = eng.stream(StreamOptions::default()).unwrap();
    let mut v = eng.stream(StreamOptions::default()).unwrap();
    for ti in 0..t {
        let x = sample(case.window(0), t, ti);
        let a = mv.push(&x).unwrap().unwrap().to_prediction();
        let xu: Vec<f32> = x.iter().map(|x| x * 1e3).collect();
        let b = uv
            .push_in(&xu, Unit::Microvolt)
            .unwrap()
            .unwrap()
            .to_prediction();
        let xv: Vec<f32> = x.iter().map(|x| x * 1e-3).collect();
        let c = v.push_in(&xv, Unit::Volt).unwrap().unwrap().to_prediction();
        assert!(max_abs_diff(&a.logits, &b.logits) <= 1e-5);
        assert!(max_abs_diff(&a.logits, &c.logits) <= 1e-5);
    }
    // a card naming no unit at all is refused when loaded (the one card check)
    let mut card = test_card(case.model.as_ref());
    card.input.unit = "arbitrary units".into();
    assert!(matches!(
        Engine::from_bytes(&blob_with(&case, &card, TensorDtype::F32, |_| true)),
        Err(EngineError::Mismatch { what }) if what.contains("input.unit")
    ));
    // a card without a voltage unit (`none`, non-EEG tasks): push works, push_in is a typed
    // error
    card.input.unit = "none".into();
    let odd = Engine::from_bytes(&blob_with(&case, &card, TensorDtype::F32, |_| true)).unwrap();
    assert_eq!(odd.unit(), None);
    let mut s = odd.stream(StreamOptions::default()).unwrap();
    let x = sample(case.window(0), t, 0);
    assert!(matches!(
        s.push_in(&x, Unit::Microvolt),
        Err(EngineError::UnknownInputUnit)
    ));
    assert_eq!(s.samples_seen(), 0);
    assert!(s.push(&x).unwrap().is_some());
}

/// Streams a few samples and returns the stream's state.
fn warm_stream<'a>(eng: &'a Engine, case: &Case, n: usize) -> Stream<'a> {
    let mut s = eng.stream(StreamOptions { hop: 3 }).unwrap();
    let t = eng.n_times();
    for ti in 0..n {
        s.push(&sample(case.window(0), t, ti)).unwrap();
    }
    s
}

#[test]
fn bad_samples_are_rejected_and_leave_the_state_unchanged() {
    let case = synthetic("3b", 5, 20, 16, 4, 2, 2);
    let eng = engine(&case, TensorDtype::F32);
    let mut s = warm_stream(&eng, &case, 7);
    let before = s.state().to_vec();
    let good = sample(case.window(0), 20, 7);
    for len in [0, 1, 4, 6, 10] {
        match s.push(&vec![0.1; len]) {
            Err(EngineError::WrongChannelCount { expected, found }) => {
                assert_eq!((expected, found), (5, len))
            }
            other => panic!("length {len}: {other:?}"),
        }
        assert!(matches!(
            s.push_in(&vec![0.1; len], Unit::Microvolt),
            Err(EngineError::WrongChannelCount { .. })
        ));
    }
    for (channel, v) in [(0, f32::NAN), (2, f32::INFINITY), (4, f32::NEG_INFINITY)] {
        let mut x = good.clone();
        x[channel] = v;
        for unit in [None, Some(Unit::Millivolt), Some(Unit::Microvolt)] {
            let r = match unit {
                None => s.push(&x),
                Some(u) => s.push_in(&x, u),
            };
            match r {
                Err(e @ EngineError::NonFiniteInput { .. }) => {
                    assert!(
                        matches!(e, EngineError::NonFiniteInput { channel: c, sample: 7 } if c == channel),
                        "{e:?}"
                    );
                    assert!(!e.to_string().contains('\n'));
                }
                other => panic!("{v} at channel {channel}: {other:?}"),
            }
        }
    }
    // finite in volts, overflows when converted to mV
    let mut huge = good.clone();
    huge[3] = f32::MAX / 2.0;
    assert!(matches!(
        s.push_in(&huge, Unit::Volt),
        Err(EngineError::NonFiniteInput {
            channel: 3,
            sample: 7
        })
    ));
    assert!(
        same_bits(s.state(), &before),
        "state changed by a rejected sample"
    );
    assert_eq!(s.samples_seen(), 7);
    // and the stream goes on as if nothing happened
    let mut clean = warm_stream(&eng, &case, 7);
    for ti in 7..9 {
        let x = sample(case.window(0), 20, ti);
        let a = s.push(&x).unwrap().map(|p| p.to_prediction());
        let b = clean.push(&x).unwrap().map(|p| p.to_prediction());
        assert_eq!(a, b);
        assert_eq!(a.is_some(), ti == 8, "hop 3: a prediction after 9 samples");
    }
}

#[test]
fn non_causal_models_do_not_stream() {
    // 1b: the card says causal = false
    let case = synthetic("1b", 4, 40, 16, 4, 2, 3);
    let eng = engine(&case, TensorDtype::F32);
    assert!(!eng.card().causal);
    assert!(!eng.can_stream());
    for r in [
        eng.stream(StreamOptions::default()).map(|_| ()),
        eng.stream_state_len().map(|_| ()),
        eng.stream_scratch_len().map(|_| ()),
        required_state_bytes(&eng).map(|_| ()),
        required_scratch_bytes(&eng).map(|_| ()),
    ] {
        match r {
            Err(EngineError::NotCausal { id, reason }) => {
                assert_eq!(id, "1b");
                assert!(reason.contains("causal = false"), "{reason}");
            }
            other => panic!("1b: {other:?}"),
        }
    }
    // a 1b card claiming causality is the causal variant, which streams chunk by chunk (a hop
    // of 1 is not a multiple of its chunk of 32); models without a recurrent mode claiming
    // causality: `engine_window_gated.rs` (hg), `engine_window_hydra.rs` (1c)
    let mut card = test_card(case.model.as_ref());
    card.causal = true;
    let eng = Engine::from_bytes(&blob_with(&case, &card, TensorDtype::F32, |_| true)).unwrap();
    assert!(eng.can_stream());
    assert!(matches!(
        eng.stream(StreamOptions::default()),
        Err(EngineError::InvalidHop { hop: 1, chunk: 32 })
    ));
    // 3b with a card that says causal = false: the card is the contract
    let case = synthetic("3b", 4, 20, 16, 4, 1, 2);
    let mut card = test_card(case.model.as_ref());
    card.causal = false;
    let eng = Engine::from_bytes(&blob_with(&case, &card, TensorDtype::F32, |_| true)).unwrap();
    assert!(matches!(
        eng.stream(StreamOptions::default()),
        Err(EngineError::NotCausal { .. })
    ));
}

#[test]
fn hop_and_buffers_are_checked() {
    let case = synthetic("3b", 4, 20, 16, 4, 2, 2);
    let eng = engine(&case, TensorDtype::F32);
    assert!(matches!(
        eng.stream(StreamOptions { hop: 0 }),
        Err(EngineError::InvalidHop { hop: 0, chunk: 1 })
    ));
    let (ns, nk) = (
        eng.stream_state_len().unwrap(),
        eng.stream_scratch_len().unwrap(),
    );
    assert_eq!(required_state_bytes(&eng).unwrap(), 4 * ns);
    assert_eq!(required_scratch_bytes(&eng).unwrap(), 4 * nk);
    let (mut st, mut sc) = (vec![0.0; ns - 1], vec![0.0; nk]);
    match Stream::with_buffers(&eng, StreamOptions::default(), &mut st, &mut sc) {
        Err(EngineError::BufferTooSmall {
            what,
            needed,
            found,
        }) => assert_eq!((what, needed, found), ("state", ns, ns - 1)),
        other => panic!("{other:?}"),
    }
    let (mut st, mut sc) = (vec![0.0; ns], vec![0.0; nk - 1]);
    assert!(matches!(
        Stream::with_buffers(&eng, StreamOptions::default(), &mut st, &mut sc),
        Err(EngineError::BufferTooSmall {
            what: "scratch",
            ..
        })
    ));
    // lent buffers full of garbage: the stream starts from zero anyway
    let (mut st, mut sc) = (vec![f32::NAN; ns], vec![f32::NAN; nk]);
    let mut lent = Stream::with_buffers(&eng, StreamOptions::default(), &mut st, &mut sc).unwrap();
    let mut own = eng.stream(StreamOptions::default()).unwrap();
    for ti in 0..20 {
        let x = sample(case.window(1), 20, ti);
        let a = lent.push(&x).unwrap().unwrap().to_prediction();
        let b = own.push(&x).unwrap().unwrap().to_prediction();
        assert_eq!(a, b);
    }
    let s = warm_stream(&eng, &case, 2);
    let mut short = vec![0.0; ns - 1];
    assert!(matches!(
        s.snapshot(&mut short),
        Err(EngineError::BufferTooSmall {
            what: "snapshot",
            ..
        })
    ));
}

/// EEG 3b (C 64, D 128, E 256, N 16, 2 blocks): the documented state and scratch sizes.
#[cfg(not(feature = "stream-3b-description"))]
#[test]
fn eeg_3b_state_size() {
    let case = synthetic("3b", 64, 8, 128, 16, 2, 2);
    let eng = engine(&case, TensorDtype::F32);
    let (d, e, n) = (128, 256, 16);
    // header, 4 held-back samples and their count, the running mean, per block conv + SSM
    let state = 4 + 1 + 4 * 64 + 2 * d + 2 * (3 * e + e * n);
    assert_eq!(eng.stream_state_len().unwrap(), state);
    assert_eq!(state, 10245);
    let scratch = 64 + 2 * 2 + 9 * d + 15 * e + 4 * (8 + 2 * n);
    assert_eq!(eng.stream_scratch_len().unwrap(), scratch);
    // the device budget (issue 19): state + scratch ≤ 64 KiB
    assert!(
        4 * (state + scratch) <= 64 * 1024,
        "{} B",
        4 * (state + scratch)
    );
    eprintln!(
        "EEG 3b stream: state {} bytes, scratch {} bytes, weights {} bytes",
        required_state_bytes(&eng).unwrap(),
        required_scratch_bytes(&eng).unwrap(),
        eng.weight_bytes()
    );
}

/// EEG 3b streamed through its description (feature `stream-3b-description`): the state
/// (within issue 14's 64 KiB) and the plan arena, printed beside the engine form's scratch
/// (20,880 B, `eeg_3b_state_size`), which is what keeps issue 19's device budget of state +
/// scratch ≤ 64 KiB.
#[cfg(feature = "stream-3b-description")]
#[test]
fn eeg_3b_description_state_size() {
    let case = synthetic("3b", 64, 8, 128, 16, 2, 2);
    let eng = engine(&case, TensorDtype::F32);
    let (c, d, e, n, k) = (64, 128, 256, 16, 2);
    // header, the held-back count and samples, the last logits, per block conv + SSM, the
    // running mean's sum and count
    let state = 4 + 1 + 4 * c + k + 2 * (3 * e + e * n) + d + 1;
    assert_eq!(eng.stream_state_len().unwrap(), state);
    assert!(4 * state <= 64 * 1024, "{} B", 4 * state);
    eprintln!(
        "EEG 3b description stream: state {} bytes, scratch (the plans' arena) {} bytes",
        required_state_bytes(&eng).unwrap(),
        required_scratch_bytes(&eng).unwrap(),
    );
}

#[test]
fn invalid_snapshots_are_rejected_and_leave_the_state_unchanged() {
    let case = synthetic("3b", 4, 20, 16, 4, 2, 2);
    let eng = engine(&case, TensorDtype::F32);
    let mut s = warm_stream(&eng, &case, 5);
    let before = s.state().to_vec();
    let good = warm_stream(&eng, &case, 9).state().to_vec();
    let other = synthetic("3b", 4, 20, 16, 5, 2, 2);
    let other_eng = engine(&other, TensorDtype::F32);
    let foreign = warm_stream(&other_eng, &other, 3).state().to_vec();
    assert_ne!(foreign.len(), good.len());
    let mut bad_tag = good.clone();
    bad_tag[0] = 7.0;
    let mut bad_count = good.clone();
    bad_count[2] = 0.5;
    let mut nan = good.clone();
    nan[100] = f32::NAN;
    // 3b's count of held-back samples (the first model-state float) must be 0, 1, 2 or 3
    let mut pending_frac = good.clone();
    pending_frac[4] = 1.5;
    let mut pending_big = good.clone();
    pending_big[4] = 4.0;
    for (what, snap) in [
        ("short", &good[..good.len() - 1]),
        ("foreign", &foreign[..]),
        ("tag", &bad_tag[..]),
        ("count", &bad_count[..]),
        ("nan", &nan[..]),
        ("pending count 1.5", &pending_frac[..]),
        ("pending count 4", &pending_big[..]),
        ("zeros", &vec![0.0; good.len()][..]),
    ] {
        match s.restore(snap) {
            Err(e @ EngineError::InvalidSnapshot { .. }) => {
                assert!(!e.to_string().contains('\n'))
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(same_bits(s.state(), &before), "{what}: state changed");
        assert_eq!(s.samples_seen(), 5);
    }
    s.restore(&good).unwrap();
    assert_eq!(s.samples_seen(), 9);
    // hop 3: the 12th sample is due
    let t = eng.n_times();
    assert!(s.push(&sample(case.window(0), t, 9)).unwrap().is_none());
    assert!(s.push(&sample(case.window(0), t, 10)).unwrap().is_none());
    assert!(s.push(&sample(case.window(0), t, 11)).unwrap().is_some());
}
