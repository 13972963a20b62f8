//! The stream handle ([`QssmStream`]): a causal model applied one time sample at a time, with
//! its state kept apart from the model (library-allocated or in caller memory), chunked
//! pushes in either layout and any unit, the latest prediction, reset, snapshot/restore.
use crate::boundary;
use crate::model::{prediction_outputs, Loaded, QssmModel};
use crate::ptr;
use crate::status::{Error, QssmStatus, Result};
use crate::unit::{self, QssmLayout, QssmUnit};
use core::ffi::c_void;
use qssm_engine::{EngineError, Model, Stream, StreamOptions, StreamPrediction};
use std::sync::Arc;

/// The streaming state of one causal model (opaque): fixed-size recurrent state, predictions
/// every `hop` samples. Create with [`qssm_stream_new`] (library-allocated memory) or
/// [`qssm_stream_new_in`] (caller memory), release with [`qssm_stream_free`]. Holds its own
/// reference to the model. Not to be used by two threads at once.
pub struct QssmStream {
    // Field order matters: `stream` borrows the model inside `model` (and, for
    // `qssm_stream_new_in`, the caller's memory) with a `'static` lifetime that is really
    // "as long as this handle". Fields drop in declaration order, so the stream goes first.
    stream: Stream<'static>,
    /// keeps the model `stream` borrows alive
    model: Arc<Loaded>,
    /// one sample gathered from a channel-major chunk (C)
    sample: Vec<f32>,
    /// the latest prediction emitted by a push
    latest: Latest,
    /// set while a call runs on the stream; still set afterwards only if that call panicked
    poisoned: bool,
}

/// The most recent prediction, copied out of the stream's scratch (buffers allocated once).
struct Latest {
    valid: bool,
    logits: Vec<f32>,
    probabilities: Vec<f32>,
    class: usize,
    samples_seen: u64,
}

impl Latest {
    fn new(k: usize) -> Self {
        Self {
            valid: false,
            logits: vec![0.0; k],
            probabilities: vec![0.0; k],
            class: 0,
            samples_seen: 0,
        }
    }

    fn store(&mut self, p: &StreamPrediction<'_>) {
        self.logits.copy_from_slice(p.logits);
        self.probabilities.copy_from_slice(p.probabilities);
        self.class = p.class;
        self.samples_seen = p.samples_seen;
        self.valid = true;
    }
}

/// The shared model behind a handle pointer, with a `'static` borrow of the `Model` that is
/// valid for as long as the returned `Arc` (or a clone of it) lives.
///
/// # Safety
/// A non-NULL `model` must be a live handle.
unsafe fn shared_model(model: *const QssmModel) -> Result<(Arc<Loaded>, &'static Model)> {
    // SAFETY: forwarded contract.
    let arc = Arc::clone(&unsafe { ptr::get(model, "model") }?.inner);
    // SAFETY: the `Loaded` lives in the Arc's allocation, which never moves and is never
    // mutated; it outlives every `QssmStream` holding a clone of `arc` (see field order).
    let m: &'static Model = unsafe { &(*Arc::as_ptr(&arc)).model };
    Ok((arc, m))
}

/// Wraps a new stream in a handle and stores it in `*out`.
fn publish(stream: Stream<'static>, model: Arc<Loaded>, out: *mut *mut QssmStream) {
    let (c, k) = (model.model.n_channels(), model.model.n_classes());
    let handle = Box::new(QssmStream {
        stream,
        model,
        sample: vec![0.0; c],
        latest: Latest::new(k),
        poisoned: false,
    });
    // SAFETY: `out` was checked non-NULL and aligned by `ptr::out`.
    unsafe { *out = Box::into_raw(handle) };
}

