//! Streaming the **chunked** causal models ([`qssm_engine::Stream`], step = chunk size): the
//! causal variant of 1b `QuantumMambaSSM` (chunks of 32, every block's scan from zero, pad rows
//! masked) and mg `QuantumMambaGated` (its chunk size C; both ansätze), fed one time sample
//! at a time, against the trainer (the oracle):
//!
//! * prefix-exact at chunk boundaries: with hop = chunk the stream emits exactly after every
//!   completed chunk, and each emitted prediction equals the trainer's `boundary_outputs`
//!   entry for that many samples (≤ 1e-4); the last, partial boundary (T not a multiple of the
//!   chunk) is [`Stream::prediction`] at T, which also equals `classify_window` and the
//!   trainer's `forward_eval` on the window; on the small models `prediction()` after every
//!   sample equals the trainer on that prefix (a partial chunk closed tentatively);
//! * a property test over random inputs and push patterns (one sample per push, hops that are
//!   multiples of the chunk, resets, snapshot/restore with a detour, a second stream on lent
//!   buffers restored from a snapshot, `push_in`): every emitted prediction is bit-identical to
//!   a plain stream's and matches the trainer on the segment;
//! * f16 files stream from f16 weights: same class as f32, logits within 1e-2;
//! * typed errors: a hop that is not a multiple of the chunk ([`EngineError::InvalidHop`]),
//!   the reference (non-causal) 1b and a card saying `causal = false`
//!   ([`EngineError::NotCausal`]).
//!
//! No allocation per push: `engine_noalloc.rs`.
use qssm_engine::{
    required_scratch_bytes, required_state_bytes, EngineError, Model as Engine, Stream,
    StreamOptions, Unit,
};
use qssm_formats::model_file::TensorDtype;
use qssm_tests::engine_case::{
    blob, blob_with, card, perturbed_init, sample, window_of, Case, Rng,
};
use qssm_tests::max_abs_diff;
use qssm_trainer::models::{registry, AnsatzKind, ModelConfig};
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tolerance of stream vs trainer / window logits.
const TOL: f32 = 1e-4;

/// Samples per recurrent step of a case's model (1b: 32; mg: its chunk size).
fn chunk_of(case: &Case) -> usize {
    if case.model.id() == "1b" {
        qssm_trainer::models::zoo::CHUNK_SIZE_1B
    } else {
        case.model.config().chunk_size
    }
}

/// Trainer logits of the (C, t) window `w`: the same weights built for n_times = t (neither
/// 1b's nor mg's parameters depend on T).
fn trainer(case: &Case, w: &[f32], t: usize) -> Vec<f32> {
    case.model_t(t).forward_eval(&case.params, w)
}

/// A model of `cfg` with perturbed trainer-initialised parameters and two random windows.
fn case(id: &str, cfg: ModelConfig, seed: u64) -> Case {
    let name = format!(
        "{id} C{} T{} chunk{} {:?}",
        cfg.n_channels,
        cfg.n_times,
        if id == "1b" { 32 } else { cfg.chunk_size },
        cfg.ansatz
    );
    perturbed_init(id, cfg, seed, 2, name)
}

/// Causal 1b: C channels, T samples, D d_model, N d_state, Q qubits, `layers` blocks, K classes.
fn causal_1b(c: usize, t: usize, d: usize, n: usize, q: usize, layers: usize, k: usize) -> Case {
    let cfg = ModelConfig {
        causal: true,
        n_channels: c,
        n_times: t,
        d_model: d,
        d_state: n,
        n_qubits: q,
        n_layers: layers,
        n_classes: k,
        ..ModelConfig::eeg(t)
    };
    let seed = (c * 31 + t * 7 + d + n + q + layers + k) as u64;
    case("1b", cfg, seed)
}

/// mg: C channels, T samples, n qubits, H hidden, chunk size, K classes.
fn mg(ansatz: AnsatzKind, c: usize, t: usize, q: usize, h: usize, chunk: usize, k: usize) -> Case {
    let cfg = ModelConfig {
        n_channels: c,
        n_times: t,
        n_qubits: q,
        n_layers: 2,
        hidden_dim: h,
        chunk_size: chunk,
        n_classes: k,
        ansatz,
        ..ModelConfig::eeg(t)
    };
    let seed = (c * 31 + t * 7 + q + h + chunk + k) as u64 + 1000;
    case("mg", cfg, seed)
}

