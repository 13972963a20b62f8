// Batched selective scan (Mamba S6, the reference's discretisation), one thread per
// (sample, channel) with its N states in registers:
//   h_t[e,n] = exp(Δ_t[e]·A[e,n])·h_{t−1}[e,n] + (Δ_t[e] if dt_on_b else 1)·B_t[n]·x_t[e]
//   y_t[e]   = Σ_n C_t[n]·h_t[e,n] + D[e]·x_t[e]
// x, Δ, y: (B, L, E); B, C: (B, L, N); A: a[e·a_stride + n]; states: (B, L+1, N, E).
// The backward writes per-channel contributions to dB, dC ((B·L, N, E)) and per-sample
// partials of dA ((B, E, N)) and dD ((B, E)); the backend sums them in a fixed order.
#include "common.cuh"

struct ScanP {
  float* y;         // (B, L, E)
  float* h_last;    // final states (B, E, N), or null
  float* states;    // every state (B, L+1, N, E), or null
  const float* x;
  const float* delta;
  const float* a;
  const float* bm;
  const float* cm;
  const float* d;
  const float* h0;  // initial states (B, E, N), or null (zeros)
  i64 b, l, e, n, a_stride;
  int dt_on_b;
  int pad;
};

struct ScanBwdP {
  float* dx;        // (B, L, E), accumulated
  float* ddelta;    // (B, L, E), accumulated
  float* dbm_part;  // dB contributions (B·L, N, E), overwritten
  float* dcm_part;  // dC contributions (B·L, N, E), overwritten
  float* da_part;   // dA partials (B, E, N), overwritten
  float* dd_part;   // dD partials (B, E), overwritten
  float* dh0;       // (B, E, N), accumulated, or null
  const float* dy;
  const float* dh_last;  // (B, E, N), or null
  const float* states;   // the forward's (B, L+1, N, E)
  const float* x;
  const float* delta;
  const float* a;
  const float* bm;
  const float* cm;
  const float* d;
  i64 b, l, e, n, a_stride;
  int dt_on_b;
  int pad;
};

template <int NM>
__device__ void scan_fwd_impl(const ScanP& p) {
  i64 idx = gtid();
  if (idx >= p.b * p.e) return;
  const i64 bb = idx / p.e, c = idx % p.e, E = p.e, N = p.n, L = p.l;
  float h[NM], A[NM];
#pragma unroll
  for (int n = 0; n < NM; ++n) {
    h[n] = (n < N && p.h0) ? p.h0[(bb * E + c) * N + n] : 0.0f;
    A[n] = n < N ? p.a[c * p.a_stride + n] : 0.0f;
  }
  float* st = p.states ? p.states + bb * (L + 1) * N * E + c : nullptr;
  if (st) {
    for (int n = 0; n < NM; ++n)
      if (n < N) st[n * E] = h[n];
  }
  const float dc = p.d[c];
  for (i64 t = 0; t < L; ++t) {
    const i64 row = bb * L + t;
    const float xv = p.x[row * E + c], dt = p.delta[row * E + c];
    const float u = p.dt_on_b ? dt * xv : xv;
    const float* br = p.bm + row * N;
    const float* cr = p.cm + row * N;
    float acc = 0.0f;
#pragma unroll
    for (int n = 0; n < NM; ++n) {
      if (n < N) {
        h[n] = expf(dt * A[n]) * h[n] + br[n] * u;
        acc += cr[n] * h[n];
        if (st) st[((t + 1) * N + n) * E] = h[n];
      }
    }
    p.y[row * E + c] = acc + dc * xv;
  }
  if (p.h_last) {
    for (int n = 0; n < NM; ++n)
      if (n < N) p.h_last[(bb * E + c) * N + n] = h[n];
  }
}

template <int NM>
__device__ void scan_bwd_impl(const ScanBwdP& p) {
  i64 idx = gtid();
  if (idx >= p.b * p.e) return;
  const i64 bb = idx / p.e, c = idx % p.e, E = p.e, N = p.n, L = p.l;
  float dh[NM], A[NM], da[NM];
#pragma unroll
  for (int n = 0; n < NM; ++n) {
    dh[n] = (n < N && p.dh_last) ? p.dh_last[(bb * E + c) * N + n] : 0.0f;
    A[n] = n < N ? p.a[c * p.a_stride + n] : 0.0f;
    da[n] = 0.0f;
  }
  const float* st = p.states + bb * (L + 1) * N * E + c;
  const float dc = p.d[c];
  float dd = 0.0f;
  for (i64 t = L - 1; t >= 0; --t) {
    const i64 row = bb * L + t;
    const float xv = p.x[row * E + c], dt = p.delta[row * E + c], g = p.dy[row * E + c];
    const float dtb = p.dt_on_b ? dt : 1.0f;
    const float u = dtb * xv;
    const float* br = p.bm + row * N;
    const float* cr = p.cm + row * N;
    dd += g * xv;
    float dx = g * dc, ddt = 0.0f;
#pragma unroll
    for (int n = 0; n < NM; ++n) {
      if (n < N) {
        const float ht = st[((t + 1) * N + n) * E], hp = st[(t * N + n) * E];
        dh[n] += cr[n] * g;
        p.dcm_part[(row * N + n) * E + c] = g * ht;
        const float ea = expf(dt * A[n]);
        const float gd = dh[n] * hp * ea;
        ddt += gd * A[n];
        da[n] += gd * dt;
        p.dbm_part[(row * N + n) * E + c] = dh[n] * u;
        const float du = dh[n] * br[n];
        dx += du * dtb;
        if (p.dt_on_b) ddt += du * xv;
        dh[n] *= ea;
      }
    }
    p.dx[row * E + c] += dx;
    p.ddelta[row * E + c] += ddt;
  }
  for (int n = 0; n < NM; ++n) {
    if (n < N) {
      p.da_part[(bb * E + c) * N + n] = da[n];
      if (p.dh0) p.dh0[(bb * E + c) * N + n] += dh[n];
    }
  }
  p.dd_part[bb * E + c] = dd;
}

// One kernel per bound on N (registers are allocated for the bound): the host picks the
// smallest bound ≥ N.
#define QSSM_SCAN_KERNELS(NM)                                            \
  QSSM_KERNEL(scan_fwd_##NM, ScanP) { scan_fwd_impl<NM>(p); }           \
  QSSM_KERNEL(scan_bwd_##NM, ScanBwdP) { scan_bwd_impl<NM>(p); }
QSSM_SCAN_KERNELS(4)
QSSM_SCAN_KERNELS(8)
QSSM_SCAN_KERNELS(16)
QSSM_SCAN_KERNELS(32)
QSSM_SCAN_KERNELS(64)
