//! The inference engine on the chunk-streaming quantum models against the trainer (the oracle,
//! exact vs the reference), spec groups-2-4 §4.3 R1:
//!
//! * 2d `QuantumMambaHydraSSM`, 2e `QuantumHydraHydraSSM` (§3.4–3.5): chunks of 32, a
//!   per-sample front-end without look-ahead — emissions at t = 32(k+1);
//! * 4a `QuantumTransformerE2E`, 4b `QuantumMambaE2E`, 4c `QuantumHydraE2E`, 4d
//!   `QuantumMambaE2E_Superposition`, 4e `QuantumHydraE2E_Superposition` (§3.6–3.11): chunks
//!   of 16, the centred Conv3's one-sample look-ahead — emissions at t = 16(k+1) + 1.
//!
//! Per family: window path `classify_window` = `forward_eval` (≤ 1e-5) on perturbed random-init
//! models (short last chunks, T a multiple of the chunk, T = chunk·m + 1, Q = 2, 3 and 6; 2d/2e
//! with several dt-MLP widths) and on the reference fixtures (EEG size) where present; f16
//! files: same class, logits within 1e-2; stream path ([`ChunkStream`]): emitted predictions =
//! the trainer's `boundary_outputs` (≤ 1e-4), `prediction()` after every sample = the trainer's
//! window forward on that prefix, random push patterns with resets and snapshot/restore
//! detours, hops that are not multiples of the chunk rejected.
//!
//! No allocation per push: `engine_noalloc.rs` (2d, 4b, 4d).
use qssm_tests::chunk_stream::ChunkStream;
use qssm_tests::engine_case::{check_f16, check_window_parity, from_fixture, perturbed_init, Case};
use qssm_trainer::models::ModelConfig;

/// One family of chunk-streaming models and the sizes its tests use.
struct Family {
    ids: &'static [&'static str],
    stream: ChunkStream,
    /// (C, T, D, Q, layers, K) of the window tests
    window_sizes: &'static [(usize, usize, usize, usize, usize, usize)],
    /// (C, T, D, Q, layers, K) of the stream tests
    stream_sizes: &'static [(usize, usize, usize, usize, usize, usize)],
    /// T of the push-pattern model and the longest segment
    push: (usize, usize),
    /// vary d_state (2d/2e: the dt MLP's width) with the sizes
    vary_d_state: bool,
}

const GROUP_2: Family = Family {
    ids: &["2d", "2e"],
    stream: ChunkStream {
        chunk: 32,
        lookahead: 0,
    },
    // short last chunk, T < 32, T multiple of 32, T = 32m + 1, EEG-like Q = 6 with 64 channels
    window_sizes: &[
        (3, 75, 16, 3, 1, 2),
        (5, 20, 16, 3, 2, 2),
        (4, 64, 16, 2, 2, 3),
        (2, 33, 8, 3, 2, 2),
        (64, 97, 32, 6, 2, 2),
    ],
    stream_sizes: &[(3, 75, 16, 3, 1, 2), (2, 64, 8, 3, 2, 3)],
    push: (40, 110),
    vary_d_state: true,
};

const GROUP_4: Family = Family {
    ids: &["4a", "4b", "4c", "4d", "4e"],
    stream: ChunkStream {
        chunk: 16,
        lookahead: 1,
    },
    // short last chunk, T multiple of 16, T = 16m + 1, EEG-like Q = 6 with 64 channels
    window_sizes: &[
        (3, 37, 16, 3, 1, 2),
        (4, 32, 16, 2, 2, 3),
        (2, 33, 8, 3, 2, 2),
        (64, 49, 32, 6, 2, 2),
    ],
    stream_sizes: &[(3, 37, 16, 3, 1, 2), (2, 49, 8, 3, 2, 3)],
    push: (20, 60),
    vary_d_state: false,
};

const FAMILIES: [Family; 2] = [GROUP_2, GROUP_4];

impl Family {
    /// A trainer-initialised model (every parameter perturbed) with 2 random windows.
    fn synthetic(&self, id: &str, size: (usize, usize, usize, usize, usize, usize)) -> Case {
        let (c, t, d, q, layers, k) = size;
        let base = ModelConfig::eeg(t);
        let cfg = ModelConfig {
            d_state: if self.vary_d_state {
                4 + (c + t) % 13
            } else {
                base.d_state
            },
            n_channels: c,
            n_times: t,
            d_model: d,
            n_qubits: q,
            n_layers: layers,
            n_classes: k,
            ..base
        };
        let seed = (c * 1_000_003 + t * 1009 + d * 101 + q * 11 + k) as u64 + id.len() as u64;
        let seed = seed ^ u64::from(id.as_bytes()[1]);
        let name = format!("{id} C{c} T{t} D{d} Q{q} L{layers} K{k}");
        perturbed_init(id, cfg, seed, 2, name)
    }
}

#[test]
fn window_matches_the_trainer() {
    for fam in &FAMILIES {
        let mut worst = 0.0f32;
        for id in fam.ids {
            for &size in fam.window_sizes {
                worst = worst.max(check_window_parity(&fam.synthetic(id, size)));
            }
        }
        eprintln!("{:?} window: worst |engine − trainer| = {worst:e}", fam.ids);
    }
}

#[test]
fn window_matches_the_reference_fixtures() {
    for id in FAMILIES.iter().flat_map(|f| f.ids) {
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
    for fam in &FAMILIES {
        for id in fam.ids {
            check_f16(&fam.synthetic(id, (8, 40, 32, 4, 2, 2)));
        }
    }
}

#[test]
fn stream_matches_the_boundary_outputs() {
    for fam in &FAMILIES {
        let mut worst = 0.0f32;
        for id in fam.ids {
            for &size in fam.stream_sizes {
                worst = worst.max(fam.stream.check_stream(&fam.synthetic(id, size)));
            }
        }
        eprintln!("{:?} stream: worst |stream − trainer| = {worst:e}", fam.ids);
    }
}

#[test]
fn random_push_patterns_match_the_trainer() {
    for fam in &FAMILIES {
        let (t, max_len) = fam.push;
        for (n, id) in fam.ids.iter().enumerate() {
            let case = fam.synthetic(id, (3, t, 16, 3, 1, 2));
            fam.stream
                .check_random_push_patterns(&case, 1234 + n as u64, max_len);
        }
    }
}

#[test]
fn hops_must_be_multiples_of_the_chunk() {
    for fam in &FAMILIES {
        for id in fam.ids {
            fam.stream
                .check_hops(&fam.synthetic(id, (2, 20, 8, 2, 1, 2)));
        }
    }
}
