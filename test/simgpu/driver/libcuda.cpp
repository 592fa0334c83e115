// libcuda.so.1 — simgpu's driver API over the simulated device (core/device.cpp).
// Built from the real cuda.h: names the header maps to versioned symbols (cuMemAlloc ->
// cuMemAlloc_v2 ...) are defined under those versioned names, as the real driver exports them.
#include <cuda.h>
#include <cupti_driver_cbid.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

#include "../core/device.h"

using sg::ActivityRecord;
using sg::ApiScope;

namespace {
CUresult cu(int e) {
  switch (e) {
    case sg::kOk: return CUDA_SUCCESS;
    case sg::kInvalidValue: return CUDA_ERROR_INVALID_VALUE;
    case sg::kOOM: return CUDA_ERROR_OUT_OF_MEMORY;
    case sg::kNotReady: return CUDA_ERROR_NOT_READY;
    case sg::kInvalidHandle: return CUDA_ERROR_INVALID_HANDLE;
    case sg::kCaptureUnsupported: return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    case sg::kCaptureInvalidated: return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    case sg::kCapturedEvent: return CUDA_ERROR_CAPTURED_EVENT;
    case sg::kInvalidDevice: return CUDA_ERROR_INVALID_DEVICE;
    case sg::kInvalidDeviceFunction: return CUDA_ERROR_INVALID_HANDLE;
  }
  return CUDA_ERROR_UNKNOWN;
}
std::atomic<bool> g_inited{false};
#define NEED_INIT() \
  do { if (!g_inited.load(std::memory_order_relaxed)) return CUDA_ERROR_NOT_INITIALIZED; } while (0)
#define DRV(cbid) ApiScope api_(ActivityRecord::Driver, CUPTI_DRIVER_TRACE_CBID_##cbid, #cbid)
#define RET(x) return (CUresult)api_.done((int)(x))

}  // namespace
struct CUctx_st { int dev; };
namespace {
CUctx_st g_ctx[64];
thread_local CUctx_st* t_ctx = nullptr;

CUstream_st* strm(CUstream h, bool ptsz = false) { return sg::stream_resolve(h, ptsz); }

CUresult launch_impl(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                     unsigned shmem, CUstream h, bool ptsz, uint32_t corr) {
  sg::FuncInfo* fi = sg::func_by_handle(f);
  if (!fi) return CUDA_ERROR_INVALID_HANDLE;
  CUstream_st* s = strm(h, ptsz);
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  unsigned g[3] = {gx, gy, gz}, b[3] = {bx, by, bz};
  if (!gx || !gy || !gz || !bx || !by || !bz) return CUDA_ERROR_INVALID_VALUE;
  return cu(sg::launch(fi, g, b, shmem, s, corr, 0));
}
}  // namespace

