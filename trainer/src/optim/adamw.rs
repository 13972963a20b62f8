//! `torch.optim.AdamW` and `torch.optim.Adam` on a flat `f32` parameter buffer.
//!
//! Both reproduce PyTorch's single-tensor CPU implementation (`_single_tensor_adam`, the path
//! taken for CPU tensors; AdamW is Adam with `decoupled_weight_decay=True`), operation for
//! operation, with the scalars computed in `f64` (Python floats) and cast to `f32` where PyTorch
//! hands them to an `f32` kernel. For each parameter element with a gradient `g`:
//!
//! ```text
//! t  ← t + 1                                   (per element; PyTorch: per tensor)
//! AdamW:  p ← p · f32(1 − lr·wd)               (skipped when wd = 0)
//! Adam:   g ← g + f32(wd) · p                  (L2; fused multiply-add, skipped when wd = 0)
//! m  ← lerp(m, g, f32(1 − β1))                 (= m + (1−β1)(g − m), fused multiply-add)
//! v  ← v · f32(β2);  v ← v + (f32(1 − β2) · g) · g
//! bc1 = 1 − β1^t,  bc2 = 1 − β2^t              (f64)
//! step_size = lr / bc1                         (f64)
//! denom = √v / f32(√bc2) + f32(eps)
//! p  ← p + (f32(−step_size) · m) / denom
//! ```
//!
//! which is `p ← p − lr·m̂/(√v̂ + eps)` with m̂ = m/bc1 and v̂ = v/bc2 in PyTorch's formula order.
//! The lerp uses a fused multiply-add like ATen's vectorised CPU kernel (the bulk of every
//! tensor), so results agree with PyTorch to the last bit for identical inputs except for the
//! scalar tails of ATen's vector loops, which may differ by one ulp.
//!
//! Elements outside the `active` ranges are not touched at all (no decay, no moment update, no
//! step count), as PyTorch skips parameters whose `.grad` is `None`. `maximize`, `amsgrad`,
//! `capturable`, `differentiable` and the `foreach`/`fused` kernels are not reproduced (the
//! reference uses none of them on CPU).
use super::OptimError;
use qssm_kernels::ops::adam::{adam_element, AdamScalars};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Hyperparameters of [`AdamW`], as the arguments of `torch.optim.AdamW`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Base learning rate (what a schedule starts from; `step` takes the current rate).
    pub lr: f64,
    /// (β1, β2): decay rates of the first and second moment estimates.
    pub betas: (f64, f64),
    /// Term added to the denominator, after the bias-corrected square root.
    pub eps: f64,
    /// Decoupled weight decay coefficient: each step multiplies the parameter by `1 − lr·wd`.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    /// PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
        }
    }
}

impl AdamWConfig {
    /// The reference recipe (EEG ablation and synthetic benchmarks): lr 1e-3, betas
    /// (0.9, 0.999), eps 1e-8, weight decay 1e-4.
    pub fn reference() -> Self {
        Self {
            weight_decay: 1e-4,
            ..Self::default()
        }
    }
}

/// Hyperparameters of [`Adam`], as the arguments of `torch.optim.Adam`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Base learning rate (what a schedule starts from; `step` takes the current rate).
    pub lr: f64,
    /// (β1, β2): decay rates of the first and second moment estimates.
    pub betas: (f64, f64),
    /// Term added to the denominator, after the bias-corrected square root.
    pub eps: f64,
    /// L2 penalty: `wd · p` is added to the gradient before the moment updates (not decoupled).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    /// PyTorch's defaults, which are also the gated recipe: lr 1e-3, betas (0.9, 0.999),
    /// eps 1e-8, no weight decay.
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// Per-element optimiser state (PyTorch's `state[p]` = `step`, `exp_avg`, `exp_avg_sq`,
/// flattened in the parameter buffer's layout). Serialisable for training checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamState {
    /// First moment estimate (`exp_avg`), one per parameter element.
    pub m: Vec<f32>,
    /// Second moment estimate (`exp_avg_sq`), one per parameter element.
    pub v: Vec<f32>,
    /// Number of steps taken by each element (PyTorch keeps one counter per tensor; elements
    /// of one tensor always share it). 0 = never stepped (PyTorch: no state yet).
    pub step: Vec<u32>,
}

