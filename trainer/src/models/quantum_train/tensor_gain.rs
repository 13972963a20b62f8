//! Per-tensor standardisation of generated weights with a learnable gain (an option of
//! qt-seed, `--qt-tensor-gain`; not part of the seed's method).
//!
//! The seed's mapping MLP generates every CNN weight from the bits of its index. At the seed's
//! own initialisation, whole tensors of the generated CNN come out with one sign or a scale far
//! from any usual initialisation: its first-epoch loss is 4.02 (spec §5.2), and of 33 init seeds
//! on smnist-10k most start with a dead or exploding CNN. Each generated tensor θ_k (the slices
//! of [`CnnSpec::tensors`]) is therefore standardised and scaled by a learnable gain g_k:
//!
//! θ′_k = g_k · (θ_k − mean θ_k) / √(var θ_k + ε),
//!
//! i.e. weight standardisation (Qiao et al. 2019, "Micro-Batch Training with Batch-Channel
//! Normalization and Weight Standardization", applied per tensor) with the learnable
//! per-tensor scale of the Quantum-Train authors' QTLSTM notebook
//! (`Hon-Hai-Quantum-Computing/QuantumTrain`, spec §5.3). The gains start at the standard
//! deviation of PyTorch's default initialisation of that tensor, U(±1/√fan_in), so the first
//! generated CNN has the statistics of a freshly initialised one.
use qssm_kernels::ops::target_cnn::CnnSpec;

/// ε added to each tensor's variance.
pub const EPS: f32 = 1e-8;

/// The gains' initial values, one per tensor of `spec`: 1/√(3·fan_in), the standard deviation
/// of U(±1/√fan_in), with the fan-in of the weight a bias belongs to.
pub fn initial_gains(spec: &CnnSpec) -> Vec<f32> {
    let tensors = spec.tensors();
    tensors
        .iter()
        .map(|(name, shape)| {
            let w = tensors
                .iter()
                .find(|(n, _)| *n == name.replace(".bias", ".weight"))
                .map_or(shape, |(_, s)| s);
            let fan_in: usize = w[1..].iter().product();
            1.0 / (3.0 * fan_in as f32).sqrt()
        })
        .collect()
}

/// The element ranges of `spec`'s tensors in θ (row-major slices in [`CnnSpec::tensors`] order).
fn ranges(spec: &CnnSpec) -> Vec<core::ops::Range<usize>> {
    let mut start = 0;
    spec.tensors()
        .iter()
        .map(|(_, shape)| {
            let n: usize = shape.iter().product();
            start += n;
            start - n..start
        })
        .collect()
}

/// Mean and 1/√(var + ε) of a slice, in f64.
fn moments(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, 1.0 / (var + EPS as f64).sqrt())
}

/// θ′ (M) from the generated θ (M) and the gains (one per tensor of `spec`).
pub fn forward(spec: &CnnSpec, theta: &[f32], gains: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; theta.len()];
    for (r, &g) in ranges(spec).into_iter().zip(gains) {
        let (mean, inv) = moments(&theta[r.clone()]);
        for (o, &x) in out[r.clone()].iter_mut().zip(&theta[r]) {
            *o = (g as f64 * (x as f64 - mean) * inv) as f32;
        }
    }
    out
}

