// Tiled SGEMM with arbitrary strides, batched over two levels, with a deterministic split-K:
// C (m×n, row stride c_rs) = alpha·A (m×k)·B (k×n) + beta·C.
// Element (i, j) of A is a[i·a_rs + j·a_cs] (likewise B), so transposed operands are strides.
// Batch z (grid.z when splits == 1) addresses A at a + (z / inner)·a_bs1 + (z % inner)·a_bs2.
// With splits > 1 (no batch), slice s of grid.z sums its part of k into ws[s] (m×n) and
// `gemm_reduce` adds the slices in order: no atomics, the same bits on every run.
#include "common.cuh"

struct GemmP {
  const float* a;
  const float* b;
  float* c;
  float* ws;
  i64 a_rs, a_cs, b_rs, b_cs, c_rs;
  i64 a_bs1, a_bs2, b_bs1, b_bs2, c_bs1, c_bs2;
  int m, n, k, inner, splits, k_chunk;
  float alpha, beta;
};

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16
#define GEMM_THREADS 256

QSSM_KERNEL(gemm, GemmP) {
  __shared__ float as[GEMM_BK][GEMM_BM + 4];
  __shared__ float bs[GEMM_BK][GEMM_BN + 4];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int row0 = blockIdx.y * GEMM_BM, col0 = blockIdx.x * GEMM_BN;
  const float* a = p.a;
  const float* b = p.b;
  float* c = p.c;
  int k_lo = 0, k_hi = p.k;
  if (p.splits > 1) {
    k_lo = blockIdx.z * p.k_chunk;
    k_hi = k_lo + p.k_chunk < p.k ? k_lo + p.k_chunk : p.k;
    c = p.ws + (i64)blockIdx.z * p.m * p.n;
  } else {
    i64 z1 = blockIdx.z / p.inner, z2 = blockIdx.z % p.inner;
    a += z1 * p.a_bs1 + z2 * p.a_bs2;
    b += z1 * p.b_bs1 + z2 * p.b_bs2;
    c += z1 * p.c_bs1 + z2 * p.c_bs2;
  }
  const bool a_k_fast = p.a_cs == 1;  // k contiguous in A: neighbouring threads read along k
  const bool b_n_fast = p.b_cs == 1;  // n contiguous in B: neighbouring threads read along n
  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
  for (int k0 = k_lo; k0 < k_hi; k0 += GEMM_BK) {
    for (int q = 0; q < 4; ++q) {
      int li = tid + q * GEMM_THREADS;
      int r, kk;
      if (a_k_fast) { kk = li % GEMM_BK; r = li / GEMM_BK; } else { r = li % GEMM_BM; kk = li / GEMM_BM; }
      int gr = row0 + r, gk = k0 + kk;
      as[kk][r] = (gr < p.m && gk < k_hi) ? a[(i64)gr * p.a_rs + (i64)gk * p.a_cs] : 0.0f;
      int cc;
      if (b_n_fast) { cc = li % GEMM_BN; kk = li / GEMM_BN; } else { kk = li % GEMM_BK; cc = li / GEMM_BK; }
      int gc = col0 + cc;
      gk = k0 + kk;
      bs[kk][cc] = (gc < p.n && gk < k_hi) ? b[(i64)gk * p.b_rs + (i64)gc * p.b_cs] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < GEMM_BK; ++kk) {
      float av[4], bv[4];
      for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
      for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i) {
    int gr = row0 + ty + 16 * i;
    if (gr >= p.m) continue;
    for (int j = 0; j < 4; ++j) {
      int gc = col0 + tx + 16 * j;
      if (gc >= p.n) continue;
      if (p.splits > 1) {
        c[(i64)gr * p.n + gc] = p.alpha * acc[i][j];
      } else {
        float* o = &c[(i64)gr * p.c_rs + gc];
        *o = p.beta == 0.0f ? p.alpha * acc[i][j] : p.alpha * acc[i][j] + p.beta * *o;
      }
    }
  }
}

// C = beta·C + Σ_s ws[s] (slices in order)
QSSM_KERNEL(gemm_reduce, GemmP) {
  i64 n = (i64)p.m * p.n;
  for (i64 i = gtid(); i < n; i += gstride()) {
    float s = 0.0f;
    for (int z = 0; z < p.splits; ++z) s += p.ws[(i64)z * n + i];
    float* o = &p.c[(i / p.n) * p.c_rs + i % p.n];
    *o = p.beta == 0.0f ? s : p.beta * *o + s;
  }
}
