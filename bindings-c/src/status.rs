//! Status codes ([`QssmStatus`]), the crate's error value ([`Error`]: a status plus a message),
//! the mapping from [`EngineError`], and the thread-local last-error message.
use core::ffi::c_char;
use qssm_engine::{EngineError, ModelFileError};
use std::cell::RefCell;

/// The result of every fallible call. `QSSM_STATUS_OK` (0) is success;
/// `QSSM_STATUS_NO_PREDICTION` (1) is not a failure but "nothing to read yet"; codes
/// 1000..=1999 are errors, each with a one-line message from [`qssm_last_error`]. Codes are
/// stable: new ones are only ever appended.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QssmStatus {
    /// Success; out-parameters were written.
    Ok = 0,
    /// No prediction yet: the stream has not reached a hop boundary since it was created,
    /// reset or restored. Not a failure; out-parameters untouched.
    NoPrediction = 1,
    /// A required pointer argument (handle, buffer or out-parameter) is `NULL`.
    NullArgument = 1000,
    /// A path is not valid UTF-8.
    InvalidUtf8 = 1001,
    /// The model file could not be read (missing, permissions, …).
    Io = 1002,
    /// The bytes are not a valid qssm model file: not safetensors, no or bad model card,
    /// missing/extra tensor, wrong shape or dtype, a card that contradicts itself or its
    /// tensors, non-finite weights.
    InvalidModel = 1003,
    /// A valid model file of an architecture this engine does not run.
    UnsupportedModel = 1004,
    /// A buffer's length does not fit its shape: a window of ≠ C·T floats, or a pushed
    /// chunk whose length is not a multiple of its channel count.
    WrongLength = 1005,
    /// A pushed chunk's channel count is not the model's C.
    WrongChannelCount = 1006,
    /// An input value is NaN or ±∞ (or overflows when scaled to the model's unit).
    NonFiniteInput = 1007,
    /// The model's output came out NaN or ±∞ (input far outside the training range).
    NonFiniteOutput = 1008,
    /// A `QssmUnit` value is not one of the `QSSM_UNIT_*` constants, or the model
    /// card's unit is not µV, mV or V so values cannot be converted to it.
    UnknownUnit = 1009,
    /// A `QssmLayout` value is not one of the `QSSM_LAYOUT_*` constants.
    UnknownLayout = 1010,
    /// Streaming was asked of a model that cannot stream (not causal, or no recurrent mode).
    NotCausal = 1011,
    /// An output or caller-provided buffer is shorter than required.
    BufferTooSmall = 1012,
    /// A caller-provided buffer is not aligned for `float`.
    MisalignedBuffer = 1013,
    /// A stream's hop is 0 or not a multiple of the model's step size.
    InvalidHop = 1014,
    /// A snapshot passed to restore is not a state of this model's stream.
    InvalidSnapshot = 1015,
    /// An index (e.g. a channel number) is out of range.
    IndexOutOfRange = 1016,
    /// Any other invalid argument (overlapping buffers, a length too large for memory).
    InvalidArgument = 1017,
    /// A Rust panic was caught at the boundary (a bug in qssm: please report it with the
    /// message), or the stream was poisoned by an earlier panic.
    Panic = 1018,
}

impl QssmStatus {
    /// Every status, in code order.
    pub(crate) const ALL: [QssmStatus; 21] = [
        Self::Ok,
        Self::NoPrediction,
        Self::NullArgument,
        Self::InvalidUtf8,
        Self::Io,
        Self::InvalidModel,
        Self::UnsupportedModel,
        Self::WrongLength,
        Self::WrongChannelCount,
        Self::NonFiniteInput,
        Self::NonFiniteOutput,
        Self::UnknownUnit,
        Self::UnknownLayout,
        Self::NotCausal,
        Self::BufferTooSmall,
        Self::MisalignedBuffer,
        Self::InvalidHop,
        Self::InvalidSnapshot,
        Self::IndexOutOfRange,
        Self::InvalidArgument,
        Self::Panic,
    ];