fn engine(case: &Case, dtype: TensorDtype) -> Engine {
    Engine::from_bytes(&blob(case, dtype)).expect("loads")
}

/// Streams every window of `case` (hop = chunk) and checks the emitted predictions against the
/// trainer's `boundary_outputs`, the partial last boundary against `prediction()`, the window
/// path and `forward_eval`, and — if `every_prefix` — `prediction()` after every sample
/// against the trainer on that prefix. Returns max |stream − trainer|.
fn check_boundaries(case: &Case, every_prefix: bool) -> f32 {
    let eng = engine(case, TensorDtype::F32);
    assert!(eng.can_stream(), "{}", case.name);
    let (t, chunk) = (eng.n_times(), chunk_of(case));
    let mut s = eng.stream(StreamOptions { hop: chunk }).expect("streams");
    let mut dmax = 0.0f32;
    for i in 0..case.b {
        let w = case.window(i);
        let bo = case
            .model
            .boundary_outputs(&case.params, w)
            .expect("causal model has boundary outputs");
        assert_eq!(bo.len(), t.div_ceil(chunk));
        s.reset();
        let mut seen: Vec<Vec<f32>> = Vec::new();
        let mut emitted = 0;
        for ti in 0..t {
            let x = sample(w, t, ti);
            seen.push(x.clone());
            let out = s.push(&x).expect("push").map(|p| p.to_prediction());
            assert_eq!(
                out.is_some(),
                (ti + 1).is_multiple_of(chunk),
                "{}: after {}",
                case.name,
                ti + 1
            );
            if let Some(p) = out {
                let (n_k, want) = &bo[emitted];
                assert_eq!(*n_k, ti + 1);
                let d = max_abs_diff(&p.logits, want);
                assert!(d <= TOL, "{}: boundary {n_k}: {d:e}", case.name);
                dmax = dmax.max(d);
                emitted += 1;
            }
            if every_prefix {
                let p = s
                    .prediction()
                    .unwrap()
                    .expect("a prediction after any sample");
                assert_eq!(p.samples_seen, ti as u64 + 1);
                let want = trainer(case, &window_of(&seen), ti + 1);
                let d = max_abs_diff(p.logits, &want);
                assert!(d <= TOL, "{}: prefix of {}: {d:e}", case.name, ti + 1);
                dmax = dmax.max(d);
            }
        }
        assert_eq!(emitted, t / chunk);
        // the last boundary (T), partial or not
        let last = s.prediction().unwrap().unwrap().to_prediction();
        let (n_k, want) = bo.last().unwrap();
        assert_eq!(*n_k, t);
        let d = max_abs_diff(&last.logits, want);
        assert!(d <= TOL, "{}: last boundary: {d:e}", case.name);
        dmax = dmax.max(d);
        let win = eng.classify_window(w).unwrap();
        assert!(max_abs_diff(&last.logits, &win.logits) <= TOL);
        assert_eq!(last.class, win.class);
        let fwd = case.model.forward_eval(&case.params, w);
        assert!(max_abs_diff(&last.logits, &fwd) <= TOL);
    }
    eprintln!(
        "{}: max |stream − trainer| = {dmax:e} (state {} bytes)",
        case.name,
        required_state_bytes(&eng).unwrap()
    );
    dmax
}

/// Small models: every boundary, every prefix. T not a multiple of the chunk (a partial last
/// chunk), a multiple, a chunk of 1, a chunk longer than the window.
#[test]
fn small_models_are_prefix_exact() {
    for case in [
        causal_1b(4, 70, 16, 4, 2, 2, 3),
        causal_1b(3, 64, 8, 2, 3, 1, 2),
        causal_1b(2, 20, 16, 3, 2, 3, 2),
        mg(AnsatzKind::Unified5, 5, 23, 3, 6, 4, 3),
        mg(AnsatzKind::Legacy4, 4, 20, 2, 5, 5, 2),
        mg(AnsatzKind::Unified5, 3, 9, 2, 4, 1, 2),
        mg(AnsatzKind::Legacy4, 3, 6, 3, 4, 8, 1),
    ] {
        check_boundaries(&case, true);
    }
}

