// An LD_PRELOAD shim standing in for an interposer: it defines the runtime launch entry
// points unversioned, counts calls, forwards to the next definition (simgpu's versioned
// libcudart symbols) and prints the counts at exit. Tests use it to show that simgpu's
// libraries can be interposed exactly like the real ones.
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdio>

namespace {
std::atomic<int> g_launch{0}, g_internal{0};
template <typename F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}
struct Report {
  ~Report() { fprintf(stderr, "preload_shim: launches=%d\n", g_launch.load()); }
} g_report;
}  // namespace

extern "C" __attribute__((visibility("default"))) cudaError_t __cudaLaunchKernel(cudaKernel_t k, dim3 g, dim3 b,
                                                                                  void** a, size_t sh, cudaStream_t s) {
  static auto f = next<cudaError_t (*)(cudaKernel_t, dim3, dim3, void**, size_t, cudaStream_t)>("__cudaLaunchKernel");
  g_launch++;
  return f(k, g, b, a, sh, s);
}

extern "C" __attribute__((visibility("default"))) cudaError_t cudaLaunchKernel(const void* fn, dim3 g, dim3 b, void** a,
                                                                                size_t sh, cudaStream_t s) {
  static auto f = next<cudaError_t (*)(const void*, dim3, dim3, void**, size_t, cudaStream_t)>("cudaLaunchKernel");
  g_launch++;
  return f(fn, g, b, a, sh, s);
}
