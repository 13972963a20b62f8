//! Streaming: a causal model applied **one time sample at a time** ([`Stream`]), with an
//! explicit fixed-size state, predictions every `hop` samples, reset, and snapshot/restore.
//!
//! Semantics (prefix-exact): after t samples x_0 … x_{t−1} (each C values, one per channel in
//! card order), the prediction equals [`Model::classify_window`] — and the trainer's
//! `forward_eval` — on the (C, t) window of those samples (to rounding, ≤ 1e-4). The models
//! that stream:
//! * **3b** (`TrueClassicalMamba`, causal up to its mean pool, spec §6), step 1: the recurrent
//!   mode of its Mamba blocks (Gu & Dao 2023 §3.3; `mamba_simple.py:step()`): per block a
//!   conv ring buffer (3, E) and an SSM state (E, N), plus a running sum (D) of the
//!   `final_norm` outputs for the mean pool; up to 3 samples are held back (in the state) so
//!   that 4 share each read of the weights, and run before any prediction, with the same
//!   floats as one at a time; the same for the HQC Mamba (`hqc-mamba`, one pixel per step, its
//!   quantum projections one circuit per token) and its classical twin, whose streams run
//!   their description's step (`qssm_models::nn::StepNet`, four pixels per step between
//!   predictions);
//! * **1b, causal variant** (card `causal = true`: every block's scan from zero, pad rows
//!   masked), step = its chunk size 32: the trainer's own streaming step
//!   (`qssm_models::nn::StepNet`), one chunk at a time: a push stores its sample in the
//!   state's chunk (C·32 floats); the push that completes a chunk runs the chunk's features,
//!   chunk-attention pool and quantum branches, one recurrent step of each Mamba block and the
//!   running mean of the `output_norm` rows; a prediction between boundaries runs the same
//!   step over the samples so far (the pool's pad rows masked), the state unchanged;
//! * **mg** (`QuantumMambaGated`, causal chunk by chunk, gated spec §1.11), step = its chunk
//!   size C: the trainer's own streaming step (`qssm_models::nn::StepNet`, the description's
//!   `step` next to its window forward), one chunk at a time: a push stores its sample in the
//!   state's chunk (C·cs floats), the push that completes a chunk runs the chunk's circuits
//!   and the gated update of h (H floats) and keeps its logits (K); a prediction between
//!   chunk boundaries runs the step of the samples so far on h, the state unchanged
//!   (`arch/shared_step.rs`).
//! * **4a–4e** (group 4, spec groups-2-4 §4.3 R1), step 16 with a **look-ahead of one sample**
//!   (the centred Conv3), through their description's streaming form: the state keeps the
//!   samples not yet stepped (C·17 floats: a chunk and its look-ahead); once sample 16(k+1)
//!   has arrived, chunk k runs its Conv3 rows (the sample before the chunk is state, C
//!   floats), chunk pooling and circuits as the window does, and enters the online softmax
//!   over chunks (D + 2 floats); its logits (K) are kept. Hop
//!   predictions come at t = 1 + m·hop (hop a multiple of 16): chunk k is complete once sample
//!   16(k+1) has arrived, t = 16(k+1) + 1, and the prediction is the head over chunks 0..=k —
//!   the trainer's `boundary_outputs` n_k. [`Stream::prediction`] is the window forward on the
//!   t samples seen (last Conv3 row with a zero right edge, the last chunk's pad rows), which at
//!   the end of a window equals [`Model::classify_window`].
//! * **2d, 2e** (spec groups-2-4 §4.3 R1), step 32, no look-ahead, through their description's
//!   streaming form (`qssm_models`' `StepNet`): the state keeps the chunk's samples (C·32
//!   floats); the push that completes a chunk runs the chunk's front-end, chunk pooling and
//!   S3-superposed circuits as the window does, and the online softmax over the chunks so far
//!   (state: its running max, denominator and weighted sum, D + 2 floats), and keeps the logits
//!   (K). Hop predictions at t = m·hop (hop a multiple of 32) are the head over the completed
//!   chunks — the trainer's `boundary_outputs`; a prediction between boundaries steps the
//!   samples so far as the window's short last chunk (its zero pad rows), the state unchanged.
//!
//! A chunked model (step > 1) predicts at chunk boundaries: the hop must be a multiple of its
//! step ([`EngineError::InvalidHop`] otherwise), so every prediction a push returns closes a
//! chunk. [`Stream::prediction`] also works in between: it closes the partial chunk
//! tentatively (the state is unchanged), which is what the window path computes on a window of
//! that many samples (whose last chunk is short) — e.g. the prediction at the end of a 249-sample
//! window of a C = 8 model, whose last chunk has 1 sample. Non-causal models (the reference 1b,
//! 1c, hg) cannot stream: [`EngineError::NotCausal`].
//!
//! The mean pools (3b, 1b) cover **everything since the last [`Stream::reset`]**, and mg's
//! recurrence starts at the reset: the reference models were trained on 3.1 s windows, so
//! reset at the start of each trial/window you want classified (with overlapping windows, one
//! stream per window).
//!
//! Units: [`Stream::push`] takes values in the card's unit (`input.unit`; **millivolts** for
//! the reference models); [`Stream::push_in`] takes an explicit [`Unit`] and scales.
//!
//! Input conditioning: when the card records a causal IIR filter (`preprocessing.filter`, see
//! [`qssm_formats::model_file::conditioning`]; `trainer fit --highpass/--lowpass/--notch`),
//! every pushed sample is filtered first, with the trainer's code (`qssm_kernels::signal::Sos`)
//! and a state that starts at zero with the stream, as the trainer's filter started at the
//! start of each recording; then the card's per-channel normalisation
//! (`preprocessing.normalisation`), if any. The filter conditions the continuous signal:
//! [`Stream::reset`] (a new trial) keeps its state, [`Stream::restart`] zeroes it too. Its
//! state (2 floats per section and channel) is part of the stream state, so snapshots carry
//! it.
//!
//! Memory (llama2.c `RunState` / TFLM arena style): the state (`header + model state`) and the
//! scratch (per-step activations) are two f32 buffers whose sizes are known right after load
//! ([`Model::stream_state_len`], [`Model::stream_scratch_len`], or in bytes
//! [`required_state_bytes`], [`required_scratch_bytes`]); [`Stream::new`] allocates them once,
//! [`Stream::with_buffers`] uses buffers the caller lends. **Nothing is allocated after
//! creation**: `push`, `push_in`, `prediction`, `reset`, `snapshot`, `restore` and every error
//! they return are allocation-free (`tests/engine_noalloc.rs` proves it with a counting
//! allocator).
//!
//! A snapshot is a plain copy of the state buffer (self-describing header, see
//! `stream/header.rs`); restoring it continues the stream bit for bit.
//!
//! ```no_run
//! # fn main() -> Result<(), qssm_engine::EngineError> {
//! use qssm_engine::{Model, StreamOptions, Unit};
//! let bytes: &[u8] = &[]; // a 3b model file
//! let model = Model::from_bytes(bytes)?;
//! let mut stream = model.stream(StreamOptions { hop: 16 })?;
//! let sample = vec![0.0f32; model.n_channels()]; // one time sample, µV from the amplifier
//! if let Some(p) = stream.push_in(&sample, Unit::Microvolt)? {
//!     println!("after {} samples: class {} p = {:?}", p.samples_seen, p.class, p.probabilities);
//! }
//! # Ok(()) }
//! ```
mod buffer;
mod header;
mod model_part;
mod unit;

