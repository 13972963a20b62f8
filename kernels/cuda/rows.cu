// Row-wise ops (one warp per row): RMSNorm, softmax; and the deterministic two-stage column
// reductions (per-chunk partials, then a sum of the chunks in order) that every parameter
// gradient shared by many rows goes through.
#include "common.cuh"

struct RowP {
  float* y;
  float* aux;
  const float* x;
  const float* w;
  const float* z;
  i64 rows;
  i64 d;
  float eps;
  float scale;
};

// y = w·(x·rstd), rstd = 1/√(mean(x²) + eps) saved per row (aux)
QSSM_KERNEL(rmsnorm_fwd, RowP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    const float* xr = p.x + r * p.d;
    float ss = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) ss += xr[c] * xr[c];
    ss = warp_sum(ss);
    float rs = 1.0f / sqrtf(ss / (float)p.d + p.eps);
    for (i64 c = lane; c < p.d; c += 32) p.y[r * p.d + c] = p.w[c] * (xr[c] * rs);
    if (lane == 0) p.aux[r] = rs;
  }
}

// dx (y) += rstd·(dy·w − x̂·mean(dy·w·x̂)), x̂ = x·rstd; z = dy, aux = rstd
QSSM_KERNEL(rmsnorm_bwd_dx, RowP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    const float* xr = p.x + r * p.d;
    const float* dyr = p.z + r * p.d;
    float rs = p.aux[r];
    float s = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) s += dyr[c] * p.w[c] * (xr[c] * rs);
    float m = warp_sum(s) / (float)p.d;
    for (i64 c = lane; c < p.d; c += 32)
      p.y[r * p.d + c] += rs * (dyr[c] * p.w[c] - xr[c] * rs * m);
  }
}

// LayerNorm: y = (x − μ)·rstd·w + b, μ = mean(x), rstd = 1/√(mean((x − μ)²) + eps), both
// saved per row (aux = μ, z = rstd; z is written here)
struct LnP {
  float* y;
  float* mean;
  float* rstd;
  const float* x;
  const float* w;
  const float* b;
  const float* dy;
  i64 rows;
  i64 d;
  float eps;
  int pad;
};

QSSM_KERNEL(layernorm_fwd, LnP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    const float* xr = p.x + r * p.d;
    float s = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) s += xr[c];
    float mu = warp_sum(s) / (float)p.d;
    float v = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) v += (xr[c] - mu) * (xr[c] - mu);
    float rs = 1.0f / sqrtf(warp_sum(v) / (float)p.d + p.eps);
    for (i64 c = lane; c < p.d; c += 32) p.y[r * p.d + c] = (xr[c] - mu) * rs * p.w[c] + p.b[c];
    if (lane == 0) {
      p.mean[r] = mu;
      p.rstd[r] = rs;
    }
  }
}

// dx (y) += rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·w, x̂ = (x − μ)·rstd
QSSM_KERNEL(layernorm_bwd_dx, LnP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    const float* xr = p.x + r * p.d;
    const float* dyr = p.dy + r * p.d;
    const float mu = p.mean[r], rs = p.rstd[r];
    float sg = 0.0f, sgx = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) {
      float gw = dyr[c] * p.w[c];
      sg += gw;
      sgx += gw * ((xr[c] - mu) * rs);
    }
    float mg = warp_sum(sg) / (float)p.d, mgx = warp_sum(sgx) / (float)p.d;
    for (i64 c = lane; c < p.d; c += 32) {
      float xh = (xr[c] - mu) * rs;
      p.y[r * p.d + c] += rs * (dyr[c] * p.w[c] - mg - xh * mgx);
    }
  }
}

// y = x / N per row, N = √(Σ x² + eps) saved (aux)
QSSM_KERNEL(l2norm_fwd, RowP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    const float* xr = p.x + r * p.d;
    float ss = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) ss += xr[c] * xr[c];
    float n = sqrtf(warp_sum(ss) + p.eps);
    for (i64 c = lane; c < p.d; c += 32) p.y[r * p.d + c] = xr[c] / n;
    if (lane == 0) p.aux[r] = n;
  }
}

// dx (y) += dy/N − x·(Σ dy·x)/N³ per row; z = dy, aux = N
QSSM_KERNEL(l2norm_bwd, RowP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    const float* xr = p.x + r * p.d;
    const float* dyr = p.z + r * p.d;
    float s = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) s += dyr[c] * xr[c];
    float proj = warp_sum(s), n = p.aux[r];
    for (i64 c = lane; c < p.d; c += 32) p.y[r * p.d + c] += dyr[c] / n - xr[c] * proj / (n * n * n);
  }
}

