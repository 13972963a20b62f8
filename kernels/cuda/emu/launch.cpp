// The emulated kernels as a C library: every kernel of qssm.cu, launched by name.
#define QSSM_EMU 1
#include "../qssm.cu"

extern "C" int qssm_emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz,
                               unsigned bx, unsigned by, unsigned bz, unsigned smem,
                               const void* params) {
  return qssm_emu::launch(name, dim3(gx, gy, gz), dim3(bx, by, bz), smem, params);
}
