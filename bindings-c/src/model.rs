//! The model handle ([`QssmModel`]): loading, the input contract (channels, sampling rate,
//! unit, classes, causality, stream memory), full-window classification, and freeing.
use crate::boundary;
use crate::ptr;
use crate::status::{Error, QssmStatus, Result};
use crate::unit::{self, QssmUnit};
use core::ffi::{c_char, CStr};
use qssm_engine::Model;
use std::ffi::CString;
use std::sync::Arc;

/// An immutable loaded model (opaque). Create with [`qssm_model_load`] or
/// [`qssm_model_load_file`], release with [`qssm_model_free`]. Safe to use from several
/// threads at once. Streams created from it hold their own reference, so it may be freed
/// before them.
pub struct QssmModel {
    pub(crate) inner: Arc<Loaded>,
}

/// What a model handle (and every stream over it) shares.
pub(crate) struct Loaded {
    pub model: Model,
    /// C channel names as C strings, in input order
    channel_names: Vec<CString>,
    /// the registry id (`3b`) as a C string
    id: CString,
}

/// A C string of `s`, interior NULs (never expected in a card) replaced by spaces.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

impl Loaded {
    fn new(model: Model) -> Self {
        let channel_names = model.channels().iter().map(|s| c_string(s)).collect();
        let id = c_string(model.model_id());
        Self {
            model,
            channel_names,
            id,
        }
    }
}

/// Moves a freshly loaded model behind a new handle into `*out`.
fn publish(model: Model, out: *mut *mut QssmModel) {
    let handle = Box::new(QssmModel {
        inner: Arc::new(Loaded::new(model)),
    });
    // SAFETY: `out` was checked non-NULL and aligned by `ptr::out`.
    unsafe { *out = Box::into_raw(handle) };
}

/// Loads a model file held in memory (`bytes`, `len` bytes: a qssm safetensors model file)
/// and stores a new handle in `*out_model`. The bytes are parsed and copied: the buffer may
/// be freed as soon as the call returns.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_INVALID_MODEL` (not a qssm model file,
/// bad card, missing/extra/misshapen tensor, non-finite weight),
/// `QSSM_STATUS_UNSUPPORTED_MODEL` (an architecture this engine does not run).
///
/// # Safety
/// `bytes` must point to `len` readable bytes; `out_model` to a writable `QssmModel *`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_load(
    bytes: *const u8,
    len: usize,
    out_model: *mut *mut QssmModel,
) -> QssmStatus {
    boundary::status(|| {
        // SAFETY: the caller's contract.
        let bytes = unsafe { ptr::slice(bytes, len, "bytes") }?;
        let out = ptr::out(out_model, "out_model")?;
        publish(Model::from_bytes(bytes)?, out);
        Ok(())
    })
}

/// Loads the model file at `path` (a NUL-terminated UTF-8 path) and stores a new handle in
/// `*out_model`.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_INVALID_UTF8`, `QSSM_STATUS_IO` (cannot
/// read the file), and those of [`qssm_model_load`].
///
/// # Safety
/// `path` must be a NUL-terminated string; `out_model` must point to a writable
/// `QssmModel *`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_load_file(
    path: *const c_char,
    out_model: *mut *mut QssmModel,
) -> QssmStatus {
    boundary::status(|| {
        if path.is_null() {
            return Err(Error::null("path"));
        }
        let out = ptr::out(out_model, "out_model")?;
        // SAFETY: non-NULL; NUL termination is the caller's contract.
        let path = unsafe { CStr::from_ptr(path) }.to_str().map_err(|e| {
            Error::new(
                QssmStatus::InvalidUtf8,
                format!("path is not valid UTF-8: {e}"),
            )
        })?;
        publish(Model::from_path(path)?, out);
        Ok(())
    })
}

