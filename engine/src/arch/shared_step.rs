//! A causal model streamed by its one description's streaming form
//! ([`qssm_models::nn::StepNet`], the trainer's `step`, written next to its window forward):
//! the engine feeds it one sample at a time and keeps its state flat, so a stream's snapshot
//! is still one plain f32 buffer.
//!
//! Flat model state (the stream's state after its header), for chunk size cs, look-ahead a
//! ([`StepNet::lookahead`]: 4a–4e read one sample past their chunk), C channels, K classes:
//! * for a net of one sample per step (3b, the HQC Mambas), the count of samples held back
//!   (below), as a float;
//! * the samples not yet stepped, channel-major (C, cs + a): the current chunk and its
//!   look-ahead, column r for the r-th sample after the last step's chunk;
//! * the logits after the last completed chunk (K);
//! * the net's recurrent state, its tensors back to back in
//!   [`StepNet::for_each_state`] order (mg: h (H)).
//!
//! A push writes its sample into the chunk; the push that completes the chunk and its
//! look-ahead runs one step of cs samples, keeps its logits and moves the look-ahead samples
//! to the front (they begin the next chunk). Between steps the net state lives in its plan
//! (it is *live*), and its flat copy is written only when it is read: a snapshot
//! ([`SharedStep::write_live`] into the copy), the stream's state read in place
//! ([`SharedStep::sync`]) and before a prefix step; so a step copies no state (a held-back
//! net predicting every sample copied its whole state per sample: 40 KB for 3b). The plan is loaded from the flat copy after the stream's state was replaced
//! (reset, restore) and after a prefix step. Logits at a hop boundary are those kept;
//! anywhere else they run the same plan over the samples not yet stepped
//! ([`StepNet::step_prefix`]: the window path's short last chunk, the window's zero edge
//! after it) on the net state; the stream's state is unchanged. A net with chunks of more
//! than one sample
//! but without prefix steps does not stream this way ([`EngineError::NotCausal`]).
//!
//! A net of one sample per step is run [`HOLD`] samples at a time, so that its projections
//! read every weight matrix once per [`HOLD`] samples (the chunk above is then those samples;
//! on a Cortex-M7 this halved 3b's instructions per sample): a push stores its sample, and the
//! push that completes the block steps them together. A prediction first runs the samples
//! held back one by one ([`SharedStep::flush`]), so the state is then the state after every
//! sample. A token gets the same floats in a step of [`HOLD`] as in a step of one.
//!
//! Memory: the plans (the net state and the chunk's step) are made once when the stream is
//! created, their f32s on the heap ([`Stream::new`]) or in an arena carved from the caller's
//! scratch ([`Stream::with_buffers`]; its size is [`stream_floats`]'s `arena`). `push` and
//! predictions allocate nothing once the CPU backend's scratch is warm (per thread with
//! `std`; one buffer per kind without it, grown at the stream's creation).
//!
//! [`Stream::new`]: crate::Stream::new
//! [`Stream::with_buffers`]: crate::Stream::with_buffers
use super::shared::SharedModel;
use crate::error::EngineError;
use alloc::boxed::Box;
use core::cell::RefCell;
use qssm_kernels::backend::cpu::{Arena, CpuBuf, CpuIn, HeapSteps, Memory};
use qssm_kernels::backend::Infer;
use qssm_models::nn::StepNet;
use qssm_models::zoo::StepNetVisitor;

/// A stream's model part over a shared description (see the [module docs](self)): one sample
/// per [`Self::step`], the flat state lent by the stream.
pub(crate) trait SharedStep: Send {
    /// Samples per step of the net (mg: its chunk size).
    fn chunk(&self) -> usize;
    /// Samples a step reads past its chunk ([`StepNet::lookahead`]).
    fn lookahead(&self) -> usize;
    /// Runs the samples held back (a net of one sample per step), so that `state` is the
    /// state after all `t` samples; before a prediction.
    fn flush(&mut self, t: u64, state: &mut [f32]);
    /// Whether `state` (restored: finite, of [`Self::state_len`]) is one to continue from;
    /// `Err` names what is wrong.
    fn check_state(&self, state: &[f32]) -> Result<(), &'static str>;
    /// Floats of the flat model state.
    fn state_len(&self) -> usize;
    /// Consumes sample `t` (C finite values in the model's unit), advancing `state`.
    fn step(&mut self, x: &[f32], t: u64, state: &mut [f32]);
    /// The stream's flat state was replaced (reset, restore): the next step reads it.
    fn state_replaced(&mut self);
    /// Writes the live net state into the flat `state` (where it lags it), so that the flat
    /// state is the stream's: before it is read in place.
    fn sync(&mut self, state: &mut [f32]);
    /// Writes the live net state into `out`, a copy of the flat state (where that lags it):
    /// a snapshot, the stream unchanged.
    fn write_live(&self, out: &mut [f32]);
    /// Logits (K) after `t ≥ 1` samples from `state` (the stream's state unchanged, its flat
    /// copy possibly synced): at a hop boundary (`boundary`) the last step's, else the window
    /// path's on the t samples.
    fn logits(&mut self, boundary: bool, t: u64, state: &mut [f32], logits: &mut [f32]);
}

