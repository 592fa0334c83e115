// SPDX-License-Identifier: Apache-2.0
// The write side of the rank record.  Rules (record.h §3): counters are relaxed atomic RMWs;
// keyed rows are published with a CAS on `state` and a release store; whole-row rewrites go
// through the row's seqlock word.
#include "recorder.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace argus {
using namespace rec;

namespace {
template <class T> T ld(const T& w) { return __atomic_load_n(&w, __ATOMIC_RELAXED); }
template <class T> T ld_acq(const T& w) { return __atomic_load_n(&w, __ATOMIC_ACQUIRE); }
// Release stores everywhere: free on x86, and inside a seqlock section they keep every data
// store after the store that made seq odd (no fences needed; TSan cannot model fences).
template <class T> void st(T& w, T v) { __atomic_store_n(&w, v, __ATOMIC_RELEASE); }
template <class T> void st_rel(T& w, T v) { __atomic_store_n(&w, v, __ATOMIC_RELEASE); }
template <class T> void xadd(T& w, T v) { __atomic_fetch_add(&w, v, __ATOMIC_RELAXED); }
void amax(uint64_t& w, uint64_t v) {
  uint64_t cur = ld(w);
  while (v > cur && !__atomic_compare_exchange_n(&w, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}
void amax(int64_t& w, int64_t v) {
  int64_t cur = ld(w);
  while (v > cur && !__atomic_compare_exchange_n(&w, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}
// Copies a C string into a fixed field, always NUL-terminated.
template <size_t N> void copy_field(char (&dst)[N], const char* src) {
  size_t i = 0;
  for (; src && src[i] && i + 1 < N; ++i) dst[i] = src[i];
  for (; i < N; ++i) dst[i] = 0;
}
// Seqlock writer side (rule c): CAS even→odd (spins while another writer holds it).
void seq_begin(uint64_t& seq) {
  for (;;) {
    uint64_t s = ld(seq);
    if (!(s & 1) && __atomic_compare_exchange_n(&seq, &s, s + 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) break;
    sched_yield();
  }
}
void seq_end(uint64_t& seq) { __atomic_fetch_add(&seq, 1, __ATOMIC_RELEASE); }
// Zeroes a row word by word with atomic stores (a concurrent reader never sees torn words).
template <class T> void zero_words(T& row, size_t from_byte = 0) {
  auto* w = reinterpret_cast<uint64_t*>(&row);
  for (size_t k = from_byte / 8; k < sizeof(T) / 8; ++k) __atomic_store_n(&w[k], uint64_t{0}, __ATOMIC_RELEASE);
}
// Waits (bounded) for a row being claimed by another thread to become ready.
bool wait_ready(const uint32_t& state) {
  for (int i = 0; i < 100000; ++i) {
    if (ld_acq(state) == kRowReady) return true;
    if (i > 64) sched_yield();
  }
  return false;
}
}  // namespace

uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// ── record memory ──────────────────────────────────────────────────────────────────────────
rec::Record* create_record(const char* dir, const char* name, int* err, int* fd_out) {
  if (fd_out) *fd_out = -1;
  // A file-size limit below the record size would make ftruncate raise SIGXFSZ (which kills
  // by default): check first, never trigger it.
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < sizeof(Record)) {
    if (err) *err = EFBIG;
    return nullptr;
  }
  int e = 0;
  char path[512];
  int fd;
  if (dir) {
    size_t dl = strlen(dir), nl = strlen(name);
    if (dl + nl + 2 > sizeof(path)) { if (err) *err = ENAMETOOLONG; return nullptr; }
    memcpy(path, dir, dl); path[dl] = '/'; memcpy(path + dl + 1, name, nl + 1);
    fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
  } else {
    size_t nl = strlen(name);
    if (nl + 2 > sizeof(path)) { if (err) *err = ENAMETOOLONG; return nullptr; }
    path[0] = '/'; memcpy(path + 1, name, nl + 1);
    fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
  }
  if (fd < 0) { if (err) *err = errno; return nullptr; }
  void* p = MAP_FAILED;
  // Sparse object; the fixed sections are backed now (a full tmpfs fails here, not with a
  // SIGBUS later); the tables are backed range by range by Recorder::reserve.
  if (ftruncate(fd, sizeof(Record)) != 0) e = errno;
  if (!e) {
    int r = posix_fallocate(fd, 0, offsetof(Record, collectives));
    if (r != 0 && r != EOPNOTSUPP && r != EINVAL) e = r;
  }
  if (!e) {
    p = mmap(nullptr, sizeof(Record), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) e = errno;
  }
  if (e) {
    close(fd);
    if (dir) unlink(path); else shm_unlink(path);
    if (err) *err = e;
    return nullptr;
  }
  if (fd_out) *fd_out = fd; else close(fd);
  if (err) *err = 0;
  return static_cast<Record*>(p);
}

const rec::Record* map_record_readonly(const char* path, size_t* size, int* err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) { if (err) *err = errno; return nullptr; }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || sb.st_size <= 0) { if (err) *err = errno ? errno : EINVAL; close(fd); return nullptr; }
  size_t n = size_t(sb.st_size) < sizeof(Record) ? size_t(sb.st_size) : sizeof(Record);
  void* p = mmap(nullptr, sizeof(Record), PROT_READ, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd);
  if (p == MAP_FAILED) { if (err) *err = e; return nullptr; }
  if (size) *size = size_t(sb.st_size);
  (void)n;
  if (err) *err = 0;
  return static_cast<const Record*>(p);
}

void unmap_record(const void* r) {
  if (r) munmap(const_cast<void*>(r), sizeof(Record));
}

// ── header ─────────────────────────────────────────────────────────────────────────────────
bool Recorder::reserve(const void* p, size_t len) noexcept {
  if (fd_ < 0) return true;
  // After the first ENOSPC stop asking (a full tmpfs rarely frees up; no syscall storms).
  if (__atomic_load_n(&r_->integrity.reserve_failures, __ATOMIC_RELAXED) > 0) {
    xadd(r_->integrity.reserve_failures, uint64_t{1});
    return false;
  }
  size_t off = size_t(static_cast<const char*>(p) - reinterpret_cast<const char*>(r_));
  size_t a = off & ~size_t(4095), b = (off + len + 4095) & ~size_t(4095);
  if (b > sizeof(Record)) b = sizeof(Record);
  if (backed(p, len)) return true;
  int e = posix_fallocate(fd_, off_t(a), off_t(b - a));
  if (e == 0 || e == EOPNOTSUPP || e == EINVAL) {
    for (size_t pg = a / 4096; pg < b / 4096; ++pg)
      __atomic_fetch_or(&backed_pages_[pg / 64], uint64_t{1} << (pg % 64), __ATOMIC_RELEASE);
    return true;
  }
  xadd(r_->integrity.reserve_failures, uint64_t{1});
  return false;
}

bool Recorder::backed(const void* p, size_t len) const noexcept {
  if (fd_ < 0) return true;
  size_t off = size_t(static_cast<const char*>(p) - reinterpret_cast<const char*>(r_));
  for (size_t pg = off / 4096; pg <= (off + len - 1) / 4096; ++pg)
    if (!(__atomic_load_n(&backed_pages_[pg / 64], __ATOMIC_ACQUIRE) & (uint64_t{1} << (pg % 64)))) return false;
  return true;
}

void Recorder::attach(rec::Record* r, int fd) noexcept {
  r_ = r;
  fd_ = fd;
  for (auto& w : backed_pages_) __atomic_store_n(&w, uint64_t{0}, __ATOMIC_RELAXED);
  // create_record reserved the fixed sections (header … comms).
  for (size_t pg = 0; pg < (offsetof(Record, collectives) + 4095) / 4096 && pg < kPages; ++pg)
    backed_pages_[pg / 64] |= uint64_t{1} << (pg % 64);
  step_lock_.clear(std::memory_order_release);  // (a fork child may inherit it held)
  pending_mask_ = 0;
  last_index_ = -1;
  n_active_ = 0;
  open_ordinal_.store(-1, std::memory_order_relaxed);
  attr_cursor_ = -1;
  if (r_ && ld(r_->step_summary.steps_begun) > 0) {
    // Re-attaching to a record of ours (tests): continue after the last step.
    uint64_t last = ld(r_->step_summary.steps_begun) - 1;
    const StepRow& s = r_->steps[last % kStepRing];
    if (ld(s.host_end_ns) == 0) open_ordinal_.store(int64_t(last), std::memory_order_relaxed);
    last_index_ = ld(s.index);
  }
}

void Recorder::init(const RecordIdentity& id) noexcept {
  Header& h = r_->header;
  h.layout_version = kLayoutVersion;
  h.header_size = sizeof(Header);
  h.total_size = sizeof(Record);
  h.sketch_size = sizeof(argus::Sketch);
  h.sketch_version = argus::kSketchLayoutVersion;
  h.pid = id.pid;
  h.ppid = id.ppid;
  h.uid = id.uid;
  h.rank = id.rank;
  h.local_rank = id.local_rank;
  h.world_size = id.world_size;
  h.rank_source = id.rank_source;
  h.cuda_device = -1;
  h.steps_requested = id.steps_requested;
  h.window_steps = id.window_steps ? id.window_steps : kDefaultWindowSteps;
  h.window_ns = id.window_ns ? id.window_ns : 1000000000ull;
  h.start_time_ns = id.start_ns ? id.start_ns : now_ns();
  h.heartbeat_ns = h.start_time_ns;
  copy_field(h.host, id.host);
  copy_field(h.run_id, (id.run_id && *id.run_id) ? id.run_id : kDefaultRunId);
  copy_field(h.exe, id.exe);
  copy_field(h.steps_pattern, id.steps_pattern);
  describe_tables(h);
  st(h.state, uint32_t(kStateRunning));
  st_rel(h.magic, kMagic);  // last: the record is now valid for readers
}

void Recorder::finish(uint32_t state, uint64_t end_ns) noexcept {
  if (!r_) return;
  if (!end_ns) end_ns = now_ns();
  lock_steps();
  if (open_ordinal_.load(std::memory_order_relaxed) >= 0) close_step_locked(end_ns, true);
  unlock_steps();
  st(r_->header.end_time_ns, end_ns);
  st_rel(r_->header.state, state);
}

// ── strings & kernels ──────────────────────────────────────────────────────────────────────
int64_t Recorder::add_string(std::string_view s) noexcept {
  uint64_t need = s.size() + 1;
  uint64_t off = __atomic_fetch_add(&r_->strings.used, need, __ATOMIC_RELAXED);
  if (off + need > kStringBytes) { drop(kDropStringTable); return -1; }
  char* dst = r_->strings.bytes + off;
  if (!reserve(dst, need)) { drop(kDropStringTable); return -1; }
  // Plain stores: nobody reads these bytes before the row pointing at them is published
  // with a release store (rule d).
  memcpy(dst, s.data(), s.size());
  dst[s.size()] = 0;
  return int64_t(off);
}

int32_t Recorder::kernel(std::string_view name, uint32_t flags) noexcept {
  if (!r_) return -1;
  bool truncated = name.size() >= kMaxNameBytes;
  std::string_view stored = truncated ? name.substr(0, kMaxNameBytes - 1) : name;
  uint64_t h = fnv1a(name.data(), name.size());
  if (truncated) flags |= kKernelNameTruncated;
  if (name.starts_with("ncclKernel_") || name.starts_with("ncclDevKernel_")) flags |= kKernelNccl;
  for (uint32_t i = 0; i < kMaxKernels; ++i) {
    uint32_t idx = uint32_t((h + i) % kMaxKernels);
    KernelRow& row = r_->kernels[idx];
    uint32_t s = backed(&row, sizeof row) ? ld_acq(row.state) : uint32_t(kRowEmpty);
    if (s == kRowEmpty) {
      uint32_t expect = kRowEmpty;
      if (reserve(&row, sizeof row) &&
          __atomic_compare_exchange_n(&row.state, &expect, uint32_t(kRowClaiming), false,
                                      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        row.name_hash = h;
        int64_t off = add_string(stored);
        row.name_off = off < 0 ? 0 : uint32_t(off);
        row.name_len = off < 0 ? 0 : uint32_t(stored.size());
        row.first_seen_ns = now_ns();
        st(row.flags, flags);
        st_rel(row.state, uint32_t(kRowReady));
        return int32_t(idx);
      }
      if (!backed(&row, sizeof row)) continue;  // no space for this row: never touch it
      s = ld_acq(row.state);  // lost the race: re-read with acquire
    }
    if (s == kRowClaiming && !wait_ready(row.state)) continue;  // writer stuck: keep probing
    if (row.name_hash != h) continue;
    // Same hash: confirm by name (unless the name was lost; then the 64-bit hash decides).
    if (row.name_len == 0 || std::string_view(r_->strings.bytes + row.name_off, row.name_len) == stored) {
      if (flags && (ld(row.flags) & flags) != flags) __atomic_fetch_or(&row.flags, flags, __ATOMIC_RELAXED);
      return int32_t(idx);
    }
  }
  drop(kDropKernelTable);
  return -1;
}

uint64_t Recorder::kernel_launches_total() const noexcept {
  // Step launch counts come from the per-path totals (no extra atomic on the hot path).
  uint64_t n = 0;
  for (uint32_t p = 0; p < kLaunchPaths; ++p)
    if (p != kPathDriverEntryPoint && p != kPathCudaGraphLaunch && p != kPathCuGraphLaunch)
      n += path_launches(p);
  return n;
}

rec::LaunchShard* Recorder::claim_shard(uint64_t tid) noexcept {
  if (!r_ || tid == 0) return nullptr;
  // Shards are taken in order, so the ones before a free candidate are already backed; the
  // candidate is backed before it is even read (a read fault on a hole of a full tmpfs is a
  // SIGBUS).  No page: the shared counters instead (counted in reserve_failures).
  for (rec::LaunchShard& s : r_->launch_shards) {
    if (!reserve(&s, sizeof s)) return nullptr;
    uint64_t expect = 0;
    if (__atomic_load_n(&s.owner, __ATOMIC_RELAXED) == 0 &&
        __atomic_compare_exchange_n(&s.owner, &expect, tid, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      return &s;
  }
  return nullptr;
}

uint64_t Recorder::path_launches(uint32_t path) const noexcept {
  uint64_t n = ld(r_->launch.launches[path]);
  for (const rec::LaunchShard& s : r_->launch_shards)
    if (backed(&s, offsetof(rec::LaunchShard, kernels))) n += ld(s.paths[path]);  // claimed whole
  return n;
}

void Recorder::graph_launch(uint32_t path) noexcept {
  __atomic_fetch_add(&r_->launch.launches[path], 1, __ATOMIC_RELAXED);
  xadd(r_->integrity.graph_launches, uint64_t{1});
  graph_total_.fetch_add(1, std::memory_order_relaxed);
}

void Recorder::launch_latency(int32_t k, uint32_t path, uint64_t ns) noexcept {
  r_->launch.latency[path].record(ns);
  if (k < 0) return;
  KernelRow& row = r_->kernels[k];
  uint32_t b = ns ? 64u - uint32_t(__builtin_clzll(ns)) : 0u;
  if (b > 63) b = 63;
  xadd(row.launch_latency.buckets[b], uint64_t{1});
  xadd(row.launch_latency.sum_ns, ns);
  amax(row.launch_latency.max_ns, ns);
  xadd(row.latency_samples, uint64_t{1});
}

// ── GPU-side attribution (one caller at a time) ────────────────────────────────────────────
uint64_t Recorder::steps_begun() const noexcept { return ld(r_->step_summary.steps_begun); }

int64_t Recorder::step_for_time(uint64_t t) noexcept {
  uint64_t begun = steps_begun();
  if (begun == 0) return -1;
  int64_t lo = begun > kStepRing ? int64_t(begun - kStepRing) : 0;
  auto start_of = [&](int64_t o) -> uint64_t {
    const StepRow& s = r_->steps[uint64_t(o) % kStepRing];
    if (ld(s.ordinal) != uint64_t(o) || ld(s.seq) == 0) return UINT64_MAX;  // not (yet) there
    return ld(s.host_start_ns);
  };
  int64_t c = attr_cursor_;
  if (c < lo || c >= int64_t(begun)) c = int64_t(begun) - 1;
  // Records arrive roughly in time order: walk from the last answer.
  while (c + 1 < int64_t(begun) && start_of(c + 1) <= t) ++c;
  while (c >= lo && start_of(c) > t) --c;
  if (c < lo) return -1;
  attr_cursor_ = c;
  return c;
}

rec::WindowRow* Recorder::window_for(uint64_t ordinal, uint64_t t) noexcept {
  uint32_t ws = r_->header.window_steps ? r_->header.window_steps : kDefaultWindowSteps;
  uint64_t w = ordinal / ws;
  WindowRow& row = r_->windows[w % kMaxWindows];
  uint64_t seq = backed(&row, sizeof row) ? ld(row.seq) : 0;
  if (seq != 0 && ld(row.window) == w) return &row;
  if (seq != 0 && ld(row.window) > w) return nullptr;  // a late record for an overwritten window
  if (seq != 0) drop(kDropWindowsOverwritten);
  else if (!reserve(&row, sizeof row)) return nullptr;
  seq_begin(row.seq);
  zero_words(row, offsetof(WindowRow, window));
  st(row.window, w);
  st(row.first_ordinal, w * ws);
  const StepRow& first = r_->steps[(w * ws) % kStepRing];
  st(row.start_ns, ld(first.ordinal) == w * ws ? ld(first.host_start_ns) : t);
  seq_end(row.seq);
  return &row;
}

void Recorder::window_add(uint64_t ordinal, uint64_t t_end, int32_t k, uint64_t dur,
                          bool collective) noexcept {
  WindowRow* w = window_for(ordinal, t_end);
  if (!w) return;
  amax(w->end_ns, t_end);
  if (collective) {
    xadd(w->collective_count, uint64_t{1});
    xadd(w->collective_ns, dur);
  }
  if (k < 0) { xadd(w->other_count, uint64_t{1}); xadd(w->other_sum_ns, dur); return; }
  uint32_t key = uint32_t(k) + 1;
  uint32_t start = (key * 2654435761u) % kWindowEntries;
  for (uint32_t i = 0; i < kWindowEntries; ++i) {
    WindowEntry& e = w->entries[(start + i) % kWindowEntries];
    uint32_t cur = ld_acq(e.kernel);
    if (cur == 0) {  // single writer: claim by publishing the key
      st_rel(e.kernel, key);
      xadd(w->n_entries, uint32_t{1});
      cur = key;
    }
    if (cur == key) {
      xadd(e.count, uint64_t{1});
      xadd(e.sum_ns, dur);
      amax(e.max_ns, dur);
      return;
    }
  }
  drop(kDropWindowEntries);
  xadd(w->other_count, uint64_t{1});
  xadd(w->other_sum_ns, dur);
}

void Recorder::kernel_activity(int32_t k, uint64_t start_ns, uint64_t end_ns, bool in_graph,
                               bool sampled) noexcept {
  uint64_t dur = end_ns > start_ns ? end_ns - start_ns : 0;
  bool nccl = false;
  if (k >= 0) {
    KernelRow& row = r_->kernels[k];
    row.gpu_duration.record(dur);
    xadd(row.gpu_count, uint64_t{1});
    xadd(row.gpu_sum_ns, dur);
    amax(row.gpu_max_ns, dur);
    if (in_graph) xadd(row.graph_count, uint64_t{1});
    if (sampled) xadd(row.sampled_count, uint64_t{1});
    nccl = ld(row.flags) & kKernelNccl;
  }
  int64_t o = step_for_time(start_ns);
  if (o < 0) {
    xadd(r_->step_summary.unattributed_gpu_kernels, uint64_t{1});
    xadd(r_->step_summary.unattributed_gpu_ns, dur);
    return;
  }
  StepRow& s = r_->steps[uint64_t(o) % kStepRing];
  xadd(s.gpu_kernels, uint64_t{1});
  xadd(s.gpu_busy_ns, dur);
  if (uint64_t fresh = active_add(start_ns, end_ns)) xadd(s.gpu_active_ns, fresh);
  if (nccl) xadd(s.collective_ns, dur);
  window_add(uint64_t(o), end_ns, k, dur, nccl);
}

uint64_t Recorder::active_add(uint64_t start, uint64_t end) noexcept {
  if (end <= start) return 0;
  // Records arrive roughly in time order: find from the back the first span that could touch
  // [start, end), i.e. spans [i, j) with span.end >= start and span.start <= end.
  int j = n_active_;
  while (j > 0 && active_[j - 1].start > end) --j;
  int i = j;
  while (i > 0 && active_[i - 1].end >= start) --i;
  uint64_t covered = 0, lo = start, hi = end;
  for (int k = i; k < j; ++k) {
    covered += std::min(end, active_[k].end) - std::max(start, active_[k].start);
    lo = std::min(lo, active_[k].start);
    hi = std::max(hi, active_[k].end);
  }
  uint64_t fresh = (end - start) - covered;
  if (i == j && n_active_ == kActiveSpans) {  // a new span and no room: forget the oldest
    if (i == 0) return fresh;                   // older than everything kept: counted, not kept
    std::memmove(&active_[0], &active_[1], sizeof(Span) * size_t(n_active_ - 1));
    --n_active_; --i; --j;
  }
  // Replace spans [i, j) by the merged one.
  int removed = j - i;
  if (removed != 1) {
    std::memmove(&active_[i + 1], &active_[j], sizeof(Span) * size_t(n_active_ - j));
    n_active_ += 1 - removed;
  }
  active_[i] = Span{lo, hi};
  return fresh;
}

void Recorder::copy_activity(uint64_t start_ns, uint64_t end_ns, bool is_memset) noexcept {
  uint64_t dur = end_ns > start_ns ? end_ns - start_ns : 0;
  xadd(is_memset ? r_->integrity.memset_records : r_->integrity.memcpy_records, uint64_t{1});
  int64_t o = step_for_time(start_ns);
  if (o >= 0) xadd(r_->steps[uint64_t(o) % kStepRing].memcpy_ns, dur);
}

// ── NCCL ───────────────────────────────────────────────────────────────────────────────────
int32_t Recorder::comm(uint64_t id_hash, int32_t rank, int32_t nranks, uint64_t handle,
                       int32_t device, uint64_t now) noexcept {
  if (!r_) return -1;
  for (uint32_t i = 0; i < kMaxComms; ++i) {
    CommRow& c = r_->comms[i];
    uint32_t expect = kRowEmpty;
    if (ld_acq(c.state) == kRowEmpty &&
        __atomic_compare_exchange_n(&c.state, &expect, uint32_t(kRowClaiming), false,
                                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      c.rank = rank;
      c.nranks = nranks;
      c.cuda_device = device;
      c.id_hash = id_hash;
      c.handle = handle;
      c.created_ns = now ? now : now_ns();
      st_rel(c.state, uint32_t(kRowReady));
      return int32_t(i);
    }
  }
  drop(kDropCommTable);
  return -1;
}

int32_t Recorder::comm_by_handle(uint64_t handle) const noexcept {
  if (!r_) return -1;
  // Newest first: a handle value can be reused after ncclCommDestroy.
  for (int32_t i = int32_t(kMaxComms) - 1; i >= 0; --i) {
    const CommRow& c = r_->comms[i];
    if (ld_acq(c.state) == kRowReady && c.handle == handle && ld(c.destroyed_ns) == 0) return i;
  }
  return -1;
}

void Recorder::comm_destroyed(int32_t c, uint64_t now) noexcept {
  if (c >= 0) st(r_->comms[c].destroyed_ns, now ? now : now_ns());
}

void Recorder::comm_group(int32_t c) noexcept {
  if (c >= 0) xadd(r_->comms[c].group_calls, uint64_t{1});
}

uint64_t Recorder::collective_enqueue(const CollCall& call, int32_t* row_out) noexcept {
  if (row_out) *row_out = -1;
  coll_total_.fetch_add(1, std::memory_order_relaxed);
  if (call.comm < 0) return 0;
  uint64_t now = call.now ? call.now : now_ns();
  CommRow& c = r_->comms[call.comm];
  uint64_t seq = __atomic_add_fetch(&c.seq_enqueued, 1, __ATOMIC_RELAXED);
  st(c.last_enqueue_ns, now);
  xadd(c.bytes_total, call.bytes);
  // last op (seqlocked; concurrent enqueues on one comm are serialised by the seqlock CAS;
  // keep the highest seq)
  seq_begin(c.last_seq);
  if (ld(c.last_op.seq) < seq) {
    st(c.last_op.seq, seq);
    st(c.last_op.op, call.op);
    st(c.last_op.dtype, call.dtype);
    st(c.last_op.count, call.count);
    st(c.last_op.bytes, call.bytes);
    st(c.last_op.peer, call.peer);
    st(c.last_op.in_group, int32_t(call.in_group));
    st(c.last_op.stream, call.stream);
    st(c.last_op.enqueue_ns, now);
  }
  seq_end(c.last_seq);
  // row (comm, op, dtype, size class)
  uint32_t sc = size_class(call.bytes);
  uint64_t key[4] = {uint64_t(call.comm), call.op, call.dtype, sc};
  uint64_t h = fnv1a(key, sizeof key);
  for (uint32_t i = 0; i < kMaxCollectives; ++i) {
    uint32_t idx = uint32_t((h + i) % kMaxCollectives);
    CollectiveRow& r = r_->collectives[idx];
    uint32_t s = backed(&r, sizeof r) ? ld_acq(r.state) : uint32_t(kRowEmpty);
    if (s == kRowEmpty) {
      uint32_t expect = kRowEmpty;
      if (reserve(&r, sizeof r) &&
          __atomic_compare_exchange_n(&r.state, &expect, uint32_t(kRowClaiming), false,
                                      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        r.comm = uint32_t(call.comm);
        r.comm_hash = c.id_hash;
        r.op = call.op;
        r.dtype = call.dtype;
        r.size_class = sc;
        st_rel(r.state, uint32_t(kRowReady));
        s = kRowReady;
      } else {
        if (!backed(&r, sizeof r)) continue;
        s = ld_acq(r.state);
      }
    }
    if (s == kRowClaiming && !wait_ready(r.state)) continue;
    if (r.comm == uint32_t(call.comm) && r.op == call.op && r.dtype == call.dtype && r.size_class == sc) {
      xadd(r.count, uint64_t{1});
      xadd(r.bytes, call.bytes);
      if (row_out) *row_out = int32_t(idx);
      return seq;
    }
  }
  drop(kDropCollectiveTable);
  return seq;
}

void Recorder::collective_done(int32_t comm, int32_t row, uint64_t seq, uint64_t start_ns,
                               uint64_t end_ns) noexcept {
  uint64_t dur = end_ns > start_ns ? end_ns - start_ns : 0;
  if (row >= 0) {
    CollectiveRow& r = r_->collectives[row];
    r.duration.record(dur);
    xadd(r.timed_count, uint64_t{1});
    xadd(r.sum_ns, dur);
    amax(r.max_ns, dur);
  }
  if (comm >= 0) {
    CommRow& c = r_->comms[comm];
    amax(c.seq_started, seq);
    uint64_t before = ld(c.seq_completed);
    amax(c.seq_completed, seq);
    if (seq > before) st(c.last_complete_ns, end_ns);
  }
}

// ── memory ─────────────────────────────────────────────────────────────────────────────────
void Recorder::mem_call(uint32_t api, uint64_t bytes, bool ok, uint64_t latency_ns,
                        int64_t live_delta, bool retry) noexcept {
  if (!r_ || api >= kMemApis) return;
  MemApiRow& a = r_->memory.api[api];
  xadd(a.calls, uint64_t{1});
  a.latency.record(latency_ns);
  bool alloc = mem_api_is_alloc(api);
  if (!ok) {
    xadd(a.failures, uint64_t{1});
    if (alloc) alloc_fail_total_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  xadd(a.bytes, bytes);
  if (retry) xadd(a.retry_after_failure, uint64_t{1});
  if (alloc) {
    mallocs_total_.fetch_add(1, std::memory_order_relaxed);
    alloc_bytes_total_.fetch_add(bytes, std::memory_order_relaxed);
  } else {
    frees_total_.fetch_add(1, std::memory_order_relaxed);
  }
  if (live_delta == 0) return;
  Memory& m = r_->memory;
  int64_t* live = &m.live_bytes;
  int64_t* peak = &m.peak_bytes;
  if (api == kMemCuMemMap || api == kMemCuMemUnmap) { live = &m.mapped_live_bytes; peak = &m.mapped_peak_bytes; }
  if (api == kMemCuMemCreate || api == kMemCuMemRelease) { live = &m.physical_live_bytes; peak = &m.physical_peak_bytes; }
  int64_t now_live = __atomic_add_fetch(live, live_delta, __ATOMIC_RELAXED);
  if (live_delta > 0) amax(*peak, now_live);
}

void Recorder::mem_untracked_free() noexcept { xadd(r_->memory.untracked_frees, uint64_t{1}); }

// ── steps ──────────────────────────────────────────────────────────────────────────────────
void Recorder::lock_steps() noexcept {
  while (step_lock_.test_and_set(std::memory_order_acquire)) sched_yield();
}

void Recorder::close_step_locked(uint64_t now, bool implicit) noexcept {
  int64_t o = open_ordinal_.load(std::memory_order_relaxed);
  if (o < 0) return;
  StepRow& s = r_->steps[uint64_t(o) % kStepRing];
  uint64_t start = ld(s.host_start_ns);
  seq_begin(s.seq);
  st(s.host_end_ns, now > start ? now : start + 1);  // end is never 0 once closed
  if (implicit) st(s.flags, ld(s.flags) | 1u);
  st(s.launches, kernel_launches_total() - base_.launches);
  st(s.graph_launches, graph_total_.load(std::memory_order_relaxed) - base_.graphs);
  st(s.collectives, coll_total_.load(std::memory_order_relaxed) - base_.colls);
  st(s.mallocs, mallocs_total_.load(std::memory_order_relaxed) - base_.mallocs);
  st(s.frees, frees_total_.load(std::memory_order_relaxed) - base_.frees);
  st(s.alloc_bytes, alloc_bytes_total_.load(std::memory_order_relaxed) - base_.alloc_bytes);
  st(s.alloc_failures, alloc_fail_total_.load(std::memory_order_relaxed) - base_.alloc_fail);
  seq_end(s.seq);
  xadd(r_->step_summary.steps_closed, uint64_t{1});
  r_->step_summary.step_host_ns.record(ld(s.host_end_ns) - start);
  open_ordinal_.store(-1, std::memory_order_relaxed);
}

void Recorder::step_begin(int64_t index, uint32_t source, uint64_t now) noexcept {
  if (!r_) return;
  if (!now) now = now_ns();
  lock_steps();
  close_step_locked(now, true);
  if (index < 0) index = last_index_ + 1;
  last_index_ = index;
  uint64_t o = ld(r_->step_summary.steps_begun);
  StepRow& s = r_->steps[o % kStepRing];
  StepSummary& sum = r_->step_summary;
  if (!reserve(&s, sizeof s)) { unlock_steps(); return; }
  if (ld(s.seq) != 0) {  // evict the step that lived here (ordinal o - kStepRing)
    xadd(sum.evicted, uint64_t{1});
    uint64_t e = ld(s.host_end_ns), b = ld(s.host_start_ns);
    xadd(sum.evicted_host_ns, e > b ? e - b : 0);
    xadd(sum.evicted_gpu_busy_ns, ld(s.gpu_busy_ns));
    xadd(sum.evicted_collective_ns, ld(s.collective_ns));
    xadd(sum.evicted_launches, ld(s.launches));
    xadd(sum.evicted_gpu_kernels, ld(s.gpu_kernels));
    xadd(sum.evicted_mallocs, ld(s.mallocs));
    xadd(sum.evicted_frees, ld(s.frees));
    drop(kDropStepsOverwritten);
  }
  seq_begin(s.seq);
  zero_words(s, offsetof(StepRow, ordinal));
  st(s.ordinal, o);
  st(s.index, index);
  st(s.host_start_ns, now);
  st(s.source, source);
  for (uint32_t i = 0; i < kStepCounters; ++i)
    if (pending_mask_ & (1u << i)) st(s.counters[i], pending_counters_[i]);
  pending_mask_ = 0;
  seq_end(s.seq);
  base_ = Base{kernel_launches_total(), graph_total_.load(std::memory_order_relaxed),
               coll_total_.load(std::memory_order_relaxed), mallocs_total_.load(std::memory_order_relaxed),
               frees_total_.load(std::memory_order_relaxed), alloc_bytes_total_.load(std::memory_order_relaxed),
               alloc_fail_total_.load(std::memory_order_relaxed)};
  open_ordinal_.store(int64_t(o), std::memory_order_relaxed);
  st_rel(sum.steps_begun, o + 1);  // after the slot is written: attribution sees a full slot
  if (ld(r_->header.steps_source) == kStepsNone) st(r_->header.steps_source, source);
  unlock_steps();
}

void Recorder::step_end(uint64_t now) noexcept {
  if (!r_) return;
  if (!now) now = now_ns();
  lock_steps();
  close_step_locked(now, false);
  unlock_steps();
}

void Recorder::step_mark(int64_t index, uint32_t source, uint64_t now) noexcept {
  step_begin(index, source, now);  // begin closes the open step
}

void Recorder::step_counter(std::string_view name, int64_t value) noexcept {
  if (!r_) return;
  lock_steps();
  StepSummary& sum = r_->step_summary;
  int slot = -1;
  for (uint32_t i = 0; i < kStepCounters; ++i) {
    uint32_t off1 = ld_acq(sum.counter_names[i]);
    if (off1 == 0) {
      int64_t off = add_string(name);
      if (off >= 0) { st_rel(sum.counter_names[i], uint32_t(off) + 1); slot = int(i); }
      break;
    }
    if (std::string_view(r_->strings.bytes + off1 - 1) == name) { slot = int(i); break; }
  }
  if (slot < 0) { xadd(r_->integrity.step_counter_drops, uint64_t{1}); unlock_steps(); return; }
  int64_t o = open_ordinal_.load(std::memory_order_relaxed);
  if (o >= 0) {
    st(r_->steps[uint64_t(o) % kStepRing].counters[slot], value);
  } else {
    pending_counters_[slot] = value;
    pending_mask_ |= 1u << slot;
  }
  unlock_steps();
}

}  // namespace argus