/// Creates a stream over `model` whose state and scratch memory the library allocates now
/// (once; nothing is allocated per sample afterwards), and stores it in `*out_stream`. The
/// stream starts empty (0 samples seen). `hop` = samples between predictions (1 = after
/// every sample; for a window-sized answer, `hop = T` with a reset at each window start).
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_NOT_CAUSAL` (the model cannot stream, see
/// `qssm_model_can_stream`), `QSSM_STATUS_INVALID_HOP` (0 or not a multiple of the
/// model's step size: 1 for 3b, the chunk size for the chunked causal models).
///
/// # Safety
/// `model` must be a live handle; `out_stream` must point to a writable `QssmStream *`.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_new(
    model: *const QssmModel,
    hop: usize,
    out_stream: *mut *mut QssmStream,
) -> QssmStatus {
    boundary::status(|| {
        // SAFETY: the caller's contract.
        let (arc, m) = unsafe { shared_model(model) }?;
        let out = ptr::out(out_stream, "out_stream")?;
        let stream = Stream::new(m, StreamOptions { hop })?;
        publish(stream, arc, out);
        Ok(())
    })
}

/// Creates a stream over `model` working in caller-provided memory: `state` of
/// `state_bytes` ≥ `qssm_model_required_state_bytes` bytes and `scratch` of
/// `scratch_bytes` ≥ `qssm_model_required_scratch_bytes` bytes, both aligned for
/// `float` (as `malloc` returns) and not overlapping. The library allocates only the small
/// handle (and a C-float gather buffer plus 2·K floats for the latest prediction; for the
/// models that stream through their shared description, mg, the causal 1b, 2d, 2e and 4a–4e,
/// also the
/// bookkeeping of their planned steps: shapes and plan structures, a few hundred small
/// allocations, here and never while streaming); the state lives in `state`, every float of
/// the model's activations in `scratch`. The state is zeroed here (previous contents
/// ignored; to continue a saved stream, [`qssm_stream_restore`] it).
///
/// Ownership: the memory stays the caller's, but it is **lent to the stream** until
/// [`qssm_stream_free`]: keep it alive and do not read or write it meanwhile (read the state
/// with [`qssm_stream_snapshot`]). Free it yourself after freeing the stream.
///
/// Errors: those of [`qssm_stream_new`], plus `QSSM_STATUS_BUFFER_TOO_SMALL`,
/// `QSSM_STATUS_MISALIGNED_BUFFER`, `QSSM_STATUS_INVALID_ARGUMENT` (buffers overlap).
///
/// # Safety
/// `model` must be a live handle; `state` and `scratch` must point to `state_bytes` and
/// `scratch_bytes` writable bytes that stay valid, and untouched by anyone else, until the
/// stream is freed; `out_stream` must point to a writable `QssmStream *`.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_new_in(
    model: *const QssmModel,
    hop: usize,
    state: *mut c_void,
    state_bytes: usize,
    scratch: *mut c_void,
    scratch_bytes: usize,
    out_stream: *mut *mut QssmStream,
) -> QssmStatus {
    boundary::status(|| {
        // SAFETY: the caller's contract, for every pointer below.
        let (arc, m) = unsafe { shared_model(model) }?;
        let state: &'static mut [f32] = unsafe { ptr::floats_mut(state, state_bytes, "state") }?;
        let scratch: &'static mut [f32] =
            unsafe { ptr::floats_mut(scratch, scratch_bytes, "scratch") }?;
        let out = ptr::out(out_stream, "out_stream")?;
        let (s, k) = (state.as_ptr_range(), scratch.as_ptr_range());
        if s.start < k.end && k.start < s.end {
            return Err(Error::new(
                QssmStatus::InvalidArgument,
                "state and scratch buffers overlap",
            ));
        }
        let stream = Stream::with_buffers(m, StreamOptions { hop }, state, scratch).map_err(
            |e| match e {
                EngineError::BufferTooSmall {
                    what,
                    needed,
                    found,
                } => Error::new(
                    QssmStatus::BufferTooSmall,
                    format!(
                        "{what} buffer has {} bytes, needs {} bytes",
                        found * 4,
                        needed * 4
                    ),
                ),
                e => e.into(),
            },
        )?;
        publish(stream, arc, out);
        Ok(())
    })
}

/// Frees a stream handle and sets `*stream` to `NULL`. Accepts `stream == NULL` and
/// `*stream == NULL` (no-op), so freeing twice through the same variable is safe. Memory
/// lent to [`qssm_stream_new_in`] is returned to the caller (not freed). Never fails; also
/// frees poisoned streams.
///
/// # Safety
/// A non-NULL `stream` must point to a `QssmStream *` that is `NULL` or a live handle not
/// freed through another copy of the pointer, and not in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_free(stream: *mut *mut QssmStream) {
    boundary::infallible((), || {
        // SAFETY: the caller's contract (NULL allowed at both levels).
        if let Some(slot) = unsafe { stream.as_mut() } {
            let handle = core::mem::replace(slot, core::ptr::null_mut());
            if !handle.is_null() {
                // SAFETY: a live handle from `Box::into_raw` in `publish`.
                drop(unsafe { Box::from_raw(handle) });
            }
        }
    })
}

/// Runs `body` on a stream, refusing a poisoned one and poisoning it if `body` panics.
fn guarded<T>(s: &mut QssmStream, body: impl FnOnce(&mut QssmStream) -> Result<T>) -> Result<T> {
    if s.poisoned {
        return Err(Error::new(
            QssmStatus::Panic,
            "stream is poisoned by an earlier panic: free it and create a new one",
        ));
    }
    s.poisoned = true;
    let r = body(s);
    s.poisoned = false;
    r
}

/// Runs a status-returning call on a mutable stream.
///
/// # Safety
/// A non-NULL `stream` must be a live handle not used elsewhere during the call.
unsafe fn with_stream(
    stream: *mut QssmStream,
    body: impl FnOnce(&mut QssmStream) -> Result<()>,
) -> QssmStatus {
    boundary::status(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { ptr::get_mut(stream, "stream") }?;
        guarded(s, body)
    })
}

/// Runs a status-returning call on a shared stream.
///
/// # Safety
/// A non-NULL `stream` must be a live handle not mutated during the call.
unsafe fn with_stream_ref(
    stream: *const QssmStream,
    body: impl FnOnce(&QssmStream) -> Result<()>,
) -> QssmStatus {
    boundary::status(|| {
        // SAFETY: forwarded contract.
        let s = unsafe { ptr::get(stream, "stream") }?;
        if s.poisoned {
            return Err(Error::new(
                QssmStatus::Panic,
                "stream is poisoned by an earlier panic: free it and create a new one",
            ));
        }
        body(s)
    })
}

/// Pushes a chunk of n samples: `data` holds `data_len = n · n_channels` floats in `layout`
/// (`QSSM_LAYOUT_SAMPLE_MAJOR`: `data[t·C + c]`; `QSSM_LAYOUT_CHANNEL_MAJOR`:
/// `data[c·n + t]`), channels in model order, values in `unit`. `n_channels` must be the
/// model's C (an explicit check that the caller's montage matches). Each sample is scaled to
/// the model's unit and consumed in order; at every hop boundary (`samples_seen` a multiple
/// of the hop) a prediction is computed and kept as the latest ([`qssm_stream_latest`]). On
/// success `*out_n_predictions` = the number of predictions this chunk produced. A chunk of
/// 0 samples is allowed. Never allocates.
///
/// The whole chunk is validated before any sample is consumed: on
/// `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_UNKNOWN_LAYOUT`, `QSSM_STATUS_UNKNOWN_UNIT`,
/// `QSSM_STATUS_WRONG_CHANNEL_COUNT` (`n_channels ≠ C`), `QSSM_STATUS_WRONG_LENGTH`
/// (`data_len` not a multiple of `n_channels`) or `QSSM_STATUS_NON_FINITE_INPUT` (a NaN/±∞,
/// or a value overflowing when scaled; the message names channel and sample) the stream is
/// unchanged. `QSSM_STATUS_NON_FINITE_OUTPUT` (the model overflowed: input far outside the
/// training range) stops the chunk after the offending sample, which was consumed; the state
/// may then hold non-finite values: reset or restore the stream.
///
/// # Safety
/// `stream` must be a live handle not used by another thread; `data` must point to
/// `data_len` readable floats; `out_n_predictions` to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_push(
    stream: *mut QssmStream,
    data: *const f32,
    data_len: usize,
    n_channels: usize,
    layout: QssmLayout,
    unit: QssmUnit,
    out_n_predictions: *mut usize,
) -> QssmStatus {
    let body = |s: &mut QssmStream| -> Result<()> {
        // SAFETY: the caller's contract.
        let data = unsafe { ptr::slice(data, data_len, "data") }?;
        let out = ptr::out(out_n_predictions, "out_n_predictions")?;
        let n = push(s, data, n_channels, layout, unit)?;
        // SAFETY: checked non-NULL and aligned.
        unsafe { out.write(n) };
        Ok(())
    };
    // SAFETY: the caller's contract.
    unsafe { with_stream(stream, body) }
}

/// The body of [`qssm_stream_push`]: returns the number of predictions.
fn push(
    s: &mut QssmStream,
    data: &[f32],
    n_channels: usize,
    layout: QssmLayout,
    unit: QssmUnit,
) -> Result<usize> {
    let sample_major = unit::sample_major(layout)?;
    let m = &s.model.model;
    let factor = unit::factor(unit, m)?;
    let c = m.n_channels();
    if n_channels != c {
        return Err(Error::new(
            QssmStatus::WrongChannelCount,
            format!("chunk has n_channels = {n_channels}, the model takes C = {c} channels"),
        ));
    }
    if data.len() % c != 0 {
        return Err(Error::new(
            QssmStatus::WrongLength,
            format!(
                "data_len = {} is not a multiple of n_channels = {c}",
                data.len()
            ),
        ));
    }
    let n = data.len() / c;
    // a unitless model takes its values as they are (`factor` checked QSSM_UNIT_NONE)
    let engine_unit = if unit::unitless(m) {
        None
    } else {
        Some(unit::unit(unit)?)
    };
    if let Some(i) = data.iter().position(|v| !(v * factor).is_finite()) {
        let (ch, t) = if sample_major {
            (i % c, i / c)
        } else {
            (i / n, i % n)
        };
        return Err(Error::new(
            QssmStatus::NonFiniteInput,
            format!(
                "input is not finite at channel {ch}, sample {t} of this chunk (after conversion to {})",
                m.input_unit()
            ),
        ));
    }
    let QssmStream {
        stream,
        sample,
        latest,
        ..
    } = s;
    let mut predictions = 0;
    for t in 0..n {
        let x: &[f32] = if sample_major {
            &data[t * c..(t + 1) * c]
        } else {
            for (ch, v) in sample.iter_mut().enumerate() {
                *v = data[ch * n + t];
            }
            sample
        };
        let pushed = match engine_unit {
            Some(u) => stream.push_in(x, u),
            None => stream.push(x),
        };
        match pushed {
            Ok(Some(p)) => {
                latest.store(&p);
                predictions += 1;
            }
            Ok(None) => {}
            Err(e) => {
                let mut e = Error::from(e);
                e.message = format!(
                    "{} (sample {t} of this chunk; {t} earlier samples were consumed)",
                    e.message
                );
                return Err(e);
            }
        }
    }
    Ok(predictions)
}

/// Reads the latest prediction a push produced: writes the K logits to `out_logits` and the
/// K probabilities to `out_probabilities` (each may be `NULL` to skip it; otherwise it must
/// hold `n_classes ≥ K` floats, the first K written), the most likely class to `*out_class`,
/// and the number of samples it covers (since the last reset) to `*out_samples_seen`. The
/// prediction stays readable until the next push that produces one, or a reset/restore.
///
/// Returns `QSSM_STATUS_NO_PREDICTION` (not a failure; nothing written) if no hop boundary
/// was reached since creation, reset or restore. Errors: `QSSM_STATUS_NULL_ARGUMENT`,
/// `QSSM_STATUS_BUFFER_TOO_SMALL`, `QSSM_STATUS_INVALID_ARGUMENT` (both arrays the same
/// buffer), `QSSM_STATUS_PANIC` (poisoned stream).
///
/// # Safety
/// `stream` must be a live handle not mutated during the call; non-NULL `out_logits` /
/// `out_probabilities` must point to `n_classes` writable floats each; `out_class` to a
/// writable `size_t`; `out_samples_seen` to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_latest(
    stream: *const QssmStream,
    out_logits: *mut f32,
    out_probabilities: *mut f32,
    n_classes: usize,
    out_class: *mut usize,
    out_samples_seen: *mut u64,
) -> QssmStatus {
    let body = |s: &QssmStream| -> Result<()> {
        let out_class = ptr::out(out_class, "out_class")?;
        let out_seen = ptr::out(out_samples_seen, "out_samples_seen")?;
        let k = s.latest.logits.len();
        // SAFETY: the caller's contract.
        let (logits, probabilities) =
            unsafe { prediction_outputs(out_logits, out_probabilities, n_classes, k) }?;
        let l = &s.latest;
        if !l.valid {
            return Err(Error::new(
                QssmStatus::NoPrediction,
                format!(
                    "no prediction yet: {} samples since the last reset, predictions come every {} samples",
                    s.stream.samples_seen(),
                    s.stream.hop()
                ),
            ));
        }
        if let Some(out) = logits {
            out.copy_from_slice(&l.logits);
        }
        if let Some(out) = probabilities {
            out.copy_from_slice(&l.probabilities);
        }
        // SAFETY: checked non-NULL and aligned.
        unsafe {
            out_class.write(l.class);
            out_seen.write(l.samples_seen);
        }
        Ok(())
    };
    // SAFETY: the caller's contract.
    unsafe { with_stream_ref(stream, body) }
}

/// The number of samples consumed since creation or the last reset (or as restored).
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_PANIC` (poisoned stream).
///
/// # Safety
/// `stream` must be a live handle not mutated during the call; `out_samples_seen` must point
/// to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_samples_seen(
    stream: *const QssmStream,
    out_samples_seen: *mut u64,
) -> QssmStatus {
    let body = |s: &QssmStream| -> Result<()> {
        let out = ptr::out(out_samples_seen, "out_samples_seen")?;
        // SAFETY: checked non-NULL and aligned.
        unsafe { out.write(s.stream.samples_seen()) };
        Ok(())
    };
    // SAFETY: the caller's contract.
    unsafe { with_stream_ref(stream, body) }
}

