// Causal depthwise conv1d over time of x (B, L, E): PyTorch Conv1d(E, E, k, groups=E,
// padding=k−1) truncated to the first L outputs; w (E, k), bias (E). Its streaming form
// (conv1d_step) continues from the k−1 inputs before x, kept in hist (B, k−1, E).
#include "common.cuh"

struct ConvP {
  float* y;
  float* ws;
  float* hist;
  const float* x;
  const float* w;
  const float* bias;
  i64 b;
  i64 l;
  i64 e;
  i64 k;
  i64 chunk;
  i64 chunks;
};

// y[b,t,c] = bias[c] + Σ_j w[c,j]·x[b, t−(k−1)+j, c]
QSSM_KERNEL(conv1d_fwd, ConvP) {
  i64 n = p.b * p.l * p.e;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 c = i % p.e, t = (i / p.e) % p.l;
    float s = p.bias[c];
    for (i64 j = 0; j < p.k; ++j) {
      i64 ts = t - (p.k - 1) + j;
      if (ts >= 0) s += p.w[c * p.k + j] * p.x[i + (ts - t) * p.e];
    }
    p.y[i] = s;
  }
}

// dx (y) += Σ_j w[c,j]·dy[b, t+(k−1)−j, c]  (x = dy)
QSSM_KERNEL(conv1d_bwd_dx, ConvP) {
  i64 n = p.b * p.l * p.e;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 c = i % p.e, t = (i / p.e) % p.l;
    float s = 0.0f;
    for (i64 j = 0; j < p.k; ++j) {
      i64 to = t + (p.k - 1) - j;
      if (to < p.l) s += p.w[c * p.k + j] * p.x[i + (to - t) * p.e];
    }
    p.y[i] += s;
  }
}

// Partials of dw, dbias over chunks of the B·L rows: ws[ch] = (dw (E·k), dbias (E));
// x = dy, y = x (the forward input), read-only here
QSSM_KERNEL(conv1d_dw_partial, ConvP) {
  i64 n = p.chunks * p.e;
  i64 rows = p.b * p.l;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 ch = i / p.e, c = i % p.e;
    i64 r0 = ch * p.chunk, r1 = r0 + p.chunk < rows ? r0 + p.chunk : rows;
    float dw[16];
    for (int j = 0; j < 16; ++j) dw[j] = 0.0f;
    float db = 0.0f;
    for (i64 r = r0; r < r1; ++r) {
      i64 t = r % p.l;
      float g = p.x[r * p.e + c];
      db += g;
      for (i64 j = 0; j < p.k; ++j) {
        i64 ts = t - (p.k - 1) + j;
        if (ts >= 0) dw[j] += g * p.y[(r - t + ts) * p.e + c];
      }
    }
    float* o = p.ws + ch * (p.e * p.k + p.e);
    for (i64 j = 0; j < p.k; ++j) o[c * p.k + j] = dw[j];
    o[p.e * p.k + c] = db;
  }
}

// Streaming form: y (B, L, E) over x (B, L, E) continuing from hist (B, k−1, E), the k−1
// inputs before x, oldest first (zeros at the start of a stream: the zero padding); then
// hist ← the last k−1 inputs of [hist; x]. One thread per (b, c) owns its history column, so
// the in-place update does not race. The taps are summed in the order of conv1d_fwd.
QSSM_KERNEL(conv1d_step, ConvP) {
  i64 n = p.b * p.e, m = p.k - 1;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 c = i % p.e, b = i / p.e;
    float* h = p.hist + b * m * p.e + c;
    const float* x = p.x + b * p.l * p.e + c;
    float* y = p.y + b * p.l * p.e + c;
    for (i64 t = 0; t < p.l; ++t) {
      float s = p.bias[c];
      for (i64 j = 0; j < p.k; ++j) {
        i64 ts = t - m + j;  // < 0: the history row m + ts
        float v = ts >= 0 ? x[ts * p.e] : h[(m + ts) * p.e];
        s += p.w[c * p.k + j] * v;
      }
      y[t * p.e] = s;
    }
    // row j of the new history is row L + j of [hist; x]; L ≥ 1 keeps every read ahead of the
    // writes
    for (i64 j = 0; j < m; ++j) {
      i64 src = p.l + j;
      h[j * p.e] = src < m ? h[src * p.e] : x[(src - m) * p.e];
    }
  }
}
