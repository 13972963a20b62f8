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

/// `f` on the pairs of `n`-chunks of `y` and `m`-chunks of `x` (in parallel with `std`); when
/// `y` is one chunk, `f(y, x)` on the calling thread, without the parallel machinery (a
/// streaming step's buffers of one token, where rayon's bookkeeping costs more than the work).
/// The same calls of `f` on the same chunks either way.
pub fn for_chunks<F>(y: &mut [f32], n: usize, x: &[f32], m: usize, f: F)
where
    F: Fn(&mut [f32], &[f32]) + Sync + Send,
{
    if y.len() <= n {
        if !y.is_empty() {
            f(y, &x[..m.min(x.len())]);
        }
        return;
    }
    y.par_chunks_mut(n)
        .zip(x.par_chunks(m))
        .for_each(|(a, b)| f(a, b));
}

/// [`for_chunks`] over two inputs: `f` on the `n`-chunks of `y` with the `ma`-chunks of `a`
/// and `mb`-chunks of `b`.
pub fn for_chunks2<F>(y: &mut [f32], n: usize, a: &[f32], ma: usize, b: &[f32], mb: usize, f: F)
where
    F: Fn(&mut [f32], &[f32], &[f32]) + Sync + Send,
{
    if y.len() <= n {
        if !y.is_empty() {
            f(y, &a[..ma.min(a.len())], &b[..mb.min(b.len())]);
        }
        return;
    }
    y.par_chunks_mut(n)
        .zip(a.par_chunks(ma))
        .zip(b.par_chunks(mb))
        .for_each(|((o, a), b)| f(o, a, b));
}