/// Forgets every sample: the state returns to zero (as after creation) and the latest
/// prediction is dropped. Call it at the start of each trial/window to classify (the 3b
/// model's mean pool covers everything since the last reset). Never allocates.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_PANIC` (poisoned stream).
///
/// # Safety
/// `stream` must be a live handle not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_reset(stream: *mut QssmStream) -> QssmStatus {
    let body = |s: &mut QssmStream| -> Result<()> {
        s.stream.reset();
        s.latest.valid = false;
        Ok(())
    };
    // SAFETY: the caller's contract.
    unsafe { with_stream(stream, body) }
}

/// Copies the stream's state (a self-describing snapshot of exactly
/// `qssm_model_required_state_bytes` bytes) into `out` of `out_bytes` bytes (aligned
/// for `float`) and stores the number of bytes written in `*out_written`. Restoring it with
/// [`qssm_stream_restore`] (on this or another stream over the same model) continues the
/// stream bit for bit. Never allocates.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_MISALIGNED_BUFFER`,
/// `QSSM_STATUS_BUFFER_TOO_SMALL` (`out` untouched), `QSSM_STATUS_PANIC` (poisoned stream).
///
/// # Safety
/// `stream` must be a live handle not mutated during the call; `out` must point to
/// `out_bytes` writable bytes; `out_written` to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_snapshot(
    stream: *const QssmStream,
    out: *mut c_void,
    out_bytes: usize,
    out_written: *mut usize,
) -> QssmStatus {
    let body = |s: &QssmStream| -> Result<()> {
        // SAFETY: the caller's contract.
        let buf = unsafe { ptr::floats_mut(out, out_bytes, "out") }?;
        let written = ptr::out(out_written, "out_written")?;
        let needed = s.stream.state_len() * 4;
        if out_bytes < needed {
            return Err(Error::new(
                QssmStatus::BufferTooSmall,
                format!("snapshot buffer has {out_bytes} bytes, needs {needed}"),
            ));
        }
        let n = s.stream.snapshot(buf)?;
        // SAFETY: checked non-NULL and aligned.
        unsafe { written.write(n * 4) };
        Ok(())
    };
    // SAFETY: the caller's contract.
    unsafe { with_stream_ref(stream, body) }
}

