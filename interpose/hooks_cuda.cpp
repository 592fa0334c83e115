// SPDX-License-Identifier: Apache-2.0
// CUDA runtime and driver hooks: every launch path, kernel-name sources, driver entry points,
// graph launches, allocators.
//
// Hot path (launch): one TLS load/store for the guard, one lock-free map lookup, two plain
// increments in the thread's own launch shard (no lock-prefixed instruction); 1 in
// kLatencySampleEvery calls also reads the clock four times, and while CUPTI is unavailable
// some of those are timed on the GPU with a CUDA event pair (event_sampling.cpp).
#include "real.h"
#include "state.h"

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cstring>

#undef cuGetProcAddress

using namespace argus;
using namespace argus::ip;

namespace {

// The paths whose stream 0 means the per-thread default stream (the _ptsz variants).
constexpr bool per_thread_path(uint32_t path) {
  return path == rec::kPathCudaLaunchKernelPtsz || path == rec::kPathCudaLaunchKernelExCPtsz ||
         path == rec::kPathCudaLaunchKernelInternalPtsz || path == rec::kPathCuLaunchKernelPtsz ||
         path == rec::kPathCuLaunchKernelExPtsz;
}

// The stream a launch runs on, as a CUstream for our own event records (runtime cudaStream_t
// values are valid CUstreams); 0 on a per-thread path is made explicit.
inline void* on_stream(const void* s, uint32_t path) {
  return (!s && per_thread_path(path)) ? static_cast<void*>(CU_STREAM_PER_THREAD) : const_cast<void*>(s);
}

// The common shape of every launch hook.  `call` invokes the real function; `stream()` gives
// the launch's stream as passed (evaluated only in a sampled launch while the event fallback is on).
template <class R, class Stream, class Call>
inline R launch(const void* handle, int kind, uint32_t path, bool via_ep, Stream&& stream, Call&& call) {
  if (!active()) return call();
  Guard g;
  if (!g.ok) {
    count_reentrant();
    return call();
  }
  // The first launch of a thread is never sampled: it pays one-time costs (segment creation,
  // name interning, page reservation) that, scaled by the sampling rate, made a short run's
  // overhead look like most of its wall time.  Samples start at the kLatencySampleEvery-th call.
  bool sample = ((++t_tls.launch_tick) & (rec::kLatencySampleEvery - 1)) == 0;
  if (!sample) [[likely]] {
    int32_t k = kernel_for(handle, kind);
    count_launch(k, path);
    if (via_ep) count_launch(k, rec::kPathDriverEntryPoint);
    R r = call();
    return r;
  }
  uint64_t t0 = mono_ns();
  int32_t k = kernel_for(handle, kind);
  count_launch(k, path);
  if (via_ep) count_launch(k, rec::kPathDriverEntryPoint);
  // CUPTI unavailable: some sampled launches are bracketed by a CUDA event pair (their cost is
  // our overhead, so it sits inside the timed part).
  int ev = event_sampling_on() ? event_sample_begin(k, on_stream(stream(), path)) : -1;
  uint64_t t1 = mono_ns();
  R r = call();
  uint64_t t2 = mono_ns();
  g_rec.launch_latency(k, path, t2 - t1);
  if (ev >= 0) event_sample_end(ev, r == R{});
  uint64_t t3 = mono_ns();
  overhead_sample((t1 - t0) + (t3 - t2));
  // One-time start-up (CUPTI, the event pool) is not counted as per-call overhead.
  if (ev == kEventNoPool) [[unlikely]] event_pool_create();
  after_first_cuda_call();
  return r;
}

template <class R, class Call>
inline R graph(uint32_t path, Call&& call) {
  if (!active()) return call();
  Guard g;
  if (!g.ok) return call();
  g_rec.graph_launch(path);
  R r = call();
  after_first_cuda_call();
  return r;
}

// Allocator calls: not hot; every call timed.
inline bool recent_failure(uint64_t now) {
  uint64_t f = t_tls.last_alloc_fail_ns;
  return f && now - f < rec::kRetryWindowNs;
}
template <class Call>
inline int alloc_call(uint32_t api, void** out_ptr_addr, uint64_t bytes, bool device_live, Call&& call) {
  if (!active()) return int(call());
  Guard g;
  if (!g.ok) return int(call());
  uint64_t t0 = mono_ns();
  int r = int(call());
  uint64_t t1 = mono_ns();
  bool ok = r == 0;
  bool retry = false;
  int64_t delta = 0;
  if (ok) {
    retry = recent_failure(t1);
    if (retry) t_tls.last_alloc_fail_ns = 0;
    void* p = out_ptr_addr ? *out_ptr_addr : nullptr;
    if (p && device_live) {
      if (g_allocs.insert(uint64_t(p), bytes)) delta = int64_t(bytes);
      else g_rec.drop(rec::kDropAllocMap);
    }
  } else {
    t_tls.last_alloc_fail_ns = t1;
  }
  g_rec.mem_call(api, bytes, ok, t1 - t0, delta, retry);
  after_first_cuda_call();
  return r;
}
template <class Call>
inline int free_call(uint32_t api, uint64_t key, Call&& call) {
  if (!active() || key == 0) return int(call());
  Guard g;
  if (!g.ok) return int(call());
  uint64_t size = 0;
  bool known = g_allocs.erase(key, &size);  // before the real free: the address may be reused
  uint64_t t0 = mono_ns();
  int r = int(call());
  uint64_t t1 = mono_ns();
  if (r != 0 && known) g_allocs.insert(key, size);
  if (r == 0 && !known) g_rec.mem_untracked_free();
  g_rec.mem_call(api, size, r == 0, t1 - t0, (r == 0 && known) ? -int64_t(size) : 0, false);
  return r;
}

}  // namespace

