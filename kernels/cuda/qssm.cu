// All qssm CUDA kernels, one translation unit (one module to load).
#include "elementwise.cu"
#include "glue.cu"
#include "gemm.cu"
#include "rows.cu"
#include "conv.cu"
#include "scan.cu"
#include "loss.cu"
#include "optim.cu"
