// SPDX-License-Identifier: Apache-2.0
// Process-wide state of libargus.so: the record, the lazy start, the reentrancy guard.
//
// Lifecycle (g_state):  kFresh → (first CUDA/NCCL call or step mark) kStarting → kOn, or
// kOff when disabled / no record could be created (fail open: every hook then just calls
// through).  fork(): the child resets to kFresh and forgets the parent's record (it creates
// its own on its first CUDA call; a child that never uses CUDA creates none).
#pragma once

#include "ptr_map.h"
#include "recorder.h"

#include <atomic>
#include <cstdint>
#include <initializer_list>

#define ARGUS_EXPORT extern "C" __attribute__((visibility("default")))
#define ARGUS_TLS __attribute__((tls_model("initial-exec")))

namespace argus::ip {

enum State : int { kFresh = 0, kStarting = 1, kOn = 2, kOff = 3 };
extern std::atomic<int> g_state;
extern Recorder g_rec;

// Per-thread: depth > 0 while inside one of our hooks (calls made by us, or by the real
// function back into a hooked symbol, go straight through).
struct Tls {
  int depth;
  uint32_t launch_tick;    // launch sampling counter
  uint64_t last_alloc_fail_ns;  // for retry-after-failure detection
  uint32_t event_tick;     // latency samples since the last event-sample decision (fallback)
  uint32_t event_rng;      // xorshift state of the fallback's phase jitter (0 = unseeded)
  uint32_t shard_tries;    // claims of a launch shard tried (0 = never: first launch)
  rec::LaunchShard* shard; // this thread's launch counters (nullptr: none, shared atomics)
};
// constinit: tells every including TU that t_tls has no dynamic initialiser, so accesses are a
// plain %fs-relative load (initial-exec) instead of a check of the weak "TLS init function"
// symbol (and a PLT call if it existed) on each of the hot path's four accesses.
extern thread_local constinit Tls t_tls ARGUS_TLS;

// True if this call should be recorded; starts recording on first use (may create the
// record).  False when disabled, failed, or reentrant.
bool start() noexcept;
inline bool active() noexcept {
  int s = g_state.load(std::memory_order_acquire);
  if (s == kOn) [[likely]] return true;
  if (s == kOff) return false;
  return start();
}
// RAII reentrancy guard.  ok == false → pass straight through.
struct Guard {
  bool ok;
  Guard() noexcept : ok(t_tls.depth == 0) { ++t_tls.depth; }
  ~Guard() { --t_tls.depth; }
};
// Counts one launch of kernel k on `path` into the thread's shard: two plain increments.  The
// first launch of a thread claims its shard (count_launch_slow); a thread that got none
// counts into the shared atomics and tries again now and then.
void count_launch_slow(int32_t k, uint32_t path) noexcept;
inline void count_launch(int32_t k, uint32_t path) noexcept {
  if (rec::LaunchShard* s = t_tls.shard) [[likely]] Recorder::launch(s, k, path);
  else count_launch_slow(k, path);
}
// atfork child: forget the parent's shard (launch_shard.cpp).
void launch_shard_on_fork_child() noexcept;
// A call passed straight through by the reentrancy guard (integrity).
inline void count_reentrant() noexcept {
  if (rec::LaunchShard* s = t_tls.shard) [[likely]] Recorder::reentrant(s);
  else g_rec.add(g_rec.integrity().reentrant_calls);
}
// Called after the first real CUDA call returned (atexit ordering, CUPTI start).
void after_first_cuda_call() noexcept;

// Process-local caches (static storage, lock-free).
extern PtrMap<16> g_registered;  // host stub → const char* device name (__cudaRegisterFunction)
extern PtrMap<15> g_func_rows;   // function handle (stub, cudaKernel_t, CUfunction) → kernel row
extern PtrMap<16> g_allocs;      // device address → size

// Kernel row for a function handle; slow path on a miss (name lookup, interning).
// kind: 0 runtime host stub / cudaKernel_t, 1 driver CUfunction, 2 driver CUkernel
// The cache hit is inlined into the hook (no call, no callee-saved register spills of the slow
// path); a miss goes to kernel_for_slow.
int32_t kernel_for_slow(const void* handle, int kind) noexcept;
inline int32_t kernel_for(const void* handle, int kind) noexcept {
  uint64_t v;
  if (g_func_rows.find(uint64_t(handle), &v)) [[likely]] return int32_t(v);
  return kernel_for_slow(handle, kind);
}

// Steps (also used by NVTX and the time-window thread).
void step_begin_from(int64_t index, uint32_t source) noexcept;
void step_end_from(uint32_t source) noexcept;
// Which source may deliver steps now (ARGUS_STEPS_FROM and "first source wins").
bool steps_source_allowed(uint32_t source) noexcept;
const char* steps_pattern() noexcept;
bool nvtx_match(const char* msg, int64_t* index) noexcept;

// CUPTI (cupti.cpp)
void cupti_start() noexcept;      // idempotent; fails open
void cupti_flush(bool forced) noexcept;
void cupti_on_fork_child() noexcept;
bool cupti_active() noexcept;
// NCCL kernel completions are matched to enqueued calls (nccl hooks ↔ CUPTI processing).
void nccl_pending_push(int32_t comm, int32_t row, uint64_t seq, uint32_t op, uint64_t group) noexcept;
void nccl_kernel_done(const char* name, uint64_t start_ns, uint64_t end_ns) noexcept;

// Environment: the value of variable n, or null when unset or empty; env_int: the first of
// `names` set to a decimal integer in [0, 2^30), or -1.
const char* env(const char* n);
int env_int(std::initializer_list<const char*> names);

// Event-pair fallback (event_sampling.cpp): sampled kernel durations from CUDA event pairs
// while CUPTI is unavailable.  In a latency-sampled launch: `ev = event_sample_begin(k, stream)`
// before the real call (>= 0: a pair slot, its start event recorded on `stream`, a CUstream
// with the per-thread default stream already made explicit), `event_sample_end(ev, launched)`
// after it, and `event_pool_create()` after the timed part when begin returned kEventNoPool.
extern std::atomic<int> g_event_sampling;  // 1 while the fallback samples
inline bool event_sampling_on() noexcept { return g_event_sampling.load(std::memory_order_relaxed) == 1; }
inline constexpr int kEventNoPool = -2;
int event_sample_begin(int32_t k, void* stream) noexcept;
void event_sample_end(int slot, bool launched) noexcept;
void event_pool_create() noexcept;
void event_sampling_enable() noexcept;  // CUPTI is unavailable for good (cupti.cpp)
// Non-blocking harvest of finished pairs.  own_thread: a thread of ours, which may make the
// pool's context current; an application thread harvests only if that context is current.
void event_harvest(bool own_thread) noexcept;
void event_sampling_on_fork_child() noexcept;

// Overhead sampling: time of a hook body excluding the real call.
void overhead_sample(uint64_t ns) noexcept;

uint64_t mono_ns() noexcept;

}  // namespace argus::ip

namespace argus::ip {
extern std::atomic<int> g_nvtx_state;  // 0 not injected, 1 active, 2 failed (nvtx.cpp)
}