extern "C" {
// Not declared by the headers in this configuration.
cudaError_t cudaLaunchKernel_ptsz(const void*, dim3, dim3, void**, size_t, cudaStream_t);
cudaError_t cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t*, const void*, void**);
cudaError_t __cudaLaunchKernel(cudaKernel_t, dim3, dim3, void**, size_t, cudaStream_t);
cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t, dim3, dim3, void**, size_t, cudaStream_t);
cudaError_t __cudaGetKernel(cudaKernel_t*, const void*);
void __cudaRegisterFunction(void**, const char*, char*, const char*, int, uint3*, uint3*, dim3*, dim3*, int*);
cudaError_t cudaGraphLaunch_ptsz(cudaGraphExec_t, cudaStream_t);
cudaError_t cudaGetDriverEntryPoint_ptsz(const char*, void**, unsigned long long, cudaDriverEntryPointQueryResult*);
cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char*, void**, unsigned int, unsigned long long, cudaDriverEntryPointQueryResult*);
cudaError_t cudaMallocAsync_ptsz(void**, size_t, cudaStream_t);
cudaError_t cudaFreeAsync_ptsz(void*, cudaStream_t);
cudaError_t cudaMallocFromPoolAsync_ptsz(void**, size_t, cudaMemPool_t, cudaStream_t);
CUresult cuLaunchKernel_ptsz(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**, void**);
CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig*, CUfunction, void**, void**);
CUresult cuGraphLaunch_ptsz(CUgraphExec, CUstream);
CUresult cuGetProcAddress(const char*, void**, int, cuuint64_t);
}

#define RT_LAUNCH_ARGS const void *func, dim3 grid, dim3 block, void **args, size_t shmem, cudaStream_t stream
using RtLaunch = cudaError_t (*)(const void*, dim3, dim3, void**, size_t, cudaStream_t);
using RtLaunchK = cudaError_t (*)(cudaKernel_t, dim3, dim3, void**, size_t, cudaStream_t);
using RtLaunchEx = cudaError_t (*)(const cudaLaunchConfig_t*, const void*, void**);
using CuLaunch = CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**, void**);
using CuLaunchEx = CUresult (*)(const CUlaunchConfig*, CUfunction, void**, void**);
using CuGraph = CUresult (*)(CUgraphExec, CUstream);
using RtGraph = cudaError_t (*)(cudaGraphExec_t, cudaStream_t);

static constexpr cudaError_t kRtMissing = cudaErrorSymbolNotFound;
static constexpr CUresult kCuMissing = CUDA_ERROR_NOT_FOUND;

// ── runtime launches ─────────────────────────────────────────────────────────────────────────
ARGUS_EXPORT cudaError_t cudaLaunchKernel(RT_LAUNCH_ARGS) {
  auto f = real<RtLaunch>(S_cudaLaunchKernel);
  if (!f) return kRtMissing;
  return launch<cudaError_t>(func, 0, rec::kPathCudaLaunchKernel, false, [&] { return stream; },
                             [&] { return f(func, grid, block, args, shmem, stream); });
}
ARGUS_EXPORT cudaError_t cudaLaunchKernel_ptsz(RT_LAUNCH_ARGS) {
  auto f = real<RtLaunch>(S_cudaLaunchKernel_ptsz);
  if (!f) return kRtMissing;
  return launch<cudaError_t>(func, 0, rec::kPathCudaLaunchKernelPtsz, false, [&] { return stream; },
                             [&] { return f(func, grid, block, args, shmem, stream); });
}
ARGUS_EXPORT cudaError_t cudaLaunchKernelExC(const cudaLaunchConfig_t* cfg, const void* func, void** args) {
  auto f = real<RtLaunchEx>(S_cudaLaunchKernelExC);
  if (!f) return kRtMissing;
  return launch<cudaError_t>(func, 0, rec::kPathCudaLaunchKernelExC, false,
                             [&] { return cfg ? cfg->stream : nullptr; }, [&] { return f(cfg, func, args); });
}
ARGUS_EXPORT cudaError_t cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t* cfg, const void* func, void** args) {
  auto f = real<RtLaunchEx>(S_cudaLaunchKernelExC_ptsz);
  if (!f) return kRtMissing;
  return launch<cudaError_t>(func, 0, rec::kPathCudaLaunchKernelExCPtsz, false,
                             [&] { return cfg ? cfg->stream : nullptr; }, [&] { return f(cfg, func, args); });
}
ARGUS_EXPORT cudaError_t __cudaLaunchKernel(cudaKernel_t k, dim3 grid, dim3 block, void** args, size_t shmem, cudaStream_t stream) {
  auto f = real<RtLaunchK>(S___cudaLaunchKernel);
  if (!f) return kRtMissing;
  return launch<cudaError_t>(k, 2, rec::kPathCudaLaunchKernelInternal, false, [&] { return stream; },
                             [&] { return f(k, grid, block, args, shmem, stream); });
}
ARGUS_EXPORT cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t k, dim3 grid, dim3 block, void** args, size_t shmem, cudaStream_t stream) {
  auto f = real<RtLaunchK>(S___cudaLaunchKernel_ptsz);
  if (!f) return kRtMissing;
  return launch<cudaError_t>(k, 2, rec::kPathCudaLaunchKernelInternalPtsz, false, [&] { return stream; },
                             [&] { return f(k, grid, block, args, shmem, stream); });
}

