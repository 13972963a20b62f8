//! Scratch of the CPU backend's ops: per worker thread, grown once and reused by every later
//! call (`std`), so an op allocates nothing once its thread has seen its size — what lets a
//! stream's step run allocation-free. Without `std` (no threads) a call's scratch is allocated
//! for it. Contents are unspecified: callers write before they read (zeroed on growth).
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
    use alloc::vec;
    use core::marker::PhantomData;
    use num_complex::Complex64;

    /// A kind of scratch (the thread buffers' names under `std`).
    pub struct Kind<T>(PhantomData<T>);
    /// see the `std` buffers
    pub static STATES: Kind<f32> = Kind(PhantomData);
    /// see the `std` buffers
    pub static SCRATCH: Kind<f32> = Kind(PhantomData);
    /// see the `std` buffers
    pub static ATTN: Kind<f32> = Kind(PhantomData);
    /// see the `std` buffers
    pub static A_T: Kind<f32> = Kind(PhantomData);
    /// see the `std` buffers
    pub static ROWS: Kind<f32> = Kind(PhantomData);
    /// see the `std` buffers
    pub static PSI: Kind<Complex64> = Kind(PhantomData);
    /// see the `std` buffers
    pub static REAL: Kind<f64> = Kind(PhantomData);

    /// `len` zeroed values for `f`, allocated for this call.
    pub fn with_buf<T: Clone + Default, R>(
        _key: &Kind<T>,
        len: usize,
        f: impl FnOnce(&mut [T]) -> R,
    ) -> R {
        f(&mut vec![T::default(); len])
    }
}

pub(super) use imp::*;
