// SPDX-License-Identifier: Apache-2.0
// Kernel durations from sampled CUDA event pairs: the fallback while CUPTI is unavailable
// (missing, owned by another profiler, ARGUS_CUPTI=0, or failed).
//
// Which launches: every rec::kEventSampleEvery-th latency-sampled launch of a thread
// (ARGUS_EVENT_SAMPLING=N: every N-th; 0 turns the fallback off) gets an event recorded on its
// stream just before the real call and one just after; their elapsed time is the kernel's GPU
// time (the stream runs the kernel between them).  Latency samples sit on a fixed grid of 64
// launches, so a loop whose launch count is a multiple of 64 would always present the same
// kernel: at each decision the grid is shifted by a random 0..15 launches (mean interval of
// latency samples stays within 3% of 64, which the report's overhead scaling assumes).
//
// Never on a stream capturing a graph (counted in event_skipped_capturing): the event would
// join the capture and querying it later is an error.  Graph launches are never sampled.
//
// Driver API only (cuEvent*, cuStreamIsCapturing): runtime calls can set or clear the runtime's
// sticky last error that the application reads with cudaGetLastError.  Our calls are made
// inside the launch hook's Guard (or with depth raised), so nothing of ours records them.
//
// Pairs come from a fixed pool, created once in the context current at the first sample
// (samples and harvests on a thread with another context are skipped).  A pair is free
// (bit in g_free) → owned by one launching thread → pending (bit in g_pending) → harvested →
// free.  Acquisition is one CAS: a lost CAS or an empty pool skips the sample (it is sampling;
// nothing is dropped).  Harvest never waits (cuEventQuery, then cuEventElapsedTime); it runs
// under a try-lock at later samples, step ends, in the flush thread and at exit, and whoever
// finds the lock taken leaves the work to its holder.  The lock also makes the harvester the
// single caller of Recorder::kernel_activity that the recorder requires (CUPTI, the other
// caller, is not delivering while the fallback is on).
//
// Any event call that fails stops the fallback for good (init_errors kErrEventSampling); the
// application's calls and their return values are never touched.
#include "real.h"
#include "state.h"

#include <cuda.h>

#include <dlfcn.h>

using namespace argus;
using namespace argus::ip;

namespace argus::ip {
std::atomic<int> g_event_sampling{0};  // 0 not enabled, 1 sampling, 2 stopped
}

