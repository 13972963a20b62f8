//! The streaming form of a causal model ([`StepNet`]), written next to its window forward from
//! the blocks' own steps (`MambaBlock::step`, the backend's `conv1d_step`, `scan` from a state,
//! `running_mean`): one step takes the next [`StepNet::step_len`] samples of every stream of a
//! batch (3b: one sample; causal 1b and mg: one chunk) and the recurrent state, and leaves the
//! outputs after them. Because it is built from backend operations, the same step runs on the
//! CPU, on a GPU, and on the ONNX recorder (the exported step graph).
//!
//! A model whose front-end reads ahead (4a–4e: the centred Conv3 reads the next sample) has a
//! [`StepNet::lookahead`]: a step's input holds its samples and that many next ones (zeros
//! past the end of a window), so the output after chunk k comes once its look-ahead arrived.
//!
//! Stepping a window through, chunk after chunk, gives the model's outputs at every chunk
//! boundary ([`super::Net::boundary_outputs`] of the causal models is this) and, at the end,
//! the window forward's outputs; `kernels/models/tests/step_forms.rs` checks both.
use super::mamba::{MambaBlock, MambaState};
use super::net::Io;
use super::Net;
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::Infer;

/// A causal [`Net`]'s streaming form (see the [module docs](self)). The recurrent state
/// ([`Self::State`], what carries one step to the next) is planned apart from a step's buffers
/// ([`Self::Step`]: input, outputs, scratch), so one state continues through steps of any
/// length (a stream's full chunks, then a partial one) and a runtime can keep it where it
/// keeps a stream's state.
pub trait StepNet: Net {
    /// The recurrent state of a batch of streams.
    type State<B: Infer>: Send;
    /// Planned buffers of one step for a batch size and a step length: input, outputs and
    /// scratch.
    type Step<B: Infer>: Send;
    /// Samples per step (1 for a per-sample model, the chunk size for a chunked one).
    fn step_len(&self) -> usize;
    /// Samples a step reads past its own (the front-end's look-ahead; 4a–4e: 1): a step's
    /// input x holds its `len` samples and these next ones, which the next step consumes
    /// again; at the end of a window they are zeros (its right edge). Default: 0.
    fn lookahead(&self) -> usize {
        0
    }
    /// Allocates the state of `b` streams at their start (zeros).
    fn plan_state<B: Infer>(&self, be: &B, b: usize) -> Self::State<B>;
    /// Allocates a step of `len` samples (the step length, or fewer for the last, partial
    /// chunk of a window) for `b` streams.
    fn plan_step<B: Infer>(&self, be: &B, b: usize, len: usize) -> Self::Step<B>;
    /// The step's input x (B, C, `len` + [`Self::lookahead`]) (channel-major, as the windows)
    /// and outputs (B, K).
    fn step_io<B: Infer>(s: &mut Self::Step<B>) -> &mut Io<B>;
    /// The state's tensors by name (`layers.0.conv1d`, `pool.sum`, …); zeros at the start of
    /// a stream. The ONNX step graph's state inputs and outputs have these names.
    fn state<B: Infer>(st: &mut Self::State<B>) -> Vec<(String, &mut B::Buf)>;
    /// Calls `f` on every tensor of the state in the order of [`Self::state`], without
    /// allocating: a runtime that keeps a stream's state as one flat buffer (the engine's
    /// snapshots) moves it tensor by tensor in this order.
    fn for_each_state<B: Infer>(st: &mut Self::State<B>, f: &mut dyn FnMut(&mut B::Buf));
    /// One eval-mode step: reads `step_io.x` and `st`, writes `step_io.out` and the next state
    /// into `st`.
    fn step<B: Infer>(&self, be: &B, p: &B::Params, st: &mut Self::State<B>, s: &mut Self::Step<B>);
    /// Computes the parameter-derived buffers of step plan `s` once (the SSMs' A =
    /// −exp(A_log)), so that every later step on `s` skips them: for a runtime whose parameters
    /// stay the same while the plan lives (the engine's). A plan prepared and then stepped
    /// with changed parameters reads stale values; plan anew instead. Default: nothing to
    /// compute.
    fn prepare<B: Infer>(&self, _be: &B, _p: &B::Params, _s: &mut Self::Step<B>) {}
    /// Whether [`Self::step_prefix`] runs: the model's reduction over a step's samples can
    /// leave its last samples out (the causal 1b's pad-masked chunk pool), so a runtime needs
    /// no plan per partial step length. Default: no.
    fn steps_prefix(&self) -> bool {
        false
    }
    /// [`Self::step`] on a plan of the full step length over only the first `n` samples of its
    /// input (1 ≤ n ≤ the step length; the rest of the input, look-ahead included, is ignored:
    /// the first n samples end the window): the outputs and next state of a step of `n`
    /// samples at the end of a window. Returns false, doing nothing, where
    /// [`Self::steps_prefix`] is false.
    fn step_prefix<B: Infer>(
        &self,
        _be: &B,
        _p: &B::Params,
        _st: &mut Self::State<B>,
        _s: &mut Self::Step<B>,
        _n: usize,
    ) -> bool {
        false
    }
}

/// The state of a stack of Mamba blocks read out through a mean over time (3b, the causal
/// 1b): every block's ([`MambaState`]: `<name>.i.conv1d`, `<name>.i.ssm`) and the running
/// mean's (`pool.sum`, `pool.count`).
pub struct MambaStackState<B: Infer> {
    name: &'static str,
    /// block i's state
    pub blocks: Vec<MambaState<B>>,
    /// the running mean over the readout rows
    pub pool: RunningMean<B>,
}

