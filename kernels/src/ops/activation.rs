//! Elementwise activations. Forward writes `y`; backward accumulates `dx += dy·f'(x)`.
//!
//! All slices of one call have the same length (the shorter one bounds the loop). SiLU,
//! softplus and tanh use the crate's branch-free `exp`/`log1p`/`tanh` (≤ 2 ulp, auto-vectorised;
//! these run on (L, E) tensors in every block); GELU's erf uses `libm`. Everything is `no_std`.

use super::fastmath::{exp_f32, log1p_unit_f32, sigmoid_f32 as sigmoid, tanh_f32};
use super::simd::simd_dispatch;

/// Operands of a forward: y ← f(x).
struct Unary<'a> {
    y: &'a mut [f32],
    x: &'a [f32],
}

/// Operands of a backward: dx += dy·f'(saved).
struct Binary<'a> {
    dx: &'a mut [f32],
    dy: &'a [f32],
    saved: &'a [f32],
}

/// `simd! { /// doc  pub fn name(y, x) { body over (yo, xv) } }` for forwards and
/// `(dx, dy, saved)` for backwards: the public function runs its loop through
/// [`simd_dispatch`] (AVX-512F/AVX2 builds of the same loop, bit-identical results).
macro_rules! simd_unary {
    ($(#[$m:meta])* pub fn $name:ident($y:ident, $x:ident) $body:block) => {
        $(#[$m])*
        pub fn $name($y: &mut [f32], $x: &[f32]) {
            #[inline(always)]
            fn kernel(p: Unary<'_>) {
                let Unary { y: $y, x: $x } = p;
                $body
            }
            simd_dispatch!(fn run(p: Unary<'_>) => kernel);
            run(Unary { y: $y, x: $x });
        }
    };
}
macro_rules! simd_binary {
    ($(#[$m:meta])* pub fn $name:ident($dx:ident, $dy:ident, $s:ident) $body:block) => {
        $(#[$m])*
        pub fn $name($dx: &mut [f32], $dy: &[f32], $s: &[f32]) {
            #[inline(always)]
            fn kernel(p: Binary<'_>) {
                let Binary { dx: $dx, dy: $dy, saved: $s } = p;
                $body
            }
            simd_dispatch!(fn run(p: Binary<'_>) => kernel);
            run(Binary { dx: $dx, dy: $dy, saved: $s });
        }
    };
}

/// PyTorch's softplus threshold: above it softplus(x) = x.
const SOFTPLUS_THRESHOLD: f32 = 20.0;

simd_unary! {
    /// SiLU(x) = x·σ(x).
    pub fn silu_forward(y, x) {
        for (yo, &xv) in y.iter_mut().zip(x) {
            *yo = xv * sigmoid(xv);
        }
    }
}
simd_binary! {
    /// Backward of [`silu_forward`].
    pub fn silu_backward(dx, dy, x) {
        for ((g, &d), &xv) in dx.iter_mut().zip(dy).zip(x) {
            let s = sigmoid(xv);
            *g += d * (s * (1.0 + xv * (1.0 - s)));
        }
    }
}
simd_unary! {
    /// softplus(x) = ln(1+eˣ), returning x when x > 20 (PyTorch threshold).
    /// Evaluated as `max(x,0) + log1p(e^{−|x|})` (no overflow, no loss for very negative x).
    pub fn softplus_forward(y, x) {
        for (yo, &xv) in y.iter_mut().zip(x) {
            *yo = if xv > SOFTPLUS_THRESHOLD {
                xv
            } else {
                xv.max(0.0) + log1p_unit_f32(exp_f32(-xv.abs()))
            };
        }
    }
}
simd_binary! {
    /// Backward of [`softplus_forward`] (σ(x), 1 above the threshold).
    pub fn softplus_backward(dx, dy, x) {
        for ((g, &d), &xv) in dx.iter_mut().zip(dy).zip(x) {
            *g += if xv > SOFTPLUS_THRESHOLD {
                d
            } else {
                d * sigmoid(xv)
            };
        }
    }
}
simd_unary! {
    /// tanh (the crate's branch-free `tanh`, ≤ 2 ulp).
    pub fn tanh_forward(y, x) {
        for (yo, &xv) in y.iter_mut().zip(x) {
            *yo = tanh_f32(xv);
        }
    }
}
simd_binary! {
    /// Backward of [`tanh_forward`], from the saved output `y`: `dx += dy·(1−y²)`.
    pub fn tanh_backward(dx, dy, y) {
        for ((g, &d), &yv) in dx.iter_mut().zip(dy).zip(y) {
            *g += d * (1.0 - yv * yv);
        }
    }
}
simd_unary! {
    /// y = −eˣ (a selective SSM's A = −exp(A_log)), with the crate's branch-free `exp`
    /// (≤ 2 ulp; the same value with and without `std`).
    pub fn neg_exp_forward(y, x) {
        for (yo, &xv) in y.iter_mut().zip(x) {
            *yo = -exp_f32(xv);
        }
    }
}
/// Logistic sigmoid σ(x) = 1/(1 + e⁻ˣ).
pub fn sigmoid_forward(y: &mut [f32], x: &[f32]) {
    for (yo, &xv) in y.iter_mut().zip(x) {
        *yo = 1.0 / (1.0 + libm::expf(-xv));
    }
}
simd_binary! {
    /// Backward of [`sigmoid_forward`], from the saved output `y`: `dx += dy·y·(1−y)`.
    pub fn sigmoid_backward(dx, dy, y) {
        for ((g, &d), &yv) in dx.iter_mut().zip(dy).zip(y) {
            *g += d * yv * (1.0 - yv);
        }
    }
}
simd_unary! {
    /// ReLU.
    pub fn relu_forward(y, x) {
        for (yo, &xv) in y.iter_mut().zip(x) {
            *yo = if xv > 0.0 { xv } else { 0.0 };
        }
    }
}
simd_binary! {
    /// Backward of [`relu_forward`] (gradient 0 at x ≤ 0).
    pub fn relu_backward(dx, dy, x) {
        for ((g, &d), &xv) in dx.iter_mut().zip(dy).zip(x) {
            if xv > 0.0 {
                *g += d;
            }
        }
    }
}

/// 1/√2 (f32), the scale inside GELU's erf.
const FRAC_1_SQRT_2: f32 = core::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π) (f32), the normal density's constant in GELU's derivative.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// Exact (erf) GELU, PyTorch's `nn.GELU()` default: `y = x·½·(1 + erf(x/√2))`.
/// Used by 3c's classifier head (reference `models/TrueClassicalHydra.py`).
pub fn gelu_forward(y: &mut [f32], x: &[f32]) {
    for (yo, &xv) in y.iter_mut().zip(x) {
        *yo = xv * 0.5 * (1.0 + libm::erff(xv * FRAC_1_SQRT_2));
    }
}
/// Backward of [`gelu_forward`]: `dx += dy·(Φ(x) + x·φ(x))`, Φ(x) = ½(1 + erf(x/√2)),
/// φ(x) = e^{−x²/2}/√(2π) (PyTorch's `GeluBackward` with `approximate='none'`).
pub fn gelu_backward(dx: &mut [f32], dy: &[f32], x: &[f32]) {
    for ((g, &d), &xv) in dx.iter_mut().zip(dy).zip(x) {
        let cdf = 0.5 * (1.0 + libm::erff(xv * FRAC_1_SQRT_2));
        let pdf = libm::expf(-0.5 * xv * xv) * FRAC_1_SQRT_2PI;
        *g += d * (cdf + xv * pdf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    type Fwd = fn(&mut [f32], &[f32]);
    type Bwd = fn(&mut [f32], &[f32], &[f32]);

    /// Inputs spanning both tails, kept ≥ 3 FD steps away from `kinks` (ReLU's 0, softplus' 20).
    fn inputs(rng: &mut TestRng, n: usize, lo: f32, hi: f32, kinks: &[f32]) -> Vec<f32> {
        let mut v = grid_uniform(rng, n, lo, hi);
        for x in v.iter_mut() {
            for &k in kinks {
                if (*x - k).abs() < 3.0 * FD_STEP {
                    *x = k + 4.0 * FD_STEP;
                }
            }
        }
        v
    }

    fn check(
        name: &str,
        f: Fwd,
        b: Bwd,
        x: Vec<f32>,
        backward_from_output: bool,
        seed: u64,
    ) -> f64 {
        let mut rng = rng(seed);
        let n = x.len();
        let fwd = move |p: &[Vec<f32>]| {
            let mut y = vec![0.0; n];
            f(&mut y, &p[0]);
            y
        };
        let bwd = move |p: &[Vec<f32>], dy: &[f32], g: &mut [Vec<f32>]| {
            if backward_from_output {
                let mut y = vec![0.0; n];
                f(&mut y, &p[0]);
                b(&mut g[0], dy, &y);
            } else {
                b(&mut g[0], dy, &p[0]);
            }
        };
        let errs = gradcheck(&mut rng, &[x], fwd, bwd, FD_STEP);
        report(name, &["dx"], &errs, 2e-3);
        errs[0]
    }

    #[test]
    fn fd_gradients() {
        let mut r = rng(20);
        check(
            "silu",
            silu_forward,
            silu_backward,
            inputs(&mut r, 64, -12.0, 12.0, &[]),
            false,
            21,
        );
        check(
            "softplus",
            softplus_forward,
            softplus_backward,
            inputs(&mut r, 64, -25.0, 30.0, &[20.0]),
            false,
            22,
        );
        check(
            "tanh",
            tanh_forward,
            tanh_backward,
            inputs(&mut r, 64, -4.0, 4.0, &[]),
            true,
            23,
        );
        check(
            "relu",
            relu_forward,
            relu_backward,
            inputs(&mut r, 64, -3.0, 3.0, &[0.0]),
            false,
            24,
        );
        check(
            "gelu",
            gelu_forward,
            gelu_backward,
            inputs(&mut r, 64, -8.0, 8.0, &[]),
            false,
            26,
        );
    }

    #[test]
    fn forward_matches_reference_formulas() {
        let mut r = rng(25);
        let mut x = uniform(&mut r, 200, -30.0, 30.0);
        x.extend_from_slice(&[
            0.0, -0.0, 20.0, 20.5, 19.9, -100.0, 100.0, -1e-30, 1e-8, 88.0, -88.0, -104.0,
        ]);
        let n = x.len();
        let (mut s, mut sp, mut th, mut re, mut ge, mut ne) = (
            vec![0.0; n],
            vec![0.0; n],
            vec![0.0; n],
            vec![0.0; n],
            vec![0.0; n],
            vec![0.0; n],
        );
        silu_forward(&mut s, &x);
        gelu_forward(&mut ge, &x);
        softplus_forward(&mut sp, &x);
        tanh_forward(&mut th, &x);
        relu_forward(&mut re, &x);
        neg_exp_forward(&mut ne, &x);
        for i in 0..n {
            let v = x[i] as f64;
            let sig = 1.0 / (1.0 + (-v).exp());
            let close = |a: f32, b: f64| (a as f64 - b).abs() <= 2e-7 * b.abs() + 1e-37;
            assert!(close(s[i], v * sig), "silu({v}) = {} vs {}", s[i], v * sig);
            let spr = if v > 20.0 { v } else { v.exp().ln_1p() };
            assert!(close(sp[i], spr), "softplus({v}) = {} vs {spr}", sp[i]);
            assert!(
                close(th[i], v.tanh()),
                "tanh({v}) = {} vs {}",
                th[i],
                v.tanh()
            );
            assert_eq!(re[i], if x[i] > 0.0 { x[i] } else { 0.0 });
            if v.exp() > f32::MAX as f64 {
                assert_eq!(ne[i], f32::NEG_INFINITY, "-exp({v})");
            } else {
                assert!(
                    close(ne[i], -v.exp()),
                    "-exp({v}) = {} vs {}",
                    ne[i],
                    -v.exp()
                );
            }
            // Exact GELU in f64. Near erf = −1 the f32 erf is quantised to ~2⁻²⁵, so 1 + erf
            // loses its relative accuracy there: allow an absolute ½·|x|·2⁻²³ on top.
            let ger = 0.5 * v * (1.0 + libm::erf(v / core::f64::consts::SQRT_2));
            assert!(
                (ge[i] as f64 - ger).abs() <= 4e-7 * ger.abs() + 6e-8 * v.abs() + 1e-37,
                "gelu({v}) = {} vs {ger}",
                ge[i]
            );
        }
        // GELU tails: exactly x far right, exactly (−)0 far left; Φ(0) = ½ slope at 0.
        let mut y = [0.0f32; 3];
        gelu_forward(&mut y, &[30.0, -30.0, 0.0]);
        assert_eq!(y, [30.0, -0.0, 0.0]);
        let mut g = [0.0f32; 1];
        gelu_backward(&mut g, &[1.0], &[0.0]);
        assert_eq!(g[0], 0.5);
        // Threshold semantics: exactly x above 20, ln(1+eˣ) at and below.
        let mut y = [0.0f32; 2];
        softplus_forward(&mut y, &[20.0, 20.0001]);
        assert_eq!(y[1], 20.0001);
        assert!((y[0] as f64 - 20f64.exp().ln_1p()).abs() < 4e-6);
        // Backward gradient values at the extremes stay finite.
        let mut g = [0.0f32; 4];
        silu_backward(&mut g, &[1.0; 4], &[-200.0, 200.0, f32::MAX, -f32::MAX]);
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }
}
