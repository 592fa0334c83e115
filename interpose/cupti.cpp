// SPDX-License-Identifier: Apache-2.0
// GPU durations from the CUPTI activity API (kineto's model): libcupti is dlopen'ed, never
// linked; activity buffers come from a fixed pool (when it is empty CUPTI drops records and
// counts them; we copy its count); buffers are processed in CUPTI's completion callback, off
// the application's launch path, one mutex per buffer (never per record), and we never hold
// that mutex while calling into CUPTI except the pure record iterator.
#include "real.h"
#include "state.h"

#include <cupti.h>
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <mutex>
#include <sys/mman.h>

using namespace argus;
using namespace argus::ip;

namespace {
struct Api {
  decltype(&cuptiActivityRegisterCallbacks) reg;
  decltype(&cuptiActivityEnable) enable;
  decltype(&cuptiActivityFlushAll) flush_all;
  decltype(&cuptiActivityGetNextRecord) next;
  decltype(&cuptiActivityGetNumDroppedRecords) dropped;
  decltype(&cuptiGetTimestamp) timestamp;
  decltype(&cuptiSubscribe) subscribe;
  decltype(&cuptiUnsubscribe) unsubscribe;
  decltype(&cuptiGetVersion) version;
  decltype(&cuptiActivityFlushPeriod) flush_period;
};
Api g_api{};
void* g_lib = nullptr;
std::atomic<int> g_phase{0};  // 0 not started, 1 starting, 2 on, 3 unavailable
int64_t g_offset = 0;         // cupti ts − realtime
std::mutex g_process_mu;      // one buffer at a time; never held across a CUPTI call that can call back
std::atomic<bool> g_flushing{false};
bool g_periodic = false;  // CUPTI delivers periodically; we flush only at exit

constexpr size_t kBufBytes = 2u << 20;
constexpr int kBufs = 16;  // 32 MiB of address space, pages touched only when used
char* g_pool = nullptr;
std::atomic<uint32_t> g_free{0};  // bit i = buffer i free

PtrMap<12> g_name_rows;  // CUPTI name pointer → kernel row (names are stable per function)

uint64_t cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = nullptr;
  *size = 0;
  *max_records = 0;
  uint32_t f = g_free.load(std::memory_order_acquire);
  while (f) {
    int i = __builtin_ctz(f);
    if (g_free.compare_exchange_weak(f, f & ~(1u << i), std::memory_order_acq_rel)) {
      *buffer = reinterpret_cast<uint8_t*>(g_pool + size_t(i) * kBufBytes);
      *size = kBufBytes;
      return;
    }
  }
  // Pool empty: CUPTI drops records and counts them (copied in buffer_completed).
}

void release_buffer(uint8_t* b) {
  if (!b || !g_pool) return;
  size_t i = size_t(reinterpret_cast<char*>(b) - g_pool) / kBufBytes;
  if (i < size_t(kBufs)) g_free.fetch_or(1u << i, std::memory_order_acq_rel);
}

int32_t row_for_name(const char* name) {
  uint64_t v;
  if (g_name_rows.find(uint64_t(name), &v)) return int32_t(v);
  int32_t k = g_rec.kernel(name, rec::kKernelNameFromCupti);
  g_name_rows.insert(uint64_t(name), uint64_t(uint32_t(k)));  // -1 cached too
  return k;
}

