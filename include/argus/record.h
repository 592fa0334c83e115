// SPDX-License-Identifier: Apache-2.0
// argus/record.h — THE RANK RECORD: the on-disk / shared-memory layout one observed process
// writes (libargus.so, interpose/) and every reader (argus-run's collector, `argus status`,
// `argus report`) reads.  This header is the contract; change it only by bumping
// kLayoutVersion.
//
// ───────────────────────────────────────────────────────────────────────────────────────────
// 1. Where a record lives
//   * One record per observed process, created lazily on the first CUDA / NCCL call or step
//     mark (a launcher or dataloader that never touches the GPU creates none).
//   * POSIX shm name  "/argus-<uid>-<run_id>-<host>-<pid>"  → /dev/shm/argus-<uid>-<run_id>-<host>-<pid>
//     created with shm_open(O_CREAT|O_EXCL|O_RDWR|O_NOFOLLOW, 0600), ftruncate(sizeof(Record)).
//     <run_id> = $ARGUS_RUN_ID ([A-Za-z0-9._-], other bytes replaced by '_'), default
//     kDefaultRunId ("adhoc") when unset; <host> = $ARGUS_HOST or gethostname(), same
//     sanitising, cut to 63 bytes.  See segment_name() below.
//   * $ARGUS_SHM_DIR=<dir> (tests, hosts with a full or missing /dev/shm): the same file name
//     (without the leading '/') is created with open(O_CREAT|O_EXCL|O_RDWR|O_NOFOLLOW, 0600)
//     in <dir> instead.  A collector must honour ARGUS_SHM_DIR as well as /dev/shm.
//   * Segments survive the process; the collector copies validated records to
//     RUN_DIR/ranks/ and unlinks them.
//   * READING A LIVE SEGMENT: use read()/pread() (holes read as zeros), not mmap.  The
//     writer backs pages lazily; on a full tmpfs a read *fault* on a hole of a shared mapping
//     is a SIGBUS in the reader.  (Records copied to RUN_DIR/ranks/ can be mmap'ed freely.)
//   * Size: sizeof(Record) ≈ 59 MiB (each argus::Sketch is 19 KB), but only touched pages
//     exist: a typical rank uses a few MiB.  Copy sparsely (SEEK_DATA/SEEK_HOLE, or
//     `cp --sparse=always`) or compress; never read it into memory just to copy it.
//
// 2. Zero is empty
//   ftruncate'd (all-zero) memory is a valid, empty record: every counter 0, every row state
//   kRowEmpty, every sketch empty (argus::Sketch guarantees zero bytes = empty).  The writer
//   fills the header fields and stores `magic` LAST (release).  magic == 0 means "being
//   created": a reader skips it (or waits).  The same holds for a record copied to a file.
//
// 3. Concurrency rule (readers in other processes read while the owner writes; no locks are
//    shared across processes, a reader never writes)
//   a. Every field a writer changes after creation is a naturally aligned 32- or 64-bit word
//      updated with a single atomic operation (std::atomic_ref, relaxed unless stated).
//      Counters only grow (except Memory::live_* and gauges, documented as such).  A reader
//      loads each word atomically (load_word() below); a word is never torn.  Counters that
//      belong together (a row's count and sum, a sketch's buckets) may be a few events apart
//      in a live snapshot; in a record of an exited process they are exact.
//   b. Keyed rows (kernels, collectives, communicators, string table entries) are published
//      once: writer CASes `state` kRowEmpty→kRowClaiming, fills the key (name, hash, ids),
//      then stores kRowReady with release.  A reader load-acquires `state` and ignores rows
//      that are not kRowReady.  Keys never change after publication; only counters (rule a)
//      do.  Rows are never freed (fixed capacity; when full the event is dropped and counted
//      in Integrity::drops[]).
//   c. Rows that are overwritten as a whole (step ring slots, window slots, a communicator's
//      last_op) carry a seqlock word `seq`: a writer makes seq odd (CAS even→odd, acq; this
//      also serialises writers of that row), writes the fields with release stores, then
//      stores seq+1 (release).
//      A reader: s1 = load-acquire seq; if odd retry; copy the row word by word with
//      acquire loads; s2 = load-acquire seq; use the copy only if s1 == s2 (read_seqlocked() below does
//      this, giving up after a bounded number of tries).  Counters inside such rows that are
//      attributed later (a step's gpu_busy_ns arrives with CUPTI after the step has closed)
//      follow rule a and do not bump seq.
//   d. The string table is append-only: writers reserve bytes with fetch_add on `used`, write
//      the bytes, and only then publish the row that points at them (rule b), so every
//      string a reader reaches through a ready row is complete and NUL-terminated.
//
// 4. Clocks
//   Every *_ns timestamp is CLOCK_REALTIME in nanoseconds (comparable across processes and,
//   with NTP, across hosts).  GPU timestamps from CUPTI are converted to that clock with
//   Header::gpu_clock_offset_ns (cupti timestamp − realtime, measured when CUPTI starts)
//   before they are stored.  Durations are plain ns.
//
// 5. What is deliberately not here
//   Demangling, statistics, merging ranks, JSON: all in report/.  The interposer only counts.
// ───────────────────────────────────────────────────────────────────────────────────────────
#pragma once

#include <argus/sketch.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace argus::rec {