/// Frees a model handle and sets `*model` to `NULL`. Accepts `model == NULL` and
/// `*model == NULL` (no-op), so `qssm_model_free(&m); qssm_model_free(&m);` is safe.
/// Streams created from the model stay valid (they hold their own reference). Strings
/// obtained from this handle ([`qssm_model_channel_name`], [`qssm_model_id`]) become invalid.
/// Never fails.
///
/// # Safety
/// A non-NULL `model` must point to a `QssmModel *` that is `NULL` or a handle from
/// `qssm_model_load*` not freed through another copy of the pointer, and not in use by
/// another thread.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_free(model: *mut *mut QssmModel) {
    boundary::infallible((), || {
        // SAFETY: the caller's contract (NULL allowed at both levels).
        if let Some(slot) = unsafe { model.as_mut() } {
            let handle = core::mem::replace(slot, core::ptr::null_mut());
            if !handle.is_null() {
                // SAFETY: a live handle from `Box::into_raw` in `publish`.
                drop(unsafe { Box::from_raw(handle) });
            }
        }
    })
}

/// The model behind a handle pointer.
///
/// # Safety
/// A non-NULL `model` must be a live handle.
unsafe fn loaded<'a>(model: *const QssmModel) -> Result<&'a Loaded> {
    // SAFETY: forwarded contract.
    Ok(&unsafe { ptr::get(model, "model") }?.inner)
}

/// Runs a getter that writes one value to `out` on success.
///
/// # Safety
/// `model` NULL or live; `out` NULL or writable.
unsafe fn getter<T>(
    model: *const QssmModel,
    out: *mut T,
    name: &str,
    get: impl FnOnce(&Loaded) -> Result<T>,
) -> QssmStatus {
    boundary::status(|| {
        // SAFETY: forwarded contract.
        let m = unsafe { loaded(model) }?;
        let out = ptr::out(out, name)?;
        let v = get(m)?;
        // SAFETY: checked non-NULL and aligned.
        unsafe { out.write(v) };
        Ok(())
    })
}

/// C: the number of input channels (one value per channel in every pushed sample).
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `model` must be a live handle; `out_n` must point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_n_channels(
    model: *const QssmModel,
    out_n: *mut usize,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe { getter(model, out_n, "out_n", |m| Ok(m.model.n_channels())) }
}

/// T: samples per channel in a window passed to [`qssm_model_classify_window`] (the window
/// length the model was trained on; streams are not limited to it).
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `model` must be a live handle; `out_n` must point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_n_times(
    model: *const QssmModel,
    out_n: *mut usize,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe { getter(model, out_n, "out_n", |m| Ok(m.model.n_times())) }
}

/// K: the number of output classes (length of the logits and probabilities).
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `model` must be a live handle; `out_n` must point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_n_classes(
    model: *const QssmModel,
    out_n: *mut usize,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe { getter(model, out_n, "out_n", |m| Ok(m.model.n_classes())) }
}

/// The sampling frequency (Hz) the model was trained at; feed it samples at this rate.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `model` must be a live handle; `out_hz` must point to a writable `double`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_sfreq(model: *const QssmModel, out_hz: *mut f64) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe { getter(model, out_hz, "out_hz", |m| Ok(m.model.sfreq())) }
}

/// The name of input channel `index` (0-based, model order, e.g. `"C3.."` for EEGMMIDB), as a
/// NUL-terminated UTF-8 string owned by the model handle: valid until
/// [`qssm_model_free`] of this handle; never free it. Match your device's channels to these
/// names, not to positions.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_INDEX_OUT_OF_RANGE` (`index ≥ C`).
///
/// # Safety
/// `model` must be a live handle; `out_name` must point to a writable `const char *`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_channel_name(
    model: *const QssmModel,
    index: usize,
    out_name: *mut *const c_char,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe {
        getter(model, out_name, "out_name", |m| {
            m.channel_names
                .get(index)
                .map(|s| s.as_ptr())
                .ok_or_else(|| {
                    Error::new(
                        QssmStatus::IndexOutOfRange,
                        format!(
                            "channel index {index} is out of range (the model has {} channels)",
                            m.channel_names.len()
                        ),
                    )
                })
        })
    }
}