impl AdamState {
    /// Zero state for `n` parameter elements.
    pub fn zeros(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            step: vec![0; n],
        }
    }

    /// Number of parameter elements.
    pub fn len(&self) -> usize {
        self.m.len()
    }

    /// Whether the state covers no parameters.
    pub fn is_empty(&self) -> bool {
        self.m.is_empty()
    }

    fn check(&self, n: usize) -> Result<(), OptimError> {
        check_len("state.m", n, self.m.len())?;
        check_len("state.v", n, self.v.len())?;
        check_len("state.step", n, self.step.len())
    }
}

/// `torch.optim.AdamW` over one flat parameter buffer (one parameter group).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamW {
    config: AdamWConfig,
    state: AdamState,
}

impl AdamW {
    /// Optimiser for `n_params` parameter elements, with zero moments and step counts.
    pub fn new(n_params: usize, config: AdamWConfig) -> Self {
        Self {
            config,
            state: AdamState::zeros(n_params),
        }
    }

    /// Restores an optimiser from a checkpointed state.
    ///
    /// # Errors
    /// [`OptimError::LengthMismatch`] if `m`, `v` and `step` differ in length.
    pub fn from_state(config: AdamWConfig, state: AdamState) -> Result<Self, OptimError> {
        state.check(state.len())?;
        Ok(Self { config, state })
    }

    /// Hyperparameters.
    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    /// Moments and step counts (for checkpoints).
    pub fn state(&self) -> &AdamState {
        &self.state
    }

    /// Number of parameter elements.
    pub fn len(&self) -> usize {
        self.state.len()
    }

    /// Whether the optimiser covers no parameters.
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// One `optimizer.step()` at learning rate `lr` (the schedule's current value).
    ///
    /// `params` and `grads` have the optimiser's length. Only elements inside `active` (ascending,
    /// disjoint ranges, e.g. `ParamLayout::trainable_ranges`) are updated; the others are left
    /// exactly as they are, like parameters whose PyTorch `.grad` is `None`.
    ///
    /// # Errors
    /// Length mismatches, bad ranges, or hyperparameters/`lr` outside PyTorch's accepted domain;
    /// nothing is modified then.
    pub fn step(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        active: &[Range<usize>],
        lr: f64,
    ) -> Result<(), OptimError> {
        let c = self.config;
        let h = Hyper {
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            decoupled: true,
        };
        adam_step(&h, &mut self.state, params, grads, active, lr)
    }

    /// One step with parameter groups: the elements of each group that are in `active` at
    /// learning rate `group.lr · factor` (`factor`: the schedule's current rate over its base
    /// rate) and the group's weight decay; elements in no group are not updated. Groups must
    /// be disjoint.
    ///
    /// # Errors
    /// As [`AdamW::step`]; every group's rate and weight decay are checked before any update.
    pub fn step_groups(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        active: &[Range<usize>],
        groups: &[super::ParamGroup],
        factor: f64,
    ) -> Result<(), OptimError> {
        for g in groups {
            check_hyper("lr", g.lr * factor, g.lr * factor >= 0.0)?;
            check_hyper("weight_decay", g.weight_decay, g.weight_decay >= 0.0)?;
        }
        let c = self.config;
        for g in groups {
            let h = Hyper {
                betas: c.betas,
                eps: c.eps,
                weight_decay: g.weight_decay,
                decoupled: true,
            };
            let ranges = super::intersect(&g.ranges, active);
            adam_step(&h, &mut self.state, params, grads, &ranges, g.lr * factor)?;
        }
        Ok(())
    }

    /// [`AdamW::step`] with every element active.
    ///
    /// # Errors
    /// As [`AdamW::step`].
    pub fn step_all(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        lr: f64,
    ) -> Result<(), OptimError> {
        let all = 0..self.len();
        self.step(params, grads, std::slice::from_ref(&all), lr)
    }
}

/// `torch.optim.Adam` over one flat parameter buffer (one parameter group); weight decay, if
/// any, is the L2 form `g ← g + wd·p`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    config: AdamConfig,
    state: AdamState,
}

