// libcupti.so.13 — simgpu's CUPTI: the activity API (records in the header's current structs,
// delivered through client buffers, asynchronously from a library thread), the callback API
// with one subscriber at a time, external correlation ids.
//
// Records are produced by the device (libcuda) through a sink when an op's simulated start
// and end are known; a record is "completed" once the real clock passes its end, and only
// completed records are delivered (CUPTI_ACTIVITY_FLAG_FLUSH_FORCED delivers all).
// Lock order: device lock (in the sink caller) -> g.mu. Buffer callbacks run without g.mu.
#include <cupti.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "../core/device.h"

using sg::ActivityRecord;

struct CUpti_Subscriber_st {
  CUpti_CallbackFunc cb;
  void* user;
  std::set<std::pair<int, uint32_t>> enabled;
  std::set<int> domains;
};

namespace {

struct Pending {
  ActivityRecord r;
  CUpti_ActivityKind kind;        // record kind to write
  uint64_t ext_id = 0;            // EXTERNAL_CORRELATION
  uint32_t ext_kind = 0;
};

struct Global {
  std::mutex mu;
  std::condition_variable cv;
  CUpti_BuffersCallbackRequestFunc req = nullptr;
  CUpti_BuffersCallbackCompleteFunc done = nullptr;
  bool enabled[64] = {};
  std::deque<Pending> queue;
  uint8_t* buf = nullptr;  // current client buffer being filled
  size_t buf_size = 0, buf_used = 0;
  size_t dropped = 0;
  uint32_t flush_period_ms = 0;
  bool worker = false;
  CUpti_Subscriber_st* subscriber = nullptr;
  // Serialises buffer delivery (worker vs FlushAll); recursive because a client may flush
  // from inside its buffer-completed callback. Order: deliver_mu, then mu.
  std::recursive_mutex deliver_mu;
};
Global& G() {
  static Global* g = new Global();
  return *g;
}

// cuptiActivityRegisterTimestampCallback: record times are moved into the client's clock
// domain by the offset measured at registration.
std::atomic<int64_t> g_ts_offset{0};

thread_local std::vector<uint64_t> t_ext[CUPTI_EXTERNAL_CORRELATION_KIND_SIZE];

bool busy_env() {
  const char* v = getenv("SIMGPU_CUPTI_BUSY");
  return v && *v && strcmp(v, "0") != 0;
}

size_t record_size(CUpti_ActivityKind k) {
  switch (k) {
    case CUPTI_ACTIVITY_KIND_KERNEL:
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: return sizeof(CUpti_ActivityKernel10);
    case CUPTI_ACTIVITY_KIND_MEMCPY: return sizeof(CUpti_ActivityMemcpy6);
    case CUPTI_ACTIVITY_KIND_MEMSET: return sizeof(CUpti_ActivityMemset4);
    case CUPTI_ACTIVITY_KIND_RUNTIME:
    case CUPTI_ACTIVITY_KIND_DRIVER: return sizeof(CUpti_ActivityAPI);
    case CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION: return sizeof(CUpti_ActivityExternalCorrelation);
    default: return 0;
  }
}
size_t aligned(size_t n) { return (n + 7) & ~size_t(7); }

void write_record(uint8_t* p, const Pending& in) {
  Pending pr = in;
  if (int64_t off = g_ts_offset.load(std::memory_order_relaxed)) {
    pr.r.start += (uint64_t)off;
    pr.r.end += (uint64_t)off;
  }
  const ActivityRecord& r = pr.r;
  memset(p, 0, aligned(record_size(pr.kind)));
  switch (pr.kind) {
    case CUPTI_ACTIVITY_KIND_KERNEL:
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
      auto* k = (CUpti_ActivityKernel10*)p;
      k->kind = pr.kind;
      k->start = r.start;
      k->end = r.end;
      k->completed = r.end;
      k->deviceId = r.device;
      k->contextId = r.context;
      k->streamId = r.stream;
      k->gridX = r.grid[0]; k->gridY = r.grid[1]; k->gridZ = r.grid[2];
      k->blockX = r.block[0]; k->blockY = r.block[1]; k->blockZ = r.block[2];
      k->dynamicSharedMemory = (int32_t)r.shmem;
      k->registersPerThread = 32;
      k->correlationId = r.corr;
      k->name = r.name;
      k->queued = CUPTI_TIMESTAMP_UNKNOWN;
      k->submitted = CUPTI_TIMESTAMP_UNKNOWN;
      k->launchType = r.launch_type;
      k->graphId = r.graph_id;
      k->graphNodeId = r.graph_node_id;
      k->channelType = CUPTI_CHANNEL_TYPE_COMPUTE;
      break;
    }
    case CUPTI_ACTIVITY_KIND_MEMCPY: {
      auto* m = (CUpti_ActivityMemcpy6*)p;
      m->kind = pr.kind;
      m->copyKind = r.copy_kind;
      m->srcKind = r.src_kind;
      m->dstKind = r.dst_kind;
      m->bytes = r.bytes;
      m->start = r.start;
      m->end = r.end;
      m->deviceId = r.device;
      m->contextId = r.context;
      m->streamId = r.stream;
      m->correlationId = r.corr;
      m->graphId = r.graph_id;
      m->graphNodeId = r.graph_node_id;
      m->copyCount = 1;
      break;
    }
    case CUPTI_ACTIVITY_KIND_MEMSET: {
      auto* m = (CUpti_ActivityMemset4*)p;
      m->kind = pr.kind;
      m->value = r.value;
      m->bytes = r.bytes;
      m->start = r.start;
      m->end = r.end;
      m->deviceId = r.device;
      m->contextId = r.context;
      m->streamId = r.stream;
      m->correlationId = r.corr;
      m->memoryKind = CUPTI_ACTIVITY_MEMORY_KIND_DEVICE;
      m->graphId = r.graph_id;
      m->graphNodeId = r.graph_node_id;
      break;
    }
    case CUPTI_ACTIVITY_KIND_RUNTIME:
    case CUPTI_ACTIVITY_KIND_DRIVER: {
      auto* a = (CUpti_ActivityAPI*)p;
      a->kind = pr.kind;
      a->cbid = r.cbid;
      a->start = r.start;
      a->end = r.end;
      a->processId = (uint32_t)getpid();
      a->threadId = r.thread_id;
      a->correlationId = r.corr;
      a->returnValue = (uint32_t)r.ret;
      break;
    }
    case CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION: {
      auto* e = (CUpti_ActivityExternalCorrelation*)p;
      e->kind = pr.kind;
      e->externalKind = (CUpti_ExternalCorrelationKind)pr.ext_kind;
      e->externalId = pr.ext_id;
      e->correlationId = r.corr;
      break;
    }
    default: break;
  }
}