void process(uint8_t* buffer, size_t valid) {
  rec::Integrity& in = g_rec.integrity();
  CUpti_Activity* r = nullptr;
  uint64_t n = 0, kernels = 0;
  while (g_api.next(buffer, valid, &r) == CUPTI_SUCCESS) {
    ++n;
    switch (r->kind) {
      case CUPTI_ACTIVITY_KIND_KERNEL:
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
        auto* k = reinterpret_cast<CUpti_ActivityKernel10*>(r);
        ++kernels;
        uint64_t s = uint64_t(int64_t(k->start) - g_offset), e = uint64_t(int64_t(k->end) - g_offset);
        const char* name = k->name ? k->name : "<unnamed>";
        int32_t row = row_for_name(name);
        g_rec.kernel_activity(row, s, e, k->graphId != 0, false);
        if (row >= 0 && (g_rec.record()->kernels[row].flags & rec::kKernelNccl)) nccl_kernel_done(name, s, e);
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMCPY: {
        auto* m = reinterpret_cast<CUpti_ActivityMemcpy6*>(r);
        g_rec.copy_activity(uint64_t(int64_t(m->start) - g_offset), uint64_t(int64_t(m->end) - g_offset), false);
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMSET: {
        auto* m = reinterpret_cast<CUpti_ActivityMemset4*>(r);
        g_rec.copy_activity(uint64_t(int64_t(m->start) - g_offset), uint64_t(int64_t(m->end) - g_offset), true);
        break;
      }
      default:
        break;
    }
  }
  g_rec.add(in.cupti_records, n);
  g_rec.add(in.kernel_records, kernels);
  g_rec.add(in.cupti_buffers);
}

void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t* buffer, size_t size, size_t valid) {
  (void)size;
  (void)ctx;
  (void)stream;
  ++t_tls.depth;
  if (g_state.load(std::memory_order_acquire) == kOn && buffer && valid > 0) {
    uint64_t c0 = cpu_ns(), w0 = mono_ns();
    {
      std::lock_guard<std::mutex> lk(g_process_mu);
      process(buffer, valid);
    }
    // (CUPTI's dropped-record count is read by cupti_flush, outside this callback: CUPTI may
    // hold its own lock while calling us.)
    rec::Integrity& in = g_rec.integrity();
    g_rec.add(in.cupti_processing_ns, mono_ns() - w0);
    g_rec.add(in.own_cpu_ns, cpu_ns() - c0);
  }
  release_buffer(buffer);
  --t_tls.depth;
}

void CUPTIAPI probe_callback(void*, CUpti_CallbackDomain, CUpti_CallbackId, const void*) {}

void set_state(uint32_t cupti_state, int err) {
  rec::Integrity& in = g_rec.integrity();
  __atomic_store_n(&in.cupti_state, cupti_state, __ATOMIC_RELAXED);
  __atomic_store_n(&in.cupti_error, int32_t(err), __ATOMIC_RELAXED);
  __atomic_store_n(&in.duration_source, uint32_t(cupti_state == rec::kCuptiOk ? rec::kDurCupti : rec::kDurNone),
                   __ATOMIC_RELAXED);
  // Every state but ok is final for this process: kernel durations come from event pairs.
  if (cupti_state != rec::kCuptiOk) event_sampling_enable();
}

void record_versions() {
  rec::Integrity& in = g_rec.integrity();
  int v = 0;
  if (auto f = real<cudaError_t (*)(int*)>(S_cudaRuntimeGetVersion); f && f(&v) == cudaSuccess)
    in.cuda_runtime_version = v;
  v = 0;
  if (auto f = real<CUresult (*)(int*)>(S_cuDriverGetVersion); f && f(&v) == CUDA_SUCCESS) in.cuda_driver_version = v;
  // We were built against CUDA 13 headers; a newer major may have changed ABIs we rely on.
  if (in.cuda_runtime_version >= 14000 || in.cuda_driver_version >= 14000) in.unknown_cuda_version = 1;
}

template <class F> bool sym(F& out, const char* name) {
  out = reinterpret_cast<F>(real_dlsym(g_lib, name));
  return out != nullptr;
}
}  // namespace