impl core::fmt::Debug for dyn SharedStep + '_ {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SharedStep(chunk {})", self.chunk())
    }
}

/// The models that stream through their shared description (the other causal models still
/// through their engine streaming forms, [`super::step::CausalStep`]).
pub(crate) const DESCRIPTION_STREAMS: [&str; 11] = [
    "mg",
    "1b",
    "2d",
    "2e",
    "4a",
    "4b",
    "4c",
    "4d",
    "4e",
    "hqc-mamba",
    "hqc-mamba-classical",
];

/// Whether model `id` streams through its shared description in this build (the listed ones
/// with feature `description-streams`; 3b with feature `stream-3b-description`).
pub(crate) fn streams_shared(id: &str) -> bool {
    (cfg!(feature = "description-streams") && DESCRIPTION_STREAMS.contains(&id))
        || (cfg!(feature = "stream-3b-description") && id == "3b")
}

/// Hands `v` the streaming form of a model that streams through its description
/// ([`streams_shared`]), built by the zoo's constructor. Only these are linked (not
/// `visit_step_net`'s whole list, and each feature's own), so a firmware links no other
/// model's step.
#[cfg(any(feature = "description-streams", feature = "stream-3b-description"))]
fn visit_shared<V: StepNetVisitor>(model: &SharedModel, v: V) -> Option<V::Output> {
    match model.id() {
        #[cfg(feature = "stream-3b-description")]
        "3b" => Some(v.visit(qssm_models::zoo::TrueClassicalMamba::new(
            model.config().clone(),
        ))),
        #[cfg(feature = "description-streams")]
        _ => visit_listed(model, v),
        #[cfg(not(feature = "description-streams"))]
        _ => None,
    }
}

/// [`visit_shared`] for the models of [`DESCRIPTION_STREAMS`].
#[cfg(feature = "description-streams")]
fn visit_listed<V: StepNetVisitor>(model: &SharedModel, v: V) -> Option<V::Output> {
    use qssm_models::zoo::{
        E2eVariant, QuantumE2e, QuantumE2eSuperposition, QuantumHydraSuperposition,
        QuantumMambaGated, QuantumMambaSsm,
    };
    let cfg = model.config().clone();
    match model.id() {
        "mg" => Some(v.visit(QuantumMambaGated::new(cfg))),
        "1b" if cfg.causal => Some(v.visit(QuantumMambaSsm::new(cfg))),
        "2d" => Some(v.visit(QuantumHydraSuperposition::mamba_hydra(cfg))),
        "2e" => Some(v.visit(QuantumHydraSuperposition::hydra_hydra(cfg))),
        "4a" => Some(v.visit(QuantumE2e::new(cfg, E2eVariant::Transformer))),
        "4b" => Some(v.visit(QuantumE2e::new(cfg, E2eVariant::Mamba))),
        "4c" => Some(v.visit(QuantumE2e::new(cfg, E2eVariant::Hydra))),
        "4d" => Some(v.visit(QuantumE2eSuperposition::new(cfg, false))),
        "4e" => Some(v.visit(QuantumE2eSuperposition::new(cfg, true))),
        "hqc-mamba" | "hqc-mamba-classical" => model.hqc_net().map(|net| v.visit(net)),
        _ => None,
    }
}

/// Without the features: no model streams through its description (none is linked).
#[cfg(not(any(feature = "description-streams", feature = "stream-3b-description")))]
fn visit_shared<V: StepNetVisitor>(_model: &SharedModel, _v: V) -> Option<V::Output> {
    None
}