// ── identity and sizes ──────────────────────────────────────────────────────────────────────
inline constexpr uint64_t kMagic = 0x4345525355475241ull;  // bytes "ARGUSREC" (little endian)
inline constexpr uint32_t kLayoutVersion = 2;  // 2: per-thread launch shards
inline constexpr const char* kDefaultRunId = "adhoc";     // when ARGUS_RUN_ID is unset
inline constexpr const char* kShmPrefix = "argus-";        // segment file names start so

inline constexpr uint32_t kMaxKernels = 2048;      // distinct kernel names per process
inline constexpr uint32_t kStringBytes = 2u << 20;  // string table (kernel/counter names)
inline constexpr uint32_t kMaxNameBytes = 4096;    // longer names are cut (KernelFlag::kNameTruncated)
inline constexpr uint32_t kMaxComms = 64;          // NCCL communicators
inline constexpr uint32_t kMaxCollectives = 512;   // (comm, op, dtype, size class) rows
inline constexpr uint32_t kStepRing = 8192;        // most recent steps kept in full
inline constexpr uint32_t kStepCounters = 8;       // named per-step counters (argus_step_counter)
inline constexpr uint32_t kMaxWindows = 512;       // window ring slots
inline constexpr uint32_t kWindowEntries = 128;    // distinct kernels per window (rest → other_*)
inline constexpr uint32_t kDefaultWindowSteps = 16;  // steps per window (Header::window_steps)
inline constexpr uint32_t kLaunchShards = 16;      // launching threads with counters of their own

// ── enums (stored as uint32_t) ──────────────────────────────────────────────────────────────
enum RunState : uint32_t {
  kStateNone = 0,      // header not written yet
  kStateRunning = 1,   // process alive (or killed: the collector decides from the pid)
  kStateExited = 2,    // set by the library's atexit/destructor; end_time_ns valid
  kStateKilled = 3,    // set only by a collector that found `running` with the pid gone
};

// Where step boundaries came from (Header::steps_source = what was used;
// Header::steps_requested = what ARGUS_STEPS_FROM asked for).
enum StepsSource : uint32_t {
  kStepsNone = 0,     // no step seen (yet)
  kStepsAuto = 1,     // (requested only) marker, else NVTX, else time windows
  kStepsMarker = 2,   // argus_step_begin/end (C API, Python module, optimizer hook)
  kStepsNvtx = 3,     // NVTX ranges matching Header::steps_pattern
  kStepsWindow = 4,   // fixed time windows of Header::window_ns
};

// Launch paths; KernelRow::launches[] and Integrity::paths_* are indexed by these.
enum LaunchPath : uint32_t {
  kPathCudaLaunchKernel = 0,
  kPathCudaLaunchKernelPtsz = 1,
  kPathCudaLaunchKernelExC = 2,
  kPathCudaLaunchKernelExCPtsz = 3,
  kPathCudaLaunchKernelInternal = 4,      // __cudaLaunchKernel (nvcc 13 <<<>>>)
  kPathCudaLaunchKernelInternalPtsz = 5,  // __cudaLaunchKernel_ptsz
  kPathCuLaunchKernel = 6,
  kPathCuLaunchKernelPtsz = 7,
  kPathCuLaunchKernelEx = 8,
  kPathCuLaunchKernelExPtsz = 9,
  kPathCudaGraphLaunch = 10,              // counted per graph launch (Integrity::graph_launches)
  kPathCuGraphLaunch = 11,
  kPathCuLaunchCooperativeKernel = 12,
  kPathDriverEntryPoint = 13,  // flag path: a cu* launch reached through a pointer handed out
                               // by cuGetProcAddress / cudaGetDriverEntryPoint / dlsym; the
                               // launch is ALSO counted under its cu* path, so total launches
                               // = sum over paths except this one (and except graph paths,
                               // which count graph launches, not kernels).
  kLaunchPaths = 16,
};

enum CollOp : uint32_t {
  kOpAllReduce = 0, kOpBroadcast, kOpReduce, kOpAllGather, kOpReduceScatter, kOpAllToAll,
  kOpGather, kOpScatter, kOpSend, kOpRecv, kOpBcast, kOpUnknown, kCollOps
};

// ncclDataType_t values are stored as is (ncclInt8=0 … ncclFloat8e5m2=11); 255 = unknown.

enum MemApi : uint32_t {
  kMemCudaMalloc = 0, kMemCudaFree, kMemCudaMallocAsync, kMemCudaFreeAsync,
  kMemCudaMallocFromPoolAsync, kMemCuMemAlloc, kMemCuMemFree, kMemCuMemCreate,
  kMemCuMemRelease, kMemCuMemMap, kMemCuMemUnmap, kMemCudaMallocManaged, kMemCudaMallocHost,
  kMemCudaFreeHost, kMemApis = 16
};

enum CuptiState : uint32_t {
  kCuptiNotTried = 0,  // no CUDA call seen / disabled
  kCuptiOk = 1,        // activity API enabled; durations from CUPTI
  kCuptiMissing = 2,   // libcupti.so.13 could not be loaded or lacks a symbol
  kCuptiBusy = 3,      // another profiler owns CUPTI (subscribe/enable refused)
  kCuptiError = 4,     // another error (Integrity::cupti_error holds the CUptiResult)
  kCuptiDisabled = 5,  // ARGUS_CUPTI=0
};

