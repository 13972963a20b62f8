// Quantum-feature kernels: chunk attention pooling, one state-vector circuit per row (forward
// and adjoint backward, kernels/src/circuit/simulate.rs is the oracle), and the superposition of
// three branch outputs with normalised complex coefficients (kernels/src/backend/cpu/quantum.rs).
#include "common.cuh"

// ---- chunk attention pooling ---------------------------------------------------------------
// One warp per chunk of cs rows: w = softmax(scores of the chunk) (rows at or after `valid`
// within a sample take no weight when valid >= 0), s[c] = Σ_t w_t·u[t, c].
struct PoolP {
  float* s;
  float* wts;
  float* du;
  float* dscores;
  const float* u;
  const float* scores;
  const float* ds;
  i64 chunks;  // B·nc
  i64 nc;
  i64 cs;
  i64 f;
  i64 valid;  // rows per sample that count, or -1
};

QSSM_KERNEL(chunk_pool_fwd, PoolP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 ch = gtid() / 32; ch < p.chunks; ch += warps) {
    const i64 r0 = ch * p.cs;               // first row of the chunk (over all samples)
    const i64 t0 = (ch % p.nc) * p.cs;      // its first row within the sample
    float m = -INFINITY;
    for (i64 t = lane; t < p.cs; t += 32)
      if (p.valid < 0 || t0 + t < p.valid) m = fmaxf(m, p.scores[r0 + t]);
    m = warp_max(m);
    float z = 0.0f;
    for (i64 t = lane; t < p.cs; t += 32) {
      float e = (p.valid < 0 || t0 + t < p.valid) ? expf(p.scores[r0 + t] - m) : 0.0f;
      p.wts[r0 + t] = e;
      z += e;
    }
    z = warp_sum(z);
    float inv = 1.0f / z;
    __syncwarp();
    for (i64 t = lane; t < p.cs; t += 32) p.wts[r0 + t] *= inv;
    __syncwarp();
    for (i64 c = lane; c < p.f; c += 32) {
      float acc = 0.0f;
      for (i64 t = 0; t < p.cs; ++t) acc += p.wts[r0 + t] * p.u[(r0 + t) * p.f + c];
      p.s[ch * p.f + c] = acc;
    }
  }
}

// Streaming attention pool over every row so far (online softmax): one warp per sample b,
// the next L rows u (L, F) with scores (L); state m, z (B), acc (B, F), z = 0: no row yet.
// m' = max(m, max_t s_t), r = e^(m - m'), z = r·z + Σ_t e^(s_t - m'), acc = r·acc +
// Σ_t e^(s_t - m')·u_t (in time order), y = acc / z. Every lane reads m, z before lane 0
// writes them.
struct OnlinePoolP {
  float* y;
  float* m;
  float* z;
  float* acc;
  const float* u;
  const float* scores;
  i64 b;
  i64 l;
  i64 f;
};

QSSM_KERNEL(online_pool_fwd, OnlinePoolP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 b = gtid() / 32; b < p.b; b += warps) {
    const float* sb = p.scores + b * p.l;
    const float z0 = p.z[b];
    const float prev = z0 > 0.0f ? p.m[b] : -INFINITY;
    float mx = prev;
    for (i64 t = 0; t < p.l; ++t) mx = fmaxf(mx, sb[t]);
    const float r = expf(prev - mx);
    float zn = r * z0;
    for (i64 t = 0; t < p.l; ++t) zn += expf(sb[t] - mx);
    const float inv = 1.0f / zn;
    for (i64 c = lane; c < p.f; c += 32) {
      float a = p.acc[b * p.f + c] * r;
      for (i64 t = 0; t < p.l; ++t) a += expf(sb[t] - mx) * p.u[(b * p.l + t) * p.f + c];
      p.acc[b * p.f + c] = a;
      p.y[b * p.f + c] = a * inv;
    }
    __syncwarp();
    if (lane == 0) {
      p.m[b] = mx;
      p.z[b] = zn;
    }
  }
}

// g_t = ds·u_t; dscores_t += w_t·(g_t − Σ_τ w_τ·g_τ); du_t += w_t·ds
QSSM_KERNEL(chunk_pool_bwd, PoolP) {
  const int lane = threadIdx.x % 32;
  const i64 warps = gstride() / 32;
  for (i64 ch = gtid() / 32; ch < p.chunks; ch += warps) {
    const i64 r0 = ch * p.cs;
    const float* dsr = p.ds + ch * p.f;
    float gw = 0.0f;
    for (i64 t = 0; t < p.cs; ++t) {
      float acc = 0.0f;
      for (i64 c = lane; c < p.f; c += 32) acc += dsr[c] * p.u[(r0 + t) * p.f + c];
      gw += p.wts[r0 + t] * warp_sum(acc);
    }
    for (i64 t = 0; t < p.cs; ++t) {
      const float w = p.wts[r0 + t];
      float acc = 0.0f;
      for (i64 c = lane; c < p.f; c += 32) {
        acc += dsr[c] * p.u[(r0 + t) * p.f + c];
        p.du[(r0 + t) * p.f + c] += w * dsr[c];
      }
      float g = warp_sum(acc);
      if (lane == 0) p.dscores[r0 + t] += w * (g - gw);
    }
  }
}