/// Where a stream's plans live: on the heap ([`HeapSteps`]) or in an arena of the caller's
/// scratch (one type, so each net's step is compiled once).
enum StepMemory<'a> {
    Heap(HeapSteps),
    Lent(Arena<'a>),
}

impl StepMemory<'_> {
    /// Floats claimed from the arena (0 on the heap).
    fn lent(&self) -> usize {
        match self {
            Self::Heap(_) => 0,
            Self::Lent(a) => a.used(),
        }
    }
}

impl<'a> Memory<'a> for StepMemory<'a> {
    fn alloc(&self, shape: &[usize]) -> CpuBuf<'a> {
        match self {
            Self::Heap(h) => h.alloc(shape),
            Self::Lent(a) => a.alloc(shape),
        }
    }
    fn matvec_rows(&self) -> usize {
        match self {
            Self::Heap(h) => h.matvec_rows(),
            Self::Lent(a) => a.matvec_rows(),
        }
    }
}

/// Floats a stream of `model` needs: (flat model state, arena for the plans of a stream on
/// lent buffers). Errors: [`EngineError::NotCausal`] if the description has no streaming form
/// that steps prefixes of its chunk.
pub(crate) fn stream_floats(model: &SharedModel) -> Result<(usize, usize), EngineError> {
    visit_shared(model, Measure { model }).ok_or_else(|| not_causal(model))?
}

/// A stream core over `model` with its plans on the heap.
pub(crate) fn on_heap(model: &SharedModel) -> Result<Box<dyn SharedStep + '_>, EngineError> {
    let mem = StepMemory::Heap(HeapSteps);
    visit_shared(model, Plan { model, mem }).ok_or_else(|| not_causal(model))?
}

/// A stream core over `model` with its plans in `arena` (at least [`stream_floats`]'s `arena`
/// floats: a smaller one takes the rest from the heap).
pub(crate) fn in_arena<'a>(
    model: &'a SharedModel,
    arena: &'a mut [f32],
) -> Result<Box<dyn SharedStep + 'a>, EngineError> {
    let mem = StepMemory::Lent(Arena::new(arena));
    visit_shared(model, Plan { model, mem }).ok_or_else(|| not_causal(model))?
}

fn not_causal(model: &SharedModel) -> EngineError {
    EngineError::NotCausal {
        id: model.id().into(),
        reason: "its description has no streaming form",
    }
}

/// Samples a net of one sample per step is run together (see the [module docs](self)).
pub(crate) const HOLD: usize = 4;

/// Refuses a net of chunks of more than one sample whose step cannot run a prefix of its
/// chunk (no prediction between chunk boundaries).
fn check_prefix<N: StepNet>(net: &N) -> Result<(), EngineError> {
    if net.step_len() <= 1 || net.steps_prefix() {
        Ok(())
    } else {
        Err(EngineError::NotCausal {
            id: net.id().into(),
            reason: "its streaming step cannot run a partial chunk",
        })
    }
}

/// The backend a core runs on: the CPU's ops over memory `M`, parameters read in place from
/// the model's store.
type Be<'a, M> = CpuIn<'a, M, SharedModel>;

/// The core of a [`SharedStep`] for net `N`.
struct Core<'m, 'a, N: StepNet, M: Memory<'a>> {
    net: N,
    model: &'m SharedModel,
    be: Be<'a, M>,
    /// C, cs (samples per full step: the net's chunk, or [`HOLD`]), K, look-ahead
    c: usize,
    cs: usize,
    k: usize,
    la: usize,
    /// the net state (a cell: a snapshot, `&self`, reads it)
    st: RefCell<N::State<Be<'a, M>>>,
    full: N::Step<Be<'a, M>>,
    /// a step of one sample, for a net that holds samples back (the flush)
    one: Option<N::Step<Be<'a, M>>>,
    /// floats of the net state
    net_state: usize,
    /// whether `st` is the stream's net state, which the flat copy may lag (else the flat
    /// copy is, and the next step loads it)
    live: bool,
}

