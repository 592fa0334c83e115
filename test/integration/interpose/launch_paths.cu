// Exercises every launch path libargus hooks, with known counts; prints the expected
// per-kernel, per-path counts as JSON on stdout (checked against the record by
// check_launch_paths.py).  Built with nvcc, linked against simgpu's libraries only.
#include <cuda.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <cstdio>

extern "C" __global__ void k_chevron(float* x) { x[threadIdx.x] += 1.0f; }
extern "C" __global__ void k_rt(float* x) { x[threadIdx.x] += 2.0f; }
extern "C" __global__ void k_exc(float* x) { x[threadIdx.x] += 3.0f; }
extern "C" __global__ void k_drv(float* x) { x[threadIdx.x] += 4.0f; }
extern "C" __global__ void k_drv_ex(float* x) { x[threadIdx.x] += 5.0f; }
extern "C" __global__ void k_ep(float* x) { x[threadIdx.x] += 6.0f; }
extern "C" __global__ void k_rtep(float* x) { x[threadIdx.x] += 7.0f; }
extern "C" __global__ void k_dl(float* x) { x[threadIdx.x] += 8.0f; }
extern "C" __global__ void k_graph(float* x) { x[threadIdx.x] += 9.0f; }

void run_ptsz(float* d);  // launch_paths_ptsz.cu: per-thread default stream variants

#define CHECK(x) do { auto e_ = (x); if ((int)e_ != 0) { fprintf(stderr, "%s failed: %d\n", #x, (int)e_); return 1; } } while (0)
using LaunchFn = CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**, void**);

int main() {
  float* d = nullptr;
  CHECK(cudaMalloc(&d, 256 * sizeof(float)));
  float* d2 = nullptr;
  CHECK(cudaMalloc(&d2, 4096));
  CHECK(cudaFree(d2));
  void* args[] = {&d};
  for (int i = 0; i < 7; ++i) k_chevron<<<1, 256>>>(d);                         // __cudaLaunchKernel
  for (int i = 0; i < 5; ++i) CHECK(cudaLaunchKernel((const void*)k_rt, dim3(1), dim3(256), args, 0, 0));
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(1);
  cfg.blockDim = dim3(256);
  for (int i = 0; i < 4; ++i) CHECK(cudaLaunchKernelExC(&cfg, (const void*)k_exc, args));
  CUfunction f_drv, f_drv_ex, f_ep, f_rtep, f_dl;
  CHECK(cudaGetFuncBySymbol((cudaFunction_t*)&f_drv, (const void*)k_drv));
  CHECK(cudaGetFuncBySymbol((cudaFunction_t*)&f_drv_ex, (const void*)k_drv_ex));
  CHECK(cudaGetFuncBySymbol((cudaFunction_t*)&f_ep, (const void*)k_ep));
  CHECK(cudaGetFuncBySymbol((cudaFunction_t*)&f_rtep, (const void*)k_rtep));
  CHECK(cudaGetFuncBySymbol((cudaFunction_t*)&f_dl, (const void*)k_dl));
  for (int i = 0; i < 3; ++i) CHECK(cuLaunchKernel(f_drv, 1, 1, 1, 256, 1, 1, 0, 0, args, nullptr));
  CUlaunchConfig lc = {};
  lc.gridDimX = lc.gridDimY = lc.gridDimZ = 1;
  lc.blockDimX = 256; lc.blockDimY = lc.blockDimZ = 1;
  for (int i = 0; i < 2; ++i) CHECK(cuLaunchKernelEx(&lc, f_drv_ex, args, nullptr));
  // Driver entry point from cuGetProcAddress (how cudart / PyTorch reach the driver).
  LaunchFn ep = nullptr;
  CUdriverProcAddressQueryResult st;
  CHECK(cuGetProcAddress("cuLaunchKernel", (void**)&ep, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  for (int i = 0; i < 6; ++i) CHECK(ep(f_ep, 1, 1, 1, 256, 1, 1, 0, 0, args, nullptr));
  LaunchFn rtep = nullptr;
  cudaDriverEntryPointQueryResult rst;
  CHECK(cudaGetDriverEntryPointByVersion("cuLaunchKernel", (void**)&rtep, 13000, cudaEnableDefault, &rst));
  for (int i = 0; i < 2; ++i) CHECK(rtep(f_rtep, 1, 1, 1, 256, 1, 1, 0, 0, args, nullptr));
  // dlsym on a libcuda handle (Triton / PyTorch lazy loading).
  void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (!h) { fprintf(stderr, "dlopen libcuda.so.1 failed\n"); return 1; }
  auto dl = (LaunchFn)dlsym(h, "cuLaunchKernel");
  if (!dl) { fprintf(stderr, "dlsym cuLaunchKernel failed\n"); return 1; }
  for (int i = 0; i < 3; ++i) CHECK(dl(f_dl, 1, 1, 1, 256, 1, 1, 0, 0, args, nullptr));
  run_ptsz(d);
  // A CUDA graph: 3 kernels captured once, the graph launched 4 times.
  cudaStream_t s;
  CHECK(cudaStreamCreate(&s));
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  for (int i = 0; i < 3; ++i) k_graph<<<1, 256, 0, s>>>(d);
  CHECK(cudaStreamEndCapture(s, &g));
  CHECK(cudaGraphInstantiate(&ge, g, 0));
  for (int i = 0; i < 4; ++i) CHECK(cudaGraphLaunch(ge, s));
  CHECK(cudaStreamSynchronize(s));
  CHECK(cudaDeviceSynchronize());
  CHECK(cudaFree(d));
  printf("{\"kernels\":{"
         "\"k_chevron\":{\"__cudaLaunchKernel\":7},"
         "\"k_rt\":{\"cudaLaunchKernel\":5},"
         "\"k_exc\":{\"cudaLaunchKernelExC\":4},"
         "\"k_drv\":{\"cuLaunchKernel\":3},"
         "\"k_drv_ex\":{\"cuLaunchKernelEx\":2},"
         "\"k_ep\":{\"cuLaunchKernel\":6,\"driver_entry_point\":6},"
         "\"k_rtep\":{\"cuLaunchKernel\":2,\"driver_entry_point\":2},"
         "\"k_dl\":{\"cuLaunchKernel\":3,\"driver_entry_point\":3},"
         "\"k_ptsz_chevron\":{\"__cudaLaunchKernel_ptsz\":2},"
         "\"k_ptsz_rt\":{\"cudaLaunchKernel_ptsz\":3},"
         "\"k_ptsz_exc\":{\"cudaLaunchKernelExC_ptsz\":1},"
         "\"k_graph\":{\"__cudaLaunchKernel\":3}},"
         "\"graph_launches\":{\"cudaGraphLaunch\":4},"
         "\"gpu_executions\":{\"k_chevron\":7,\"k_graph\":12,\"k_ep\":6},"
         "\"mallocs\":2,\"frees\":2,\"live_bytes\":0,\"peak_bytes\":5120}\n");
  return 0;
}