pub use unit::Unit;

use crate::error::EngineError;
use crate::model::Model;
use crate::window::{argmax, Prediction};
use alloc::vec;
use buffer::Buf;
use model_part::{causal_form, Core};
use qssm_kernels::ops::loss::cross_entropy_forward;
use qssm_kernels::signal::zscore::normalise_sample;

/// Options of a [`Stream`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamOptions {
    /// Samples between predictions: [`Stream::push`] returns a prediction whenever
    /// `samples_seen` is a multiple of `hop` (default 1 = after every sample). Must be a
    /// positive multiple of the model's step size (1 for 3b, 16 for 4a–4e, the chunk size for
    /// causal 1b (32) and mg). Larger hops save the classifier head (K·D multiply-adds plus a softmax) on the
    /// samples in between; the state is updated for every sample regardless.
    pub hop: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self { hop: 1 }
    }
}

/// A prediction of a stream, borrowed from the stream's scratch (valid until its next call).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamPrediction<'s> {
    /// raw model outputs (K = n_classes)
    pub logits: &'s [f32],
    /// softmax of the logits (K), sums to 1
    pub probabilities: &'s [f32],
    /// index of the largest logit (the first one on ties)
    pub class: usize,
    /// t: the number of samples the prediction covers (since the last reset)
    pub samples_seen: u64,
}