// ---- circuits --------------------------------------------------------------------------------
// One warp per row; the state (and, backward, the adjoint state) of a row in dynamic shared
// memory: 2^Q complex128 amplitudes each, wire 0 the most significant bit (PennyLane). Gates
// come from the parameter struct: kind (0 RX, 1 RY, 2 RZ, 3 CRX) | target << 2 | control << 7 |
// source (0 θ, 1 encoding) << 12 | angle index << 16. Entries c = cos(θ/2), s = sin(θ/2) are
// built in f32 from the f32 angle and widened (spec §2.7), as on the CPU.
#define CIRCUIT_MAX_GATES 256

struct CircP {
  float* m;       // forward: (R, 3Q) expectation values
  float* dtheta;  // backward: (R, K) +=
  float* denc;    // backward: (R, n_enc) += (may be null)
  const float* theta;
  const float* enc;
  const float* dm;  // backward: (R, 3Q)
  double* states;   // (R, 2^Q) complex128 final states: written forward, read backward (or null)
  const double* gstate;  // backward from a state gradient G (R, 2^Q complex128), or null: from dm
  const double* init;    // initial states (R, 2^Q complex128), or null: |0…0⟩
  double* ginit;         // backward: G w.r.t. the initial states (R, 2^Q complex128), or null
  i64 rows;
  int q;
  int k;
  int n_enc;
  int n_gates;
  unsigned gates[CIRCUIT_MAX_GATES];
};

struct cplx {
  double re, im;
};

__device__ __forceinline__ void gate_cs(const CircP& p, i64 row, unsigned g, double* c,
                                        double* s) {
  unsigned idx = g >> 16;
  float th = ((g >> 12) & 1u) ? p.enc[row * p.n_enc + idx] : p.theta[row * p.k + idx];
  float h = th * 0.5f;
  *c = (double)cosf(h);
  *s = (double)sinf(h);
}

// exp(−iθ/2·P) with entries (c, s) on one pair; pass −s for the adjoint
__device__ __forceinline__ void rot(int axis, double c, double s, cplx* a0, cplx* a1) {
  cplx x = *a0, y = *a1;
  if (axis == 0) {  // [[c, −is], [−is, c]]
    *a0 = {c * x.re + s * y.im, c * x.im - s * y.re};
    *a1 = {c * y.re + s * x.im, c * y.im - s * x.re};
  } else if (axis == 1) {  // [[c, −s], [s, c]]
    *a0 = {c * x.re - s * y.re, c * x.im - s * y.im};
    *a1 = {s * x.re + c * y.re, s * x.im + c * y.im};
  } else {  // diag(c − is, c + is)
    *a0 = {c * x.re + s * x.im, c * x.im - s * x.re};
    *a1 = {c * y.re - s * y.im, c * y.im + s * y.re};
  }
}

// the i-th amplitude pair (k, k | tm) with the target bit clear
__device__ __forceinline__ i64 pair_lo(i64 i, int tb) {
  i64 tm = (i64)1 << tb;
  return ((i >> tb) << (tb + 1)) | (i & (tm - 1));
}

__device__ void apply_gates(const CircP& p, i64 row, cplx* psi, int lane) {
  const i64 half = (i64)1 << (p.q - 1);
  for (int gi = 0; gi < p.n_gates; ++gi) {
    unsigned g = p.gates[gi];
    int kind = g & 3u, tb = p.q - 1 - (int)((g >> 2) & 31u);
    i64 cm = kind == 3 ? (i64)1 << (p.q - 1 - (int)((g >> 7) & 31u)) : 0;
    double c, s;
    gate_cs(p, row, g, &c, &s);
    int axis = kind == 3 ? 0 : kind;
    for (i64 i = lane; i < half; i += 32) {
      i64 k0 = pair_lo(i, tb);
      if (cm && !(k0 & cm)) continue;
      rot(axis, c, s, &psi[k0], &psi[k0 | ((i64)1 << tb)]);
    }
    __syncwarp();
  }
}

__device__ void run_forward(const CircP& p, i64 row, cplx* psi, int lane) {
  const i64 n = (i64)1 << p.q;
  for (i64 i = lane; i < n; i += 32)
    psi[i] = p.init ? cplx{p.init[(row * n + i) * 2], p.init[(row * n + i) * 2 + 1]}
                    : cplx{i == 0 ? 1.0 : 0.0, 0.0};
  __syncwarp();
  apply_gates(p, row, psi, lane);
}

