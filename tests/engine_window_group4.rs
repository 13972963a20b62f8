//! The inference engine on the group-4 models — 4a `QuantumTransformerE2E`, 4b
//! `QuantumMambaE2E`, 4c `QuantumHydraE2E`, 4d `QuantumMambaE2E_Superposition`, 4e
//! `QuantumHydraE2E_Superposition` (spec groups-2-4 §3.6–3.11, §4.3 R1) — against the trainer
//! (the oracle, exact vs the reference):
//!
//! * window path: `classify_window` equals `forward_eval` (≤ 1e-5) on random-init models (short
//!   last chunks, T a multiple of 16, T = 16m + 1, Q = 3 and 6) and on the reference fixtures
//!   `4a`–`4e` (EEG size) where present; f16 files: same class, logits within 1e-2;
//! * stream path (one sample per push, chunks of 16, Conv3 one-sample look-ahead): with hop =
//!   16·m the stream emits at t = 16(k+1) + 1 samples (chunk k complete once sample 16(k+1)
//!   arrived) and each emitted prediction equals the trainer's `boundary_outputs` entry n_k
//!   (≤ 1e-4); `prediction()` after every sample equals the trainer's window forward on that
//!   prefix (the last Conv3 row with a zero right edge, the pad rows), in particular the last
//!   boundary at T; a property test with random push patterns, hops, resets and
//!   snapshot/restore detours.
//!
//! No allocation per push: `engine_noalloc.rs` (4b, 4d).
use qssm_tests::chunk_stream::ChunkStream;
use qssm_tests::engine_case::{check_f16, check_window_parity, from_fixture, perturbed_init, Case};
use qssm_trainer::models::ModelConfig;

const IDS: [&str; 5] = ["4a", "4b", "4c", "4d", "4e"];
/// Group 4: chunks of 16, the centred Conv3 needs one sample of look-ahead.
const STREAM: ChunkStream = ChunkStream {
    chunk: 16,
    lookahead: 1,
};

/// A trainer-initialised model (every parameter perturbed) with 2 random windows.
fn synthetic(id: &str, c: usize, t: usize, d: usize, q: usize, layers: usize, k: usize) -> Case {
    let cfg = ModelConfig {
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
        // short last chunk, T multiple of 16, T = 16m + 1, EEG-like Q = 6 with 64 channels
        for (c, t, d, q, layers, k) in [
            (3, 37, 16, 3, 1, 2),
            (4, 32, 16, 2, 2, 3),
            (2, 33, 8, 3, 2, 2),
            (64, 49, 32, 6, 2, 2),
        ] {
            worst = worst.max(check_window_parity(&synthetic(id, c, t, d, q, layers, k)));
        }
    }
    eprintln!("group 4 window: worst |engine − trainer| = {worst:e}");
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
        for (c, t, d, q, layers, k) in [(3, 37, 16, 3, 1, 2), (2, 49, 8, 3, 2, 3)] {
            worst = worst.max(STREAM.check_stream(&synthetic(id, c, t, d, q, layers, k)));
        }
    }
    eprintln!("group 4 stream: worst |stream − trainer| = {worst:e}");
}

#[test]
fn random_push_patterns_match_the_trainer() {
    for (n, id) in IDS.iter().enumerate() {
        let case = synthetic(id, 3, 20, 16, 3, 1, 2);
        STREAM.check_random_push_patterns(&case, 1234 + n as u64, 60);
    }
}

#[test]
fn hops_must_be_multiples_of_the_chunk() {
    for id in IDS {
        STREAM.check_hops(&synthetic(id, 2, 20, 8, 2, 1, 2));
    }
}
