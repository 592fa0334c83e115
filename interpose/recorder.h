// SPDX-License-Identifier: Apache-2.0
// argus::Recorder — creates and updates one rank record (include/argus/record.h).
//
// This is the whole write side of the record with no hooks in it: libargus.so drives it from
// its interposed functions, unit tests drive it directly, and report/'s tests use it to write
// realistic synthetic record files.  Link the static library `argus_recorder`
// (include(${PROJECT_SOURCE_DIR}/interpose/recorder.cmake) defines it in any build, including
// the sanitizer builds where interpose/ itself is not built).
//
// Threading:
//   * launch(), launch_latency(), mem_call(), collective_enqueue(), kernel(), comm lookups:
//     any number of threads at once; lock-free (relaxed atomics, CAS to publish rows).
//   * launch(shard, ...): only the thread that claimed the shard (single writer, no atomic RMW).
//   * step_begin/end/mark/counter: any thread; serialised by an internal spin lock (steps are
//     rare; the lock is never held across a call out of the recorder).
//   * *_activity() and collective_done(): GPU-side attribution; ONE caller at a time (libargus
//     holds its CUPTI processing mutex).  They read step/window rows the step thread writes.
// Nothing allocates after construction; nothing throws.
#pragma once

#include <argus/record.h>

#include <atomic>
#include <cstdint>
#include <string_view>

namespace argus {

// What goes into the header.  Strings are copied (cut to the field size).
struct RecordIdentity {
  int32_t pid = 0;
  int32_t ppid = 0;
  uint32_t uid = 0;
  int32_t rank = -1;
  int32_t local_rank = -1;
  int32_t world_size = -1;
  uint32_t rank_source = 0;  // 0 unknown, 1 environment, 2 NCCL
  const char* host = "";
  const char* run_id = rec::kDefaultRunId;
  const char* exe = "";
  uint32_t steps_requested = rec::kStepsAuto;
  const char* steps_pattern = "";
  uint64_t window_ns = 1000000000ull;
  uint32_t window_steps = rec::kDefaultWindowSteps;
  uint64_t start_ns = 0;     // 0 = now
};

// ── record memory ───────────────────────────────────────────────────────────────────────────
// Creates a new zero-filled record of sizeof(rec::Record) bytes and maps it read-write.
//   dir == nullptr: POSIX shm, shm_open("/" + name, O_CREAT|O_EXCL|O_RDWR|O_NOFOLLOW, 0600);
//   else the file dir/name with open(same flags).
// On failure returns nullptr and sets *err to the errno (the object is unlinked again if it
// was created but could not be sized or mapped).  Uses only syscalls (safe before malloc).
// *fd_out (if given) receives an fd of the object for Recorder::attach (else it is closed).
//
// Full tmpfs: the object is sparse; touching an unbacked page of a full tmpfs would SIGBUS
// the application.  So the fixed sections (header … comms) are reserved here with
// posix_fallocate (failure → no record), and the Recorder reserves every further range
// (a kernel / collective row when it is claimed, a step or window slot, string bytes) before
// its first write; a range that cannot be reserved is not used (dropped and counted).
rec::Record* create_record(const char* dir, const char* name, int* err, int* fd_out = nullptr);
// Maps an existing record file read-only (readers, tests).  *size = file size.  nullptr on error.
const rec::Record* map_record_readonly(const char* path, size_t* size, int* err);
void unmap_record(const void* r);

// Monotonic-enough wall clock used for every *_ns field (CLOCK_REALTIME, vDSO, no syscall).
uint64_t now_ns() noexcept;

class Recorder {
 public:
  Recorder() = default;
  explicit Recorder(rec::Record* r, int fd = -1) { attach(r, fd); }
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Attaches to record memory (zero-filled new memory, or a record this process created).
  // fd >= 0: the record's file, used to reserve pages before first touch (see create_record);
  // fd < 0: memory is assumed fully backed (tests, anonymous memory).
  void attach(rec::Record* r, int fd = -1) noexcept;
  int fd() const noexcept { return fd_; }
  rec::Record* record() const noexcept { return r_; }
  explicit operator bool() const noexcept { return r_ != nullptr; }

