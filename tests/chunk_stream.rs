//! Stream checks shared by the chunk-streaming quantum models — 2d/2e (chunks of 32, no
//! look-ahead) and 4a–4e (chunks of 16, the centred Conv3's one-sample look-ahead), spec
//! groups-2-4 §4.3 R1 — against the trainer (`boundary_outputs` and `forward_eval` on every
//! prefix, the oracle). A [`ChunkStream`] describes when a stream emits: chunk k is complete
//! once sample chunk·(k+1) + look-ahead has arrived, and with hop = chunk·m the stream emits
//! exactly then.
//!
//! Shape legend: C channels, T time samples; windows (C, T) in mV.
use crate::engine_case::{blob, sample, window_of, Case, Rng};
use crate::max_abs_diff;
use qssm_engine::{EngineError, Model as Engine, StreamOptions};
use qssm_formats::model_file::TensorDtype;

/// Stream vs trainer tolerance (abs, logits).
pub const TOL: f32 = 1e-4;

/// The chunking of a family of streamable models.
#[derive(Clone, Copy, Debug)]
pub struct ChunkStream {
    /// samples per chunk (32 for 2d/2e, 16 for group 4)
    pub chunk: usize,
    /// samples after a chunk's end before it is complete (0 for 2d/2e, 1 for group 4)
    pub lookahead: usize,
}

impl ChunkStream {
    /// Whether a stream with `hop` emits after `n` samples.
    pub fn emits(&self, n: usize, hop: usize) -> bool {
        n > self.lookahead && (n - self.lookahead).is_multiple_of(hop)
    }

    /// Index k of the chunk completed after `n` samples (n at an emission).
    pub fn completed(&self, n: usize) -> usize {
        (n - self.lookahead) / self.chunk - 1
    }

    /// Streams each window of `case` with hop = chunk: every emitted prediction equals the
    /// trainer's `boundary_outputs` entry at the same sample count, `prediction()` after every
    /// sample equals the trainer's window forward on that prefix, and the last equals the
    /// engine's window path. Returns max |stream − trainer|.
    pub fn check_stream(&self, case: &Case) -> f32 {
        let cs = self.chunk;
        let eng = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("loads");
        assert!(eng.can_stream(), "{}", case.name);
        let t = eng.n_times();
        let mut s = eng.stream(StreamOptions { hop: cs }).expect("streams");
        let mut dmax = 0.0f32;
        for i in 0..case.b {
            let w = case.window(i);
            let bo = case
                .model
                .boundary_outputs(&case.params, w)
                .expect("boundary outputs");
            assert_eq!(bo.len(), t.div_ceil(cs));
            s.reset();
            let mut seen = Vec::new();
            let mut emitted = 0;
            for ti in 0..t {
                let x = sample(w, t, ti);
                seen.push(x.clone());
                let n = ti + 1;
                let out = s.push(&x).expect("push").map(|p| p.to_prediction());
                assert_eq!(out.is_some(), self.emits(n, cs), "after {n}");
                if let Some(p) = out {
                    let (n_k, want) = &bo[emitted];
                    assert_eq!(*n_k, n, "{}: boundary {emitted}", case.name);
                    let d = max_abs_diff(&p.logits, want);
                    assert!(d <= TOL, "{}: boundary {n_k}: {d:e}", case.name);
                    dmax = dmax.max(d);
                    emitted += 1;
                }
                let p = s.prediction().unwrap().expect("a prediction");
                assert_eq!(p.samples_seen, n as u64);
                let want = case
                    .model_t(n)
                    .forward_eval(&case.params, &window_of(&seen));
                let d = max_abs_diff(p.logits, &want);
                assert!(d <= TOL, "{}: prefix of {n}: {d:e}", case.name);
                dmax = dmax.max(d);
            }
            assert_eq!(emitted, (t - self.lookahead) / cs);
            let last = s.prediction().unwrap().unwrap().to_prediction();
            let (n_k, want) = bo.last().unwrap();
            assert_eq!(*n_k, t);
            assert!(max_abs_diff(&last.logits, want) <= TOL);
            let win = eng.classify_window(w).unwrap();
            assert!(max_abs_diff(&last.logits, &win.logits) <= TOL);
        }
        eprintln!("{} stream: max |stream − trainer| = {dmax:e}", case.name);
        dmax
    }