enum DurationSource : uint32_t {
  kDurNone = 0, kDurCupti = 1, kDurEventSampling = 2,
};

// Integrity::drops[] index: what was lost because a fixed table was full.
enum DropKind : uint32_t {
  kDropKernelTable = 0,   // launches/records of a kernel that found no free row
  kDropStringTable = 1,   // names not stored (row then has name_len 0)
  kDropCollectiveTable = 2,
  kDropCommTable = 3,
  kDropAllocMap = 4,      // allocations whose size we could not remember (live bytes inexact)
  kDropWindowEntries = 5, // kernels folded into WindowRow::other_* (counted, not lost)
  kDropStepsOverwritten = 6,  // step ring slots reused (the summary keeps their totals)
  kDropWindowsOverwritten = 7,
  kDropCuptiRecords = 8,  // CUPTI's own dropped-record count
  kDropCuptiUnmatched = 9,  // collective kernel records we could not match to a call
  kDropFuncMap = 10,      // function handles we could not cache (looked up again next time)
  kDropKinds = 16
};

enum RowState : uint32_t { kRowEmpty = 0, kRowClaiming = 1, kRowReady = 2 };

enum KernelFlag : uint32_t {
  kKernelNameFromRegister = 1u << 0,  // __cudaRegisterFunction
  kKernelNameFromDriver = 1u << 1,    // cuFuncGetName / cudaFuncGetName
  kKernelNameFromCupti = 1u << 2,     // first seen in a CUPTI record
  kKernelNameTruncated = 1u << 3,
  kKernelNccl = 1u << 4,              // name starts with ncclKernel_ / ncclDevKernel_
  kKernelNameUnknown = 1u << 5,       // launched with a handle whose name we could not get
  kKernelMemcpy = 1u << 6,            // pseudo-kernel rows "[memcpy HtoD]" etc. from CUPTI
  kKernelMemset = 1u << 7,
};

// ── table descriptors ───────────────────────────────────────────────────────────────────────
struct TableDesc {
  uint64_t offset;     // from the start of the record
  uint32_t capacity;   // rows (bytes for the string table)
  uint32_t row_size;   // sizeof one row
};
enum TableId : uint32_t {
  kTabIntegrity = 0, kTabStrings, kTabKernels, kTabComms, kTabCollectives, kTabMemory,
  kTabSteps, kTabWindows, kTabLaunch, kTabLaunchShards, kTables = 16
};

// ── header (offset 0, 4096 bytes) ───────────────────────────────────────────────────────────
struct Header {
  uint64_t magic;            // kMagic, stored last (release); 0 = being created
  uint32_t layout_version;   // kLayoutVersion
  uint32_t header_size;      // sizeof(Header)
  uint64_t total_size;       // sizeof(Record): the file must be at least this long
  uint32_t sketch_size;      // sizeof(argus::Sketch) the writer was built with
  uint32_t sketch_version;   // argus::kSketchLayoutVersion the writer was built with
  int32_t pid;
  int32_t ppid;
  uint32_t uid;
  int32_t rank;              // global rank: env RANK / OMPI_COMM_WORLD_RANK / PMI_RANK /
                             // SLURM_PROCID, else -1 (see rank_source)
  int32_t local_rank;        // LOCAL_RANK / OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID, else -1
  int32_t world_size;        // WORLD_SIZE / OMPI_COMM_WORLD_SIZE / ..., else -1
  uint32_t rank_source;      // 0 unknown, 1 environment, 2 first NCCL communicator
  int32_t cuda_device;       // device of the first CUDA context seen (-1 unknown)  [atomic]
  uint32_t state;            // RunState                                              [atomic]
  uint32_t steps_source;     // StepsSource actually used                             [atomic]
  uint32_t steps_requested;  // StepsSource requested by ARGUS_STEPS_FROM
  uint32_t window_steps;     // steps per window (WindowRow), kDefaultWindowSteps
  uint64_t window_ns;        // window length when steps_source == kStepsWindow
  uint64_t start_time_ns;    // record creation (CLOCK_REALTIME)
  uint64_t end_time_ns;      // set with state = exited                               [atomic]
  uint64_t heartbeat_ns;     // refreshed ~1/s by our flush thread (liveness)         [atomic]
  int64_t gpu_clock_offset_ns;  // CUPTI ts − realtime; already applied to stored times
  char host[64];             // NUL-terminated (sanitised name as in the segment name)
  char run_id[64];           // NUL-terminated
  char exe[128];             // /proc/self/exe basename, NUL-terminated
  char steps_pattern[256];   // NVTX step-range pattern in use (see argus.h)
  TableDesc tables[kTables]; // indexed by TableId; == offsetof/capacity/sizeof below
  uint8_t reserved[4096 - 632 - 16 * sizeof(TableDesc)];
};

