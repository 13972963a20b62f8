// Batched selective scan (Mamba S6, the reference's discretisation):
//   h_t[e,n] = exp(Δ_t[e]·A[e,n])·h_{t−1}[e,n] + (Δ_t[e] if dt_on_b else 1)·B_t[n]·x_t[e]
//   y_t[e]   = Σ_n C_t[n]·h_t[e,n] + D[e]·x_t[e]
// x, Δ, y: (B, L, E); B, C: (B, L, N); A: a[e·a_stride + n]; states: (B, L+1, E, N).
// One thread per (sample, channel, state): B·E·N threads, sequential over time. With
// `reverse`, step s consumes time L−1−s: states are stored by step, y and the gradients at
// their own time rows (a bidirectional SSM's backward branch without reversal copies).
// The backward writes per-channel contributions to dB, dC ((B·L, E, N)) and per-sample
// partials of dA ((B, E, N)) and dD ((B, E)); the backend sums them in a fixed order.
#include "common.cuh"

struct ScanP {
  float* y;         // (B, L, E)
  float* h_last;    // final states (B, E, N), or null
  float* states;    // every state (B, L+1, E, N), or null
  const float* x;
  const float* delta;
  const float* a;
  const float* bm;
  const float* cm;
  const float* d;
  const float* h0;  // initial states (B, E, N), or null (zeros)
  i64 b, l, e, n, a_stride;
  int dt_on_b;
  int reverse;  // step s consumes time L−1−s (states stay by step)
};

struct ScanBwdP {
  float* dx;        // (B, L, E), accumulated
  float* ddelta;    // (B, L, E), accumulated
  float* dbm_part;  // dB contributions (B·L, E, N), overwritten
  float* dcm_part;  // dC contributions (B·L, E, N), overwritten
  float* da_part;   // dA partials (B, E, N), overwritten
  float* dd_part;   // dD partials (B, E), overwritten
  float* dh0;       // (B, E, N), accumulated, or null
  const float* dy;
  const float* dh_last;  // (B, E, N), or null
  const float* states;   // the forward's (B, L+1, E, N)
  const float* x;
  const float* delta;
  const float* a;
  const float* bm;
  const float* cm;
  const float* d;
  i64 b, l, e, n, a_stride;
  int dt_on_b;
  int reverse;  // step s consumes time L−1−s (states stay by step)
};

