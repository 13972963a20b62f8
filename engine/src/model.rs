//! The loaded model ([`Model`]): the model card plus the validated weights of one supported
//! model. Loading parses the file ([`ModelFile::parse`], zero-copy), checks the card for
//! self-consistency, builds the model's shared description (`qssm_models`: every zoo model and
//! the HQC Mambas) from the card and takes every tensor of its layout by its reference
//! `state_dict` name with the exact shape, once, in the file's dtype (f32 or f16), and rejects
//! any tensor the model does not have. A model that streams also gets its streaming form, whose weight matrices are
//! views of the same parameters. The Quantum-Train CNNs load into their engine form directly.
//! All allocation happens here; [`Model::classify_window`](crate::Model::classify_window) only
//! allocates its per-window activations.
use crate::arch::shared::{has_description, SharedModel};
use crate::arch::shared_step::{stream_floats, streams_shared};
use crate::arch::Arch;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use qssm_formats::model_file::{conditioning, ModelCard, ModelFile, ModelFileError};
use qssm_formats::registry::{self, ModelInfo};
use qssm_kernels::signal::zscore::normalise_channels;
use qssm_kernels::signal::Sos;

/// Every model this engine runs: the registry's inference models
/// ([`qssm_formats::registry`]; all but the two Quantum-Train variants, whose files hold a
/// weight generator: `trainer export --format generated-cnn` turns them into `qt-cnn` and
/// `qt-liu-cnn` files).
pub fn supported_models() -> impl Iterator<Item = &'static ModelInfo> + Clone {
    registry::MODELS.iter().filter(|m| m.inference)
}

/// Upper bound on every hyperparameter dimension (guards the shape arithmetic against absurd
/// cards; the EEG models use ≤ 512) and the window layout the engine takes: the card check's.
pub use qssm_formats::model_file::{CHANNEL_MAJOR, MAX_DIM};

/// A validated, ready-to-run model: card + weights (Linear matrices f32 or f16, the rest f32).
///
/// Shapes legend: C channels, T time samples, D `d_model`, E `d_inner` = 2·D, N `d_state`,
/// Q qubits. Input windows are (C, T) channel-major in the card's unit (`input.unit`,
/// millivolts for the reference models).
#[derive(Clone, Debug)]
pub struct Model {
    card: ModelCard,
    /// registry id, normalised to lower case
    id: &'static str,
    /// how the engine runs it
    pub(crate) form: Form,
    /// the card's causal input filter (identity when it has none)
    pub(crate) filter: Sos,
    /// the card's per-channel (mean, std), applied after the filter
    pub(crate) normalisation: Option<(Vec<f32>, Vec<f32>)>,
    /// bytes of weight storage
    weight_bytes: usize,
}

/// How the engine runs a loaded model.
#[derive(Clone, Debug)]
pub(crate) enum Form {
    /// Through its shared description (every zoo model, the HQC Mambas): the window path;
    /// `stream` is its engine streaming form (3b, the HQC Mambas),
    /// whose weight matrices are views of the description's parameters, `None` for a
    /// window-only model.
    Shared {
        /// the description and its parameters
        desc: Box<SharedModel>,
        /// the streaming form, if the model has one
        stream: Option<Arch>,
        /// for a model streamed through the description's own streaming form (mg, the causal
        /// 1b): the floats of its model state and plan arena ([`stream_floats`])
        step_floats: Option<(usize, usize)>,
    },
    /// Through the engine's own form of it (the Quantum-Train CNNs: window only).
    Own(Arch),
}

impl Form {
    /// The architecture a stream would run, if any (an engine streaming form).
    pub(crate) fn stream_arch(&self) -> Option<&Arch> {
        match self {
            Self::Shared { stream, .. } => stream.as_ref(),
            Self::Own(arch) => Some(arch),
        }
    }

    /// The description a stream runs through its own streaming form, if it does (mg, the
    /// causal 1b, 2d, 2e, 4a–4e), and the floats of its model state and plan arena.
    pub(crate) fn stream_shared(&self) -> Option<(&SharedModel, (usize, usize))> {
        match self {
            Self::Shared {
                desc,
                step_floats: Some(n),
                ..
            } => Some((desc, *n)),
            _ => None,
        }
    }
}

