//! The inference engine on the group-2 superposition models — 2d `QuantumMambaHydraSSM` and
//! 2e `QuantumHydraHydraSSM` (spec groups-2-4 §3.4–3.5, §4.3 R1) — against the trainer (the
//! oracle, exact vs the reference):
//!
//! * window path: `classify_window` equals `forward_eval` (≤ 1e-5) on random-init models (short
//!   last chunks, T a multiple of 32, T = 32m + 1, Q = 2, 3 and 6, several dt-MLP widths) and
//!   on the reference fixtures `2d`, `2e` (EEG size) where present; f16 files: same class,
//!   logits within 1e-2;
//! * stream path (one sample per push, chunks of 32, per-sample front-end without look-ahead):
//!   with hop = 32·m the stream emits at t = 32(k+1) samples and each emitted prediction
//!   equals the trainer's `boundary_outputs` entry n_k (≤ 1e-4); `prediction()` after every
//!   sample equals the trainer's window forward on that prefix (the pad rows of a partial last
//!   chunk), in particular the last boundary at T; a property test with random push patterns,
//!   hops, resets and snapshot/restore detours.
//!
//! No allocation per push: `engine_noalloc.rs` (2d).
use qssm_tests::chunk_stream::ChunkStream;
use qssm_tests::engine_case::{check_f16, check_window_parity, from_fixture, perturbed_init, Case};
use qssm_trainer::models::ModelConfig;

const IDS: [&str; 2] = ["2d", "2e"];
/// 2d/2e: chunks of 32, per-sample front-end without look-ahead.
const STREAM: ChunkStream = ChunkStream {
    chunk: 32,
    lookahead: 0,
};

/// A trainer-initialised model (every parameter perturbed) with 2 random windows.
fn synthetic(id: &str, c: usize, t: usize, d: usize, q: usize, layers: usize, k: usize) -> Case {
    let cfg = ModelConfig {
        d_state: 4 + (c + t) % 13,
        n_channels: c,
        n_times: t,
        d_model: d,
        n_qubits: q,
        n_layers: layers,
        n_classes: k,
        ..ModelConfig::eeg(t)
    };
    let seed = (c * 1_000_003 + t * 1009 + d * 101 + q * 11 + k) as u64 + id.len() as u64;
    let seed = seed ^ u64::from(id.as_bytes()[1]);
    let name = format!("{id} C{c} T{t} D{d} Q{q} L{layers} K{k}");
    perturbed_init(id, cfg, seed, 2, name)
}

#[test]
fn window_matches_the_trainer() {
    let mut worst = 0.0f32;
    for id in IDS {
        // short last chunk, T < 32, T multiple of 32, T = 32m + 1, EEG-like Q = 6 with 64
        // channels
        for (c, t, d, q, layers, k) in [
            (3, 75, 16, 3, 1, 2),
            (5, 20, 16, 3, 2, 2),
            (4, 64, 16, 2, 2, 3),
            (2, 33, 8, 3, 2, 2),
            (64, 97, 32, 6, 2, 2),
        ] {
            worst = worst.max(check_window_parity(&synthetic(id, c, t, d, q, layers, k)));
        }
    }
    eprintln!("group 2 window: worst |engine − trainer| = {worst:e}");
}

#[test]
fn window_matches_the_reference_fixtures() {
    for id in IDS {
        match from_fixture(id) {
            Some(case) => {
                check_window_parity(&case);
                check_f16(&case);
            }
            None => eprintln!("fixture {id} not found; skipped"),
        }
    }
}

#[test]
fn f16_files_agree_with_f32() {
    for id in IDS {
        check_f16(&synthetic(id, 8, 40, 32, 4, 2, 2));
    }
}

#[test]
fn stream_matches_the_boundary_outputs() {
    let mut worst = 0.0f32;
    for id in IDS {
        for (c, t, d, q, layers, k) in [(3, 75, 16, 3, 1, 2), (2, 64, 8, 3, 2, 3)] {
            worst = worst.max(STREAM.check_stream(&synthetic(id, c, t, d, q, layers, k)));
        }
    }
    eprintln!("group 2 stream: worst |stream − trainer| = {worst:e}");
}

#[test]
fn random_push_patterns_match_the_trainer() {
    for (n, id) in IDS.iter().enumerate() {
        let case = synthetic(id, 3, 40, 16, 3, 1, 2);
        STREAM.check_random_push_patterns(&case, 1234 + n as u64, 110);
    }
}

#[test]
fn hops_must_be_multiples_of_the_chunk() {
    for id in IDS {
        STREAM.check_hops(&synthetic(id, 2, 20, 8, 2, 1, 2));
    }
}