// ── integrity: what could and could not be observed, and what it cost ──────────────────────
struct Integrity {
  uint32_t cupti_state;        // CuptiState                                          [atomic]
  int32_t cupti_error;         // CUptiResult of the failing call, 0 if none
  uint32_t duration_source;    // DurationSource                                      [atomic]
  uint32_t nvtx_state;         // 0 not injected, 1 NVTX injection active, 2 failed
  uint64_t paths_resolved;     // bit per LaunchPath: the real symbol was found and hooked
  uint64_t paths_seen;         // bit per LaunchPath: called at least once            [atomic]
  uint64_t nccl_resolved;      // bit per CollOp hooked (+bit 16 group, bit 17 comm init)
  uint64_t mem_resolved;       // bit per MemApi hooked
  int32_t cuda_runtime_version;  // cudaRuntimeGetVersion, 0 unknown
  int32_t cuda_driver_version;   // cuDriverGetVersion, 0 unknown
  int32_t nccl_version;          // ncclGetVersion, 0 unknown
  uint32_t cupti_version;        // cuptiGetVersion, 0 unknown
  uint32_t unknown_cuda_version; // 1 = runtime/driver newer than the headers we know: we
                                 // still count launches, flags say results may be partial
  uint32_t fork_child;           // 1 = this process is a forked child of an observed one
  uint64_t cupti_buffers;        // activity buffers processed                          [atomic]
  uint64_t cupti_records;        // activity records processed (all kinds)              [atomic]
  uint64_t kernel_records;       // CONCURRENT_KERNEL records
  uint64_t memcpy_records;
  uint64_t memset_records;
  uint64_t event_samples;        // durations measured with sampled event pairs (fallback)
  uint64_t event_skipped_capturing;  // samples skipped: stream was capturing a graph
  uint64_t graph_launches;       // cudaGraphLaunch + cuGraphLaunch calls
  uint64_t hooked_calls;         // all intercepted calls (launch, nccl, alloc, step)
  uint64_t reentrant_calls;      // calls passed straight through by the reentrancy guard
                                 // (threads without a shard; see reentrant_calls())
  uint64_t passthrough_calls;    // calls passed through because we were initialising/disabled
  uint64_t overhead_samples;     // hook bodies timed (1 in kOverheadSampleEvery)
  uint64_t overhead_sum_ns;      // their total own time (hook body minus the real call)
  uint64_t own_cpu_ns;           // CPU time of threads of ours (CUPTI buffer processing,
                                 // flush thread), CLOCK_THREAD_CPUTIME_ID deltas
  uint64_t cupti_processing_ns;  // wall time spent processing activity buffers
  uint64_t drops[kDropKinds];    // DropKind
  uint64_t init_errors;          // bitmask of InitError
  uint64_t step_counter_drops;   // argus_step_counter calls with a 9th distinct name
  uint64_t unknown_functions;    // launches of a handle whose kernel name we could not get
  uint64_t reserve_failures;     // table rows not used because their pages could not be
                                 // reserved (full tmpfs): counted in drops[] as well
  uint64_t unsharded_threads;    // launching threads that found no free LaunchShard (their
                                 // launches went to the shared atomic counters instead)
  uint64_t reserved[28];
};
inline constexpr uint32_t kOverheadSampleEvery = 64;  // the same calls as latency samples
enum InitError : uint64_t {
  kErrNoShm = 1u << 0,         // never visible in a record, but kept for completeness
  kErrDlsym = 1u << 1,         // a hooked symbol's real definition was not found
  kErrSelfResolve = 1u << 2,   // dlsym returned our own wrapper (rejected)
  kErrNvtxInit = 1u << 3,
  kErrCuptiLoad = 1u << 4,
  kErrFlushThread = 1u << 5,
  kErrCuptiFlushTimeout = 1u << 6,  // the exit-time CUPTI flush did not return within 3 s:
                                    // the last activity records may be missing
  kErrEventSampling = 1u << 7,  // a CUDA event call of the event-pair fallback failed: sampling
                                // stopped there (samples taken before it are kept)
};

// ── string table (append-only, rule d) ──────────────────────────────────────────────────────
struct StringTable {
  uint64_t used;               // bytes reserved so far                              [atomic]
  uint64_t reserved[7];
  char bytes[kStringBytes];    // NUL-terminated strings at offsets named by rows
};

// A compact latency histogram where a full Sketch (19 KB) per row would be too big:
// bucket b counts values v with bit_width(v) == b (b = 0 for v = 0; [2^(b-1), 2^b) ns).
struct Log2Hist {
  uint64_t buckets[64];        //                                                    [atomic]
  uint64_t sum_ns;
  uint64_t max_ns;
  uint64_t reserved[6];
};

// ── kernels: one row per distinct kernel name ───────────────────────────────────────────────
struct alignas(64) KernelRow {
  uint32_t state;              // RowState (rule b)
  uint32_t flags;              // KernelFlag                                         [atomic]
  uint64_t name_hash;          // FNV-1a 64 of the full (untruncated) name
  uint32_t name_off;           // into StringTable::bytes
  uint32_t name_len;           // bytes, without the NUL (0 = name lost, see drops)
  uint64_t launches[kLaunchPaths];  // host launch calls per LaunchPath: the threads without a
                               // shard; add LaunchShard::kernels (kernel_launches())  [atomic]
  uint64_t gpu_count;          // GPU executions with a duration (CUPTI or sampled)  [atomic]
  uint64_t gpu_sum_ns;
  uint64_t gpu_max_ns;         // (CAS max)
  uint64_t graph_count;        // executions that were part of a CUDA graph (CUPTI graphId)
  uint64_t sampled_count;      // of gpu_count, how many from event sampling
  uint64_t latency_samples;    // host launch-call latency samples (= launch_latency count)
  uint64_t first_seen_ns;      // set once when the row is published
  uint64_t reserved[5];
  Log2Hist launch_latency;     // host ns inside the launch call, sampled 1 in kLatencySampleEvery
  argus::Sketch gpu_duration;  // GPU duration ns, every CUPTI record (or event sample)
};
inline constexpr uint32_t kLatencySampleEvery = 64;  // power of two
// CUPTI unavailable: every kEventSampleEvery-th latency-sampled launch of a thread is timed
// with a pair of CUDA events (≈ 1 launch in 250; ARGUS_EVENT_SAMPLING=N overrides, 0 = off).
inline constexpr uint32_t kEventSampleEvery = 4;

