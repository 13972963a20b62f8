//! The paper's model A (spec hqc-mamba-and-quantum-train §3): the HQC selective-SSM Mamba and
//! its classical twin, written as the 3b network with quantum or Linear projections. Parameter
//! counts of §3.5, the gradient of the training loss against central differences for both, on
//! the CPU backend, and the streaming form against the window forward.
use qssm_kernels::circuit::qproj::Affine;
use qssm_trainer::models::nn::step::stream_window;
use qssm_trainer::models::nn::{Batched, Net, ProjKind, QProjOptions};
use qssm_trainer::models::zoo::TrueClassicalMamba;
use qssm_trainer::models::{Model, ModelConfig, Target};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The §3.3 configuration: one feature per step, d_model `d`, d_state 16, 2 layers, 10
/// classes, no dropout.
fn cfg(d: usize, t: usize) -> ModelConfig {
    ModelConfig {
        n_channels: 1,
        d_model: d,
        d_state: 16,
        n_layers: 2,
        n_classes: 10,
        dropout: 0.0,
        ..ModelConfig::eeg(t)
    }
}

fn quantum(o: QProjOptions) -> ProjKind {
    ProjKind::Quantum(o)
}

/// §3.5: 38,610 parameters (168 circuit weights) for the HQC model at d_model 128, expand 4;
/// 33,842 without the affines; 38,778 with L_Q = 2; 13,690 for the classical twin at d_model
/// 16. The counts do not depend on T.
#[test]
fn parameter_counts_of_the_spec() {
    let count = |m: &TrueClassicalMamba| m.layout().n_params();
    let circuit = |m: &TrueClassicalMamba| {
        m.layout()
            .specs()
            .iter()
            .filter(|s| s.name.ends_with(".weights"))
            .map(|s| s.range.len())
            .sum::<usize>()
    };
    let hqc = TrueClassicalMamba::hqc_mamba(cfg(128, 64), 4, &quantum(QProjOptions::default()));
    assert_eq!(
        (hqc.id(), count(&hqc), circuit(&hqc)),
        ("hqc-mamba", 38_610, 168)
    );
    let bare = QProjOptions {
        affine: Affine::None,
        ..QProjOptions::default()
    };
    let m = TrueClassicalMamba::hqc_mamba(cfg(128, 784), 4, &quantum(bare));
    assert_eq!(count(&m), 33_842);
    let two = QProjOptions {
        layers: 2,
        ..QProjOptions::default()
    };
    let m = TrueClassicalMamba::hqc_mamba(cfg(128, 64), 4, &quantum(two));
    assert_eq!(count(&m), 38_778);
    let twin = TrueClassicalMamba::hqc_mamba(cfg(16, 784), 4, &ProjKind::Linear);
    assert_eq!((twin.id(), count(&twin)), ("hqc-mamba-classical", 13_690));
    // the names of one block's quantum projection
    let names: Vec<&str> = hqc
        .layout()
        .specs()
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| n.starts_with("layers.0.in_proj"))
        .collect();
    assert_eq!(
        names,
        [
            "layers.0.in_proj.weights",
            "layers.0.in_proj.gamma",
            "layers.0.in_proj.beta"
        ]
    );
}

/// Per parameter tensor, the directional derivative of the training loss (cross-entropy over
/// a batch of 2) against a central difference, for the HQC model (every affine mode, rescale
/// on and off) and the classical twin, at small sizes (d_model 8, expand 2, d_state 4, T 6).
#[test]
fn gradients_match_central_differences() {
    let small = |o: Option<QProjOptions>| {
        let c = ModelConfig {
            d_state: 4,
            n_classes: 3,
            ..cfg(8, 6)
        };
        let kind = o.map_or(ProjKind::Linear, ProjKind::Quantum);
        TrueClassicalMamba::hqc_mamba(c, 2, &kind)
    };
    let variants = [
        Some(QProjOptions::default()),
        Some(QProjOptions {
            affine: Affine::Scalar,
            rescale: false,
            layers: 2,
            ..QProjOptions::default()
        }),
        Some(QProjOptions {
            affine: Affine::None,
            ..QProjOptions::default()
        }),
        None,
    ];
    for v in variants {
        let net = small(v);
        let name = format!("{} {v:?}", net.id());
        let m = Batched::new(net);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let p: Vec<f32> = m
            .layout()
            .init(&mut rng)
            .iter()
            .map(|x| x + rng.gen_range(-0.05..0.05))
            .collect();
        let x: Vec<f32> = (0..12).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let t = [Target::Class(2), Target::Class(0)];
        let loss = |p: &[f32]| -> f64 {
            let mut g = vec![0.0; p.len()];
            m.train_batch(p, &x, 2, &t, None, &mut g).loss as f64
        };
        let mut g = vec![0.0; p.len()];
        m.train_batch(&p, &x, 2, &t, None, &mut g);
        let eps = 2e-3f32;
        for s in m.layout().specs() {
            let dir: Vec<f32> = (0..s.range.len())
                .map(|_| rng.gen_range(-1.0..1.0))
                .collect();
            let an: f64 = g[s.range.clone()]
                .iter()
                .zip(&dir)
                .map(|(a, b)| (a * b) as f64)
                .sum();
            let shifted = |sign: f32| {
                let mut q = p.clone();
                q[s.range.clone()]
                    .iter_mut()
                    .zip(&dir)
                    .for_each(|(a, b)| *a += sign * eps * b);
                loss(&q)
            };
            let fd = (shifted(1.0) - shifted(-1.0)) / (2.0 * eps as f64);
            assert!(
                (fd - an).abs() <= 2e-2 * an.abs().max(fd.abs()) + 3e-4,
                "{name} {}: analytic {an:e} vs central difference {fd:e}",
                s.name
            );
        }
    }
}

/// The HQC model streams token by token: after t tokens stepped, the logits equal the window
/// forward over those t tokens.
#[test]
fn hqc_mamba_steps_equal_the_window_forward() {
    let c = ModelConfig {
        d_state: 4,
        ..cfg(16, 12)
    };
    let net = TrueClassicalMamba::hqc_mamba(c.clone(), 2, &quantum(QProjOptions::default()));
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let p = net.layout().init(&mut rng);
    let x: Vec<f32> = (0..12).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let outs = stream_window(&net, &p, &x);
    assert_eq!(outs.len(), 12);
    for t in [1usize, 5, 12] {
        let prefix = TrueClassicalMamba::hqc_mamba(
            ModelConfig {
                n_times: t,
                ..c.clone()
            },
            2,
            &quantum(QProjOptions::default()),
        );
        let want = Batched::new(prefix).forward_eval(&p, &x[..t]);
        let got = &outs[t - 1].1;
        let d = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(d <= 2e-5, "t = {t}: {got:?} vs {want:?}");
    }
}