/// The architecture's registry id (`"1b"`, `"3b"`), a NUL-terminated string owned by the
/// handle (valid until [`qssm_model_free`] of this handle).
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `model` must be a live handle; `out_id` must point to a writable `const char *`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_id(
    model: *const QssmModel,
    out_id: *mut *const c_char,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe { getter(model, out_id, "out_id", |m| Ok(m.id.as_ptr())) }
}

/// Whether the model card declares the model causal (its output after t samples depends on
/// those samples only). See also [`qssm_model_can_stream`].
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `model` must be a live handle; `out_causal` must point to a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_is_causal(
    model: *const QssmModel,
    out_causal: *mut bool,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe {
        getter(model, out_causal, "out_causal", |m| {
            Ok(m.model.card().causal)
        })
    }
}

/// Whether streams can be created over this model: its card says causal **and** this engine
/// has a recurrent (streaming) mode for the architecture (3b, causal 1b, causal
/// QuantumMambaGated, 2d, 2e, 4a–4e; see `qssm_engine::supported_models`).
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `model` must be a live handle; `out_can` must point to a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_can_stream(
    model: *const QssmModel,
    out_can: *mut bool,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe { getter(model, out_can, "out_can", |m| Ok(m.model.can_stream())) }
}

/// The unit the model works in (the card's `input.unit`; `QSSM_UNIT_MILLIVOLT` for the
/// reference models, `QSSM_UNIT_NONE` for a model whose input has no unit, e.g. `qt-cnn`'s
/// image pixels). Inputs in any voltage `QSSM_UNIT_*` are converted to a voltage unit.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_UNKNOWN_UNIT` (the card's unit is not
/// µV, mV, V or none; the message names it).
///
/// # Safety
/// `model` must be a live handle; `out_unit` must point to a writable `QssmUnit`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_input_unit(
    model: *const QssmModel,
    out_unit: *mut QssmUnit,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe {
        getter(model, out_unit, "out_unit", |m| {
            if unit::unitless(&m.model) {
                Ok(unit::QSSM_UNIT_NONE)
            } else {
                unit::model_unit(&m.model).map(unit::code)
            }
        })
    }
}

/// Bytes of the state buffer of a stream over this model (header + recurrent state; about
/// 40 kB for the EEG 3b model). A snapshot has this size too. Known right after loading, so
/// a caller can reserve memory for `qssm_stream_new_in`.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_NOT_CAUSAL` (the model cannot stream).
///
/// # Safety
/// `model` must be a live handle; `out_bytes` must point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_required_state_bytes(
    model: *const QssmModel,
    out_bytes: *mut usize,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe {
        getter(model, out_bytes, "out_bytes", |m| {
            Ok(qssm_engine::required_state_bytes(&m.model)?)
        })
    }
}

/// Bytes of the scratch buffer (per-sample activations) of a stream over this model, for
/// `qssm_stream_new_in`.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_NOT_CAUSAL`.
///
/// # Safety
/// `model` must be a live handle; `out_bytes` must point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_required_scratch_bytes(
    model: *const QssmModel,
    out_bytes: *mut usize,
) -> QssmStatus {
    // SAFETY: forwarded contract.
    unsafe {
        getter(model, out_bytes, "out_bytes", |m| {
            Ok(qssm_engine::required_scratch_bytes(&m.model)?)
        })
    }
}

/// The optional (logits, probabilities) output slices of a call, K floats each.
pub(crate) type PredictionOutputs<'a> = (Option<&'a mut [f32]>, Option<&'a mut [f32]>);