/// Backward of [`forward`] for dθ′ = ∂L/∂θ′ (M): returns (∂L/∂θ (M), ∂L/∂gains).
pub fn backward(
    spec: &CnnSpec,
    theta: &[f32],
    gains: &[f32],
    dout: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let mut dtheta = vec![0.0f32; theta.len()];
    let mut dgains = vec![0.0f32; gains.len()];
    for ((r, &g), dg) in ranges(spec).into_iter().zip(gains).zip(&mut dgains) {
        let (mean, inv) = moments(&theta[r.clone()]);
        let n = r.len() as f64;
        // u = (θ − mean)·inv; ∂L/∂u = g·dout; ∂L/∂θ = inv·(du − mean(du) − u·mean(du·u))
        let u = |x: f32| (x as f64 - mean) * inv;
        let (mut sum_du, mut sum_du_u, mut sum_dout_u) = (0.0f64, 0.0f64, 0.0f64);
        for (&x, &d) in theta[r.clone()].iter().zip(&dout[r.clone()]) {
            let du = g as f64 * d as f64;
            sum_du += du;
            sum_du_u += du * u(x);
            sum_dout_u += d as f64 * u(x);
        }
        *dg = sum_dout_u as f32;
        for ((o, &x), &d) in dtheta[r.clone()]
            .iter_mut()
            .zip(&theta[r.clone()])
            .zip(&dout[r])
        {
            let du = g as f64 * d as f64;
            *o = (inv * (du - sum_du / n - u(x) * sum_du_u / n)) as f32;
        }
    }
    (dtheta, dgains)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qssm_kernels::ops::target_cnn::SEED_CNN;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Each tensor of θ′ has mean 0 and the standard deviation of its gain.
    #[test]
    fn each_tensor_is_standardised_to_its_gain() {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        let m = SEED_CNN.n_weights();
        let theta: Vec<f32> = (0..m).map(|_| r.gen_range(0.5..3.0)).collect();
        let gains = initial_gains(&SEED_CNN);
        assert_eq!(gains.len(), 8);
        assert!(
            (gains[0] - 1.0 / 27f32.sqrt()).abs() < 1e-7,
            "conv1: fan_in 9"
        );
        assert!(
            (gains[5] - 1.0 / 600f32.sqrt()).abs() < 1e-7,
            "fc1.bias: fc1's fan_in"
        );
        let out = forward(&SEED_CNN, &theta, &gains);
        for (r, g) in ranges(&SEED_CNN).into_iter().zip(&gains) {
            let v = &out[r];
            let n = v.len() as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let sd = (v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / n).sqrt();
            assert!(mean.abs() < 1e-6, "mean {mean}");
            assert!(
                (sd - *g as f64).abs() < 1e-5 * *g as f64,
                "sd {sd} vs gain {g}"
            );
        }
    }

    /// ∂L/∂θ and ∂L/∂gains against central differences of L = Σ c ⊙ θ′ (in f64 terms).
    #[test]
    fn backward_matches_central_differences() {
        let mut r = ChaCha8Rng::seed_from_u64(9);
        let m = SEED_CNN.n_weights();
        let theta: Vec<f32> = (0..m).map(|_| r.gen_range(-1.0..1.0)).collect();
        let gains: Vec<f32> = (0..8).map(|_| r.gen_range(0.2..2.0)).collect();
        let c: Vec<f32> = (0..m).map(|_| r.gen_range(-1.0..1.0)).collect();
        let loss = |t: &[f32], g: &[f32]| -> f64 {
            forward(&SEED_CNN, t, g)
                .iter()
                .zip(&c)
                .map(|(&a, &b)| a as f64 * b as f64)
                .sum()
        };
        let (dt, dg) = backward(&SEED_CNN, &theta, &gains, &c);
        // central difference in element k of `v` (θ or the gains), step 1e-2: L is smooth
        let fd = |v: &[f32], k: usize, of_theta: bool| {
            let h = 1e-2f32;
            let mut w = v.to_vec();
            let mut at = |d: f32| {
                w[k] = v[k] + d;
                if of_theta {
                    loss(&w, &gains)
                } else {
                    loss(&theta, &w)
                }
            };
            (at(h) - at(-h)) / (2.0 * h as f64)
        };
        // every element of each bias, the first, middle and last of each weight
        let picks = ranges(&SEED_CNN).into_iter().flat_map(|r| {
            if r.len() <= 30 {
                r.collect::<Vec<_>>()
            } else {
                vec![r.start, (r.start + r.end) / 2, r.end - 1]
            }
        });
        for k in picks {
            let want = fd(&theta, k, true);
            assert!(
                (want - dt[k] as f64).abs() < 2e-3 * (1.0 + want.abs()),
                "θ[{k}]: {} vs {want}",
                dt[k]
            );
        }
        for (k, &got) in dg.iter().enumerate() {
            let want = fd(&gains, k, false);
            assert!(
                (want - got as f64).abs() < 1e-3 * (1.0 + want.abs()),
                "gain {k}: {got} vs {want}"
            );
        }
    }
}