    /// The constant's name in `qssm.h`, NUL-terminated.
    fn name(self) -> &'static str {
        match self {
            Self::Ok => "QSSM_STATUS_OK\0",
            Self::NoPrediction => "QSSM_STATUS_NO_PREDICTION\0",
            Self::NullArgument => "QSSM_STATUS_NULL_ARGUMENT\0",
            Self::InvalidUtf8 => "QSSM_STATUS_INVALID_UTF8\0",
            Self::Io => "QSSM_STATUS_IO\0",
            Self::InvalidModel => "QSSM_STATUS_INVALID_MODEL\0",
            Self::UnsupportedModel => "QSSM_STATUS_UNSUPPORTED_MODEL\0",
            Self::WrongLength => "QSSM_STATUS_WRONG_LENGTH\0",
            Self::WrongChannelCount => "QSSM_STATUS_WRONG_CHANNEL_COUNT\0",
            Self::NonFiniteInput => "QSSM_STATUS_NON_FINITE_INPUT\0",
            Self::NonFiniteOutput => "QSSM_STATUS_NON_FINITE_OUTPUT\0",
            Self::UnknownUnit => "QSSM_STATUS_UNKNOWN_UNIT\0",
            Self::UnknownLayout => "QSSM_STATUS_UNKNOWN_LAYOUT\0",
            Self::NotCausal => "QSSM_STATUS_NOT_CAUSAL\0",
            Self::BufferTooSmall => "QSSM_STATUS_BUFFER_TOO_SMALL\0",
            Self::MisalignedBuffer => "QSSM_STATUS_MISALIGNED_BUFFER\0",
            Self::InvalidHop => "QSSM_STATUS_INVALID_HOP\0",
            Self::InvalidSnapshot => "QSSM_STATUS_INVALID_SNAPSHOT\0",
            Self::IndexOutOfRange => "QSSM_STATUS_INDEX_OUT_OF_RANGE\0",
            Self::InvalidArgument => "QSSM_STATUS_INVALID_ARGUMENT\0",
            Self::Panic => "QSSM_STATUS_PANIC\0",
        }
    }
}

/// A failed call: its status and a one-line message for [`qssm_last_error`].
#[derive(Debug)]
pub(crate) struct Error {
    pub status: QssmStatus,
    pub message: String,
}

impl Error {
    pub fn new(status: QssmStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// `QSSM_STATUS_NULL_ARGUMENT` naming the argument.
    pub fn null(arg: &str) -> Self {
        Self::new(
            QssmStatus::NullArgument,
            format!("argument '{arg}' is NULL"),
        )
    }
}

impl From<EngineError> for Error {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::File(ModelFileError::Io { .. }) => QssmStatus::Io,
            EngineError::File(_)
            | EngineError::Mismatch { .. }
            | EngineError::UnexpectedTensor { .. }
            | EngineError::NonFiniteWeight { .. } => QssmStatus::InvalidModel,
            EngineError::UnsupportedModel { .. } => QssmStatus::UnsupportedModel,
            EngineError::WrongInputLength { .. } => QssmStatus::WrongLength,
            EngineError::NonFiniteInput { .. } => QssmStatus::NonFiniteInput,
            EngineError::NonFiniteOutput { .. } => QssmStatus::NonFiniteOutput,
            EngineError::NotCausal { .. } => QssmStatus::NotCausal,
            EngineError::WrongChannelCount { .. } => QssmStatus::WrongChannelCount,
            EngineError::BufferTooSmall { .. } => QssmStatus::BufferTooSmall,
            EngineError::InvalidSnapshot { .. } => QssmStatus::InvalidSnapshot,
            EngineError::UnknownInputUnit => QssmStatus::UnknownUnit,
            EngineError::InvalidHop { .. } => QssmStatus::InvalidHop,
        };
        Self::new(status, e.to_string())
    }
}

pub(crate) type Result<T> = core::result::Result<T, Error>;

thread_local! {
    /// The last error message of this thread, NUL-terminated when non-empty.
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Empty message, for when no error is stored.
const EMPTY: &[u8] = b"\0";

/// Forgets the stored message (keeps its allocation; never allocates).
pub(crate) fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.clear();
        }
    });
}

