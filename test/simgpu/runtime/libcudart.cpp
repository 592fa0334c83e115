// libcudart.so.13 — simgpu's CUDA runtime. Calls the simulated device directly (as the real
// runtime calls the driver through private entry points), so an interposer on cu* symbols
// never sees runtime-internal calls. Exported under the version node libcudart.so.13.
#include <cuda.h>
#include <cuda_profiler_api.h>
#include <cuda_runtime_api.h>
#include <cupti_runtime_cbid.h>

#include <cstdio>
#include <cstring>
#include <atomic>
#include <mutex>
#include <vector>

#include "../core/device.h"

using sg::ActivityRecord;
using sg::ApiScope;

namespace {
thread_local cudaError_t t_last = cudaSuccess;

cudaError_t rt(int e) {
  cudaError_t r;
  switch (e) {
    case sg::kOk: return cudaSuccess;
    case sg::kInvalidValue: r = cudaErrorInvalidValue; break;
    case sg::kOOM: r = cudaErrorMemoryAllocation; break;
    case sg::kNotReady: return cudaErrorNotReady;  // not an error: never sticky
    case sg::kInvalidHandle: r = cudaErrorInvalidResourceHandle; break;
    case sg::kCaptureUnsupported: r = cudaErrorStreamCaptureUnsupported; break;
    case sg::kCaptureInvalidated: r = cudaErrorStreamCaptureInvalidated; break;
    case sg::kCapturedEvent: r = cudaErrorCapturedEvent; break;
    case sg::kInvalidDevice: r = cudaErrorInvalidDevice; break;
    case sg::kInvalidDeviceFunction: r = cudaErrorInvalidDeviceFunction; break;
    default: r = cudaErrorUnknown; break;
  }
  t_last = r;
  return r;
}

// Not std::call_once: cuInit runs the CUDA_INJECTION64_PATH tool, which commonly calls back
// into the runtime on this thread. cuInit itself is idempotent and reentrancy-safe.
void rt_init() {
  static std::atomic<bool> done{false};
  if (done.load(std::memory_order_acquire)) return;
  cuInit(0);
  done.store(true, std::memory_order_release);
}

#define RT(cbid) \
  rt_init();     \
  ApiScope api_(ActivityRecord::Runtime, CUPTI_RUNTIME_TRACE_CBID_##cbid, #cbid)
#define RET(x) return (cudaError_t)api_.done((int)(x))

CUstream_st* strm(cudaStream_t h, bool ptsz = false) { return sg::stream_resolve(h, ptsz); }

struct CallConfig {
  dim3 grid, block;
  size_t shmem;
  cudaStream_t stream;
};
thread_local std::vector<CallConfig> t_configs;

cudaError_t launch_impl(sg::FuncInfo* f, dim3 g, dim3 b, size_t shmem, cudaStream_t h, bool ptsz, uint32_t corr) {
  if (!f) return rt(sg::kInvalidDeviceFunction);
  CUstream_st* s = strm(h, ptsz);
  if (!s) return rt(sg::kInvalidHandle);
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z || b.x * b.y * b.z > 1024) {
    t_last = cudaErrorInvalidConfiguration;
    return cudaErrorInvalidConfiguration;
  }
  unsigned gg[3] = {g.x, g.y, g.z}, bb[3] = {b.x, b.y, b.z};
  return rt(sg::launch(f, gg, bb, (uint32_t)shmem, s, corr, 0));
}

struct FatHandle {
  void* fatbin;
};
}  // namespace