impl<'m, 'a, N: StepNet, M: Memory<'a>> Core<'m, 'a, N, M> {
    /// Plans the state and the steps of `net` (a stream of one) on `mem`.
    fn plan(net: N, model: &'m SharedModel, mem: M) -> Self {
        let be = CpuIn::new(mem);
        let cfg = net.config();
        let (c, k, la) = (cfg.n_channels, cfg.n_classes, net.lookahead());
        let holds = net.step_len() <= 1 && la == 0;
        let cs = if holds { HOLD } else { net.step_len() };
        let mut st = net.plan_state(&be, 1);
        let mut full = net.plan_step(&be, 1, cs);
        let mut one = holds.then(|| net.plan_step(&be, 1, 1));
        // the weights are the model's for the stream's life
        net.prepare(&be, model, &mut full);
        if let Some(one) = &mut one {
            net.prepare(&be, model, one);
        }
        let mut net_state = 0;
        N::for_each_state(&mut st, &mut |b| net_state += be.numel(b));
        Self {
            net,
            model,
            be,
            c,
            cs,
            k,
            la,
            st: RefCell::new(st),
            full,
            one,
            net_state,
            live: false,
        }
    }

    /// Runs every planned step once (on zeros), so that the backend's per-thread scratch has
    /// grown to what they need before the first push.
    fn warm_up(&mut self) {
        let (be, p, st) = (&self.be, self.model, self.st.get_mut());
        self.net.step(be, p, st, &mut self.full);
        self.net.step_prefix(be, p, st, &mut self.full, 1);
        if let Some(one) = &mut self.one {
            self.net.step(be, p, st, one);
        }
        self.live = false;
    }
}

/// A net state `st` ← its flat copy.
fn load<'a, N: StepNet, M: Memory<'a>>(be: &Be<'a, M>, st: &mut N::State<Be<'a, M>>, flat: &[f32]) {
    let mut at = 0;
    N::for_each_state(st, &mut |b| {
        let n = be.numel(b);
        be.upload(b, &flat[at..at + n]);
        at += n;
    });
}

/// Plans a core in a stream's memory (heap or lent arena).
struct Plan<'m, 'a> {
    model: &'m SharedModel,
    mem: StepMemory<'a>,
}

impl<'m, 'a: 'm> StepNetVisitor for Plan<'m, 'a> {
    type Output = Result<Box<dyn SharedStep + 'm>, EngineError>;
    fn visit<N: StepNet + 'static>(self, net: N) -> Self::Output {
        check_prefix(&net)?;
        let mut core = Core::plan(net, self.model, self.mem);
        core.warm_up();
        Ok(Box::new(core))
    }
}

/// Plans a core in a sizing arena: (state, arena) floats.
struct Measure<'a> {
    model: &'a SharedModel,
}

impl StepNetVisitor for Measure<'_> {
    type Output = Result<(usize, usize), EngineError>;
    fn visit<N: StepNet + 'static>(self, net: N) -> Self::Output {
        check_prefix(&net)?;
        let core = Core::plan(net, self.model, StepMemory::Lent(Arena::measure()));
        Ok((core.state_len(), core.be.memory().lent()))
    }
}

impl<'a, N: StepNet, M: Memory<'a> + Send> Core<'_, 'a, N, M> {
    /// The net state ← its flat copy, unless the net state is live.
    fn make_live(&mut self, flat: &[f32]) {
        if !self.live {
            load::<N, M>(&self.be, self.st.get_mut(), flat);
            self.live = true;
        }
    }

    /// Where the net state starts in the flat model state.
    fn net_at(&self) -> usize {
        self.head() + self.c * (self.cs + self.la) + self.k
    }

    /// Steps run after `t` samples (a step needs its chunk and look-ahead).
    fn steps_after(&self, t: u64) -> u64 {
        t.saturating_sub(self.la as u64) / self.cs as u64
    }

    /// Floats before the samples (the held-back count of a net that holds samples back).
    fn head(&self) -> usize {
        usize::from(self.one.is_some())
    }

    /// Samples not yet stepped after `t`: the held-back count, or the samples since the last
    /// chunk's (which every step consumes whole).
    fn pending(&self, t: u64, state: &[f32]) -> usize {
        if self.one.is_some() {
            state[0] as usize
        } else {
            (t - self.steps_after(t) * self.cs as u64) as usize
        }
    }

    /// The flat copy ← the net state.
    fn save(&self, flat: &mut [f32]) {
        let (be, mut at) = (&self.be, 0);
        N::for_each_state(&mut self.st.borrow_mut(), &mut |b| {
            let n = be.numel(b);
            be.download(b, &mut flat[at..at + n]);
            at += n;
        });
    }
}