// ⟨X_w⟩, ⟨Y_w⟩, ⟨Z_w⟩ of every wire of a state (warp-cooperative; simulate.rs `expvals_xyz`),
// rounded to f32 into m[0..3Q] (order X_0..X_{Q−1}, Y_.., Z_..); lane 0 writes
__device__ void measure_xyz(const cplx* psi, int q, float* m, int lane) {
  const i64 half = (i64)1 << (q - 1);
  for (int w = 0; w < q; ++w) {
    int tb = q - 1 - w;
    double x = 0.0, y = 0.0, z = 0.0;
    for (i64 i = lane; i < half; i += 32) {
      i64 k0 = pair_lo(i, tb);
      cplx a0 = psi[k0], a1 = psi[k0 | ((i64)1 << tb)];
      x += a0.re * a1.re + a0.im * a1.im;
      y += a0.re * a1.im - a0.im * a1.re;
      z += (a0.re * a0.re + a0.im * a0.im) - (a1.re * a1.re + a1.im * a1.im);
    }
    x = warp_sum_d(x);
    y = warp_sum_d(y);
    z = warp_sum_d(z);
    if (lane == 0) {
      m[w] = (float)(2.0 * x);
      m[q + w] = (float)(2.0 * y);
      m[2 * q + w] = (float)z;
    }
  }
}

QSSM_KERNEL(circuit_fwd, CircP) {
  QSSM_DYN_SMEM(cplx, smem);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const i64 row = (i64)blockIdx.x * (blockDim.x / 32) + warp;
  if (row >= p.rows) return;  // whole warps leave together
  const i64 n = (i64)1 << p.q;
  cplx* psi = smem + (i64)warp * 2 * n;
  run_forward(p, row, psi, lane);
  if (p.states)
    for (i64 i = lane; i < n; i += 32) {
      p.states[(row * n + i) * 2] = psi[i].re;
      p.states[(row * n + i) * 2 + 1] = psi[i].im;
    }
  measure_xyz(psi, p.q, p.m + row * 3 * p.q, lane);
}

// Im⟨λ|P|φ⟩ on one pair (simulate.rs `im_lam_p_phi`)
__device__ __forceinline__ double im_lam_p_phi(int axis, cplx l0, cplx l1, cplx p0, cplx p1) {
  if (axis == 0) return (l0.re * p1.im - l0.im * p1.re) + (l1.re * p0.im - l1.im * p0.re);
  if (axis == 1) return (l1.re * p0.re + l1.im * p0.im) - (l0.re * p1.re + l0.im * p1.im);
  return (l0.re * p0.im - l0.im * p0.re) - (l1.re * p1.im - l1.im * p1.re);
}

