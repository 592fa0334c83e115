// `argus compare`: is the candidate run (or runs) the same execution as the baseline?
// benchstat-style statistics over steady-state step windows (window means: steps are not
// independent, windows nearly are), Mann–Whitney U per metric, Benjamini–Hochberg across
// metrics, medians with distribution-free confidence intervals, structural differences,
// attribution of the step-time change, and the run_meta.json environment difference.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis.h"

namespace argus::report {

struct CompareOptions {
  double alpha = 0.05;
  std::optional<uint64_t> warmup;
  double min_effect = 0.01;  // relative change below which a significant shift is not "different"
  // A host-side-only difference (step time / collective wait, no kernel, no structure) with
  // the slower side's host this much busier with other processes (share of its CPU
  // capacity, run_meta.json host_load) is "inconclusive", not "different".
  double host_interference = 0.05;
};

struct LoadedRun {
  std::string dir;
  RunModel model;
  Analysis analysis;
};

struct MetricResult {
  std::string name;      // step_time, kernel:<raw>, collective_time, rank_skew
  std::string kind;      // step | kernel | collective | skew
  std::string display;   // readable (demangled) name
  std::string unit;      // ms | us | ratio
  std::vector<double> a, b;  // samples (window means)
  double med_a = 0, med_b = 0;
  stats::Interval ci_a, ci_b;
  double delta = 0;      // (med_b - med_a) / med_a
  double p = 1, q = 1;
  bool testable = true;  // enough samples for a verdict at alpha
  bool significant = false;
  bool relevant = true;  // counts toward the verdict (kernel share >= 1%, etc.)
  double share = 0;      // kernel: GPU time share in the baseline
};

struct StructuralDiff {
  std::string kind;      // kernel_appeared, kernel_disappeared, launch_count_changed, collective_appeared,
                         // collective_disappeared, memory_peak_changed, alloc_failures_changed, world_size_changed
  std::string name;
  std::string baseline, candidate;  // values as text
  std::string detail;
};

struct EnvDiff {
  std::string key, baseline, candidate;  // "" = absent
};

struct Attribution {
  std::string what;      // kernel | collectives | host_gap
  std::string name;      // raw kernel name (kernel) or label
  std::string display;
  double delta_ns_per_step = 0;
  double share = 0;      // of the step-time change
};

struct CompareResult {
  std::vector<std::string> baseline_dirs, candidate_dirs;
  double alpha = 0.05;
  std::string verdict;   // same | different | inconclusive
  std::vector<std::string> reasons;
  std::vector<EnvDiff> env;
  std::vector<StructuralDiff> structural;
  std::vector<MetricResult> metrics;  // step_time first, then by relevance
  double step_delta_ns = 0, explained = 0;
  std::vector<Attribution> attribution;
  // Share of the host's CPU that other processes used while the job ran (run_meta.json
  // host_load.other_share; the busiest host of a run, averaged over a side's runs); NaN unknown.
  double host_other_a = 0, host_other_b = 0;
  bool host_interference = false;  // the verdict was held back because of it
  int exit_code() const { return verdict == "same" ? 0 : verdict == "different" ? 1 : 3; }
};

LoadedRun load_for_compare(const std::string& dir, const CompareOptions& opt);
CompareResult compare_runs(const std::vector<const LoadedRun*>& baseline, const std::vector<const LoadedRun*>& candidate,
                           const CompareOptions& opt);

nlohmann::ordered_json compare_json(const CompareResult& r);
std::string compare_markdown(const CompareResult& r);

// Flattened key -> value differences of two run_meta.json texts (environment, versions,
// hosts, fingerprint; times and ids excluded). Exposed for tests.
std::vector<EnvDiff> environment_diff(const std::string& meta_a, const std::string& meta_b);

}  // namespace argus::report
