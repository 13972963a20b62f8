//! [`Batched`] runs a [`Net`] (a model written once over any backend, `qssm_models`) on a
//! backend (CPU or GPU) behind the trainer's host-facing [`Model`] interface.
//!
//! Data flow of a training step (`Batched::train_batch`):
//! windows (B, C, T) host → `upload` into the planned input buffer → `Net::forward` (backend
//! ops only) → `Backend::loss` (mean loss read back, d loss/d outputs on the backend) →
//! `Net::backward` (accumulates into the flat gradient buffer) → outputs read back for metrics.
//! Activation buffers are planned once per (model, B) and reused by every later step.
//!
//! On a host backend (the CPU), a batch of more than [`HOST_SHARD`] samples runs as
//! data-parallel shards of [`HOST_SHARD`] samples, each a whole forward and backward on its own
//! plan of [`HOST_SHARD`] samples (the last shard zero-padded), the shard gradients summed in
//! shard order with weights b_shard/B (the gradient of the batch mean). The shard size is fixed,
//! so results do not depend on the number of threads; the split keeps both cores busy on the
//! ~1,000 small ops of a small model's step, which a single batched pass runs mostly on one
//! thread.
use crate::models::{DeviceOptim, Model, ModelConfig, StepOutput, Target, TrainSession};
use crate::params::ParamLayout;
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::{Backend, DropoutCfg, Targets};
use qssm_models::nn::Net;
use rayon::prelude::*;
use std::sync::Mutex;

/// Samples per data-parallel shard of a step on a host backend (see the module docs).
pub const HOST_SHARD: usize = 8;

/// A [`Net`] run on a backend (the CPU by default), with a pool of plans (per batch size,
/// kept for reuse). Through [`Model`], a device backend gets the host parameters of each call
/// copied into the plan's parameter buffer and the gradients copied back (the CPU backend uses
/// the host buffers in place); a training session ([`Model::device_session`], device
/// backends) keeps them on the device instead.
pub struct Batched<M: Net, B: Backend = Cpu> {
    net: M,
    // fields drop in order: the device buffers of the plans before the backend
    plans: Mutex<Vec<(usize, Plan<M, B>)>>,
    /// host gradient buffers of the data-parallel shards, kept for reuse
    shard_grads: Mutex<Vec<Vec<f32>>>,
    be: B,
}

/// One plan: the activations for a batch size, and the parameter/gradient buffers.
pub(super) struct Plan<M: Net, B: Backend> {
    pub(super) acts: M::Acts<B>,
    pub(super) p: B::ParamBuf,
    pub(super) g: B::ParamBuf,
}

impl<M: Net> Batched<M, Cpu> {
    /// Wraps `net` on the CPU backend.
    pub fn new(net: M) -> Self {
        Self::on(net, Cpu)
    }
}

impl<M: Net, B: Backend> Batched<M, B> {
    /// Wraps `net` on backend `be`.
    pub fn on(net: M, be: B) -> Self {
        Self {
            net,
            be,
            plans: Mutex::new(Vec::new()),
            shard_grads: Mutex::new(Vec::new()),
        }
    }

    /// The wrapped model.
    pub fn net(&self) -> &M {
        &self.net
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.be
    }

    /// Runs `f` on a plan with x (B = `b`) uploaded into its first `b` samples and the host
    /// parameters `p` in its parameter buffer; `f` gets the plan and its batch size P ≥ b
    /// (samples b..P are zero padding). Plans come from a pool (planned on first use,
    /// returned after use): concurrent callers each get their own, a sequence of steps reuses
    /// the same buffers, and a smaller batch (the last of an epoch) runs padded on the plan of
    /// a larger one when that wastes at most 4× — one full-size plan in memory, not one per
    /// batch size.
    pub(super) fn with_plan<R>(
        &self,
        p: Option<&[f32]>,
        x: &[f32],
        b: usize,
        f: impl FnOnce(&mut Plan<M, B>, usize) -> R,
    ) -> R {
        self.with_plan_at(p, x, b, b, f)
    }