/// Replaces the stream's state by a snapshot from [`qssm_stream_snapshot`] of a stream over
/// the same model (`snapshot_bytes` ≥ the state size; aligned for `float`): the stream
/// continues exactly as the one snapshotted would. The latest prediction is dropped (the
/// next hop boundary produces one). Never allocates.
///
/// Errors (stream unchanged): `QSSM_STATUS_NULL_ARGUMENT`, `QSSM_STATUS_MISALIGNED_BUFFER`,
/// `QSSM_STATUS_INVALID_SNAPSHOT` (too short, another model's, corrupt, non-finite),
/// `QSSM_STATUS_PANIC` (poisoned stream).
///
/// # Safety
/// `stream` must be a live handle not used by another thread; `snapshot` must point to
/// `snapshot_bytes` readable bytes not overlapping the stream's memory.
#[no_mangle]
pub unsafe extern "C" fn qssm_stream_restore(
    stream: *mut QssmStream,
    snapshot: *const c_void,
    snapshot_bytes: usize,
) -> QssmStatus {
    let body = |s: &mut QssmStream| -> Result<()> {
        // SAFETY: the caller's contract.
        let from = unsafe { ptr::floats(snapshot, snapshot_bytes, "snapshot") }?;
        s.stream.restore(from)?;
        s.latest.valid = false;
        Ok(())
    };
    // SAFETY: the caller's contract.
    unsafe { with_stream(stream, body) }
}

#[cfg(test)]
pub(crate) fn poison_by_panic(s: &mut QssmStream) -> QssmStatus {
    boundary::status(|| guarded(s, |_| -> Result<()> { panic!("injected test panic") }))
}
