// Compiled with --default-stream per-thread: <<<>>> lowers to __cudaLaunchKernel_ptsz and the
// runtime API names map to their _ptsz entry points.
#include <cuda_runtime.h>

extern "C" __global__ void k_ptsz_chevron(float* x) { x[threadIdx.x] -= 1.0f; }
extern "C" __global__ void k_ptsz_rt(float* x) { x[threadIdx.x] -= 2.0f; }
extern "C" __global__ void k_ptsz_exc(float* x) { x[threadIdx.x] -= 3.0f; }

void run_ptsz(float* d) {
  void* args[] = {&d};
  for (int i = 0; i < 2; ++i) k_ptsz_chevron<<<1, 256>>>(d);
  for (int i = 0; i < 3; ++i) cudaLaunchKernel((const void*)k_ptsz_rt, dim3(1), dim3(256), args, 0, 0);
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(1);
  cfg.blockDim = dim3(256);
  cudaLaunchKernelExC(&cfg, (const void*)k_ptsz_exc, args);
}