// ── kernel names ─────────────────────────────────────────────────────────────────────────────
// Registration happens at program start in every process that links CUDA code, GPU user or
// not: remember hostFun → name only (no record is created here).
ARGUS_EXPORT void __cudaRegisterFunction(void** h, const char* hostFun, char* deviceFun, const char* deviceName,
                                         int tl, uint3* tid, uint3* bid, dim3* bDim, dim3* gDim, int* wSize) {
  using F = void (*)(void**, const char*, char*, const char*, int, uint3*, uint3*, dim3*, dim3*, int*);
  auto f = real<F>(S___cudaRegisterFunction);
  if (hostFun && deviceName && g_state.load(std::memory_order_relaxed) != kOff)
    g_registered.insert(uint64_t(hostFun), uint64_t(deviceName));
  if (f) f(h, hostFun, deviceFun, deviceName, tl, tid, bid, bDim, gDim, wSize);
}
// nvcc 13 <<<>>>: __cudaGetKernel(&handle, stub) once, then __cudaLaunchKernel(handle, ...).
ARGUS_EXPORT cudaError_t __cudaGetKernel(cudaKernel_t* k, const void* stub) {
  using F = cudaError_t (*)(cudaKernel_t*, const void*);
  auto f = real<F>(S___cudaGetKernel);
  if (!f) return kRtMissing;
  cudaError_t r = f(k, stub);
  if (r == cudaSuccess && k && *k && stub && g_state.load(std::memory_order_relaxed) != kOff) {
    uint64_t name;
    if (g_registered.find(uint64_t(stub), &name)) g_registered.insert(uint64_t(*k), name);
  }
  return r;
}

// ── driver launches ──────────────────────────────────────────────────────────────────────────
#define CU_LAUNCH_ARGS CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream stream, void **params, void **extra
#define CU_LAUNCH_PASS fn, gx, gy, gz, bx, by, bz, shmem, stream, params, extra
ARGUS_EXPORT CUresult cuLaunchKernel(CU_LAUNCH_ARGS) {
  auto f = real<CuLaunch>(S_cuLaunchKernel);
  if (!f) return kCuMissing;
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchKernel, false, [&] { return stream; },
                          [&] { return f(CU_LAUNCH_PASS); });
}
ARGUS_EXPORT CUresult cuLaunchKernel_ptsz(CU_LAUNCH_ARGS) {
  auto f = real<CuLaunch>(S_cuLaunchKernel_ptsz);
  if (!f) return kCuMissing;
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchKernelPtsz, false, [&] { return stream; },
                          [&] { return f(CU_LAUNCH_PASS); });
}
ARGUS_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig* cfg, CUfunction fn, void** params, void** extra) {
  auto f = real<CuLaunchEx>(S_cuLaunchKernelEx);
  if (!f) return kCuMissing;
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchKernelEx, false, [&] { return cfg ? cfg->hStream : nullptr; },
                          [&] { return f(cfg, fn, params, extra); });
}
ARGUS_EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig* cfg, CUfunction fn, void** params, void** extra) {
  auto f = real<CuLaunchEx>(S_cuLaunchKernelEx_ptsz);
  if (!f) return kCuMissing;
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchKernelExPtsz, false, [&] { return cfg ? cfg->hStream : nullptr; },
                          [&] { return f(cfg, fn, params, extra); });
}
ARGUS_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                                unsigned by, unsigned bz, unsigned shmem, CUstream stream, void** params) {
  using F = CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void**);
  auto f = real<F>(S_cuLaunchCooperativeKernel);
  if (!f) return kCuMissing;
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchCooperativeKernel, false, [&] { return stream; },
                          [&] { return f(fn, gx, gy, gz, bx, by, bz, shmem, stream, params); });
}

// ── graphs: counted as a unit; their kernels are attributed from CUPTI records ──────────────
ARGUS_EXPORT cudaError_t cudaGraphLaunch(cudaGraphExec_t g, cudaStream_t s) {
  auto f = real<RtGraph>(S_cudaGraphLaunch);
  if (!f) return kRtMissing;
  return graph<cudaError_t>(rec::kPathCudaGraphLaunch, [&] { return f(g, s); });
}
ARGUS_EXPORT cudaError_t cudaGraphLaunch_ptsz(cudaGraphExec_t g, cudaStream_t s) {
  auto f = real<RtGraph>(S_cudaGraphLaunch_ptsz);
  if (!f) return kRtMissing;
  return graph<cudaError_t>(rec::kPathCudaGraphLaunch, [&] { return f(g, s); });
}
ARGUS_EXPORT CUresult cuGraphLaunch(CUgraphExec g, CUstream s) {
  auto f = real<CuGraph>(S_cuGraphLaunch);
  if (!f) return kCuMissing;
  return graph<CUresult>(rec::kPathCuGraphLaunch, [&] { return f(g, s); });
}
ARGUS_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec g, CUstream s) {
  auto f = real<CuGraph>(S_cuGraphLaunch_ptsz);
  if (!f) return kCuMissing;
  return graph<CUresult>(rec::kPathCuGraphLaunch, [&] { return f(g, s); });
}

