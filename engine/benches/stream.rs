//! Per-sample latency of the streaming path: one `Stream::push` of EEG-size models (64
//! channels, random weights with PyTorch-style init scales; see `stream/models.rs`), from an
//! f32 and from an f16 model file:
//! * 3b `TrueClassicalMamba` (D 128, E 256, N 16, 2 blocks), a prediction after every sample
//!   (hop 1) and every 16 samples;
//! * the causal 1b `QuantumMambaSSM` (D 128, N 16, Q 6, 2 blocks; chunks of 32), hop 32;
//! * mg `QuantumMambaGated` (n 6, H 64, chunk 8, unified ansatz), hop 8.
//!
//! The chunked models do uneven work per sample (features every sample; circuits, blocks or
//! the gated update when a chunk closes), so besides criterion's mean the bench prints the
//! distribution of single-push times (mean, median, p99, max over many windows) and the state,
//! scratch and weight bytes of each model.
//!
//! Two measurements: wall-clock time (criterion's default, `stream_push_*`) and, on Linux,
//! the benchmark thread's CPU time (`cpu/stream_push_*`, `CLOCK_THREAD_CPUTIME_ID`), which
//! is what to read on a shared, loaded machine (time spent descheduled is not counted; cache
//! interference from other processes still is).
//!
//! `cargo bench -p qssm-engine --bench stream -- --warm-up-time 1 --measurement-time 3`
//!
//! 3b through its engine streaming form against its description's step (feature
//! `stream-3b-description`), criterion's change report per benchmark:
//!
//! ```sh
//! cargo bench -p qssm-engine --bench stream -- 3b --save-baseline engine-form
//! cargo bench -p qssm-engine --bench stream --features stream-3b-description -- 3b --baseline engine-form
//! ```
//!
//! The printed distribution uses each model's step as its hop; `QSSM_BENCH_HOP=16` (any hop
//! every model allows, e.g. `--list` for the printout alone) prints it at that hop instead.
#[path = "stream/models.rs"]
mod models;
#[path = "common/tensors.rs"]
mod tensors;

use criterion::measurement::Measurement;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use models::{model_file, Spec, SPECS};
use qssm_engine::{required_scratch_bytes, required_state_bytes, Model, StreamOptions};
use qssm_formats::model_file::TensorDtype;
use std::time::Instant;
use tensors::{Lcg, C};

/// Windows timed push by push for the printed distribution.
const WINDOWS: usize = 60;

/// Prints the bytes of `model` and the distribution of single-push times over [`WINDOWS`]
/// windows of `samples` (hop = the model's step, reset at each window's start).
fn print_latency(spec: &Spec, label: &str, model: &Model, samples: &[Vec<f32>]) {
    let name = format!("{} EEG ({label} file)", spec.label);
    println!(
        "{name}: weights {} bytes, stream state {} bytes, scratch {} bytes",
        model.weight_bytes(),
        required_state_bytes(model).unwrap(),
        required_scratch_bytes(model).unwrap()
    );
    let hop = std::env::var("QSSM_BENCH_HOP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(spec.step);
    let mut s = model.stream(StreamOptions { hop }).unwrap();
    let mut times = Vec::with_capacity(WINDOWS * samples.len());
    let mut best = f64::INFINITY;
    for _ in 0..WINDOWS {
        s.reset();
        let window_start = Instant::now();
        for x in samples {
            let start = Instant::now();
            black_box(s.push(black_box(x)).expect("push").map(|p| p.class));
            times.push(start.elapsed().as_secs_f64());
        }
        best = best.min(window_start.elapsed().as_secs_f64() / samples.len() as f64);
    }
    times.sort_by(f64::total_cmp);
    let q = |f: f64| times[((times.len() - 1) as f64 * f) as usize] * 1e6;
    let mean = times.iter().sum::<f64>() / times.len() as f64 * 1e6;
    println!(
        "{name}: per sample (hop {}) over {WINDOWS} windows of {}: mean {mean:.2} µs, median {:.2} µs, p99 {:.2} µs, max {:.2} µs; best window {:.2} µs/sample",
        hop,
        samples.len(),
        q(0.5),
        q(0.99),
        q(1.0),
        best * 1e6
    );
}

/// One benchmark per (model, dtype, hop): `Stream::push` of one sample, cycling through a
/// window of the model's T samples (reset at its end).
fn bench_push<M: Measurement + 'static>(c: &mut Criterion<M>, prefix: &str, print: bool) {
    for spec in &SPECS {
        let samples: Vec<Vec<f32>> = (0..spec.t)
            .map(|i| Lcg(i as u64).uniform(C, -0.05, 0.05))
            .collect();
        for (label, dtype) in [("f32", TensorDtype::F32), ("f16", TensorDtype::F16)] {
            let model = Model::from_bytes(&model_file(spec, dtype)).expect("model loads");
            if print {
                print_latency(spec, label, &model, &samples);
            }
            let hops = if spec.step == 1 {
                vec![1, 16]
            } else {
                vec![spec.step]
            };
            for hop in hops {
                let mut s = model.stream(StreamOptions { hop }).unwrap();
                let mut i = 0;
                c.bench_function(
                    &format!("{prefix}stream_push_{}_eeg_{label}_hop{hop}", spec.label),
                    |b| {
                        b.iter(|| {
                            if i == samples.len() {
                                i = 0;
                                s.reset(); // one window, then the next
                            }
                            let out = s.push(black_box(&samples[i])).expect("push");
                            i += 1;
                            black_box(out.map(|p| p.class))
                        })
                    },
                );
            }
        }
    }
}