extern "C" {

CUresult CUDAAPI cuInit(unsigned int) {
  // The driver counts as initialised before the injected tool runs: its InitializeInjection
  // may call the driver and runtime (as with the real driver).
  sg::init();
  g_inited.store(true);
  sg::driver_init();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int* v) {
  if (!v) return CUDA_ERROR_INVALID_VALUE;
  *v = sg::reported_cuda_version(CUDA_VERSION);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetCount(int* n) {
  NEED_INIT();
  *n = sg::device_count();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice* d, int ordinal) {
  NEED_INIT();
  if (ordinal < 0 || ordinal >= sg::device_count()) return CUDA_ERROR_INVALID_DEVICE;
  *d = ordinal;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice d) {
  NEED_INIT();
  if (d < 0 || d >= sg::device_count()) return CUDA_ERROR_INVALID_DEVICE;
  snprintf(name, (size_t)len, "simgpu A100-SXM4-80GB (simulated)");
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceTotalMem(size_t* bytes, CUdevice) {
  NEED_INIT();
  *bytes = sg::device_capacity();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetUuid(CUuuid* u, CUdevice d) {
  NEED_INIT();
  memset(u, 0, sizeof *u);
  memcpy(u->bytes, "simgpu-dev", 10);
  u->bytes[15] = (char)d;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int* pi, CUdevice_attribute a, CUdevice d) {
  NEED_INIT();
  if (d < 0 || d >= sg::device_count()) return CUDA_ERROR_INVALID_DEVICE;
  switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 8; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = 108; break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *pi = 32; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *pi = 49152; break;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: *pi = 1410000; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: *pi = 1593000; break;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *pi = 5120; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: *pi = d; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: *pi = 1; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *pi = 1; break;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: *pi = 1; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: *pi = 1; break;
    default: *pi = 0; break;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) {
  NEED_INIT();
  if (d < 0 || d >= sg::device_count() || d >= 64) return CUDA_ERROR_INVALID_DEVICE;
  g_ctx[d].dev = d;
  *c = &g_ctx[d];
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice) { return CUDA_SUCCESS; }
CUresult CUDAAPI cuCtxGetCurrent(CUcontext* c) {
  NEED_INIT();
  *c = t_ctx;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuCtxSetCurrent(CUcontext c) {
  NEED_INIT();
  t_ctx = c;
  if (c) sg::set_current_device(c->dev);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuCtxGetDevice(CUdevice* d) {
  NEED_INIT();
  *d = sg::current_device();
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuCtxSynchronize(void) {
  NEED_INIT();
  DRV(cuCtxSynchronize);
  RET(cu(sg::device_sync()));
}

// ---- modules and functions (no code runs: a "module" is a name table)
struct CUmod_st { int unused; };
CUresult CUDAAPI cuModuleLoadData(CUmodule* m, const void*) {
  NEED_INIT();
  *m = new CUmod_st();
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuModuleLoad(CUmodule* m, const char*) {
  NEED_INIT();
  *m = new CUmod_st();
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuModuleUnload(CUmodule m) {
  delete m;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuModuleGetFunction(CUfunction* f, CUmodule, const char* name) {
  NEED_INIT();
  if (!name || !f) return CUDA_ERROR_INVALID_VALUE;
  *f = sg::func_by_name(name);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuFuncGetName(const char** name, CUfunction f) {
  sg::FuncInfo* fi = sg::func_by_handle(f);
  if (!fi || !name) return CUDA_ERROR_INVALID_HANDLE;
  *name = fi->name.c_str();
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuKernelGetName(const char** name, CUkernel k) { return cuFuncGetName(name, (CUfunction)k); }
CUresult CUDAAPI cuKernelGetFunction(CUfunction* f, CUkernel k) {
  if (!sg::func_by_handle(k)) return CUDA_ERROR_INVALID_HANDLE;
  *f = (CUfunction)k;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuFuncGetAttribute(int* pi, CUfunction_attribute, CUfunction) {
  *pi = 0;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuFuncSetAttribute(CUfunction, CUfunction_attribute, int) { return CUDA_SUCCESS; }

// ---- launches
CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                unsigned bz, unsigned shmem, CUstream h, void**, void**) {
  NEED_INIT();
  DRV(cuLaunchKernel);
  RET(launch_impl(f, gx, gy, gz, bx, by, bz, shmem, h, false, api_.corr));
}
CUresult CUDAAPI cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                     unsigned bz, unsigned shmem, CUstream h, void**, void**) {
  NEED_INIT();
  DRV(cuLaunchKernel_ptsz);
  RET(launch_impl(f, gx, gy, gz, bx, by, bz, shmem, h, true, api_.corr));
}
CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig* c, CUfunction f, void**, void**) {
  NEED_INIT();
  DRV(cuLaunchKernelEx);
  if (!c) RET(CUDA_ERROR_INVALID_VALUE);
  RET(launch_impl(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
                  c->sharedMemBytes, c->hStream, false, api_.corr));
}
CUresult CUDAAPI cuLaunchKernelEx_ptsz(const CUlaunchConfig* c, CUfunction f, void**, void**) {
  NEED_INIT();
  DRV(cuLaunchKernelEx_ptsz);
  if (!c) RET(CUDA_ERROR_INVALID_VALUE);
  RET(launch_impl(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
                  c->sharedMemBytes, c->hStream, true, api_.corr));
}

// ---- streams and events
CUresult CUDAAPI cuStreamCreate(CUstream* s, unsigned flags) {
  NEED_INIT();
  *s = sg::stream_create(flags & CU_STREAM_NON_BLOCKING, 0);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamCreateWithPriority(CUstream* s, unsigned flags, int prio) {
  NEED_INIT();
  *s = sg::stream_create(flags & CU_STREAM_NON_BLOCKING, prio);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuStreamDestroy(CUstream s) { return cu(sg::stream_destroy(s)); }
CUresult CUDAAPI cuStreamSynchronize(CUstream h) {
  NEED_INIT();
  DRV(cuStreamSynchronize);
  CUstream_st* s = strm(h);
  if (!s) RET(CUDA_ERROR_INVALID_HANDLE);
  RET(cu(sg::stream_sync(s)));
}
CUresult CUDAAPI cuStreamSynchronize_ptsz(CUstream h) {
  NEED_INIT();
  CUstream_st* s = strm(h, true);
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  return cu(sg::stream_sync(s));
}
CUresult CUDAAPI cuStreamQuery(CUstream h) {
  NEED_INIT();
  CUstream_st* s = strm(h);
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  return cu(sg::stream_query(s));
}
CUresult CUDAAPI cuStreamWaitEvent(CUstream h, CUevent e, unsigned) {
  NEED_INIT();
  CUstream_st* s = strm(h);
  if (!s || !e) return CUDA_ERROR_INVALID_HANDLE;
  return cu(sg::stream_wait_event(s, e));
}
CUresult CUDAAPI cuStreamGetId(CUstream h, unsigned long long* id) {
  CUstream_st* s = strm(h);
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  *id = sg::stream_id(s);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventCreate(CUevent* e, unsigned flags) {
  NEED_INIT();
  *e = sg::event_create(flags);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuEventDestroy(CUevent e) { return cu(sg::event_destroy(e)); }
CUresult CUDAAPI cuEventRecord(CUevent e, CUstream h) {
  NEED_INIT();
  CUstream_st* s = strm(h);
  if (!s || !e) return CUDA_ERROR_INVALID_HANDLE;
  return cu(sg::event_record(e, s));
}
CUresult CUDAAPI cuEventSynchronize(CUevent e) {
  NEED_INIT();
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  DRV(cuEventSynchronize);
  RET(cu(sg::event_sync(e)));
}
CUresult CUDAAPI cuEventQuery(CUevent e) {
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  return cu(sg::event_query(e));
}
CUresult CUDAAPI cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
  if (!a || !b || !ms) return CUDA_ERROR_INVALID_HANDLE;
  return cu(sg::event_elapsed(ms, a, b));
}

// ---- memory
CUresult CUDAAPI cuMemAlloc(CUdeviceptr* p, size_t bytes) {
  NEED_INIT();
  DRV(cuMemAlloc_v2);
  void* v = nullptr;
  int e = sg::dev_malloc(&v, bytes);
  *p = (CUdeviceptr)v;
  RET(cu(e));
}
CUresult CUDAAPI cuMemFree(CUdeviceptr p) {
  NEED_INIT();
  DRV(cuMemFree_v2);
  RET(cu(sg::dev_free((void*)p)));
}
CUresult CUDAAPI cuMemGetInfo(size_t* f, size_t* t) {
  NEED_INIT();
  uint64_t a, b;
  sg::mem_info(&a, &b);
  *f = a;
  *t = b;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemAllocHost(void** p, size_t bytes) {
  NEED_INIT();
  return cu(sg::host_malloc(p, bytes));
}
CUresult CUDAAPI cuMemFreeHost(void* p) { return cu(sg::host_free(p)); }
CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr d, const void* h, size_t n) {
  NEED_INIT();
  DRV(cuMemcpyHtoD_v2);
  RET(cu(sg::memcpy_op((void*)d, h, n, 1, strm(nullptr), false, api_.corr)));
}
CUresult CUDAAPI cuMemcpyDtoH(void* h, CUdeviceptr d, size_t n) {
  NEED_INIT();
  DRV(cuMemcpyDtoH_v2);
  RET(cu(sg::memcpy_op(h, (void*)d, n, 2, strm(nullptr), false, api_.corr)));
}
CUresult CUDAAPI cuMemcpyDtoD(CUdeviceptr d, CUdeviceptr s, size_t n) {
  NEED_INIT();
  DRV(cuMemcpyDtoD_v2);
  RET(cu(sg::memcpy_op((void*)d, (void*)s, n, 3, strm(nullptr), false, api_.corr)));
}
CUresult CUDAAPI cuMemcpy(CUdeviceptr d, CUdeviceptr s, size_t n) {
  NEED_INIT();
  DRV(cuMemcpy);
  RET(cu(sg::memcpy_op((void*)d, (void*)s, n, 4, strm(nullptr), false, api_.corr)));
}
CUresult CUDAAPI cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream h) {
  NEED_INIT();
  DRV(cuMemcpyAsync);
  CUstream_st* st = strm(h);
  if (!st) RET(CUDA_ERROR_INVALID_HANDLE);
  RET(cu(sg::memcpy_op((void*)d, (void*)s, n, 4, st, true, api_.corr)));
}
CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr d, const void* h, size_t n, CUstream hs) {
  NEED_INIT();
  DRV(cuMemcpyHtoDAsync_v2);
  CUstream_st* st = strm(hs);
  if (!st) RET(CUDA_ERROR_INVALID_HANDLE);
  RET(cu(sg::memcpy_op((void*)d, h, n, 1, st, true, api_.corr)));
}
CUresult CUDAAPI cuMemcpyDtoHAsync(void* h, CUdeviceptr d, size_t n, CUstream hs) {
  NEED_INIT();
  DRV(cuMemcpyDtoHAsync_v2);
  CUstream_st* st = strm(hs);
  if (!st) RET(CUDA_ERROR_INVALID_HANDLE);
  RET(cu(sg::memcpy_op(h, (void*)d, n, 2, st, true, api_.corr)));
}
CUresult CUDAAPI cuMemsetD8(CUdeviceptr d, unsigned char v, size_t n) {
  NEED_INIT();
  DRV(cuMemsetD8_v2);
  RET(cu(sg::memset_op((void*)d, v, n, strm(nullptr), false, api_.corr)));
}
CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream h) {
  NEED_INIT();
  DRV(cuMemsetD8Async);
  CUstream_st* st = strm(h);
  if (!st) RET(CUDA_ERROR_INVALID_HANDLE);
  RET(cu(sg::memset_op((void*)d, v, n, st, true, api_.corr)));
}
CUresult CUDAAPI cuMemsetD32(CUdeviceptr d, unsigned int v, size_t n) {
  NEED_INIT();
  DRV(cuMemsetD32_v2);
  if (v != 0 && (v & 0xff) * 0x01010101u != v) RET(CUDA_ERROR_NOT_SUPPORTED);
  RET(cu(sg::memset_op((void*)d, (int)(v & 0xff), n * 4, strm(nullptr), false, api_.corr)));
}

// ---- virtual memory management (PyTorch expandable segments)
CUresult CUDAAPI cuMemGetAllocationGranularity(size_t* g, const CUmemAllocationProp*, CUmemAllocationGranularity_flags) {
  *g = 2u << 20;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuMemAddressReserve(CUdeviceptr* p, size_t size, size_t, CUdeviceptr addr, unsigned long long) {
  NEED_INIT();
  DRV(cuMemAddressReserve);
  void* v = nullptr;
  int e = sg::va_reserve(&v, size, (void*)addr);
  *p = (CUdeviceptr)v;
  RET(cu(e));
}
CUresult CUDAAPI cuMemAddressFree(CUdeviceptr p, size_t size) {
  NEED_INIT();
  DRV(cuMemAddressFree);
  RET(cu(sg::va_free((void*)p, size)));
}
CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle* h, size_t size, const CUmemAllocationProp*, unsigned long long) {
  NEED_INIT();
  DRV(cuMemCreate);
  uint64_t hh = 0;
  int e = sg::phys_create(&hh, size);
  *h = hh;
  RET(cu(e));
}
CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle h) {
  NEED_INIT();
  DRV(cuMemRelease);
  RET(cu(sg::phys_release(h)));
}
CUresult CUDAAPI cuMemMap(CUdeviceptr p, size_t size, size_t, CUmemGenericAllocationHandle h, unsigned long long) {
  NEED_INIT();
  DRV(cuMemMap);
  RET(cu(sg::va_map((void*)p, size, h)));
}
CUresult CUDAAPI cuMemUnmap(CUdeviceptr p, size_t size) {
  NEED_INIT();
  DRV(cuMemUnmap);
  RET(cu(sg::va_unmap((void*)p, size)));
}
CUresult CUDAAPI cuMemSetAccess(CUdeviceptr, size_t, const CUmemAccessDesc*, size_t) { return CUDA_SUCCESS; }

// ---- graphs
CUresult CUDAAPI cuStreamBeginCapture(CUstream h, CUstreamCaptureMode mode) {
  NEED_INIT();
  CUstream_st* s = strm(h);
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  return cu(sg::capture_begin(s, (int)mode));
}
CUresult CUDAAPI cuStreamEndCapture(CUstream h, CUgraph* g) {
  NEED_INIT();
  CUstream_st* s = strm(h);
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  return cu(sg::capture_end(s, g));
}
CUresult CUDAAPI cuStreamIsCapturing(CUstream h, CUstreamCaptureStatus* st) {
  NEED_INIT();
  CUstream_st* s = strm(h);
  if (!s) return CUDA_ERROR_INVALID_HANDLE;
  int c = sg::capture_status(s, nullptr);
  *st = c == 2 ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : c ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  NEED_INIT();
  if (!mode) return CUDA_ERROR_INVALID_VALUE;
  int m = (int)*mode;
  CUresult r = cu(sg::exchange_capture_mode(&m));
  if (r == CUDA_SUCCESS) *mode = (CUstreamCaptureMode)m;
  return r;
}
CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec* e, CUgraph g, unsigned long long) {
  NEED_INIT();
  if (!g) return CUDA_ERROR_INVALID_VALUE;
  *e = sg::graph_instantiate(g);
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphLaunch(CUgraphExec e, CUstream h) {
  NEED_INIT();
  DRV(cuGraphLaunch);
  CUstream_st* s = strm(h);
  if (!s || !e) RET(CUDA_ERROR_INVALID_HANDLE);
  RET(cu(sg::graph_launch(e, s, api_.corr)));
}
CUresult CUDAAPI cuGraphLaunch_ptsz(CUgraphExec e, CUstream h) {
  NEED_INIT();
  DRV(cuGraphLaunch_ptsz);
  CUstream_st* s = strm(h, true);
  if (!s || !e) RET(CUDA_ERROR_INVALID_HANDLE);
  RET(cu(sg::graph_launch(e, s, api_.corr)));
}
CUresult CUDAAPI cuGraphDestroy(CUgraph g) {
  delete g;
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec e) {
  delete e;
  return CUDA_SUCCESS;
}

// ---- errors
CUresult CUDAAPI cuGetErrorString(CUresult e, const char** s) {
  switch (e) {
    case CUDA_SUCCESS: *s = "no error"; break;
    case CUDA_ERROR_INVALID_VALUE: *s = "invalid argument"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "out of memory"; break;
    case CUDA_ERROR_NOT_INITIALIZED: *s = "initialization error"; break;
    case CUDA_ERROR_NOT_READY: *s = "device not ready"; break;
    case CUDA_ERROR_INVALID_HANDLE: *s = "invalid resource handle"; break;
    case CUDA_ERROR_NOT_FOUND: *s = "named symbol not found"; break;
    case CUDA_ERROR_INVALID_DEVICE: *s = "invalid device ordinal"; break;
    default: *s = "unknown error"; return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}
CUresult CUDAAPI cuGetErrorName(CUresult e, const char** s) {
  switch (e) {
    case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
    case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
    case CUDA_ERROR_NOT_INITIALIZED: *s = "CUDA_ERROR_NOT_INITIALIZED"; break;
    case CUDA_ERROR_NOT_READY: *s = "CUDA_ERROR_NOT_READY"; break;
    case CUDA_ERROR_INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
    case CUDA_ERROR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
    case CUDA_ERROR_INVALID_DEVICE: *s = "CUDA_ERROR_INVALID_DEVICE"; break;
    default: *s = "CUDA_ERROR_UNKNOWN"; return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

// ---- entry points: the driver hands out its own functions (never the PLT: libcuda is
// linked -Bsymbolic, so a preloaded interposer does not see calls made through these).
CUresult CUDAAPI cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                                  CUdriverProcAddressQueryResult* status);
}  // extern "C"

namespace {
const std::unordered_map<std::string, void*>& proc_table() {
#define E(n) {#n, (void*)&n}
  static const std::unordered_map<std::string, void*> t = {
      E(cuInit), E(cuDriverGetVersion), E(cuDeviceGetCount), E(cuDeviceGet), E(cuDeviceGetName),
      E(cuDeviceTotalMem), E(cuDeviceGetUuid), E(cuDeviceGetAttribute), E(cuDevicePrimaryCtxRetain),
      E(cuDevicePrimaryCtxRelease), E(cuCtxGetCurrent), E(cuCtxSetCurrent), E(cuCtxGetDevice), E(cuCtxSynchronize),
      E(cuModuleLoadData), E(cuModuleLoad), E(cuModuleUnload), E(cuModuleGetFunction), E(cuFuncGetName),
      E(cuKernelGetName), E(cuKernelGetFunction), E(cuFuncGetAttribute), E(cuFuncSetAttribute), E(cuLaunchKernel),
      E(cuLaunchKernelEx), E(cuStreamCreate), E(cuStreamCreateWithPriority), E(cuStreamDestroy),
      E(cuStreamSynchronize), E(cuStreamQuery), E(cuStreamWaitEvent), E(cuStreamGetId), E(cuEventCreate),
      E(cuEventDestroy), E(cuEventRecord), E(cuEventSynchronize), E(cuEventQuery), E(cuEventElapsedTime),
      E(cuMemAlloc), E(cuMemFree), E(cuMemGetInfo), E(cuMemAllocHost), E(cuMemFreeHost), E(cuMemcpyHtoD),
      E(cuMemcpyDtoH), E(cuMemcpyDtoD), E(cuMemcpy), E(cuMemcpyAsync), E(cuMemcpyHtoDAsync), E(cuMemcpyDtoHAsync),
      E(cuMemsetD8), E(cuMemsetD8Async), E(cuMemsetD32), E(cuMemGetAllocationGranularity), E(cuMemAddressReserve),
      E(cuMemAddressFree), E(cuMemCreate), E(cuMemRelease), E(cuMemMap), E(cuMemUnmap), E(cuMemSetAccess),
      E(cuStreamBeginCapture), E(cuStreamEndCapture), E(cuStreamIsCapturing), E(cuThreadExchangeStreamCaptureMode), E(cuGraphInstantiate),
      E(cuGraphLaunch), E(cuGraphDestroy), E(cuGraphExecDestroy), E(cuGetErrorString), E(cuGetErrorName),
      E(cuGetProcAddress),
  };
#undef E
  return t;
}
}  // namespace

extern "C" {
CUresult CUDAAPI cuGetProcAddress(const char* symbol, void** pfn, int, cuuint64_t flags,
                                  CUdriverProcAddressQueryResult* status) {
  if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
  const auto& t = proc_table();
  std::string name = symbol;
  void* f = nullptr;
  // Per-thread-default-stream flavours where we have them, else the common function.
  if (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) {
    if (name == "cuLaunchKernel") f = (void*)&cuLaunchKernel_ptsz;
    else if (name == "cuLaunchKernelEx") f = (void*)&cuLaunchKernelEx_ptsz;
    else if (name == "cuGraphLaunch") f = (void*)&cuGraphLaunch_ptsz;
    else if (name == "cuStreamSynchronize") f = (void*)&cuStreamSynchronize_ptsz;
  }
  if (!f) {
    auto it = t.find(name);
    if (it == t.end()) {
      // Versioned spellings (cuMemAlloc_v2) map to the same functions.
      auto us = name.rfind("_v");
      if (us != std::string::npos) it = t.find(name.substr(0, us));
    }
    if (it != t.end()) f = it->second;
  }
  *pfn = f;
  if (status) *status = f ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  return f ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

// The CUDA 11/12 spelling (4 arguments), exported under its original name.
CUresult CUDAAPI simgpu_cuGetProcAddress_v1(const char* symbol, void** pfn, int v, cuuint64_t flags) __asm__(
    "cuGetProcAddress");
CUresult CUDAAPI simgpu_cuGetProcAddress_v1(const char* symbol, void** pfn, int v, cuuint64_t flags) {
  return cuGetProcAddress_v2(symbol, pfn, v, flags, nullptr);
}
}  // extern "C"