type Normalisation = Option<(Vec<f32>, Vec<f32>)>;

/// The card's input conditioning ([`qssm_formats::model_file::conditioning`]), checked: a
/// filter or normalisation this engine cannot run is refused at load.
fn input_conditioning(card: &ModelCard) -> Result<(Sos, Normalisation), EngineError> {
    let c = conditioning(card)?;
    let sos = Sos::from_rows(&c.sos).map_err(|e| {
        EngineError::File(ModelFileError::BadCard(format!(
            "preprocessing.filter: {e}"
        )))
    })?;
    Ok((sos, c.normalisation))
}

fn mismatch(what: String) -> EngineError {
    EngineError::Mismatch { what }
}

impl Model {
    /// Loads a model file held in memory (e.g. from flash).
    ///
    /// Errors: [`EngineError::File`] (not safetensors, not a qssm file, bad card, unsupported
    /// dtype, missing tensor, wrong shape), [`EngineError::UnsupportedModel`],
    /// [`EngineError::Mismatch`], [`EngineError::UnexpectedTensor`],
    /// [`EngineError::NonFiniteWeight`]. Never panics on malformed bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EngineError> {
        let file = ModelFile::parse(bytes)?;
        Self::from_model_file(&file)
    }

    /// Loads from an already parsed [`ModelFile`] (see [`Self::from_bytes`] for the errors).
    pub fn from_model_file(file: &ModelFile<'_>) -> Result<Self, EngineError> {
        let card = &file.card;
        let entry = registry::by_id(&card.model_id)
            .filter(|m| m.inference)
            .ok_or_else(|| EngineError::UnsupportedModel {
                id: card.model_id.clone(),
            })?;
        validate_card(card, entry)?;
        let (filter, normalisation) = input_conditioning(card)?;
        let mut ld = Loader::new(file)?;
        let (form, weight_bytes) = if has_description(entry) {
            let desc = SharedModel::load(entry, card, &mut ld)?;
            let mut bytes = ld.bytes();
            ld.finish(entry.id)?;
            let stream = if crate::arch::streams(entry.id) {
                // every tensor is in the shared store; the stream's matrices are views of it
                let mut views = Loader::sharing(file, desc.layout(), desc.starts(), desc.store())?;
                let arch = Arch::load(entry, &mut views, card)?;
                bytes += views.bytes();
                Some(arch)
            } else {
                None
            };
            // a stream through the description's own streaming form: its sizes, once
            let step_floats = if card.causal && streams_shared(entry.id) {
                Some(stream_floats(&desc)?)
            } else {
                None
            };
            (
                Form::Shared {
                    desc: Box::new(desc),
                    stream,
                    step_floats,
                },
                bytes,
            )
        } else {
            let arch = Arch::load(entry, &mut ld, card)?;
            let bytes = ld.bytes();
            ld.finish(entry.id)?;
            (Form::Own(arch), bytes)
        };
        Ok(Self {
            card: card.clone(),
            id: entry.id,
            form,
            filter,
            normalisation,
            weight_bytes,
        })
    }

    /// Reads and loads the model file at `path` (feature `std`). Errors: as
    /// [`Self::from_bytes`], plus `File(Io)` if the file cannot be read.
    #[cfg(feature = "std")]
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, EngineError> {
        let bytes = qssm_formats::model_file::read_bytes(path.as_ref())?;
        Self::from_bytes(&bytes)
    }

    /// The card's causal input filter (the identity without one): what [`crate::Stream`]
    /// applies to every pushed sample. The window path ([`Self::classify_window`]) takes
    /// windows of the already filtered signal, as the trainer's epochs were cut from filtered
    /// recordings: condition a recording with [`Self::condition_recording`] (filter and
    /// normalisation) before cutting windows from it.
    pub fn input_filter(&self) -> &Sos {
        &self.filter
    }

    /// The card's per-channel normalisation (mean, std; C values each), applied after the
    /// filter: what [`crate::Stream`] applies to every pushed sample.
    pub fn normalisation(&self) -> Option<(&[f32], &[f32])> {
        self.normalisation
            .as_ref()
            .map(|(m, s)| (m.as_slice(), s.as_slice()))
    }

    /// Applies the card's normalisation (if any) to a (C, T) channel-major block of the
    /// filtered signal in place — e.g. windows cut from a filtered recording, before
    /// [`Self::classify_window`]. Errors: [`EngineError::WrongInputLength`] if `x` is not C·t.
    pub fn normalise(&self, x: &mut [f32], t: usize) -> Result<(), EngineError> {
        self.check_block(x, t)?;
        if let Some((m, s)) = &self.normalisation {
            normalise_channels(x, t, m, s);
        }
        Ok(())
    }

    /// Conditions a whole (C, T) channel-major recording in place as the trainer did before
    /// cutting its windows (and as a stream does sample by sample): the card's filter over
    /// each channel from a zero state at the first sample, then its normalisation. Windows
    /// cut from the result are what [`Self::classify_window`] expects. Errors:
    /// [`EngineError::WrongInputLength`] if `x` is not C·t. No allocation.
    pub fn condition_recording(&self, x: &mut [f32], t: usize) -> Result<(), EngineError> {
        self.check_block(x, t)?;
        self.filter.filter_recording(x, t);
        self.normalise(x, t)
    }

    /// `x` must hold C·t values (a (C, t) channel-major block).
    fn check_block(&self, x: &[f32], t: usize) -> Result<(), EngineError> {
        let expected = self.n_channels() * t;
        if x.len() == expected {
            Ok(())
        } else {
            Err(EngineError::WrongInputLength {
                expected,
                found: x.len(),
            })
        }
    }

    /// The model card (hyperparameters, input contract, training recipe, metrics, …).
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// Registry id of the architecture (`1b`, `1c`, `3b`, `mg`, `hg`, `3c`, `3a`, `1a`).
    pub fn model_id(&self) -> &'static str {
        self.id
    }

    /// C: channels of an input window.
    pub fn n_channels(&self) -> usize {
        self.card.hyperparameters.n_channels
    }

    /// T: samples per channel of an input window.
    pub fn n_times(&self) -> usize {
        self.card.hyperparameters.n_times
    }

    /// Number of output classes (length of the logits).
    pub fn n_classes(&self) -> usize {
        self.card.hyperparameters.n_classes
    }

    /// C·T, the length of a window passed to
    /// [`classify_window`](Self::classify_window).
    pub fn input_len(&self) -> usize {
        self.n_channels() * self.n_times()
    }

    /// Channel names in input order (C entries).
    pub fn channels(&self) -> &[String] {
        &self.card.input.channels
    }

    /// Physical unit the input must be in (`mV` for the reference models).
    pub fn input_unit(&self) -> &str {
        &self.card.input.unit
    }

    /// Sampling frequency the model was trained at, Hz.
    pub fn sfreq(&self) -> f64 {
        self.card.input.sfreq
    }

    /// Bytes of weight storage held by the model: every tensor as loaded, the `nn.Linear`
    /// weight matrices in the file's dtype (2 bytes per value for an f16 file), all other
    /// tensors widened to f32 (4 bytes). Excludes small tables derived at load.
    pub fn weight_bytes(&self) -> usize {
        self.weight_bytes
    }
}

/// Card checks shared by every architecture: the card's own check
/// ([`ModelCard::validate`]: ranges and relations of its fields), then that the class name is
/// the registered architecture's.
fn validate_card(card: &ModelCard, entry: &ModelInfo) -> Result<(), EngineError> {
    card.validate().map_err(|e| mismatch(e.to_string()))?;
    if !card.class_name.eq_ignore_ascii_case(entry.class_name) {
        return Err(mismatch(format!(
            "model_id {} is {}, but class_name is '{}'",
            entry.id, entry.class_name, card.class_name
        )));
    }
    Ok(())
}
