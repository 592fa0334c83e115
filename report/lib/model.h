// The in-memory run model: what the report knows about one run, independent of the byte
// layout of rank records. The loader (record_reader) fills it from ranks/*; tests build it
// directly. Times are nanoseconds unless a name says otherwise.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bulk_alloc.h"
#include "dist.h"

namespace argus::report {

inline constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();

enum class RankState { running, exited, killed, crashed, unknown };
const char* to_string(RankState s);

struct RankInfo {
  int rank = -1;
  int local_rank = -1;
  int world_size = 0;
  uint32_t pid = 0;
  std::string host;
  std::string run_id;
  std::string file;            // record file name inside ranks/
  RankState state = RankState::unknown;
  int exit_code = 0;           // when state == exited
  int signal = 0;              // when killed/crashed
  uint64_t start_ns = 0;       // wall clock (CLOCK_REALTIME ns)
  uint64_t end_ns = 0;         // exit time, 0 unknown
  uint64_t last_alive_ns = 0;  // last sign of life (exit time or the recorder's heartbeat), 0 unknown
};

// One step of one rank, reduced on load to what the report uses of it: the cells of the
// rank x step matrices (analysis.h) and the allocation counts. A run of 1,024 ranks keeps
// 8.4 million of these, so the raw ring row (timestamps, GPU busy and collective ns, kernel and
// launch counts: 64 bytes) is not kept; 32 bytes a step halves the merge's memory, and fresh
// memory is what merging costs most. make_step() is the one place the figures are derived.
struct StepRec {
  uint64_t index = 0;          // step number as marked by the application
  // Host duration, GPU compute (busy - collective), collective (at most busy) and host gap
  // (duration - GPU active time, at least 0), ns; all NaN when the step did not complete.
  float step_ns = kNaNf, compute_ns = kNaNf, coll_ns = kNaNf, gap_ns = kNaNf;
  // Counts are 32-bit (saturated on load; their sum wraps as 32-bit, as it always did).
  uint32_t alloc_calls = 0;    // device allocation + free calls in the step
  uint32_t alloc_failures = 0;
  bool completed() const { return !std::isnan(step_ns); }
};
static_assert(sizeof(StepRec) == 32);

// host_start/end_ns as CLOCK_REALTIME ns (end 0 = still open); GPU busy (sum of kernel
// durations), collective and active (union of kernel intervals; 0 = not recorded: the busy sum
// stands in) ns.
inline StepRec make_step(uint64_t index, int64_t host_start_ns, int64_t host_end_ns, uint64_t gpu_busy_ns, uint64_t coll_ns,
                         uint64_t gpu_active_ns, uint32_t mallocs, uint32_t frees, uint32_t alloc_failures) {
  StepRec s;
  s.index = index;
  s.alloc_calls = mallocs + frees;
  s.alloc_failures = alloc_failures;
  if (host_end_ns > host_start_ns) {
    double d = double(int64_t(uint64_t(host_end_ns) - uint64_t(host_start_ns)));  // wraps, never UB
    double busy = double(gpu_busy_ns);
    double coll = std::min(double(coll_ns), busy);
    s.step_ns = float(d);
    s.coll_ns = float(coll);
    s.compute_ns = float(busy - coll);
    // GPU idle: overlapping kernels (NCCL beside compute) must not hide host time.
    s.gap_ns = float(std::max(0.0, d - (gpu_active_ns ? double(gpu_active_ns) : busy)));
  }
  return s;
}

struct KernelStat {
  std::string name;            // raw (mangled) name as recorded
  uint64_t count = 0;          // GPU executions with a duration
  uint64_t total_ns = 0;
  uint64_t launches = 0;       // host launch calls (all paths)
  Dist dur;                    // duration distribution, ns
  bool is_collective = false;  // an NCCL device kernel
};

// Aggregate of one kernel over a window of steps [first_step, last_step] on one rank.
struct KernelWindow {
  uint64_t first_step = 0, last_step = 0;
  uint32_t kernel = 0;         // index into RankData::kernels
  uint64_t count = 0;
  uint64_t total_ns = 0;
};

struct CollStat {
  std::string op;              // allreduce, allgather, reducescatter, broadcast, reduce, alltoall, send, recv, ...
  std::string dtype;
  uint64_t comm = 0;           // communicator identity (hash)
  int comm_size = 0;
  uint64_t count = 0;
  uint64_t bytes = 0;          // total bytes over all calls (per-rank send buffer size, NCCL's convention)
  uint64_t total_ns = 0;
  Dist dur;                    // per call, ns
};

struct CommSeq {
  uint64_t comm = 0;
  int comm_size = 0;
  int comm_rank = 0;
  uint64_t enqueued = 0, started = 0, completed = 0;
  std::string last_op;         // op of the last enqueued collective, when known
};

struct MemStat {
  uint64_t mallocs = 0, frees = 0;
  uint64_t bytes_alloc = 0, bytes_freed = 0;
  uint64_t live = 0, peak = 0;
  uint64_t failures = 0, retries = 0;
  Dist latency;                // allocation call latency, ns
};

struct RankIntegrity {
  bool cupti = true;                 // GPU durations from CUPTI (else sampled events or none)
  std::string timing_source = "cupti";
  std::vector<std::string> unobservable;  // human-readable: "launch path cuLaunchKernelEx not hooked"
  uint64_t dropped_kernels = 0, dropped_collectives = 0, dropped_steps = 0, dropped_windows = 0, dropped_other = 0;
  uint64_t overhead_ns = 0;          // interposer's own measured cost
  uint64_t observed_ns = 0;          // wall time the interposer was active (for the ratio)
  uint64_t torn_reads = 0;           // the copy found an inconsistent seqlock
};

struct RankData {
  RankInfo info;
  std::string step_source = "marker";  // marker | nvtx | window | none
  uint64_t steps_total = 0;            // all steps ever marked (the ring keeps the last ones)
  BulkVector<StepRec> steps;           // ordered by index
  std::vector<KernelStat> kernels;
  BulkVector<KernelWindow> kernel_windows;
  std::vector<CollStat> collectives;
  std::vector<CommSeq> comms;
  MemStat mem;
  std::map<std::string, uint64_t> launches_by_path;
  RankIntegrity integrity;
};

struct BadFile {
  std::string file;
  std::string reason;
};

struct RunModel {
  std::string run_dir;
  std::string meta_json;          // run_meta.json verbatim ("" when absent)
  int expected_world = 0;         // from records / run_meta; 0 = unknown
  std::vector<RankData> ranks;    // sorted by (rank, host, pid)
  std::vector<BadFile> bad_files;
};

}  // namespace argus::report