impl<'a, N: StepNet, M: Memory<'a> + Send> SharedStep for Core<'_, 'a, N, M>
where
    N::State<Be<'a, M>>: Send,
    N::Step<Be<'a, M>>: Send,
{
    fn chunk(&self) -> usize {
        if self.one.is_some() {
            1
        } else {
            self.cs
        }
    }

    fn lookahead(&self) -> usize {
        self.la
    }

    fn state_replaced(&mut self) {
        self.live = false;
    }

    fn sync(&mut self, state: &mut [f32]) {
        if self.live {
            let at = self.net_at();
            self.save(&mut state[at..]);
        }
    }

    fn write_live(&self, out: &mut [f32]) {
        if self.live {
            self.save(&mut out[self.net_at()..]);
        }
    }

    fn state_len(&self) -> usize {
        self.head() + self.c * (self.cs + self.la) + self.k + self.net_state
    }

    fn check_state(&self, state: &[f32]) -> Result<(), &'static str> {
        let held = state[..self.head()].first().copied().unwrap_or(0.0);
        if (0.0..self.cs as f32).contains(&held) && held == (held as usize) as f32 {
            Ok(())
        } else {
            Err("the count of held-back samples is not an integer below the block")
        }
    }

    fn step(&mut self, x: &[f32], t: u64, state: &mut [f32]) {
        let (c, cs, k, la) = (self.c, self.cs, self.k, self.la);
        let w = cs + la;
        // sample t is the r-th after the last step's chunk
        let r = self.pending(t, state);
        let (head, state) = state.split_at_mut(self.head());
        for (ch, &v) in x[..c].iter().enumerate() {
            state[ch * w + r] = v;
        }
        if let Some(held) = head.first_mut() {
            *held = ((r + 1) % w) as f32;
        }
        if r + 1 < w {
            return;
        }
        let (chunk, rest) = state.split_at_mut(c * w);
        let (logits, flat) = rest.split_at_mut(k);
        self.be.upload(&mut N::step_io(&mut self.full).x, chunk);
        self.make_live(flat);
        self.net
            .step(&self.be, self.model, self.st.get_mut(), &mut self.full);
        self.be.download(&N::step_io(&mut self.full).out, logits);
        // the look-ahead samples begin the next chunk
        if self.la > 0 {
            for row in chunk.chunks_exact_mut(w) {
                row.copy_within(cs.., 0);
            }
        }
    }

    fn flush(&mut self, t: u64, state: &mut [f32]) {
        let r = self.pending(t, state);
        let Some(one) = &mut self.one else {
            return;
        };
        if r == 0 {
            return;
        }
        let (c, w, k) = (self.c, self.cs, self.k);
        let (held, state) = state.split_at_mut(1);
        let (chunk, rest) = state.split_at_mut(c * w);
        let (logits, flat) = rest.split_at_mut(k);
        if !self.live {
            load::<N, M>(&self.be, self.st.get_mut(), flat);
            self.live = true;
        }
        for j in 0..r {
            let x = N::step_io(one).x.as_mut_slice();
            for (ch, v) in x[..c].iter_mut().enumerate() {
                *v = chunk[ch * w + j];
            }
            self.net.step(&self.be, self.model, self.st.get_mut(), one);
        }
        self.be.download(&N::step_io(one).out, logits);
        held[0] = 0.0;
    }

    fn logits(&mut self, boundary: bool, t: u64, state: &mut [f32], logits: &mut [f32]) {
        let (c, cs, k) = (self.c, self.cs, self.k);
        // samples not yet stepped
        let r = self.pending(t, state);
        let state = &mut state[self.head()..];
        let (chunk, rest) = state.split_at_mut(c * (cs + self.la));
        let (last, flat) = rest.split_at_mut(k);
        if r == 0 || boundary {
            logits.copy_from_slice(last);
            return;
        }
        debug_assert!(self.one.is_none(), "a prediction without its flush");
        // the full chunk's plan over its first r samples (the others are ignored)
        self.be.upload(&mut N::step_io(&mut self.full).x, chunk);
        if self.live {
            // the prefix step advances the net state: its flat copy keeps the stream's
            self.save(flat);
        } else {
            load::<N, M>(&self.be, self.st.get_mut(), flat);
        }
        let (be, p) = (&self.be, self.model);
        self.net
            .step_prefix(be, p, self.st.get_mut(), &mut self.full, r);
        self.live = false;
        self.be.download(&N::step_io(&mut self.full).out, logits);
    }
}