impl Adam {
    /// Optimiser for `n_params` parameter elements, with zero moments and step counts.
    pub fn new(n_params: usize, config: AdamConfig) -> Self {
        Self {
            config,
            state: AdamState::zeros(n_params),
        }
    }

    /// Restores an optimiser from a checkpointed state.
    ///
    /// # Errors
    /// [`OptimError::LengthMismatch`] if `m`, `v` and `step` differ in length.
    pub fn from_state(config: AdamConfig, state: AdamState) -> Result<Self, OptimError> {
        state.check(state.len())?;
        Ok(Self { config, state })
    }

    /// Hyperparameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Moments and step counts (for checkpoints).
    pub fn state(&self) -> &AdamState {
        &self.state
    }

    /// Number of parameter elements.
    pub fn len(&self) -> usize {
        self.state.len()
    }

    /// Whether the optimiser covers no parameters.
    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// One `optimizer.step()` at learning rate `lr`; same contract as [`AdamW::step`].
    ///
    /// # Errors
    /// As [`AdamW::step`].
    pub fn step(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        active: &[Range<usize>],
        lr: f64,
    ) -> Result<(), OptimError> {
        let c = self.config;
        let h = Hyper {
            betas: c.betas,
            eps: c.eps,
            weight_decay: c.weight_decay,
            decoupled: false,
        };
        adam_step(&h, &mut self.state, params, grads, active, lr)
    }

    /// [`Adam::step`] with every element active.
    ///
    /// # Errors
    /// As [`AdamW::step`].
    pub fn step_all(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        lr: f64,
    ) -> Result<(), OptimError> {
        let all = 0..self.len();
        self.step(params, grads, std::slice::from_ref(&all), lr)
    }
}

/// Converts a per-element "receives a gradient" mask into the ascending, disjoint ranges that
/// [`AdamW::step`] and [`Adam::step`] take.
pub fn ranges_from_mask(mask: &[bool]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &on) in mask.iter().enumerate() {
        match (on, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..mask.len());
    }
    out
}

struct Hyper {
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
}

impl Hyper {
    /// The element scalars of step count `t` at learning rate `lr`.
    fn scalars(&self, lr: f64, t: u32) -> AdamScalars {
        AdamScalars::new(
            lr,
            self.betas,
            self.eps,
            self.weight_decay,
            self.decoupled,
            bias_scalars(lr, self.betas, t),
        )
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), OptimError> {
    if expected == got {
        Ok(())
    } else {
        Err(OptimError::LengthMismatch {
            what,
            expected,
            got,
        })
    }
}

fn check_hyper(name: &'static str, value: f64, ok: bool) -> Result<(), OptimError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter { name, value })
    }
}

/// Scalars that depend on the step count t: `f32(−lr/(1 − β1ᵗ))` and `f32(√(1 − β2ᵗ))` (f64
/// arithmetic, as PyTorch computes them in Python).
pub fn bias_scalars(lr: f64, (b1, b2): (f64, f64), step: u32) -> (f32, f32) {
    let t = f64::from(step);
    let bc1 = 1.0 - b1.powf(t);
    let bc2 = 1.0 - b2.powf(t);
    let step_size = lr / bc1;
    // Python: `bias_correction2 ** 0.5` (libm pow, like `powf` here).
    let bc2_sqrt = bc2.powf(0.5);
    (-step_size as f32, bc2_sqrt as f32)
}

/// Elements per parallel task of the update (element-wise: the result does not depend on
/// the number of threads).
const ADAM_CHUNK: usize = 1 << 14;

