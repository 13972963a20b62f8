//! The panic boundary every entry point runs behind (rustls-ffi `ffi_panic_boundary!`): the
//! body runs under [`catch_unwind`]; an error or a panic is turned into a status plus the
//! thread's last-error message, so no unwind ever crosses into C.
use crate::status::{clear_last_error, set_last_error, Error, QssmStatus};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs a fallible entry point: clears the last error, runs `body`, and returns
/// `QSSM_STATUS_OK`, the error's status (message stored), or `QSSM_STATUS_PANIC` (panic
/// message stored). `NoPrediction` is returned like an error (its message stored too).
pub(crate) fn status(body: impl FnOnce() -> Result<(), Error>) -> QssmStatus {
    clear_last_error();
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => QssmStatus::Ok,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(payload) => {
            set_last_error(&format!(
                "panic inside qssm (a bug, please report it): {}",
                panic_message(payload.as_ref())
            ));
            QssmStatus::Panic
        }
    }
}

/// Runs an infallible entry point, returning `default` if it panics (last error untouched).
pub(crate) fn infallible<T>(default: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(default)
}

/// The text of a panic payload (`panic!("…")` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "non-string panic payload"
    }
}