/// EEG-size models (C 64; 1b: D 128, N 16, Q 6, 2 blocks; mg: n 6, H 64, chunk 8) over windows
/// with a partial last chunk.
#[test]
fn eeg_size_models_match_the_boundary_outputs() {
    check_boundaries(&causal_1b(64, 80, 128, 16, 6, 2, 2), false);
    check_boundaries(&mg(AnsatzKind::Unified5, 64, 81, 6, 64, 8, 2), false);
    check_boundaries(&mg(AnsatzKind::Legacy4, 64, 41, 6, 64, 8, 2), false);
}

/// f16 files: stream from f16 weights, same class as the f32 stream at every boundary, logits
/// within 1e-2, and equal to the f16 window path (≤ 1e-4).
#[test]
fn f16_streams_agree_with_f32() {
    for case in [
        causal_1b(64, 70, 128, 16, 6, 2, 2),
        mg(AnsatzKind::Unified5, 64, 41, 6, 64, 8, 2),
        mg(AnsatzKind::Legacy4, 5, 23, 3, 6, 4, 3),
    ] {
        let (e32, e16) = (
            engine(&case, TensorDtype::F32),
            engine(&case, TensorDtype::F16),
        );
        assert!(e16.weight_bytes() < e32.weight_bytes());
        let t = e32.n_times();
        let chunk = chunk_of(&case);
        let opts = StreamOptions { hop: chunk };
        let (mut s32, mut s16) = (e32.stream(opts).unwrap(), e16.stream(opts).unwrap());
        let mut dmax = 0.0f32;
        for i in 0..case.b {
            let w = case.window(i);
            s32.reset();
            s16.reset();
            for ti in 0..t {
                let x = sample(w, t, ti);
                let p32 = s32.push(&x).unwrap().map(|p| p.to_prediction());
                let p16 = s16.push(&x).unwrap().map(|p| p.to_prediction());
                assert_eq!(p32.is_some(), p16.is_some());
                if let (Some(a), Some(b)) = (p32, p16) {
                    let d = max_abs_diff(&a.logits, &b.logits);
                    assert!(
                        d <= 1e-2,
                        "{}: f16 vs f32 after {}: {d:e}",
                        case.name,
                        ti + 1
                    );
                    assert_eq!(a.class, b.class, "{}: after {}", case.name, ti + 1);
                    dmax = dmax.max(d);
                }
            }
            let last16 = s16.prediction().unwrap().unwrap().to_prediction();
            let win16 = e16.classify_window(w).unwrap();
            let d = max_abs_diff(&last16.logits, &win16.logits);
            assert!(d <= TOL, "{}: f16 stream vs f16 window {d:e}", case.name);
            let last32 = s32.prediction().unwrap().unwrap().to_prediction();
            assert_eq!(last32.class, last16.class);
            dmax = dmax.max(max_abs_diff(&last32.logits, &last16.logits));
        }
        eprintln!(
            "{}: weights {} bytes (f32 file), {} bytes (f16 file); max |f16 − f32| stream logits = {dmax:e}",
            case.name,
            e32.weight_bytes(),
            e16.weight_bytes()
        );
        assert!(dmax <= 1e-2);
    }
}

