//! Shared test helpers (compiled for tests only): seeded RNG, grid-quantised random data and a
//! finite-difference gradient checker.
//!
//! The checker evaluates the f32 forward on the scalar loss `L = Σ_k r_k·y_k` (random `r`) and
//! compares the backward (fed `dy = r`) with a 4-point central difference
//! `(8·[L(+h) − L(−h)] − [L(+2h) − L(−2h)]) / 12h` (truncation error O(h⁴)). To limit
//! cancellation, each bracket is computed in f64 as `Σ_k r_k·(y⁺_k − y⁻_k)` (differences of the
//! f32 outputs first, then the weighted sum), and inputs live on a 2⁻¹² grid so `x ± h`,
//! `x ± 2h` (h = 2⁻⁵) are exact in f32: the step is exactly what the formula divides by.
#![allow(dead_code)]

extern crate std;
pub use std::prelude::rust_2021::*;
pub use std::{format, println, vec};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub type TestRng = ChaCha8Rng;

/// FD step (2⁻⁵), exactly representable and a multiple of the data grid. The 4-point stencil
/// keeps the truncation error O(h⁴) ≈ 1e-6·f⁽⁵⁾, so a largish step is used to keep the f32
/// rounding noise of the forward (∝ ulp/h) small.
pub const FD_STEP: f32 = 1.0 / 32.0;
/// Grid of the random test inputs (2⁻¹²).
pub const GRID: f32 = 1.0 / 4096.0;

pub fn rng(seed: u64) -> TestRng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn uniform(rng: &mut TestRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

/// Uniform values rounded to the 2⁻¹² grid.
pub fn grid_uniform(rng: &mut TestRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let v: f32 = rng.gen_range(lo..hi);
            let q = (v / GRID).round() * GRID;
            q.clamp(lo, hi)
        })
        .collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs())
        .fold(0.0, f64::max)
}

/// Per-input error of an FD gradient check: `max_j |fd_j − an_j| / max(|fd_j|, |an_j|,
/// 1e-2·max_j|an_j|)`, i.e. a relative error per element, with elements smaller than 1% of the
/// largest component of that gradient measured against that 1% floor.
pub fn rel_err(fd: &[f64], an: &[f64]) -> f64 {
    let gmax = an.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let floor = (1e-2 * gmax).max(1e-7);
    fd.iter()
        .zip(an)
        .map(|(&f, &a)| (f - a).abs() / f.abs().max(a.abs()).max(floor))
        .fold(0.0, f64::max)
}

/// FD gradient check of every input in `inputs`.
///
/// `fwd(inputs)` returns the outputs (any number of them, concatenated); `bwd(inputs, r, grads)`
/// must accumulate into `grads` (one buffer per input, same shapes) the gradient of `Σ r·y`.
/// The gradient buffers are pre-filled with random values and the prefill is subtracted
/// afterwards, so an op that overwrote instead of accumulating fails. Returns one error (see
/// [`rel_err`]) per input; [`gradcheck_some`] checks a subset.
pub fn gradcheck<F, B>(rng: &mut TestRng, inputs: &[Vec<f32>], fwd: F, bwd: B, h: f32) -> Vec<f64>
where
    F: Fn(&[Vec<f32>]) -> Vec<f32>,
    B: Fn(&[Vec<f32>], &[f32], &mut [Vec<f32>]),
{
    let all: Vec<usize> = (0..inputs.len()).collect();
    gradcheck_some(rng, inputs, &all, fwd, bwd, h)
}

/// [`gradcheck`] restricted to the inputs listed in `which` (errors returned in that order);
/// gradient buffers are still allocated for every input.
pub fn gradcheck_some<F, B>(
    rng: &mut TestRng,
    inputs: &[Vec<f32>],
    which: &[usize],
    fwd: F,
    bwd: B,
    h: f32,
) -> Vec<f64>
where
    F: Fn(&[Vec<f32>]) -> Vec<f32>,
    B: Fn(&[Vec<f32>], &[f32], &mut [Vec<f32>]),
{
    let y0 = fwd(inputs);
    assert!(
        y0.iter().all(|v| v.is_finite()),
        "non-finite forward output"
    );
    let r = uniform(rng, y0.len(), -1.0, 1.0);

    let prefill: Vec<Vec<f32>> = inputs
        .iter()
        .map(|p| uniform(rng, p.len(), -1.0, 1.0))
        .collect();
    let mut g = prefill.clone();
    bwd(inputs, &r, &mut g);

    let dot_diff = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .zip(&r)
            .map(|((&p, &m), &w)| w as f64 * (p as f64 - m as f64))
            .sum()
    };
    let mut errs = Vec::new();
    let mut p = inputs.to_vec();
    for &i in which {
        let an: Vec<f64> = g[i]
            .iter()
            .zip(&prefill[i])
            .map(|(&a, &b)| a as f64 - b as f64)
            .collect();
        let mut fd = vec![0.0f64; inputs[i].len()];
        for (j, fdj) in fd.iter_mut().enumerate() {
            let x = inputs[i][j];
            let eval = |p: &mut Vec<Vec<f32>>, v: f32| {
                p[i][j] = v;
                fwd(p)
            };
            for k in [1.0f32, 2.0] {
                assert_eq!((x + k * h) - x, k * h, "FD step not exact at {x}");
                assert_eq!(x - (x - k * h), k * h, "FD step not exact at {x}");
            }
            let yp1 = eval(&mut p, x + h);
            let ym1 = eval(&mut p, x - h);
            let yp2 = eval(&mut p, x + 2.0 * h);
            let ym2 = eval(&mut p, x - 2.0 * h);
            p[i][j] = x;
            let d1 = dot_diff(&yp1, &ym1);
            let d2 = dot_diff(&yp2, &ym2);
            *fdj = (8.0 * d1 - d2) / (12.0 * h as f64);
        }
        if std::env::var_os("FD_DEBUG").is_some() {
            let gmax = an.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let (j, _) = fd
                .iter()
                .zip(&an)
                .map(|(f, a)| (f - a).abs() / f.abs().max(a.abs()).max(1e-2 * gmax))
                .enumerate()
                .fold((0, 0.0), |b, (j, e)| if e > b.1 { (j, e) } else { b });
            println!(
                "  input {i}: worst j={j} fd={:.8e} an={:.8e} gmax={gmax:.3e}",
                fd[j], an[j]
            );
        }
        errs.push(rel_err(&fd, &an));
    }
    errs
}

/// Prints the errors (visible with `--nocapture`) and asserts each is below `tol`.
pub fn report(op: &str, names: &[&str], errs: &[f64], tol: f64) {
    assert_eq!(names.len(), errs.len());
    for (n, e) in names.iter().zip(errs) {
        println!("FD {op:<40} {n:<8} max rel err {e:.3e}");
    }
    for (n, e) in names.iter().zip(errs) {
        assert!(*e < tol, "{op} {n}: FD rel err {e:.3e} ≥ {tol:.0e}");
    }
}