impl StreamPrediction<'_> {
    /// An owned copy, as [`Model::classify_window`] returns it (allocates).
    pub fn to_prediction(&self) -> Prediction {
        Prediction {
            logits: self.logits.to_vec(),
            probabilities: self.probabilities.to_vec(),
            class: self.class,
        }
    }
}

impl Model {
    /// Whether [`Self::stream`] works for this model: its card says `causal = true` and the
    /// engine has a recurrent mode for the architecture (3b, the causal 1b, mg, 2d/2e, 4a–4e,
    /// the HQC Mamba and its twin).
    pub fn can_stream(&self) -> bool {
        causal_form(self).is_ok()
    }

    /// The card's `input.unit` as a [`Unit`], if it is one of µV / mV / V.
    pub fn unit(&self) -> Option<Unit> {
        Unit::parse(self.input_unit())
    }

    /// Floats of a stream's state buffer: a 4-float header (layout tag, length, sample count)
    /// plus the model's recurrent state — for 3b, 1 + 4·C (up to 4 held-back samples) +
    /// 2·D + n_layers·(3·E + E·N) (EEG 3b: 4 + 257 + 256 + 2·(768 + 4096) = 10245 floats);
    /// for causal 1b, C·32 + K + n_layers·(3·E + E·N) + D + 1 (EEG: 4 + 2048 + 2 + 9728 + 129
    /// = 11911); for mg, C·cs + K + H (EEG, cs 8: 4 + 512 + 2 + 64 = 582); for 2d/2e,
    /// C·32 + K + D + 2; for 4a–4e, C·17 + K + C + D + 2. Errors: [`EngineError::NotCausal`].
    /// A card filter adds 2 floats per section and channel.
    pub fn stream_state_len(&self) -> Result<usize, EngineError> {
        Ok(header::LEN + causal_form(self)?.floats().0 + self.filter_state_len())
    }

    /// Floats of the input filter's state (2 per section and channel; 0 without a filter).
    fn filter_state_len(&self) -> usize {
        self.filter.state_len(self.n_channels())
    }

    /// Floats of a stream's scratch buffer: the converted input sample (C), logits and
    /// probabilities (2·K), and the model's per-step activations (for 3b, which runs 4 samples
    /// at a time, 9·D + 15·E + 4·(R + 2·N) with R = ⌈D/16⌉; EEG 3b: 64 + 4 + 5152 = 5220 floats;
    /// the quantum models add a circuit
    /// state vector, 4·2^n + 1 floats). Errors: [`EngineError::NotCausal`].
    pub fn stream_scratch_len(&self) -> Result<usize, EngineError> {
        let (_, scratch, arena) = causal_form(self)?.floats();
        Ok(self.n_channels() + 2 * self.n_classes() + scratch + arena)
    }

    /// A [`Stream`] over this model with buffers it allocates now (once). Errors:
    /// [`EngineError::NotCausal`] (card says `causal = false`, e.g. the reference 1b, or no
    /// recurrent mode, e.g. hg), [`EngineError::InvalidHop`] (0 or not a multiple of the
    /// model's step).
    pub fn stream(&self, options: StreamOptions) -> Result<Stream<'_>, EngineError> {
        Stream::new(self, options)
    }
}

/// Bytes of the state buffer a stream over `model` needs (4 × [`Model::stream_state_len`]).
/// Errors: [`EngineError::NotCausal`].
pub fn required_state_bytes(model: &Model) -> Result<usize, EngineError> {
    Ok(core::mem::size_of::<f32>() * model.stream_state_len()?)
}

/// Bytes of the scratch buffer a stream over `model` needs (4 ×
/// [`Model::stream_scratch_len`]). Errors: [`EngineError::NotCausal`].
pub fn required_scratch_bytes(model: &Model) -> Result<usize, EngineError> {
    Ok(core::mem::size_of::<f32>() * model.stream_scratch_len()?)
}

/// The error for a non-finite value at `channel` of the sample after `count` samples.
fn non_finite(channel: usize, count: u64) -> EngineError {
    EngineError::NonFiniteInput {
        channel,
        sample: usize::try_from(count).unwrap_or(usize::MAX),
    }
}