    /// [`Self::with_plan`] on a plan of at least `plan_b` ≥ b samples (the data-parallel
    /// shards all run on plans of the shard size, the last one padded, so that no reduction
    /// over the rows depends on which plan the pool had free).
    fn with_plan_at<R>(
        &self,
        p: Option<&[f32]>,
        x: &[f32],
        b: usize,
        plan_b: usize,
        f: impl FnOnce(&mut Plan<M, B>, usize) -> R,
    ) -> R {
        let cfg = self.net.config();
        let per = cfg.n_channels * cfg.n_times;
        assert_eq!(
            x.len(),
            b * per,
            "{}: input is not (B, C, T) = ({b}, {}, {})",
            self.net.id(),
            cfg.n_channels,
            cfg.n_times
        );
        // a poisoned lock only means another caller panicked; the pool is plain buffers
        let taken = {
            let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            let best = plans
                .iter()
                .enumerate()
                .filter(|(_, (pb, _))| *pb >= plan_b && *pb <= 4 * plan_b.max(1))
                .min_by_key(|(_, (pb, _))| *pb)
                .map(|(i, _)| i);
            best.map(|i| plans.swap_remove(i))
        };
        let (pb, mut plan) = taken.unwrap_or_else(|| {
            let zeros = vec![0.0; self.net.layout().len()];
            (
                plan_b,
                Plan {
                    acts: self.net.plan(&self.be, plan_b),
                    p: self.be.params_from_host(&zeros),
                    g: self.be.params_from_host(&zeros),
                },
            )
        });
        if let Some(p) = p {
            self.be.params_upload(&mut plan.p, p);
        }
        if pb == b {
            self.be.upload(&mut M::io(&mut plan.acts).x, x);
        } else {
            let mut padded = vec![0.0; pb * per];
            padded[..b * per].copy_from_slice(x);
            self.be.upload(&mut M::io(&mut plan.acts).x, &padded);
        }
        let r = f(&mut plan, pb);
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((pb, plan));
        r
    }

    /// The shard size for a batch of `b` samples at parameters `p`: [`HOST_SHARD`] on a host
    /// backend when the batch is larger, else `None` (one pass).
    fn shard_of(&self, p: &[f32], b: usize) -> Option<usize> {
        (self.be.host_params(p).is_some() && b > HOST_SHARD).then_some(HOST_SHARD)
    }

    /// The first `n` elements of `x` on the host.
    pub(super) fn head(&self, x: &B::Buf, n: usize) -> Vec<f32> {
        let mut v = vec![0.0; self.be.numel(x)];
        self.be.download(x, &mut v);
        v.truncate(n);
        v
    }
}

/// Converts per-sample targets to the backend's batch form (class indices or stacked values).
pub struct StepTargets {
    classes: Vec<usize>,
    values: Vec<f32>,
}

impl StepTargets {
    /// Collects `targets` (all classes or all values).
    pub fn new(targets: &[Target<'_>]) -> Self {
        let mut s = Self {
            classes: Vec::new(),
            values: Vec::new(),
        };
        for t in targets {
            match t {
                Target::Class(c) => s.classes.push(*c),
                Target::Values(v) => s.values.extend_from_slice(v),
            }
        }
        assert!(
            s.classes.is_empty() || s.values.is_empty(),
            "a batch mixes class and value targets"
        );
        s
    }
    /// The backend view.
    pub fn as_targets(&self) -> Targets<'_> {
        if self.values.is_empty() {
            Targets::Classes(&self.classes)
        } else {
            Targets::Values(&self.values)
        }
    }
}

