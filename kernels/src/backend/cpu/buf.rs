//! The CPU backend's buffer: f32 elements with a shape, either owned (a heap `Vec`) or lent
//! (a slice of memory the caller owns, carved by an [`super::Arena`]).
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

/// Most dimensions a buffer has ((B, L+1, E, N) states are the most the models plan).
pub(super) const MAX_RANK: usize = 6;

/// A buffer's shape, held inline (planning a step allocates no shape on the heap).
pub(super) type Shape = heapless::Vec<usize, MAX_RANK>;

/// `shape` as a [`Shape`].
///
/// # Panics
/// If it has more than [`MAX_RANK`] dimensions (a plan's, not an input's, property).
pub(super) fn shape_of(shape: &[usize]) -> Shape {
    Shape::from_slice(shape)
        .unwrap_or_else(|_| panic!("CpuBuf: {} dimensions, at most {MAX_RANK}", shape.len()))
}

/// Where a [`CpuBuf`]'s elements live.
#[derive(Debug)]
pub(super) enum Storage<'a> {
    /// allocated on the heap for this buffer
    Owned(Vec<f32>),
    /// part of a caller's memory (an arena), borrowed for `'a`
    Lent(&'a mut [f32]),
}

impl Deref for Storage<'_> {
    type Target = [f32];
    #[inline]
    fn deref(&self) -> &[f32] {
        match self {
            Self::Owned(v) => v,
            Self::Lent(s) => s,
        }
    }
}

impl DerefMut for Storage<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [f32] {
        match self {
            Self::Owned(v) => v,
            Self::Lent(s) => s,
        }
    }
}

/// A host buffer with its shape. `'a` is the lifetime of lent memory (`'static` for the
/// heap backend [`super::Cpu`](type@super::Cpu), whose buffers are always owned).
#[derive(Debug)]
pub struct CpuBuf<'a> {
    pub(super) data: Storage<'a>,
    pub(super) shape: Shape,
}

impl Default for CpuBuf<'_> {
    fn default() -> Self {
        Self {
            data: Storage::Owned(Vec::new()),
            shape: Shape::new(),
        }
    }
}

/// A clone owns its elements (a copy of lent ones too).
impl Clone for CpuBuf<'_> {
    fn clone(&self) -> Self {
        Self {
            data: Storage::Owned(self.data.to_vec()),
            shape: self.shape.clone(),
        }
    }
}

/// Equal shapes and elements, wherever they live.
impl PartialEq for CpuBuf<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && *self.data == *other.data
    }
}

fn check_len(len: usize, shape: &[usize]) {
    assert_eq!(
        len,
        shape.iter().product::<usize>(),
        "CpuBuf: data length vs shape"
    );
}

impl<'a> CpuBuf<'a> {
    /// A buffer owning `data` with `shape` (their sizes must agree).
    ///
    /// # Panics
    /// If the element count of `shape` is not `data.len()`.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Self {
        check_len(data.len(), shape);
        Self {
            data: Storage::Owned(data),
            shape: shape_of(shape),
        }
    }
    /// A buffer over the caller's `data` with `shape` (their sizes must agree); the elements
    /// are used as they are.
    ///
    /// # Panics
    /// If the element count of `shape` is not `data.len()`.
    pub fn lent(data: &'a mut [f32], shape: &[usize]) -> Self {
        check_len(data.len(), shape);
        Self {
            data: Storage::Lent(data),
            shape: shape_of(shape),
        }
    }
    /// Whether the elements are lent (part of an arena) rather than owned.
    pub fn is_lent(&self) -> bool {
        matches!(self.data, Storage::Lent(_))
    }
    /// The elements.
    #[inline]
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    /// The elements, mutable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
    /// The shape.
    #[inline]
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Leading dimension (B for a batch buffer).
    #[inline]
    pub fn dim0(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }
    /// Last dimension (the feature width of row-wise ops).
    #[inline]
    pub fn last(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }
    /// Rows of a row-wise op: element count / last dimension.
    #[inline]
    pub fn rows(&self) -> usize {
        self.data.len() / self.last().max(1)
    }
}

impl<'s> IntoIterator for &'s Storage<'_> {
    type Item = &'s f32;
    type IntoIter = core::slice::Iter<'s, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'s> IntoIterator for &'s mut Storage<'_> {
    type Item = &'s mut f32;
    type IntoIter = core::slice::IterMut<'s, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}
