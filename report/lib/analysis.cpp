#include "analysis.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "demangle.h"
#include "parallel.h"

namespace argus::report {

const char* to_string(RankState s) {
  switch (s) {
    case RankState::running: return "running";
    case RankState::exited: return "exited";
    case RankState::killed: return "killed";
    case RankState::crashed: return "crashed";
    case RankState::unknown: break;
  }
  return "unknown";
}

double busbw_factor(const std::string& op, int n) {
  if (n <= 1) return 1.0;
  double dn = double(n);
  if (op == "allreduce") return 2.0 * (dn - 1) / dn;
  if (op == "allgather" || op == "reducescatter" || op == "alltoall") return (dn - 1) / dn;
  return 1.0;  // broadcast, reduce, send/recv
}

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

double host_other_share(const std::string& meta_json) {
  double x = std::numeric_limits<double>::quiet_NaN();
  auto meta = nlohmann::json::parse(meta_json, nullptr, false);
  if (!meta.is_object() || !meta.contains("launches") || !meta["launches"].is_array()) return x;
  for (const auto& l : meta["launches"]) {
    if (!l.is_object() || !l.contains("host_load") || !l["host_load"].is_object()) continue;
    const auto& v = l["host_load"].value("other_share", nlohmann::json());
    if (v.is_number() && (std::isnan(x) || v.get<double>() > x)) x = v.get<double>();
  }
  return x;
}

void build_integrity(const RunModel& m, Analysis& a) {
  auto& in = a.integrity;
  in.host_other_share = host_other_share(m.meta_json);
  int expected = m.expected_world;
  for (const auto& r : m.ranks) expected = std::max(expected, r.info.world_size);
  in.expected_ranks = expected;
  std::set<int> seen;
  for (const auto& r : m.ranks) seen.insert(r.info.rank);
  in.found_ranks = int(m.ranks.size());
  for (int i = 0; i < expected; ++i)
    if (!seen.count(i)) in.missing_ranks.push_back(i);
  in.bad_files = m.bad_files;
  std::map<std::string, std::vector<int>> unobs;
  for (const auto& r : m.ranks) {
    const auto& ri = r.integrity;
    in.dropped_kernels += ri.dropped_kernels;
    in.dropped_collectives += ri.dropped_collectives;
    in.dropped_steps += ri.dropped_steps;
    in.dropped_windows += ri.dropped_windows;
    in.dropped_other += ri.dropped_other;
    if (r.steps_total > r.steps.size()) in.steps_not_in_ring += r.steps_total - r.steps.size();
    if (ri.observed_ns > 0) in.overhead_pct = std::max(in.overhead_pct, 100.0 * double(ri.overhead_ns) / double(ri.observed_ns));
    for (const auto& u : ri.unobservable) unobs[u].push_back(r.info.rank);
    if (!ri.cupti) unobs["GPU durations not from CUPTI (" + ri.timing_source + ")"].push_back(r.info.rank);
    if (r.info.state != RankState::exited || r.info.exit_code != 0) {
      std::optional<uint64_t> last;
      for (auto it = r.steps.rbegin(); it != r.steps.rend(); ++it)
        if (it->completed()) { last = it->index; break; }
      in.abnormal.push_back({r.info.rank, to_string(r.info.state), r.info.signal, r.info.exit_code, last});
    }
  }
  for (auto& [msg, ranks] : unobs) {
    std::sort(ranks.begin(), ranks.end());
    std::string list;
    if (ranks.size() == m.ranks.size() && ranks.size() > 1) list = "all ranks";
    else {
      list = ranks.size() == 1 ? "rank " : "ranks ";
      for (size_t i = 0; i < ranks.size(); ++i) list += (i ? "," : "") + std::to_string(ranks[i]);
    }
    in.unobservable.push_back(msg + " (" + list + ")");
  }
  auto incomplete = [&](std::string why) { in.complete = false; in.incomplete_reasons.push_back(std::move(why)); };
  if (m.ranks.empty()) incomplete("no rank records");
  if (!in.missing_ranks.empty()) incomplete(std::to_string(in.missing_ranks.size()) + " expected rank(s) have no record");
  if (!in.bad_files.empty()) incomplete(std::to_string(in.bad_files.size()) + " rank file(s) unreadable");
  if (in.dropped_kernels + in.dropped_collectives + in.dropped_windows + in.dropped_steps > 0)
    incomplete("records dropped because a table was full");
  if (!unobs.empty()) incomplete("some activity was not observable");
}

}  // namespace

uint64_t detect_warmup(const std::vector<double>& s) {
  size_t n = s.size();
  if (n < 8) return 0;
  // Steady reference from the second half of the run, where warm-up is over by assumption;
  // its lower quartile, so that a slowdown late in the run does not become the reference.
  std::vector<double> tail(s.begin() + long(n / 2), s.end());
  double base = stats::quantile(tail, 0.25);
  double sigma = stats::robust_sigma(tail);
  double band = std::max(5.0 * sigma, 0.10 * base);
  // Warm-up is the prefix of slow steps before the first run of 3 consecutive steps that are
  // not slow, capped at a quarter of the run: one slow step later on is an anomaly.
  size_t cap = n / 4;
  for (size_t i = 0; i + 3 <= n && i <= cap; ++i) {
    bool ok = true;
    for (size_t k = i; k < i + 3; ++k) ok = ok && s[k] - base <= band;
    if (ok) return i;
  }
  return cap;
}