impl<M: Net, B: Backend + Send> Batched<M, B>
where
    B::Params: Send,
{
    /// One eval pass of the whole batch (no sharding) on a plan of at least `plan_b` samples.
    fn eval_one(&self, p: &[f32], x: &[f32], b: usize, plan_b: usize) -> Vec<f32> {
        let k = self.net.config().n_classes;
        let host = self.be.host_params(p);
        self.with_plan_at(host.is_none().then_some(p), x, b, plan_b, |pl, _| {
            let pp = host.unwrap_or(&*pl.p);
            self.net.forward(&self.be, pp, &mut pl.acts, None);
            self.head(&M::io(&mut pl.acts).out, b * k)
        })
    }

    /// One training pass of the whole batch (no sharding; see [`Model::train_batch`]) on a
    /// plan of at least `plan_b` samples.
    #[allow(clippy::too_many_arguments)]
    fn train_one(
        &self,
        p: &[f32],
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        dropout_seeds: Option<&[u64]>,
        g: &mut [f32],
        plan_b: usize,
    ) -> StepOutput {
        let t = StepTargets::new(targets);
        let k = self.net.config().n_classes;
        // on the CPU the host buffers are used in place; on a device they are copied
        let host = self.be.host_params(p);
        self.with_plan_at(host.is_none().then_some(p), x, b, plan_b, |pl, pb| {
            let pp = host.unwrap_or(&*pl.p);
            // padding samples get seed 0 and no target: their loss gradient is 0, so they
            // add nothing to the parameter gradients
            let seeds: Option<Vec<u64>> = dropout_seeds.map(|s| {
                let mut v = s.to_vec();
                v.resize(pb, 0);
                v
            });
            let drop = seeds.as_deref().map(|seeds| DropoutCfg {
                p: self.net.config().dropout,
                seeds,
            });
            self.net.forward(&self.be, pp, &mut pl.acts, drop);
            let io = M::io(&mut pl.acts);
            let loss = self.be.loss(&mut io.dout, &io.out, t.as_targets());
            let logits = self.head(&io.out, b * k);
            match self.be.host_params_mut(g) {
                Some(hg) => {
                    self.be.zero_params(hg);
                    self.net.backward(&self.be, pp, hg, &mut pl.acts);
                }
                None => {
                    self.be.zero_params(&mut pl.g);
                    self.net.backward(&self.be, pp, &mut pl.g, &mut pl.acts);
                    self.be.params_download(&pl.g, g);
                }
            }
            StepOutput { loss, logits }
        })
    }

    /// [`Model::train_batch`] as data-parallel shards of `shard` samples (module docs).
    #[allow(clippy::too_many_arguments)]
    fn train_shards(
        &self,
        p: &[f32],
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        dropout_seeds: Option<&[u64]>,
        g: &mut [f32],
        shard: usize,
    ) -> StepOutput {
        let per = x.len() / b;
        let n = b.div_ceil(shard);
        let parts: Vec<(usize, StepOutput, Vec<f32>)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let (lo, hi) = (i * shard, ((i + 1) * shard).min(b));
                let mut gi = self
                    .shard_grads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop()
                    .unwrap_or_default();
                gi.resize(g.len(), 0.0);
                let out = self.train_one(
                    p,
                    &x[lo * per..hi * per],
                    hi - lo,
                    &targets[lo..hi],
                    dropout_seeds.map(|s| &s[lo..hi]),
                    &mut gi,
                    shard,
                );
                (hi - lo, out, gi)
            })
            .collect();
        // g = Σ_i (b_i/B)·g_i, shards in order (per element, so any split of g is the same)
        let w: Vec<f32> = parts.iter().map(|(bi, ..)| *bi as f32 / b as f32).collect();
        g.par_chunks_mut(1 << 14).enumerate().for_each(|(c, gc)| {
            let at = c << 14;
            for (j, v) in gc.iter_mut().enumerate() {
                *v = parts
                    .iter()
                    .zip(&w)
                    .fold(0.0f32, |acc, ((.., gi), wi)| acc + wi * gi[at + j]);
            }
        });
        let loss = parts
            .iter()
            .map(|(bi, out, _)| *bi as f64 * f64::from(out.loss))
            .sum::<f64>()
            / b as f64;
        let mut logits = Vec::with_capacity(b * self.net.config().n_classes);
        let mut pool = self.shard_grads.lock().unwrap_or_else(|e| e.into_inner());
        for (_, out, gi) in parts {
            logits.extend_from_slice(&out.logits);
            pool.push(gi);
        }
        StepOutput {
            loss: loss as f32,
            logits,
        }
    }
}

