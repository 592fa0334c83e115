// A minimal CUPTI client loaded the way real tools are (CUDA_INJECTION64_PATH ->
// InitializeInjection). It enables kernel/memcpy/memset/runtime activity, checks that a
// second subscriber is refused, and at exit writes every record it received to
// $PROBE_OUT.<pid> (one JSON object per line) so tests can compare it with SIMGPU_CUPTI_LOG.
#include <cupti.h>
#include <nvtx3/nvToolsExt.h>
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace {
std::mutex g_mu;
std::vector<std::string> g_lines;
int g_buffers = 0;
int g_init_devices = -1;
bool g_cupti_on = false;
size_t g_dropped_in_cb = 0;
std::atomic<bool> g_async_thread_seen{false};
pid_t g_main_tid = 0;

void CUPTIAPI on_request(uint8_t** buf, size_t* size, size_t* max) {
  *size = 64 * 1024;  // small on purpose: exercises buffer completion from CUPTI's thread
  *buf = static_cast<uint8_t*>(aligned_alloc(8, *size));
  *max = 0;
}

void CUPTIAPI on_complete(CUcontext, uint32_t, uint8_t* buf, size_t, size_t valid) {
  std::unique_lock<std::mutex> g(g_mu);
  g_buffers++;
  if (gettid() != g_main_tid) g_async_thread_seen = true;
  CUpti_Activity* r = nullptr;
  char line[1024];
  while (cuptiActivityGetNextRecord(buf, valid, &r) == CUPTI_SUCCESS) {
    if (r->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
      auto* k = reinterpret_cast<CUpti_ActivityKernel10*>(r);
      snprintf(line, sizeof line, "{\"kind\":\"kernel\",\"start\":%llu,\"end\":%llu,\"corr\":%u,\"stream\":%u,\"device\":%u,\"name_len\":%zu}",
               (unsigned long long)k->start, (unsigned long long)k->end, k->correlationId, k->streamId, k->deviceId,
               std::string(k->name ? k->name : "").size());
    } else if (r->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
      auto* m = reinterpret_cast<CUpti_ActivityMemcpy6*>(r);
      snprintf(line, sizeof line, "{\"kind\":\"memcpy\",\"start\":%llu,\"end\":%llu,\"corr\":%u,\"stream\":%u,\"bytes\":%llu,\"copy_kind\":%u}",
               (unsigned long long)m->start, (unsigned long long)m->end, m->correlationId, m->streamId,
               (unsigned long long)m->bytes, m->copyKind);
    } else if (r->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
      auto* m = reinterpret_cast<CUpti_ActivityMemset4*>(r);
      snprintf(line, sizeof line, "{\"kind\":\"memset\",\"start\":%llu,\"end\":%llu,\"corr\":%u,\"stream\":%u,\"bytes\":%llu}",
               (unsigned long long)m->start, (unsigned long long)m->end, m->correlationId, m->streamId,
               (unsigned long long)m->bytes);
    } else if (r->kind == CUPTI_ACTIVITY_KIND_RUNTIME || r->kind == CUPTI_ACTIVITY_KIND_DRIVER) {
      auto* a = reinterpret_cast<CUpti_ActivityAPI*>(r);
      snprintf(line, sizeof line, "{\"kind\":\"%s\",\"cbid\":%u,\"start\":%llu,\"end\":%llu,\"corr\":%u}",
               r->kind == CUPTI_ACTIVITY_KIND_RUNTIME ? "runtime" : "driver", a->cbid, (unsigned long long)a->start,
               (unsigned long long)a->end, a->correlationId);
    } else {
      continue;
    }
    g_lines.push_back(line);
  }
  g.unlock();
  free(buf);
  // Clients query CUPTI from inside the callback (the Argus interposer does): must not deadlock,
  // even while CUPTI's own thread wakes up meanwhile (a slow callback widens that window).
  if (const char* ms = getenv("PROBE_SLOW_CB_MS")) usleep((useconds_t)atoi(ms) * 1000);
  size_t d = 0;
  cuptiActivityGetNumDroppedRecords(nullptr, 0, &d);
  g_dropped_in_cb += d;
}

int g_callbacks = 0;
void CUPTIAPI on_callback(void*, CUpti_CallbackDomain, CUpti_CallbackId, const void*) { g_callbacks++; }

void at_exit() {
  // PROBE_WAIT_ASYNC_MS: give CUPTI's thread time to deliver on its own before the forced flush
  // below takes everything on this thread (makes the "delivered from CUPTI's thread" check
  // independent of how loaded the machine is).
  if (const char* w = getenv("PROBE_WAIT_ASYNC_MS"))
    for (int i = 0; i < atoi(w) && !g_async_thread_seen.load(); ++i) usleep(1000);
  if (g_cupti_on) cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  const char* out = getenv("PROBE_OUT");
  if (!out) return;
  std::string path = std::string(out) + "." + std::to_string(getpid());
  FILE* f = fopen(path.c_str(), "w");
  if (!f) return;
  size_t dropped = g_dropped_in_cb;
  size_t more = 0;
  cuptiActivityGetNumDroppedRecords(nullptr, 0, &more);
  dropped += more;
  std::lock_guard<std::mutex> g(g_mu);
  for (auto& l : g_lines) fprintf(f, "%s\n", l.c_str());
  fprintf(f, "{\"kind\":\"summary\",\"buffers\":%d,\"dropped\":%zu,\"async\":%s,\"callbacks\":%d,\"init_devices\":%d}\n",
          g_buffers, dropped, g_async_thread_seen.load() ? "true" : "false", g_callbacks, g_init_devices);
  fclose(f);
}

// NVTX injection (NVTX_INJECTION64_PATH): record range pushes/pops as the real tools do.
int NVTX_API on_push(const char* msg) {
  std::lock_guard<std::mutex> g(g_mu);
  g_lines.push_back(std::string("{\"kind\":\"nvtx_push\",\"name\":\"") + (msg ? msg : "") + "\"}");
  return 0;
}
int NVTX_API on_pop() {
  {
    std::lock_guard<std::mutex> g(g_mu);
    g_lines.push_back("{\"kind\":\"nvtx_pop\"}");
  }
  // Flush at every step end from the application thread, while CUPTI's thread also delivers.
  if (g_cupti_on && getenv("PROBE_FLUSH_EACH_STEP")) cuptiActivityFlushAll(0);
  return 0;
}
bool g_exit_registered = false;
}  // namespace