  // Fills the header (state running, table descriptors) and stores magic last.
  void init(const RecordIdentity& id) noexcept;
  // Closes an open step (implicitly) and sets state + end time (kStateExited normally).
  void finish(uint32_t state = rec::kStateExited, uint64_t end_ns = 0) noexcept;

  // ── kernels ──
  // Finds or adds the row for `name`; ORs `flags` into it.  -1 if the table is full (drop
  // counted).  Not for the per-launch path: cache the index per function handle.
  int32_t kernel(std::string_view name, uint32_t flags = 0) noexcept;
  // One launch of kernel k (k may be -1: counted in the per-path totals only), for a thread
  // without a shard.  The flag path kPathDriverEntryPoint is counted the same way (per kernel
  // and per path; step totals leave it out).
  void launch(int32_t k, uint32_t path) noexcept {
    if (k >= 0) __atomic_fetch_add(&r_->kernels[k].launches[path], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r_->launch.launches[path], 1, __ATOMIC_RELAXED);
  }
  // The same into the calling thread's own shard (claim_shard): plain increments.
  static void launch(rec::LaunchShard* s, int32_t k, uint32_t path) noexcept {
    if (k >= 0) bump(s->kernels[k][path]);
    bump(s->paths[path]);
  }
  static void reentrant(rec::LaunchShard* s) noexcept { bump(s->reentrant_calls); }
  // A free shard for thread `tid` (its pages reserved), or nullptr: every shard is taken or
  // the pages could not be backed (the caller counts Integrity::unsharded_threads).
  rec::LaunchShard* claim_shard(uint64_t tid) noexcept;
  // The owner is done with it (thread exit); its counts stay, the next claimer adds to them.
  static void release_shard(rec::LaunchShard* s) noexcept {
    __atomic_store_n(&s->owner, uint64_t{0}, __ATOMIC_RELEASE);
  }
  // rec::path_launches for the writing process: reads only shards whose pages are backed
  // (on a full tmpfs, reading a hole of our own shared mapping is a SIGBUS too).
  uint64_t path_launches(uint32_t path) const noexcept;
  void graph_launch(uint32_t path) noexcept;
  // A sampled host launch-call latency.
  void launch_latency(int32_t k, uint32_t path, uint64_t ns) noexcept;
  // One GPU execution of kernel k [start, end] in record time (CUPTI or an event pair).
  void kernel_activity(int32_t k, uint64_t start_ns, uint64_t end_ns, bool in_graph,
                       bool sampled) noexcept;
  // memcpy / memset GPU time (steps' memcpy_ns; integrity counters).
  void copy_activity(uint64_t start_ns, uint64_t end_ns, bool is_memset) noexcept;

  // ── NCCL ──
  // Registers a communicator; returns its index or -1 (table full, drop counted).
  int32_t comm(uint64_t id_hash, int32_t rank, int32_t nranks, uint64_t handle, int32_t device,
               uint64_t now = 0) noexcept;
  int32_t comm_by_handle(uint64_t handle) const noexcept;
  void comm_destroyed(int32_t c, uint64_t now = 0) noexcept;
  void comm_group(int32_t c) noexcept;
  struct CollCall {
    int32_t comm = -1;
    uint32_t op = rec::kOpUnknown;
    uint32_t dtype = 255;
    uint64_t count = 0;
    uint64_t bytes = 0;
    int32_t peer = -1;
    bool in_group = false;
    uint64_t stream = 0;
    uint64_t now = 0;
  };
  // Host side of one collective / p2p call.  Returns its sequence number in the communicator
  // (0 if comm < 0); *row = the collective row (-1 if full).
  uint64_t collective_enqueue(const CollCall& call, int32_t* row) noexcept;
  // GPU side: the call (comm, row, seq) ran [start, end].
  void collective_done(int32_t comm, int32_t row, uint64_t seq, uint64_t start_ns,
                       uint64_t end_ns) noexcept;

  // ── memory ──
  // One allocator call.  live_delta: bytes added to (alloc) or removed from (free) the
  // gauge of that family (0 when unknown).  retry: this successful alloc followed a failed one.
  void mem_call(uint32_t api, uint64_t bytes, bool ok, uint64_t latency_ns, int64_t live_delta,
                bool retry) noexcept;
  void mem_untracked_free() noexcept;