// ── allocators ───────────────────────────────────────────────────────────────────────────────
ARGUS_EXPORT cudaError_t cudaMalloc(void** p, size_t n) {
  auto f = real<cudaError_t (*)(void**, size_t)>(S_cudaMalloc);
  if (!f) return kRtMissing;
  return cudaError_t(alloc_call(rec::kMemCudaMalloc, p, n, true, [&] { return f(p, n); }));
}
ARGUS_EXPORT cudaError_t cudaFree(void* p) {
  auto f = real<cudaError_t (*)(void*)>(S_cudaFree);
  if (!f) return kRtMissing;
  return cudaError_t(free_call(rec::kMemCudaFree, uint64_t(p), [&] { return f(p); }));
}
ARGUS_EXPORT cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t s) {
  auto f = real<cudaError_t (*)(void**, size_t, cudaStream_t)>(S_cudaMallocAsync);
  if (!f) return kRtMissing;
  return cudaError_t(alloc_call(rec::kMemCudaMallocAsync, p, n, true, [&] { return f(p, n, s); }));
}
ARGUS_EXPORT cudaError_t cudaMallocAsync_ptsz(void** p, size_t n, cudaStream_t s) {
  auto f = real<cudaError_t (*)(void**, size_t, cudaStream_t)>(S_cudaMallocAsync_ptsz);
  if (!f) return kRtMissing;
  return cudaError_t(alloc_call(rec::kMemCudaMallocAsync, p, n, true, [&] { return f(p, n, s); }));
}
ARGUS_EXPORT cudaError_t cudaFreeAsync(void* p, cudaStream_t s) {
  auto f = real<cudaError_t (*)(void*, cudaStream_t)>(S_cudaFreeAsync);
  if (!f) return kRtMissing;
  return cudaError_t(free_call(rec::kMemCudaFreeAsync, uint64_t(p), [&] { return f(p, s); }));
}
ARGUS_EXPORT cudaError_t cudaFreeAsync_ptsz(void* p, cudaStream_t s) {
  auto f = real<cudaError_t (*)(void*, cudaStream_t)>(S_cudaFreeAsync_ptsz);
  if (!f) return kRtMissing;
  return cudaError_t(free_call(rec::kMemCudaFreeAsync, uint64_t(p), [&] { return f(p, s); }));
}
ARGUS_EXPORT cudaError_t cudaMallocFromPoolAsync(void** p, size_t n, cudaMemPool_t pool, cudaStream_t s) {
  auto f = real<cudaError_t (*)(void**, size_t, cudaMemPool_t, cudaStream_t)>(S_cudaMallocFromPoolAsync);
  if (!f) return kRtMissing;
  return cudaError_t(alloc_call(rec::kMemCudaMallocFromPoolAsync, p, n, true, [&] { return f(p, n, pool, s); }));
}
ARGUS_EXPORT cudaError_t cudaMallocFromPoolAsync_ptsz(void** p, size_t n, cudaMemPool_t pool, cudaStream_t s) {
  auto f = real<cudaError_t (*)(void**, size_t, cudaMemPool_t, cudaStream_t)>(S_cudaMallocFromPoolAsync_ptsz);
  if (!f) return kRtMissing;
  return cudaError_t(alloc_call(rec::kMemCudaMallocFromPoolAsync, p, n, true, [&] { return f(p, n, pool, s); }));
}
ARGUS_EXPORT cudaError_t cudaMallocManaged(void** p, size_t n, unsigned flags) {
  auto f = real<cudaError_t (*)(void**, size_t, unsigned)>(S_cudaMallocManaged);
  if (!f) return kRtMissing;
  return cudaError_t(alloc_call(rec::kMemCudaMallocManaged, p, n, true, [&] { return f(p, n, flags); }));
}
ARGUS_EXPORT cudaError_t cudaMallocHost(void** p, size_t n) {
  auto f = real<cudaError_t (*)(void**, size_t)>(S_cudaMallocHost);
  if (!f) return kRtMissing;
  return cudaError_t(alloc_call(rec::kMemCudaMallocHost, p, n, false, [&] { return f(p, n); }));
}
ARGUS_EXPORT cudaError_t cudaFreeHost(void* p) {
  auto f = real<cudaError_t (*)(void*)>(S_cudaFreeHost);
  if (!f) return kRtMissing;
  if (!active() || !p) return f(p);
  Guard g;
  if (!g.ok) return f(p);
  uint64_t t0 = mono_ns();
  cudaError_t r = f(p);
  g_rec.mem_call(rec::kMemCudaFreeHost, 0, r == cudaSuccess, mono_ns() - t0, 0, false);
  return r;
}
ARGUS_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  auto f = real<CUresult (*)(CUdeviceptr*, size_t)>(S_cuMemAlloc_v2);
  if (!f) return kCuMissing;
  return CUresult(alloc_call(rec::kMemCuMemAlloc, reinterpret_cast<void**>(p), n, true, [&] { return f(p, n); }));
}
ARGUS_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  auto f = real<CUresult (*)(CUdeviceptr)>(S_cuMemFree_v2);
  if (!f) return kCuMissing;
  return CUresult(free_call(rec::kMemCuMemFree, uint64_t(p), [&] { return f(p); }));
}
ARGUS_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* p, size_t n, CUstream s) {
  auto f = real<CUresult (*)(CUdeviceptr*, size_t, CUstream)>(S_cuMemAllocAsync);
  if (!f) return kCuMissing;
  return CUresult(alloc_call(rec::kMemCudaMallocAsync, reinterpret_cast<void**>(p), n, true, [&] { return f(p, n, s); }));
}
ARGUS_EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
  auto f = real<CUresult (*)(CUdeviceptr, CUstream)>(S_cuMemFreeAsync);
  if (!f) return kCuMissing;
  return CUresult(free_call(rec::kMemCudaFreeAsync, uint64_t(p), [&] { return f(p, s); }));
}
// Virtual memory management (PyTorch expandable segments).  Physical handles and mappings
// are kept in g_allocs under tagged keys (handles | 1<<63, mapped ranges by address).
static constexpr uint64_t kHandleTag = 1ull << 63;
ARGUS_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle* h, size_t n, const CUmemAllocationProp* prop,
                                  unsigned long long flags) {
  auto f = real<CUresult (*)(CUmemGenericAllocationHandle*, size_t, const CUmemAllocationProp*, unsigned long long)>(S_cuMemCreate);
  if (!f) return kCuMissing;
  if (!active()) return f(h, n, prop, flags);
  Guard g;
  if (!g.ok) return f(h, n, prop, flags);
  uint64_t t0 = mono_ns();
  CUresult r = f(h, n, prop, flags);
  uint64_t t1 = mono_ns();
  int64_t delta = 0;
  bool retry = false;
  if (r == CUDA_SUCCESS) {
    retry = recent_failure(t1);
    if (h && g_allocs.insert(uint64_t(*h) | kHandleTag, n)) delta = int64_t(n);
  } else {
    t_tls.last_alloc_fail_ns = t1;
  }
  g_rec.mem_call(rec::kMemCuMemCreate, n, r == CUDA_SUCCESS, t1 - t0, delta, retry);
  return r;
}
ARGUS_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h) {
  auto f = real<CUresult (*)(CUmemGenericAllocationHandle)>(S_cuMemRelease);
  if (!f) return kCuMissing;
  return CUresult(free_call(rec::kMemCuMemRelease, uint64_t(h) | kHandleTag, [&] { return f(h); }));
}
ARGUS_EXPORT CUresult cuMemMap(CUdeviceptr p, size_t n, size_t off, CUmemGenericAllocationHandle h, unsigned long long flags) {
  auto f = real<CUresult (*)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle, unsigned long long)>(S_cuMemMap);
  if (!f) return kCuMissing;
  if (!active()) return f(p, n, off, h, flags);
  Guard g;
  if (!g.ok) return f(p, n, off, h, flags);
  uint64_t t0 = mono_ns();
  CUresult r = f(p, n, off, h, flags);
  g_rec.mem_call(rec::kMemCuMemMap, n, r == CUDA_SUCCESS, mono_ns() - t0, r == CUDA_SUCCESS ? int64_t(n) : 0, false);
  return r;
}
ARGUS_EXPORT CUresult cuMemUnmap(CUdeviceptr p, size_t n) {
  auto f = real<CUresult (*)(CUdeviceptr, size_t)>(S_cuMemUnmap);
  if (!f) return kCuMissing;
  if (!active()) return f(p, n);
  Guard g;
  if (!g.ok) return f(p, n);
  uint64_t t0 = mono_ns();
  CUresult r = f(p, n);
  g_rec.mem_call(rec::kMemCuMemUnmap, n, r == CUDA_SUCCESS, mono_ns() - t0, r == CUDA_SUCCESS ? -int64_t(n) : 0, false);
  return r;
}

