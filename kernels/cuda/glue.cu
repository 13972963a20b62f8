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
  const float* x2;  // a second input (im2col3: a step's prev)
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

// Streaming mean over time: sum (B, D) += Σ_t x (B, L, D) in time order, y (B, D) = sum /
// (count + L); count (B) is advanced by running_count, launched after this kernel.
struct MeanStepP {
  float* y;
  float* sum;
  float* count;
  const float* x;
  i64 b;
  i64 l;
  i64 d;
};

QSSM_KERNEL(running_mean, MeanStepP) {
  i64 n = p.b * p.d;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 b = i / p.d, c = i % p.d;
    float s = p.sum[i];
    for (i64 t = 0; t < p.l; ++t) s += p.x[(b * p.l + t) * p.d + c];
    p.sum[i] = s;
    p.y[i] = s / (p.count[b] + (float)p.l);
  }
}

// x (B, L, W): rows t >= from ← 0; d0 = B, d1 = L, d2 = W, y_off = from
QSSM_KERNEL(zero_rows_from, GlueP) {
  i64 tail = (p.d1 - p.y_off) * p.d2;
  i64 n = p.d0 * tail;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 b = i / tail, j = i % tail;
    p.y[b * p.d1 * p.d2 + p.y_off * p.d2 + j] = 0.0f;
  }
}

// count (B) += L
QSSM_KERNEL(running_count, MeanStepP) {
  for (i64 b = gtid(); b < p.b; b += gstride()) p.count[b] += (float)p.l;
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

// Conv3's im2col, the window's and a streaming step's: y (B, L, 3C), y[b, t, 3c + k] = sample
// t + k − 1 of channel c of x (B, C, y_w samples per row), where sample −1 is x2[b, c] (0 if
// x2 is null: the window's zero edge) and the samples at or after x_w are 0. d0 = B, d1 = C,
// d2 = L. Window: L = x_w = y_w = T, no x2; step: x holds the L samples and the next one
// (y_w = L + 1), x_w = valid, x2 = prev, which im2col3_prev (launched after it) advances.
QSSM_KERNEL(im2col3, GlueP) {
  i64 n = p.d0 * p.d2 * 3 * p.d1;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 col = i % (3 * p.d1), t = (i / (3 * p.d1)) % p.d2, b = i / (3 * p.d1 * p.d2);
    i64 c = col / 3, ts = t + col % 3 - 1;
    float v = 0.0f;
    if (ts < 0) {
      if (p.x2) v = p.x2[b * p.d1 + c];
    } else if (ts < p.x_w) {
      v = p.x[(b * p.d1 + c) * p.y_w + ts];
    }
    p.y[i] = v;
  }
}

// prev (B, C) ← sample min(valid, L) − 1 of x (B, C, L+1); y = prev, d0 = B, d1 = C, d2 = L,
// x_w = valid
QSSM_KERNEL(im2col3_prev, GlueP) {
  i64 l1 = p.d2 + 1, last = (p.x_w < p.d2 ? p.x_w : p.d2) - 1;
  for (i64 i = gtid(); i < p.d0 * p.d1; i += gstride()) p.y[i] = p.x[i * l1 + last];
}

// Column segments scaled by per-row factors (kernels/src/backend/mod.rs `Segment`): segment g
// covers `width[g]` columns; in it, if scale[g] >= 0, the first prefix[g] columns of every
// period[g] are multiplied by s[r, scale[g]].
#define SEG_MAX 8
struct SegP {
  float* y;   // forward: y; backward: dx (+=)
  float* ds;  // backward: (R, S) +=
  const float* x;
  const float* s;
  const float* dy;
  i64 rows;
  i64 w;
  i64 sw;
  int n_seg;
  int width[SEG_MAX];
  int period[SEG_MAX];
  int prefix[SEG_MAX];
  int scale[SEG_MAX];
};

// the scale column of column c, or −1
__device__ __forceinline__ int seg_scale(const SegP& p, i64 c) {
  i64 o = 0;
  for (int g = 0; g < p.n_seg; ++g) {
    if (c < o + p.width[g]) {
      i64 j = c - o;
      return (p.scale[g] >= 0 && j % p.period[g] < p.prefix[g]) ? p.scale[g] : -1;
    }
    o += p.width[g];
  }
  return -1;
}

QSSM_KERNEL(scale_seg_fwd, SegP) {
  for (i64 i = gtid(); i < p.rows * p.w; i += gstride()) {
    i64 r = i / p.w;
    int k = seg_scale(p, i % p.w);
    p.y[i] = k >= 0 ? p.s[r * p.sw + k] * p.x[i] : p.x[i];
  }
}

QSSM_KERNEL(scale_seg_bwd_dx, SegP) {
  for (i64 i = gtid(); i < p.rows * p.w; i += gstride()) {
    i64 r = i / p.w;
    int k = seg_scale(p, i % p.w);
    p.y[i] += k >= 0 ? p.s[r * p.sw + k] * p.dy[i] : p.dy[i];
  }
}

// ds[r, k] += Σ x·dy over the columns s[r, k] scales, in column order (f64)
QSSM_KERNEL(scale_seg_bwd_ds, SegP) {
  for (i64 i = gtid(); i < p.rows * p.sw; i += gstride()) {
    i64 r = i / p.sw;
    int k = (int)(i % p.sw);
    double acc = 0.0;
    for (i64 c = 0; c < p.w; ++c)
      if (seg_scale(p, c) == k) acc += (double)p.x[r * p.w + c] * (double)p.dy[r * p.w + c];
    p.ds[i] += (float)acc;
  }
}
