//! Scratch of the CPU backend's ops, grown once and reused by every later call, so an op
//! allocates nothing once its size was seen — what lets a stream's step run allocation-free:
//! per worker thread with `std`; without it (no threads: firmware) one process-wide buffer per
//! kind (`Shared`), lent to one call at a time (a call that finds it lent — re-entry from an
//! interrupt handler — gets a buffer of its own). Contents are unspecified: callers write
//! before they read (zeroed on growth).
//!
//! A buffer is borrowed only inside one task of a parallel loop (leaf work, no parallel loop
//! inside): a thread waiting in a parallel loop may run any other pending task meanwhile,
//! including another op's, which could ask for the same buffer.
#[cfg(feature = "std")]
mod imp {
    use alloc::vec::Vec;
    use core::cell::RefCell;
    use num_complex::Complex64;

    std::thread_local! {
        /// the scan's states of one sample (backward) or ring of two states (inference)
        pub static STATES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        /// the scan backward's dh and channel accumulators
        pub static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        /// attention's masked probabilities and dP (L·L each)
        pub static ATTN: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        /// the scan's A in the kernels' (N, E) layout
        pub static A_T: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        /// a row of an op's f32 inputs it does not keep (masked scores, a zero previous state)
        pub static ROWS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        /// a circuit's state vector(s)
        pub static PSI: RefCell<Vec<Complex64>> = const { RefCell::new(Vec::new()) };
        /// a circuit's f64 expectation values and gradients
        pub static REAL: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    }

    /// `len` values of this thread's buffer `key` for `f` (grown, zeroed, on first need).
    ///
    /// # Panics
    /// If `f` asks for the same buffer again on this thread (the ops never nest one kind).
    pub fn with_buf<T: Clone + Default, R>(
        key: &'static std::thread::LocalKey<RefCell<Vec<T>>>,
        len: usize,
        f: impl FnOnce(&mut [T]) -> R,
    ) -> R {
        key.with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < len {
                s.resize(len, T::default());
            }
            f(&mut s[..len])
        })
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    use super::Shared;
    use num_complex::Complex64;

    /// see the `std` buffers
    pub static STATES: Shared<f32> = Shared::new();
    /// see the `std` buffers
    pub static SCRATCH: Shared<f32> = Shared::new();
    /// see the `std` buffers
    pub static ATTN: Shared<f32> = Shared::new();
    /// see the `std` buffers
    pub static A_T: Shared<f32> = Shared::new();
    /// see the `std` buffers
    pub static ROWS: Shared<f32> = Shared::new();
    /// see the `std` buffers
    pub static PSI: Shared<Complex64> = Shared::new();
    /// see the `std` buffers
    pub static REAL: Shared<f64> = Shared::new();

    /// `len` values of buffer `key` for `f` (grown, zeroed, on first need; a buffer of this
    /// call's own if `key` is lent out).
    pub fn with_buf<T: Clone + Default, R>(
        key: &Shared<T>,
        len: usize,
        f: impl FnOnce(&mut [T]) -> R,
    ) -> R {
        key.with(len, f)
    }
}

/// A scratch buffer of the whole program (builds without threads), lent to one call at a time
/// by an atomic flag: grown once to the largest length asked, so calls after the first of a
/// size allocate nothing; a call that finds it lent gets a buffer of its own.
#[cfg(any(not(feature = "std"), test))]
pub(super) struct Shared<T> {
    lent: core::sync::atomic::AtomicBool,
    buf: core::cell::UnsafeCell<alloc::vec::Vec<T>>,
}

// SAFETY: the buffer is reached only by the one call that set `lent` (an acquire
// compare-exchange) until it clears it (a release store): never two `&mut` at once.
#[cfg(any(not(feature = "std"), test))]
unsafe impl<T: Send> Sync for Shared<T> {}

#[cfg(any(not(feature = "std"), test))]
impl<T: Clone + Default> Shared<T> {
    /// An empty buffer.
    pub(super) const fn new() -> Self {
        Self {
            lent: core::sync::atomic::AtomicBool::new(false),
            buf: core::cell::UnsafeCell::new(alloc::vec::Vec::new()),
        }
    }

    /// `len` values for `f`: the shared buffer (grown, zeroed, if shorter), or a fresh one
    /// while it is lent.
    pub(super) fn with<R>(&self, len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
        use core::sync::atomic::{AtomicBool, Ordering};
        struct Return<'a>(&'a AtomicBool);
        impl Drop for Return<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let free = self
            .lent
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if !free {
            return f(&mut alloc::vec![T::default(); len]);
        }
        // returned when this call ends, also by unwinding
        let _back = Return(&self.lent);
        // SAFETY: the flag, set above by this call, gives it the only access to the buffer
        // until `_back` clears it
        let buf = unsafe { &mut *self.buf.get() };
        if buf.len() < len {
            buf.resize(len, T::default());
        }
        f(&mut buf[..len])
    }
}

pub(super) use imp::*;

#[cfg(test)]
mod tests {
    use super::Shared;

    /// A second call of a size already seen gets the same memory (nothing allocated); a call
    /// while the buffer is lent gets its own; the buffer grows for a longer one.
    #[test]
    fn the_shared_buffer_is_reused_and_lent_once_at_a_time() {
        let s: Shared<f32> = Shared::new();
        let first = s.with(8, |b| {
            b.fill(1.0);
            b.as_ptr()
        });
        let again = s.with(8, |b| {
            // nested: the buffer is lent, so a buffer of its own (zeros)
            let inner = s.with(4, |c| {
                assert_eq!(c, &[0.0; 4]);
                c.as_ptr()
            });
            assert_ne!(inner, b.as_ptr());
            assert_eq!(b, &[1.0; 8], "contents kept between calls");
            b.as_ptr()
        });
        assert_eq!(first, again, "reused");
        assert_eq!(s.with(16, |b| b.len()), 16);
        assert_eq!(s.with(3, |b| b.len()), 3);
    }
}
