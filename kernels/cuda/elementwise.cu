// Element-wise ops, activations and dropout masks (grid-stride loops over n elements).
#include "common.cuh"

// y, a, b: element buffers; `op` selects the operation (see EW_*), `d` a broadcast period.
struct EwP {
  float* y;
  const float* a;
  const float* b;
  i64 n;
  i64 d;
  float s;
  int op;
};
enum {
  EW_FILL = 0,       // y = s
  EW_COPY = 1,       // y = a
  EW_ADD = 2,        // y += a
  EW_MUL = 3,        // y = a * b
  EW_MUL_ACC = 4,    // y += a * b
  EW_SCALE = 5,      // y *= s
  EW_NEG_EXP = 6,    // y = -exp(a)
  EW_BCAST = 7,      // y = a[i % d]          (bias rows)
  EW_ADD_BCAST = 8,  // y += a[i % d]         (positional table rows)
  EW_AXPY = 9,       // y += s * a
  EW_SCALE_TO = 10,  // y = s * a
};

QSSM_KERNEL(ew, EwP) {
  for (i64 i = gtid(); i < p.n; i += gstride()) {
    switch (p.op) {
      case EW_FILL: p.y[i] = p.s; break;
      case EW_COPY: p.y[i] = p.a[i]; break;
      case EW_ADD: p.y[i] += p.a[i]; break;
      case EW_MUL: p.y[i] = p.a[i] * p.b[i]; break;
      case EW_MUL_ACC: p.y[i] += p.a[i] * p.b[i]; break;
      case EW_SCALE: p.y[i] *= p.s; break;
      case EW_NEG_EXP: p.y[i] = -expf(p.a[i]); break;
      case EW_BCAST: p.y[i] = p.a[i % p.d]; break;
      case EW_ADD_BCAST: p.y[i] += p.a[i % p.d]; break;
      case EW_AXPY: p.y[i] += p.s * p.a[i]; break;
      case EW_SCALE_TO: p.y[i] = p.s * p.a[i]; break;
      default: break;
    }
  }
}

// activation ids (the order of the Rust `Act` enum)
enum { ACT_SILU = 0, ACT_SOFTPLUS = 1, ACT_GELU = 2, ACT_RELU = 3, ACT_TANH = 4, ACT_SIGMOID = 5 };
#define QSSM_FRAC_1_SQRT_2 0.70710678118654752f
#define QSSM_FRAC_1_SQRT_2PI 0.3989422804014327f

// y = act(a)
QSSM_KERNEL(act_fwd, EwP) {
  for (i64 i = gtid(); i < p.n; i += gstride()) {
    float x = p.a[i], y;
    switch (p.op) {
      case ACT_SILU: y = x * sigmoidf_(x); break;
      case ACT_SOFTPLUS: y = x > 20.0f ? x : fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); break;
      case ACT_GELU: y = x * 0.5f * (1.0f + erff(x * QSSM_FRAC_1_SQRT_2)); break;
      case ACT_RELU: y = x > 0.0f ? x : 0.0f; break;
      case ACT_SIGMOID: y = 1.0f / (1.0f + expf(-x)); break;
      default: y = tanhf(x); break;
    }
    p.y[i] = y;
  }
}

// y += a * act'(b), b the saved input (the output for tanh and sigmoid)
QSSM_KERNEL(act_bwd, EwP) {
  for (i64 i = gtid(); i < p.n; i += gstride()) {
    float d = p.a[i], x = p.b[i], g;
    switch (p.op) {
      case ACT_SILU: {
        float s = sigmoidf_(x);
        g = d * (s * (1.0f + x * (1.0f - s)));
        break;
      }
      case ACT_SOFTPLUS: g = x > 20.0f ? d : d * sigmoidf_(x); break;
      case ACT_GELU: {
        float cdf = 0.5f * (1.0f + erff(x * QSSM_FRAC_1_SQRT_2));
        float pdf = expf(-0.5f * x * x) * QSSM_FRAC_1_SQRT_2PI;
        g = d * (cdf + x * pdf);
        break;
      }
      case ACT_RELU: g = x > 0.0f ? d : 0.0f; break;
      case ACT_SIGMOID: g = d * x * (1.0f - x); break;  // x: the saved output
      default: g = d * (1.0f - x * x); break;
    }
    p.y[i] += g;
  }
}

// Counter-based dropout masks, bit-identical to the Rust `dropout_draw`: element j of sample
// b is dropped iff draw(seeds[b], site, j) < thr; mask = 0 or keep; x *= mask if x is given.
struct DropP {
  float* mask;
  float* x;
  const u64* seeds;
  i64 per;
  i64 n;
  u64 thr;
  float keep;
  unsigned site;
};

__device__ __forceinline__ u64 mix64(u64 z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

QSSM_KERNEL(dropout_mask, DropP) {
  for (i64 i = gtid(); i < p.n; i += gstride()) {
    i64 b = i / p.per;
    u64 j = (u64)(i - b * p.per);
    u64 h = mix64(p.seeds[b] ^ ((u64)p.site * 0xD6E8FEB86659FD93ull) ^ ((j >> 1) * 0x9E3779B97F4A7C15ull));
    unsigned draw = (j & 1) == 0 ? (unsigned)(h >> 32) : (unsigned)h;
    float m = (u64)draw < p.thr ? 0.0f : p.keep;
    p.mask[i] = m;
    if (p.x) p.x[i] *= m;
  }
}