fn wall(c: &mut Criterion) {
    bench_push(c, "", true);
}

#[cfg(target_os = "linux")]
mod cpu {
    //! Thread CPU time as a criterion measurement (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`).
    use criterion::measurement::{Measurement, ValueFormatter};
    use criterion::Throughput;

    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }

    extern "C" {
        fn clock_gettime(clk_id: i32, tp: *mut Timespec) -> i32;
    }

    /// Linux `CLOCK_THREAD_CPUTIME_ID`.
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

    /// CPU time of the calling thread, ns.
    fn now_ns() -> u64 {
        let mut ts = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid out-pointer; the clock id exists on Linux.
        let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// Thread CPU time.
    pub struct ThreadCpu;

    /// ns → ns/µs/ms.
    struct Fmt;

    impl ValueFormatter for Fmt {
        fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
            let (f, unit) = if typical < 1e3 {
                (1.0, "ns")
            } else if typical < 1e6 {
                (1e-3, "µs")
            } else {
                (1e-6, "ms")
            };
            values.iter_mut().for_each(|v| *v *= f);
            unit
        }
        fn scale_throughputs(&self, _: f64, _: &Throughput, values: &mut [f64]) -> &'static str {
            values.iter_mut().for_each(|v| *v = 1e9 / *v);
            "elem/s"
        }
        fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
            "ns"
        }
    }

    impl Measurement for ThreadCpu {
        type Intermediate = u64;
        type Value = u64;
        fn start(&self) -> u64 {
            now_ns()
        }
        fn end(&self, start: u64) -> u64 {
            now_ns() - start
        }
        fn add(&self, a: &u64, b: &u64) -> u64 {
            a + b
        }
        fn zero(&self) -> u64 {
            0
        }
        fn to_f64(&self, v: &u64) -> f64 {
            *v as f64
        }
        fn formatter(&self) -> &dyn ValueFormatter {
            &Fmt
        }
    }
}

#[cfg(target_os = "linux")]
fn cpu_time(c: &mut Criterion<cpu::ThreadCpu>) {
    bench_push(c, "cpu/", false);
}

criterion_group!(wall_time, wall);
#[cfg(target_os = "linux")]
criterion_group! {
    name = thread_cpu_time;
    config = Criterion::default().with_measurement(cpu::ThreadCpu);
    targets = cpu_time
}
#[cfg(target_os = "linux")]
criterion_main!(wall_time, thread_cpu_time);
#[cfg(not(target_os = "linux"))]
criterion_main!(wall_time);
