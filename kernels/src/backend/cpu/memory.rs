//! Where the CPU backend's buffers come from ([`Memory`]): the heap ([`Heap`], the trainer's
//! [`super::Cpu`](type@super::Cpu)), or an arena of caller-lent f32s ([`Arena`], TFLM-style: an inference
//! engine plans a model's buffers once into memory it was given, and the op loops then never
//! allocate them).
use super::buf::{shape_of, CpuBuf, Storage};
use alloc::vec;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A source of buffers for the CPU backend ([`super::CpuIn`]); `'a` is how long lent memory
/// lives.
pub trait Memory<'a>: Sync {
    /// A zeroed buffer of `shape`.
    fn alloc(&self, shape: &[usize]) -> CpuBuf<'a>;
    /// Rows up to which a linear layer over f32 weights runs the matrix-vector kernels
    /// ([`crate::ops::matvec::linear_rows`]) instead of a GEMM, whose packing buffers are
    /// allocated per call: 0 on the heap (the trainer's results unchanged: every f32 product
    /// through the GEMM); an arena's planned steps (a stream's few tokens) allocate nothing.
    fn matvec_rows(&self) -> usize {
        0
    }
}

/// Buffers on the heap, each its own allocation.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heap;

impl Memory<'static> for Heap {
    fn alloc(&self, shape: &[usize]) -> CpuBuf<'static> {
        CpuBuf::from_vec(vec![0.0; shape.iter().product()], shape)
    }
}

/// Buffers on the heap, as [`Heap`], for planned inference steps (a runtime's streams, planned
/// once): their linear layers run the matrix-vector kernels up to [`Arena`]'s row count too,
/// so a step allocates nothing and gives the same floats as in an arena.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeapSteps;

impl Memory<'static> for HeapSteps {
    fn alloc(&self, shape: &[usize]) -> CpuBuf<'static> {
        Heap.alloc(shape)
    }
    fn matvec_rows(&self) -> usize {
        STEP_MATVEC_ROWS
    }
}

/// A streaming step's tokens: 3b's 1–4, mg's chunk of 8, the causal 1b's chunk of 32.
const STEP_MATVEC_ROWS: usize = 32;

/// Buffers carved one after the other from one caller-lent f32 slice (a bump allocator:
/// nothing is freed before the arena's borrow ends). Every buffer is zeroed when carved. A
/// request that does not fit is served from the heap instead and counted
/// ([`Arena::overflowed`]), so a plan never fails half-way; plan into
/// [`Arena::measure`] first to learn the size ([`Arena::used`]).
#[derive(Debug)]
pub struct Arena<'a> {
    base: NonNull<f32>,
    len: usize,
    next: AtomicUsize,
    overflow: AtomicUsize,
    _lent: PhantomData<&'a mut [f32]>,
}

// SAFETY: an `Arena` hands out disjoint `&'a mut` parts of one `&'a mut [f32]` (the atomic
// cursor gives every element to at most one buffer), which is what `&mut [f32]` itself
// allows to be sent to and shared with other threads.
unsafe impl Send for Arena<'_> {}
// SAFETY: see `Send`; `alloc(&self)` claims its range with an atomic compare-exchange.
unsafe impl Sync for Arena<'_> {}

impl<'a> Arena<'a> {
    /// An arena over `mem` (its first element is the first buffer's).
    pub fn new(mem: &'a mut [f32]) -> Self {
        Self {
            len: mem.len(),
            base: NonNull::from(mem).cast(),
            next: AtomicUsize::new(0),
            overflow: AtomicUsize::new(0),
            _lent: PhantomData,
        }
    }
    /// An arena of no memory, for a sizing pass: every buffer comes from the heap, and
    /// [`Self::used`] says how many f32s a real arena needs for the same plan.
    pub fn measure() -> Self {
        Self::new(&mut [])
    }
    /// f32s claimed so far, fitting or not (a plan into [`Self::measure`] gives the arena size
    /// it needs).
    pub fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed)
    }
    /// f32s of the lent memory.
    pub fn capacity(&self) -> usize {
        self.len
    }
    /// Buffers that did not fit and came from the heap (0 for a plan into an arena of at least
    /// the measured size).
    pub fn overflowed(&self) -> usize {
        self.overflow.load(Ordering::Relaxed)
    }
}

impl<'a> Memory<'a> for Arena<'a> {
    fn matvec_rows(&self) -> usize {
        STEP_MATVEC_ROWS
    }
    fn alloc(&self, shape: &[usize]) -> CpuBuf<'a> {
        let n: usize = shape.iter().product();
        if n == 0 {
            // an empty buffer (a plan's unused scratch) needs no memory from anywhere
            return CpuBuf {
                data: Storage::Lent(&mut []),
                shape: shape_of(shape),
            };
        }
        // claim [start, start + n) with a monotone, saturating cursor: a range is handed out
        // at most once, and only if it lies within the lent slice
        let mut start = self.next.load(Ordering::Relaxed);
        loop {
            let end = start.saturating_add(n);
            match self
                .next
                .compare_exchange_weak(start, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => start = now,
            }
        }
        match start.checked_add(n) {
            Some(end) if end <= self.len => {
                // SAFETY: [start, end) lies within the lent slice and no other buffer gets any
                // of it (the cursor only grows, and the exchange gave this range to this call
                // alone); the slice is borrowed mutably for 'a by `self`.
                let part =
                    unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr().add(start), n) };
                part.fill(0.0);
                CpuBuf {
                    data: Storage::Lent(part),
                    shape: shape_of(shape),
                }
            }
            _ => {
                self.overflow.fetch_add(1, Ordering::Relaxed);
                Heap.alloc(shape)
            }
        }
    }
}
