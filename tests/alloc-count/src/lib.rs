//! A counting global allocator for the tests that prove a code path allocates nothing (a
//! stream's `push`, a causal model's step in an arena): the system allocator, counting every
//! allocation, reallocation and free made while armed, with the bytes requested. A test binary
//! installs it once (`#[global_allocator]` is process-wide) and arms it around the code under
//! test:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: qssm_alloc_count::Counting = qssm_alloc_count::Counting;
//!
//! let (_, counts) = qssm_alloc_count::on_this_thread(|| stream.push(&sample));
//! assert_eq!(counts.allocations, 0);
//! ```
//!
//! [`on_this_thread`] counts only the calling thread's allocations (tests running in parallel
//! in the same binary do not reach each other's counts); [`on_every_thread`] counts every
//! thread's (code that may run on a thread pool), so its callers must not overlap.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The system allocator, counting while armed (see the [crate docs](crate)).
pub struct Counting;

/// What the armed code did: allocations, reallocations and frees, and the bytes it asked for
/// (allocations and the new sizes of reallocations).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// allocations, reallocations and frees
    pub allocations: usize,
    /// bytes requested
    pub bytes: usize,
}

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

static EVERY_ARMED: AtomicBool = AtomicBool::new(false);
static EVERY_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static EVERY_BYTES: AtomicUsize = AtomicUsize::new(0);

fn note(bytes: usize) {
    if EVERY_ARMED.load(Ordering::SeqCst) {
        EVERY_ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        EVERY_BYTES.fetch_add(bytes, Ordering::SeqCst);
    }
    // `try_with`: the allocator also runs while thread-locals are torn down
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        let _ = BYTES.try_with(|n| n.set(n.get() + bytes));
    }
}

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` with the calling thread's counting armed; its result and what it allocated on
/// this thread (only counted where [`Counting`] is the global allocator).
pub fn on_this_thread<R>(f: impl FnOnce() -> R) -> (R, Counts) {
    let (a0, b0) = (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    let counts = Counts {
        allocations: ALLOCATIONS.with(Cell::get) - a0,
        bytes: BYTES.with(Cell::get) - b0,
    };
    (r, counts)
}

/// Runs `f` with counting armed on every thread; its result and what every thread allocated
/// meanwhile. Calls must not overlap (one test per binary, or serialised).
pub fn on_every_thread<R>(f: impl FnOnce() -> R) -> (R, Counts) {
    EVERY_ALLOCATIONS.store(0, Ordering::SeqCst);
    EVERY_BYTES.store(0, Ordering::SeqCst);
    EVERY_ARMED.store(true, Ordering::SeqCst);
    let r = f();
    EVERY_ARMED.store(false, Ordering::SeqCst);
    let counts = Counts {
        allocations: EVERY_ALLOCATIONS.load(Ordering::SeqCst),
        bytes: EVERY_BYTES.load(Ordering::SeqCst),
    };
    (r, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static GLOBAL: Counting = Counting;

    /// Both scopes see an allocation and its free, and nothing when nothing is allocated;
    /// a thread's scope misses another thread's allocations, the every-thread scope does not.
    #[test]
    fn counts_what_the_armed_code_allocates() {
        let (_, c) = on_this_thread(|| drop(std::hint::black_box(vec![0u8; 100])));
        assert_eq!(
            c,
            Counts {
                allocations: 2,
                bytes: 100
            }
        );
        let (_, c) = on_this_thread(|| std::hint::black_box(3 + 4));
        assert_eq!(c, Counts::default());
        let spawned = || std::thread::spawn(|| drop(std::hint::black_box(vec![0u8; 64]))).join();
        let (_, here) = on_this_thread(|| spawned().unwrap());
        let (_, every) = on_every_thread(|| spawned().unwrap());
        // the spawn itself allocates on this thread; the vector only on the other one
        assert!(every.bytes >= here.bytes + 64, "{every:?} vs {here:?}");
    }
}
