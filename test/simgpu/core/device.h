// simgpu's simulated device: streams as FIFOs on a virtual timeline anchored to the real
// clock (CLOCK_REALTIME nanoseconds, the same clock CUPTI timestamps and events use).
// An op starts at max(launch time, end of the previous op on its stream, ops it waits on)
// and ends after its duration. Host synchronisation sleeps until the real clock reaches the
// end; nothing spins. Ops whose end depends on other processes (NCCL) stay "pending" until a
// background device thread resolves them.
//
// This header is the private ABI between simgpu's four libraries: everything here lives in
// libcuda.so.1 and is exported under namespace sg (never hooked by an interposer).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "workload.h"

#define SG_API __attribute__((visibility("default")))

namespace sg {
using ns_t = uint64_t;
SG_API ns_t now_ns();
SG_API void sleep_until(ns_t t);

// cudaError_t-compatible codes used across the internal API.
enum Err : int {
  kOk = 0, kInvalidValue = 1, kOOM = 2, kNotReady = 600, kInvalidHandle = 400, kCaptureUnsupported = 900,
  kCaptureInvalidated = 901, kCapturedEvent = 907,
  kInvalidDeviceFunction = 98, kNoDevice = 100, kInvalidDevice = 101,
};

struct Op;
using OpPtr = std::shared_ptr<Op>;

// Something whose completion other processes decide (an NCCL collective or p2p group).
struct Remote {
  virtual ~Remote() = default;
  virtual void publish(ns_t ready) = 0;        // this rank's op is ready on the GPU at `ready`
  virtual bool poll(ns_t* end) = 0;            // all peers arrived? then the end time
  virtual std::atomic<uint32_t>* futex_word() = 0;  // shared word bumped at every arrival
};

enum class OpKind { Kernel, Memcpy, Memset, Marker, Remote };

struct FuncInfo;

// A captured operation (graph node) — enough to replay it.
struct Node {
  OpKind kind;
  FuncInfo* func = nullptr;
  int grid[3] = {1, 1, 1}, block[3] = {1, 1, 1};
  uint32_t shmem = 0;
  uint64_t bytes = 0;
  int copy_kind = 0;
  uint32_t value = 0;
  uint64_t node_id = 0;
};

struct Graph {
  std::vector<Node> nodes;
  uint32_t id = 0;
};

struct StreamS;
}  // namespace sg

// Handle types of the headers, defined here (they are incomplete there).
struct CUkern_st;
struct CUfunc_st {
  const void* host = nullptr;  // host stub (runtime) or null
  std::string name;            // device (mangled) name, as CUPTI reports it
  double median_us = -1, sigma = 0;  // bound distribution (simtrain), else workload/grid default
  std::atomic<bool> jit_done{false};
  uint32_t magic = 0x5347464e;
};
struct CUkern_st : CUfunc_st {};
struct CUstream_st;
struct CUevent_st;
// A graph; while a capture builds it, also that capture's mode (cudaStreamCaptureMode: 0
// global, 1 thread-local, 2 relaxed), its thread, and whether an unsafe call invalidated it.
struct CUgraph_st {
  sg::Graph g;
  int capture_mode = 0;
  const void* capture_thread = nullptr;
  bool invalidated = false;
};
struct CUgraphExec_st { sg::Graph g; };