/// A causal model consuming one time sample per [`push`](Self::push), prefix-exact (see the
/// [module docs](self)). Holds the model by reference and two fixed f32 buffers (state,
/// scratch); never allocates after creation.
#[derive(Debug)]
pub struct Stream<'a> {
    model: &'a Model,
    step: Core<'a>,
    hop: usize,
    /// samples since the last reset (mirrors the state header)
    count: u64,
    /// the card's unit, if recognised
    unit: Option<Unit>,
    /// header (4) + model state + input filter state
    state: Buf<'a>,
    /// where the input filter's state starts in `state`
    filter_at: usize,
    /// input (C) + logits (K) + probabilities (K) + model scratch
    scratch: Buf<'a>,
}

impl<'a> Stream<'a> {
    /// A stream over `model` (state zero, 0 samples seen) with its own state and scratch,
    /// allocated here once. Errors: [`EngineError::NotCausal`], [`EngineError::InvalidHop`].
    pub fn new(model: &'a Model, options: StreamOptions) -> Result<Self, EngineError> {
        let form = causal_form(model)?;
        let (ns, nk, _) = form.floats();
        let state = vec![0.0; header::LEN + ns + model.filter_state_len()];
        let scratch = vec![0.0; model.n_channels() + 2 * model.n_classes() + nk];
        let core = Core::on_heap(form)?;
        Self::build(model, options, core, Buf::Owned(state), Buf::Owned(scratch))
    }

    /// A stream over `model` working in caller-provided buffers: `state` ≥
    /// [`Model::stream_state_len`] floats, `scratch` ≥ [`Model::stream_scratch_len`] floats
    /// (only those prefixes are used). Every f32 of the stream is in them: no allocation at all
    /// for the engine's streaming forms; a model that streams through its shared description
    /// (mg) plans its steps into the scratch, which allocates their bookkeeping (shapes, a few
    /// hundred bytes) here, once, and nothing after. The state is reset (zeroed) here; the
    /// buffers' previous contents are ignored (to continue a saved stream, [`Self::restore`]
    /// it). Errors: [`EngineError::NotCausal`], [`EngineError::InvalidHop`],
    /// [`EngineError::BufferTooSmall`].
    pub fn with_buffers(
        model: &'a Model,
        options: StreamOptions,
        state: &'a mut [f32],
        scratch: &'a mut [f32],
    ) -> Result<Self, EngineError> {
        let form = causal_form(model)?;
        let (ns, nk, arena) = form.floats();
        let ns = header::LEN + ns + model.filter_state_len();
        let nk = model.n_channels() + 2 * model.n_classes() + nk;
        let needed_scratch = nk + arena;
        for (what, needed, found) in [
            ("state", ns, state.len()),
            ("scratch", needed_scratch, scratch.len()),
        ] {
            if found < needed {
                return Err(EngineError::BufferTooSmall {
                    what,
                    needed,
                    found,
                });
            }
        }
        let (scratch, plans) = scratch.split_at_mut(nk);
        let core = Core::in_arena(form, &mut plans[..arena])?;
        let state = Buf::Borrowed(&mut state[..ns]);
        Self::build(model, options, core, state, Buf::Borrowed(scratch))
    }

    fn build(
        model: &'a Model,
        options: StreamOptions,
        core: Core<'a>,
        state: Buf<'a>,
        scratch: Buf<'a>,
    ) -> Result<Self, EngineError> {
        let chunk = core.chunk();
        if options.hop == 0 || !options.hop.is_multiple_of(chunk) {
            return Err(EngineError::InvalidHop {
                hop: options.hop,
                chunk,
            });
        }
        let filter_at = state.len() - model.filter_state_len();
        let mut s = Self {
            model,
            step: core,
            hop: options.hop,
            count: 0,
            unit: model.unit(),
            state,
            filter_at,
            scratch,
        };
        s.restart();
        Ok(s)
    }