Analysis analyze(const RunModel& m, const AnalysisOptions& opt) {
  Analysis a;
  build_integrity(m, a);

  // Step source: the one every rank used, else "mixed".
  std::set<std::string> sources;
  for (const auto& r : m.ranks) sources.insert(r.step_source);
  a.step_source = sources.empty() ? "none" : sources.size() == 1 ? *sources.begin() : "mixed";

  // Union of completed step indices: a merge per rank of its (ascending) indices; when the
  // ranks ran the same steps, one comparison per step and nothing to sort.
  {
    std::vector<uint64_t> mine, merged;
    for (const auto& r : m.ranks) {
      mine.clear();
      for (const auto& s : r.steps)
        if (s.completed()) mine.push_back(s.index);
      if (!std::is_sorted(mine.begin(), mine.end()) || std::adjacent_find(mine.begin(), mine.end()) != mine.end()) {
        std::sort(mine.begin(), mine.end());
        mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
      }
      if (std::includes(a.steps.begin(), a.steps.end(), mine.begin(), mine.end())) continue;
      merged.clear();
      std::set_union(a.steps.begin(), a.steps.end(), mine.begin(), mine.end(), std::back_inserter(merged));
      a.steps.swap(merged);
    }
  }
  const size_t S = a.steps.size(), R = m.ranks.size();
  a.step_ns.resize(R);
  a.compute_ns.resize(R);
  a.coll_ns.resize(R);
  a.gap_ns.resize(R);
  parallel_for(R, [&](size_t r) {
    for (auto* mat : {&a.step_ns, &a.compute_ns, &a.coll_ns, &a.gap_ns}) (*mat)[r].assign(S, kNaN);
    for_each_completed_step(m.ranks[r], a.steps, [&](const StepRec& s, size_t p) {
      a.step_ns[r][p] = s.step_ns;
      a.coll_ns[r][p] = s.coll_ns;
      a.compute_ns[r][p] = s.compute_ns;
      a.gap_ns[r][p] = s.gap_ns;
    });
  });
  a.job_step_ns.assign(S, 0.0);
  for_each_column(a.step_ns, S, [&](size_t p, double* v, size_t n) {
    a.job_step_ns[p] = n ? stats::median_in_place(v, n) : std::numeric_limits<double>::quiet_NaN();
  });
  if (opt.warmup) {
    a.warmup_method = "fixed";
    a.warmup_steps = std::min<uint64_t>(*opt.warmup, S);
  } else {
    a.warmup_method = "auto";
    a.warmup_steps = detect_warmup(a.job_step_ns);
  }
  a.first_steady = size_t(a.warmup_steps);
  {
    std::vector<double> steady(a.job_step_ns.begin() + long(a.first_steady), a.job_step_ns.end());
    a.step_summary = stats::summarize(steady);
    BulkVector<float> cells;
    cells.reserve(R * (S - a.first_steady));
    for (size_t r = 0; r < R; ++r)
      for (size_t p = a.first_steady; p < S; ++p)
        if (!std::isnan(a.step_ns[r][p])) cells.push_back(a.step_ns[r][p]);
    a.step_summary_all_ranks = stats::summarize_in_place(cells);
  }
  {
    size_t n = S - a.first_steady;
    a.window_steps = std::max<uint64_t>(1, (n + 39) / 40);
    for (size_t b = a.first_steady; b < S; b += a.window_steps) a.windows.push_back({b, std::min(S, b + a.window_steps)});
  }

  // Kernels, merged by raw name.
  {
    struct Acc { KernelSummary k; std::vector<double> per_rank_per_step; };
    std::map<std::string, Acc> acc;
    double gpu_total = 0;
    uint64_t rank_steps_total = 0;
    for (const auto& r : m.ranks) {
      uint64_t nsteps = std::max<uint64_t>(1, std::max<uint64_t>(r.steps_total, r.steps.size()));
      rank_steps_total += nsteps;
      for (const auto& k : r.kernels) {
        auto& e = acc[k.name];
        e.k.raw = k.name;
        e.k.is_collective = e.k.is_collective || k.is_collective;
        e.k.count += k.count;
        e.k.total_ns += k.total_ns;
        e.k.dist.merge(k.dur);
        e.k.ranks += 1;
        e.per_rank_per_step.push_back(double(k.total_ns) / double(nsteps));
        gpu_total += double(k.total_ns);
      }
    }
    for (auto& [name, e] : acc) {
      auto& k = e.k;
      k.demangled = demangle(name);
      k.share = gpu_total > 0 ? double(k.total_ns) / gpu_total : 0.0;
      k.per_step = rank_steps_total ? double(k.count) / double(rank_steps_total) : 0.0;
      k.mean_ns = k.count ? double(k.total_ns) / double(k.count) : 0.0;
      k.p50_ns = k.dist.quantile(0.5);
      k.p90_ns = k.dist.quantile(0.9);
      k.p99_ns = k.dist.quantile(0.99);
      k.min_ns = k.dist.min();
      k.max_ns = k.dist.max();
      // Ranks that never ran it count as 0 per step: a kernel missing on one rank is spread.
      auto v = e.per_rank_per_step;
      while (v.size() < R) v.push_back(0.0);
      auto s = stats::summarize(v);
      k.rank_min_ns_per_step = s.min;
      k.rank_max_ns_per_step = s.max;
      k.rank_cv = s.cv;
      a.kernels.push_back(std::move(k));
    }
    std::stable_sort(a.kernels.begin(), a.kernels.end(), [](const auto& x, const auto& y) {
      return std::tie(y.total_ns, x.raw) < std::tie(x.total_ns, y.raw);
    });
  }

  // Collectives, merged by (op, dtype, communicator size, bytes per call).
  {
    using Key = std::tuple<std::string, std::string, int, uint64_t>;
    struct Acc { CollSummary c; Dist d; };
    std::map<Key, Acc> acc;
    for (const auto& r : m.ranks)
      for (const auto& c : r.collectives) {
        if (c.count == 0) continue;
        uint64_t per_call = c.bytes / c.count;
        auto& e = acc[{c.op, c.dtype, c.comm_size, per_call}];
        e.c.op = c.op;
        e.c.dtype = c.dtype;
        e.c.comm_size = c.comm_size;
        e.c.bytes_per_call = per_call;
        e.c.count += c.count;
        e.c.bytes += c.bytes;
        e.c.ranks += 1;
        e.c.total_ns += double(c.total_ns);
        e.d.merge(c.dur);
      }
    for (auto& [key, e] : acc) {
      auto& c = e.c;
      c.p50_ns = e.d.quantile(0.5);
      c.p90_ns = e.d.quantile(0.9);
      c.p99_ns = e.d.quantile(0.99);
      if (c.p50_ns > 0) {
        c.algbw_gbps = double(c.bytes_per_call) / c.p50_ns;  // bytes/ns == GB/s
        c.busbw_gbps = c.algbw_gbps * busbw_factor(c.op, c.comm_size);
      }
      a.collectives.push_back(std::move(c));
    }
    std::stable_sort(a.collectives.begin(), a.collectives.end(),
                     [](const auto& x, const auto& y) { return x.total_ns > y.total_ns; });
  }

  // Memory.
  {
    Dist lat;
    double calls = 0, cells = 0;
    for (const auto& r : m.ranks) {
      const auto& mm = r.mem;
      if (mm.peak > a.memory.peak || a.memory.peak_rank < 0) {
        if (mm.peak >= a.memory.peak) { a.memory.peak = mm.peak; a.memory.peak_rank = r.info.rank; }
      }
      a.memory.mallocs += mm.mallocs;
      a.memory.frees += mm.frees;
      a.memory.bytes_alloc += mm.bytes_alloc;
      a.memory.failures += mm.failures;
      a.memory.retries += mm.retries;
      lat.merge(mm.latency);
      for_each_completed_step(r, a.steps, [&](const StepRec& s, size_t p) {
        if (p < a.first_steady) return;
        calls += double(s.alloc_calls);
        cells += 1;
      });
    }
    a.memory.steady_calls_per_step = cells > 0 ? calls / cells : 0.0;
    a.memory.latency_p50_ns = lat.quantile(0.5);
    a.memory.latency_p99_ns = lat.quantile(0.99);
  }

  // Per rank.
  a.ranks.resize(R);
  parallel_for(R, [&](size_t r) {
    const auto& rd = m.ranks[r];
    RankSummary& s = a.ranks[r];
    std::vector<float> v;
    s.rank = rd.info.rank;
    s.host = rd.info.host;
    s.file = rd.info.file;
    s.pid = rd.info.pid;
    s.state = rd.info.state;
    s.exit_code = rd.info.exit_code;
    s.signal = rd.info.signal;
    s.steps = rd.steps.size();
    for (auto it = rd.steps.rbegin(); it != rd.steps.rend(); ++it)
      if (it->completed()) { s.last_step = it->index; break; }
    auto med = [&](const BulkVector<float>& row) {
      v.clear();
      for (size_t p = a.first_steady; p < S; ++p)
        if (!std::isnan(row[p])) v.push_back(row[p]);
      return v.empty() ? 0.0 : stats::median_in_place(v);
    };
    s.step_p50_ns = med(a.step_ns[r]);
    s.compute_p50_ns = med(a.compute_ns[r]);
    s.coll_p50_ns = med(a.coll_ns[r]);
    s.gap_p50_ns = med(a.gap_ns[r]);
    s.mem_peak = rd.mem.peak;
  });

  a.findings = find_anomalies(m, a);
  return a;
}

}  // namespace argus::report