// Moves deliverable records into client buffers; returns the buffers to complete.
// Called with g.mu held; may drop g.mu to call bufferRequested.
struct Full { uint8_t* b; size_t size, valid; };
void fill_locked(std::unique_lock<std::mutex>& lk, bool forced, std::vector<Full>& out) {
  Global& g = G();
  sg::ns_t now = sg::now_ns();
  while (!g.queue.empty()) {
    const Pending& pr = g.queue.front();
    bool is_gpu = pr.r.kind == ActivityRecord::Kernel || pr.r.kind == ActivityRecord::Memcpy ||
                  pr.r.kind == ActivityRecord::Memset;
    if (is_gpu && !forced && pr.r.end > now) break;  // not completed on the GPU yet
    size_t need = aligned(record_size(pr.kind));
    if (g.buf && g.buf_used + need > g.buf_size) {
      out.push_back({g.buf, g.buf_size, g.buf_used});
      g.buf = nullptr;
    }
    if (!g.buf) {
      uint8_t* b = nullptr;
      size_t size = 0, maxrec = 0;
      auto req = g.req;
      lk.unlock();
      if (req) req(&b, &size, &maxrec);
      lk.lock();
      if (!b || size < need) {
        g.dropped += g.queue.size();
        g.queue.clear();
        return;
      }
      g.buf = b;
      g.buf_size = size;
      g.buf_used = 0;
      continue;  // the queue may have changed while unlocked
    }
    write_record(g.buf + g.buf_used, pr);
    g.buf_used += need;
    g.queue.pop_front();
  }
}

void deliver(std::vector<Full>& full) {
  Global& g = G();
  for (auto& f : full)
    if (g.done) g.done(nullptr, 0, f.b, f.size, f.valid);
  full.clear();
}