namespace {
enum Mode : int { kSamplingOff = 0, kSamplingOn = 1, kSamplingStopped = 2 };  // (argus::ip has kOff, kOn)
enum Pool : int { kPoolNone = 0, kPoolCreating = 1, kPoolReady = 2 };

struct Api {
  CUresult (*event_create)(CUevent*, unsigned);
  CUresult (*event_record)(CUevent, CUstream);
  CUresult (*event_query)(CUevent);
  CUresult (*event_elapsed)(float*, CUevent, CUevent);
  CUresult (*is_capturing)(CUstream, CUstreamCaptureStatus*);
  CUresult (*ctx_get)(CUcontext*);
  CUresult (*ctx_set)(CUcontext);
  CUresult (*exchange_mode)(CUstreamCaptureMode*);  // optional
};
Api g_api{};

constexpr int kPairs = 64;  // one bit each in g_free / g_pending
struct Pair {
  CUevent start, end;
  CUstream stream;
  uint64_t host_ns;  // launch time (record clock): places the sample in its step
  int32_t kernel;
};
Pair g_pairs[kPairs];
std::atomic<uint64_t> g_free{0};
std::atomic<uint64_t> g_pending{0};
std::atomic<int> g_pool{kPoolNone};
CUcontext g_ctx = nullptr;  // written before g_pool = kPoolReady (release)
std::atomic<bool> g_harvesting{false};
std::atomic<uint32_t> g_every{rec::kEventSampleEvery};  // set before g_event_sampling = kSamplingOn

template <class F> bool resolve_cu(F& out, void* lib, const char* name) {
  void* p = lib ? real_dlsym(lib, name) : nullptr;
  if (!p) p = real_dlsym(RTLD_NEXT, name);
  out = reinterpret_cast<F>(p);
  return p != nullptr;
}

void stop() noexcept {
  if (g_event_sampling.exchange(kSamplingStopped) == kSamplingStopped) return;
  rec::Integrity& in = g_rec.integrity();
  g_rec.set_bits(in.init_errors, rec::kErrEventSampling);
  if (__atomic_load_n(&in.event_samples, __ATOMIC_RELAXED) == 0)
    __atomic_store_n(&in.duration_source, uint32_t(rec::kDurNone), __ATOMIC_RELAXED);
}

// Our queries run in relaxed capture mode: a cuEventQuery from a thread in the default (global)
// mode while any thread captures a graph in global mode invalidates that capture (the bug
// PyTorch's NCCL watchdog had).  Our events are never recorded in a capture, so relaxed is safe.
struct RelaxedCapture {
  CUstreamCaptureMode old = CU_STREAM_CAPTURE_MODE_RELAXED;
  bool swapped = false;
  RelaxedCapture() noexcept { swapped = g_api.exchange_mode && g_api.exchange_mode(&old) == CUDA_SUCCESS; }
  ~RelaxedCapture() {
    if (swapped) g_api.exchange_mode(&old);
  }
};

void harvest_locked() noexcept {
  RelaxedCapture relaxed;
  rec::Integrity& in = g_rec.integrity();
  for (uint64_t p = g_pending.load(std::memory_order_acquire); p; p &= p - 1) {
    int i = __builtin_ctzll(p);
    Pair& e = g_pairs[i];
    CUresult r = g_api.event_query(e.end);
    if (r == CUDA_ERROR_NOT_READY) continue;  // still queued or running: a later harvest
    float ms = 0;
    if (r == CUDA_SUCCESS) r = g_api.event_elapsed(&ms, e.start, e.end);
    if (r != CUDA_SUCCESS) {
      stop();
      return;
    }
    uint64_t dur = ms > 0 ? uint64_t(double(ms) * 1e6 + 0.5) : 0;
    g_rec.kernel_activity(e.kernel, e.host_ns, e.host_ns + dur, false, /*sampled=*/true);
    g_rec.add(in.event_samples);
    uint64_t bit = 1ull << i;
    g_pending.fetch_and(~bit, std::memory_order_relaxed);
    g_free.fetch_or(bit, std::memory_order_release);
  }
}

// Callers have checked that the pool's context is current on this thread.
void harvest_if_free() noexcept {
  if (g_pending.load(std::memory_order_relaxed) == 0) return;
  if (g_harvesting.exchange(true, std::memory_order_acquire)) return;  // holder does the work
  if (g_event_sampling.load(std::memory_order_acquire) == kSamplingOn) harvest_locked();
  g_harvesting.store(false, std::memory_order_release);
}

uint32_t next_rng() noexcept {
  uint32_t x = t_tls.event_rng;
  if (x == 0) x = uint32_t(mono_ns() ^ uint64_t(reinterpret_cast<uintptr_t>(&t_tls))) | 1u;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  t_tls.event_rng = x;
  return x;
}
}  // namespace

