// SPDX-License-Identifier: Apache-2.0
// The real functions behind our hooks: one typed table, each slot resolved once (lazily, on
// first use, because libcudart/libnccl are often dlopen'ed after us) with dlsym(RTLD_NEXT).
// A resolved address inside libargus.so itself is rejected (compiler-rt interception rule):
// calling it would recurse forever.  Slots may also be filled from outside: pointers that
// cuGetProcAddress / cudaGetDriverEntryPoint / dlsym(libcuda handle) handed out.
#pragma once

#include <atomic>

namespace argus::ip {

#define ARGUS_REAL_SYMBOLS(X)                                                               \
  X(cudaLaunchKernel) X(cudaLaunchKernel_ptsz) X(cudaLaunchKernelExC)                       \
  X(cudaLaunchKernelExC_ptsz) X(__cudaLaunchKernel) X(__cudaLaunchKernel_ptsz)              \
  X(__cudaGetKernel) X(__cudaRegisterFunction) X(cudaFuncGetName) X(cudaGraphLaunch)        \
  X(cudaGraphLaunch_ptsz) X(cudaGetDriverEntryPoint) X(cudaGetDriverEntryPoint_ptsz)        \
  X(cudaGetDriverEntryPointByVersion) X(cudaGetDriverEntryPointByVersion_ptsz)              \
  X(cudaMalloc) X(cudaFree) X(cudaMallocAsync) X(cudaMallocAsync_ptsz) X(cudaFreeAsync)     \
  X(cudaFreeAsync_ptsz) X(cudaMallocFromPoolAsync) X(cudaMallocFromPoolAsync_ptsz)          \
  X(cudaMallocManaged) X(cudaMallocHost) X(cudaFreeHost) X(cudaRuntimeGetVersion)           \
  X(cudaStreamIsCapturing) X(cudaEventCreate) X(cudaEventRecord) X(cudaEventQuery)           \
  X(cudaEventElapsedTime) X(cudaEventDestroy) X(cudaGetDevice)                              \
  X(cuLaunchKernel) X(cuLaunchKernel_ptsz) X(cuLaunchKernelEx) X(cuLaunchKernelEx_ptsz)     \
  X(cuLaunchCooperativeKernel) X(cuGraphLaunch) X(cuGraphLaunch_ptsz) X(cuGetProcAddress)   \
  X(cuGetProcAddress_v2) X(cuFuncGetName) X(cuKernelGetName) X(cuMemAlloc_v2)               \
  X(cuMemFree_v2) X(cuMemCreate) X(cuMemRelease) X(cuMemMap) X(cuMemUnmap)                  \
  X(cuMemAllocAsync) X(cuMemFreeAsync) X(cuDriverGetVersion) X(cuInit)                      \
  X(ncclGetVersion) X(ncclCommInitRank) X(ncclCommInitRankConfig) X(ncclCommInitAll)        \
  X(ncclCommSplit) X(ncclCommDestroy) X(ncclCommAbort) X(ncclCommFinalize)                  \
  X(ncclAllReduce) X(ncclBroadcast) X(ncclBcast) X(ncclReduce) X(ncclAllGather)             \
  X(ncclReduceScatter) X(ncclAlltoAll) X(ncclGather) X(ncclScatter) X(ncclSend) X(ncclRecv) \
  X(ncclGroupStart) X(ncclGroupEnd) X(ncclCommCount) X(ncclCommUserRank) X(ncclCommCuDevice)

enum Sym : int {
#define ARGUS_X(name) S_##name,
  ARGUS_REAL_SYMBOLS(ARGUS_X)
#undef ARGUS_X
  kSymCount
};
extern const char* const kSymNames[kSymCount];
extern std::atomic<void*> g_real[kSymCount];

void* resolve(Sym s) noexcept;  // dlsym(RTLD_NEXT), rejecting our own wrappers; cached
template <class F>
inline F real(Sym s) noexcept {
  void* p = g_real[s].load(std::memory_order_relaxed);
  if (!p) [[unlikely]] p = resolve(s);
  return reinterpret_cast<F>(p);
}
bool is_our_address(const void* p) noexcept;
// The real dlsym (glibc's), for our own lookups.
void* real_dlsym(void* handle, const char* name) noexcept;

// Driver entry points: if `symbol` is one we wrap, remember *pfn as its real function and
// replace *pfn with our wrapper.  flags: CU_GET_PROC_ADDRESS_* (per-thread default stream);
// version: the requested CUDA version (old ABIs are left alone).
void wrap_entry_point(const char* symbol, void** pfn, unsigned long long flags, int version) noexcept;
// Wrapper for a symbol looked up with dlsym on a libcuda handle, or nullptr.
void* wrapper_for_dlsym(const char* symbol, void* real_fn) noexcept;

}  // namespace argus::ip
