// The optimiser step on the device: clip by the global gradient norm, then one Adam/AdamW
// element update (kernels/src/ops/adam.rs, rounded the same way: no contraction into FMAs
// except where the formula has them).
#include "common.cuh"

struct AdamP {
  float* p;
  float* g;
  float* m;
  float* v;
  const float* active;      // 1: update, 0: frozen
  const double* norm_parts;  // block partials of Σg² (sum_partial), if clip
  i64 n;
  i64 n_parts;
  float max_norm;
  int clip;
  float neg_step, bc2_sqrt, w1, b2, c2, eps, decay, wd;
  int mode;  // 0 none, 1 decoupled (AdamW), 2 L2 (Adam)
  int pad;
};

QSSM_KERNEL(adam_step, AdamP) {
  __shared__ float coef_s;
  if (threadIdx.x == 0) {
    float coef = 1.0f;
    if (p.clip) {
      double s = 0.0;
      for (i64 i = 0; i < p.n_parts; ++i) s += p.norm_parts[i];
      float total = (float)sqrt(s);
      float c = p.max_norm / (total + 1e-6f);
      if (c < 1.0f) coef = c;  // NaN norm: no scaling (PyTorch)
    }
    coef_s = coef;
  }
  __syncthreads();
  const float coef = coef_s;
  for (i64 i = gtid(); i < p.n; i += gstride()) {
    float g = p.g[i];
    if (coef != 1.0f) {
      g = __fmul_rn(g, coef);
      p.g[i] = g;
    }
    if (p.active[i] == 0.0f) continue;
    float pv = p.p[i];
    if (p.mode == 1) pv = __fmul_rn(pv, p.decay);
    else if (p.mode == 2) g = fmaf(pv, p.wd, g);
    float m = p.m[i];
    float d = __fsub_rn(g, m);
    m = fabsf(p.w1) < 0.5f ? fmaf(p.w1, d, m) : fmaf(p.w1 - 1.0f, d, g);
    float v = __fadd_rn(__fmul_rn(p.v[i], p.b2), __fmul_rn(__fmul_rn(p.c2, g), g));
    p.m[i] = m;
    p.v[i] = v;
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), p.bc2_sqrt), p.eps);
    p.p[i] = __fadd_rn(pv, __fdiv_rn(__fmul_rn(p.neg_step, m), denom));
  }
}