// ── launch-call latency per path (full sketches; per kernel only Log2Hist) ────────────────
struct LaunchStats {
  uint64_t launches[kLaunchPaths];       // all kernels, threads without a shard; add the
                                         // shards' paths[] (path_launches())          [atomic]
  argus::Sketch latency[kLaunchPaths];   // host ns inside the real launch call, sampled
};

// ── per-thread launch counters ──────────────────────────────────────────────────────────────
// The launch hot path counts into a shard owned by the launching thread (claimed on its first
// launch, released when it exits, then reused by another thread): one writer per shard, so a
// count is a relaxed load and store of the word, not a lock-prefixed add (~12 ns less per
// launch on our 2-vCPU VM).  Rule a still holds: each word is stored whole, never torn.  A
// thread that finds every shard taken counts into the shared atomic rows (KernelRow::launches,
// LaunchStats::launches; Integrity::unsharded_threads says how many did).  Readers add both:
// kernel_launches(), path_launches(), reentrant_calls() below.
struct alignas(64) LaunchShard {
  uint64_t owner;              // tid of the thread writing it, 0 = free (CAS to claim)  [atomic]
  uint64_t reentrant_calls;    // the owner's share of Integrity::reentrant_calls
  uint64_t reserved[6];
  uint64_t paths[kLaunchPaths];                   // as LaunchStats::launches
  uint64_t kernels[kMaxKernels][kLaunchPaths];    // as KernelRow::launches, by kernel row
};

// ── NCCL communicators: identity, sequence numbers, last op (hang analysis reads live) ─────
struct LastOp {                // seqlocked (rule c) via CommRow::last_seq
  uint64_t seq;                // sequence number of this op in its communicator (1-based)
  uint32_t op;                 // CollOp
  uint32_t dtype;              // ncclDataType_t
  uint64_t count;              // elements
  uint64_t bytes;
  int32_t peer;                // root (rooted ops) or peer (send/recv), -1 otherwise
  int32_t in_group;            // 1 if issued between ncclGroupStart/End
  uint64_t stream;             // cudaStream_t value (process-local identity)
  uint64_t enqueue_ns;         // host time of the call
};
struct alignas(64) CommRow {
  uint32_t state;              // RowState
  int32_t rank;                // rank in this communicator
  int32_t nranks;
  int32_t cuda_device;         // -1 unknown
  uint64_t id_hash;            // FNV-1a 64 of the ncclUniqueId bytes (same on every rank);
                               // split comms: hash(parent id_hash, color, ordinal)
  uint64_t handle;             // ncclComm_t value (process-local, for debugging)
  uint64_t created_ns;
  uint64_t destroyed_ns;       // 0 while alive                                      [atomic]
  uint64_t seq_enqueued;       // ops issued by the host                             [atomic]
  uint64_t seq_started;        // highest seq whose kernel was seen starting (CUPTI)  [atomic]
  uint64_t seq_completed;      // highest seq whose kernel was seen finished (CUPTI) [atomic]
  uint64_t last_enqueue_ns;    //                                                    [atomic]
  uint64_t last_complete_ns;   // GPU end time of seq_completed                      [atomic]
  uint64_t bytes_total;        //                                                    [atomic]
  uint64_t group_calls;        // ncclGroupStart calls while this comm was active    [atomic]
  uint64_t last_seq;           // seqlock word of last_op
  LastOp last_op;
  uint64_t reserved[4];
};

// ── collectives per (comm, op, dtype, size class) ───────────────────────────────────────────
// size_class = 0 for 0 bytes, else floor(log2(bytes)) + 1  (class k: [2^(k-1), 2^k) bytes).
struct alignas(64) CollectiveRow {
  uint32_t state;              // RowState
  uint32_t comm;               // index into comms[]
  uint64_t comm_hash;          // == comms[comm].id_hash (so a row is self-describing)
  uint32_t op;                 // CollOp
  uint32_t dtype;              // ncclDataType_t
  uint32_t size_class;
  uint32_t reserved0;
  uint64_t count;              // calls                                              [atomic]
  uint64_t bytes;              // payload bytes (count × dtype size)                 [atomic]
  uint64_t timed_count;        // calls with a GPU duration                          [atomic]
  uint64_t sum_ns;
  uint64_t max_ns;
  uint64_t reserved[3];
  argus::Sketch duration;      // GPU duration of the NCCL kernel (CUPTI)
};