extern "C" {

// ---- registration (what nvcc's host code calls from static constructors)
void** CUDARTAPI __cudaRegisterFatBinary(void* fatCubin) {
  auto* h = new FatHandle{fatCubin};
  return reinterpret_cast<void**>(h);
}
void CUDARTAPI __cudaRegisterFatBinaryEnd(void**) {}
void CUDARTAPI __cudaUnregisterFatBinary(void** h) { delete reinterpret_cast<FatHandle*>(h); }
char CUDARTAPI __cudaInitModule(void**) { return 1; }
void CUDARTAPI __cudaRegisterFunction(void**, const char* hostFun, char* deviceFun, const char* deviceName, int, uint3*,
                                      uint3*, dim3*, dim3*, int*) {
  sg::register_function(hostFun, deviceName ? deviceName : deviceFun);
}
void CUDARTAPI __cudaRegisterVar(void**, char*, char*, const char*, int, size_t, int, int) {}
void CUDARTAPI __cudaRegisterManagedVar(void**, void**, char*, const char*, int, size_t, int, int) {}

unsigned CUDARTAPI __cudaPushCallConfiguration(dim3 gridDim, dim3 blockDim, size_t sharedMem, struct CUstream_st* stream) {
  t_configs.push_back({gridDim, blockDim, sharedMem, stream});
  return 0;
}
cudaError_t CUDARTAPI __cudaPopCallConfiguration(dim3* gridDim, dim3* blockDim, size_t* sharedMem, void* stream) {
  if (t_configs.empty()) return cudaErrorMissingConfiguration;
  CallConfig c = t_configs.back();
  t_configs.pop_back();
  *gridDim = c.grid;
  *blockDim = c.block;
  *sharedMem = c.shmem;
  *reinterpret_cast<cudaStream_t*>(stream) = c.stream;
  return cudaSuccess;
}

cudaError_t CUDARTAPI __cudaGetKernel(cudaKernel_t* k, const void* fun) {
  rt_init();
  sg::FuncInfo* f = sg::func_by_host(fun);
  if (!f) return rt(sg::kInvalidDeviceFunction);
  *k = f;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetKernel(cudaKernel_t* k, const void* fun) { return __cudaGetKernel(k, fun); }

cudaError_t CUDARTAPI __cudaLaunchKernel(cudaKernel_t k, dim3 g, dim3 b, void**, size_t shmem, cudaStream_t s) {
  RT(__cudaLaunchKernel_v13000);
  RET(launch_impl(sg::func_by_handle(k), g, b, shmem, s, false, api_.corr));
}
cudaError_t CUDARTAPI __cudaLaunchKernel_ptsz(cudaKernel_t k, dim3 g, dim3 b, void**, size_t shmem, cudaStream_t s) {
  RT(__cudaLaunchKernel_ptsz_v13000);
  RET(launch_impl(sg::func_by_handle(k), g, b, shmem, s, true, api_.corr));
}
cudaError_t CUDARTAPI cudaLaunchKernel(const void* fun, dim3 g, dim3 b, void**, size_t shmem, cudaStream_t s) {
  RT(cudaLaunchKernel_v7000);
  RET(launch_impl(sg::func_by_host(fun), g, b, shmem, s, false, api_.corr));
}
cudaError_t CUDARTAPI cudaLaunchKernel_ptsz(const void* fun, dim3 g, dim3 b, void**, size_t shmem, cudaStream_t s) {
  RT(cudaLaunchKernel_ptsz_v7000);
  RET(launch_impl(sg::func_by_host(fun), g, b, shmem, s, true, api_.corr));
}
cudaError_t CUDARTAPI cudaLaunchKernelExC(const cudaLaunchConfig_t* c, const void* fun, void**) {
  RT(cudaLaunchKernelExC_v11060);
  if (!c) RET(rt(sg::kInvalidValue));
  sg::FuncInfo* f = sg::func_by_host(fun);
  if (!f) f = sg::func_by_handle(fun);  // a cudaKernel_t is accepted too
  RET(launch_impl(f, c->gridDim, c->blockDim, c->dynamicSmemBytes, c->stream, false, api_.corr));
}
cudaError_t CUDARTAPI cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t* c, const void* fun, void**) {
  RT(cudaLaunchKernelExC_ptsz_v11060);
  if (!c) RET(rt(sg::kInvalidValue));
  sg::FuncInfo* f = sg::func_by_host(fun);
  if (!f) f = sg::func_by_handle(fun);
  RET(launch_impl(f, c->gridDim, c->blockDim, c->dynamicSmemBytes, c->stream, true, api_.corr));
}
cudaError_t CUDARTAPI cudaFuncGetName(const char** name, const void* fun) {
  rt_init();
  sg::FuncInfo* f = sg::func_by_host(fun);
  if (!f || !name) return rt(sg::kInvalidDeviceFunction);
  *name = f->name.c_str();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetFuncBySymbol(cudaFunction_t* fp, const void* sym) {
  rt_init();
  sg::FuncInfo* f = sg::func_by_host(sym);
  if (!f || !fp) return rt(sg::kInvalidDeviceFunction);
  *fp = f;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaFuncGetAttributes(struct cudaFuncAttributes* a, const void* fun) {
  rt_init();
  if (!sg::func_by_host(fun)) return rt(sg::kInvalidDeviceFunction);
  memset(a, 0, sizeof *a);
  a->maxThreadsPerBlock = 1024;
  a->numRegs = 32;
  a->ptxVersion = 80;
  a->binaryVersion = 80;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaFuncSetAttribute(const void*, enum cudaFuncAttribute, int) { return cudaSuccess; }

// ---- device
cudaError_t CUDARTAPI cudaGetDeviceCount(int* n) {
  rt_init();
  *n = sg::device_count();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGetDevice(int* d) {
  rt_init();
  *d = sg::current_device();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaSetDevice(int d) {
  RT(cudaSetDevice_v3020);
  RET(rt(sg::set_current_device(d)));
}
cudaError_t CUDARTAPI cudaInitDevice(int d, unsigned, unsigned) { return cudaSetDevice(d); }
cudaError_t CUDARTAPI cudaSetDeviceFlags(unsigned) { return cudaSuccess; }
cudaError_t CUDARTAPI cudaDeviceGetAttribute(int* v, enum cudaDeviceAttr a, int d) {
  rt_init();
  return cuDeviceGetAttribute(v, (CUdevice_attribute)a, d) == CUDA_SUCCESS ? cudaSuccess : rt(sg::kInvalidDevice);
}
cudaError_t CUDARTAPI cudaGetDeviceProperties(struct cudaDeviceProp* p, int d) {
  rt_init();
  if (d < 0 || d >= sg::device_count()) return rt(sg::kInvalidDevice);
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "simgpu A100-SXM4-80GB (simulated)");
  p->totalGlobalMem = sg::device_capacity();
  p->sharedMemPerBlock = 49152;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024; p->maxThreadsDim[1] = 1024; p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647; p->maxGridSize[1] = 65535; p->maxGridSize[2] = 65535;
  p->major = 8;
  p->minor = 0;
  p->multiProcessorCount = 108;
  p->concurrentKernels = 1;
  p->asyncEngineCount = 3;
  p->unifiedAddressing = 1;
  p->memoryBusWidth = 5120;
  p->l2CacheSize = 40 << 20;
  p->maxThreadsPerMultiProcessor = 2048;
  p->pciDeviceID = d;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaDeviceSynchronize(void) {
  RT(cudaDeviceSynchronize_v3020);
  RET(rt(sg::device_sync()));
}
cudaError_t CUDARTAPI cudaDeviceReset(void) {
  rt_init();
  sg::device_sync();
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaRuntimeGetVersion(int* v) {
  *v = sg::reported_cuda_version(CUDART_VERSION);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaDriverGetVersion(int* v) {
  *v = sg::reported_cuda_version(CUDA_VERSION);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaProfilerStart(void) { return cudaSuccess; }
cudaError_t CUDARTAPI cudaProfilerStop(void) { return cudaSuccess; }

// ---- streams
cudaError_t CUDARTAPI cudaStreamCreate(cudaStream_t* s) {
  RT(cudaStreamCreate_v3020);
  *s = sg::stream_create(0, 0);
  RET(cudaSuccess);
}
cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  RT(cudaStreamCreateWithFlags_v5000);
  *s = sg::stream_create(flags & cudaStreamNonBlocking, 0);
  RET(cudaSuccess);
}
cudaError_t CUDARTAPI cudaStreamCreateWithPriority(cudaStream_t* s, unsigned flags, int prio) {
  RT(cudaStreamCreateWithPriority_v5050);
  *s = sg::stream_create(flags & cudaStreamNonBlocking, prio);
  RET(cudaSuccess);
}
cudaError_t CUDARTAPI cudaDeviceGetStreamPriorityRange(int* least, int* greatest) {
  if (least) *least = 0;
  if (greatest) *greatest = -5;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t s) {
  RT(cudaStreamDestroy_v5050);
  RET(rt(sg::stream_destroy(s)));
}
static cudaError_t stream_sync(cudaStream_t h, bool ptsz, uint32_t) {
  CUstream_st* s = strm(h, ptsz);
  if (!s) return rt(sg::kInvalidHandle);
  return rt(sg::stream_sync(s));
}
cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t h) {
  RT(cudaStreamSynchronize_v3020);
  RET(stream_sync(h, false, api_.corr));
}
cudaError_t CUDARTAPI cudaStreamSynchronize_ptsz(cudaStream_t h) {
  RT(cudaStreamSynchronize_ptsz_v7000);
  RET(stream_sync(h, true, api_.corr));
}
cudaError_t CUDARTAPI cudaStreamQuery(cudaStream_t h) {
  rt_init();
  CUstream_st* s = strm(h);
  if (!s) return rt(sg::kInvalidHandle);
  return rt(sg::stream_query(s));
}
cudaError_t CUDARTAPI cudaStreamWaitEvent(cudaStream_t h, cudaEvent_t e, unsigned) {
  RT(cudaStreamWaitEvent_v3020);
  CUstream_st* s = strm(h);
  if (!s || !e) RET(rt(sg::kInvalidHandle));
  RET(rt(sg::stream_wait_event(s, e)));
}
cudaError_t CUDARTAPI cudaStreamGetId(cudaStream_t h, unsigned long long* id) {
  rt_init();
  CUstream_st* s = strm(h);
  if (!s) return rt(sg::kInvalidHandle);
  *id = sg::stream_id(s);
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaStreamGetFlags(cudaStream_t h, unsigned* f) {
  rt_init();
  CUstream_st* s = strm(h);
  if (!s) return rt(sg::kInvalidHandle);
  *f = sg::stream_flags(s);
  return cudaSuccess;
}

// ---- events
cudaError_t CUDARTAPI cudaEventCreate(cudaEvent_t* e) {
  RT(cudaEventCreate_v3020);
  *e = sg::event_create(0);
  RET(cudaSuccess);
}
cudaError_t CUDARTAPI cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  RT(cudaEventCreateWithFlags_v3020);
  *e = sg::event_create(flags);
  RET(cudaSuccess);
}
cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t e) {
  RT(cudaEventDestroy_v3020);
  RET(rt(sg::event_destroy(e)));
}
static cudaError_t ev_record(cudaEvent_t e, cudaStream_t h, bool ptsz) {
  CUstream_st* s = strm(h, ptsz);
  if (!s || !e) return rt(sg::kInvalidHandle);
  return rt(sg::event_record(e, s));
}
cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t e, cudaStream_t h) {
  RT(cudaEventRecord_v3020);
  RET(ev_record(e, h, false));
}
cudaError_t CUDARTAPI cudaEventRecord_ptsz(cudaEvent_t e, cudaStream_t h) {
  RT(cudaEventRecord_ptsz_v7000);
  RET(ev_record(e, h, true));
}
cudaError_t CUDARTAPI cudaEventRecordWithFlags(cudaEvent_t e, cudaStream_t h, unsigned) {
  RT(cudaEventRecordWithFlags_v11010);
  RET(ev_record(e, h, false));
}
cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t e) {
  RT(cudaEventSynchronize_v3020);
  if (!e) RET(rt(sg::kInvalidHandle));
  RET(rt(sg::event_sync(e)));
}
cudaError_t CUDARTAPI cudaEventQuery(cudaEvent_t e) {
  rt_init();
  if (!e) return rt(sg::kInvalidHandle);
  return rt(sg::event_query(e));
}
cudaError_t CUDARTAPI cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  rt_init();
  if (!a || !b || !ms) return rt(sg::kInvalidHandle);
  return rt(sg::event_elapsed(ms, a, b));
}

// ---- memory
cudaError_t CUDARTAPI cudaMalloc(void** p, size_t bytes) {
  RT(cudaMalloc_v3020);
  if (!p) RET(rt(sg::kInvalidValue));
  RET(rt(sg::dev_malloc(p, bytes)));
}
cudaError_t CUDARTAPI cudaFree(void* p) {
  RT(cudaFree_v3020);
  RET(rt(sg::dev_free(p)));
}
cudaError_t CUDARTAPI cudaMallocAsync(void** p, size_t bytes, cudaStream_t) {
  RT(cudaMallocAsync_v11020);
  if (!p) RET(rt(sg::kInvalidValue));
  RET(rt(sg::dev_malloc(p, bytes)));
}
cudaError_t CUDARTAPI cudaMallocAsync_ptsz(void** p, size_t bytes, cudaStream_t s) { return cudaMallocAsync(p, bytes, s); }
cudaError_t CUDARTAPI cudaFreeAsync(void* p, cudaStream_t) {
  RT(cudaFreeAsync_v11020);
  RET(rt(sg::dev_free(p)));
}
cudaError_t CUDARTAPI cudaFreeAsync_ptsz(void* p, cudaStream_t s) { return cudaFreeAsync(p, s); }
cudaError_t CUDARTAPI cudaMallocHost(void** p, size_t bytes) {
  RT(cudaMallocHost_v3020);
  RET(rt(sg::host_malloc(p, bytes)));
}
cudaError_t CUDARTAPI cudaHostAlloc(void** p, size_t bytes, unsigned) {
  RT(cudaHostAlloc_v3020);
  RET(rt(sg::host_malloc(p, bytes)));
}
cudaError_t CUDARTAPI cudaFreeHost(void* p) {
  RT(cudaFreeHost_v3020);
  RET(rt(sg::host_free(p)));
}
cudaError_t CUDARTAPI cudaMemGetInfo(size_t* f, size_t* t) {
  RT(cudaMemGetInfo_v3020);
  uint64_t a, b;
  sg::mem_info(&a, &b);
  *f = a;
  *t = b;
  RET(cudaSuccess);
}
cudaError_t CUDARTAPI cudaPointerGetAttributes(struct cudaPointerAttributes* a, const void* p) {
  rt_init();
  memset(a, 0, sizeof *a);
  int k = sg::ptr_kind(p);
  a->type = k == 2 ? cudaMemoryTypeDevice : k == 1 ? cudaMemoryTypeHost : cudaMemoryTypeUnregistered;
  a->device = sg::current_device();
  a->devicePointer = k ? const_cast<void*>(p) : nullptr;
  a->hostPointer = k == 1 ? const_cast<void*>(p) : nullptr;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaMemcpy(void* d, const void* s, size_t n, enum cudaMemcpyKind k) {
  RT(cudaMemcpy_v3020);
  RET(rt(sg::memcpy_op(d, s, n, (int)k, strm(nullptr), false, api_.corr)));
}
cudaError_t CUDARTAPI cudaMemcpy_ptds(void* d, const void* s, size_t n, enum cudaMemcpyKind k) {
  RT(cudaMemcpy_ptds_v7000);
  RET(rt(sg::memcpy_op(d, s, n, (int)k, strm(nullptr, true), false, api_.corr)));
}
static cudaError_t memcpy_async(void* d, const void* s, size_t n, enum cudaMemcpyKind k, cudaStream_t h, bool ptsz,
                                uint32_t corr) {
  CUstream_st* st = strm(h, ptsz);
  if (!st) return rt(sg::kInvalidHandle);
  return rt(sg::memcpy_op(d, s, n, (int)k, st, true, corr));
}
cudaError_t CUDARTAPI cudaMemcpyAsync(void* d, const void* s, size_t n, enum cudaMemcpyKind k, cudaStream_t h) {
  RT(cudaMemcpyAsync_v3020);
  RET(memcpy_async(d, s, n, k, h, false, api_.corr));
}
cudaError_t CUDARTAPI cudaMemcpyAsync_ptsz(void* d, const void* s, size_t n, enum cudaMemcpyKind k, cudaStream_t h) {
  RT(cudaMemcpyAsync_ptsz_v7000);
  RET(memcpy_async(d, s, n, k, h, true, api_.corr));
}
cudaError_t CUDARTAPI cudaMemset(void* d, int v, size_t n) {
  RT(cudaMemset_v3020);
  RET(rt(sg::memset_op(d, v, n, strm(nullptr), false, api_.corr)));
}
cudaError_t CUDARTAPI cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t h) {
  RT(cudaMemsetAsync_v3020);
  CUstream_st* st = strm(h);
  if (!st) RET(rt(sg::kInvalidHandle));
  RET(rt(sg::memset_op(d, v, n, st, true, api_.corr)));
}
cudaError_t CUDARTAPI cudaMemsetAsync_ptsz(void* d, int v, size_t n, cudaStream_t h) {
  RT(cudaMemsetAsync_ptsz_v7000);
  CUstream_st* st = strm(h, true);
  if (!st) RET(rt(sg::kInvalidHandle));
  RET(rt(sg::memset_op(d, v, n, st, true, api_.corr)));
}

// ---- graphs
cudaError_t CUDARTAPI cudaStreamBeginCapture(cudaStream_t h, enum cudaStreamCaptureMode mode) {
  RT(cudaStreamBeginCapture_v10000);
  CUstream_st* s = strm(h);
  if (!s) RET(rt(sg::kInvalidHandle));
  RET(rt(sg::capture_begin(s, (int)mode)));
}
cudaError_t CUDARTAPI cudaStreamEndCapture(cudaStream_t h, cudaGraph_t* g) {
  RT(cudaStreamEndCapture_v10000);
  CUstream_st* s = strm(h);
  if (!s || !g) RET(rt(sg::kInvalidHandle));
  RET(rt(sg::capture_end(s, g)));
}
cudaError_t CUDARTAPI cudaStreamIsCapturing(cudaStream_t h, enum cudaStreamCaptureStatus* st) {
  rt_init();
  CUstream_st* s = strm(h);
  if (!s || !st) return rt(sg::kInvalidHandle);
  int c = sg::capture_status(s, nullptr);
  *st = c == 2 ? cudaStreamCaptureStatusInvalidated : c ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaThreadExchangeStreamCaptureMode(enum cudaStreamCaptureMode* mode) {
  rt_init();
  if (!mode) return rt(sg::kInvalidValue);
  int m = (int)*mode;
  cudaError_t r = rt(sg::exchange_capture_mode(&m));
  if (r == cudaSuccess) *mode = (enum cudaStreamCaptureMode)m;
  return r;
}
cudaError_t CUDARTAPI cudaStreamGetCaptureInfo(cudaStream_t h, enum cudaStreamCaptureStatus* st, unsigned long long* id,
                                               cudaGraph_t* g, const cudaGraphNode_t** deps,
                                               const cudaGraphEdgeData** edges, size_t* ndeps) {
  rt_init();
  CUstream_st* s = strm(h);
  if (!s || !st) return rt(sg::kInvalidHandle);
  unsigned long long cid = 0;
  int c = sg::capture_status(s, &cid);
  *st = c == 2 ? cudaStreamCaptureStatusInvalidated : c ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  if (id) *id = cid;
  if (g) *g = nullptr;
  if (deps) *deps = nullptr;
  if (edges) *edges = nullptr;
  if (ndeps) *ndeps = 0;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long) {
  RT(cudaGraphInstantiate_v12000);
  if (!g || !e) RET(rt(sg::kInvalidValue));
  *e = sg::graph_instantiate(g);
  RET(cudaSuccess);
}
cudaError_t CUDARTAPI cudaGraphInstantiateWithFlags(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long f) {
  return cudaGraphInstantiate(e, g, f);
}
static cudaError_t graph_launch(cudaGraphExec_t e, cudaStream_t h, bool ptsz, uint32_t corr) {
  CUstream_st* s = strm(h, ptsz);
  if (!s || !e) return rt(sg::kInvalidHandle);
  return rt(sg::graph_launch(e, s, corr));
}
cudaError_t CUDARTAPI cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t h) {
  RT(cudaGraphLaunch_v10000);
  RET(graph_launch(e, h, false, api_.corr));
}
cudaError_t CUDARTAPI cudaGraphLaunch_ptsz(cudaGraphExec_t e, cudaStream_t h) {
  RT(cudaGraphLaunch_ptsz_v10000);
  RET(graph_launch(e, h, true, api_.corr));
}
cudaError_t CUDARTAPI cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
cudaError_t CUDARTAPI cudaGraphExecDestroy(cudaGraphExec_t e) {
  delete e;
  return cudaSuccess;
}

// ---- driver entry points (the driver's own functions, as cuGetProcAddress returns them)
cudaError_t CUDARTAPI cudaGetDriverEntryPointByVersion(const char* sym, void** fp, unsigned ver, unsigned long long flags,
                                                        enum cudaDriverEntryPointQueryResult* status) {
  rt_init();
  CUdriverProcAddressQueryResult st;
  cuuint64_t f = (flags & cudaEnablePerThreadDefaultStream) ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
                                                             : CU_GET_PROC_ADDRESS_DEFAULT;
  CUresult r = cuGetProcAddress(sym, fp, (int)ver, f, &st);
  if (status) *status = r == CUDA_SUCCESS ? cudaDriverEntryPointSuccess : cudaDriverEntryPointSymbolNotFound;
  return r == CUDA_SUCCESS ? cudaSuccess : cudaSuccess;  // like the real one: status says not-found
}
cudaError_t CUDARTAPI cudaGetDriverEntryPoint(const char* sym, void** fp, unsigned long long flags,
                                              enum cudaDriverEntryPointQueryResult* status) {
  return cudaGetDriverEntryPointByVersion(sym, fp, CUDART_VERSION, flags, status);
}
cudaError_t CUDARTAPI cudaGetDriverEntryPoint_ptsz(const char* sym, void** fp, unsigned long long flags,
                                                   enum cudaDriverEntryPointQueryResult* status) {
  return cudaGetDriverEntryPointByVersion(sym, fp, CUDART_VERSION, flags | cudaEnablePerThreadDefaultStream, status);
}
cudaError_t CUDARTAPI cudaGetDriverEntryPointByVersion_ptsz(const char* sym, void** fp, unsigned ver,
                                                             unsigned long long flags,
                                                             enum cudaDriverEntryPointQueryResult* status) {
  return cudaGetDriverEntryPointByVersion(sym, fp, ver, flags | cudaEnablePerThreadDefaultStream, status);
}

// ---- errors
cudaError_t CUDARTAPI cudaGetLastError(void) {
  cudaError_t e = t_last;
  t_last = cudaSuccess;
  return e;
}
cudaError_t CUDARTAPI cudaPeekAtLastError(void) { return t_last; }
const char* CUDARTAPI cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDeviceFunction: return "cudaErrorInvalidDeviceFunction";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorCapturedEvent: return "cudaErrorCapturedEvent";
    case cudaErrorMissingConfiguration: return "cudaErrorMissingConfiguration";
    default: return "cudaErrorUnknown";
  }
}
const char* CUDARTAPI cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDeviceFunction: return "invalid device function";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorCapturedEvent: return "operation not permitted on an event last recorded in a capturing stream";
    case cudaErrorMissingConfiguration: return "__global__ function call is not configured";
    default: return "unknown error";
  }
}
}  // extern "C"