impl<M: Net, B: Backend + Send> Model for Batched<M, B>
where
    B::Params: Send,
{
    fn id(&self) -> &'static str {
        self.net.id()
    }
    fn config(&self) -> &ModelConfig {
        self.net.config()
    }
    fn layout(&self) -> &ParamLayout {
        self.net.layout()
    }
    fn is_causal(&self) -> bool {
        self.net.is_causal()
    }
    fn architecture(&self) -> Option<qssm_formats::model_file::Architecture> {
        self.net.architecture()
    }
    fn forward_eval_batch(&self, p: &[f32], x: &[f32], b: usize) -> Vec<f32> {
        if let Some(shard) = self.shard_of(p, b) {
            let per = x.len() / b;
            let parts: Vec<Vec<f32>> = (0..b.div_ceil(shard))
                .into_par_iter()
                .map(|i| {
                    let (lo, hi) = (i * shard, ((i + 1) * shard).min(b));
                    self.eval_one(p, &x[lo * per..hi * per], hi - lo, shard)
                })
                .collect();
            return parts.concat();
        }
        self.eval_one(p, x, b, b)
    }
    fn train_batch(
        &self,
        p: &[f32],
        x: &[f32],
        b: usize,
        targets: &[Target<'_>],
        dropout_seeds: Option<&[u64]>,
        g: &mut [f32],
    ) -> StepOutput {
        assert_eq!(targets.len(), b, "one target per sample");
        if let Some(shard) = self.shard_of(p, b) {
            return self.train_shards(p, x, b, targets, dropout_seeds, g, shard);
        }
        self.train_one(p, x, b, targets, dropout_seeds, g, b)
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        self.net.boundary_outputs(p, x)
    }
    fn device_session(
        &self,
        params: &[f32],
        opt: DeviceOptim,
    ) -> Option<Box<dyn TrainSession + '_>> {
        if self.be.host_params(params).is_some() {
            return None;
        }
        Some(Box::new(super::session::Session::new(self, params, opt)))
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let host = self.be.host_params(p);
        self.with_plan(host.is_none().then_some(p), x, 1, |pl, pb| {
            let pp = host.unwrap_or(&*pl.p);
            self.net.forward(&self.be, pp, &mut pl.acts, None);
            self.net
                .trace(&self.be, &mut pl.acts)
                .into_iter()
                .map(|(n, buf)| {
                    // the first sample of every (P, …) buffer
                    let len = self.be.numel(buf);
                    (n, self.head(buf, len / pb))
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::zoo::{QuantumMixingSsm, TrueClassicalMamba};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A batch of 12 runs as two shards (8 + 4) on the CPU and gives the single pass's loss,
    /// outputs and gradient, dropout on, up to the rounding of the shard sum.
    fn shards_match_one_pass<M: Net>(net: M) {
        let m = Batched::new(net);
        let cfg = m.net().config().clone();
        let b = 12;
        assert_eq!(m.shard_of(&[], b), Some(HOST_SHARD));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let p = m.net().layout().init(&mut rng);
        let x: Vec<f32> = (0..b * cfg.n_channels * cfg.n_times)
            .map(|_| rng.gen_range(-0.1..0.1))
            .collect();
        let targets: Vec<Target<'_>> = (0..b).map(|i| Target::Class(i % 2)).collect();
        let seeds: Vec<u64> = (0..b as u64).map(|i| 100 + i).collect();
        let mut g1 = vec![0.0; p.len()];
        let one = m.train_one(&p, &x, b, &targets, Some(&seeds), &mut g1, b);
        let mut g2 = vec![0.0; p.len()];
        let sharded = m.train_batch(&p, &x, b, &targets, Some(&seeds), &mut g2);
        let id = m.net().id();
        assert!((one.loss - sharded.loss).abs() <= 1e-6, "{id}: loss");
        let dl = one
            .logits
            .iter()
            .zip(&sharded.logits)
            .fold(0.0f32, |a, (u, v)| a.max((u - v).abs()));
        assert!(dl <= 1e-6, "{id}: outputs differ by {dl:e}");
        let scale = g1.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let dg = g1
            .iter()
            .zip(&g2)
            .fold(0.0f32, |a, (u, v)| a.max((u - v).abs()));
        assert!(
            scale > 0.0 && dg <= 1e-5 * scale,
            "{id}: gradients differ by {dg:e} (max |g| {scale:e})"
        );
        let eval = m.forward_eval_batch(&p, &x, b);
        let de = m
            .eval_one(&p, &x, b, b)
            .iter()
            .zip(&eval)
            .fold(0.0f32, |a, (u, v)| a.max((u - v).abs()));
        assert!(de <= 1e-6, "{id}: eval outputs differ by {de:e}");
    }

    #[test]
    fn shards_match_one_pass_3b_and_2b() {
        let cfg = ModelConfig {
            n_channels: 4,
            n_times: 40,
            d_model: 16,
            d_state: 4,
            n_qubits: 3,
            n_classes: 2,
            ..ModelConfig::eeg(40)
        };
        shards_match_one_pass(TrueClassicalMamba::new(cfg.clone()));
        shards_match_one_pass(QuantumMixingSsm::mamba(cfg));
    }
}