namespace sg {
struct FuncInfo : CUkern_st {};

struct ActivityRecord {
  enum Kind { Kernel = 1, Memcpy = 2, Memset = 3, Runtime = 4, Driver = 5 } kind;
  const char* name = nullptr;  // interned: lives for the whole process
  ns_t start = 0, end = 0;
  uint32_t corr = 0, stream = 0, device = 0, context = 1;
  int32_t grid[3] = {0, 0, 0}, block[3] = {0, 0, 0};
  uint32_t shmem = 0;
  uint64_t bytes = 0;
  uint8_t copy_kind = 0, src_kind = 0, dst_kind = 0;
  uint32_t value = 0;
  uint32_t cbid = 0, thread_id = 0;
  int32_t ret = 0;
  uint32_t graph_id = 0;
  uint64_t graph_node_id = 0;
  uint8_t launch_type = 0;
};
using ActivitySink = void (*)(const ActivityRecord&);

// ---- process / device state
SG_API void init();                      // idempotent: reads SIMGPU_* env and the workload
SG_API const Workload* workload();       // null when none
SG_API int rank();
SG_API long step();
SG_API int device_count();
// The CUDA version the runtime/driver report: `built` unless SIMGPU_CUDA_VERSION overrides it
// (e.g. 14010, to play a CUDA newer than the headers a tool was built with).
SG_API int reported_cuda_version(int built);
SG_API int current_device();
SG_API int set_current_device(int d);
SG_API uint64_t device_capacity();
SG_API uint32_t next_correlation_id();
SG_API const char* intern(const std::string& s);
SG_API void flush_log();

// ---- functions
SG_API FuncInfo* register_function(const void* host, const char* device_name);
SG_API FuncInfo* func_by_host(const void* host);      // null when unknown
SG_API FuncInfo* func_by_handle(const void* handle);  // validates a CUfunction/CUkernel
SG_API FuncInfo* func_by_name(const char* name);      // creates it (cuModuleGetFunction path)

// ---- streams and events
SG_API CUstream_st* stream_resolve(CUstream_st* h, bool per_thread_default);  // null = bad handle
SG_API CUstream_st* stream_create(unsigned flags, int priority);
SG_API int stream_destroy(CUstream_st* s);
SG_API int stream_sync(CUstream_st* s);
SG_API int stream_query(CUstream_st* s);
SG_API uint32_t stream_id(CUstream_st* s);
SG_API unsigned stream_flags(CUstream_st* s);
SG_API int device_sync();
SG_API CUevent_st* event_create(unsigned flags);
SG_API int event_destroy(CUevent_st* e);
SG_API int event_record(CUevent_st* e, CUstream_st* s);
SG_API int event_sync(CUevent_st* e);
SG_API int event_query(CUevent_st* e);
SG_API int event_elapsed(float* ms, CUevent_st* a, CUevent_st* b);
SG_API int stream_wait_event(CUstream_st* s, CUevent_st* e);

// ---- work
SG_API int launch(FuncInfo* f, const unsigned grid[3], const unsigned block[3], uint32_t shmem, CUstream_st* s,
                  uint32_t corr, uint8_t launch_type);
SG_API int memcpy_op(void* dst, const void* src, uint64_t bytes, int kind, CUstream_st* s, bool async, uint32_t corr);
SG_API int memset_op(void* dst, int value, uint64_t bytes, CUstream_st* s, bool async, uint32_t corr);
// Enqueues an op completed by other processes; its kernel record is named `name`.
SG_API int remote_op(const char* name, std::shared_ptr<Remote> r, CUstream_st* s, uint32_t corr, uint64_t bytes);

// ---- memory (device pointers are real, lazily-backed host mappings)
SG_API int dev_malloc(void** p, uint64_t bytes);
SG_API int dev_free(void* p);
SG_API int host_malloc(void** p, uint64_t bytes);
SG_API int host_free(void* p);
SG_API void mem_info(uint64_t* free_b, uint64_t* total_b);
SG_API int va_reserve(void** p, uint64_t bytes, void* hint);
SG_API int va_free(void* p, uint64_t bytes);
SG_API int phys_create(uint64_t* handle, uint64_t bytes);
SG_API int phys_release(uint64_t handle);
SG_API int va_map(void* p, uint64_t bytes, uint64_t handle);
SG_API int va_unmap(void* p, uint64_t bytes);
SG_API int ptr_kind(const void* p);  // 1 host, 2 device, 0 unknown (pageable host)

// ---- graphs
SG_API int capture_begin(CUstream_st* s, int mode);
SG_API int capture_end(CUstream_st* s, CUgraph_st** g);
SG_API int capture_status(CUstream_st* s, unsigned long long* id);  // 0 none, 1 active, 2 invalidated
// cu/cudaThreadExchangeStreamCaptureMode: swaps the calling thread's capture mode.
SG_API int exchange_capture_mode(int* mode);
SG_API CUgraphExec_st* graph_instantiate(CUgraph_st* g);
SG_API int graph_launch(CUgraphExec_st* g, CUstream_st* s, uint32_t corr);

// ---- activity
SG_API void set_activity_sink(ActivitySink sink);   // libcupti
SG_API void emit_api(ActivityRecord::Kind kind, uint32_t cbid, const char* name, ns_t start, ns_t end,
                     uint32_t corr, int ret);
SG_API bool api_records_wanted();

// ---- callback API (cuptiSubscribe): domain 1 = driver, 2 = runtime; site 0 = enter, 1 = exit
using ApiHook = void (*)(int domain, uint32_t cbid, const char* name, uint32_t corr, int site, int ret);
SG_API void set_api_hook(ApiHook hook);
SG_API ApiHook api_hook();

// One API call: a correlation id shared by its activity record, callbacks and the GPU work
// it enqueues (as CUPTI pairs runtime records with kernel records).
struct ApiScope {
  ActivityRecord::Kind kind;
  uint32_t cbid;
  const char* name;
  uint32_t corr;
  ns_t start = 0;
  bool rec;
  ApiHook hook;
  ApiScope(ActivityRecord::Kind k, uint32_t id, const char* n) : kind(k), cbid(id), name(n), corr(next_correlation_id()) {
    rec = api_records_wanted();
    hook = api_hook();
    if (rec) start = now_ns();
    if (hook) hook(k == ActivityRecord::Driver ? 1 : 2, cbid, name, corr, 0, 0);
  }
  int done(int ret) {
    if (hook) hook(kind == ActivityRecord::Driver ? 1 : 2, cbid, name, corr, 1, ret);
    if (rec) emit_api(kind, cbid, name, start, now_ns(), corr, ret);
    return ret;
  }
};

// ---- driver init (CUDA_INJECTION64_PATH)
SG_API int driver_init();
}  // namespace sg

// C hooks simtrain finds with dlsym (so it stays an ordinary CUDA program elsewhere).
extern "C" {
SG_API void simgpu_set_step(long step);
SG_API void simgpu_set_rank(int rank);
SG_API void simgpu_bind_kernel(const void* host_fun, double median_us, double sigma);
// Duration of the next kernel launched by this thread: exact_us > 0 is used as is, else
// lognormal(median_us, sigma) from the seeded noise. Fault and rank-speed factors still apply.
SG_API void simgpu_next_kernel(double median_us, double sigma, double exact_us);
}