impl<B: Infer> MambaStackState<B> {
    /// Zero state of `b` streams for the blocks `<name>.i` and a readout of width `d`.
    pub fn plan(be: &B, b: usize, name: &'static str, blocks: &[MambaBlock], d: usize) -> Self {
        Self {
            name,
            blocks: blocks.iter().map(|k| k.plan_state(be, b)).collect(),
            pool: RunningMean::plan(be, b, d),
        }
    }

    /// The tensors by name, for [`StepNet::state`].
    pub fn named(&mut self) -> Vec<(String, &mut B::Buf)> {
        let mut out = MambaState::named(self.name, &mut self.blocks);
        out.extend(self.pool.named());
        out
    }

    /// `f` on every tensor in the order of [`Self::named`], for [`StepNet::for_each_state`].
    pub fn for_each(&mut self, f: &mut dyn FnMut(&mut B::Buf)) {
        for b in &mut self.blocks {
            b.for_each(f);
        }
        f(&mut self.pool.sum);
        f(&mut self.pool.count);
    }
}

/// The state of a streamed mean pool over time: the running sum (B, D) and the count of rows
/// seen (B, 1) ([`Infer::running_mean`]).
pub struct RunningMean<B: Infer> {
    sum: B::Buf,
    count: B::Buf,
}

impl<B: Infer> RunningMean<B> {
    /// Zero state for `b` streams of width `d`.
    pub fn plan(be: &B, b: usize, d: usize) -> Self {
        Self {
            sum: be.alloc(&[b, d]),
            count: be.alloc(&[b, 1]),
        }
    }

    /// y (B, D) ← the mean over every row so far, after adding x (B, L, D).
    pub fn update(&mut self, be: &B, y: &mut B::Buf, x: &B::Buf) {
        be.running_mean(y, x, &mut self.sum, &mut self.count);
    }

    /// The state by name (`pool.sum`, `pool.count`).
    pub fn named(&mut self) -> [(String, &mut B::Buf); 2] {
        [
            ("pool.sum".into(), &mut self.sum),
            ("pool.count".into(), &mut self.count),
        ]
    }
}

/// The input/output buffers of a step: x (B, C, len) (len including any look-ahead), outputs
/// (B, K).
pub fn step_io<B: Infer>(be: &B, b: usize, cfg: &ModelConfig, len: usize) -> Io<B> {
    Io {
        x: be.alloc(&[b, cfg.n_channels, len]),
        out: be.alloc(&[b, cfg.n_classes]),
        dout: be.alloc(&[b, cfg.n_classes]),
    }
}

/// Streams one window x (C, T) (channel-major) through `net` on the CPU, one step at a time,
/// and returns the outputs after every step, with the number of samples seen: (n, outputs).
/// When T is not a multiple of the step length, the last, partial chunk is stepped on a plan
/// of its length, continuing from the same state (the window forward's last chunk): the
/// model's outputs at every chunk boundary and at T ([`super::Net::boundary_outputs`] of the
/// causal models). A step with a look-ahead of a samples reads them too (zeros past T): its
/// outputs need min(end + a, T) samples. x is in the model's input unit (EEG: millivolts, after the card's
/// preprocessing).
///
/// Panics if x holds fewer than C·T values (a caller's error: the windows of the trainer's
/// loaders always have C·T).
pub fn stream_window<M: StepNet>(net: &M, p: &[f32], x: &[f32]) -> Vec<(usize, Vec<f32>)> {
    stream_window_on(&qssm_kernels::backend::cpu::Cpu, net, p, x)
}

/// [`stream_window`] on backend `be` (its buffers, e.g. the CPU backend's in a caller-lent
/// arena: the state, the full step's plan and the partial chunk's plan are planned once each).
pub fn stream_window_on<B: Infer, M: StepNet>(
    be: &B,
    net: &M,
    p: &B::Params,
    x: &[f32],
) -> Vec<(usize, Vec<f32>)> {
    let cfg = net.config();
    let (c, t, len, ahead) = (
        cfg.n_channels,
        cfg.n_times,
        net.step_len().max(1),
        net.lookahead(),
    );
    let mut st = net.plan_state(be, 1);
    let mut outs = Vec::with_capacity(t.div_ceil(len));
    let mut step = |s: &mut M::Step<B>, t0: usize, n: usize| {
        // the step's n samples and its look-ahead (zeros past the window)
        let sample = |ch: usize, k: usize| if k < t { x[ch * t + k] } else { 0.0 };
        let chunk: Vec<f32> = (0..c)
            .flat_map(|ch| (t0..t0 + n + ahead).map(move |k| sample(ch, k)))
            .collect();
        be.upload(&mut M::step_io(s).x, &chunk);
        net.step(be, p, &mut st, s);
        let out = &M::step_io(s).out;
        let mut logits = vec![0.0; be.numel(out)];
        be.download(out, &mut logits);
        ((t0 + n + ahead).min(t), logits)
    };
    let mut s = net.plan_step(be, 1, len);
    for k in 0..t / len {
        outs.push(step(&mut s, k * len, len));
    }
    let rest = t % len;
    if rest > 0 {
        let mut last = net.plan_step(be, 1, rest);
        outs.push(step(&mut last, t - rest, rest));
    }
    outs
}
