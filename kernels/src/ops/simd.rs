//! Run-time choice of the widest SIMD build of a kernel.

/// `simd_dispatch!(fn name(p: Operands<'_>) => kernel);` defines `fn name(p)` that runs the
/// `#[inline(always)]` function `kernel` compiled for AVX-512F or AVX2 when the CPU has it
/// (feature `std`, x86; the AVX2 build also needs FMA, which AVX-512F implies), else the
/// portable build. The kernels have no FMA contraction (a fused multiply-add is written out
/// where wanted, and has one definition) and fix their reduction order in code, so every build
/// gives bit-identical results.
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* fn $name:ident($p:ident: $ty:ty) => $kernel:ident) => {
        $(#[$meta])*
        fn $name($p: $ty) {
            #[cfg(all(feature = "std", any(target_arch = "x86", target_arch = "x86_64")))]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn wide($p: $ty) {
                    $kernel($p)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($p: $ty) {
                    $kernel($p)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: AVX-512F support was just checked.
                    return unsafe { wide($p) };
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: AVX2 and FMA support were just checked.
                    return unsafe { avx2($p) };
                }
            }
            $kernel($p)
        }
    };
}
pub(crate) use simd_dispatch;
