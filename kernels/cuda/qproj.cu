// The quantum projection of the HQC Mamba (kernels/src/circuit/qproj.rs; spec
// hqc-mamba-and-quantum-train §3.4), one warp per row, the complex128 state in shared memory:
// amplitude encoding with the ε-norm, StronglyEntanglingLayers (Rot = RZ·RY·RZ per wire, then
// the CNOT ring of range r_l), marginal probabilities of wires 0..m−1, y = ρ·γ·(2^m·q − 1) + β.
// The backward recomputes the state and runs the adjoint sweep; each row's (dW, dγ, dβ) lands
// in ws (rows, per) as f64 and qproj_reduce sums them in row order. Uses cplx, pair_lo, rot and
// im_lam_p_phi of quantum.cu (same translation unit).
#include "common.cuh"

#define QPROJ_MAX_LAYERS 16

struct QProjArgs {
  float* y;         // forward: (R, d_out)
  float* dx;        // backward: (R, d_in) += (or null)
  double* ws;       // backward: (R, per) per-row (dW | dγ | dβ)
  float* gw;        // reduce: g[W] +=
  float* gg;        // reduce: g[γ] += (or null)
  float* gb;        // reduce: g[β] += (or null)
  const float* x;   // (R, d_in)
  const float* dy;  // backward: (R, d_out)
  const float* w;   // (L, n, 3)
  const float* gamma;
  const float* beta;
  i64 rows;
  int d_in;
  int d_out;
  int n;
  int m;
  int layers;
  int affine;  // 0 per output, 1 scalar, 2 none
  int rescale;
  int per;     // 3·L·n + 2·(number of γ)
  int ranges[QPROJ_MAX_LAYERS];
};

__device__ __forceinline__ int qp_na(const QProjArgs& p) {
  return p.affine == 0 ? p.d_out : (p.affine == 1 ? 1 : 0);
}

// exp(−iθ/2·P) (or its adjoint) on wire `wire`
__device__ void qp_rotate(cplx* psi, int n, int wire, int axis, double theta, bool adjoint,
                          int lane) {
  const i64 half = (i64)1 << (n - 1);
  const int tb = n - 1 - wire;
  double c = cos(0.5 * theta), s = sin(0.5 * theta);
  if (adjoint) s = -s;
  for (i64 i = lane; i < half; i += 32) {
    i64 k0 = pair_lo(i, tb);
    rot(axis, c, s, &psi[k0], &psi[k0 | ((i64)1 << tb)]);
  }
  __syncwarp();
}

__device__ void qp_cnot(cplx* psi, int n, int control, int target, int lane) {
  const i64 half = (i64)1 << (n - 1);
  const int tb = n - 1 - target;
  const i64 cm = (i64)1 << (n - 1 - control);
  for (i64 i = lane; i < half; i += 32) {
    i64 k0 = pair_lo(i, tb);
    if (!(k0 & cm)) continue;
    cplx t = psi[k0];
    psi[k0] = psi[k0 | ((i64)1 << tb)];
    psi[k0 | ((i64)1 << tb)] = t;
  }
  __syncwarp();
}

// the CNOT ring of layer l, forward or in reverse order
__device__ void qp_ring(const QProjArgs& p, cplx* psi, int l, bool reverse, int lane) {
  if (p.n < 2) return;
  for (int k = 0; k < p.n; ++k) {
    int i = reverse ? p.n - 1 - k : k;
    qp_cnot(psi, p.n, i, (i + p.ranges[l]) % p.n, lane);
  }
}

// ψ_L of row `row` in psi; returns ‖x‖_ε
__device__ double qp_run(const QProjArgs& p, i64 row, cplx* psi, int lane) {
  const i64 size = (i64)1 << p.n;
  const float* x = p.x + row * p.d_in;
  double ss = 0.0;
  for (int i = lane; i < p.d_in; i += 32) ss += (double)x[i] * (double)x[i];
  ss = warp_sum_d(ss);
  const double norm = sqrt(ss + 1e-12);
  for (i64 i = lane; i < size; i += 32) psi[i] = {i < p.d_in ? (double)x[i] / norm : 0.0, 0.0};
  __syncwarp();
  for (int l = 0; l < p.layers; ++l) {
    for (int wi = 0; wi < p.n; ++wi) {
      const float* a = p.w + 3 * (l * p.n + wi);
      qp_rotate(psi, p.n, wi, 2, (double)a[0], false, lane);
      qp_rotate(psi, p.n, wi, 1, (double)a[1], false, lane);
      qp_rotate(psi, p.n, wi, 2, (double)a[2], false, lane);
    }
    qp_ring(p, psi, l, false, lane);
  }
  return norm;
}

__device__ __forceinline__ double qp_q(const QProjArgs& p, const cplx* psi, int j) {
  const i64 block = (i64)1 << (p.n - p.m);
  double q = 0.0;
  for (i64 r = 0; r < block; ++r) {
    cplx a = psi[j * block + r];
    q += a.re * a.re + a.im * a.im;
  }
  return q;
}

__device__ __forceinline__ void qp_affine(const QProjArgs& p, int j, double* g, double* b) {
  if (p.affine == 2) {
    *g = 1.0;
    *b = 0.0;
  } else {
    int k = p.affine == 0 ? j : 0;
    *g = (double)p.gamma[k];
    *b = (double)p.beta[k];
  }
}

