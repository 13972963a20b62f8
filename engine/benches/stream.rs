//! Per-sample latency of the streaming path: one `Stream::push` of an EEG-size 3b
//! (`TrueClassicalMamba`: C 64, D 128, E 256, N 16, 2 blocks, 2 classes) with random weights
//! (PyTorch-style init scales), from an f32 and from an f16 model file, with a prediction after
//! every sample (hop 1) and every 16 samples. Prints the state, scratch and weight bytes.
//!
//! Two measurements: wall-clock time (criterion's default, `stream_push_*`) and, on Linux,
//! the benchmark thread's CPU time (`cpu/stream_push_*`, `CLOCK_THREAD_CPUTIME_ID`), which
//! is what to read on a shared, loaded machine (time spent descheduled is not counted; cache
//! interference from other processes still is).
//!
//! `cargo bench -p qssm-engine -- --warm-up-time 1 --measurement-time 3`
use criterion::measurement::Measurement;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use qssm_engine::{required_scratch_bytes, required_state_bytes, Model, StreamOptions};
use qssm_formats::model_file::{
    to_bytes, Hyperparameters, InputSpec, ModelCard, TensorDtype, TensorOut,
};

const C: usize = 64;
const D: usize = 128;
const E: usize = 2 * D;
const N: usize = 16;
const R: usize = D.div_ceil(16);
const LAYERS: usize = 2;
const K: usize = 2;
const T: usize = 497;

/// Uniform [lo, hi) values from a linear congruential generator.
struct Lcg(u64);
impl Lcg {
    fn uniform(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                lo + (hi - lo) * ((self.0 >> 40) as f32 / (1u64 << 24) as f32)
            })
            .collect()
    }
}

/// Every 3b tensor (reference `state_dict` names, spec §4.5) with init-like values.
fn tensors(rng: &mut Lcg) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let lin = |rng: &mut Lcg, out: usize, inp: usize| {
        let a = 1.0 / (inp as f32).sqrt();
        rng.uniform(out * inp, -a, a)
    };
    let mut v = vec![
        ("embedding.weight".to_string(), vec![D, C], lin(rng, D, C)),
        ("embedding.bias".into(), vec![D], rng.uniform(D, -0.1, 0.1)),
    ];
    for l in 0..LAYERS {
        let p = |s: &str| format!("layers.{l}.{s}");
        let a_log: Vec<f32> = (0..E * N).map(|i| ((i % N) as f32 + 1.0).ln()).collect();
        let dt_bias: Vec<f32> = rng
            .uniform(E, (1e-3f32).ln(), (0.1f32).ln())
            .iter()
            .map(|u| {
                let dt = u.exp();
                dt + (-(-dt).exp_m1()).ln() // softplus⁻¹(dt)
            })
            .collect();
        v.extend([
            (p("in_proj.weight"), vec![2 * E, D], lin(rng, 2 * E, D)),
            (
                p("x_proj.weight"),
                vec![R + 2 * N, E],
                lin(rng, R + 2 * N, E),
            ),
            (
                p("conv1d.weight"),
                vec![E, 1, 4],
                rng.uniform(E * 4, -0.5, 0.5),
            ),
            (p("conv1d.bias"), vec![E], rng.uniform(E, -0.5, 0.5)),
            (p("ssm.A_log"), vec![E, N], a_log),
            (p("ssm.D"), vec![E], vec![1.0; E]),
            (p("ssm.dt_proj.weight"), vec![E, R], lin(rng, E, R)),
            (p("ssm.dt_proj.bias"), vec![E], dt_bias),
            (p("out_proj.weight"), vec![D, E], lin(rng, D, E)),
            (p("norm.weight"), vec![D], vec![1.0; D]),
        ]);
    }
    v.push(("final_norm.weight".into(), vec![D], vec![1.0; D]));
    v.push(("classifier.weight".into(), vec![K, D], lin(rng, K, D)));
    v.push(("classifier.bias".into(), vec![K], rng.uniform(K, -0.1, 0.1)));
    v
}

fn model_file(dtype: TensorDtype) -> Vec<u8> {
    let t = tensors(&mut Lcg(42));
    let card = ModelCard {
        qssm_version: "0.1.0".into(),
        model_id: "3b".into(),
        class_name: "TrueClassicalMamba".into(),
        causal: true,
        hyperparameters: Hyperparameters {
            n_channels: C,
            n_times: T,
            d_model: D,
            d_state: N,
            n_qubits: 6,
            n_layers: LAYERS,
            n_classes: K,
            dropout: 0.1,
        },
        circuit: None,
        input: InputSpec {
            sfreq: 160.0,
            n_times: T,
            channels: (1..=C).map(|i| format!("Ch{i}")).collect(),
            unit: "mV".into(),
            layout: "channel_major".into(),
        },
        preprocessing: serde_json::json!({}),
        split: None,
        training: serde_json::json!({}),
        metrics: serde_json::json!({}),
        dtype: "f32".into(),
    };
    let outs: Vec<TensorOut<'_>> = t
        .iter()
        .map(|(name, shape, data)| TensorOut { name, shape, data })
        .collect();
    to_bytes(&card, &outs, dtype).expect("serialises")
}

/// One benchmark per (dtype, hop): `Stream::push` of one sample, cycling through a 497-sample
/// window (reset at its end).
fn bench_push<M: Measurement + 'static>(c: &mut Criterion<M>, prefix: &str, print: bool) {
    let samples: Vec<Vec<f32>> = (0..T)
        .map(|i| Lcg(i as u64).uniform(C, -0.05, 0.05))
        .collect();
    for (label, dtype) in [("f32", TensorDtype::F32), ("f16", TensorDtype::F16)] {
        let model = Model::from_bytes(&model_file(dtype)).expect("model loads");
        if print {
            println!(
                "3b EEG ({label} file): weights {} bytes, stream state {} bytes, scratch {} bytes",
                model.weight_bytes(),
                required_state_bytes(&model).unwrap(),
                required_scratch_bytes(&model).unwrap()
            );
            // the least-disturbed of many windows: robust to other load on a shared machine
            let mut s = model.stream(StreamOptions::default()).unwrap();
            let mut best = f64::INFINITY;
            for _ in 0..300 {
                s.reset();
                let start = std::time::Instant::now();
                for x in &samples {
                    black_box(s.push(black_box(x)).expect("push").map(|p| p.class));
                }
                best = best.min(start.elapsed().as_secs_f64() / T as f64);
            }
            println!(
                "3b EEG ({label} file): best of 300 windows of {T} samples: {:.2} µs per sample (hop 1)",
                best * 1e6
            );
        }
        for hop in [1, 16] {
            let mut s = model.stream(StreamOptions { hop }).unwrap();
            let mut i = 0;
            c.bench_function(
                &format!("{prefix}stream_push_3b_eeg_{label}_hop{hop}"),
                |b| {
                    b.iter(|| {
                        if i == T {
                            i = 0;
                            s.reset(); // one 3.1 s window at 160 Hz, then the next
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