void worker_main() {
  Global& g = G();
  std::unique_lock<std::mutex> lk(g.mu);
  sg::ns_t last_period = sg::now_ns();
  for (;;) {
    // Sleep until the first queued record completes, or the flush period, or new work.
    sg::ns_t wake = sg::now_ns() + 1000000000ull;
    if (!g.queue.empty()) wake = std::min<sg::ns_t>(wake, std::max<sg::ns_t>(g.queue.front().r.end, sg::now_ns()) + 1000000ull);
    if (g.flush_period_ms) wake = std::min<sg::ns_t>(wake, last_period + g.flush_period_ms * 1000000ull);
    g.cv.wait_for(lk, std::chrono::nanoseconds(wake > sg::now_ns() ? wake - sg::now_ns() : 0));
    if (!g.req) continue;
    std::vector<Full> full;
    // Lock order: deliver_mu before g.mu (FlushAll's order; clients call CUPTI from their
    // buffer callbacks, which run under deliver_mu but never under g.mu).
    lk.unlock();
    {
      std::lock_guard<std::recursive_mutex> d(g.deliver_mu);
      lk.lock();
      fill_locked(lk, false, full);
      if (g.flush_period_ms && sg::now_ns() >= last_period + g.flush_period_ms * 1000000ull) {
        last_period = sg::now_ns();
        if (g.buf && g.buf_used) {
          full.push_back({g.buf, g.buf_size, g.buf_used});
          g.buf = nullptr;
        }
      }
      lk.unlock();
      deliver(full);
    }
    lk.lock();
  }
}

void push_locked(const ActivityRecord& r, CUpti_ActivityKind k) {
  Global& g = G();
  Pending p;
  p.r = r;
  p.kind = k;
  g.queue.push_back(p);
}

// The device's sink: runs on the thread that resolved the op (or made the API call).
void sink(const ActivityRecord& r) {
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  bool notify = false;
  switch (r.kind) {
    case ActivityRecord::Kernel:
      if (g.enabled[CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL]) push_locked(r, CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), notify = true;
      else if (g.enabled[CUPTI_ACTIVITY_KIND_KERNEL]) push_locked(r, CUPTI_ACTIVITY_KIND_KERNEL), notify = true;
      break;
    case ActivityRecord::Memcpy:
      if (g.enabled[CUPTI_ACTIVITY_KIND_MEMCPY]) push_locked(r, CUPTI_ACTIVITY_KIND_MEMCPY), notify = true;
      break;
    case ActivityRecord::Memset:
      if (g.enabled[CUPTI_ACTIVITY_KIND_MEMSET]) push_locked(r, CUPTI_ACTIVITY_KIND_MEMSET), notify = true;
      break;
    case ActivityRecord::Runtime:
    case ActivityRecord::Driver: {
      CUpti_ActivityKind k =
          r.kind == ActivityRecord::Runtime ? CUPTI_ACTIVITY_KIND_RUNTIME : CUPTI_ACTIVITY_KIND_DRIVER;
      if (g.enabled[CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION]) {
        for (int ek = 0; ek < CUPTI_EXTERNAL_CORRELATION_KIND_SIZE; ek++)
          if (!t_ext[ek].empty()) {
            Pending p;
            p.r = r;
            p.kind = CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION;
            p.ext_kind = (uint32_t)ek;
            p.ext_id = t_ext[ek].back();
            g.queue.push_back(p);
          }
      }
      if (g.enabled[k]) push_locked(r, k), notify = true;
      break;
    }
  }
  // Wake the worker when it has nothing scheduled (queue was empty) or a buffer's worth is
  // waiting; otherwise it wakes by itself when the earliest record completes.
  if (notify && (g.queue.size() == 1 || g.queue.size() % 256 == 0)) g.cv.notify_one();
}