QSSM_KERNEL(circuit_bwd, CircP) {
  QSSM_DYN_SMEM(cplx, smem);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, wpb = blockDim.x / 32;
  const i64 row = (i64)blockIdx.x * wpb + warp;
  if (row >= p.rows) return;
  const i64 n = (i64)1 << p.q, half = n / 2;
  cplx* phi = smem + (i64)warp * 2 * n;
  cplx* lam = phi + n;
  // per-warp f64 angle gradients after all the warps' states
  double* acc = reinterpret_cast<double*>(smem + (i64)wpb * 2 * n) + (i64)warp * (p.k + p.n_enc);
  for (int i = lane; i < p.k + p.n_enc; i += 32) acc[i] = 0.0;
  if (p.states) {
    for (i64 i = lane; i < n; i += 32)
      phi[i] = {p.states[(row * n + i) * 2], p.states[(row * n + i) * 2 + 1]};
    __syncwarp();
  } else {
    run_forward(p, row, phi, lane);
  }
  // λ = G/2 from a given state gradient, or λ = Σ_w (x_w X_w + y_w Y_w + z_w Z_w)|ψ⟩, one
  // wire at a time (pairs of a wire are disjoint)
  for (i64 i = lane; i < n; i += 32)
    lam[i] = p.gstate ? cplx{0.5 * p.gstate[(row * n + i) * 2], 0.5 * p.gstate[(row * n + i) * 2 + 1]}
                      : cplx{0.0, 0.0};
  __syncwarp();
  const float* dmr = p.dm ? p.dm + row * 3 * p.q : nullptr;
  for (int w = 0; w < (p.gstate ? 0 : p.q); ++w) {
    int tb = p.q - 1 - w;
    double x = dmr[w], y = dmr[p.q + w], z = dmr[2 * p.q + w];
    for (i64 i = lane; i < half; i += 32) {
      i64 k0 = pair_lo(i, tb), k1 = k0 | ((i64)1 << tb);
      cplx a0 = phi[k0], a1 = phi[k1];
      lam[k0].re += z * a0.re + x * a1.re + y * a1.im;
      lam[k0].im += z * a0.im + x * a1.im - y * a1.re;
      lam[k1].re += x * a0.re - y * a0.im - z * a1.re;
      lam[k1].im += x * a0.im + y * a0.re - z * a1.im;
    }
    __syncwarp();
  }
  // reverse sweep: grad = Im⟨λ|P|φ⟩, then φ ← U⁻¹φ (entries (c/r, −s/r)), λ ← U†λ
  for (int gi = p.n_gates - 1; gi >= 0; --gi) {
    unsigned g = p.gates[gi];
    int kind = g & 3u, tb = p.q - 1 - (int)((g >> 2) & 31u);
    i64 cm = kind == 3 ? (i64)1 << (p.q - 1 - (int)((g >> 7) & 31u)) : 0;
    int axis = kind == 3 ? 0 : kind;
    double c, s;
    gate_cs(p, row, g, &c, &s);
    double r = c * c + s * s, ci = c / r, si = s / r;
    double grad = 0.0;
    for (i64 i = lane; i < half; i += 32) {
      i64 k0 = pair_lo(i, tb), k1 = k0 | ((i64)1 << tb);
      if (cm && !(k0 & cm)) continue;
      grad += im_lam_p_phi(axis, lam[k0], lam[k1], phi[k0], phi[k1]);
      rot(axis, ci, -si, &phi[k0], &phi[k1]);
      rot(axis, c, -s, &lam[k0], &lam[k1]);
    }
    grad = warp_sum_d(grad);
    if (lane == 0) acc[((g >> 12) & 1u) ? p.k + (int)(g >> 16) : (int)(g >> 16)] += grad;
    __syncwarp();
  }
  for (int i = lane; i < p.k; i += 32) p.dtheta[row * p.k + i] += (float)acc[i];
  // λ = U†(G/2) after the sweep: G w.r.t. the initial state is 2λ
  if (p.ginit)
    for (i64 i = lane; i < n; i += 32) {
      p.ginit[(row * n + i) * 2] = 2.0 * lam[i].re;
      p.ginit[(row * n + i) * 2 + 1] = 2.0 * lam[i].im;
    }
  if (p.denc)
    for (int i = lane; i < p.n_enc; i += 32) p.denc[row * p.n_enc + i] += (float)acc[p.k + i];
}

// ---- superposition of three branches ---------------------------------------------------------
// c_k = (params[re_k], params[im_k]), n = √(Σ|c|² + eps); mode 0: y (rows, 3W) = [|c̄_k|·x_k],
// mode 1: y = Σ_k |c̄_k|·x_k, mode 2: y = |Σ_k c̄_k·x_k| (complex modulus), mode 3: y =
// |Σ_k c_k·x_k| (raw coefficients).
struct SupP {
  float* y;
  float* dx0;
  float* dx1;
  float* dx2;
  float* g;
  const float* x0;
  const float* x1;
  const float* x2;
  const float* dy;
  const float* params;
  double* ws;
  i64 rows;
  i64 w;
  i64 idx[6];  // re0, im0, re1, im1, re2, im2
  i64 blocks;
  float eps;
  int mode;
};

__device__ __forceinline__ void sup_coeffs(const SupP& p, float cr[3], float ci[3], float* n) {
  float s = 0.0f;
  for (int k = 0; k < 3; ++k) {
    cr[k] = p.params[p.idx[2 * k]];
    ci[k] = p.params[p.idx[2 * k + 1]];
    s += cr[k] * cr[k] + ci[k] * ci[k];
  }
  *n = sqrtf(s + p.eps);
}

QSSM_KERNEL(superpose_fwd, SupP) {
  float cr[3], ci[3], n;
  sup_coeffs(p, cr, ci, &n);
  const float* xs[3] = {p.x0, p.x1, p.x2};
  float a[3];
  for (int k = 0; k < 3; ++k) a[k] = sqrtf(cr[k] * cr[k] + ci[k] * ci[k]) / n;
  const i64 total = p.mode == 0 ? 3 * p.rows * p.w : p.rows * p.w;
  for (i64 i = gtid(); i < total; i += gstride()) {
    if (p.mode == 0) {
      i64 r = i / (3 * p.w), c = i % (3 * p.w), k = c / p.w, j = c % p.w;
      p.y[i] = a[k] * xs[k][r * p.w + j];
    } else if (p.mode == 1) {
      p.y[i] = a[0] * p.x0[i] + a[1] * p.x1[i] + a[2] * p.x2[i];
    } else {
      const float cn = p.mode == 2 ? n : 1.0f;
      float re = 0.0f, im = 0.0f;
      for (int k = 0; k < 3; ++k) {
        re += (p.mode == 2 ? cr[k] / cn : cr[k]) * xs[k][i];
        im += (p.mode == 2 ? ci[k] / cn : ci[k]) * xs[k][i];
      }
      p.y[i] = sqrtf(re * re + im * im);
    }
  }
}