// Lanes per channel: G = min(next power of two ≥ N, 32); lane j of a channel's group holds
// the states n = j and n = j + G (N ≤ 64). A warp holds 32 / G channels; the sums over n (y
// in the forward, dx and dΔ in the backward) are shuffles within the group.
__device__ __forceinline__ float group_sum(float v, int g) {
  for (int o = g / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ void scan_lane(i64 b, i64 e, i64 N, int* g_out, i64* bb, i64* c,
                                          int* j, bool* valid) {
  int g = 1;
  while (g < N && g < 32) g <<= 1;
  i64 t = gtid();
  i64 ch = t / g;
  *g_out = g;
  *j = (int)(t % g);
  *valid = ch < b * e;
  *bb = *valid ? ch / e : 0;
  *c = *valid ? ch % e : 0;
}

QSSM_KERNEL(scan_fwd, ScanP) {
  int g, j;
  i64 bb, c;
  bool valid;
  const i64 E = p.e, N = p.n, L = p.l;
  scan_lane(p.b, E, N, &g, &bb, &c, &j, &valid);
  float h[2], A[2];
  bool has[2];
  for (int k = 0; k < 2; ++k) {
    i64 n = j + k * g;
    has[k] = valid && n < N;
    h[k] = (has[k] && p.h0) ? p.h0[(bb * E + c) * N + n] : 0.0f;
    A[k] = has[k] ? p.a[c * p.a_stride + n] : 0.0f;
  }
  float* st = p.states ? p.states + (bb * (L + 1) * E + c) * N : nullptr;
  if (st) {
    for (int k = 0; k < 2; ++k)
      if (has[k]) st[j + k * g] = h[k];
  }
  const float dc = valid ? p.d[c] : 0.0f;
  // the step's inputs, loaded one step ahead (software pipelining)
  auto load = [&](i64 t, float* xv, float* dt, float bn[2], float cn[2]) {
    const i64 row = bb * L + (p.reverse ? L - 1 - t : t);
    *xv = valid ? p.x[row * E + c] : 0.0f;
    *dt = valid ? p.delta[row * E + c] : 0.0f;
    for (int k = 0; k < 2; ++k) {
      bn[k] = has[k] ? p.bm[row * N + j + k * g] : 0.0f;
      cn[k] = has[k] ? p.cm[row * N + j + k * g] : 0.0f;
    }
  };
  float nx, ndt, nb[2], nc[2];
  load(0, &nx, &ndt, nb, nc);
  for (i64 t = 0; t < L; ++t) {
    const float xv = nx, dt = ndt, bn[2] = {nb[0], nb[1]}, cn[2] = {nc[0], nc[1]};
    if (t + 1 < L) load(t + 1, &nx, &ndt, nb, nc);
    const i64 row = bb * L + (p.reverse ? L - 1 - t : t);
    const float u = p.dt_on_b ? dt * xv : xv;
    float acc = 0.0f;
    for (int k = 0; k < 2; ++k) {
      if (has[k]) {
        h[k] = expf(dt * A[k]) * h[k] + bn[k] * u;
        acc += cn[k] * h[k];
        if (st) st[(t + 1) * E * N + j + k * g] = h[k];
      }
    }
    acc = group_sum(acc, g);
    if (valid && j == 0) p.y[row * E + c] = acc + dc * xv;
  }
  if (p.h_last) {
    for (int k = 0; k < 2; ++k)
      if (has[k]) p.h_last[(bb * E + c) * N + j + k * g] = h[k];
  }
}

// What one backward step reads, loaded one step ahead (software pipelining: the loads of step
// t−1 are in flight while step t computes).
struct BwdIn {
  float xv, dt, gy, bn[2], cn[2], hp[2];
};

__device__ __forceinline__ BwdIn scan_bwd_load(const ScanBwdP& p, i64 bb, i64 c, int j, int g,
                                               const bool has[2], bool valid, i64 t) {
  const i64 E = p.e, N = p.n, L = p.l, row = bb * L + (p.reverse ? L - 1 - t : t);
  const float* st = p.states + (bb * (L + 1) * E + c) * N;
  BwdIn in;
  in.xv = valid ? p.x[row * E + c] : 0.0f;
  in.dt = valid ? p.delta[row * E + c] : 0.0f;
  in.gy = valid ? p.dy[row * E + c] : 0.0f;
  for (int k = 0; k < 2; ++k) {
    const i64 n = j + k * g;
    in.bn[k] = has[k] ? p.bm[row * N + n] : 0.0f;
    in.cn[k] = has[k] ? p.cm[row * N + n] : 0.0f;
    in.hp[k] = has[k] ? st[t * E * N + n] : 0.0f;
  }
  return in;
}

QSSM_KERNEL(scan_bwd, ScanBwdP) {
  int g, j;
  i64 bb, c;
  bool valid;
  const i64 E = p.e, N = p.n, L = p.l;
  scan_lane(p.b, E, N, &g, &bb, &c, &j, &valid);
  float dh[2], A[2], da[2];
  bool has[2];
  for (int k = 0; k < 2; ++k) {
    i64 n = j + k * g;
    has[k] = valid && n < N;
    dh[k] = (has[k] && p.dh_last) ? p.dh_last[(bb * E + c) * N + n] : 0.0f;
    A[k] = has[k] ? p.a[c * p.a_stride + n] : 0.0f;
    da[k] = 0.0f;
  }
  const float* st = p.states + (bb * (L + 1) * E + c) * N;
  const float dc = valid ? p.d[c] : 0.0f;
  float dd = 0.0f;
  // h_t of the step being differentiated (h_{t−1} arrives with the step's inputs)
  float hcur[2];
  for (int k = 0; k < 2; ++k) hcur[k] = has[k] ? st[L * E * N + j + k * g] : 0.0f;
  BwdIn next = scan_bwd_load(p, bb, c, j, g, has, valid, L - 1);
  for (i64 t = L - 1; t >= 0; --t) {
    const BwdIn in = next;
    if (t > 0) next = scan_bwd_load(p, bb, c, j, g, has, valid, t - 1);
    const i64 row = bb * L + (p.reverse ? L - 1 - t : t);
    const float dtb = p.dt_on_b ? in.dt : 1.0f;
    const float u = dtb * in.xv;
    float dx = 0.0f, ddt = 0.0f;
    for (int k = 0; k < 2; ++k) {
      if (has[k]) {
        const i64 n = j + k * g;
        const float ht = hcur[k], hp = in.hp[k];
        hcur[k] = hp;
        dh[k] += in.cn[k] * in.gy;
        p.dcm_part[(row * E + c) * N + n] = in.gy * ht;
        const float ea = expf(in.dt * A[k]);
        const float gd = dh[k] * hp * ea;
        ddt += gd * A[k];
        da[k] += gd * in.dt;
        p.dbm_part[(row * E + c) * N + n] = dh[k] * u;
        const float du = dh[k] * in.bn[k];
        dx += du * dtb;
        if (p.dt_on_b) ddt += du * in.xv;
        dh[k] *= ea;
      }
    }
    dx = group_sum(dx, g);
    ddt = group_sum(ddt, g);
    if (valid && j == 0) {
      dd += in.gy * in.xv;
      p.dx[row * E + c] += dx + in.gy * dc;
      p.ddelta[row * E + c] += ddt;
    }
  }
  for (int k = 0; k < 2; ++k) {
    if (has[k]) {
      const i64 n = j + k * g;
      p.da_part[(bb * E + c) * N + n] = da[k];
      if (p.dh0) p.dh0[(bb * E + c) * N + n] += dh[k];
    }
  }
  if (valid && j == 0) p.dd_part[bb * E + c] = dd;
}