// ── memory ──────────────────────────────────────────────────────────────────────────────────
struct alignas(64) MemApiRow {
  uint64_t calls;              //                                                    [atomic]
  uint64_t failures;           // returned an error (out of memory etc.)
  uint64_t bytes;              // bytes requested (alloc) / released (free)
  uint64_t retry_after_failure;  // a successful alloc on the same thread within
                                 // kRetryWindowNs after a failed one (caching allocators
                                 // free their cache and retry)
  uint64_t reserved[4];
  argus::Sketch latency;       // host call latency ns (every call; allocation is not hot)
};
inline constexpr uint64_t kRetryWindowNs = 1000000000ull;
struct Memory {
  int64_t live_bytes;          // gauge: allocated − freed (device malloc family)     [atomic]
  int64_t peak_bytes;          // CAS max of live_bytes                              [atomic]
  int64_t mapped_live_bytes;   // gauge: cuMemMap − cuMemUnmap (expandable segments)  [atomic]
  int64_t mapped_peak_bytes;
  int64_t physical_live_bytes; // gauge: cuMemCreate − cuMemRelease
  int64_t physical_peak_bytes;
  uint64_t untracked_frees;    // frees of pointers we never saw allocated (size unknown)
  uint64_t reserved[9];
  MemApiRow api[kMemApis];     // MemApi
};

// ── steps ───────────────────────────────────────────────────────────────────────────────────
// Ring: step k lives in slot k % kStepRing (k = Header-level ordinal, 0-based, not the
// user's index).  When a slot is reused its totals have already been added to StepSummary.
struct alignas(64) StepRow {
  uint64_t seq;                // seqlock (rule c); 0 = slot never written
  uint64_t ordinal;            // 0-based step ordinal in this process
  int64_t index;               // user-visible step number (marker arg, ProfilerStep#N, ...)
  uint64_t host_start_ns;
  uint64_t host_end_ns;        // 0 while the step is open
  uint32_t source;             // StepsSource
  uint32_t flags;              // 1 = closed implicitly (next begin without end / exit)
  // Counters attributed to the step (rule a, may grow after close):
  uint64_t launches;           // host kernel launches between begin and end          [atomic]
  uint64_t graph_launches;
  uint64_t gpu_kernels;        // GPU kernels whose start fell in the step            [atomic]
  uint64_t gpu_busy_ns;        // sum of kernel durations (overlapping kernels each count) [atomic]
  uint64_t collective_ns;      // sum of NCCL kernel durations                        [atomic]
  uint64_t collectives;        // NCCL calls enqueued in the step
  uint64_t memcpy_ns;          // memcpy + memset GPU time
  uint64_t mallocs;            // allocation calls (all MemApi allocs)
  uint64_t frees;              // free calls
  uint64_t alloc_bytes;
  uint64_t alloc_failures;
  int64_t counters[kStepCounters];  // argus_step_counter(name, value): last value set in the
                                    // step; names in StepSummary::counter_names
  uint64_t gpu_active_ns;      // time any kernel ran: the union of the kernel intervals  [atomic]
                               // (each kernel in the step its start fell in; overlap across
                               // streams, e.g. NCCL beside compute, counted once)
  uint64_t reserved[2];
};
struct StepSummary {
  uint64_t steps_begun;        // ordinals handed out                                 [atomic]
  uint64_t steps_closed;
  uint64_t evicted;            // steps no longer in the ring (totals below)
  uint64_t evicted_host_ns;    // sum of (end − start) of evicted steps
  uint64_t evicted_gpu_busy_ns;
  uint64_t evicted_collective_ns;
  uint64_t evicted_launches;
  uint64_t evicted_gpu_kernels;
  uint64_t evicted_mallocs;
  uint64_t evicted_frees;
  uint64_t unattributed_gpu_kernels;  // GPU kernels that started before the first step
  uint64_t unattributed_gpu_ns;
  uint32_t counter_names[kStepCounters];  // StringTable offsets (+1; 0 = unused)   [atomic]
  uint64_t reserved[8];
  argus::Sketch step_host_ns;  // host duration of every closed step (all, not just the ring)
};

// ── per-window sparse per-kernel statistics ─────────────────────────────────────────────────
// Window w covers steps [w*window_steps, (w+1)*window_steps) (or time windows of window_ns
// from start_time_ns when steps_source == kStepsWindow), slot w % kMaxWindows.  For each
// kernel that ran in the window: {count, sum, max} of GPU durations — enough for the report
// to find *when* a kernel's mean moved; full distributions live in KernelRow::gpu_duration.
// (The compress/ window codec is for the report's archived output, not this live table.)
// Entries are appended by the CUPTI processing thread (single writer under our own mutex);
// the slot's seqlock is taken only when the slot is (re)initialised for a new window.
struct WindowEntry {
  uint32_t kernel;             // index into kernels[] + 1 (0 = unused entry)
  uint32_t reserved;
  uint64_t count;              //                                                    [atomic]
  uint64_t sum_ns;
  uint64_t max_ns;
};
struct alignas(64) WindowRow {
  uint64_t seq;                // seqlock (rule c); 0 = never used
  uint64_t window;             // window number w
  uint64_t first_ordinal;      // first step ordinal (or 0 for time windows)
  uint64_t start_ns;           // host start of the window's first step / time window
  uint64_t end_ns;             // last attributed activity end time                  [atomic]
  uint32_t n_entries;          // used entries                                       [atomic]
  uint32_t reserved0;
  uint64_t other_count;        // kernels that found no free entry                   [atomic]
  uint64_t other_sum_ns;
  uint64_t collective_count;
  uint64_t collective_ns;
  WindowEntry entries[kWindowEntries];
};