// dx_k += …; and the block partials (f64) of the coefficient sums: modes 0/1 Σ dy_k·x_k
// (ws[6·block + k]), modes 2/3 Σ dRe·x_k, Σ dIm·x_k (ws[6·block + 2k], ws[6·block + 2k + 1]).
#define SUP_THREADS 256
QSSM_KERNEL(superpose_bwd, SupP) {
  __shared__ double red[6][SUP_THREADS / 32];
  float cr[3], ci[3], n;
  sup_coeffs(p, cr, ci, &n);
  const float* xs[3] = {p.x0, p.x1, p.x2};
  float* dxs[3] = {p.dx0, p.dx1, p.dx2};
  float a[3];
  for (int k = 0; k < 3; ++k) a[k] = sqrtf(cr[k] * cr[k] + ci[k] * ci[k]) / n;
  double s[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  for (i64 i = gtid(); i < p.rows * p.w; i += gstride()) {
    if (p.mode >= 2) {
      float br[3], bi[3];
      for (int k = 0; k < 3; ++k) {
        br[k] = p.mode == 2 ? cr[k] / n : cr[k];
        bi[k] = p.mode == 2 ? ci[k] / n : ci[k];
      }
      float re = 0.0f, im = 0.0f;
      for (int k = 0; k < 3; ++k) {
        re += br[k] * xs[k][i];
        im += bi[k] * xs[k][i];
      }
      float out = sqrtf(re * re + im * im);
      if (out <= 0.0f) continue;
      float dre = p.dy[i] * re / out, dim = p.dy[i] * im / out;
      for (int k = 0; k < 3; ++k) {
        float xv = xs[k][i];
        s[2 * k] += (double)dre * (double)xv;
        s[2 * k + 1] += (double)dim * (double)xv;
        dxs[k][i] += br[k] * dre + bi[k] * dim;
      }
    } else {
      i64 r = i / p.w, j = i % p.w;
      for (int k = 0; k < 3; ++k) {
        float gy = p.mode == 0 ? p.dy[r * 3 * p.w + k * p.w + j] : p.dy[i];
        s[k] += (double)gy * (double)xs[k][i];
        dxs[k][i] += a[k] * gy;
      }
    }
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int k = 0; k < 6; ++k) {
    double v = warp_sum_d(s[k]);
    if (lane == 0) red[k][warp] = v;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int k = 0; k < 6; ++k) {
      double t = 0.0;
      for (int w = 0; w < (int)(blockDim.x / 32); ++w) t += red[k][w];
      p.ws[blockIdx.x * 6 + k] = t;
    }
  }
}

