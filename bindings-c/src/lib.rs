//! # qssm-c — the C ABI of the qssm engine (`libqssm.a`, `libqssm.so`, `include/qssm.h`)
//!
//! A thin layer over [`qssm_engine`]: load a model file, query its input contract, classify
//! full windows, and stream causal models one time sample at a time. The header
//! `include/qssm.h` is generated from this crate by `cbindgen` (`cbindgen.toml`) and checked by
//! `check-header.sh`; `include/qssm.hpp` is a small C++17 RAII wrapper over it.
//!
//! ## Conventions (after rustls-ffi, tract's FFI and liblsl)
//!
//! * **Opaque handles.** [`QssmModel`] (an immutable loaded model) and [`QssmStream`] (the
//!   streaming state of one causal model, kept apart from the model as in tract). Created by
//!   `qssm_model_load*` / `qssm_stream_new*`, released by `qssm_model_free(&ptr)` /
//!   `qssm_stream_free(&ptr)`, which accept `NULL` (and a pointer to `NULL`) and set the
//!   caller's pointer to `NULL`, so freeing twice through the same variable is harmless.
//! * **Status codes.** Every fallible call returns a [`QssmStatus`]: `QSSM_STATUS_OK` (0),
//!   `QSSM_STATUS_NO_PREDICTION` (1, not a failure: nothing to read yet), or an error in
//!   1000..=1999 (see the enum for each code).
//! * **Last error.** A failing call stores a one-line message in thread-local storage, read
//!   with [`qssm_last_error`] (pointer valid until the next qssm call on the same thread) or
//!   copied with [`qssm_last_error_copy`]. Every status-returning call clears it first.
//! * **Out-parameters are written only on success** (`QSSM_STATUS_OK`); on any other status
//!   they keep their previous contents.
//! * **Pointers.** Every pointer argument is NULL-checked (`QSSM_STATUS_NULL_ARGUMENT`) unless
//!   its documentation says it may be `NULL`. Every buffer is followed by its length, in
//!   **floats** for signal data and predictions, in **bytes** for opaque memory (stream
//!   state, scratch, snapshots; these must be aligned for `float`).
//! * **Panics never cross the boundary.** Every entry point runs under
//!   [`std::panic::catch_unwind`]; a panic becomes `QSSM_STATUS_PANIC` with the panic message
//!   as last error (infallible calls return a documented default instead). A stream that
//!   panicked mid-call is poisoned: later calls on it return `QSSM_STATUS_PANIC`, and it can
//!   only be freed.
//!
//! ## Data layout and units
//!
//! Shapes: C channels, T samples per window, K classes, n samples of a pushed chunk. Windows
//! are (C, T) **channel-major** (`x[c·T + t]`); pushed chunks are either **sample-major**
//! (interleaved, `x[t·C + c]`, as LSL delivers them) or **channel-major** (`x[c·n + t]`, as
//! BrainFlow and MNE deliver them), named by a [`QssmLayout`]. Channels are in the model's
//! order ([`qssm_model_channel_name`]): map your device's channels **by name**. Every signal
//! call names the unit of its values with a [`QssmUnit`] (µV, mV, V); values are scaled in
//! f32 to the model card's unit (millivolts for the reference models) before use.
//!
//! ## Threads
//!
//! A [`QssmModel`] is immutable after loading: it may be used from several threads at once
//! (classification, creating streams). A [`QssmStream`] must not be used by two threads at
//! the same time. A stream keeps its model alive, so the model handle may be freed before its
//! streams. The last-error message is per thread.
//!
//! ## ABI stability
//!
//! None yet: the ABI may change with any 0.x release (see [`QSSM_ABI_VERSION`]); link the
//! exact version you compiled against.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod boundary;
mod model;
mod ptr;
mod status;
mod stream;
mod unit;

pub use model::{
    qssm_model_can_stream, qssm_model_channel_name, qssm_model_classify_window, qssm_model_free,
    qssm_model_id, qssm_model_input_unit, qssm_model_is_causal, qssm_model_load,
    qssm_model_load_file, qssm_model_n_channels, qssm_model_n_classes, qssm_model_n_times,
    qssm_model_required_scratch_bytes, qssm_model_required_state_bytes, qssm_model_sfreq,
    QssmModel,
};
pub use status::{qssm_last_error, qssm_last_error_copy, qssm_status_name, QssmStatus};
pub use stream::{
    qssm_stream_free, qssm_stream_latest, qssm_stream_new, qssm_stream_new_in, qssm_stream_push,
    qssm_stream_reset, qssm_stream_restore, qssm_stream_samples_seen, qssm_stream_snapshot,
    QssmStream,
};
pub use unit::{
    QssmLayout, QssmUnit, QSSM_LAYOUT_CHANNEL_MAJOR, QSSM_LAYOUT_SAMPLE_MAJOR, QSSM_UNIT_MICROVOLT,
    QSSM_UNIT_MILLIVOLT, QSSM_UNIT_NONE, QSSM_UNIT_VOLT,
};

/// Version of this C ABI (bumped on every incompatible change of `qssm.h`; the library itself
/// reports its package version with [`qssm_version`]).
pub const QSSM_ABI_VERSION: u32 = 1;

/// NUL-terminated package version of the library.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, e.g. `"0.1.0"`: a static NUL-terminated string (never `NULL`,
/// never to be freed). Infallible; does not touch the last error.
#[no_mangle]
pub extern "C" fn qssm_version() -> *const core::ffi::c_char {
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests;