/// What a plain stream (hop = chunk, no interruptions) predicts after the samples `xs`
/// (`prediction()` at the end).
fn reference_run(eng: &Engine, chunk: usize, xs: &[Vec<f32>]) -> Vec<f32> {
    let mut s = eng.stream(StreamOptions { hop: chunk }).unwrap();
    for x in xs {
        s.push(x).unwrap();
    }
    s.prediction().unwrap().unwrap().logits.to_vec()
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Property test: random inputs and random push patterns — one sample per push, hops that are
/// multiples of the chunk, resets, snapshot/restore with a divergent detour in between, a
/// second stream on lent buffers restored from a snapshot, push_in with the card's unit,
/// `prediction()` at random points (partial chunks). Every emitted prediction must come exactly
/// at a multiple of the hop and be bit-identical to a plain stream over the same segment; every
/// checked prediction must match the trainer on the segment (≤ 1e-4).
#[test]
fn random_push_patterns_match_the_trainer() {
    let mut rng = Rng(77);
    for round in 0..9 {
        let case = match round % 3 {
            0 => causal_1b(3, 40, 8, 2, 2, 2, 2),
            1 => mg(AnsatzKind::Unified5, 4, 20, 3, 5, 4, 3),
            _ => mg(AnsatzKind::Legacy4, 3, 20, 2, 4, 3, 2),
        };
        let eng = engine(&case, TensorDtype::F32);
        let c = eng.n_channels();
        let chunk = chunk_of(&case);
        let hop = chunk * (1 + rng.below(2));
        let mut s = eng.stream(StreamOptions { hop }).unwrap();
        let mut seg: Vec<Vec<f32>> = Vec::new(); // samples since the last reset
        let mut snap = vec![f32::NAN; eng.stream_state_len().unwrap()];
        let mut saved: Option<usize> = None; // segment length at the snapshot
        let mut seed = 1000 * round as u64;
        let fresh = |seed: &mut u64| {
            *seed += 1;
            let scale = [0.05f32, 0.5, 1.5][(*seed % 3) as usize];
            let mut r = ChaCha8Rng::seed_from_u64(*seed);
            (0..c)
                .map(|_| r.gen_range(-scale..scale))
                .collect::<Vec<f32>>()
        };
        let check_trainer = |seg: &[Vec<f32>], got: &[f32], what: &str| {
            let want = trainer(&case, &window_of(seg), seg.len());
            let d = max_abs_diff(got, &want);
            assert!(
                d <= TOL,
                "{} round {round}, hop {hop}, {what} after {}: {d:e}",
                case.name,
                seg.len()
            );
        };
        let (mut emitted, mut peeked) = (0, 0);
        for _op in 0..500 {
            match rng.below(40) {
                // reset: segments of at least one hop, so that predictions are emitted
                0 if seg.len() >= hop + rng.below(2 * hop) => {
                    if !seg.is_empty() {
                        let p = s.prediction().unwrap().unwrap();
                        check_trainer(&seg, p.logits, "segment end");
                    }
                    s.reset();
                    seg.clear();
                    saved = None;
                    assert!(s.prediction().unwrap().is_none());
                }
                1 | 2 => {
                    assert_eq!(s.snapshot(&mut snap).unwrap(), snap.len());
                    saved = Some(seg.len());
                }
                3 if saved.is_some() => {
                    // detour: push unrelated samples, then go back to the snapshot
                    for _ in 0..1 + rng.below(2 * chunk) {
                        let x = fresh(&mut seed);
                        s.push(&x).unwrap();
                    }
                    s.restore(&snap).unwrap();
                    seg.truncate(saved.unwrap());
                    assert_eq!(s.samples_seen(), seg.len() as u64);
                }
                4 if saved.is_some() => {
                    // a second stream (caller buffers) continues from the snapshot
                    let mut st = vec![0.0; eng.stream_state_len().unwrap() + 3];
                    let mut sc = vec![f32::NAN; eng.stream_scratch_len().unwrap()];
                    let mut s2 =
                        Stream::with_buffers(&eng, StreamOptions { hop: chunk }, &mut st, &mut sc)
                            .unwrap();
                    s2.restore(&snap).unwrap();
                    let mut seg2 = seg[..saved.unwrap()].to_vec();
                    for _ in 0..1 + rng.below(2 * chunk) {
                        seg2.push(fresh(&mut seed));
                        s2.push(seg2.last().unwrap()).unwrap();
                    }
                    let p = s2.prediction().unwrap().unwrap();
                    assert!(same_bits(p.logits, &reference_run(&eng, chunk, &seg2)));
                    check_trainer(&seg2, p.logits, "restored stream");
                }
                5..=7 if !seg.is_empty() => {
                    // on demand, between boundaries too
                    let p = s.prediction().unwrap().unwrap().to_prediction();
                    assert!(same_bits(&p.logits, &reference_run(&eng, chunk, &seg)));
                    check_trainer(&seg, &p.logits, "prediction()");
                    peeked += 1;
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
                        assert!(same_bits(&p.logits, &reference_run(&eng, chunk, &seg)));
                        check_trainer(&seg, &p.logits, "emitted");
                        emitted += 1;
                    }
                }
            }
        }
        eprintln!(
            "{} round {round}, hop {hop}: {emitted} emitted and {peeked} on-demand predictions checked",
            case.name
        );
        assert!(
            emitted > 0 && peeked > 0,
            "round {round}: {emitted} emitted, {peeked} peeked"
        );
    }
}