// ── driver entry points ──────────────────────────────────────────────────────────────────────
// Wrappers handed out instead of the driver's own functions.  Each remembers its real
// function in its own slot (the pointer the driver gave out, possibly a different ABI
// version than the exported symbol).
namespace {
enum Ep : int {
  EP_cuLaunchKernel, EP_cuLaunchKernel_ptsz, EP_cuLaunchKernelEx, EP_cuLaunchKernelEx_ptsz,
  EP_cuGraphLaunch, EP_cuGraphLaunch_ptsz, EP_cuGetProcAddress_v2, EP_cuMemAlloc_v2,
  EP_cuMemFree_v2, EP_cuMemCreate, EP_cuMemRelease, EP_cuMemMap, EP_cuMemUnmap,
  EP_cuFuncGetName, kEpCount
};
std::atomic<void*> g_ep[kEpCount];
template <class F> F ep(Ep e) { return reinterpret_cast<F>(g_ep[e].load(std::memory_order_acquire)); }

CUresult ep_cuLaunchKernel(CU_LAUNCH_ARGS) {
  auto f = ep<CuLaunch>(EP_cuLaunchKernel);
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchKernel, true, [&] { return stream; },
                          [&] { return f(CU_LAUNCH_PASS); });
}
CUresult ep_cuLaunchKernel_ptsz(CU_LAUNCH_ARGS) {
  auto f = ep<CuLaunch>(EP_cuLaunchKernel_ptsz);
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchKernelPtsz, true, [&] { return stream; },
                          [&] { return f(CU_LAUNCH_PASS); });
}
CUresult ep_cuLaunchKernelEx(const CUlaunchConfig* cfg, CUfunction fn, void** params, void** extra) {
  auto f = ep<CuLaunchEx>(EP_cuLaunchKernelEx);
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchKernelEx, true, [&] { return cfg ? cfg->hStream : nullptr; },
                          [&] { return f(cfg, fn, params, extra); });
}
CUresult ep_cuLaunchKernelEx_ptsz(const CUlaunchConfig* cfg, CUfunction fn, void** params, void** extra) {
  auto f = ep<CuLaunchEx>(EP_cuLaunchKernelEx_ptsz);
  return launch<CUresult>(fn, 1, rec::kPathCuLaunchKernelExPtsz, true, [&] { return cfg ? cfg->hStream : nullptr; },
                          [&] { return f(cfg, fn, params, extra); });
}
CUresult ep_cuGraphLaunch(CUgraphExec g, CUstream s) {
  auto f = ep<CuGraph>(EP_cuGraphLaunch);
  return graph<CUresult>(rec::kPathCuGraphLaunch, [&] { return f(g, s); });
}
CUresult ep_cuGraphLaunch_ptsz(CUgraphExec g, CUstream s) {
  auto f = ep<CuGraph>(EP_cuGraphLaunch_ptsz);
  return graph<CUresult>(rec::kPathCuGraphLaunch, [&] { return f(g, s); });
}
CUresult ep_cuGetProcAddress_v2(const char* sym, void** pfn, int ver, cuuint64_t flags, CUdriverProcAddressQueryResult* st) {
  auto f = ep<CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*)>(EP_cuGetProcAddress_v2);
  CUresult r = f(sym, pfn, ver, flags, st);
  if (r == CUDA_SUCCESS) wrap_entry_point(sym, pfn, flags, ver);
  return r;
}
CUresult ep_cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
  auto f = ep<CUresult (*)(CUdeviceptr*, size_t)>(EP_cuMemAlloc_v2);
  return CUresult(alloc_call(rec::kMemCuMemAlloc, reinterpret_cast<void**>(p), n, true, [&] { return f(p, n); }));
}
CUresult ep_cuMemFree_v2(CUdeviceptr p) {
  auto f = ep<CUresult (*)(CUdeviceptr)>(EP_cuMemFree_v2);
  return CUresult(free_call(rec::kMemCuMemFree, uint64_t(p), [&] { return f(p); }));
}
CUresult ep_cuMemCreate(CUmemGenericAllocationHandle* h, size_t n, const CUmemAllocationProp* prop, unsigned long long flags) {
  auto f = ep<CUresult (*)(CUmemGenericAllocationHandle*, size_t, const CUmemAllocationProp*, unsigned long long)>(EP_cuMemCreate);
  if (!active()) return f(h, n, prop, flags);
  Guard g;
  if (!g.ok) return f(h, n, prop, flags);
  uint64_t t0 = mono_ns();
  CUresult r = f(h, n, prop, flags);
  uint64_t t1 = mono_ns();
  int64_t delta = 0;
  if (r == CUDA_SUCCESS && h && g_allocs.insert(uint64_t(*h) | kHandleTag, n)) delta = int64_t(n);
  if (r != CUDA_SUCCESS) t_tls.last_alloc_fail_ns = t1;
  g_rec.mem_call(rec::kMemCuMemCreate, n, r == CUDA_SUCCESS, t1 - t0, delta, r == CUDA_SUCCESS && recent_failure(t1));
  return r;
}
CUresult ep_cuMemRelease(CUmemGenericAllocationHandle h) {
  auto f = ep<CUresult (*)(CUmemGenericAllocationHandle)>(EP_cuMemRelease);
  return CUresult(free_call(rec::kMemCuMemRelease, uint64_t(h) | kHandleTag, [&] { return f(h); }));
}
CUresult ep_cuMemMap(CUdeviceptr p, size_t n, size_t off, CUmemGenericAllocationHandle h, unsigned long long flags) {
  auto f = ep<CUresult (*)(CUdeviceptr, size_t, size_t, CUmemGenericAllocationHandle, unsigned long long)>(EP_cuMemMap);
  if (!active()) return f(p, n, off, h, flags);
  Guard g;
  if (!g.ok) return f(p, n, off, h, flags);
  uint64_t t0 = mono_ns();
  CUresult r = f(p, n, off, h, flags);
  g_rec.mem_call(rec::kMemCuMemMap, n, r == CUDA_SUCCESS, mono_ns() - t0, r == CUDA_SUCCESS ? int64_t(n) : 0, false);
  return r;
}
CUresult ep_cuMemUnmap(CUdeviceptr p, size_t n) {
  auto f = ep<CUresult (*)(CUdeviceptr, size_t)>(EP_cuMemUnmap);
  if (!active()) return f(p, n);
  Guard g;
  if (!g.ok) return f(p, n);
  uint64_t t0 = mono_ns();
  CUresult r = f(p, n);
  g_rec.mem_call(rec::kMemCuMemUnmap, n, r == CUDA_SUCCESS, mono_ns() - t0, r == CUDA_SUCCESS ? -int64_t(n) : 0, false);
  return r;
}
CUresult ep_cuFuncGetName(const char** name, CUfunction fn) {
  auto f = ep<CUresult (*)(const char**, CUfunction)>(EP_cuFuncGetName);
  return f(name, fn);  // (names are fetched by us on demand; nothing to record here)
}