    /// Property test on `case` (its model is rebuilt per segment length): three streams with
    /// random hops (chunk·1 or chunk·2), two segments each after a reset (1..=`max_len`
    /// random samples), snapshot → 1..20 junk samples → restore detours at random points.
    /// Emitted predictions match the segment's `boundary_outputs`, a restored stream gives
    /// the same prediction bit for bit, `prediction()` at a segment's end matches the
    /// trainer's window forward on it.
    pub fn check_random_push_patterns(&self, case: &Case, seed: u64, max_len: usize) {
        let id = case.model.id();
        let eng = Engine::from_bytes(&blob(case, TensorDtype::F32)).expect("loads");
        let c = eng.n_channels();
        let mut rng = Rng(seed);
        let mut snap = vec![0.0f32; eng.stream_state_len().unwrap()];
        for _trial in 0..3 {
            let hop = self.chunk * (1 + rng.below(2));
            let mut s = eng.stream(StreamOptions { hop }).unwrap();
            for _seg in 0..2 {
                s.reset();
                let len = 1 + rng.below(max_len);
                let xs: Vec<Vec<f32>> = (0..len)
                    .map(|_| (0..c).map(|_| rng.value() * 0.5).collect())
                    .collect();
                let m = case.model_t(len);
                let w = window_of(&xs);
                let bo = m.boundary_outputs(&case.params, &w).unwrap();
                for (i, x) in xs.iter().enumerate() {
                    let out = s.push(x).unwrap().map(|p| p.to_prediction());
                    let cnt = i + 1;
                    assert_eq!(out.is_some(), self.emits(cnt, hop));
                    if let Some(p) = out {
                        let k = self.completed(cnt);
                        assert_eq!(bo[k].0, cnt);
                        let d = max_abs_diff(&p.logits, &bo[k].1);
                        assert!(d <= TOL, "{id}: hop {hop} boundary {cnt}: {d:e}");
                    }
                    if rng.below(6) == 0 {
                        // a snapshot of the live state is the state brought up to date
                        s.snapshot(&mut snap).unwrap();
                        assert_eq!(s.state(), &snap[..], "{id}: snapshot vs state");
                        let before = s.prediction().unwrap().unwrap().to_prediction();
                        for _ in 0..1 + rng.below(20) {
                            let junk: Vec<f32> = (0..c).map(|_| rng.value()).collect();
                            s.push(&junk).unwrap();
                        }
                        s.restore(&snap).unwrap();
                        assert_eq!(s.samples_seen(), cnt as u64);
                        let after = s.prediction().unwrap().unwrap().to_prediction();
                        assert_eq!(before, after, "{id}: restore is bit-exact");
                    }
                }
                let last = s.prediction().unwrap().unwrap().to_prediction();
                let want = m.forward_eval(&case.params, &w);
                let d = max_abs_diff(&last.logits, &want);
                assert!(d <= TOL, "{id}: segment of {len}: {d:e}");
            }
        }
    }

    /// Hops that are not positive multiples of the chunk are `InvalidHop`; chunk·1 and
    /// chunk·2 are accepted.
    pub fn check_hops(&self, case: &Case) {
        let eng = Engine::from_bytes(&blob(case, TensorDtype::F32)).unwrap();
        let cs = self.chunk;
        for hop in [0, 1, cs / 2, cs + 1, cs + cs / 2] {
            assert!(
                matches!(
                    eng.stream(StreamOptions { hop }),
                    Err(EngineError::InvalidHop { .. })
                ),
                "{}: hop {hop}",
                case.name
            );
        }
        assert!(eng.stream(StreamOptions { hop: cs }).is_ok());
        assert!(eng.stream(StreamOptions { hop: 2 * cs }).is_ok());
    }
}