// the six coefficient gradients from the block partials (cpu/quantum.rs `superpose_bwd`)
QSSM_KERNEL(superpose_bwd_coeffs, SupP) {
  if (gtid() != 0) return;
  float cr[3], ci[3], n;
  sup_coeffs(p, cr, ci, &n);
  double t[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  for (i64 b = 0; b < p.blocks; ++b)
    for (int k = 0; k < 6; ++k) t[k] += p.ws[b * 6 + k];
  double n64 = (double)n, n3 = n64 * n64 * n64;
  if (p.mode == 3) {
    for (int k = 0; k < 3; ++k) {
      p.g[p.idx[2 * k]] += (float)t[2 * k];
      p.g[p.idx[2 * k + 1]] += (float)t[2 * k + 1];
    }
  } else if (p.mode == 2) {
    double proj = 0.0;
    for (int k = 0; k < 3; ++k) proj += t[2 * k] * (double)cr[k] + t[2 * k + 1] * (double)ci[k];
    for (int k = 0; k < 3; ++k) {
      p.g[p.idx[2 * k]] += (float)(t[2 * k] / n64 - proj * (double)cr[k] / n3);
      p.g[p.idx[2 * k + 1]] += (float)(t[2 * k + 1] / n64 - proj * (double)ci[k] / n3);
    }
  } else {
    double a[3], sum_dw_a = 0.0;
    for (int k = 0; k < 3; ++k) {
      a[k] = (double)(sqrtf(cr[k] * cr[k] + ci[k] * ci[k]) / n) * n64;
      sum_dw_a += t[k] * a[k];
    }
    for (int k = 0; k < 3; ++k) {
      const double xs[2] = {(double)cr[k], (double)ci[k]};
      for (int j = 0; j < 2; ++j) {
        double direct = a[k] > 0.0 ? t[k] * xs[j] / (a[k] * n64) : 0.0;
        p.g[p.idx[2 * k + j]] += (float)(direct - sum_dw_a * xs[j] / n3);
      }
    }
  }
}

// ---- the S3 superposition core ------------------------------------------------------------------
// One warp per row: three states ψ_k (R, 2^Q complex128 each), w = (α, β, γ)/√(Σ|c|² + 1e-9)
// from params[coeffs..coeffs + 6], v = Σ w_k ψ_k, φ = v/(‖v‖ + 1e-9), m = ⟨X, Y, Z⟩ of φ.
// Backward: G_φ = 2·Σ dm·O φ, G_v = G_φ/(r+ε) − φ·Re⟨G_φ, φ⟩·(r+ε)/(r(r+ε)) … (superpose.rs), the
// state gradients G_ψk = conj(w_k)·G_v (written), the row's weight gradients Σ conj(ψ_k)·G_v
// (ws[row·6 ..]), summed over rows in order by s3_coeffs.
struct S3P {
  float* m;
  double* g0;
  double* g1;
  double* g2;
  float* g;
  double* ws;
  const double* s0;
  const double* s1;
  const double* s2;
  const float* dm;
  const float* params;
  i64 rows;
  i64 coeffs;
  int q;
  int pad;
};

__device__ __forceinline__ void s3_w(const S3P& p, cplx w[3]) {
  double s = 0.0;
  for (int k = 0; k < 3; ++k) {
    w[k] = {(double)p.params[p.coeffs + 2 * k], (double)p.params[p.coeffs + 2 * k + 1]};
    s += w[k].re * w[k].re + w[k].im * w[k].im;
  }
  double n = sqrt(s + 1e-9);
  for (int k = 0; k < 3; ++k) w[k] = {w[k].re / n, w[k].im / n};
}

// φ of one row into smem; returns r = ‖v‖
__device__ double s3_phi(const S3P& p, i64 row, const cplx w[3], cplx* phi, int lane) {
  const i64 n = (i64)1 << p.q;
  const double* st[3] = {p.s0, p.s1, p.s2};
  double ss = 0.0;
  for (i64 i = lane; i < n; i += 32) {
    cplx v = {0.0, 0.0};
    for (int k = 0; k < 3; ++k) {
      double a = st[k][(row * n + i) * 2], b = st[k][(row * n + i) * 2 + 1];
      v.re += w[k].re * a - w[k].im * b;
      v.im += w[k].re * b + w[k].im * a;
    }
    phi[i] = v;
    ss += v.re * v.re + v.im * v.im;
  }
  double r = sqrt(warp_sum_d(ss));
  double inv = 1.0 / (r + 1e-9);
  for (i64 i = lane; i < n; i += 32) phi[i] = {phi[i].re * inv, phi[i].im * inv};
  __syncwarp();
  return r;
}

QSSM_KERNEL(s3_fwd, S3P) {
  QSSM_DYN_SMEM(cplx, smem);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const i64 row = (i64)blockIdx.x * (blockDim.x / 32) + warp;
  if (row >= p.rows) return;
  const i64 n = (i64)1 << p.q;
  cplx* phi = smem + (i64)warp * 2 * n;
  cplx w[3];
  s3_w(p, w);
  s3_phi(p, row, w, phi, lane);
  measure_xyz(phi, p.q, p.m + row * 3 * p.q, lane);
}

QSSM_KERNEL(s3_bwd, S3P) {
  QSSM_DYN_SMEM(cplx, smem);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const i64 row = (i64)blockIdx.x * (blockDim.x / 32) + warp;
  if (row >= p.rows) return;
  const i64 n = (i64)1 << p.q, half = n / 2;
  cplx* phi = smem + (i64)warp * 2 * n;
  cplx* gphi = phi + n;
  cplx w[3];
  s3_w(p, w);
  const double r = s3_phi(p, row, w, phi, lane);
  // G_φ = 2·Σ_w (x X + y Y + z Z)|φ⟩
  for (i64 i = lane; i < n; i += 32) gphi[i] = {0.0, 0.0};
  __syncwarp();
  const float* dmr = p.dm + row * 3 * p.q;
  for (int wi = 0; wi < p.q; ++wi) {
    int tb = p.q - 1 - wi;
    double x = 2.0 * dmr[wi], y = 2.0 * dmr[p.q + wi], z = 2.0 * dmr[2 * p.q + wi];
    for (i64 i = lane; i < half; i += 32) {
      i64 k0 = pair_lo(i, tb), k1 = k0 | ((i64)1 << tb);
      cplx a0 = phi[k0], a1 = phi[k1];
      gphi[k0].re += z * a0.re + x * a1.re + y * a1.im;
      gphi[k0].im += z * a0.im + x * a1.im - y * a1.re;
      gphi[k1].re += x * a0.re - y * a0.im - z * a1.re;
      gphi[k1].im += x * a0.im + y * a0.re - z * a1.im;
    }
    __syncwarp();
  }
  // G_v = G_φ/re − φ·(re·coef), re = r + ε, coef = Re⟨G_φ, φ⟩·re / (r·re²)
  const double re = r + 1e-9;
  double dot = 0.0;
  for (i64 i = lane; i < n; i += 32) dot += gphi[i].re * phi[i].re + gphi[i].im * phi[i].im;
  dot = warp_sum_d(dot) * re;
  const double coef = r > 0.0 ? dot / (r * re * re) : 0.0;
  const double* st[3] = {p.s0, p.s1, p.s2};
  double* go[3] = {p.g0, p.g1, p.g2};
  double gw[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  for (i64 i = lane; i < n; i += 32) {
    cplx gv = {gphi[i].re / re - phi[i].re * (re * coef), gphi[i].im / re - phi[i].im * (re * coef)};
    for (int k = 0; k < 3; ++k) {
      double a = st[k][(row * n + i) * 2], b = st[k][(row * n + i) * 2 + 1];
      // G_w += conj(ψ)·G_v ; G_ψ = conj(w)·G_v
      gw[2 * k] += a * gv.re + b * gv.im;
      gw[2 * k + 1] += a * gv.im - b * gv.re;
      go[k][(row * n + i) * 2] = w[k].re * gv.re + w[k].im * gv.im;
      go[k][(row * n + i) * 2 + 1] = w[k].re * gv.im - w[k].im * gv.re;
    }
  }
  for (int k = 0; k < 6; ++k) {
    double v = warp_sum_d(gw[k]);
    if (lane == 0) p.ws[row * 6 + k] = v;
  }
}

// g[coeffs..+6] += the S3 weight backward of Σ_rows G_w (rows in order; superpose.rs)
QSSM_KERNEL(s3_coeffs, S3P) {
  if (gtid() != 0) return;
  double gr[3] = {0.0, 0.0, 0.0}, gi[3] = {0.0, 0.0, 0.0};
  for (i64 r = 0; r < p.rows; ++r)
    for (int k = 0; k < 3; ++k) {
      gr[k] += p.ws[r * 6 + 2 * k];
      gi[k] += p.ws[r * 6 + 2 * k + 1];
    }
  double ar[3], ai[3], s2 = 0.0;
  for (int k = 0; k < 3; ++k) {
    ar[k] = (double)p.params[p.coeffs + 2 * k];
    ai[k] = (double)p.params[p.coeffs + 2 * k + 1];
    s2 += ar[k] * ar[k] + ai[k] * ai[k];
  }
  double n = sqrt(s2 + 1e-9), s = 0.0;
  for (int k = 0; k < 3; ++k) s += gr[k] * ar[k] + gi[k] * ai[k];
  for (int k = 0; k < 3; ++k) {
    p.g[p.coeffs + 2 * k] += (float)(gr[k] / n - ar[k] * (s / (n * n * n)));
    p.g[p.coeffs + 2 * k + 1] += (float)(gi[k] / n - ai[k] * (s / (n * n * n)));
  }
}

// ---- 2a's linear combination of unitaries --------------------------------------------------------
// One warp per sample: nc states ψ_j (B, nc, 2^Q complex128), w_j = m_j/(Σ_k |m_k| + 1e-8) from
// the complex parameters params[mix + 2j], params[mix + 2j + 1]; v = Σ_j w_j ψ_j,
// φ = v/(‖v‖ + 1e-9). Backward (superpose.rs): G_v = G_φ/re − φ·Re⟨G_φ, φ⟩·re/(r·re), re = r + ε,
// G_ψj = conj(w_j)·G_v (written), the sample's G_wj = Σ conj(ψ_j)·G_v (ws[(b·nc + j)·2 ..]),
// summed over samples in order by lcu_coeffs.
struct LcuP {
  double* phi;
  double* gst;
  double* ws;
  float* g;
  const double* states;
  const double* gphi;
  const float* params;
  i64 rows;
  i64 mix;
  int nc;
  int q;
};

// Σ_k |m_k| + 1e-8 (every lane, in k order as on the CPU)
__device__ __forceinline__ double lcu_norm(const LcuP& p) {
  double s = 0.0;
  for (int k = 0; k < p.nc; ++k)
    s += hypot((double)p.params[p.mix + 2 * k], (double)p.params[p.mix + 2 * k + 1]);
  return s + 1e-8;
}

// v of one sample into out (lane-strided amplitudes); returns r = ‖v‖
__device__ double lcu_v(const LcuP& p, i64 b, double s, double* out, int lane) {
  const i64 n = (i64)1 << p.q;
  double ss = 0.0;
  for (i64 i = lane; i < n; i += 32) {
    cplx v = {0.0, 0.0};
    for (int j = 0; j < p.nc; ++j) {
      double wr = p.params[p.mix + 2 * j] / s, wi = p.params[p.mix + 2 * j + 1] / s;
      const double* a = p.states + ((b * p.nc + j) * n + i) * 2;
      v.re += wr * a[0] - wi * a[1];
      v.im += wr * a[1] + wi * a[0];
    }
    out[i * 2] = v.re;
    out[i * 2 + 1] = v.im;
    ss += v.re * v.re + v.im * v.im;
  }
  return sqrt(warp_sum_d(ss));
}

QSSM_KERNEL(lcu_fwd, LcuP) {
  const int lane = threadIdx.x % 32;
  const i64 n = (i64)1 << p.q, warps = gstride() / 32;
  const double s = lcu_norm(p);
  for (i64 b = gtid() / 32; b < p.rows; b += warps) {
    double* out = p.phi + b * n * 2;
    const double r = lcu_v(p, b, s, out, lane);
    const double inv = 1.0 / (r + 1e-9);
    // each lane rescales the words it wrote (amplitudes lane, lane + 32, …)
    for (i64 i = lane; i < n; i += 32) {
      out[2 * i] *= inv;
      out[2 * i + 1] *= inv;
    }
  }
}

QSSM_KERNEL(lcu_bwd, LcuP) {
  QSSM_DYN_SMEM(cplx, smem);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const i64 b = (i64)blockIdx.x * (blockDim.x / 32) + warp;
  if (b >= p.rows) return;
  const i64 n = (i64)1 << p.q;
  double* phi = reinterpret_cast<double*>(smem + (i64)warp * n);
  const double s = lcu_norm(p);
  const double r = lcu_v(p, b, s, phi, lane);
  const double re = r + 1e-9;
  for (i64 i = lane; i < n; i += 32) {  // φ (the amplitudes this lane wrote)
    phi[2 * i] /= re;
    phi[2 * i + 1] /= re;
  }
  const double* gp = p.gphi + b * n * 2;
  double dot = 0.0;
  for (i64 i = lane; i < n; i += 32) dot += gp[2 * i] * phi[2 * i] + gp[2 * i + 1] * phi[2 * i + 1];
  dot = warp_sum_d(dot) * re;
  const double coef = r > 0.0 ? dot / (r * re * re) : 0.0;
  for (int j = 0; j < p.nc; ++j) {
    double wr = p.params[p.mix + 2 * j] / s, wi = p.params[p.mix + 2 * j + 1] / s;
    const double* a = p.states + (b * p.nc + j) * n * 2;
    double* go = p.gst + (b * p.nc + j) * n * 2;
    double gwr = 0.0, gwi = 0.0;
    for (i64 i = lane; i < n; i += 32) {
      double gvr = gp[2 * i] / re - phi[2 * i] * (re * coef);
      double gvi = gp[2 * i + 1] / re - phi[2 * i + 1] * (re * coef);
      gwr += a[2 * i] * gvr + a[2 * i + 1] * gvi;
      gwi += a[2 * i] * gvi - a[2 * i + 1] * gvr;
      go[2 * i] = wr * gvr + wi * gvi;
      go[2 * i + 1] = wr * gvi - wi * gvr;
    }
    gwr = warp_sum_d(gwr);
    gwi = warp_sum_d(gwi);
    if (lane == 0) {
      p.ws[(b * p.nc + j) * 2] = gwr;
      p.ws[(b * p.nc + j) * 2 + 1] = gwi;
    }
  }
}

// g[mix..mix + 2nc] += the LCU weight backward of Σ_samples G_w (samples in order;
// superpose.rs lcu_weights_backward): G_mj = G_wj/s − (m_j/|m_j|)·Σ_i Re(conj(G_wi)·m_i)/s²
QSSM_KERNEL(lcu_coeffs, LcuP) {
  const int j = threadIdx.x;
  const double s = lcu_norm(p);
  double t = 0.0;
  for (int i = 0; i < p.nc; ++i) {
    double gr = 0.0, gi = 0.0;
    for (i64 b = 0; b < p.rows; ++b) {
      gr += p.ws[(b * p.nc + i) * 2];
      gi += p.ws[(b * p.nc + i) * 2 + 1];
    }
    t += gr * p.params[p.mix + 2 * i] + gi * p.params[p.mix + 2 * i + 1];
  }
  for (int k = j; k < p.nc; k += blockDim.x) {
    double gr = 0.0, gi = 0.0;
    for (i64 b = 0; b < p.rows; ++b) {
      gr += p.ws[(b * p.nc + k) * 2];
      gi += p.ws[(b * p.nc + k) * 2 + 1];
    }
    double mr = p.params[p.mix + 2 * k], mi = p.params[p.mix + 2 * k + 1];
    double a = hypot(mr, mi);
    double ur = a > 0.0 ? mr / a : 0.0, ui = a > 0.0 ? mi / a : 0.0;
    p.g[p.mix + 2 * k] += (float)(gr / s - ur * t / (s * s));
    p.g[p.mix + 2 * k + 1] += (float)(gi / s - ui * t / (s * s));
  }
}