#[test]
fn hops_must_be_multiples_of_the_chunk() {
    for (case, chunk) in [
        (causal_1b(3, 40, 8, 2, 2, 1, 2), 32),
        (mg(AnsatzKind::Unified5, 4, 20, 3, 5, 4, 3), 4),
    ] {
        let eng = engine(&case, TensorDtype::F32);
        for hop in [0, 1, chunk - 1, chunk + 1, 3 * chunk / 2] {
            match eng.stream(StreamOptions { hop }) {
                Err(EngineError::InvalidHop { hop: h, chunk: c }) => {
                    assert_eq!((h, c), (hop, chunk))
                }
                other => panic!("{} hop {hop}: {other:?}", case.name),
            }
        }
        for hop in [chunk, 2 * chunk, 5 * chunk] {
            assert_eq!(eng.stream(StreamOptions { hop }).unwrap().hop(), hop);
        }
        let e = eng.stream(StreamOptions::default()).unwrap_err();
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn non_causal_cards_do_not_stream() {
    // the reference 1b (block 1 from block 0's final state): the trainer's card says
    // causal = false
    let mut case = causal_1b(3, 40, 8, 2, 2, 2, 2);
    case.model = registry::build(
        "1b",
        ModelConfig {
            causal: false,
            ..case.model.config().clone()
        },
    )
    .unwrap();
    let eng = engine(&case, TensorDtype::F32);
    assert!(!eng.card().causal && !eng.can_stream());
    for r in [
        eng.stream(StreamOptions { hop: 32 }).map(|_| ()),
        eng.stream_state_len().map(|_| ()),
        required_scratch_bytes(&eng).map(|_| ()),
    ] {
        match r {
            Err(EngineError::NotCausal { id, reason }) => {
                assert_eq!(id, "1b");
                assert!(reason.contains("causal = false"), "{reason}");
            }
            other => panic!("reference 1b: {other:?}"),
        }
    }
    // the same weights with a causal card stream (the card is the contract)
    let mut causal = card(case.model.as_ref());
    causal.causal = true;
    let eng = Engine::from_bytes(&blob_with(&case, &causal, TensorDtype::F32, |_| true)).unwrap();
    assert!(eng.can_stream());
    // mg with a card that says causal = false
    let case = mg(AnsatzKind::Unified5, 4, 20, 3, 5, 4, 3);
    let mut card = card(case.model.as_ref());
    assert!(card.causal, "the trainer's mg is causal");
    card.causal = false;
    let eng = Engine::from_bytes(&blob_with(&case, &card, TensorDtype::F32, |_| true)).unwrap();
    assert!(matches!(
        eng.stream(StreamOptions { hop: 4 }),
        Err(EngineError::NotCausal { .. })
    ));
}

/// EEG configurations: the documented state sizes (header 4 floats).
#[test]
fn eeg_state_sizes() {
    let b1 = engine(&causal_1b(64, 40, 128, 16, 6, 2, 2), TensorDtype::F32);
    let (d, e, n) = (128, 256, 16);
    // the description's step of a chunk: the chunk's samples (C, 32), the last chunk's logits
    // (K), every block's conv history (3, E) and SSM state (E, N), the running mean (D + 1)
    assert_eq!(
        b1.stream_state_len().unwrap(),
        4 + 64 * 32 + 2 + 2 * (3 * e + e * n) + d + 1
    );
    assert_eq!(b1.stream_state_len().unwrap(), 11911);
    let g = engine(
        &mg(AnsatzKind::Unified5, 64, 41, 6, 64, 8, 2),
        TensorDtype::F32,
    );
    // mg streams through its description's step of a chunk: the chunk's samples (C, cs), the
    // last chunk's logits (K), h (H)
    assert_eq!(g.stream_state_len().unwrap(), 4 + 64 * 8 + 2 + 64);
    for (name, eng) in [("causal 1b", &b1), ("mg", &g)] {
        eprintln!(
            "EEG {name} stream: state {} bytes, scratch {} bytes, weights {} bytes",
            required_state_bytes(eng).unwrap(),
            required_scratch_bytes(eng).unwrap(),
            eng.weight_bytes()
        );
    }
}
