//! Checked conversions of C pointer arguments into Rust references and slices: `NULL`,
//! misalignment and impossible lengths become typed errors instead of undefined behaviour.
//! What cannot be checked (that a non-NULL pointer really points to enough valid memory) is
//! the caller's contract, stated in each entry point's `# Safety` section.
use crate::status::{Error, QssmStatus, Result};
use core::mem::{align_of, size_of};

/// A shared reference from a handle or input pointer.
///
/// # Safety
/// A non-NULL `p` must point to a live, properly initialised `T` that nothing mutates for `'a`.
pub(crate) unsafe fn get<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: non-NULL checked by `as_ref`; validity is the caller's contract.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null(name))
}

/// A mutable reference from a handle pointer.
///
/// # Safety
/// A non-NULL `p` must point to a live `T` that nothing else accesses for `'a`.
pub(crate) unsafe fn get_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T> {
    // SAFETY: non-NULL checked by `as_mut`; exclusivity is the caller's contract.
    unsafe { p.as_mut() }.ok_or_else(|| Error::null(name))
}

/// An out-parameter, checked for NULL **before** any work so that a call can fail early and
/// write nothing. Returned as a raw pointer: written only on success.
pub(crate) fn out<T>(p: *mut T, name: &str) -> Result<*mut T> {
    if p.is_null() {
        Err(Error::null(name))
    } else if (p as usize) % align_of::<T>() != 0 {
        Err(Error::new(
            QssmStatus::MisalignedBuffer,
            format!("out-parameter '{name}' is not aligned for its type"),
        ))
    } else {
        Ok(p)
    }
}

/// Checks `len` elements of `T` at a non-NULL `p`: aligned, and a size Rust can address.
fn check_array<T>(p: *const T, len: usize, name: &str) -> Result<()> {
    if p.is_null() {
        return Err(Error::null(name));
    }
    if (p as usize) % align_of::<T>() != 0 {
        return Err(Error::new(
            QssmStatus::MisalignedBuffer,
            format!(
                "buffer '{name}' is not aligned to {} bytes",
                align_of::<T>()
            ),
        ));
    }
    if len
        .checked_mul(size_of::<T>())
        .map_or(true, |b| b > isize::MAX as usize)
    {
        return Err(Error::new(
            QssmStatus::InvalidArgument,
            format!("buffer '{name}' of {len} elements is larger than addressable memory"),
        ));
    }
    Ok(())
}

/// A shared slice of `len` elements at `p`.
///
/// # Safety
/// A non-NULL `p` must point to `len` initialised `T`s that nothing mutates for `'a`.
pub(crate) unsafe fn slice<'a, T>(p: *const T, len: usize, name: &str) -> Result<&'a [T]> {
    check_array(p, len, name)?;
    // SAFETY: non-NULL, aligned, size ≤ isize::MAX checked above; validity is the caller's.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// A mutable slice of `len` elements at `p`.
///
/// # Safety
/// A non-NULL `p` must point to `len` writable `T`s that nothing else accesses for `'a`.
pub(crate) unsafe fn slice_mut<'a, T>(p: *mut T, len: usize, name: &str) -> Result<&'a mut [T]> {
    check_array(p, len, name)?;
    // SAFETY: non-NULL, aligned, size ≤ isize::MAX checked above; validity is the caller's.
    Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
}

/// A mutable f32 slice over `bytes` bytes of opaque caller memory at `p` (whole floats only:
/// a trailing partial float is ignored).
///
/// # Safety
/// As [`slice_mut`], for `bytes` bytes.
pub(crate) unsafe fn floats_mut<'a>(
    p: *mut core::ffi::c_void,
    bytes: usize,
    name: &str,
) -> Result<&'a mut [f32]> {
    // SAFETY: forwarded contract.
    unsafe { slice_mut(p.cast::<f32>(), bytes / size_of::<f32>(), name) }
}

/// A shared f32 slice over `bytes` bytes of opaque caller memory at `p`.
///
/// # Safety
/// As [`slice()`], for `bytes` bytes.
pub(crate) unsafe fn floats<'a>(
    p: *const core::ffi::c_void,
    bytes: usize,
    name: &str,
) -> Result<&'a [f32]> {
    // SAFETY: forwarded contract.
    unsafe { slice(p.cast::<f32>(), bytes / size_of::<f32>(), name) }
}
