//! A causal model's streaming step on the CPU backend, planned into a caller-lent arena,
//! allocates nothing: a counting global allocator (`qssm-alloc-count`, every thread, while
//! armed) around the steps of 3b (one sample and four samples per step), the causal 1b and
//! mg (one chunk per step), after one warm-up step. The steps run in a one-thread rayon pool: the backend's scratch is
//! per thread, grown once by the first step a thread takes part in, and in a larger pool which
//! workers take part in the warm-up step is up to the scheduler. Its own test binary with one
//! test, because a `#[global_allocator]` is process-wide.
use qssm_alloc_count::{on_every_thread, Counting};
use qssm_kernels::backend::cpu::{Arena, CpuIn};
use qssm_kernels::backend::Infer;
use qssm_models::nn::StepNet;
use qssm_models::zoo::{QuantumMambaGated, QuantumMambaSsm, TrueClassicalMamba};
use qssm_models::ModelConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `steps` further steps of `len` samples of `net` in an arena (after a
/// warm-up step).
fn allocations_per_steps<M: StepNet>(net: &M, len: usize, steps: usize) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let p = net.layout().init(&mut rng);
    let c = net.config().n_channels;
    let chunk: Vec<f32> = (0..c * len).map(|_| rng.gen_range(-0.1f32..0.1)).collect();
    let sizing = CpuIn::<_, [f32]>::new(Arena::measure());
    drop((net.plan_state(&sizing, 1), net.plan_step(&sizing, 1, len)));
    let mut mem = vec![0.0f32; sizing.memory().used()];
    let be = CpuIn::<_, [f32]>::new(Arena::new(&mut mem));
    let mut st = net.plan_state(&be, 1);
    let mut s = net.plan_step(&be, 1, len);
    assert_eq!(be.memory().overflowed(), 0);
    let step = |st: &mut M::State<_>, s: &mut M::Step<_>| {
        be.upload(&mut M::step_io(s).x, &chunk);
        net.step(&be, &p[..], st, s);
    };
    step(&mut st, &mut s);
    let (_, counts) = on_every_thread(|| {
        for _ in 0..steps {
            step(&mut st, &mut s);
        }
    });
    let mut out = vec![0.0; net.config().n_classes];
    be.download(&M::step_io(&mut s).out, &mut out);
    assert!(out.iter().all(|v| v.is_finite()));
    counts.allocations
}

#[test]
fn causal_steps_in_an_arena_allocate_nothing() {
    let cfg = ModelConfig::eeg(160);
    let mamba = TrueClassicalMamba::new(cfg.clone());
    let mut causal = cfg.clone();
    causal.causal = true;
    let ssm = QuantumMambaSsm::new(causal);
    let gated = QuantumMambaGated::new(cfg);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let counts = pool.install(|| {
        [
            ("3b, 1 sample", allocations_per_steps(&mamba, 1, 8)),
            ("3b, 4 samples", allocations_per_steps(&mamba, 4, 4)),
            (
                "causal 1b, a chunk",
                allocations_per_steps(&ssm, ssm.step_len(), 2),
            ),
            (
                "mg, a chunk",
                allocations_per_steps(&gated, gated.step_len(), 4),
            ),
        ]
    });
    for (what, n) in counts {
        eprintln!("{what}: {n} allocations");
    }
    assert!(
        counts.iter().all(|(_, n)| *n == 0),
        "allocations in steps: {counts:?}"
    );
}
