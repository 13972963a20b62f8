//! The streaming forms of the causal models ([`StepNet`]), written next to their window
//! forwards, against those forwards: the output after the first t samples stepped equals the
//! window forward of the same model over those t samples, and a batch of streams steps as each
//! stream alone.
use qssm_kernels::backend::cpu::{Arena, Cpu, CpuIn};
use qssm_kernels::backend::Infer;
use qssm_models::nn::step::{stream_window, stream_window_on};
use qssm_models::nn::{Net, StepNet};
use qssm_models::zoo::{
    visit_step_net, E2eVariant, QuantumE2e, QuantumE2eSuperposition, QuantumHydraSuperposition,
    QuantumMambaGated, QuantumMambaSsm, StepNetVisitor, TrueClassicalMamba,
};
use qssm_models::ModelConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn window(rng: &mut ChaCha8Rng, c: usize, t: usize) -> Vec<f32> {
    (0..c * t).map(|_| rng.gen_range(-0.1f32..0.1)).collect()
}

/// The eval forward of `net` (configured for T = t) on the first `t` samples of the window
/// x (C, `full`).
fn forward_prefix<M: Net>(net: &M, p: &[f32], x: &[f32], full: usize) -> Vec<f32> {
    let (c, t) = (net.config().n_channels, net.config().n_times);
    let prefix: Vec<f32> = (0..c)
        .flat_map(|ch| x[ch * full..ch * full + t].to_vec())
        .collect();
    let mut a = net.plan(&Cpu, 1);
    Cpu.upload(&mut M::io(&mut a).x, &prefix);
    net.forward(&Cpu, p, &mut a, None);
    M::io(&mut a).out.as_slice().to_vec()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// 3b: after t samples stepped, the logits equal the window forward over those t samples
/// (the model with T = t; its parameters do not depend on T), for t = 1 … T.
#[test]
fn true_classical_mamba_steps_equal_the_window_forward_on_every_prefix() {
    let cfg = ModelConfig::eeg(160);
    let net = TrueClassicalMamba::new(cfg.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let p = net.layout().init(&mut rng);
    let x = window(&mut rng, cfg.n_channels, cfg.n_times);
    let outs = stream_window(&net, &p, &x);
    assert_eq!(outs.len(), cfg.n_times);
    let mut worst = 0.0f32;
    for &t in &[1usize, 2, 3, 4, 5, 17, 64, 159, 160] {
        let (n, got) = &outs[t - 1];
        assert_eq!(*n, t);
        let mut c = cfg.clone();
        c.n_times = t;
        let want = forward_prefix(&TrueClassicalMamba::new(c), &p, &x, cfg.n_times);
        let d = max_abs_diff(got, &want);
        worst = worst.max(d);
        assert!(
            d <= 2e-5,
            "t = {t}: max |Δlogit| {d:e} ({got:?} vs {want:?})"
        );
    }
    eprintln!("3b step vs window forward: max |Δlogit| {worst:e}");
}

/// 3b: B streams stepped together give each stream's outputs alone (the state is per stream).
#[test]
fn true_classical_mamba_batch_of_streams_steps_as_each_alone() {
    let mut cfg = ModelConfig::eeg(24);
    cfg.n_channels = 5;
    let net = TrueClassicalMamba::new(cfg.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let p = net.layout().init(&mut rng);
    let (b, c, t) = (3usize, cfg.n_channels, cfg.n_times);
    let xs: Vec<Vec<f32>> = (0..b).map(|_| window(&mut rng, c, t)).collect();
    let alone: Vec<_> = xs.iter().map(|x| stream_window(&net, &p, x)).collect();
    let mut st = net.plan_state(&Cpu, b);
    let mut s = net.plan_step(&Cpu, b, 1);
    for k in 0..t {
        let sample: Vec<f32> = xs
            .iter()
            .flat_map(|x| (0..c).map(move |ch| x[ch * t + k]))
            .collect();
        Cpu.upload(&mut TrueClassicalMamba::step_io(&mut s).x, &sample);
        net.step(&Cpu, &p, &mut st, &mut s);
        let out = TrueClassicalMamba::step_io(&mut s).out.as_slice().to_vec();
        // the same arithmetic per stream, but matrix products of another batch size may
        // round differently
        for (i, row) in out.chunks_exact(cfg.n_classes).enumerate() {
            let d = max_abs_diff(row, &alone[i][k].1);
            assert!(d <= 1e-6, "stream {i}, sample {k}: {d:e}");
        }
    }
}

/// Causal 1b: after k chunks of 32 samples stepped, the logits equal the window forward over
/// those 32·k samples (the chunk processor, each block from its own zero state, the mean over
/// the chunks); the last, partial chunk (4 samples) is stepped on a plan of its length, and
/// gives the window forward over all T.
#[test]
fn causal_quantum_mamba_steps_equal_the_window_forward_on_every_chunk_prefix() {
    let mut cfg = ModelConfig::eeg(100);
    cfg.causal = true;
    let net = QuantumMambaSsm::new(cfg.clone());
    assert_eq!(net.step_len(), 32);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let p = net.layout().init(&mut rng);
    let x = window(&mut rng, cfg.n_channels, cfg.n_times);
    let outs = stream_window(&net, &p, &x);
    assert_eq!(
        outs.iter().map(|o| o.0).collect::<Vec<_>>(),
        [32, 64, 96, 100]
    );
    for (t, got) in &outs {
        let mut c = cfg.clone();
        c.n_times = *t;
        let want = forward_prefix(&QuantumMambaSsm::new(c), &p, &x, cfg.n_times);
        let d = max_abs_diff(got, &want);
        assert!(
            d <= 2e-5,
            "t = {t}: max |Δlogit| {d:e} ({got:?} vs {want:?})"
        );
    }
}

/// mg: after k chunks stepped, the logits equal the window forward over those k chunks (the
/// gated recurrence from its state h, the head on h); the last, partial chunk too.
#[test]
fn gated_mamba_steps_equal_the_window_forward_on_every_chunk_prefix() {
    let cfg = ModelConfig::eeg(42);
    let net = QuantumMambaGated::new(cfg.clone());
    let len = net.step_len();
    assert_eq!(len, cfg.chunk_size);
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let p = net.layout().init(&mut rng);
    let x = window(&mut rng, cfg.n_channels, cfg.n_times);
    let outs = stream_window(&net, &p, &x);
    // 5 chunks of 8, then a partial chunk of 2 ending at T
    assert_eq!(outs.len(), cfg.n_times.div_ceil(len));
    assert_eq!(outs.last().map(|o| o.0), Some(cfg.n_times));
    for (t, got) in &outs {
        let mut c = cfg.clone();
        c.n_times = *t;
        let want = forward_prefix(&QuantumMambaGated::new(c), &p, &x, cfg.n_times);
        let d = max_abs_diff(got, &want);
        assert!(
            d <= 2e-5,
            "t = {t}: max |Δlogit| {d:e} ({got:?} vs {want:?})"
        );
    }
}

/// 2d and 2e: after k chunks of 32 samples stepped, the logits equal the window forward over
/// those 32·k samples (each chunk's measurements, then the SeqPool over the chunks so far,
/// streamed by the online softmax); the last, partial chunk (4 samples, the window's zero pad
/// rows) is stepped on a plan of its length, and gives the window forward over all T.
#[test]
fn superposition_models_step_equal_the_window_forward_on_every_chunk_prefix() {
    let cfg = ModelConfig::eeg(100);
    for make in [
        QuantumHydraSuperposition::mamba_hydra,
        QuantumHydraSuperposition::hydra_hydra,
    ] {
        let net = make(cfg.clone());
        assert_eq!(net.step_len(), 32);
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let p = net.layout().init(&mut rng);
        let x = window(&mut rng, cfg.n_channels, cfg.n_times);
        let outs = stream_window(&net, &p, &x);
        assert_eq!(
            outs.iter().map(|o| o.0).collect::<Vec<_>>(),
            [32, 64, 96, 100]
        );
        for (t, got) in &outs {
            let mut c = cfg.clone();
            c.n_times = *t;
            let want = forward_prefix(&make(c), &p, &x, cfg.n_times);
            let d = max_abs_diff(got, &want);
            assert!(
                d <= 2e-5,
                "{} t = {t}: max |Δlogit| {d:e} ({got:?} vs {want:?})",
                net.id()
            );
        }
    }
}

/// 4a–4e: after chunk k stepped with its look-ahead sample (sample 16(k+1), a zero past T),
/// the logits equal the trainer's `boundary_outputs` entry n_k = min(16(k+1) + 1, T) (the head
/// over chunks 0..=k of the window forward), and the last, at T, the window forward; T = 40:
/// two chunks, then a short one of 8 samples whose look-ahead is the window's zero edge.
#[test]
fn group_4_steps_equal_the_window_forward_on_every_chunk_prefix() {
    let cfg = ModelConfig::eeg(40);
    struct Check(ModelConfig);
    impl StepNetVisitor for Check {
        type Output = ();
        fn visit<M: StepNet + 'static>(self, net: M) {
            let cfg = self.0;
            assert_eq!((net.step_len(), net.lookahead()), (16, 1));
            let mut rng = ChaCha8Rng::seed_from_u64(13);
            let p = net.layout().init(&mut rng);
            let x = window(&mut rng, cfg.n_channels, cfg.n_times);
            let outs = stream_window(&net, &p, &x);
            assert_eq!(
                outs.iter().map(|o| o.0).collect::<Vec<_>>(),
                [17, 33, 40],
                "{}",
                net.id()
            );
            let boundary = net.boundary_outputs(&p, &x).expect("causal");
            assert_eq!(boundary.len(), outs.len());
            for ((t, got), (tb, want)) in outs.iter().zip(&boundary) {
                assert_eq!(t, tb);
                let d = max_abs_diff(got, want);
                assert!(
                    d <= 2e-5,
                    "{} t = {t}: max |Δlogit| {d:e} ({got:?} vs {want:?})",
                    net.id()
                );
            }
            let window = forward_prefix(&net, &p, &x, cfg.n_times);
            let d = max_abs_diff(&outs[outs.len() - 1].1, &window);
            assert!(d <= 2e-5, "{} at T: {d:e}", net.id());
        }
    }
    for id in ["4a", "4b", "4c", "4d", "4e"] {
        visit_step_net(id, cfg.clone(), Check(cfg.clone())).expect("4a–4e step");
    }
}

/// Streams `x` through `net` on the CPU backend in a caller-lent arena: a sizing pass
/// ([`Arena::measure`]) gives the f32s the state and step plans need, an arena of exactly
/// that size holds every buffer (nothing from the heap), and the outputs are bit-identical to
/// the sizing pass's and equal the heap backend's to rounding (an arena's steps run their
/// linear layers through the matrix-vector kernels, the heap backend through the GEMM).
fn arena_stream_equals_heap_stream<M: StepNet>(net: &M, p: &[f32], x: &[f32]) {
    let heap = stream_window(net, p, x);
    let sizing = CpuIn::new(Arena::measure());
    let measured = stream_window_on(&sizing, net, p, x);
    let need = sizing.memory().used();
    assert!(need > 0);
    assert_eq!(measured.len(), heap.len());
    for ((n, a), (m, b)) in measured.iter().zip(&heap) {
        assert_eq!(n, m);
        let d = max_abs_diff(a, b);
        assert!(d <= 1e-5, "{}: arena vs heap at t = {n}: {d:e}", net.id());
    }
    let mut mem = vec![f32::NAN; need];
    let lent = CpuIn::new(Arena::new(&mut mem));
    let got = stream_window_on(&lent, net, p, x);
    assert_eq!(lent.memory().used(), need, "{}: the same plans", net.id());
    assert_eq!(
        lent.memory().overflowed(),
        0,
        "{}: every buffer lent",
        net.id()
    );
    assert_eq!(got, measured, "{}: lent arena vs sizing pass", net.id());
    // one f32 short: the last buffer comes from the heap instead, the results unchanged
    let mut short = vec![0.0f32; need - 1];
    let lent = CpuIn::new(Arena::new(&mut short));
    assert_eq!(stream_window_on(&lent, net, p, x), measured);
    assert_eq!(lent.memory().overflowed(), 1, "{}", net.id());
}

/// 3b, causal 1b, mg and 2d stream in a caller-lent arena as on the heap (to rounding;
/// bit-identically to their sizing pass).
#[test]
fn causal_models_stream_in_a_lent_arena_as_on_the_heap() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let cfg = ModelConfig::eeg(20);
    let net = TrueClassicalMamba::new(cfg.clone());
    let p = net.layout().init(&mut rng);
    arena_stream_equals_heap_stream(&net, &p, &window(&mut rng, cfg.n_channels, cfg.n_times));
    let mut cfg = ModelConfig::eeg(70);
    cfg.causal = true;
    let net = QuantumMambaSsm::new(cfg.clone());
    let p = net.layout().init(&mut rng);
    arena_stream_equals_heap_stream(&net, &p, &window(&mut rng, cfg.n_channels, cfg.n_times));
    let cfg = ModelConfig::eeg(42);
    let net = QuantumMambaGated::new(cfg.clone());
    let p = net.layout().init(&mut rng);
    arena_stream_equals_heap_stream(&net, &p, &window(&mut rng, cfg.n_channels, cfg.n_times));
    let cfg = ModelConfig::eeg(70);
    let net = QuantumHydraSuperposition::mamba_hydra(cfg.clone());
    let p = net.layout().init(&mut rng);
    arena_stream_equals_heap_stream(&net, &p, &window(&mut rng, cfg.n_channels, cfg.n_times));
    let cfg = ModelConfig::eeg(37);
    let net = QuantumE2e::new(cfg.clone(), E2eVariant::Hydra);
    let p = net.layout().init(&mut rng);
    arena_stream_equals_heap_stream(&net, &p, &window(&mut rng, cfg.n_channels, cfg.n_times));
    let net = QuantumE2eSuperposition::new(cfg.clone(), true);
    let p = net.layout().init(&mut rng);
    arena_stream_equals_heap_stream(&net, &p, &window(&mut rng, cfg.n_channels, cfg.n_times));
}

/// `for_each_state` visits the tensors `state` names, in the same order (what a runtime's flat
/// copy of a stream's state relies on).
fn state_visit_order_is_the_named_order<M: StepNet>(net: &M) {
    let be = Cpu;
    let mut st = net.plan_state(&be, 2);
    // mark each tensor with its position in the named list
    for (i, (_, b)) in M::state(&mut st).into_iter().enumerate() {
        let n = be.numel(b);
        be.upload(b, &vec![i as f32; n]);
    }
    let named: Vec<(f32, usize)> = M::state(&mut st)
        .into_iter()
        .enumerate()
        .map(|(i, (_, b))| (i as f32, be.numel(b)))
        .collect();
    let mut seen = Vec::new();
    M::for_each_state(&mut st, &mut |b| {
        let mut v = vec![0.0; be.numel(b)];
        be.download(b, &mut v);
        seen.push((v[0], v.len()));
    });
    assert_eq!(seen, named, "{}", net.id());
}

#[test]
fn every_causal_model_visits_its_state_in_the_named_order() {
    state_visit_order_is_the_named_order(&TrueClassicalMamba::new(ModelConfig::eeg(20)));
    let mut cfg = ModelConfig::eeg(70);
    cfg.causal = true;
    state_visit_order_is_the_named_order(&QuantumMambaSsm::new(cfg));
    state_visit_order_is_the_named_order(&QuantumMambaGated::new(ModelConfig::eeg(42)));
    state_visit_order_is_the_named_order(&QuantumHydraSuperposition::hydra_hydra(
        ModelConfig::eeg(64),
    ));
    state_visit_order_is_the_named_order(&QuantumE2e::new(ModelConfig::eeg(32), E2eVariant::Mamba));
    state_visit_order_is_the_named_order(&QuantumE2eSuperposition::new(ModelConfig::eeg(32), true));
}

/// A chunked model's step over the first n samples of a full chunk's plan (the other samples,
/// look-ahead included, set to garbage) equals its step on a plan of n samples at the end of a
/// window (a zero look-ahead), for every n, from the same (non-zero) state: outputs and next
/// state, to `tol`.
fn prefix_steps_equal_short_steps<M: StepNet>(net: &M, tol: f32) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    assert!(net.steps_prefix(), "{}", net.id());
    let cfg = net.config().clone();
    let p = net.layout().init(&mut rng);
    let (c, cs, la, be) = (cfg.n_channels, net.step_len(), net.lookahead(), Cpu);
    let w = cs + la;
    let x = window(&mut rng, c, w);
    let garbage = window(&mut rng, c, w);
    // a state after one full chunk
    let mut st0 = net.plan_state(&be, 1);
    let mut full = net.plan_step(&be, 1, cs);
    be.upload(&mut M::step_io(&mut full).x, &garbage);
    net.step(&be, &p[..], &mut st0, &mut full);
    let flat = |st: &mut M::State<Cpu>| {
        let mut v = Vec::new();
        M::for_each_state(st, &mut |b| {
            let mut t = vec![0.0; be.numel(b)];
            be.download(b, &mut t);
            v.extend(t);
        });
        v
    };
    let start = flat(&mut st0);
    let load = |st: &mut M::State<Cpu>| {
        let mut at = 0;
        M::for_each_state(st, &mut |b| {
            let n = be.numel(b);
            be.upload(b, &start[at..at + n]);
            at += n;
        });
    };
    for n in 1..=cs {
        // the first n samples of x, the rest garbage, channel-major (C, cs + la)
        let mixed: Vec<f32> = (0..c)
            .flat_map(|ch| {
                let (xr, gr) = (&x[ch * w..(ch + 1) * w], &garbage[ch * w..(ch + 1) * w]);
                xr[..n].iter().chain(&gr[n..]).copied().collect::<Vec<_>>()
            })
            .collect();
        // the short step's n samples and a zero look-ahead (the window's end)
        let short_x: Vec<f32> = (0..c)
            .flat_map(|ch| {
                let xr = x[ch * w..ch * w + n].iter().copied();
                xr.chain(core::iter::repeat_n(0.0, la))
            })
            .collect();
        let mut st = net.plan_state(&be, 1);
        load(&mut st);
        let mut short = net.plan_step(&be, 1, n);
        be.upload(&mut M::step_io(&mut short).x, &short_x);
        net.step(&be, &p[..], &mut st, &mut short);
        let mut want = vec![0.0; cfg.n_classes];
        be.download(&M::step_io(&mut short).out, &mut want);
        let want_state = flat(&mut st);

        let mut st = net.plan_state(&be, 1);
        load(&mut st);
        be.upload(&mut M::step_io(&mut full).x, &mixed);
        assert!(net.step_prefix(&be, &p[..], &mut st, &mut full, n));
        let mut got = vec![0.0; cfg.n_classes];
        be.download(&M::step_io(&mut full).out, &mut got);
        let d = max_abs_diff(&got, &want).max(max_abs_diff(&flat(&mut st), &want_state));
        assert!(
            d <= tol,
            "{} n = {n}: prefix step vs short step {d:e}",
            net.id()
        );
    }
}

