//! The CPU backend's GEMM: `C (m×n) = A (m×k)·B (k×n) + β·C` on strided views, through the
//! `gemm` crate (AVX-512 kernels where the CPU has them, rayon-parallel over blocks of C).
//! Measured on our shapes against `matrixmultiply` and OpenBLAS (see ARCHITECTURE.md): the
//! fastest of the three on every shape, and, like them, it never splits the k reduction
//! across threads, so results do not depend on the number of threads (checked by a test).
//! Without feature `std` (the `no_std` engine), the product runs on the calling thread through
//! `matrixmultiply`, which needs no operating system.
#[cfg(feature = "std")]
use gemm::Parallelism;

#[cfg(feature = "std")]
/// Below this many multiply-adds a product runs on the calling thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// A strided read-only matrix view: element (i, j) at `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    /// the storage
    pub data: &'a [f32],
    /// row stride
    pub rs: usize,
    /// column stride
    pub cs: usize,
}

impl View<'_> {
    fn need(&self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * self.rs + (cols - 1) * self.cs + 1
        }
    }
}

/// C (m×n, row-major, `c.len() ≥ m·n`) = A·B + β·C (β = 0: C is overwritten, never read).
///
/// Large products are split over the rayon pool's threads, except when called from inside a
/// rayon worker (a caller that already runs in parallel, e.g. per-sample models or windows
/// evaluated in parallel): a nested split makes the `gemm` crate's jobs wait on each other.
///
/// # Panics
/// If a view is too short for its shape.
pub fn sgemm(m: usize, k: usize, n: usize, a: View<'_>, b: View<'_>, beta: f32, c: &mut [f32]) {
    #[cfg(feature = "std")]
    let parallel = m * n * k >= PARALLEL_MIN_FLOPS && rayon::current_thread_index().is_none();
    #[cfg(not(feature = "std"))]
    let parallel = false;
    sgemm_on(m, k, n, a, b, beta, c, parallel);
}

/// [`sgemm`] with the split decided by the caller.
#[allow(clippy::too_many_arguments)]
fn sgemm_on(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_>,
    b: View<'_>,
    beta: f32,
    c: &mut [f32],
    parallel: bool,
) {
    assert!(a.data.len() >= a.need(m, k), "gemm: A too short");
    assert!(b.data.len() >= b.need(k, n), "gemm: B too short");
    assert!(c.len() >= m * n, "gemm: C too short");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        let c = &mut c[..m * n];
        if beta == 0.0 {
            c.fill(0.0);
        } else {
            c.iter_mut().for_each(|v| *v *= beta);
        }
        return;
    }
    product(m, k, n, a, b, beta, c, parallel);
}

/// C ← A·B + β·C through the `gemm` crate (checked shapes, k > 0).
#[cfg(feature = "std")]
#[allow(clippy::too_many_arguments)]
fn product(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_>,
    b: View<'_>,
    beta: f32,
    c: &mut [f32],
    parallel: bool,
) {
    let par = if parallel {
        Parallelism::Rayon(rayon::current_num_threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above bound every element the strides reach; C is m×n row-major.
    // gemm computes dst ← alpha·dst + beta·lhs·rhs (dst read only if read_dst).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            beta != 0.0,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            beta,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// C ← A·B + β·C through `matrixmultiply` on the calling thread (checked shapes, k > 0).
#[cfg(not(feature = "std"))]
#[allow(clippy::too_many_arguments)]
fn product(
    m: usize,
    k: usize,
    n: usize,
    a: View<'_>,
    b: View<'_>,
    beta: f32,
    c: &mut [f32],
    _parallel: bool,
) {
    // SAFETY: the caller's asserts bound every element the strides reach; C is m×n row-major.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(threads: usize, beta: f32) -> Vec<f32> {
        let (m, k, n) = (600, 370, 129);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7) % 13) as f32 * 0.37 - 2.0)
            .collect();
        let bt: Vec<f32> = (0..n * k)
            .map(|i| ((i * 5) % 11) as f32 * 0.21 - 1.0)
            .collect();
        let mut c: Vec<f32> = (0..m * n).map(|i| (i % 3) as f32).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            sgemm_on(
                m,
                k,
                n,
                View {
                    data: &a,
                    rs: k,
                    cs: 1,
                },
                View {
                    data: &bt,
                    rs: 1,
                    cs: k,
                },
                beta,
                &mut c,
                true,
            )
        });
        c
    }

    #[test]
    fn matches_naive_product_with_transposed_views() {
        let (m, k, n) = (600, 370, 129);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7) % 13) as f32 * 0.37 - 2.0)
            .collect();
        let bt: Vec<f32> = (0..n * k)
            .map(|i| ((i * 5) % 11) as f32 * 0.21 - 1.0)
            .collect();
        let c = product(2, 2.0);
        for i in (0..m).step_by(7) {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|p| a[i * k + p] as f64 * bt[j * k + p] as f64)
                    .sum();
                let want = s + 2.0 * (((i * n + j) % 3) as f64);
                assert!((c[i * n + j] as f64 - want).abs() < 1e-3 * want.abs().max(1.0));
            }
        }
    }

    #[test]
    fn bit_identical_for_one_and_two_threads() {
        for beta in [0.0, 1.0] {
            assert_eq!(product(1, beta), product(2, beta), "beta {beta}");
        }
    }
}