// y[r] = mean of row r of x (rows × d), summed in double (lane-strided, then a fixed
// butterfly) and rounded once
QSSM_KERNEL(row_mean, RowP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    const float* xr = p.x + r * p.d;
    double s = 0.0;
    for (i64 c = lane; c < p.d; c += 32) s += (double)xr[c];
    s = warp_sum_d(s);
    if (lane == 0) p.y[r] = (float)(s / (double)p.d);
  }
}

// dx (y, rows × d) += dy[r] / d; x = dy
QSSM_KERNEL(row_mean_bwd, RowP) {
  const i64 n = p.rows * p.d;
  const float inv = 1.0f / (float)p.d;
  for (i64 i = gtid(); i < n; i += gstride()) p.y[i] += p.x[i / p.d] * inv;
}

// softmax of each row of y (rows × d) divided by `scale`, max-shifted, in place
QSSM_KERNEL(softmax_rows, RowP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    float* yr = p.y + r * p.d;
    float m = -INFINITY;
    for (i64 c = lane; c < p.d; c += 32) m = fmaxf(m, yr[c] / p.scale);
    m = warp_max(m);
    float s = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) {
      float e = expf(yr[c] / p.scale - m);
      yr[c] = e;
      s += e;
    }
    float inv = 1.0f / warp_sum(s);
    for (i64 c = lane; c < p.d; c += 32) yr[c] *= inv;
  }
}

// softmax backward in place: y = x ⊙ (y − rowsum(x ⊙ y)) / scale (y: dP in, dS out; x: P)
QSSM_KERNEL(softmax_bwd_rows, RowP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 r = gtid() / 32; r < p.rows; r += warps) {
    float* yr = p.y + r * p.d;
    const float* pr = p.x + r * p.d;
    float s = 0.0f;
    for (i64 c = lane; c < p.d; c += 32) s += yr[c] * pr[c];
    s = warp_sum(s);
    for (i64 c = lane; c < p.d; c += 32) yr[c] = pr[c] * (yr[c] - s) / p.scale;
  }
}

// Stage 1 of a column reduction over `rows` rows of width d, in chunks of `chunk` rows:
// ws[chunk_index, c] = Σ_rows x[r, c] (kind 0), Σ_rows x[r, c]·z[r, c]·aux[r] (kind 1, the
// RMSNorm weight gradient dy·x·rstd) or Σ_rows x[r, c]·(z[r, c] − aux2[r])·aux[r] (kind 2,
// the LayerNorm weight gradient dy·(x − μ)·rstd).
struct ColP {
  float* ws;
  float* g;
  const float* x;
  const float* z;
  const float* aux;
  const float* aux2;
  i64 rows;
  i64 d;
  i64 chunk;
  i64 chunks;
  i64 ws_stride;
  i64 ws_off;
  int kind;
  int pad;
};

QSSM_KERNEL(col_partial, ColP) {
  i64 n = p.chunks * p.d;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 ch = i / p.d, c = i % p.d;
    i64 r0 = ch * p.chunk, r1 = r0 + p.chunk < p.rows ? r0 + p.chunk : p.rows;
    float s = 0.0f;
    if (p.kind == 0) {
      for (i64 r = r0; r < r1; ++r) s += p.x[r * p.d + c];
    } else if (p.kind == 2) {
      for (i64 r = r0; r < r1; ++r)
        s += p.x[r * p.d + c] * ((p.z[r * p.d + c] - p.aux2[r]) * p.aux[r]);
    } else {
      for (i64 r = r0; r < r1; ++r) s += p.x[r * p.d + c] * p.z[r * p.d + c] * p.aux[r];
    }
    p.ws[ch * p.ws_stride + p.ws_off + c] = s;
  }
}

// Stage 2: g[c] += Σ_chunk ws[chunk·ws_stride + ws_off + c], chunks in order
QSSM_KERNEL(col_final, ColP) {
  for (i64 c = gtid(); c < p.d; c += gstride()) {
    float s = 0.0f;
    for (i64 ch = 0; ch < p.chunks; ++ch) s += p.ws[ch * p.ws_stride + p.ws_off + c];
    p.g[c] += s;
  }
}


// Grouped column sums: g[r, c] += Σ_{ch < chunks} x[(r·chunks + ch)·d + c] for r < rows,
// c < d (the scan's dB, dC: Σ over channels of (B·L, E, N) contributions)
QSSM_KERNEL(group_sum_rows, ColP) {
  i64 n = p.rows * p.d;
  for (i64 i = gtid(); i < n; i += gstride()) {
    i64 r = i / p.d, c = i % p.d;
    const float* x = p.x + r * p.chunks * p.d + c;
    float s = 0.0f;
    for (i64 ch = 0; ch < p.chunks; ++ch) s += x[ch * p.d];
    p.g[i] += s;
  }
}