// ── the whole record ────────────────────────────────────────────────────────────────────────
struct Record {
  Header header;
  Integrity integrity;
  Memory memory;
  StepSummary step_summary;
  LaunchStats launch;
  CommRow comms[kMaxComms];
  CollectiveRow collectives[kMaxCollectives];
  KernelRow kernels[kMaxKernels];
  LaunchShard launch_shards[kLaunchShards];
  StepRow steps[kStepRing];
  WindowRow windows[kMaxWindows];
  StringTable strings;
};

static_assert(std::is_trivially_copyable_v<argus::Sketch>, "Sketch must be trivially copyable");
static_assert(alignof(argus::Sketch) <= 64, "Sketch alignment must fit the row alignment");
static_assert(std::is_trivially_copyable_v<Record> && std::is_standard_layout_v<Record>);
static_assert(sizeof(Header) == 4096);
static_assert(offsetof(Header, tables) == 632, "header fields moved: bump kLayoutVersion");
static_assert(offsetof(Header, host) == 120);
static_assert(sizeof(LastOp) == 56);
static_assert(sizeof(WindowEntry) == 32);
static_assert(offsetof(Record, integrity) == 4096);
static_assert(sizeof(StepRow) % 64 == 0 && sizeof(KernelRow) % 64 == 0);
static_assert(offsetof(StepRow, counters) == 136);
static_assert(offsetof(KernelRow, launches) == 24);
static_assert(sizeof(Log2Hist) == 576);
static_assert(offsetof(CommRow, last_op) == 112);

// ── helpers shared by writers and readers (header-only, no allocation) ─────────────────────

// The table directory of this layout version (every writer fills the header with it).
inline void describe_tables(Header& h) noexcept {
  auto desc = [&](TableId t, size_t off, uint32_t cap, uint32_t row) { h.tables[t] = TableDesc{uint64_t(off), cap, row}; };
  desc(kTabIntegrity, offsetof(Record, integrity), 1, sizeof(Integrity));
  desc(kTabStrings, offsetof(Record, strings), kStringBytes, 1);
  desc(kTabKernels, offsetof(Record, kernels), kMaxKernels, sizeof(KernelRow));
  desc(kTabComms, offsetof(Record, comms), kMaxComms, sizeof(CommRow));
  desc(kTabCollectives, offsetof(Record, collectives), kMaxCollectives, sizeof(CollectiveRow));
  desc(kTabMemory, offsetof(Record, memory), 1, sizeof(Memory));
  desc(kTabSteps, offsetof(Record, steps), kStepRing, sizeof(StepRow));
  desc(kTabWindows, offsetof(Record, windows), kMaxWindows, sizeof(WindowRow));
  desc(kTabLaunch, offsetof(Record, launch), 1, sizeof(LaunchStats));
  desc(kTabLaunchShards, offsetof(Record, launch_shards), kLaunchShards, sizeof(LaunchShard));
}

// FNV-1a 64: kernel names, ncclUniqueId bytes.
inline uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) { h ^= p[i]; h *= 1099511628211ull; }
  return h;
}

inline uint32_t size_class(uint64_t bytes) {
  return bytes == 0 ? 0u : 64u - static_cast<uint32_t>(__builtin_clzll(bytes));
}

// Atomic word access on memory shared with another process (rule a).
template <class T>
inline T load_word(const T& w, std::memory_order o = std::memory_order_relaxed) {
  return std::atomic_ref<T>(const_cast<T&>(w)).load(o);
}
template <class T>
inline void store_word(T& w, T v, std::memory_order o = std::memory_order_relaxed) {
  std::atomic_ref<T>(w).store(v, o);
}

// Copies a seqlocked row (rule c).  Returns false if the row kept changing (tries exhausted).
template <class Row>
inline bool read_seqlocked(const uint64_t& seq, const Row& row, Row& out, int tries = 1000) {
  static_assert(sizeof(Row) % sizeof(uint64_t) == 0 && alignof(Row) >= alignof(uint64_t));
  for (int i = 0; i < tries; ++i) {
    uint64_t s1 = load_word(seq, std::memory_order_acquire);
    if (s1 & 1) continue;
    const auto* src = reinterpret_cast<const uint64_t*>(&row);
    uint64_t tmp[sizeof(Row) / sizeof(uint64_t)];
    // Acquire loads keep the final seq load after every data load (no fence: TSan-friendly).
    for (size_t k = 0; k < sizeof(Row) / sizeof(uint64_t); ++k)
      tmp[k] = load_word(src[k], std::memory_order_acquire);
    if (load_word(seq, std::memory_order_acquire) == s1) { std::memcpy(&out, tmp, sizeof(Row)); return true; }
  }
  return false;
}

// Launch counts: the shared rows plus every shard (see LaunchShard).
inline uint64_t path_launches(const Record& r, uint32_t path) {
  uint64_t n = load_word(r.launch.launches[path]);
  for (const LaunchShard& s : r.launch_shards) n += load_word(s.paths[path]);
  return n;
}
inline uint64_t kernel_launches(const Record& r, uint32_t k, uint32_t path) {
  uint64_t n = load_word(r.kernels[k].launches[path]);
  for (const LaunchShard& s : r.launch_shards) n += load_word(s.kernels[k][path]);
  return n;
}
inline uint64_t reentrant_calls(const Record& r) {
  uint64_t n = load_word(r.integrity.reentrant_calls);
  for (const LaunchShard& s : r.launch_shards) n += load_word(s.reentrant_calls);
  return n;
}

