//! The recurrent-mode interface a causal architecture implements to be streamed
//! ([`crate::stream::Stream`]): fixed-size state and scratch known after load, one input
//! sample per step, logits of the prefix on demand. New causal models plug in by implementing
//! [`CausalStep`] and returning it from [`super::Arch::causal_step`].
//!
//! Contract (checked by `tests/engine_stream.rs` for every implementation):
//! * the initial state is **all zeros** (a reset is a fill with 0.0);
//! * after steps t = 0, 1, …, T−1 with samples x_0 … x_{T−1}, [`CausalStep::logits`] with
//!   `t = T` equals the window forward of the model on those T samples (prefix semantics),
//!   for every T ≥ 1 — a chunked model closes a partial last chunk tentatively, in scratch;
//! * `step` and `logits` never allocate and never fail (the input was validated: C finite
//!   values in the model's unit); state and scratch lengths are exactly the advertised ones.

/// A causal architecture in recurrent mode. Shapes: C channels, D `d_model`, K classes.
pub(crate) trait CausalStep: Sync {
    /// Samples per model step: 1 for per-sample models (3b), the chunk size for chunked ones
    /// (causal 1b, mg), whose state advances a chunk at a time; a stream's hop is a multiple
    /// of it.
    fn chunk(&self) -> usize;
    /// Floats of recurrent state (everything that carries over from one sample to the next).
    fn state_len(&self) -> usize;
    /// Floats of scratch (per-step activations; contents do not carry over).
    fn scratch_len(&self) -> usize;
    /// Consumes sample `t` (0-based since the zero state): `x` (C) in the model's unit,
    /// finite. Advances `state`.
    fn step(&self, x: &[f32], t: u64, state: &mut [f32], scratch: &mut [f32]);
    /// Completes the samples `step` holds back to run together (3b runs its projections over
    /// blocks of samples), so that `state` is the state after all `t` samples so far; a stream
    /// calls it before [`Self::logits`] / [`Self::boundary_logits`]. Never allocates. The
    /// result must not depend on when it is called (the same floats with or without a flush in
    /// between). Default: nothing held back.
    fn flush(&self, _t: u64, _state: &mut [f32], _scratch: &mut [f32]) {}
    /// Whether `state` (restored from a snapshot: finite values of the right length) is one this
    /// model can continue from; `Err` names what is wrong. Default: any finite state.
    fn check_state(&self, _state: &[f32]) -> Result<(), &'static str> {
        Ok(())
    }
    /// Logits (K) of the prefix of `t ≥ 1` samples from the state after those samples (flushed),
    /// written into `logits` (between chunk boundaries: the partial chunk closed in scratch,
    /// the state unchanged).
    fn logits(&self, t: u64, state: &[f32], scratch: &mut [f32], logits: &mut [f32]);
    /// Samples of look-ahead L: the output for sample t needs sample t + L (group 4's centred
    /// Conv3: 1). A stream emits its hop predictions at t = L + m·hop (m ≥ 1). Default 0.
    fn lookahead(&self) -> usize {
        0
    }
    /// Logits (K) a stream emits at a hop boundary t = L + m·hop: a model with look-ahead gives
    /// the chunks completed so far (group 4: the trainer's `boundary_outputs`); default
    /// [`Self::logits`] (prefix semantics). Never allocates.
    fn boundary_logits(&self, t: u64, state: &[f32], scratch: &mut [f32], logits: &mut [f32]) {
        self.logits(t, state, scratch, logits);
    }
}
