// The project's CUDA emulation header: compiles the kernels of `kernels/cuda/` with a host
// C++20 compiler so that they can be tested on a machine without a GPU (`cargo test`, and a
// ThreadSanitizer build in CI). Every thread of a block is an OS thread (from a pool reused by
// every launch); blocks run one after another (launches are serialised by a mutex), so
// `__shared__` storage can be static.
//
// Emulated: threadIdx/blockIdx/blockDim/gridDim, __syncthreads (a std::barrier that threads
// leave when they return), warp shuffles and __syncwarp (full-warp masks only; every lane of
// the warp must reach them: no shuffle inside a lane-divergent branch), dynamic shared memory
// (QSSM_DYN_SMEM). Not emulated: atomics, textures, tensor cores, inline PTX, cooperative groups.
// Results may differ from the GPU in the last bits (FMA contraction, libm vs CUDA math).
#pragma once
#include <barrier>
#include <condition_variable>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};

namespace qssm_emu {

struct Warp {
  std::unique_ptr<std::barrier<>> bar;
  uint64_t slots[32];
};

struct Block {
  std::unique_ptr<std::barrier<>> bar;
  std::vector<Warp> warps;
  std::vector<unsigned char> dyn_smem;
};

inline thread_local uint3 tid{0, 0, 0};
inline thread_local uint3 bid{0, 0, 0};
inline thread_local dim3 bdim{1, 1, 1};
inline thread_local dim3 gdim{1, 1, 1};
inline thread_local Block* block = nullptr;

inline unsigned linear_tid() { return tid.x + bdim.x * (tid.y + bdim.y * tid.z); }
inline Warp& warp() { return block->warps[linear_tid() / 32]; }

using Entry = void (*)(const void*);
inline std::map<std::string, Entry>& registry() {
  static std::map<std::string, Entry> r;
  return r;
}
inline bool reg(const char* name, Entry f) {
  registry()[name] = f;
  return true;
}

template <typename T>
inline T shfl_xor(T v, int lane_mask) {
  static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
  Warp& w = warp();
  unsigned lane = linear_tid() % 32;
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  w.slots[lane] = bits;
  w.bar->arrive_and_wait();
  uint64_t got = w.slots[(lane ^ unsigned(lane_mask)) % 32];
  w.bar->arrive_and_wait();
  T r;
  std::memcpy(&r, &got, sizeof(T));
  return r;
}

// The OS threads that play a block's GPU threads: created once (grown to the largest block
// seen), then reused by every block of every launch (creating ~1000 threads per launch was most
// of the time of an emulated run). `run(n, job)` runs job(0..n) on threads 0..n−1 and returns
// when all are done. The pool is never destroyed: its threads wait, detached, until the process
// exits.
class ThreadPool {
 public:
  void run(unsigned n, const std::function<void(unsigned)>& job) {
    std::unique_lock<std::mutex> lk(m_);
    while (threads_ < n) {
      unsigned id = threads_++;
      std::thread([this, id] { work(id); }).detach();
    }
    job_ = &job;
    active_ = n;
    remaining_ = n;
    ++gen_;
    start_.notify_all();
    done_.wait(lk, [&] { return remaining_ == 0; });
    job_ = nullptr;
  }

 private:
  void work(unsigned id) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      start_.wait(lk, [&] { return gen_ != seen; });
      seen = gen_;
      if (id >= active_) continue;
      const std::function<void(unsigned)>* job = job_;
      lk.unlock();
      (*job)(id);
      lk.lock();
      if (--remaining_ == 0) done_.notify_one();
    }
  }
  std::mutex m_;
  std::condition_variable start_, done_;
  unsigned threads_ = 0, active_ = 0, remaining_ = 0;
  uint64_t gen_ = 0;
  const std::function<void(unsigned)>* job_ = nullptr;
};

inline ThreadPool& pool() {
  static ThreadPool* p = new ThreadPool();  // leaked on purpose (see ThreadPool)
  return *p;
}

// Runs one launch: every block in turn, each thread of a block on its own OS thread (from the
// pool). Returns 0, or 1 when the kernel is unknown, 2 when the block shape is not whole warps.
inline int launch(const char* name, dim3 grid, dim3 blk, unsigned smem, const void* params) {
  static std::mutex serial;
  std::lock_guard<std::mutex> guard(serial);
  auto it = registry().find(name);
  if (it == registry().end()) return 1;
  Entry f = it->second;
  unsigned nt = blk.x * blk.y * blk.z;
  if (nt == 0 || nt % 32 != 0) return 2;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        Block b;
        b.bar = std::make_unique<std::barrier<>>(nt);
        b.warps.resize(nt / 32);
        for (auto& w : b.warps) w.bar = std::make_unique<std::barrier<>>(32);
        b.dyn_smem.assign(smem, 0);
        std::function<void(unsigned)> job = [&](unsigned t) {
          tid = uint3{t % blk.x, (t / blk.x) % blk.y, t / (blk.x * blk.y)};
          bid = uint3{bx, by, bz};
          bdim = blk;
          gdim = grid;
          block = &b;
          f(params);
          b.warps[t / 32].bar->arrive_and_drop();
          b.bar->arrive_and_drop();
        };
        pool().run(nt, job);
      }
  return 0;
}

}  // namespace qssm_emu

#define threadIdx (qssm_emu::tid)
#define blockIdx (qssm_emu::bid)
#define blockDim (qssm_emu::bdim)
#define gridDim (qssm_emu::gdim)
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(...)
#define __shared__ static
#define __syncthreads() (qssm_emu::block->bar->arrive_and_wait())
#define __syncwarp(...) (qssm_emu::warp().bar->arrive_and_wait())
#define __shfl_xor_sync(mask, v, lane_mask) qssm_emu::shfl_xor((v), (lane_mask))
#define QSSM_DYN_SMEM(T, name) T* name = reinterpret_cast<T*>(qssm_emu::block->dyn_smem.data())
#define QSSM_KERNEL(name, P)                                                              \
  void name(const P p);                                                                   \
  static const bool name##_registered =                                                   \
      qssm_emu::reg(#name, [](const void* a) { name(*static_cast<const P*>(a)); });        \
  void name(const P p)

#include <math.h>  // expf, logf, … in the global namespace, as in device code

// IEEE-rounded intrinsics (the host compiler does not contract them into FMAs in ISO C++)
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
