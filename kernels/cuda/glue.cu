// Layout glue: transposes, column split/concat, time reversal, mean over time.
#include "common.cuh"

// A generic (d0, d1, d2) index space over y and x; meaning per kernel.
struct GlueP {
  float* y;
  const float* x;
  i64 d0;
  i64 d1;
  i64 d2;
  i64 y_w;
  i64 y_off;
  i64 x_w;
  i64 x_off;
  float s;
  int acc;
};

// (B, C, T) → (B, T, C): d0 = B, d1 = C, d2 = T
QSSM_KERNEL(to_token_major, GlueP) {
  i64 n = p.d0 * p.d1 * p.d2;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 c = i % p.d1, t = (i / p.d1) % p.d2, b = i / (p.d1 * p.d2);
    p.y[i] = p.x[(b * p.d1 + c) * p.d2 + t];
  }
}

// y[r, y_off + c] (+)= x[r, x_off + c] for r < d0 rows, c < d1 columns
QSSM_KERNEL(copy_cols, GlueP) {
  i64 n = p.d0 * p.d1;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 r = i / p.d1, c = i % p.d1;
    float v = p.x[r * p.x_w + p.x_off + c];
    float* o = &p.y[r * p.y_w + p.y_off + c];
    *o = p.acc ? *o + v : v;
  }
}

// (B, L, W): y[b, t] (+)= x[b, L−1−t]; d0 = B, d1 = L, d2 = W
QSSM_KERNEL(reverse_time, GlueP) {
  i64 n = p.d0 * p.d1 * p.d2;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 c = i % p.d2, t = (i / p.d2) % p.d1, b = i / (p.d1 * p.d2);
    float v = p.x[(b * p.d1 + (p.d1 - 1 - t)) * p.d2 + c];
    p.y[i] = p.acc ? p.y[i] + v : v;
  }
}

// y (B, D) = mean over L of x (B, L, D), summed in time order; d0 = B, d1 = L, d2 = D
QSSM_KERNEL(mean_time, GlueP) {
  i64 n = p.d0 * p.d2;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 b = i / p.d2, c = i % p.d2;
    float s = 0.0f;
    for (i64 t = 0; t < p.d1; ++t) s += p.x[(b * p.d1 + t) * p.d2 + c];
    p.y[i] = s * p.s;
  }
}

// dx (B, L, D) += dy (B, D) · s
QSSM_KERNEL(mean_time_bwd, GlueP) {
  i64 n = p.d0 * p.d1 * p.d2;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 c = i % p.d2, b = i / (p.d1 * p.d2);
    p.y[i] += p.x[b * p.d2 + c] * p.s;
  }
}

// y (B, nc, W) = mean of each chunk of cs rows of x (B, L, W), the last chunk over its true
// length, summed in time order; d0 = B, d1 = L, d2 = W, y_w = cs, x_w = nc
QSSM_KERNEL(chunk_mean, GlueP) {
  i64 n = p.d0 * p.x_w * p.d2;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 c = i % p.d2, j = (i / p.d2) % p.x_w, b = i / (p.d2 * p.x_w);
    i64 t0 = j * p.y_w, t1 = t0 + p.y_w < p.d1 ? t0 + p.y_w : p.d1;
    float s = 0.0f;
    for (i64 t = t0; t < t1; ++t) s += p.x[(b * p.d1 + t) * p.d2 + c];
    p.y[i] = s * (1.0f / (float)(t1 - t0));
  }
}

// dx (B, L, W) += dy (B, nc, W) of the row's chunk / its length (same index space)
QSSM_KERNEL(chunk_mean_bwd, GlueP) {
  i64 n = p.d0 * p.d1 * p.d2;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 c = i % p.d2, t = (i / p.d2) % p.d1, b = i / (p.d2 * p.d1);
    i64 j = t / p.y_w, t0 = j * p.y_w, t1 = t0 + p.y_w < p.d1 ? t0 + p.y_w : p.d1;
    p.y[i] += p.x[(b * p.x_w + j) * p.d2 + c] * (1.0f / (float)(t1 - t0));
  }
}
