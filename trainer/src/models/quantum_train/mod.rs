//! Quantum-Train, seed variant "qt-seed" (spec hqc-mamba-and-quantum-train §5.1–5.2): a
//! parameter-only 13-qubit circuit ([`qssm_kernels::circuit::entangling::RyChain`], 8 blocks)
//! gives 2^13 basis probabilities p; a mapping MLP turns [the 13 bits of i, p_i] into weight i
//! of a classical target CNN ([`generator`]); the CNN then classifies 28×28 images with those
//! weights ([`target_cnn`]). Only the circuit angles and the MLP are trained; inference is
//! classical.
//!
//! The forward path is checked against the spec's golden test G3 (the published epoch-5
//! checkpoint on the MNIST test set, `trainer/tests/quantum_train_g3.rs`); the backward (the
//! CNN's, the mapping MLP's and the circuit's adjoint) against central differences.
//! [`QuantumTrain`] is the trainable model `trainer fit --model quantum-train` trains;
//! [`TargetCnnModel`] (`qt-cnn`) is the same CNN with its weights trained directly (the
//! baseline) or taken from a trained Quantum-Train (`trainer export --format generated-cnn`),
//! which the inference engine runs. [`QuantumTrainLiu`] is the authors' variant qt-liu (§5.3;
//! `--qt-variant liu`), whose CNN (`qt-liu-cnn`) has no ReLUs.
pub mod generator;
pub mod liu;
mod model;
pub mod tensor_gain;

pub use generator::{circuit_probs, generate_theta, MappingMlp, QT_SEED};
pub use liu::QuantumTrainLiu;
pub use model::{QuantumTrain, TargetCnnModel};
pub use qssm_kernels::ops::target_cnn;
pub use target_cnn::{TargetCnn, N_WEIGHTS};

/// The central difference of `f` in parameter k closest to the gradient `g`, over the steps
/// 1e-3, 3e-4 and 1e-4: the CNN's loss is piecewise linear (ReLU, max pooling), and a step can
/// straddle a kink; one of them must agree with a correct gradient.
#[cfg(test)]
fn closest_central_difference(f: &dyn Fn(&[f32]) -> f64, p: &mut [f32], k: usize, g: f64) -> f64 {
    let v = p[k];
    let mut best = f64::NAN;
    for h in [1e-3f32, 3e-4, 1e-4] {
        p[k] = v + h;
        let up = f(p);
        p[k] = v - h;
        let down = f(p);
        p[k] = v;
        let fd = (up - down) / (2.0 * h as f64);
        if best.is_nan() || (fd - g).abs() < (best - g).abs() {
            best = fd;
        }
    }
    best
}

/// Asserts that the gradient `g` of every parameter in `picks` agrees with the closest
/// central difference of the loss `f` ([`closest_central_difference`]) within
/// `abs_tol + rel_tol·|fd|`; prints the worst error / bound.
#[cfg(test)]
fn assert_gradient_matches(
    f: &dyn Fn(&[f32]) -> f64,
    p: &mut [f32],
    g: &[f32],
    picks: impl IntoIterator<Item = usize>,
    (abs_tol, rel_tol): (f64, f64),
) {
    let mut worst = 0.0f64;
    for k in picks {
        let fd = closest_central_difference(f, p, k, g[k] as f64);
        let err = (fd - g[k] as f64).abs();
        let bound = abs_tol + rel_tol * fd.abs();
        worst = worst.max(err / bound);
        assert!(
            err <= bound,
            "parameter {k}: gradient {} vs central difference {fd}",
            g[k]
        );
    }
    eprintln!("worst error / bound: {worst:.2}");
}

/// One 28×28 image in, 10 classes out: the Quantum-Train models' configuration (tests).
#[cfg(test)]
fn image_config() -> crate::models::ModelConfig {
    crate::models::ModelConfig {
        n_channels: 1,
        n_classes: target_cnn::N_CLASSES,
        ..crate::models::ModelConfig::eeg(target_cnn::SIDE * target_cnn::SIDE)
    }
}

/// Mean cross-entropy in f64 of f32 logits (B, 10) against class labels (tests).
#[cfg(test)]
fn mean_cross_entropy(z: &[f32], labels: &[usize]) -> f64 {
    let k = target_cnn::N_CLASSES;
    z.chunks(k)
        .zip(labels)
        .map(|(zi, &y)| {
            let mx = zi.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
            let lse = mx + zi.iter().map(|&v| (v as f64 - mx).exp()).sum::<f64>().ln();
            lse - zi[y] as f64
        })
        .sum::<f64>()
        / labels.len() as f64
}

#[cfg(test)]
mod target_cnn_tests {
    use super::target_cnn::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// ∂(w·logits)/∂θ against central differences on random θ and image, for a sample of θ
    /// entries in every tensor.
    #[test]
    fn backward_matches_central_differences() {
        for spec in [SEED_CNN, LIU_CNN] {
            check_backward(spec);
        }
    }

    fn check_backward(spec: CnnSpec) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // the CNN without activations grows its values layer by layer: smaller weights keep
        // its f32 logits, and so the central differences, as precise as the other's
        let r = if spec.relu { 0.3 } else { 0.1 };
        let mut theta: Vec<f32> = (0..spec.n_weights())
            .map(|_| rng.gen_range(-r..r))
            .collect();
        let x: Vec<f32> = (0..SIDE * SIDE).map(|_| rng.gen_range(-0.5..2.5)).collect();
        let w: Vec<f32> = (0..N_CLASSES).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let f = |t: &[f32]| -> f64 {
            let z = TargetCnn::new(spec, t).logits(&x);
            z.iter()
                .zip(&w)
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum()
        };
        let cnn_theta = theta.clone();
        let cnn = TargetCnn::new(spec, &cnn_theta);
        let a = cnn.forward(&x);
        let mut g = vec![0.0f32; spec.n_weights()];
        cnn.backward(&x, &a, &w, &mut g);
        let (mut start, mut checked) = (0, 0);
        for (wn, bn) in spec.sizes() {
            for k in (start..start + wn + bn).step_by(((wn + bn) / 23).max(1)) {
                let fd = super::closest_central_difference(&f, &mut theta, k, g[k] as f64);
                assert!(
                    (fd - g[k] as f64).abs() <= 5e-3 * (1.0 + fd.abs()),
                    "θ[{k}]: backward {} vs central difference {fd}",
                    g[k]
                );
                checked += 1;
            }
            start += wn + bn;
        }
        assert!(checked > 80, "{checked}");
    }
}