/// The causal 1b (its chunk pool masks pad rows: the same floats), mg (its chunk mean as
/// uniform attention weights over the first n rows: the mean to rounding), 2d and 2e (the
/// rows after n zeroed: the window's pad rows) step prefixes of a full chunk's plan.
#[test]
fn chunked_models_step_prefixes_as_short_steps() {
    let mut cfg = ModelConfig::eeg(96);
    cfg.causal = true;
    prefix_steps_equal_short_steps(&QuantumMambaSsm::new(cfg), 1e-6);
    prefix_steps_equal_short_steps(&QuantumMambaGated::new(ModelConfig::eeg(42)), 1e-5);
    let cfg = ModelConfig::eeg(64);
    prefix_steps_equal_short_steps(&QuantumHydraSuperposition::mamba_hydra(cfg.clone()), 1e-5);
    prefix_steps_equal_short_steps(&QuantumHydraSuperposition::hydra_hydra(cfg), 1e-5);
    let cfg = ModelConfig::eeg(48);
    prefix_steps_equal_short_steps(&QuantumE2e::new(cfg.clone(), E2eVariant::Transformer), 1e-5);
    prefix_steps_equal_short_steps(&QuantumE2eSuperposition::new(cfg, false), 1e-5);
}

/// A step plan prepared once ([`StepNet::prepare`]: the SSMs' A computed ahead) steps bit for
/// bit as an unprepared one over several steps (outputs and state), and does read its
/// precomputed A: changing the `A_log` parameters afterwards leaves its outputs unchanged
/// while an unprepared plan's change.
fn prepared_steps_equal_plain_steps<M: StepNet>(net: &M) {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let be = Cpu;
    let mut p = net.layout().init(&mut rng);
    let (c, len) = (net.config().n_channels, net.step_len());
    let (mut st0, mut st1) = (net.plan_state(&be, 1), net.plan_state(&be, 1));
    let (mut plain, mut prepared) = (net.plan_step(&be, 1, len), net.plan_step(&be, 1, len));
    net.prepare(&be, &p[..], &mut prepared);
    let run = |st: &mut M::State<Cpu>, s: &mut M::Step<Cpu>, p: &[f32], x: &[f32]| {
        be.upload(&mut M::step_io(s).x, x);
        net.step(&be, p, st, s);
        let mut out = M::step_io(s).out.as_slice().to_vec();
        M::for_each_state(st, &mut |b| out.extend_from_slice(b.as_slice()));
        out
    };
    for _ in 0..3 {
        let x = window(&mut rng, c, len);
        let a = run(&mut st0, &mut plain, &p, &x);
        let b = run(&mut st1, &mut prepared, &p, &x);
        assert_eq!(a, b, "{}: prepared vs plain step", net.id());
    }
    // one more step with the original parameters, from a copy of the state
    let x = window(&mut rng, c, len);
    let mut saved = Vec::new();
    M::for_each_state(&mut st0, &mut |b| saved.extend_from_slice(b.as_slice()));
    let expected = run(&mut st0, &mut plain, &p, &x);
    let mut at = 0;
    M::for_each_state(&mut st0, &mut |b| {
        let n = be.numel(b);
        be.upload(b, &saved[at..at + n]);
        at += n;
    });
    let mut n_a_log = 0;
    for spec in net.layout().specs() {
        if spec.name.ends_with("A_log") {
            p[spec.range.clone()].iter_mut().for_each(|v| *v += 0.5);
            n_a_log += 1;
        }
    }
    assert!(n_a_log > 0, "{}: an SSM", net.id());
    let cached = run(&mut st1, &mut prepared, &p, &x);
    let fresh = run(&mut st0, &mut plain, &p, &x);
    assert_eq!(
        cached,
        expected,
        "{}: the prepared plan keeps its A",
        net.id()
    );
    assert_ne!(
        fresh,
        expected,
        "{}: an unprepared plan reads A_log",
        net.id()
    );
}

#[test]
fn prepared_step_plans_step_as_plain_ones() {
    prepared_steps_equal_plain_steps(&TrueClassicalMamba::new(ModelConfig::eeg(20)));
    let mut cfg = ModelConfig::eeg(70);
    cfg.causal = true;
    prepared_steps_equal_plain_steps(&QuantumMambaSsm::new(cfg));
}