void api_hook(int domain, uint32_t cbid, const char* name, uint32_t corr, int site, int ret) {
  Global& g = G();
  CUpti_Subscriber_st* s;
  {
    std::lock_guard<std::mutex> lk(g.mu);
    s = g.subscriber;
    if (!s || !(s->domains.count(domain) || s->enabled.count({domain, cbid}))) return;
  }
  thread_local uint64_t corr_data = 0;
  CUpti_CallbackData d{};
  d.callbackSite = site == 0 ? CUPTI_API_ENTER : CUPTI_API_EXIT;
  d.functionName = name;
  d.functionParams = nullptr;  // simgpu does not provide parameter structs
  int retv = ret;
  d.functionReturnValue = &retv;
  d.symbolName = nullptr;
  d.contextUid = 1;
  d.correlationData = &corr_data;
  d.correlationId = corr;
  s->cb(s->user, (CUpti_CallbackDomain)domain, cbid, &d);
}

void ensure_started() {
  Global& g = G();
  // Called with g.mu held.
  if (!g.worker) {
    g.worker = true;
    std::thread(worker_main).detach();
    sg::set_activity_sink(&sink);
  }
}

}  // namespace

extern "C" {

CUptiResult CUPTIAPI cuptiGetVersion(uint32_t* v) {
  if (!v) return CUPTI_ERROR_INVALID_PARAMETER;
  *v = CUPTI_API_VERSION;
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiGetResultString(CUptiResult r, const char** s) {
  if (!s) return CUPTI_ERROR_INVALID_PARAMETER;
  switch (r) {
    case CUPTI_SUCCESS: *s = "CUPTI_SUCCESS"; break;
    case CUPTI_ERROR_INVALID_PARAMETER: *s = "CUPTI_ERROR_INVALID_PARAMETER"; break;
    case CUPTI_ERROR_INVALID_KIND: *s = "CUPTI_ERROR_INVALID_KIND"; break;
    case CUPTI_ERROR_MAX_LIMIT_REACHED: *s = "CUPTI_ERROR_MAX_LIMIT_REACHED"; break;
    case CUPTI_ERROR_NOT_INITIALIZED: *s = "CUPTI_ERROR_NOT_INITIALIZED"; break;
    case CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED: *s = "CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED"; break;
    case CUPTI_ERROR_NOT_SUPPORTED: *s = "CUPTI_ERROR_NOT_SUPPORTED"; break;
    default: *s = "CUPTI_ERROR_UNKNOWN"; return CUPTI_ERROR_INVALID_PARAMETER;
  }
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiGetTimestamp(uint64_t* t) {
  if (!t) return CUPTI_ERROR_INVALID_PARAMETER;
  *t = sg::now_ns() + (uint64_t)g_ts_offset.load();  // the device timeline's clock
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiGetLastError(void) { return CUPTI_SUCCESS; }

CUptiResult CUPTIAPI cuptiActivityRegisterCallbacks(CUpti_BuffersCallbackRequestFunc req,
                                                    CUpti_BuffersCallbackCompleteFunc done) {
  if (!req || !done) return CUPTI_ERROR_INVALID_PARAMETER;
  if (busy_env()) return CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED;
  sg::init();
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  g.req = req;
  g.done = done;
  ensure_started();
  return CUPTI_SUCCESS;
}

static bool supported(CUpti_ActivityKind k) { return record_size(k) != 0; }

CUptiResult CUPTIAPI cuptiActivityEnable(CUpti_ActivityKind k) {
  if (busy_env()) return CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED;
  if ((int)k <= 0 || (int)k >= 64) return CUPTI_ERROR_INVALID_KIND;
  if (!supported(k)) return CUPTI_ERROR_NOT_SUPPORTED;
  sg::init();
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  g.enabled[k] = true;
  ensure_started();
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiActivityEnableAndDump(CUpti_ActivityKind k) { return cuptiActivityEnable(k); }

CUptiResult CUPTIAPI cuptiActivityDisable(CUpti_ActivityKind k) {
  if ((int)k <= 0 || (int)k >= 64) return CUPTI_ERROR_INVALID_KIND;
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  g.enabled[k] = false;
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiActivityEnableDriverApi(CUpti_CallbackId, uint8_t) { return CUPTI_SUCCESS; }
CUptiResult CUPTIAPI cuptiActivityEnableRuntimeApi(CUpti_CallbackId, uint8_t) { return CUPTI_SUCCESS; }

CUptiResult CUPTIAPI cuptiActivityFlushAll(uint32_t flag) {
  Global& g = G();
  std::lock_guard<std::recursive_mutex> d(g.deliver_mu);
  std::unique_lock<std::mutex> lk(g.mu);
  if (!g.req) return CUPTI_SUCCESS;
  std::vector<Full> full;
  fill_locked(lk, (flag & CUPTI_ACTIVITY_FLAG_FLUSH_FORCED) != 0, full);
  if (g.buf) {
    // A partially filled buffer is returned too (that is what flushing means).
    full.push_back({g.buf, g.buf_size, g.buf_used});
    g.buf = nullptr;
  }
  lk.unlock();
  deliver(full);
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiActivityFlush(CUcontext, uint32_t, uint32_t flag) { return cuptiActivityFlushAll(flag); }

CUptiResult CUPTIAPI cuptiActivityFlushPeriod(uint32_t ms) {
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  g.flush_period_ms = ms;
  g.cv.notify_all();
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiActivityGetNextRecord(uint8_t* buffer, size_t valid, CUpti_Activity** record) {
  if (!buffer || !record) return CUPTI_ERROR_INVALID_PARAMETER;
  uint8_t* p;
  if (!*record) {
    p = buffer;
  } else {
    size_t sz = record_size((*record)->kind);
    if (!sz) return CUPTI_ERROR_INVALID_KIND;
    p = (uint8_t*)*record + aligned(sz);
  }
  if (p >= buffer + valid) return CUPTI_ERROR_MAX_LIMIT_REACHED;
  auto* rec = (CUpti_Activity*)p;
  size_t sz = record_size(rec->kind);
  if (!sz || p + sz > buffer + valid) return CUPTI_ERROR_INVALID_KIND;
  *record = rec;
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiActivityGetNumDroppedRecords(CUcontext, uint32_t, size_t* dropped) {
  if (!dropped) return CUPTI_ERROR_INVALID_PARAMETER;
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  *dropped = g.dropped;
  g.dropped = 0;  // like CUPTI: the count since the last query
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiActivityPushExternalCorrelationId(CUpti_ExternalCorrelationKind k, uint64_t id) {
  if ((int)k <= 0 || (int)k >= CUPTI_EXTERNAL_CORRELATION_KIND_SIZE) return CUPTI_ERROR_INVALID_PARAMETER;
  t_ext[k].push_back(id);
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiActivityPopExternalCorrelationId(CUpti_ExternalCorrelationKind k, uint64_t* last) {
  if ((int)k <= 0 || (int)k >= CUPTI_EXTERNAL_CORRELATION_KIND_SIZE) return CUPTI_ERROR_INVALID_PARAMETER;
  if (t_ext[k].empty()) return CUPTI_ERROR_QUEUE_EMPTY;
  if (last) *last = t_ext[k].back();
  t_ext[k].pop_back();
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiActivitySetAttribute(CUpti_ActivityAttribute, size_t*, void*) { return CUPTI_SUCCESS; }
CUptiResult CUPTIAPI cuptiActivityGetAttribute(CUpti_ActivityAttribute, size_t* size, void* value) {
  if (size && value && *size >= sizeof(size_t)) *(size_t*)value = 0;
  return CUPTI_SUCCESS;
}

CUptiResult CUPTIAPI cuptiGetContextId(CUcontext, uint32_t* id) {
  if (!id) return CUPTI_ERROR_INVALID_PARAMETER;
  *id = 1;
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiGetDeviceId(CUcontext, uint32_t* id) {
  if (!id) return CUPTI_ERROR_INVALID_PARAMETER;
  *id = (uint32_t)sg::current_device();
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiGetStreamIdEx(CUcontext, CUstream s, uint8_t per_thread, uint32_t* id) {
  if (!id) return CUPTI_ERROR_INVALID_PARAMETER;
  CUstream_st* st = sg::stream_resolve(s, per_thread != 0);
  if (!st) return CUPTI_ERROR_INVALID_PARAMETER;
  *id = sg::stream_id(st);
  return CUPTI_SUCCESS;
}

// ---- callback API: one subscriber at a time, like the real CUPTI.
CUptiResult CUPTIAPI cuptiSubscribe(CUpti_SubscriberHandle* sub, CUpti_CallbackFunc cb, void* user) {
  if (!sub || !cb) return CUPTI_ERROR_INVALID_PARAMETER;
  if (busy_env()) return CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED;
  sg::init();
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  if (g.subscriber) return CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED;
  g.subscriber = new CUpti_Subscriber_st{cb, user, {}, {}};
  *sub = g.subscriber;
  sg::set_api_hook(&api_hook);
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiSubscribe_v2(CUpti_SubscriberHandle* sub, CUpti_CallbackFunc cb, void* user,
                                       CUpti_SubscriberParams*) {
  return cuptiSubscribe(sub, cb, user);
}
CUptiResult CUPTIAPI cuptiUnsubscribe(CUpti_SubscriberHandle sub) {
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  if (!sub || sub != g.subscriber) return CUPTI_ERROR_INVALID_PARAMETER;
  sg::set_api_hook(nullptr);
  g.subscriber = nullptr;  // leaked on purpose: a concurrent callback may still hold it
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiEnableCallback(uint32_t enable, CUpti_SubscriberHandle sub, CUpti_CallbackDomain d,
                                         CUpti_CallbackId cbid) {
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  if (!sub || sub != g.subscriber) return CUPTI_ERROR_INVALID_PARAMETER;
  if (enable) sub->enabled.insert({(int)d, cbid});
  else sub->enabled.erase({(int)d, cbid});
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiEnableDomain(uint32_t enable, CUpti_SubscriberHandle sub, CUpti_CallbackDomain d) {
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  if (!sub || sub != g.subscriber) return CUPTI_ERROR_INVALID_PARAMETER;
  if (enable) sub->domains.insert((int)d);
  else sub->domains.erase((int)d);
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiActivityRegisterTimestampCallback(CUpti_TimestampCallbackFunc f) {
  if (!f) return CUPTI_ERROR_INVALID_PARAMETER;
  g_ts_offset.store((int64_t)(f() - sg::now_ns()));
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiActivityEnableLatencyTimestamps(uint8_t) { return CUPTI_SUCCESS; }
CUptiResult CUPTIAPI cuptiActivityEnableContext(CUcontext, CUpti_ActivityKind k) { return cuptiActivityEnable(k); }
CUptiResult CUPTIAPI cuptiActivityDisableContext(CUcontext, CUpti_ActivityKind k) { return cuptiActivityDisable(k); }
CUptiResult CUPTIAPI cuptiGetStreamId(CUcontext c, CUstream s, uint32_t* id) { return cuptiGetStreamIdEx(c, s, 0, id); }
namespace { CUpti_ActivityThreadIdType g_tid_type = CUPTI_ACTIVITY_THREAD_ID_TYPE_DEFAULT; }
CUptiResult CUPTIAPI cuptiSetThreadIdType(CUpti_ActivityThreadIdType t) {
  g_tid_type = t;  // records always carry the system thread id (gettid)
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiGetThreadIdType(CUpti_ActivityThreadIdType* t) {
  if (!t) return CUPTI_ERROR_INVALID_PARAMETER;
  *t = g_tid_type;
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiEnableAllDomains(uint32_t enable, CUpti_SubscriberHandle sub) {
  cuptiEnableDomain(enable, sub, CUPTI_CB_DOMAIN_DRIVER_API);
  return cuptiEnableDomain(enable, sub, CUPTI_CB_DOMAIN_RUNTIME_API);
}
CUptiResult CUPTIAPI cuptiGetCallbackState(uint32_t* enable, CUpti_SubscriberHandle sub, CUpti_CallbackDomain d,
                                           CUpti_CallbackId cbid) {
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  if (!enable || !sub || sub != g.subscriber) return CUPTI_ERROR_INVALID_PARAMETER;
  *enable = sub->domains.count((int)d) || sub->enabled.count({(int)d, cbid});
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiGetCallbackName(CUpti_CallbackDomain, uint32_t, const char** name) {
  if (!name) return CUPTI_ERROR_INVALID_PARAMETER;
  *name = "unknown";  // simgpu keeps no cbid -> name table
  return CUPTI_SUCCESS;
}
CUptiResult CUPTIAPI cuptiFinalize(void) {
  Global& g = G();
  std::lock_guard<std::mutex> lk(g.mu);
  for (bool& e : g.enabled) e = false;
  return CUPTI_SUCCESS;
}
}  // extern "C"