namespace argus::ip {
bool cupti_active() noexcept { return g_phase.load(std::memory_order_acquire) == 2; }

void cupti_start() noexcept {
  int expect = 0;
  if (!g_phase.compare_exchange_strong(expect, 1)) return;
  ++t_tls.depth;
  record_versions();
  const char* off = getenv("ARGUS_CUPTI");
  if (off && strcmp(off, "0") == 0) {
    set_state(rec::kCuptiDisabled, 0);
    g_phase.store(3);
    --t_tls.depth;
    return;
  }
  const char* path = getenv("ARGUS_CUPTI_LIB");
  g_lib = dlopen(path && *path ? path : "libcupti.so.13", RTLD_NOW | RTLD_LOCAL);
  bool ok = g_lib && sym(g_api.reg, "cuptiActivityRegisterCallbacks") && sym(g_api.enable, "cuptiActivityEnable") &&
            sym(g_api.flush_all, "cuptiActivityFlushAll") && sym(g_api.next, "cuptiActivityGetNextRecord") &&
            sym(g_api.timestamp, "cuptiGetTimestamp");
  if (!ok) {
    g_rec.set_bits(g_rec.integrity().init_errors, rec::kErrCuptiLoad);
    set_state(rec::kCuptiMissing, 0);
    g_phase.store(3);
    --t_tls.depth;
    return;
  }
  sym(g_api.dropped, "cuptiActivityGetNumDroppedRecords");
  sym(g_api.subscribe, "cuptiSubscribe");
  sym(g_api.unsubscribe, "cuptiUnsubscribe");
  sym(g_api.version, "cuptiGetVersion");
  sym(g_api.flush_period, "cuptiActivityFlushPeriod");
  uint32_t ver = 0;
  if (g_api.version && g_api.version(&ver) == CUPTI_SUCCESS) g_rec.integrity().cupti_version = ver;
  // Another profiler (nsys, a PyTorch profiler session) owns CUPTI?  Probe with a subscriber
  // and give it back at once, so that a profiler started later is not refused because of us.
  if (g_api.subscribe && g_api.unsubscribe) {
    CUpti_SubscriberHandle sub{};
    CUptiResult r = g_api.subscribe(&sub, reinterpret_cast<CUpti_CallbackFunc>(&probe_callback), nullptr);
    if (r == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED) {
      set_state(rec::kCuptiBusy, int(r));
      g_phase.store(3);
      --t_tls.depth;
      return;
    }
    if (r == CUPTI_SUCCESS) g_api.unsubscribe(sub);
  }
  void* pool = mmap(nullptr, kBufBytes * kBufs, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (pool == MAP_FAILED) {
    set_state(rec::kCuptiError, 0);
    g_phase.store(3);
    --t_tls.depth;
    return;
  }
  g_pool = static_cast<char*>(pool);
  g_free.store((1u << kBufs) - 1);
  uint64_t ts = 0;
  g_api.timestamp(&ts);
  g_offset = int64_t(ts) - int64_t(now_ns());
  g_rec.record()->header.gpu_clock_offset_ns = g_offset;
  CUptiResult r = g_api.reg(buffer_requested, buffer_completed);
  if (r == CUPTI_SUCCESS) {
    r = g_api.enable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    if (r != CUPTI_SUCCESS) r = g_api.enable(CUPTI_ACTIVITY_KIND_KERNEL);
  }
  if (r != CUPTI_SUCCESS) {
    set_state(r == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED ? rec::kCuptiBusy : rec::kCuptiError, int(r));
    g_phase.store(3);
    --t_tls.depth;
    return;
  }
  g_api.enable(CUPTI_ACTIVITY_KIND_MEMCPY);  // optional kinds: failures only lose those
  g_api.enable(CUPTI_ACTIVITY_KIND_MEMSET);
  // Let CUPTI's own thread deliver partially filled buffers every second, so that the record
  // stays current (hang analysis) without us calling FlushAll while the app runs.
  g_periodic = g_api.flush_period && g_api.flush_period(1000) == CUPTI_SUCCESS;
  set_state(rec::kCuptiOk, 0);
  g_phase.store(2, std::memory_order_release);
  --t_tls.depth;
}

void cupti_flush(bool forced) noexcept {
  if (!cupti_active()) return;
  if (!forced && g_periodic) return;
  if (g_flushing.exchange(true)) return;  // someone else is flushing; never wait for it
  ++t_tls.depth;
  g_api.flush_all(forced ? CUPTI_ACTIVITY_FLAG_FLUSH_FORCED : 0);
  size_t dropped = 0;
  if (g_api.dropped && g_api.dropped(nullptr, 0, &dropped) == CUPTI_SUCCESS) {
    uint64_t& d = g_rec.integrity().drops[rec::kDropCuptiRecords];  // CUPTI's count is cumulative
    if (dropped > __atomic_load_n(&d, __ATOMIC_RELAXED)) __atomic_store_n(&d, uint64_t(dropped), __ATOMIC_RELAXED);
  }
  --t_tls.depth;
  g_flushing.store(false);
}

void cupti_on_fork_child() noexcept {
  // CUPTI state does not survive fork; the child starts without it (its record says so if
  // it uses CUDA: cupti_state stays not_tried until a CUDA call, then start is attempted).
  g_phase.store(0);
  g_name_rows.clear();
  g_flushing.store(false);
  new (&g_process_mu) std::mutex();
}
}  // namespace argus::ip
