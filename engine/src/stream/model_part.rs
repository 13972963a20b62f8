//! The model part of a [`super::Stream`]: an engine streaming form ([`CausalStep`]: 3b, unless
//! feature `stream-3b-description`) or a core over the model's description ([`SharedStep`]:
//! mg, the causal 1b, 2d, 2e, 4a–4e, the HQC Mambas), and which one a model has.
use crate::arch::shared::SharedModel;
use crate::arch::shared_step::{self, SharedStep};
use crate::arch::step::CausalStep;
use crate::error::EngineError;
use crate::model::Model;
use alloc::boxed::Box;

/// The model part of a stream: an engine streaming form, or the description's own streaming
/// form ([`SharedStep`], planned per stream).
#[derive(Clone, Copy)]
pub(super) enum Form<'a> {
    Engine(&'a dyn CausalStep),
    /// the description and its (state, arena) floats
    Shared(&'a SharedModel, (usize, usize)),
}

/// The recurrent mode of `model`, or why it has none.
pub(super) fn causal_form(model: &Model) -> Result<Form<'_>, EngineError> {
    let not_causal = |reason| EngineError::NotCausal {
        id: model.card().model_id.clone(),
        reason,
    };
    if !model.card().causal {
        return Err(not_causal("its model card says causal = false"));
    }
    if let Some((desc, floats)) = model.form.stream_shared() {
        return Ok(Form::Shared(desc, floats));
    }
    if shared_step::DESCRIPTION_STREAMS.contains(&model.card().model_id.as_str()) {
        return Err(not_causal(
            "this engine build leaves out its streaming step (feature `description-streams`)",
        ));
    }
    model
        .form
        .stream_arch()
        .and_then(|a| a.causal_step())
        .map(Form::Engine)
        .ok_or_else(|| {
            not_causal("the engine has no recurrent (streaming) mode for this architecture yet")
        })
}

impl Form<'_> {
    /// Floats of the model state, of the model scratch, and of the arena a stream on lent
    /// buffers carves its plans from (0 for an engine form).
    pub(super) fn floats(self) -> (usize, usize, usize) {
        match self {
            Self::Engine(s) => (s.state_len(), s.scratch_len(), 0),
            Self::Shared(_, (state, arena)) => (state, 0, arena),
        }
    }
}

/// The model part of a running stream.
pub(super) enum Core<'a> {
    Engine(&'a dyn CausalStep),
    Shared(Box<dyn SharedStep + 'a>),
}

impl core::fmt::Debug for Core<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Engine(_) => f.write_str("CausalStep"),
            Self::Shared(s) => write!(f, "{s:?}"),
        }
    }
}

impl<'a> Core<'a> {
    /// The model part of a stream over `form`, a description's plans on the heap.
    pub(super) fn on_heap(form: Form<'a>) -> Result<Self, EngineError> {
        Ok(match form {
            Form::Engine(s) => Self::Engine(s),
            Form::Shared(desc, _) => Self::Shared(shared_step::on_heap(desc)?),
        })
    }

    /// The model part of a stream over `form`, a description's plans in `arena` (its
    /// [`Form::floats`] arena floats).
    pub(super) fn in_arena(form: Form<'a>, arena: &'a mut [f32]) -> Result<Self, EngineError> {
        Ok(match form {
            Form::Engine(s) => Self::Engine(s),
            Form::Shared(desc, _) => Self::Shared(shared_step::in_arena(desc, arena)?),
        })
    }
}

impl Core<'_> {
    pub(super) fn chunk(&self) -> usize {
        match self {
            Self::Engine(s) => s.chunk(),
            Self::Shared(s) => s.chunk(),
        }
    }

    pub(super) fn lookahead(&self) -> usize {
        match self {
            Self::Engine(s) => s.lookahead(),
            Self::Shared(s) => s.lookahead(),
        }
    }

    pub(super) fn step(&mut self, x: &[f32], t: u64, state: &mut [f32], scratch: &mut [f32]) {
        match self {
            Self::Engine(s) => s.step(x, t, state, scratch),
            Self::Shared(s) => s.step(x, t, state),
        }
    }

    /// Runs the samples held back, before a prediction.
    pub(super) fn flush(&mut self, t: u64, state: &mut [f32], scratch: &mut [f32]) {
        match self {
            Self::Engine(s) => s.flush(t, state, scratch),
            Self::Shared(s) => s.flush(t, state),
        }
    }

    /// The stream's state was replaced (reset, restore).
    pub(super) fn state_replaced(&mut self) {
        if let Self::Shared(s) = self {
            s.state_replaced();
        }
    }

    /// The flat model state ← the live one, where it lags (a shared core's net state):
    /// before the state is read in place.
    pub(super) fn sync(&mut self, state: &mut [f32]) {
        if let Self::Shared(s) = self {
            s.sync(state);
        }
    }

    /// `out`, a copy of the flat model state, ← the live state where the flat one lags it.
    pub(super) fn write_live(&self, out: &mut [f32]) {
        if let Self::Shared(s) = self {
            s.write_live(out);
        }
    }

    pub(super) fn check_state(&self, state: &[f32]) -> Result<(), &'static str> {
        match self {
            Self::Engine(s) => s.check_state(state),
            Self::Shared(s) => s.check_state(state),
        }
    }

    /// The logits at t (`boundary`: at a hop boundary).
    pub(super) fn logits(
        &mut self,
        boundary: bool,
        t: u64,
        state: &mut [f32],
        scratch: &mut [f32],
        out: &mut [f32],
    ) {
        match self {
            Self::Engine(s) if boundary => s.boundary_logits(t, state, scratch, out),
            Self::Engine(s) => s.logits(t, state, scratch, out),
            Self::Shared(s) => s.logits(boundary, t, state, out),
        }
    }
}
