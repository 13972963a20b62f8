// Shared definitions of the qssm CUDA kernels. Every kernel takes one parameter struct by
// value; the structs are mirrored field for field by `#[repr(C)]` structs in
// `kernels/src/backend/gpu/params.rs` (pointers there are u64 device addresses).
// With QSSM_EMU defined the same sources compile with a host C++20 compiler through the
// project's emulation header (tests on the CPU, see emu/cuda_emu.h).
#pragma once
#ifdef QSSM_EMU
#include "emu/cuda_emu.h"
#else
#define QSSM_KERNEL(name, P) extern "C" __global__ void name(const P p)
#define QSSM_DYN_SMEM(T, name)                                   \
  extern __shared__ __align__(16) unsigned char qssm_dyn_smem_[]; \
  T* name = reinterpret_cast<T*>(qssm_dyn_smem_)
#endif

typedef long long i64;
typedef unsigned long long u64;

// index of this thread over the whole grid (x only), and the grid-stride step
__device__ __forceinline__ i64 gtid() { return (i64)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ i64 gstride() { return (i64)gridDim.x * blockDim.x; }

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