/// The element loop of [`adam_step`] over the active ranges (arguments already checked), in
/// parallel over chunks, each compiled with hardware FMA where the CPU has it (`mul_add` is
/// then one instruction instead of a libm call: the same correctly rounded result).
fn adam_update(
    h: &Hyper,
    state: &mut AdamState,
    params: &mut [f32],
    grads: &[f32],
    active: &[Range<usize>],
    lr: f64,
) {
    use rayon::prelude::*;
    #[cfg(target_arch = "x86_64")]
    let fma = std::is_x86_feature_detected!("fma");
    for r in active {
        let r = r.clone();
        params[r.clone()]
            .par_chunks_mut(ADAM_CHUNK)
            .zip(state.m[r.clone()].par_chunks_mut(ADAM_CHUNK))
            .zip(state.v[r.clone()].par_chunks_mut(ADAM_CHUNK))
            .zip(state.step[r.clone()].par_chunks_mut(ADAM_CHUNK))
            .zip(grads[r].par_chunks(ADAM_CHUNK))
            .for_each(|((((p, m), v), st), g)| {
                let c = AdamChunk { p, m, v, st, g };
                #[cfg(target_arch = "x86_64")]
                if fma {
                    // SAFETY: the CPU has FMA (checked above)
                    unsafe { adam_chunk_fma(h, c, lr) };
                    return;
                }
                adam_chunk(h, c, lr);
            });
    }
}

/// One chunk of parameters with their moments, step counts and gradients.
struct AdamChunk<'a> {
    p: &'a mut [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    st: &'a mut [u32],
    g: &'a [f32],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn adam_chunk_fma(h: &Hyper, c: AdamChunk<'_>, lr: f64) {
    adam_chunk(h, c, lr)
}

#[inline(always)]
fn adam_chunk(h: &Hyper, c: AdamChunk<'_>, lr: f64) {
    // the scalars of the most recent step count (all active elements normally share one
    // count, so this is computed once per chunk)
    let mut cached: Option<(u32, AdamScalars)> = None;
    for i in 0..c.p.len() {
        let t = c.st[i] + 1;
        c.st[i] = t;
        let s = match cached {
            Some((ct, s)) if ct == t => s,
            _ => {
                let s = h.scalars(lr, t);
                cached = Some((t, s));
                s
            }
        };
        c.p[i] = adam_element(c.p[i], c.g[i], &mut c.m[i], &mut c.v[i], &s);
    }
}