struct EpEntry { const char* name; bool ptds; int min_version; Ep slot; void* wrapper; };
const EpEntry kEntries[] = {
    {"cuLaunchKernel", false, 4000, EP_cuLaunchKernel, reinterpret_cast<void*>(&ep_cuLaunchKernel)},
    {"cuLaunchKernel", true, 4000, EP_cuLaunchKernel_ptsz, reinterpret_cast<void*>(&ep_cuLaunchKernel_ptsz)},
    {"cuLaunchKernelEx", false, 11060, EP_cuLaunchKernelEx, reinterpret_cast<void*>(&ep_cuLaunchKernelEx)},
    {"cuLaunchKernelEx", true, 11060, EP_cuLaunchKernelEx_ptsz, reinterpret_cast<void*>(&ep_cuLaunchKernelEx_ptsz)},
    {"cuGraphLaunch", false, 10000, EP_cuGraphLaunch, reinterpret_cast<void*>(&ep_cuGraphLaunch)},
    {"cuGraphLaunch", true, 10000, EP_cuGraphLaunch_ptsz, reinterpret_cast<void*>(&ep_cuGraphLaunch_ptsz)},
    {"cuGetProcAddress", false, 12000, EP_cuGetProcAddress_v2, reinterpret_cast<void*>(&ep_cuGetProcAddress_v2)},
    {"cuGetProcAddress", true, 12000, EP_cuGetProcAddress_v2, reinterpret_cast<void*>(&ep_cuGetProcAddress_v2)},
    {"cuMemAlloc", false, 3020, EP_cuMemAlloc_v2, reinterpret_cast<void*>(&ep_cuMemAlloc_v2)},
    {"cuMemAlloc", true, 3020, EP_cuMemAlloc_v2, reinterpret_cast<void*>(&ep_cuMemAlloc_v2)},
    {"cuMemFree", false, 3020, EP_cuMemFree_v2, reinterpret_cast<void*>(&ep_cuMemFree_v2)},
    {"cuMemFree", true, 3020, EP_cuMemFree_v2, reinterpret_cast<void*>(&ep_cuMemFree_v2)},
    {"cuMemCreate", false, 10020, EP_cuMemCreate, reinterpret_cast<void*>(&ep_cuMemCreate)},
    {"cuMemCreate", true, 10020, EP_cuMemCreate, reinterpret_cast<void*>(&ep_cuMemCreate)},
    {"cuMemRelease", false, 10020, EP_cuMemRelease, reinterpret_cast<void*>(&ep_cuMemRelease)},
    {"cuMemRelease", true, 10020, EP_cuMemRelease, reinterpret_cast<void*>(&ep_cuMemRelease)},
    {"cuMemMap", false, 10020, EP_cuMemMap, reinterpret_cast<void*>(&ep_cuMemMap)},
    {"cuMemMap", true, 10020, EP_cuMemMap, reinterpret_cast<void*>(&ep_cuMemMap)},
    {"cuMemUnmap", false, 10020, EP_cuMemUnmap, reinterpret_cast<void*>(&ep_cuMemUnmap)},
    {"cuMemUnmap", true, 10020, EP_cuMemUnmap, reinterpret_cast<void*>(&ep_cuMemUnmap)},
    {"cuFuncGetName", false, 12030, EP_cuFuncGetName, reinterpret_cast<void*>(&ep_cuFuncGetName)},
    {"cuFuncGetName", true, 12030, EP_cuFuncGetName, reinterpret_cast<void*>(&ep_cuFuncGetName)},
};
// Exported symbol names (dlsym on a libcuda handle) → entry slot.
struct DlEntry { const char* symbol; Ep slot; void* wrapper; };
const DlEntry kDlEntries[] = {
    {"cuLaunchKernel", EP_cuLaunchKernel, reinterpret_cast<void*>(&ep_cuLaunchKernel)},
    {"cuLaunchKernel_ptsz", EP_cuLaunchKernel_ptsz, reinterpret_cast<void*>(&ep_cuLaunchKernel_ptsz)},
    {"cuLaunchKernelEx", EP_cuLaunchKernelEx, reinterpret_cast<void*>(&ep_cuLaunchKernelEx)},
    {"cuLaunchKernelEx_ptsz", EP_cuLaunchKernelEx_ptsz, reinterpret_cast<void*>(&ep_cuLaunchKernelEx_ptsz)},
    {"cuGraphLaunch", EP_cuGraphLaunch, reinterpret_cast<void*>(&ep_cuGraphLaunch)},
    {"cuGraphLaunch_ptsz", EP_cuGraphLaunch_ptsz, reinterpret_cast<void*>(&ep_cuGraphLaunch_ptsz)},
    {"cuGetProcAddress_v2", EP_cuGetProcAddress_v2, reinterpret_cast<void*>(&ep_cuGetProcAddress_v2)},
    {"cuMemAlloc_v2", EP_cuMemAlloc_v2, reinterpret_cast<void*>(&ep_cuMemAlloc_v2)},
    {"cuMemFree_v2", EP_cuMemFree_v2, reinterpret_cast<void*>(&ep_cuMemFree_v2)},
    {"cuMemCreate", EP_cuMemCreate, reinterpret_cast<void*>(&ep_cuMemCreate)},
    {"cuMemRelease", EP_cuMemRelease, reinterpret_cast<void*>(&ep_cuMemRelease)},
    {"cuMemMap", EP_cuMemMap, reinterpret_cast<void*>(&ep_cuMemMap)},
    {"cuMemUnmap", EP_cuMemUnmap, reinterpret_cast<void*>(&ep_cuMemUnmap)},
};

