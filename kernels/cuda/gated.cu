// The gated cell of the gated models (kernels/src/ops/gated.rs), one thread per (sample, k):
// pre (B, 4H) = [a_f | a_i | a_o | a_g] → gates (B, 4H) = [σ, σ, σ, tanh], tc = tanh(f·h_prev
// + i·g), h = o·tc; backward from dh.
#include "common.cuh"

struct CellP {
  float* h;       // forward: (B, H)
  float* gates;   // forward: written; backward: read
  float* tc;      // forward: written; backward: read
  float* dpre;    // backward: (B, 4H) +=
  float* dh_prev; // backward: (B, H) += (or null)
  const float* pre;
  const float* h_prev;  // (B, H) or null (zeros)
  const float* dh;
  i64 b;
  i64 hd;
};

QSSM_KERNEL(gated_cell_fwd, CellP) {
  for (i64 i = gtid(); i < p.b * p.hd; i += gstride()) {
    i64 b = i / p.hd, k = i % p.hd;
    const float* a = p.pre + b * 4 * p.hd;
    float* g = p.gates + b * 4 * p.hd;
    float f = sigmoidf_(a[k]), in = sigmoidf_(a[p.hd + k]), o = sigmoidf_(a[2 * p.hd + k]);
    float gg = tanhf(a[3 * p.hd + k]);
    g[k] = f;
    g[p.hd + k] = in;
    g[2 * p.hd + k] = o;
    g[3 * p.hd + k] = gg;
    float hp = p.h_prev ? p.h_prev[i] : 0.0f;
    float t = tanhf(f * hp + in * gg);
    p.tc[i] = t;
    p.h[i] = o * t;
  }
}

QSSM_KERNEL(gated_cell_bwd, CellP) {
  for (i64 i = gtid(); i < p.b * p.hd; i += gstride()) {
    i64 b = i / p.hd, k = i % p.hd;
    const float* g = p.gates + b * 4 * p.hd;
    float* d = p.dpre + b * 4 * p.hd;
    float f = g[k], in = g[p.hd + k], o = g[2 * p.hd + k], gg = g[3 * p.hd + k];
    float t = p.tc[i], hp = p.h_prev ? p.h_prev[i] : 0.0f;
    float d_o = p.dh[i] * t;
    float ds = p.dh[i] * o * (1.0f - t * t);
    d[k] += ds * hp * f * (1.0f - f);
    d[p.hd + k] += ds * gg * in * (1.0f - in);
    d[2 * p.hd + k] += d_o * o * (1.0f - o);
    d[3 * p.hd + k] += ds * in * (1.0f - gg * gg);
    if (p.dh_prev) p.dh_prev[i] += ds * f;
  }
}