    /// Consumes one time sample: `sample` holds C values, one per channel in card order
    /// ([`Model::channels`]), in the card's unit ([`Model::input_unit`]; millivolts for the
    /// reference models). Returns the prediction for the prefix seen so far when
    /// `samples_seen` (after this sample) is a multiple of the hop, `None` otherwise.
    ///
    /// Errors (the state is unchanged): [`EngineError::WrongChannelCount`] if
    /// `sample.len() ≠ C`; [`EngineError::NonFiniteInput`] at the first NaN/±∞. Error after
    /// the sample was consumed: [`EngineError::NonFiniteOutput`] if the logits overflow (input
    /// far outside the training range; the state may then hold non-finite values — reset or
    /// restore). Never allocates, never panics.
    pub fn push(&mut self, sample: &[f32]) -> Result<Option<StreamPrediction<'_>>, EngineError> {
        self.check_len(sample)?;
        if let Some(channel) = sample.iter().position(|v| !v.is_finite()) {
            return Err(non_finite(channel, self.count));
        }
        let (c, skip) = (sample.len(), self.input_len() - sample.len());
        let (input, rest) = self.scratch.split_at_mut(c);
        input.copy_from_slice(sample);
        let (model_state, filter_state) = self.state.split_at_mut(self.filter_at);
        self.model.filter.step(input, filter_state);
        if let Some((m, s)) = &self.model.normalisation {
            normalise_sample(input, m, s);
        }
        self.step.step(
            input,
            self.count,
            &mut model_state[header::LEN..],
            &mut rest[skip..],
        );
        self.advance()
    }

    /// [`Self::push`] for a sample in `unit`: values are scaled to the card's unit first (e.g.
    /// × 1e-3 for µV into a mV model; nothing is done when the units agree). Errors: as
    /// [`Self::push`] (a value that overflows when scaled counts as non-finite), plus
    /// [`EngineError::UnknownInputUnit`] if the card's unit is not µV/mV/V. The state is
    /// unchanged on every error but `NonFiniteOutput`. Never allocates.
    pub fn push_in(
        &mut self,
        sample: &[f32],
        unit: Unit,
    ) -> Result<Option<StreamPrediction<'_>>, EngineError> {
        let to = self.unit.ok_or(EngineError::UnknownInputUnit)?;
        let factor = unit.factor_to(to);
        if factor == 1.0 {
            return self.push(sample);
        }
        self.check_len(sample)?;
        let (c, skip, count) = (sample.len(), self.input_len() - sample.len(), self.count);
        let (input, rest) = self.scratch.split_at_mut(c);
        for (channel, (o, &v)) in input.iter_mut().zip(sample).enumerate() {
            *o = v * factor;
            if !o.is_finite() {
                return Err(non_finite(channel, count));
            }
        }
        let (model_state, filter_state) = self.state.split_at_mut(self.filter_at);
        self.model.filter.step(input, filter_state);
        if let Some((m, s)) = &self.model.normalisation {
            normalise_sample(input, m, s);
        }
        self.step.step(
            input,
            self.count,
            &mut model_state[header::LEN..],
            &mut rest[skip..],
        );
        self.advance()
    }

    /// The input the model saw at the last push: the sample in the card's unit, after the
    /// card's input filter and normalisation (C values; zeros before the first push). Never
    /// allocates.
    pub fn last_input(&self) -> &[f32] {
        &self.scratch[..self.model.n_channels()]
    }

    /// The prediction for the samples seen so far, computed now regardless of the hop; `None`
    /// before the first sample. For a chunked model between chunk boundaries, the samples since
    /// the last boundary count as a short last chunk, closed tentatively (the state is
    /// unchanged): the window path's prediction for a window of `samples_seen` samples.
    /// Errors: [`EngineError::NonFiniteOutput`]. Never allocates.
    pub fn prediction(&mut self) -> Result<Option<StreamPrediction<'_>>, EngineError> {
        if self.count == 0 {
            return Ok(None);
        }
        self.predict(false).map(Some)
    }

    /// Starts a new trial: the model forgets every sample (its state returns to zero, 0
    /// samples seen); the input filter, which conditions the continuous signal, keeps its state
    /// (see the [module docs](self)). Without a card filter this is the state after creation.
    /// Never allocates.
    pub fn reset(&mut self) {
        self.count = 0;
        let len = self.state.len();
        let (h, rest) = self.state.split_at_mut(header::LEN);
        header::write(h, len, 0);
        rest[..self.filter_at - header::LEN].fill(0.0);
        self.step.state_replaced();
    }

    /// [`Self::reset`] and the input filter's state zeroed too: the stream as after creation
    /// (for a new recording). Never allocates.
    pub fn restart(&mut self) {
        self.reset();
        self.state[self.filter_at..].fill(0.0);
    }

    /// t: samples consumed since creation or the last [`Self::reset`] (or as restored).
    pub fn samples_seen(&self) -> u64 {
        self.count
    }

    /// Samples between predictions.
    pub fn hop(&self) -> usize {
        self.hop
    }

    /// The model streamed.
    pub fn model(&self) -> &'a Model {
        self.model
    }

    /// The state buffer (floats: [`Model::stream_state_len`]), brought up to date first (a
    /// model streamed through its description keeps its recurrent state in its plan between
    /// pushes and writes it here only when read); reading it is a snapshot without a copy.
    /// Never allocates.
    pub fn state(&mut self) -> &[f32] {
        self.step.sync(&mut self.state[header::LEN..self.filter_at]);
        &self.state
    }

    /// Floats of the state ([`Model::stream_state_len`]).
    pub fn state_len(&self) -> usize {
        self.state.len()
    }

    /// Copies the state into `out` (≥ [`Model::stream_state_len`] floats; the first that many
    /// are written) and returns how many floats were written. Errors:
    /// [`EngineError::BufferTooSmall`] (`out` untouched). Never allocates.
    pub fn snapshot(&self, out: &mut [f32]) -> Result<usize, EngineError> {
        let n = self.state.len();
        if out.len() < n {
            return Err(EngineError::BufferTooSmall {
                what: "snapshot",
                needed: n,
                found: out.len(),
            });
        }
        out[..n].copy_from_slice(&self.state);
        self.step.write_live(&mut out[header::LEN..self.filter_at]);
        Ok(n)
    }

    /// Replaces the state by a snapshot of a stream over the same model (its first
    /// [`Model::stream_state_len`] floats): the stream continues exactly as the one
    /// snapshotted would (the hop phase follows `samples_seen`). Errors (state unchanged):
    /// [`EngineError::InvalidSnapshot`] if `from` is shorter, its header does not match
    /// (another model or not a state), or it holds non-finite values. Never allocates.
    pub fn restore(&mut self, from: &[f32]) -> Result<(), EngineError> {
        let n = self.state.len();
        let invalid = |what| EngineError::InvalidSnapshot { what };
        if from.len() < n {
            return Err(invalid("shorter than this model's stream state"));
        }
        let from = &from[..n];
        let count = header::read(from, n).map_err(invalid)?;
        if from.iter().any(|v| !v.is_finite()) {
            return Err(invalid("non-finite values"));
        }
        self.step
            .check_state(&from[header::LEN..self.filter_at])
            .map_err(invalid)?;
        self.state.copy_from_slice(from);
        self.step.state_replaced();
        self.count = count;
        Ok(())
    }

    /// C + 2K: where the model scratch starts.
    fn input_len(&self) -> usize {
        self.model.n_channels() + 2 * self.model.n_classes()
    }

    fn check_len(&self, sample: &[f32]) -> Result<(), EngineError> {
        let expected = self.model.n_channels();
        if sample.len() == expected {
            Ok(())
        } else {
            Err(EngineError::WrongChannelCount {
                expected,
                found: sample.len(),
            })
        }
    }

    /// After a step: count it, and predict at hop boundaries.
    fn advance(&mut self) -> Result<Option<StreamPrediction<'_>>, EngineError> {
        self.count += 1;
        header::write_count(&mut self.state[..header::LEN], self.count);
        let lookahead = self.step.lookahead() as u64;
        if self.count > lookahead && (self.count - lookahead).is_multiple_of(self.hop as u64) {
            self.predict(true).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Logits, softmax and argmax of the current prefix (count ≥ 1); `boundary`: at a hop
    /// boundary ([`crate::arch::step::CausalStep::boundary_logits`]), else the prefix as a window.
    fn predict(&mut self, boundary: bool) -> Result<StreamPrediction<'_>, EngineError> {
        let (c, k) = (self.model.n_channels(), self.model.n_classes());
        let (_, rest) = self.scratch.split_at_mut(c);
        let (logits, rest) = rest.split_at_mut(k);
        let (probabilities, model_scratch) = rest.split_at_mut(k);
        self.step.flush(
            self.count,
            &mut self.state[header::LEN..self.filter_at],
            model_scratch,
        );
        let state = &mut self.state[header::LEN..self.filter_at];
        self.step
            .logits(boundary, self.count, state, model_scratch, logits);
        if let Some(index) = logits.iter().position(|v| !v.is_finite()) {
            return Err(EngineError::NonFiniteOutput { index });
        }
        // softmax (max-shifted); the loss value for class 0 is not needed
        let _ = cross_entropy_forward(probabilities, logits, 0);
        Ok(StreamPrediction {
            class: argmax(logits),
            logits,
            probabilities,
            samples_seen: self.count,
        })
    }
}
