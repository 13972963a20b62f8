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
//! [`QuantumTrain`] is the trainable model `trainer fit --model quantum-train` trains.
pub mod generator;
mod model;
pub mod target_cnn;

pub use generator::{circuit_probs, generate_theta, MappingMlp, QT_SEED};
pub use model::QuantumTrain;
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