QSSM_KERNEL(qproj_fwd, QProjArgs) {
  QSSM_DYN_SMEM(cplx, smem);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const i64 row = (i64)blockIdx.x * (blockDim.x / 32) + warp;
  if (row >= p.rows) return;  // whole warps leave together
  cplx* psi = smem + (i64)warp * ((i64)1 << p.n);
  const double norm = qp_run(p, row, psi, lane);
  const double rho = p.rescale ? norm / sqrt((double)p.d_in) : 1.0;
  const double scale = (double)((i64)1 << p.m);
  for (int j = lane; j < p.d_out; j += 32) {
    double g, b;
    qp_affine(p, j, &g, &b);
    p.y[row * p.d_out + j] = (float)(rho * g * (scale * qp_q(p, psi, j) - 1.0) + b);
  }
}

QSSM_KERNEL(qproj_bwd, QProjArgs) {
  QSSM_DYN_SMEM(cplx, smem);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const i64 row = (i64)blockIdx.x * (blockDim.x / 32) + warp;
  if (row >= p.rows) return;
  const i64 size = (i64)1 << p.n;
  cplx* psi = smem + (i64)warp * 2 * size;
  cplx* lam = psi + size;
  double* part = p.ws + row * p.per;
  const int nw = 3 * p.layers * p.n, na = qp_na(p);
  const double norm = qp_run(p, row, psi, lane);
  const double rho = p.rescale ? norm / sqrt((double)p.d_in) : 1.0;
  const double scale = (double)((i64)1 << p.m);
  const float* dy = p.dy + row * p.d_out;
  // dγ, dβ, dρ from q (one output per lane), then λ = diag(∂L/∂p)·ψ
  double drho = 0.0, dgs = 0.0, dbs = 0.0;
  for (int j = lane; j < p.d_out; j += 32) {
    double g, b, d = (double)dy[j];
    qp_affine(p, j, &g, &b);
    double u = scale * qp_q(p, psi, j) - 1.0;
    drho += g * u * d;
    if (p.affine == 0) {
      part[nw + j] = rho * u * d;
      part[nw + na + j] = d;
    } else {
      dgs += rho * u * d;
      dbs += d;
    }
  }
  drho = warp_sum_d(drho);
  dgs = warp_sum_d(dgs);
  dbs = warp_sum_d(dbs);
  if (p.affine == 1 && lane == 0) {
    part[nw] = dgs;
    part[nw + 1] = dbs;
  }
  const int shift = p.n - p.m;
  for (i64 i = lane; i < size; i += 32) {
    int j = (int)(i >> shift);
    double gq = 0.0;
    if (j < p.d_out) {
      double g, b;
      qp_affine(p, j, &g, &b);
      gq = scale * rho * g * (double)dy[j];
    }
    lam[i] = {gq * psi[i].re, gq * psi[i].im};
  }
  __syncwarp();
  // reverse sweep: dθ = Im⟨λ|P|ψ⟩, then ψ ← G†ψ, λ ← G†λ
  for (int l = p.layers - 1; l >= 0; --l) {
    qp_ring(p, psi, l, true, lane);
    qp_ring(p, lam, l, true, lane);
    for (int wi = p.n - 1; wi >= 0; --wi) {
      const int tb = p.n - 1 - wi;
      for (int k = 2; k >= 0; --k) {
        const int axis = k == 1 ? 1 : 2;
        double acc = 0.0;
        for (i64 i = lane; i < size / 2; i += 32) {
          i64 k0 = pair_lo(i, tb), k1 = k0 | ((i64)1 << tb);
          acc += im_lam_p_phi(axis, lam[k0], lam[k1], psi[k0], psi[k1]);
        }
        acc = warp_sum_d(acc);
        if (lane == 0) part[3 * (l * p.n + wi) + k] = acc;
        __syncwarp();
        const double th = (double)p.w[3 * (l * p.n + wi) + k];
        qp_rotate(psi, p.n, wi, axis, th, true, lane);
        qp_rotate(lam, p.n, wi, axis, th, true, lane);
      }
    }
  }
  if (!p.dx) return;
  // ψ is ψ0 again (real); ∂L/∂ψ0 = 2·Re(λ0), through the normalisation, plus the ρ path
  double dot = 0.0;
  for (int i = lane; i < p.d_in; i += 32) dot += psi[i].re * 2.0 * lam[i].re;
  dot = warp_sum_d(dot);
  const float* x = p.x + row * p.d_in;
  const double drho_dx = p.rescale ? drho / (norm * sqrt((double)p.d_in)) : 0.0;
  for (int i = lane; i < p.d_in; i += 32) {
    double gx = (2.0 * lam[i].re - psi[i].re * dot) / norm;
    p.dx[row * p.d_in + i] += (float)(gx + drho_dx * (double)x[i]);
  }
}

// g[W | γ | β] += Σ_rows ws[row, c], rows in order
QSSM_KERNEL(qproj_reduce, QProjArgs) {
  const int nw = 3 * p.layers * p.n, na = qp_na(p);
  for (i64 c = gtid(); c < p.per; c += gstride()) {
    double s = 0.0;
    for (i64 r = 0; r < p.rows; ++r) s += p.ws[r * p.per + c];
    if (c < nw)
      p.gw[c] += (float)s;
    else if (c < nw + na)
      p.gg[c - nw] += (float)s;
    else
      p.gb[c - nw - na] += (float)s;
  }
}