/// Stores `message` (interior NULs replaced by spaces) as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    let _ = LAST_ERROR.try_with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.clear();
            m.extend(message.bytes().map(|b| if b == 0 { b' ' } else { b }));
            m.push(0);
        }
    });
}

/// The message of the last failed call on this thread, as a NUL-terminated UTF-8 string
/// (`""` if the most recent status-returning call succeeded or none was made). Never `NULL`.
///
/// Lifetime: the pointer stays valid until the next call into the library **from this
/// thread** (other threads have their own message); copy it (or use
/// [`qssm_last_error_copy`]) to keep it. Never free it. Does not itself change the message.
#[no_mangle]
pub extern "C" fn qssm_last_error() -> *const c_char {
    crate::boundary::infallible(EMPTY.as_ptr().cast(), || {
        LAST_ERROR
            .try_with(|m| match m.try_borrow() {
                Ok(m) if !m.is_empty() => m.as_ptr().cast(),
                _ => EMPTY.as_ptr().cast(),
            })
            .unwrap_or(EMPTY.as_ptr().cast())
    })
}

/// Copies the last error message of this thread (see [`qssm_last_error`]) into `buf` of
/// `len` bytes, NUL-terminated, truncated to `len − 1` bytes if longer (possibly inside a
/// multi-byte UTF-8 character), and stores the message's full length in bytes (without the
/// NUL) in `*out_len`, so a caller can retry with a buffer of `*out_len + 1` bytes.
///
/// Errors: `QSSM_STATUS_NULL_ARGUMENT` if `buf` or `out_len` is `NULL`,
/// `QSSM_STATUS_BUFFER_TOO_SMALL` if `len` is 0 (nothing written). Does not change the stored
/// message, even on error.
///
/// # Safety
/// `buf` must point to `len` writable bytes; `out_len` to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn qssm_last_error_copy(
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> QssmStatus {
    let copy = || -> Result<()> {
        if buf.is_null() {
            return Err(Error::null("buf"));
        }
        let out_len = crate::ptr::out(out_len, "out_len")?;
        if len == 0 {
            return Err(Error::new(
                QssmStatus::BufferTooSmall,
                "buf has 0 bytes: no room for the terminating NUL",
            ));
        }
        LAST_ERROR
            .try_with(|m| {
                let m = m.try_borrow().map_err(|_| {
                    Error::new(QssmStatus::InvalidArgument, "last error is being written")
                })?;
                let msg = m.strip_suffix(&[0]).unwrap_or(&m);
                let n = msg.len().min(len - 1);
                // SAFETY: the caller guarantees `buf` holds `len` > n bytes; `out_len` was checked.
                unsafe {
                    core::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
                    *buf.add(n) = 0;
                    out_len.write(msg.len());
                }
                Ok(())
            })
            .unwrap_or_else(|_| {
                Err(Error::new(
                    QssmStatus::InvalidArgument,
                    "thread-local storage is being destroyed",
                ))
            })
    };
    // Does not go through `boundary::status`: reading the message must not clear it, and a
    // failure here must not overwrite it.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(copy)) {
        Ok(Ok(())) => QssmStatus::Ok,
        Ok(Err(e)) => e.status,
        Err(_) => QssmStatus::Panic,
    }
}

/// The name of a status code as spelled in `qssm.h` (e.g. `"QSSM_STATUS_WRONG_LENGTH"`), a
/// static NUL-terminated string; `"QSSM_STATUS_UNKNOWN"` for a value that is no status.
/// Infallible; does not touch the last error.
#[no_mangle]
pub extern "C" fn qssm_status_name(status: u32) -> *const c_char {
    const UNKNOWN: &str = "QSSM_STATUS_UNKNOWN\0";
    crate::boundary::infallible(UNKNOWN.as_ptr().cast(), || {
        QssmStatus::ALL
            .iter()
            .find(|s| **s as u32 == status)
            .map_or(UNKNOWN, |s| s.name())
            .as_ptr()
            .cast()
    })
}
