//! The CPU backend's parameters ([`HostParams`]): one flat f32 buffer (`[f32]`, the trainer's,
//! in its `ParamLayout`), or any store that gives the same ranges: f32 for every tensor an op
//! reads element-wise, and the weight matrices of linear layers in f32 or IEEE binary16 (an
//! inference engine's f16 model file, read in place).
use core::ops::Range;

/// A linear layer's weight matrix W (d_out, d_in), row-major, in its stored dtype.
#[derive(Clone, Copy, Debug)]
pub enum MatrixRef<'p> {
    /// f32 values
    F32(&'p [f32]),
    /// IEEE binary16 bit patterns (finite), widened exactly to f32 as they are read
    F16(&'p [u16]),
}

/// Parameters the CPU backend reads, addressed by the ranges of the model's `ParamLayout`.
pub trait HostParams: Sync {
    /// The f32 values of layout range `r` (any tensor but a linear layer's weight matrix, or a
    /// part of one).
    ///
    /// # Panics
    /// If `r` is not stored as f32 here (a programming error: the store and the layout
    /// disagree).
    fn f32(&self, r: Range<usize>) -> &[f32];
    /// The weight matrix at layout range `r` (a linear layer's `weight`, or a block of its
    /// rows).
    ///
    /// # Panics
    /// As [`Self::f32`].
    fn matrix(&self, r: Range<usize>) -> MatrixRef<'_>;
    /// The f32 value at layout index `i` (a scalar parameter, e.g. a mixing coefficient).
    ///
    /// # Panics
    /// As [`Self::f32`].
    #[inline]
    fn scalar(&self, i: usize) -> f32 {
        self.f32(i..i + 1)[0]
    }
}

/// The trainer's flat f32 parameter buffer.
impl HostParams for [f32] {
    #[inline]
    fn f32(&self, r: Range<usize>) -> &[f32] {
        &self[r]
    }
    #[inline]
    fn matrix(&self, r: Range<usize>) -> MatrixRef<'_> {
        MatrixRef::F32(&self[r])
    }
}
