//! A whole model written once over any backend ([`Net`]), and [`Batched`], which runs a
//! [`Net`] on the CPU backend behind the trainer's host-facing [`Model`] interface.
//!
//! Data flow of a training step (`Batched::train_batch`):
//! windows (B, C, T) host → `upload` into the planned input buffer → `Net::forward` (backend
//! ops only) → `Backend::loss` (mean loss read back, d loss/d outputs on the backend) →
//! `Net::backward` (accumulates into the flat gradient buffer) → outputs read back for metrics.
//! Activation buffers are planned once per (model, B) and reused by every later step.
use crate::models::{Model, ModelConfig, StepOutput, Target};
use crate::params::ParamLayout;
use qssm_kernels::backend::cpu::{Cpu, CpuBuf};
use qssm_kernels::backend::{Backend, DropoutCfg, Targets};
use std::sync::Mutex;

/// The buffers every model has: the input batch, the outputs and their gradient.
pub struct Io<B: Backend> {
    /// x (B, C, T) channel-major, as the windows come (EEG: millivolts)
    pub x: B::Buf,
    /// outputs (B, K): logits or regression values
    pub out: B::Buf,
    /// d loss / d outputs (B, K)
    pub dout: B::Buf,
}

impl<B: Backend> Io<B> {
    /// Plans the three buffers for batch `b`.
    pub fn plan(be: &B, b: usize, cfg: &ModelConfig) -> Self {
        Self {
            x: be.alloc(&[b, cfg.n_channels, cfg.n_times]),
            out: be.alloc(&[b, cfg.n_classes]),
            dout: be.alloc(&[b, cfg.n_classes]),
        }
    }
}

/// A model as a composition of backend-generic blocks.
pub trait Net: Send + Sync {
    /// Planned activation (and activation-gradient) buffers for one batch size.
    type Acts<B: Backend>: Send;
    /// Registry id (`3b`).
    fn id(&self) -> &'static str;
    /// Reference class name.
    fn class_name(&self) -> &'static str;
    /// Configuration.
    fn config(&self) -> &ModelConfig;
    /// Parameter layout.
    fn layout(&self) -> &ParamLayout;
    /// Whether the model is causal (see [`Model::is_causal`]).
    fn is_causal(&self) -> bool {
        false
    }
    /// Allocates every buffer a step of batch `b` needs.
    fn plan<B: Backend>(&self, be: &B, b: usize) -> Self::Acts<B>;
    /// The input/output buffers inside `a`.
    fn io<B: Backend>(a: &mut Self::Acts<B>) -> &mut Io<B>;
    /// Forward of `io.x` into `io.out`; train mode (dropout) when `drop` is given.
    fn forward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        a: &mut Self::Acts<B>,
        drop: Option<DropoutCfg<'_>>,
    );
    /// Backward from `io.dout`: accumulates d loss/d params into `g`.
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Self::Acts<B>);
    /// Named eval-mode intermediates after a forward (`act.<name>` of the parity fixtures),
    /// each a (B, …) buffer.
    fn trace<'a, B: Backend>(&self, a: &'a Self::Acts<B>) -> Vec<(String, &'a B::Buf)>;
    /// Eval-mode outputs at the chunk boundaries of one window (see
    /// [`Model::boundary_outputs`]); `None` for models that cannot stream.
    fn boundary_outputs(&self, _p: &[f32], _x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        None
    }
}

/// A [`Net`] run on the CPU backend, with a pool of plans (per batch size, kept for reuse).
pub struct Batched<M: Net> {
    net: M,
    plans: Mutex<Vec<(usize, M::Acts<Cpu>)>>,
}

impl<M: Net> Batched<M> {
    /// Wraps `net`.
    pub fn new(net: M) -> Self {
        Self {
            net,
            plans: Mutex::new(Vec::new()),
        }
    }

    /// The wrapped model.
    pub fn net(&self) -> &M {
        &self.net
    }

    /// Runs `f` on a plan with x (B = `b`) uploaded into its first `b` samples; `f` gets the
    /// plan and its batch size P ≥ b (samples b..P are zero padding). Plans come from a pool
    /// (planned on first use, returned after use): concurrent callers each get their own, a
    /// sequence of steps reuses the same buffers, and a smaller batch (the last of an epoch)
    /// runs padded on the plan of a larger one when that wastes at most 4× — one full-size
    /// plan in memory, not one per batch size.
    fn with_plan<R>(
        &self,
        x: &[f32],
        b: usize,
        f: impl FnOnce(&mut M::Acts<Cpu>, usize) -> R,
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
                .filter(|(_, (pb, _))| *pb >= b && *pb <= 4 * b.max(1))
                .min_by_key(|(_, (pb, _))| *pb)
                .map(|(i, _)| i);
            best.map(|i| plans.swap_remove(i))
        };
        let (pb, mut a) = taken.unwrap_or_else(|| (b, self.net.plan(&Cpu, b)));
        if pb == b {
            Cpu.upload(&mut M::io(&mut a).x, x);
        } else {
            let xs = M::io(&mut a).x.as_mut_slice();
            xs[..b * per].copy_from_slice(x);
            xs[b * per..].fill(0.0);
        }
        let r = f(&mut a, pb);
        self.plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((pb, a));
        r
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

impl<M: Net> Model for Batched<M> {
    fn id(&self) -> &'static str {
        self.net.id()
    }
    fn class_name(&self) -> &'static str {
        self.net.class_name()
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
    fn forward_eval_batch(&self, p: &[f32], x: &[f32], b: usize) -> Vec<f32> {
        let k = self.net.config().n_classes;
        self.with_plan(x, b, |a, _| {
            self.net.forward(&Cpu, p, a, None);
            M::io(a).out.as_slice()[..b * k].to_vec()
        })
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
        let t = StepTargets::new(targets);
        let k = self.net.config().n_classes;
        self.with_plan(x, b, |a, pb| {
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
            self.net.forward(&Cpu, p, a, drop);
            let io = M::io(a);
            let loss = Cpu.loss(&mut io.dout, &io.out, t.as_targets());
            let logits = io.out.as_slice()[..b * k].to_vec();
            Cpu.zero_params(g);
            self.net.backward(&Cpu, p, g, a);
            StepOutput { loss, logits }
        })
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        self.net.boundary_outputs(p, x)
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        self.with_plan(x, 1, |a, pb| {
            self.net.forward(&Cpu, p, a, None);
            self.net
                .trace(a)
                .into_iter()
                .map(|(n, buf): (String, &CpuBuf)| {
                    // the first sample of every (P, …) buffer
                    let v = buf.as_slice();
                    (n, v[..v.len() / pb].to_vec())
                })
                .collect()
        })
    }
}
