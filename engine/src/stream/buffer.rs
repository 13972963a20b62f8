//! The memory a stream works in: a buffer it owns (allocated once when the stream is created)
//! or one the caller lends (TFLM-style arena: the engine never allocates with it).
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

/// An f32 buffer of fixed length, owned or borrowed for `'a`.
#[derive(Debug)]
pub(crate) enum Buf<'a> {
    /// allocated at stream creation
    Owned(Vec<f32>),
    /// lent by the caller (exactly the needed prefix of the caller's slice)
    Borrowed(&'a mut [f32]),
}

impl Deref for Buf<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Self::Owned(v) => v,
            Self::Borrowed(s) => s,
        }
    }
}

impl DerefMut for Buf<'_> {
    fn deref_mut(&mut self) -> &mut [f32] {
        match self {
            Self::Owned(v) => v,
            Self::Borrowed(s) => s,
        }
    }
}