extern "C" __attribute__((visibility("default"))) int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get) {
  auto* cb = static_cast<const NvtxExportTableCallbacks*>(get(NVTX_ETID_CALLBACKS));
  NvtxFunctionTable table = nullptr;
  unsigned size = 0;
  if (!cb || !cb->GetModuleFunctionTable(NVTX_CB_MODULE_CORE, &table, &size)) return 0;
  if (size > NVTX_CBID_CORE_RangePop) {
    *table[NVTX_CBID_CORE_RangePushA] = reinterpret_cast<NvtxFunctionPointer>(&on_push);
    *table[NVTX_CBID_CORE_RangePop] = reinterpret_cast<NvtxFunctionPointer>(&on_pop);
  }
  if (!g_exit_registered) {
    g_exit_registered = true;
    atexit(at_exit);
  }
  return 1;
}

extern "C" __attribute__((visibility("default"))) int InitializeInjection(void) {
  g_main_tid = gettid();
  // Tools call back into CUDA from here (reentrancy of cuInit / the runtime's lazy init).
  using CountFn = int (*)(int*);
  if (auto count = reinterpret_cast<CountFn>(dlsym(RTLD_DEFAULT, "cudaGetDeviceCount"))) count(&g_init_devices);
  if (cuptiActivityRegisterCallbacks(on_request, on_complete) != CUPTI_SUCCESS) return 0;
  g_cupti_on = true;
  cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
  cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY);
  cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET);
  cuptiActivityEnable(CUPTI_ACTIVITY_KIND_RUNTIME);
  cuptiActivityEnable(CUPTI_ACTIVITY_KIND_DRIVER);
  if (getenv("PROBE_FLUSH_PERIOD_MS")) cuptiActivityFlushPeriod((uint32_t)atoi(getenv("PROBE_FLUSH_PERIOD_MS")));
  CUpti_SubscriberHandle a, b;
  if (cuptiSubscribe(&a, on_callback, nullptr) == CUPTI_SUCCESS) {
    cuptiEnableDomain(1, a, CUPTI_CB_DOMAIN_RUNTIME_API);
    // Only one subscriber at a time, like the real CUPTI.
    if (cuptiSubscribe(&b, on_callback, nullptr) != CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED)
      fprintf(stderr, "cupti_probe: second cuptiSubscribe was not refused\n");
  }
  if (!g_exit_registered) {
    g_exit_registered = true;
    atexit(at_exit);
  }
  return 1;
}
