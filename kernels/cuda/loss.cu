// Objective and parameter-buffer reductions.
#include "common.cuh"

// Per-row loss of outputs (rows, k): cross-entropy against classes (mse == 0) or MSE against
// values (mse == 1) for the first b rows (the rest are padding: zero gradient). Writes the row
// losses (host sums them in order) and dout = scale·d loss_row / d out.
struct LossP {
  float* dout;
  float* losses;
  const float* out;
  const float* values;
  const int* classes;
  i64 b;
  i64 rows;
  i64 k;
  float scale;
  int mse;
};

QSSM_KERNEL(loss_rows, LossP) {
  for (i64 r = gtid(); r < p.rows; r += gstride()) {
    const float* o = p.out + r * p.k;
    float* d = p.dout + r * p.k;
    if (r >= p.b) {
      for (i64 j = 0; j < p.k; ++j) d[j] = 0.0f;
      continue;
    }
    if (p.mse) {
      const float* t = p.values + r * p.k;
      float n = (float)p.k, l = 0.0f;
      for (i64 j = 0; j < p.k; ++j) {
        float e = o[j] - t[j];
        l += e * e / n;
        d[j] = 2.0f * e / n * p.scale;
      }
      p.losses[r] = l;
    } else {
      int y = p.classes[r];
      float m = -INFINITY;
      for (i64 j = 0; j < p.k; ++j) m = fmaxf(m, o[j]);
      float z = 0.0f;
      for (i64 j = 0; j < p.k; ++j) z += expf(o[j] - m);
      float inv = 1.0f / z;
      for (i64 j = 0; j < p.k; ++j) {
        float pj = expf(o[j] - m) * inv;
        d[j] = p.scale * (pj - (j == y ? 1.0f : 0.0f));
      }
      p.losses[r] = logf(z) - (o[y] - m);
    }
  }
}

// Block partial sums in f64 over n elements: ws[block] = Σ x² (kind 0), or the three sums
// Σ dy·x_k (kind 1: x = dy, x0..x2 the mixed inputs; ws[3·block + k]).
struct SumP {
  double* ws;
  const float* x;
  const float* x0;
  const float* x1;
  const float* x2;
  i64 n;
  int kind;
  int pad;
};

#define SUM_THREADS 256

QSSM_KERNEL(sum_partial, SumP) {
  __shared__ double red[3][SUM_THREADS / 32];
  double s[3] = {0.0, 0.0, 0.0};
  for (i64 i = gtid(); i < p.n; i += gstride()) {
    double v = (double)p.x[i];
    if (p.kind == 0) {
      s[0] += v * v;
    } else {
      s[0] += v * (double)p.x0[i];
      s[1] += v * (double)p.x1[i];
      s[2] += v * (double)p.x2[i];
    }
  }
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  for (int q = 0; q < 3; ++q) {
    double v = warp_sum_d(s[q]);
    if (lane == 0) red[q][w] = v;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int nq = p.kind == 0 ? 1 : 3;
    for (int q = 0; q < nq; ++q) {
      double t = 0.0;
      for (int i = 0; i < (int)blockDim.x / 32; ++i) t += red[q][i];
      p.ws[(i64)blockIdx.x * nq + q] = t;
    }
  }
}

// 1c's L1-normalised mix: w_k = c_k / (Σ|c_j| + eps), c_k = params[i_k].
struct MixP {
  float* y;
  float* dx1;
  float* dx2;
  float* g;
  const float* x0;
  const float* x1;
  const float* x2;
  const float* params;
  const double* ws;
  i64 n;
  i64 i0;
  i64 i1;
  i64 i2;
  i64 blocks;
  float eps;
  int pad;
};

__device__ __forceinline__ void mix_weights(const MixP& p, float w[3], float c[3], float* s) {
  c[0] = p.params[p.i0];
  c[1] = p.params[p.i1];
  c[2] = p.params[p.i2];
  *s = fabsf(c[0]) + fabsf(c[1]) + fabsf(c[2]) + p.eps;
  for (int k = 0; k < 3; ++k) w[k] = c[k] / *s;
}

// y = Σ w_k·x_k
QSSM_KERNEL(mix_fwd, MixP) {
  float w[3], c[3], s;
  mix_weights(p, w, c, &s);
  for (i64 i = gtid(); i < p.n; i += gstride())
    p.y[i] = w[0] * p.x0[i] + w[1] * p.x1[i] + w[2] * p.x2[i];
}

// dx_k += w_k·dy (y = dx0, x0 = dy here)
QSSM_KERNEL(mix_bwd_dx, MixP) {
  float w[3], c[3], s;
  mix_weights(p, w, c, &s);
  for (i64 i = gtid(); i < p.n; i += gstride()) {
    float d = p.x0[i];
    p.y[i] += w[0] * d;
    p.dx1[i] += w[1] * d;
    p.dx2[i] += w[2] * d;
  }
}

// g[i_j] += G_j/S − sgn(c_j)·Σ_k G_k·c_k/S², G from the block partials of sum_partial
QSSM_KERNEL(mix_bwd_coeffs, MixP) {
  if (gtid() != 0) return;
  float w[3], c[3], s;
  mix_weights(p, w, c, &s);
  double gk[3] = {0.0, 0.0, 0.0};
  for (i64 b = 0; b < p.blocks; ++b)
    for (int k = 0; k < 3; ++k) gk[k] += p.ws[b * 3 + k];
  double s64 = (double)s, dot = gk[0] * c[0] + gk[1] * c[1] + gk[2] * c[2];
  const i64 idx[3] = {p.i0, p.i1, p.i2};
  for (int j = 0; j < 3; ++j) {
    double sgn = c[j] > 0.0f ? 1.0 : (c[j] < 0.0f ? -1.0 : 0.0);
    p.g[idx[j]] += (float)(gk[j] / s64 - sgn * dot / (s64 * s64));
  }
}