// Validates a record image of `size` bytes (a mapped segment or a file read into memory).
// Returns nullptr if usable, else a short reason ("bad magic", ...).  A record with magic 0
// is reported as "not initialised" (being created, or never written).
inline const char* validate(const void* image, size_t size) {
  if (size < sizeof(Header)) return "shorter than the record header";
  const auto* h = static_cast<const Header*>(image);
  uint64_t magic = load_word(h->magic, std::memory_order_acquire);
  if (magic == 0) return "not initialised (magic is 0)";
  if (magic != kMagic) return "bad magic (not an argus record)";
  if (h->layout_version != kLayoutVersion) return "unsupported layout version";
  if (h->header_size != sizeof(Header)) return "header size mismatch";
  if (h->total_size != sizeof(Record)) return "record size mismatch (different layout)";
  if (size < sizeof(Record)) return "truncated (shorter than total_size)";
  if (h->sketch_size != sizeof(argus::Sketch) || h->sketch_version != argus::kSketchLayoutVersion)
    return "sketch layout mismatch";
  if (h->state > kStateKilled) return "bad state";
  return nullptr;
}

// Name of the record's segment / file (without the leading '/'), into buf.  Sanitises
// run_id and host to [A-Za-z0-9._-].  Returns false if buf is too small.
inline bool segment_name(char* buf, size_t cap, uint32_t uid, const char* run_id,
                         const char* host, int pid) {
  auto put = [&](size_t& n, const char* s, size_t maxlen) {
    for (size_t i = 0; s && s[i] && i < maxlen; ++i) {
      char c = s[i];
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (n + 1 < cap) buf[n] = ok ? c : '_';
      ++n;
    }
  };
  auto put_num = [&](size_t& n, uint64_t v) {
    char tmp[24]; int k = 0;
    do { tmp[k++] = static_cast<char>('0' + v % 10); v /= 10; } while (v);
    while (k) { if (n + 1 < cap) buf[n] = tmp[--k]; else --k; ++n; }
  };
  size_t n = 0;
  put(n, kShmPrefix, 16);
  put_num(n, uid);
  put(n, "-", 1);
  put(n, (run_id && *run_id) ? run_id : kDefaultRunId, 63);
  put(n, "-", 1);
  put(n, host, 63);
  put(n, "-", 1);
  put_num(n, static_cast<uint64_t>(pid));
  if (n + 1 > cap) { if (cap) buf[0] = 0; return false; }
  buf[n] = 0;
  return true;
}

// Human names for report/ (index by the enums above).
inline const char* launch_path_name(uint32_t p) {
  static const char* const n[kLaunchPaths] = {
      "cudaLaunchKernel", "cudaLaunchKernel_ptsz", "cudaLaunchKernelExC",
      "cudaLaunchKernelExC_ptsz", "__cudaLaunchKernel", "__cudaLaunchKernel_ptsz",
      "cuLaunchKernel", "cuLaunchKernel_ptsz", "cuLaunchKernelEx", "cuLaunchKernelEx_ptsz",
      "cudaGraphLaunch", "cuGraphLaunch", "cuLaunchCooperativeKernel", "driver_entry_point",
      "reserved14", "reserved15"};
  return p < kLaunchPaths ? n[p] : "?";
}
inline const char* coll_op_name(uint32_t op) {
  static const char* const n[kCollOps] = {"AllReduce", "Broadcast", "Reduce", "AllGather",
                                          "ReduceScatter", "AllToAll", "Gather", "Scatter",
                                          "Send", "Recv", "Bcast", "Unknown"};
  return op < kCollOps ? n[op] : "?";
}
inline const char* mem_api_name(uint32_t a) {
  static const char* const n[kMemApis] = {
      "cudaMalloc", "cudaFree", "cudaMallocAsync", "cudaFreeAsync", "cudaMallocFromPoolAsync",
      "cuMemAlloc", "cuMemFree", "cuMemCreate", "cuMemRelease", "cuMemMap", "cuMemUnmap",
      "cudaMallocManaged", "cudaMallocHost", "cudaFreeHost", "reserved14", "reserved15"};
  return a < kMemApis ? n[a] : "?";
}
inline bool mem_api_is_alloc(uint32_t a) {
  return a == kMemCudaMalloc || a == kMemCudaMallocAsync || a == kMemCudaMallocFromPoolAsync ||
         a == kMemCuMemAlloc || a == kMemCuMemCreate || a == kMemCudaMallocManaged ||
         a == kMemCudaMallocHost;
}
inline const char* cupti_state_name(uint32_t s) {
  static const char* const n[] = {"not_tried", "ok", "missing", "busy", "error", "disabled"};
  return s < 6 ? n[s] : "?";
}
inline const char* steps_source_name(uint32_t s) {
  static const char* const n[] = {"none", "auto", "marker", "nvtx", "window"};
  return s < 5 ? n[s] : "?";
}
inline const char* run_state_name(uint32_t s) {
  static const char* const n[] = {"none", "running", "exited", "killed"};
  return s < 4 ? n[s] : "?";
}
// A string in the table, or "" if the offset is out of range.
inline const char* string_at(const Record& r, uint32_t off) {
  return off < kStringBytes ? r.strings.bytes + off : "";
}

}  // namespace argus::rec