/// Checks the optional prediction outputs of a call: both may be NULL; if either is given,
/// `n_classes` must be ≥ K. Returns them as optional slices of exactly K floats.
///
/// # Safety
/// Non-NULL pointers must point to `n_classes` writable floats.
pub(crate) unsafe fn prediction_outputs<'a>(
    out_logits: *mut f32,
    out_probabilities: *mut f32,
    n_classes: usize,
    k: usize,
) -> Result<PredictionOutputs<'a>> {
    let mut arrays = [None, None];
    for (slot, (p, name)) in arrays.iter_mut().zip([
        (out_logits, "out_logits"),
        (out_probabilities, "out_probabilities"),
    ]) {
        if p.is_null() {
            continue;
        }
        if n_classes < k {
            return Err(Error::new(
                QssmStatus::BufferTooSmall,
                format!("{name} holds n_classes = {n_classes} floats, the model has {k} classes"),
            ));
        }
        // SAFETY: the caller's contract; only the first K are used.
        *slot = Some(unsafe { ptr::slice_mut(p, k, name) }?);
    }
    if let (Some(a), Some(b)) = (&arrays[0], &arrays[1]) {
        if a.as_ptr() == b.as_ptr() {
            return Err(Error::new(
                QssmStatus::InvalidArgument,
                "out_logits and out_probabilities are the same buffer",
            ));
        }
    }
    let [logits, probabilities] = arrays;
    Ok((logits, probabilities))
}

/// Classifies one window: `window` holds C·T floats, **channel-major** (`window[c·T + t]` =
/// channel c in model order, sample t), in `unit`. On success writes the K logits to
/// `out_logits` and the K softmax probabilities to `out_probabilities` (each may be `NULL`
/// to skip it; otherwise it must hold `n_classes ≥ K` floats, of which the first K are
/// written) and the most likely class (first on ties) to `*out_class`. Same math as the
/// engine's `Model::classify_window` on the window scaled to the model's unit (in f32).
/// Allocates the window's activations; any model (causal or not) can classify.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_UNKNOWN_UNIT`,
/// `QSSM_STATUS_WRONG_LENGTH` (`window_len ≠ C·T`), `QSSM_STATUS_BUFFER_TOO_SMALL`
/// (`n_classes < K` with an output array given), `QSSM_STATUS_INVALID_ARGUMENT` (both output
/// arrays are the same buffer), `QSSM_STATUS_NON_FINITE_INPUT` (the message names channel
/// and sample), `QSSM_STATUS_NON_FINITE_OUTPUT`.
///
/// # Safety
/// `model` must be a live handle; `window` must point to `window_len` readable floats;
/// non-NULL `out_logits` / `out_probabilities` to `n_classes` writable floats each, not
/// overlapping `window`; `out_class` to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_model_classify_window(
    model: *const QssmModel,
    window: *const f32,
    window_len: usize,
    unit: QssmUnit,
    out_logits: *mut f32,
    out_probabilities: *mut f32,
    n_classes: usize,
    out_class: *mut usize,
) -> QssmStatus {
    boundary::status(|| {
        // SAFETY: the caller's contract, for every pointer below.
        let m = &unsafe { loaded(model) }?.model;
        let window = unsafe { ptr::slice(window, window_len, "window") }?;
        let out_class = ptr::out(out_class, "out_class")?;
        let factor = unit::factor(unit, m)?;
        let (logits, probabilities) =
            unsafe { prediction_outputs(out_logits, out_probabilities, n_classes, m.n_classes()) }?;
        let expected = m.input_len();
        if window_len != expected {
            return Err(Error::new(
                QssmStatus::WrongLength,
                format!(
                    "window has {window_len} floats, expected C·T = {} · {} = {expected} (channel-major)",
                    m.n_channels(),
                    m.n_times()
                ),
            ));
        }
        let p = if factor == 1.0 {
            m.classify_window(window)?
        } else {
            let scaled: Vec<f32> = window.iter().map(|v| v * factor).collect();
            m.classify_window(&scaled)?
        };
        if let Some(out) = logits {
            out.copy_from_slice(&p.logits);
        }
        if let Some(out) = probabilities {
            out.copy_from_slice(&p.probabilities);
        }
        // SAFETY: checked non-NULL and aligned.
        unsafe { out_class.write(p.class) };
        Ok(())
    })
}
