//! Where the CPU backend's data parallelism comes from: rayon's parallel iterators with
//! feature `std`, and without it (the `no_std` engine on a microcontroller) the same calls on
//! ordinary sequential iterators. The backend's loops are written once against these names
//! (`par_chunks_mut`, `par_iter`, `for_each_init`, …); both give the same results, because no
//! loop of the backend reduces across its parallel items (reductions over the batch run in a
//! fixed order afterwards).
#[cfg(feature = "std")]
pub use rayon::prelude::*;
#[cfg(not(feature = "std"))]
pub use sequential::*;

#[cfg(not(feature = "std"))]
mod sequential {
    use core::slice::{Chunks, ChunksMut, Iter, IterMut};

    /// rayon's read-only slice iterators, sequential.
    pub trait ParSlice<T> {
        /// `chunks(n)`
        fn par_chunks(&self, n: usize) -> Chunks<'_, T>;
        /// `iter()`
        fn par_iter(&self) -> Iter<'_, T>;
    }

    /// rayon's mutable slice iterators, sequential.
    pub trait ParSliceMut<T> {
        /// `chunks_mut(n)`
        fn par_chunks_mut(&mut self, n: usize) -> ChunksMut<'_, T>;
        /// `iter_mut()`
        fn par_iter_mut(&mut self) -> IterMut<'_, T>;
    }

    impl<T> ParSlice<T> for [T] {
        fn par_chunks(&self, n: usize) -> Chunks<'_, T> {
            self.chunks(n)
        }
        fn par_iter(&self) -> Iter<'_, T> {
            self.iter()
        }
    }

    impl<T> ParSliceMut<T> for [T] {
        fn par_chunks_mut(&mut self, n: usize) -> ChunksMut<'_, T> {
            self.chunks_mut(n)
        }
        fn par_iter_mut(&mut self) -> IterMut<'_, T> {
            self.iter_mut()
        }
    }

    /// rayon's `for_each_init`, sequential: one scratch value for the whole loop.
    pub trait ForEachInit: Iterator + Sized {
        /// Calls `f(&mut scratch, item)` for every item, `scratch = init()` made once.
        fn for_each_init<S, I, F>(self, init: I, mut f: F)
        where
            I: FnOnce() -> S,
            F: FnMut(&mut S, Self::Item),
        {
            let mut s = init();
            for item in self {
                f(&mut s, item);
            }
        }
    }

    impl<It: Iterator> ForEachInit for It {}
}