// Stores real in slot (first writer wins).  True if the slot now holds `real`.
bool remember(Ep slot, void* real_fn) {
  if (!real_fn || is_our_address(real_fn)) return false;
  void* expect = nullptr;
  if (g_ep[slot].compare_exchange_strong(expect, real_fn)) return true;
  return expect == real_fn;
}
}  // namespace

namespace argus::ip {
void wrap_entry_point(const char* symbol, void** pfn, unsigned long long flags, int version) noexcept {
  if (!symbol || !pfn || !*pfn || g_state.load(std::memory_order_relaxed) == kOff) return;
  bool ptds = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  for (const EpEntry& e : kEntries) {
    if (e.ptds != ptds || version < e.min_version || strcmp(symbol, e.name) != 0) continue;
    if (remember(e.slot, *pfn)) *pfn = e.wrapper;
    return;
  }
}
void* wrapper_for_dlsym(const char* symbol, void* real_fn) noexcept {
  for (const DlEntry& e : kDlEntries)
    if (strcmp(symbol, e.symbol) == 0) return remember(e.slot, real_fn) ? e.wrapper : nullptr;
  return nullptr;
}
}  // namespace argus::ip

ARGUS_EXPORT CUresult cuGetProcAddress_v2(const char* sym, void** pfn, int ver, cuuint64_t flags,
                                          CUdriverProcAddressQueryResult* st) {
  auto f = real<CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*)>(S_cuGetProcAddress_v2);
  if (!f) return kCuMissing;
  CUresult r = f(sym, pfn, ver, flags, st);
  if (r == CUDA_SUCCESS && t_tls.depth == 0) wrap_entry_point(sym, pfn, flags, ver);
  return r;
}
ARGUS_EXPORT CUresult cuGetProcAddress(const char* sym, void** pfn, int ver, cuuint64_t flags) {
  auto f = real<CUresult (*)(const char*, void**, int, cuuint64_t)>(S_cuGetProcAddress);
  if (!f) return kCuMissing;
  CUresult r = f(sym, pfn, ver, flags);
  if (r == CUDA_SUCCESS && t_tls.depth == 0) wrap_entry_point(sym, pfn, flags, ver);
  return r;
}
static unsigned long long rt_to_cu_flags(unsigned long long flags) {
  // cudaEnablePerThreadDefaultStream (2) ≡ CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
  return flags;
}
ARGUS_EXPORT cudaError_t cudaGetDriverEntryPoint(const char* sym, void** fp, unsigned long long flags,
                                                 cudaDriverEntryPointQueryResult* st) {
  auto f = real<cudaError_t (*)(const char*, void**, unsigned long long, cudaDriverEntryPointQueryResult*)>(S_cudaGetDriverEntryPoint);
  if (!f) return kRtMissing;
  cudaError_t r = f(sym, fp, flags, st);
  if (r == cudaSuccess && t_tls.depth == 0) wrap_entry_point(sym, fp, rt_to_cu_flags(flags), 1000000);
  return r;
}
ARGUS_EXPORT cudaError_t cudaGetDriverEntryPoint_ptsz(const char* sym, void** fp, unsigned long long flags,
                                                      cudaDriverEntryPointQueryResult* st) {
  auto f = real<cudaError_t (*)(const char*, void**, unsigned long long, cudaDriverEntryPointQueryResult*)>(S_cudaGetDriverEntryPoint_ptsz);
  if (!f) return kRtMissing;
  cudaError_t r = f(sym, fp, flags, st);
  if (r == cudaSuccess && t_tls.depth == 0) wrap_entry_point(sym, fp, rt_to_cu_flags(flags), 1000000);
  return r;
}
ARGUS_EXPORT cudaError_t cudaGetDriverEntryPointByVersion(const char* sym, void** fp, unsigned int ver,
                                                          unsigned long long flags, cudaDriverEntryPointQueryResult* st) {
  auto f = real<cudaError_t (*)(const char*, void**, unsigned, unsigned long long, cudaDriverEntryPointQueryResult*)>(S_cudaGetDriverEntryPointByVersion);
  if (!f) return kRtMissing;
  cudaError_t r = f(sym, fp, ver, flags, st);
  if (r == cudaSuccess && t_tls.depth == 0) wrap_entry_point(sym, fp, rt_to_cu_flags(flags), int(ver));
  return r;
}
ARGUS_EXPORT cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char* sym, void** fp, unsigned int ver,
                                                               unsigned long long flags, cudaDriverEntryPointQueryResult* st) {
  auto f = real<cudaError_t (*)(const char*, void**, unsigned, unsigned long long, cudaDriverEntryPointQueryResult*)>(S_cudaGetDriverEntryPointByVersion_ptsz);
  if (!f) return kRtMissing;
  cudaError_t r = f(sym, fp, ver, flags, st);
  if (r == cudaSuccess && t_tls.depth == 0) wrap_entry_point(sym, fp, rt_to_cu_flags(flags), int(ver));
  return r;
}

// CUDA injection entry point (CUDA_INJECTION64_PATH): called by cuInit.
ARGUS_EXPORT int InitializeInjection(void) {
  if (active()) after_first_cuda_call();
  return 1;
}