namespace argus::ip {

void event_sampling_enable() noexcept {
  if (g_event_sampling.load() != kSamplingOff) return;
  rec::Integrity& in = g_rec.integrity();
  if (int n = env_int({"ARGUS_EVENT_SAMPLING"}); n >= 0 && n <= 1 << 20) g_every.store(uint32_t(n), std::memory_order_relaxed);
  if (g_every.load(std::memory_order_relaxed) == 0) {  // turned off: no durations, as before the fallback existed
    g_event_sampling.store(kSamplingStopped);
    return;
  }
  ++t_tls.depth;
  // The runtime dlopens libcuda privately (RTLD_LOCAL): RTLD_NEXT alone may not see it.
  void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
  bool ok = resolve_cu(g_api.event_create, lib, "cuEventCreate") && resolve_cu(g_api.event_record, lib, "cuEventRecord") &&
            resolve_cu(g_api.event_query, lib, "cuEventQuery") &&
            (resolve_cu(g_api.event_elapsed, lib, "cuEventElapsedTime_v2") ||
             resolve_cu(g_api.event_elapsed, lib, "cuEventElapsedTime")) &&
            resolve_cu(g_api.is_capturing, lib, "cuStreamIsCapturing") && resolve_cu(g_api.ctx_get, lib, "cuCtxGetCurrent") &&
            resolve_cu(g_api.ctx_set, lib, "cuCtxSetCurrent");
  resolve_cu(g_api.exchange_mode, lib, "cuThreadExchangeStreamCaptureMode");
  --t_tls.depth;
  if (!ok) {
    g_event_sampling.store(kSamplingStopped);
    g_rec.set_bits(in.init_errors, rec::kErrEventSampling);
    return;
  }
  __atomic_store_n(&in.duration_source, uint32_t(rec::kDurEventSampling), __ATOMIC_RELAXED);
  g_event_sampling.store(kSamplingOn, std::memory_order_release);
}

int event_sample_begin(int32_t k, void* stream) noexcept {
  if (++t_tls.event_tick < g_every.load(std::memory_order_relaxed)) return -1;
  t_tls.event_tick = 0;
  t_tls.launch_tick += next_rng() & 15;  // shifts this thread's sampling grid (see top)
  CUstream s = static_cast<CUstream>(stream);
  CUstreamCaptureStatus cs = CU_STREAM_CAPTURE_STATUS_NONE;
  CUresult r = g_api.is_capturing(s, &cs);
  // IMPLICIT: the legacy stream while another stream captures (the launch itself is illegal).
  if (r == CUDA_ERROR_STREAM_CAPTURE_IMPLICIT || (r == CUDA_SUCCESS && cs != CU_STREAM_CAPTURE_STATUS_NONE)) {
    g_rec.add(g_rec.integrity().event_skipped_capturing);
    return -1;
  }
  if (r != CUDA_SUCCESS) {
    stop();
    return -1;
  }
  int pool = g_pool.load(std::memory_order_acquire);
  if (pool != kPoolReady) return pool == kPoolNone ? kEventNoPool : -1;
  CUcontext cur = nullptr;
  if (g_api.ctx_get(&cur) != CUDA_SUCCESS || cur != g_ctx) return -1;  // another device
  harvest_if_free();
  uint64_t f = g_free.load(std::memory_order_acquire);
  if (f == 0) return -1;  // every pair still pending: skip
  int i = __builtin_ctzll(f);
  if (!g_free.compare_exchange_strong(f, f & ~(1ull << i), std::memory_order_acquire)) return -1;  // contended: skip
  Pair& e = g_pairs[i];
  if (g_event_sampling.load(std::memory_order_relaxed) != kSamplingOn || g_api.event_record(e.start, s) != CUDA_SUCCESS) {
    stop();
    return -1;
  }
  e.stream = s;
  e.kernel = k;
  e.host_ns = now_ns();
  return i;
}

void event_sample_end(int slot, bool launched) noexcept {
  Pair& e = g_pairs[slot];
  uint64_t bit = 1ull << slot;
  if (!launched) {  // nothing ran between the events: no sample
    g_free.fetch_or(bit, std::memory_order_release);
    return;
  }
  if (g_api.event_record(e.end, e.stream) != CUDA_SUCCESS) {
    stop();  // the pair is abandoned with the fallback
    return;
  }
  g_pending.fetch_or(bit, std::memory_order_release);
}

void event_pool_create() noexcept {
  int expect = kPoolNone;
  if (!g_pool.compare_exchange_strong(expect, kPoolCreating)) return;
  ++t_tls.depth;
  RelaxedCapture relaxed;
  CUcontext ctx = nullptr;
  bool ok = g_api.ctx_get(&ctx) == CUDA_SUCCESS;
  for (int i = 0; ok && i < kPairs; ++i)
    ok = g_api.event_create(&g_pairs[i].start, CU_EVENT_DEFAULT) == CUDA_SUCCESS &&
         g_api.event_create(&g_pairs[i].end, CU_EVENT_DEFAULT) == CUDA_SUCCESS;
  --t_tls.depth;
  if (!ok) {
    stop();  // (the pool stays "creating": nobody samples again)
    return;
  }
  g_ctx = ctx;
  g_free.store(~0ull, std::memory_order_relaxed);
  g_pool.store(kPoolReady, std::memory_order_release);
}

void event_harvest(bool own_thread) noexcept {
  if (g_event_sampling.load(std::memory_order_acquire) != kSamplingOn || g_pending.load(std::memory_order_relaxed) == 0) return;
  if (g_pool.load(std::memory_order_acquire) != kPoolReady) return;
  ++t_tls.depth;
  CUcontext cur = nullptr;
  bool ctx_ok = g_api.ctx_get(&cur) == CUDA_SUCCESS && cur == g_ctx;
  if (!ctx_ok && own_thread) ctx_ok = g_api.ctx_set(g_ctx) == CUDA_SUCCESS;
  if (ctx_ok) harvest_if_free();
  --t_tls.depth;
}

void event_sampling_on_fork_child() noexcept {
  // The parent's events are not the child's (its CUDA context does not survive fork): forget
  // them; the child enables the fallback again when its own CUPTI start fails.
  g_event_sampling.store(kSamplingOff);
  g_pool.store(kPoolNone);
  g_free.store(0);
  g_pending.store(0);
  g_harvesting.store(false);
  g_ctx = nullptr;
  g_every.store(rec::kEventSampleEvery);
}

}  // namespace argus::ip
