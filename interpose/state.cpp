// SPDX-License-Identifier: Apache-2.0
// Lazy start, identity from the environment, fork/exit handling, the flush thread.
#include "state.h"
#include "real.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fnmatch.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

namespace argus::ip {

std::atomic<int> g_state{kFresh};
Recorder g_rec;
thread_local constinit Tls t_tls ARGUS_TLS = {};
PtrMap<16> g_registered;
PtrMap<15> g_func_rows;
PtrMap<16> g_allocs;

namespace {
std::atomic<uint64_t> g_early_passthrough{0};
std::atomic<bool> g_after_first{false};
std::atomic<bool> g_exiting{false};
bool g_is_fork_child = false;
uint32_t g_steps_requested = rec::kStepsAuto;
char g_pattern[256] = "ProfilerStep#*|train_step*|training_step*|step_*|Step *|iteration*";
uint64_t g_window_ns = 0;        // window:SECONDS, or the auto fallback's window
uint64_t g_start_mono = 0;
pthread_t g_flush_thread;
bool g_flush_started = false;
int32_t g_unknown_row = -1;

}  // namespace

const char* env(const char* n) {
  const char* v = getenv(n);
  return (v && *v) ? v : nullptr;
}
int env_int(std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (const char* v = env(n)) {
      char* end = nullptr;
      long x = strtol(v, &end, 10);
      if (end && *end == 0 && x >= 0 && x < (1 << 30)) return int(x);
    }
  return -1;
}

namespace {

void parse_steps_from() {
  const char* s = env("ARGUS_STEPS_FROM");
  if (!s || strcmp(s, "auto") == 0) { g_steps_requested = rec::kStepsAuto; return; }
  if (strcmp(s, "marker") == 0) { g_steps_requested = rec::kStepsMarker; return; }
  if (strncmp(s, "nvtx", 4) == 0) {
    g_steps_requested = rec::kStepsNvtx;
    if (s[4] == ':' && s[5]) {
      size_t n = strnlen(s + 5, sizeof g_pattern - 1);
      memcpy(g_pattern, s + 5, n);
      g_pattern[n] = 0;
    }
    return;
  }
  if (strncmp(s, "window:", 7) == 0) {
    double sec = strtod(s + 7, nullptr);
    if (sec > 0.0) { g_steps_requested = rec::kStepsWindow; g_window_ns = uint64_t(sec * 1e9); return; }
  }
  g_steps_requested = rec::kStepsAuto;  // unparsable: fall back to auto (fail open)
}

void exe_name(char* buf, size_t cap) {
  buf[0] = 0;
  char path[512];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return;
  path[n] = 0;
  const char* b = strrchr(path, '/');
  b = b ? b + 1 : path;
  size_t n2 = strnlen(b, cap - 1);
  memcpy(buf, b, n2);
  buf[n2] = 0;
}

void* flush_main(void*);

void start_flush_thread() {
  if (g_flush_started) return;
  // Block every signal in our thread so that signals keep going to the application's threads.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  if (pthread_create(&g_flush_thread, &attr, flush_main, nullptr) == 0) g_flush_started = true;
  else g_rec.set_bits(g_rec.integrity().init_errors, rec::kErrFlushThread);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// paths_seen / paths_resolved are derived here (flush thread, exit), not on the hot path.
void refresh_integrity() {
  rec::Record* r = g_rec.record();
  if (!r) return;
  static const Sym kPathSym[rec::kLaunchPaths] = {
      S_cudaLaunchKernel, S_cudaLaunchKernel_ptsz, S_cudaLaunchKernelExC, S_cudaLaunchKernelExC_ptsz,
      S___cudaLaunchKernel, S___cudaLaunchKernel_ptsz, S_cuLaunchKernel, S_cuLaunchKernel_ptsz,
      S_cuLaunchKernelEx, S_cuLaunchKernelEx_ptsz, S_cudaGraphLaunch, S_cuGraphLaunch,
      S_cuLaunchCooperativeKernel, S_cuGetProcAddress_v2, kSymCount, kSymCount};
  uint64_t seen = 0, resolved = 0;
  for (uint32_t p = 0; p < rec::kLaunchPaths; ++p) {
    if (g_rec.path_launches(p)) seen |= 1ull << p;
    if (kPathSym[p] != kSymCount && g_real[kPathSym[p]].load(std::memory_order_relaxed)) resolved |= 1ull << p;
  }
  __atomic_fetch_or(&r->integrity.paths_seen, seen, __ATOMIC_RELAXED);
  __atomic_fetch_or(&r->integrity.paths_resolved, resolved, __ATOMIC_RELAXED);
}

// The final CUPTI flush runs in a thread of its own and is waited for at most 3 s: a CUPTI
// that never returns from FlushAll (seen with simgpu's libcupti) must not hang the
// application's exit.  A timeout is recorded in init_errors.
std::atomic<int> g_final_flush_done{0};
void* final_flush_main(void*) {
  t_tls.depth = 1;
  cupti_flush(true);
  g_final_flush_done.store(1, std::memory_order_release);
  return nullptr;
}
void final_flush_bounded() {
  if (!cupti_active()) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  bool started = pthread_create(&t, &attr, final_flush_main, nullptr) == 0;
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!started) { cupti_flush(true); return; }
  for (int i = 0; i < 3000 && !g_final_flush_done.load(std::memory_order_acquire); ++i) {
    timespec ts{0, 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  if (!g_final_flush_done.load(std::memory_order_acquire))
    g_rec.set_bits(g_rec.integrity().init_errors, rec::kErrCuptiFlushTimeout);
}

void on_exit_handler() {
  if (g_state.load(std::memory_order_acquire) != kOn || g_exiting.exchange(true)) return;
  ++t_tls.depth;
  final_flush_bounded();
  event_harvest(false);  // what finished by now; pairs still running are dropped (never wait)
  refresh_integrity();
  g_rec.finish(rec::kStateExited);
  --t_tls.depth;
}

void atfork_child() {
  // The parent's record is not ours: forget it (a child that uses CUDA creates its own).
  rec::Record* r = g_rec.record();
  int fd = g_rec.fd();
  g_rec.attach(nullptr);
  if (r) munmap(r, sizeof(rec::Record));
  if (fd >= 0) close(fd);
  g_func_rows.clear();  // row indices of the parent's record
  g_allocs.clear();
  g_unknown_row = -1;
  g_flush_started = false;
  g_after_first.store(false);
  g_exiting.store(false);
  g_is_fork_child = true;
  cupti_on_fork_child();
  event_sampling_on_fork_child();
  launch_shard_on_fork_child();
  t_tls.depth = 0;
  g_state.store(kFresh, std::memory_order_release);
}

void do_start() {
  if (const char* d = env("ARGUS_DISABLE"); d && strcmp(d, "0") != 0) {
    g_state.store(kOff, std::memory_order_release);
    return;
  }
  parse_steps_from();
  char host[64] = {0};
  if (const char* h = env("ARGUS_HOST")) snprintf(host, sizeof host, "%s", h);
  else if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "unknown");
  const char* run_id = env("ARGUS_RUN_ID");
  char name[256];
  if (!rec::segment_name(name, sizeof name, uint32_t(getuid()), run_id, host, int(getpid()))) {
    g_state.store(kOff, std::memory_order_release);
    return;
  }
  int err = 0, fd = -1;
  rec::Record* r = create_record(env("ARGUS_SHM_DIR"), name, &err, &fd);
  if (!r) {  // fail open: no record, every hook calls straight through
    if (env("ARGUS_DEBUG")) fprintf(stderr, "argus: no record (%s): %s\n", name, strerror(err));
    g_state.store(kOff, std::memory_order_release);
    return;
  }
  RecordIdentity id;
  id.pid = int32_t(getpid());
  id.ppid = int32_t(getppid());
  id.uid = uint32_t(getuid());
  id.rank = env_int({"RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"});
  id.local_rank = env_int({"LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"});
  id.world_size = env_int({"WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"});
  id.rank_source = id.rank >= 0 ? 1 : 0;
  id.host = host;
  char rid[64];
  snprintf(rid, sizeof rid, "%s", run_id ? run_id : rec::kDefaultRunId);
  for (char* p = rid; *p; ++p)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) *p = '_';
  id.run_id = rid;
  char exe[128];
  exe_name(exe, sizeof exe);
  id.exe = exe;
  id.steps_requested = g_steps_requested;
  id.steps_pattern = g_steps_requested == rec::kStepsWindow ? "" : g_pattern;
  id.window_ns = g_window_ns ? g_window_ns : 1000000000ull;
  g_rec.attach(r, fd);
  g_rec.init(id);
  rec::Integrity& in = g_rec.integrity();
  in.fork_child = g_is_fork_child ? 1 : 0;
  in.nvtx_state = uint32_t(g_nvtx_state.load());
  in.passthrough_calls = g_early_passthrough.exchange(0);
  g_start_mono = mono_ns();
  g_state.store(kOn, std::memory_order_release);
  start_flush_thread();
}
}  // namespace

uint64_t mono_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

bool start() noexcept {
  if (t_tls.depth > 0) return false;  // inside our own initialisation
  int s = g_state.load(std::memory_order_acquire);
  if (s == kFresh) {
    int expect = kFresh;
    if (g_state.compare_exchange_strong(expect, kStarting)) {
      ++t_tls.depth;
      do_start();
      --t_tls.depth;
      return g_state.load(std::memory_order_acquire) == kOn;
    }
    s = expect;
  }
  if (s == kOn) return true;
  // Another thread is initialising: call straight through (compiler-rt rule), counted.
  g_early_passthrough.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void after_first_cuda_call() noexcept {
  if (g_after_first.exchange(true)) return;
  // Registered after the CUDA runtime's own atexit handlers, so ours runs first and CUPTI
  // can still flush.
  atexit(on_exit_handler);
  cupti_start();
}

void overhead_sample(uint64_t ns) noexcept {
  rec::Integrity& in = g_rec.integrity();
  __atomic_fetch_add(&in.overhead_samples, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&in.overhead_sum_ns, ns, __ATOMIC_RELAXED);
}

__attribute__((noinline)) int32_t kernel_for_slow(const void* handle, int kind) noexcept {
  uint64_t v;
  if (g_func_rows.find(uint64_t(handle), &v)) return int32_t(v);  // raced with another thread
  const char* name = nullptr;
  uint32_t flags = 0;
  if (kind == 0) {
    if (g_registered.find(uint64_t(handle), &v)) { name = reinterpret_cast<const char*>(v); flags = rec::kKernelNameFromRegister; }
    else if (auto f = real<int (*)(const char**, const void*)>(S_cudaFuncGetName)) {
      if (f(&name, handle) != 0) name = nullptr;
      flags = rec::kKernelNameFromDriver;
    }
  } else if (kind == 1) {
    if (auto f = real<int (*)(const char**, const void*)>(S_cuFuncGetName)) {
      if (f(&name, handle) != 0) name = nullptr;
      flags = rec::kKernelNameFromDriver;
    }
  } else {
    if (auto f = real<int (*)(const char**, const void*)>(S_cuKernelGetName)) {
      if (f(&name, handle) != 0) name = nullptr;
      flags = rec::kKernelNameFromDriver;
    }
  }
  int32_t k;
  if (name && *name) {
    k = g_rec.kernel(name, flags);
  } else {
    g_rec.add(g_rec.integrity().unknown_functions);
    if (g_unknown_row < 0) g_unknown_row = g_rec.kernel("<unknown>", rec::kKernelNameUnknown);
    k = g_unknown_row;
  }
  // Cached even when -1 (table full): no slow path per launch for a kernel we cannot store.
  if (!g_func_rows.insert(uint64_t(handle), uint64_t(uint32_t(k)))) g_rec.drop(rec::kDropFuncMap);
  return k;
}

// ── steps ──────────────────────────────────────────────────────────────────────────────────
bool steps_source_allowed(uint32_t source) noexcept {
  rec::Record* r = g_rec.record();
  if (!r) return false;
  uint32_t used = __atomic_load_n(&r->header.steps_source, __ATOMIC_RELAXED);
  if (used != rec::kStepsNone) return used == source;
  if (g_steps_requested == rec::kStepsAuto) return source == rec::kStepsMarker || source == rec::kStepsNvtx || source == rec::kStepsWindow;
  return g_steps_requested == source;
}
void step_begin_from(int64_t index, uint32_t source) noexcept {
  if (steps_source_allowed(source)) g_rec.step_begin(index, source);
}
void step_end_from(uint32_t source) noexcept {
  if (steps_source_allowed(source)) g_rec.step_end();
  // A step end on an application thread is a good moment to collect finished event pairs
  // (not from inside one of our hooks).
  if (t_tls.depth == 0) event_harvest(false);
}
const char* steps_pattern() noexcept { return g_pattern; }

// Pattern: glob alternatives separated by '|'; the trailing number of msg is the index.
bool nvtx_match(const char* msg, int64_t* index) noexcept {
  if (!msg) return false;
  const char* p = g_pattern;
  char alt[256];
  bool hit = false;
  while (*p && !hit) {
    size_t n = strcspn(p, "|");
    if (n < sizeof alt) {
      memcpy(alt, p, n);
      alt[n] = 0;
      hit = n > 0 && fnmatch(alt, msg, 0) == 0;
    }
    p += n;
    if (*p == '|') ++p;
  }
  if (!hit) return false;
  *index = -1;
  size_t len = strlen(msg);
  size_t i = len;
  while (i > 0 && msg[i - 1] >= '0' && msg[i - 1] <= '9') --i;
  if (i < len && len - i < 18) *index = strtoll(msg + i, nullptr, 10);
  return true;
}

namespace {
uint64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void* flush_main(void*) {
  t_tls.depth = 1;  // nothing this thread does is the application's
  uint64_t last_cpu = thread_cpu_ns();
  uint64_t last_flush = mono_ns();
  uint64_t next_window = 0;
  const uint64_t kAutoFallbackNs = 30ull * 1000000000ull;
  while (!g_exiting.load(std::memory_order_relaxed) && g_state.load(std::memory_order_acquire) == kOn) {
    timespec ts{0, 100 * 1000 * 1000};
    nanosleep(&ts, nullptr);
    if (g_exiting.load(std::memory_order_relaxed) || g_state.load(std::memory_order_acquire) != kOn) break;
    rec::Record* r = g_rec.record();
    if (!r) break;
    uint64_t now = mono_ns();
    __atomic_store_n(&r->header.heartbeat_ns, now_ns(), __ATOMIC_RELAXED);
    if (now - last_flush >= 1000000000ull) {
      cupti_flush(false);
      last_flush = now;
    }
    event_harvest(true);  // a job that launches rarely still gets its samples in
    // time-window steps (requested, or the auto fallback when no marker/NVTX step came)
    uint32_t used = __atomic_load_n(&r->header.steps_source, __ATOMIC_RELAXED);
    bool windows = g_steps_requested == rec::kStepsWindow ||
                   (g_steps_requested == rec::kStepsAuto &&
                    (used == rec::kStepsWindow || (used == rec::kStepsNone && now - g_start_mono >= kAutoFallbackNs)));
    if (windows) {
      uint64_t w = g_window_ns ? g_window_ns : 1000000000ull;
      if (!g_window_ns) __atomic_store_n(&r->header.window_ns, w, __ATOMIC_RELAXED);
      if (next_window == 0 || now >= next_window) {
        g_rec.step_begin(-1, rec::kStepsWindow);
        next_window = (next_window == 0 ? now : next_window) + w;
        if (next_window < now) next_window = now + w;
      }
    }
    refresh_integrity();
    uint64_t cpu = thread_cpu_ns();
    __atomic_fetch_add(&r->integrity.own_cpu_ns, cpu - last_cpu, __ATOMIC_RELAXED);
    last_cpu = cpu;
  }
  return nullptr;
}

__attribute__((constructor)) void argus_ctor() {
  pthread_atfork(nullptr, nullptr, atfork_child);
}
__attribute__((destructor)) void argus_dtor() {
  // Backup for processes that never made a CUDA call (steps only): mark exited.
  on_exit_handler();
}
}  // namespace

}  // namespace argus::ip