  // ── steps ──
  void step_begin(int64_t index, uint32_t source, uint64_t now = 0) noexcept;
  void step_end(uint64_t now = 0) noexcept;
  void step_mark(int64_t index, uint32_t source, uint64_t now = 0) noexcept;
  void step_counter(std::string_view name, int64_t value) noexcept;
  bool step_open() const noexcept { return open_ordinal_.load(std::memory_order_relaxed) >= 0; }
  uint64_t steps_begun() const noexcept;

  // ── integrity ──
  rec::Integrity& integrity() noexcept { return r_->integrity; }
  void drop(uint32_t kind, uint64_t n = 1) noexcept {
    __atomic_fetch_add(&r_->integrity.drops[kind], n, __ATOMIC_RELAXED);
  }
  void add(uint64_t& counter, uint64_t n = 1) noexcept {
    __atomic_fetch_add(&counter, n, __ATOMIC_RELAXED);
  }
  void set_bits(uint64_t& mask, uint64_t bits) noexcept {
    __atomic_fetch_or(&mask, bits, __ATOMIC_RELAXED);
  }
  // Appends a NUL-terminated copy of s to the string table; returns its offset or -1 (full).
  int64_t add_string(std::string_view s) noexcept;

 private:
  // Single-writer increment of a word readers load atomically (record rule a).
  static void bump(uint64_t& w) noexcept {
    __atomic_store_n(&w, __atomic_load_n(&w, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
  }
  void lock_steps() noexcept;
  void unlock_steps() noexcept { step_lock_.clear(std::memory_order_release); }
  void close_step_locked(uint64_t now, bool implicit) noexcept;
  int64_t step_for_time(uint64_t t) noexcept;  // ordinal or -1; attribution side only
  rec::WindowRow* window_for(uint64_t ordinal, uint64_t t) noexcept;
  void window_add(uint64_t ordinal, uint64_t t_end, int32_t k, uint64_t dur, bool collective) noexcept;

  bool reserve(const void* p, size_t len) noexcept;  // backs [p, p+len) in the file
  // True if [p, p+len) is backed (reserved by us, or fd < 0).  Rows on unbacked pages are
  // empty by construction and must not even be READ: on a full tmpfs a read fault on a hole
  // of a shared mapping is a SIGBUS too.
  bool backed(const void* p, size_t len) const noexcept;
  static constexpr size_t kPages = (sizeof(rec::Record) + 4095) / 4096;
  uint64_t backed_pages_[(kPages + 63) / 64] = {};  // process-local; bit = page reserved

  rec::Record* r_ = nullptr;
  int fd_ = -1;
  std::atomic_flag step_lock_ = ATOMIC_FLAG_INIT;
  std::atomic<int64_t> open_ordinal_{-1};
  int64_t last_index_ = -1;  // under step lock
  // Process-local running totals; a step stores (total at end − total at begin).
  uint64_t kernel_launches_total() const noexcept;  // sum of LaunchStats over kernel paths
  std::atomic<uint64_t> graph_total_{0}, coll_total_{0}, mallocs_total_{0},
      frees_total_{0}, alloc_bytes_total_{0}, alloc_fail_total_{0};
  struct Base { uint64_t launches, graphs, colls, mallocs, frees, alloc_bytes, alloc_fail; };
  Base base_{};  // under step lock
  int64_t pending_counters_[rec::kStepCounters] = {};
  uint32_t pending_mask_ = 0;
  int64_t attr_cursor_ = -1;  // attribution side only
  // GPU active time: the union of recent kernel intervals (attribution side only).  Sorted,
  // disjoint spans; when full the oldest is forgotten (a record that old is counted whole).
  static constexpr int kActiveSpans = 64;
  struct Span { uint64_t start, end; };
  Span active_[kActiveSpans] = {};
  int n_active_ = 0;
  uint64_t active_add(uint64_t start, uint64_t end) noexcept;  // ns of [start, end) not yet covered
};

}  // namespace argus