fn adam_step(
    h: &Hyper,
    state: &mut AdamState,
    params: &mut [f32],
    grads: &[f32],
    active: &[Range<usize>],
    lr: f64,
) -> Result<(), OptimError> {
    let n = state.len();
    state.check(n)?;
    check_len("params", n, params.len())?;
    check_len("grads", n, grads.len())?;
    check_hyper("lr", lr, lr >= 0.0)?;
    check_hyper("eps", h.eps, h.eps >= 0.0)?;
    check_hyper("beta1", h.betas.0, (0.0..1.0).contains(&h.betas.0))?;
    check_hyper("beta2", h.betas.1, (0.0..1.0).contains(&h.betas.1))?;
    check_hyper("weight_decay", h.weight_decay, h.weight_decay >= 0.0)?;
    let mut prev_end = 0;
    for r in active {
        if r.start < prev_end || r.start > r.end || r.end > n {
            return Err(OptimError::BadRange {
                start: r.start,
                end: r.end,
                len: n,
            });
        }
        prev_end = r.end;
    }

    adam_update(h, state, params, grads, active, lr);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch's AdamW (`decoupled`) / Adam written independently in f64 for one tensor on the
    /// tiny problem [`quad_grad`]: `steps` steps at a constant `lr`, betas (0.9, 0.999),
    /// eps 1e-8, weight decay `wd`.
    fn reference_f64(p0: &[f64], steps: usize, lr: f64, wd: f64, decoupled: bool) -> Vec<f64> {
        let (b1, b2, eps) = (0.9_f64, 0.999_f64, 1e-8);
        let mut p = p0.to_vec();
        let mut m = vec![0.0; p.len()];
        let mut v = vec![0.0; p.len()];
        for s in 0..steps {
            let t = (s + 1) as f64;
            let mut g = quad_grad(&p);
            for i in 0..p.len() {
                if decoupled {
                    p[i] *= 1.0 - lr * wd;
                } else {
                    g[i] += wd * p[i];
                }
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                let m_hat = m[i] / (1.0 - b1.powf(t));
                let v_hat = v[i] / (1.0 - b2.powf(t));
                p[i] -= lr * m_hat / (v_hat.sqrt() + eps);
            }
        }
        p
    }

    /// Gradient of the tiny problem L(p) = Σ_i c_i (p_i − a_i)² + p_0 p_1.
    fn quad_grad(p: &[f64]) -> Vec<f64> {
        let a = [0.3, -1.2, 2.0, 0.05];
        let c = [1.0, 0.5, 2.0, 3.0];
        let mut g: Vec<f64> = (0..4).map(|i| 2.0 * c[i] * (p[i] - a[i])).collect();
        g[0] += p[1];
        g[1] += p[0];
        g
    }

    /// A one-range active list.
    fn one(r: Range<usize>) -> Vec<Range<usize>> {
        vec![r]
    }

    fn to_f32(x: &[f64]) -> Vec<f32> {
        x.iter().map(|&v| v as f32).collect()
    }

    fn max_rel_err(a: &[f32], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - y).abs() / y.abs().max(1e-3))
            .fold(0.0, f64::max)
    }

    /// Two groups with their own rates and weight decays step exactly as two optimisers
    /// restricted to their elements would; an element in no group stays as it is.
    #[test]
    fn parameter_groups_step_as_separate_optimisers() {
        use crate::optim::ParamGroup;
        let p0 = vec![0.7f32, -0.4, 1.3, 0.2, 0.9];
        let groups = [
            ParamGroup {
                name: "a".into(),
                ranges: vec![0..1, 3..4],
                lr: 1e-2,
                weight_decay: 0.1,
            },
            ParamGroup {
                name: "b".into(),
                ranges: vec![1..2, 2..3],
                lr: 3e-3,
                weight_decay: 0.0,
            },
        ];
        let mut grouped = AdamW::new(5, AdamWConfig::default());
        let all = std::slice::from_ref(&(0..5));
        let mut p = p0.clone();
        let mut want = p0.clone();
        let mut separate: Vec<AdamW> = groups
            .iter()
            .map(|g| {
                AdamW::new(
                    5,
                    AdamWConfig {
                        lr: g.lr,
                        weight_decay: g.weight_decay,
                        ..AdamWConfig::default()
                    },
                )
            })
            .collect();
        for step in 0..5 {
            let g: Vec<f32> = p.iter().map(|v| 2.0 * v - 0.1 * step as f32).collect();
            // factor 0.5: a schedule at half its base rate scales every group
            grouped.step_groups(&mut p, &g, all, &groups, 0.5).unwrap();
            let gw: Vec<f32> = want.iter().map(|v| 2.0 * v - 0.1 * step as f32).collect();
            for (o, grp) in separate.iter_mut().zip(&groups) {
                o.step(&mut want, &gw, &grp.ranges, grp.lr * 0.5).unwrap();
            }
        }
        assert_eq!(p, want);
        assert_eq!(p[4], p0[4]);
        assert_ne!(p[0], p0[0]);
        // a negative rate is refused before anything moves
        let mut bad = groups.clone();
        bad[1].lr = -1.0;
        let before = p.clone();
        assert!(grouped
            .step_groups(&mut p, &before, all, &bad, 1.0)
            .is_err());
        assert_eq!(p, before);
    }

    #[test]
    fn adamw_matches_independent_f64_trajectory() {
        let p0 = [0.7, -0.4, 1.5, 0.0];
        let cfg = AdamWConfig::reference();
        let lrs = [1e-3, 0.9e-3, 0.5e-3];
        // Hand-computed first step (t = 1): m̂ = g, v̂ = g², so the update is lr·g/(|g| + eps)
        // ≈ lr·sign(g), on top of the decay p·(1 − lr·wd).
        let mut params = to_f32(&p0);
        let mut opt = AdamW::new(4, cfg);
        let g = to_f32(&quad_grad(&p0));
        opt.step_all(&mut params, &g, lrs[0]).unwrap();
        for i in 0..4 {
            let gi = f64::from(g[i]);
            let expect = p0[i] * (1.0 - 1e-3 * 1e-4) - 1e-3 * gi / (gi.abs() + 1e-8);
            assert!(
                (f64::from(params[i]) - expect).abs() < 1e-7,
                "{i}: {} vs {expect}",
                params[i]
            );
        }
        // Three steps with a varying learning rate (as a schedule would give) against the f64
        // formulas fed with the same gradients (evaluated at the f32 iterates), so that only
        // the update arithmetic is compared.
        let mut params = to_f32(&p0);
        let mut opt = AdamW::new(4, cfg);
        let mut seen = Vec::new();
        for &lr in &lrs {
            let g64 = quad_grad(&params.iter().map(|&x| f64::from(x)).collect::<Vec<_>>());
            opt.step_all(&mut params, &to_f32(&g64), lr).unwrap();
            seen.push(g64);
        }
        let expect = reference_step_chain(&p0, &lrs, &seen);
        assert!(
            max_rel_err(&params, &expect) < 1e-6,
            "{params:?} vs {expect:?}"
        );
        assert_eq!(opt.state().step, vec![3; 4]);
    }

    /// AdamW in f64 with a given gradient sequence and per-step learning rates.
    fn reference_step_chain(p0: &[f64], lrs: &[f64], grads: &[Vec<f64>]) -> Vec<f64> {
        let (b1, b2, eps, wd) = (0.9_f64, 0.999_f64, 1e-8, 1e-4);
        let mut p = p0.to_vec();
        let mut m = vec![0.0; p.len()];
        let mut v = vec![0.0; p.len()];
        for (s, (&lr, g)) in lrs.iter().zip(grads).enumerate() {
            let t = (s + 1) as f64;
            for i in 0..p.len() {
                // f32 rounding of the gradient, as the optimiser receives it.
                let gi = f64::from(g[i] as f32);
                p[i] *= 1.0 - lr * wd;
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                let denom = v[i].sqrt() / (1.0 - b2.powf(t)).sqrt() + eps;
                p[i] -= lr / (1.0 - b1.powf(t)) * m[i] / denom;
            }
        }
        p
    }

    #[test]
    fn adamw_constant_lr_trajectory_on_tiny_problem() {
        // Full closed loop (gradients recomputed from the parameters each step) in both
        // implementations; f32 vs f64 drift over 3 steps stays far below the step size.
        let p0 = [0.7, -0.4, 1.5, 0.0];
        let cfg = AdamWConfig {
            lr: 1e-2,
            ..AdamWConfig::reference()
        };
        let expect = reference_f64(&p0, 3, 1e-2, 1e-4, true);
        let mut params = to_f32(&p0);
        let mut opt = AdamW::new(4, cfg);
        for _ in 0..3 {
            let g = to_f32(&quad_grad(
                &params.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
            ));
            opt.step_all(&mut params, &g, 1e-2).unwrap();
        }
        for i in 0..4 {
            assert!(
                (f64::from(params[i]) - expect[i]).abs() < 2e-6,
                "{i}: {} vs {}",
                params[i],
                expect[i]
            );
        }
    }

    #[test]
    fn adam_l2_matches_independent_f64_trajectory() {
        let p0 = [0.7, -0.4, 1.5, 0.0];
        let cfg = AdamConfig {
            lr: 1e-2,
            weight_decay: 0.1,
            ..AdamConfig::default()
        };
        let expect = reference_f64(&p0, 3, 1e-2, 0.1, false);
        let mut params = to_f32(&p0);
        let mut opt = Adam::new(4, cfg);
        for _ in 0..3 {
            let g = to_f32(&quad_grad(
                &params.iter().map(|&x| f64::from(x)).collect::<Vec<_>>(),
            ));
            opt.step_all(&mut params, &g, 1e-2).unwrap();
        }
        for i in 0..4 {
            assert!(
                (f64::from(params[i]) - expect[i]).abs() < 2e-6,
                "{i}: {} vs {}",
                params[i],
                expect[i]
            );
        }
        // Without decay, Adam and AdamW coincide exactly.
        let mut pa = to_f32(&p0);
        let mut pw = to_f32(&p0);
        let mut a = Adam::new(4, AdamConfig::default());
        let mut w = AdamW::new(
            4,
            AdamWConfig {
                weight_decay: 0.0,
                ..AdamWConfig::default()
            },
        );
        for s in 0..3 {
            let g: Vec<f32> = (0..4)
                .map(|i| (i as f32 - 1.5) * (s as f32 + 0.5))
                .collect();
            a.step_all(&mut pa, &g, 1e-3).unwrap();
            w.step_all(&mut pw, &g, 1e-3).unwrap();
        }
        assert_eq!(pa, pw);
    }

    #[test]
    fn inactive_params_are_untouched() {
        let mut params = vec![1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let grads = vec![0.5_f32; 6];
        let mut opt = AdamW::new(
            6,
            AdamWConfig {
                weight_decay: 0.5,
                ..AdamWConfig::reference()
            },
        );
        let active = ranges_from_mask(&[true, false, false, true, true, false]);
        assert_eq!(active, vec![0..1, 3..5]);
        for _ in 0..3 {
            opt.step(&mut params, &grads, &active, 1e-2).unwrap();
        }
        // No decay and no update for 1, 2, 5.
        assert_eq!([params[1], params[2], params[5]], [2.0, 3.0, 6.0]);
        assert_eq!(opt.state().step, vec![3, 0, 0, 3, 3, 0]);
        assert_eq!(opt.state().m[1], 0.0);
        assert_eq!(opt.state().v[5], 0.0);
        // Active ones moved (decay + step).
        assert!(params[0] < 1.0 && params[3] < 4.0);
        // An element that starts receiving gradients later gets its own bias correction: its
        // first step is lr·sign(g) after decay, as for a fresh PyTorch state.
        let before = params[1];
        opt.step(&mut params, &grads, &one(1..2), 1e-2).unwrap();
        let expect = f64::from(before) * (1.0 - 1e-2 * 0.5) - 1e-2;
        assert!((f64::from(params[1]) - expect).abs() < 1e-6);
        assert_eq!(opt.state().step[1], 1);
    }

    #[test]
    fn rejects_bad_input_without_modifying() {
        let mut opt = AdamW::new(4, AdamWConfig::reference());
        let mut p = vec![1.0_f32; 4];
        let g = vec![1.0_f32; 4];
        assert!(matches!(
            opt.step(&mut p, &g[..3], &one(0..3), 1e-3),
            Err(OptimError::LengthMismatch { .. })
        ));
        assert!(matches!(
            opt.step(&mut p, &g, &one(0..5), 1e-3),
            Err(OptimError::BadRange { .. })
        ));
        assert!(matches!(
            opt.step(&mut p, &g, &[2..4, 0..1], 1e-3),
            Err(OptimError::BadRange { .. })
        ));
        assert!(matches!(
            opt.step(&mut p, &g, &[0..3, 2..4], 1e-3),
            Err(OptimError::BadRange { .. })
        ));
        assert!(matches!(
            opt.step(&mut p, &g, &one(0..4), -1.0),
            Err(OptimError::InvalidHyperparameter { .. })
        ));
        assert_eq!(p, vec![1.0; 4]);
        assert_eq!(opt.state().step, vec![0; 4]);
    }

    #[test]
    fn state_roundtrips_through_serde() {
        let mut opt = AdamW::new(3, AdamWConfig::reference());
        let mut p = vec![0.1_f32, 0.2, 0.3];
        opt.step_all(&mut p, &[1.0, -2.0, 0.5], 1e-3).unwrap();
        let json = serde_json::to_string(&opt).unwrap();
        let back: AdamW = serde_json::from_str(&json).unwrap();
        assert_eq!(back, opt);
        let restored = AdamW::from_state(*opt.config(), opt.state().clone()).unwrap();
        let (mut p1, mut p2) = (p.clone(), p.clone());
        let mut o1 = opt.clone();
        let mut o2 = restored;
        o1.step_all(&mut p1, &[0.3, 0.3, 0.3], 1e-3).unwrap();
        o2.step_all(&mut p2, &[0.3, 0.3, 0.3], 1e-3).unwrap();
        assert_eq!(p1, p2);
        let bad = AdamState {
            m: vec![0.0; 3],
            v: vec![0.0; 2],
            step: vec![0; 3],
        };
        assert!(AdamW::from_state(AdamWConfig::reference(), bad).is_err());
    }
}
