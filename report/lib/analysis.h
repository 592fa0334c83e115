// Statistics over a RunModel: integrity, warm-up, per-step, per-kernel, per-collective,
// memory and per-rank figures, the rank x step matrices the findings and plots use, and the
// findings themselves (findings.cpp). Everything here is deterministic for a given model.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "model.h"
#include "stats.h"

namespace argus::report {

struct AnalysisOptions {
  std::optional<uint64_t> warmup;  // fixed number of warm-up steps; nullopt = auto
};

struct Finding {
  std::string kind;        // anomalous_window, straggler_rank, degraded_kernel, slow_collective,
                           // host_stall, allocator_churn, oom, hang, crash
  std::vector<int> ranks;
  uint64_t first_step = 0, last_step = 0;
  std::optional<std::string> kernel;      // raw name
  std::optional<std::string> collective;  // op name
  double magnitude = 1.0;  // observed over baseline
  std::string evidence;
};

struct KernelSummary {
  std::string raw, demangled;
  bool is_collective = false;
  uint64_t count = 0, total_ns = 0;
  double share = 0;           // of all kernel GPU time
  double per_step = 0;        // launches per rank per step
  double mean_ns = 0, p50_ns = 0, p90_ns = 0, p99_ns = 0, min_ns = 0, max_ns = 0;
  int ranks = 0;              // ranks that ran it
  double rank_min_ns_per_step = 0, rank_max_ns_per_step = 0, rank_cv = 0;  // spread of per-rank GPU time per step
  Dist dist;                  // merged across ranks (plots)
};

struct CollSummary {
  std::string op, dtype;
  int comm_size = 0;
  uint64_t bytes_per_call = 0;
  uint64_t count = 0;         // calls summed over ranks
  uint64_t bytes = 0;         // bytes summed over ranks
  int ranks = 0;
  double total_ns = 0, p50_ns = 0, p90_ns = 0, p99_ns = 0;
  double algbw_gbps = 0, busbw_gbps = 0;  // GB/s at the median call time (NCCL's formulas)
};

struct RankSummary {
  int rank = -1;
  std::string host, file;
  uint32_t pid = 0;
  RankState state = RankState::unknown;
  int exit_code = 0, signal = 0;
  uint64_t steps = 0;                 // steps in the ring
  std::optional<uint64_t> last_step;  // last completed step index
  double step_p50_ns = 0, compute_p50_ns = 0, coll_p50_ns = 0, gap_p50_ns = 0;
  uint64_t mem_peak = 0;
};

struct Integrity {
  int expected_ranks = 0, found_ranks = 0;
  std::vector<int> missing_ranks;
  std::vector<BadFile> bad_files;
  struct Ended { int rank; std::string state; int signal; int exit_code; std::optional<uint64_t> last_step; };
  std::vector<Ended> abnormal;             // crashed / killed / still running at collection
  std::vector<std::string> unobservable;   // "rank 3: ..." deduplicated
  uint64_t dropped_kernels = 0, dropped_collectives = 0, dropped_steps = 0, dropped_windows = 0, dropped_other = 0;
  uint64_t steps_not_in_ring = 0;          // steps summarised because the ring wrapped
  double overhead_pct = 0;                 // interposer cost / observed wall time, worst rank
  // Share of the busiest host's CPU that processes other than the job used while it ran
  // (run_meta.json launches[].host_load.other_share); NaN when not recorded.
  double host_other_share = std::numeric_limits<double>::quiet_NaN();
  bool complete = true;                    // data complete enough that "no findings" means healthy
  std::vector<std::string> incomplete_reasons;
};

struct Analysis {
  Integrity integrity;
  std::string step_source;                 // marker | nvtx | window | none | mixed
  uint64_t warmup_steps = 0;
  std::string warmup_method;               // auto | fixed
  std::vector<uint64_t> steps;             // union of completed step indices (sorted)
  size_t first_steady = 0;                 // position in `steps` where steady state starts
  // [rank position][step position] in ns; NaN when the rank has no such step.
  std::vector<BulkVector<float>> step_ns, compute_ns, coll_ns, gap_ns;
  std::vector<double> job_step_ns;         // median across ranks per step position
  stats::Summary step_summary;             // over steady job_step_ns
  stats::Summary step_summary_all_ranks;   // over steady (rank, step) durations
  uint64_t window_steps = 1;               // steps per window (heatmap, anomalous windows)
  std::vector<std::pair<size_t, size_t>> windows;  // [begin, end) positions in `steps`, steady only
  std::vector<KernelSummary> kernels;      // by total time, descending
  std::vector<CollSummary> collectives;    // by total time, descending
  struct Memory {
    uint64_t peak = 0; int peak_rank = -1;
    uint64_t mallocs = 0, frees = 0, bytes_alloc = 0, failures = 0, retries = 0;
    double steady_calls_per_step = 0;      // malloc+free calls per rank per steady step
    double latency_p50_ns = 0, latency_p99_ns = 0;
  } memory;
  std::vector<RankSummary> ranks;
  std::vector<Finding> findings;
};

Analysis analyze(const RunModel& model, const AnalysisOptions& opt = {});

// Internal stages (exposed for tests).
uint64_t detect_warmup(const std::vector<double>& job_step_ns);
std::vector<Finding> find_anomalies(const RunModel& model, const Analysis& a);

// Calls f(step, position in `steps`) for each completed step of a rank, in order; `steps` is
// sorted and holds every completed index (Analysis::steps). A rank's steps ascend by index, so
// this walks both once instead of a binary search per step (8 million of them for 1,024 ranks).
template <class F>
void for_each_completed_step(const RankData& r, const std::vector<uint64_t>& steps, F&& f) {
  size_t p = 0;
  for (const auto& s : r.steps) {
    if (!s.completed()) continue;
    if (p > 0 && steps[p - 1] >= s.index)  // out of order (not from the decoder): search
      p = size_t(std::lower_bound(steps.begin(), steps.end(), s.index) - steps.begin());
    while (p < steps.size() && steps[p] < s.index) ++p;
    f(s, p);
  }
}

// Calls f(p, values, n) for every step position p < S of a rank-major matrix (step_ns and the
// like) with the column's non-NaN values, in rank order, in values[0, n): a scratch buffer f
// may reorder. Reads a block of steps at a time; a column at a time missed the cache at
// every cell (each row is a different 32 KiB array for 8,192 steps).
template <class F>
void for_each_column(const std::vector<BulkVector<float>>& mat, size_t S, F&& f) {
  constexpr size_t kBlock = 64;
  const size_t R = mat.size();
  std::vector<double> cols(kBlock * R);
  size_t n[kBlock];
  for (size_t p0 = 0; p0 < S; p0 += kBlock) {
    size_t nb = std::min(kBlock, S - p0);
    std::fill(n, n + nb, size_t(0));
    for (size_t r = 0; r < R; ++r) {
      const float* row = mat[r].data() + p0;
      for (size_t j = 0; j < nb; ++j)
        if (!std::isnan(row[j])) cols[j * R + n[j]++] = row[j];
    }
    for (size_t j = 0; j < nb; ++j) f(p0 + j, cols.data() + j * R, n[j]);
  }
}

// NCCL's bus-bandwidth factor for an op over n ranks (nccl-tests PERFORMANCE.md).
double busbw_factor(const std::string& op, int n);

}  // namespace argus::report
