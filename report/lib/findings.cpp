// Progressive, self-calibrated diagnosis. Every baseline comes from the run itself: medians
// over its own steady windows or across its own ranks, with the noise scale taken as a robust
// sigma of the same population. The only constants are statistical (how many sigmas) and a
// minimum relative effect below which a deviation is not worth a reader's attention.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "analysis.h"
#include "demangle.h"
#include "parallel.h"

namespace argus::report {
namespace {

constexpr double kWindowSigmas = 5.0;   // job-level window series
constexpr double kCellSigmas = 6.0;     // rank x window cells (many more tests)
constexpr double kStallSigmas = 8.0;    // rank x step cells
constexpr double kMinEffect = 0.05;     // 5%: smaller shifts are compare's business
constexpr double kMinStall = 0.10;      // a host gap must add >= 10% of a step

double nan_mean(const BulkVector<float>& row, size_t b, size_t e) {
  double s = 0;
  size_t n = 0;
  for (size_t p = b; p < e; ++p)
    if (!std::isnan(row[p])) { s += row[p]; ++n; }
  return n ? s / double(n) : std::nan("");
}

double median_finite(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  return v.empty() ? std::nan("") : stats::median(std::move(v));
}

double quantile_finite(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  return v.empty() ? std::nan("") : stats::quantile(std::move(v), q);
}

// Noise of a series from its step-to-step differences: a level shift (the anomaly itself)
// adds one large difference and leaves this estimate alone.
double temporal_sigma(const std::vector<double>& v) {
  std::vector<double> d;
  for (size_t i = 1; i < v.size(); ++i)
    if (std::isfinite(v[i]) && std::isfinite(v[i - 1])) d.push_back((v[i] - v[i - 1]) / std::sqrt(2.0));
  if (d.size() < 2) return 0.0;
  return stats::robust_sigma(d);
}

double sigma_finite(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  return v.size() < 2 ? 0.0 : stats::robust_sigma(v);
}

std::string ms(double ns) { return fmt::format("{:.3g} ms", ns / 1e6); }

std::string rank_list(const std::vector<int>& r) {
  std::string s = r.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < r.size(); ++i) s += (i ? "," : "") + std::to_string(r[i]);
  return s;
}

std::string steps_text(uint64_t a, uint64_t b) {
  return a == b ? fmt::format("step {}", a) : fmt::format("steps {}-{}", a, b);
}

// Contiguous runs of true flags, allowing `slack` false entries inside a run.
std::vector<std::pair<size_t, size_t>> runs(const std::vector<bool>& f, size_t slack) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  while (i < f.size()) {
    if (!f[i]) { ++i; continue; }
    size_t b = i, e = i, miss = 0;
    for (size_t j = i + 1; j < f.size(); ++j) {
      if (f[j]) { e = j; miss = 0; }
      else if (++miss > slack) break;
    }
    out.push_back({b, e});
    i = e + 1;
  }
  return out;
}

std::string op_of_nccl_kernel(const std::string& name) {
  static const std::pair<const char*, const char*> table[] = {
      {"AllReduce", "allreduce"}, {"AllGather", "allgather"}, {"ReduceScatter", "reducescatter"},
      {"Broadcast", "broadcast"}, {"Reduce", "reduce"},        {"AllToAll", "alltoall"},
      {"SendRecv", "sendrecv"},   {"Send", "send"},            {"Recv", "recv"}};
  for (auto& [k, v] : table)
    if (name.find(k) != std::string::npos) return v;
  return "";
}

struct Ctx {
  const RunModel& m;
  const Analysis& a;
  size_t R, S, f;
  std::vector<int> all_ranks;
  double base_step;
  // Per-rank steady host gap (steady_gap_baseline) and the pooled residuals around it, shared
  // by host_stalls and slow_collectives.
  std::vector<double> base_gap, gap_residuals;
  uint64_t idx(size_t p) const { return a.steps[std::min(p, S - 1)]; }
};

void anomalous_windows(const Ctx& c, std::vector<Finding>& out) {
  const auto& W = c.a.windows;
  if (W.size() < 4) return;
  std::vector<double> wm;
  for (auto [b, e] : W) {
    double s = 0; size_t n = 0;
    for (size_t p = b; p < e; ++p) if (std::isfinite(c.a.job_step_ns[p])) { s += c.a.job_step_ns[p]; ++n; }
    wm.push_back(n ? s / double(n) : std::nan(""));
  }
  // Baseline: the lower quartile of the run's own windows, so that a slowdown covering most
  // of the run is still measured against the run's good state.
  double base = quantile_finite(wm, 0.25), sigma = temporal_sigma(wm);
  if (!(base > 0)) return;
  double thr = base + std::max(kWindowSigmas * sigma, kMinEffect * base);
  std::vector<bool> flag(W.size());
  for (size_t w = 0; w < W.size(); ++w) flag[w] = std::isfinite(wm[w]) && wm[w] > thr;
  for (auto [b, e] : runs(flag, 0)) {
    double worst = 0;
    for (size_t w = b; w <= e; ++w) if (flag[w]) worst = std::max(worst, wm[w]);
    Finding fd;
    fd.kind = "anomalous_window";
    fd.ranks = c.all_ranks;
    fd.first_step = c.idx(W[b].first);
    fd.last_step = c.idx(W[e].second - 1);
    fd.magnitude = worst / base;
    fd.evidence = fmt::format("{}: mean step time up to {} against the run's good steady level of {} (lower quartile of its windows) (x{:.2f}).",
                              steps_text(fd.first_step, fd.last_step), ms(worst), ms(base), fd.magnitude);
    out.push_back(std::move(fd));
  }
}

// Rank x window means of a matrix over steady windows.
std::vector<std::vector<double>> cell_means(const Ctx& c, const std::vector<BulkVector<float>>& mat) {
  std::vector<std::vector<double>> out(c.R, std::vector<double>(c.a.windows.size()));
  for (size_t r = 0; r < c.R; ++r)
    for (size_t w = 0; w < c.a.windows.size(); ++w) out[r][w] = nan_mean(mat[r], c.a.windows[w].first, c.a.windows[w].second);
  return out;
}

// Reference per window across ranks: the median (the other rank when there are only two).
double cross_rank_ref(const std::vector<std::vector<double>>& cells, size_t w, size_t r) {
  std::vector<double> v;
  for (size_t q = 0; q < cells.size(); ++q)
    if (cells.size() > 2 || q != r) v.push_back(cells[q][w]);
  return median_finite(v);
}

void stragglers(const Ctx& c, std::vector<Finding>& out) {
  if (c.R < 2 || c.a.windows.empty()) return;
  auto comp = cell_means(c, c.a.compute_ns);
  auto coll = cell_means(c, c.a.coll_ns);
  size_t Wn = c.a.windows.size();
  std::vector<std::vector<double>> ratio(c.R, std::vector<double>(Wn, std::nan("")));
  std::vector<double> refs(Wn);
  std::vector<double> pooled;
  for (size_t w = 0; w < Wn; ++w) {
    std::vector<double> col;
    for (size_t r = 0; r < c.R; ++r) col.push_back(comp[r][w]);
    refs[w] = median_finite(col);
  }
  for (size_t r = 0; r < c.R; ++r)
    for (size_t w = 0; w < Wn; ++w) {
      double ref = c.R > 2 ? refs[w] : cross_rank_ref(comp, w, r);
      if (ref > 0 && std::isfinite(comp[r][w])) { ratio[r][w] = comp[r][w] / ref; pooled.push_back(ratio[r][w]); }
    }
  if (pooled.size() < 4) return;
  double sig = sigma_finite(pooled);
  if (c.R == 2) {
    // Two ranks: the cross-rank population is the straggler and its mirror image. Take the
    // noise from how much each rank's ratio moves from one window to the next instead.
    std::vector<double> diffs;
    for (size_t r = 0; r < c.R; ++r)
      for (size_t w = 1; w < Wn; ++w)
        if (std::isfinite(ratio[r][w]) && std::isfinite(ratio[r][w - 1])) diffs.push_back((ratio[r][w] - ratio[r][w - 1]) / std::sqrt(2.0));
    sig = sigma_finite(diffs);
  }
  double thr = 1.0 + std::max(kCellSigmas * sig, kMinEffect);
  // Median collective time of the other ranks in a window, read off the window's sorted
  // column (recomputing it over every rank for each flagged rank was O(ranks^2)).
  std::vector<std::vector<double>> coll_sorted(Wn);
  for (size_t w = 0; w < Wn; ++w) {
    for (size_t q = 0; q < c.R; ++q)
      if (std::isfinite(coll[q][w])) coll_sorted[w].push_back(coll[q][w]);
    std::sort(coll_sorted[w].begin(), coll_sorted[w].end());
  }
  auto others_coll_median = [&](size_t w, size_t r) {
    const auto& v = coll_sorted[w];
    size_t skip = std::isfinite(coll[r][w]) ? size_t(std::lower_bound(v.begin(), v.end(), coll[r][w]) - v.begin()) : v.size();
    size_t n = v.size() - (skip < v.size() ? 1 : 0);
    return n ? stats::quantile_sorted([&](size_t i) { return v[i < skip ? i : i + 1]; }, n, 0.5) : std::nan("");
  };
  for (size_t r = 0; r < c.R; ++r) {
    std::vector<bool> flag(Wn);
    for (size_t w = 0; w < Wn; ++w) flag[w] = std::isfinite(ratio[r][w]) && ratio[r][w] > thr;
    for (auto [b, e] : runs(flag, 1)) {
      std::vector<double> rs, mine_comp, ref_comp, mine_coll, others_coll, base_coll;
      for (size_t w = b; w <= e; ++w) {
        if (!flag[w]) continue;
        rs.push_back(ratio[r][w]);
        mine_comp.push_back(comp[r][w]);
        ref_comp.push_back(refs[w]);
        mine_coll.push_back(coll[r][w]);
        others_coll.push_back(others_coll_median(w, r));
      }
      // Others' collective time outside the flagged windows, to show the growth.
      for (size_t w = 0; w < Wn; ++w)
        if (w < b || w > e) base_coll.push_back(others_coll_median(w, r));
      Finding fd;
      fd.kind = "straggler_rank";
      fd.ranks = {c.m.ranks[r].info.rank};
      fd.first_step = c.idx(c.a.windows[b].first);
      fd.last_step = c.idx(c.a.windows[e].second - 1);
      fd.magnitude = median_finite(rs);
      double my_coll = median_finite(mine_coll), oth_coll = median_finite(others_coll);
      fd.evidence = fmt::format("rank {} computes {} per step on the GPU against {} for the median rank (x{:.2f}) in {}",
                                fd.ranks[0], ms(median_finite(mine_comp)), ms(median_finite(ref_comp)), fd.magnitude,
                                steps_text(fd.first_step, fd.last_step));
      if (std::isfinite(my_coll) && std::isfinite(oth_coll) && oth_coll > my_coll) {
        double bc = median_finite(base_coll);
        fd.evidence += fmt::format("; it waits least in collectives ({} per step vs {} on the other ranks{}), so the delay shows up as communication time elsewhere",
                                   ms(my_coll), ms(oth_coll),
                                   std::isfinite(bc) ? fmt::format(", {} outside these steps", ms(bc)) : std::string());
      }
      fd.evidence += ".";
      out.push_back(std::move(fd));
    }
  }
}

// Per-rank baseline host gap (GPU idle waiting for its host) over the steady steps; NaN for a
// rank with fewer than 4 such steps. `pooled` gets residuals for the noise scale, subsampled
// to keep this linear for big runs.
std::vector<double> steady_gap_baseline(const Ctx& c, std::vector<double>& pooled) {
  std::vector<double> base(c.R, std::nan(""));
  std::vector<std::vector<double>> residuals(c.R);
  size_t stride = std::max<size_t>(1, (c.R * (c.S - c.f)) / 500000);
  parallel_for(c.R, [&](size_t r) {
    std::vector<float> v;
    for (size_t p = c.f; p < c.S; ++p) if (!std::isnan(c.a.gap_ns[r][p])) v.push_back(c.a.gap_ns[r][p]);
    if (v.size() < 4) return;
    auto& res = residuals[r];
    for (size_t i = 0; i < v.size(); i += stride) res.push_back(v[i]);  // before v is reordered
    base[r] = stats::median_in_place(v);
    for (double& x : res) x -= base[r];
  });
  for (const auto& res : residuals) pooled.insert(pooled.end(), res.begin(), res.end());
  return base;
}

void host_stalls(const Ctx& c, std::vector<Finding>& out) {
  if (c.S < 4 || !(c.base_step > 0)) return;
  const std::vector<double>& base = c.base_gap;
  if (c.gap_residuals.size() < 8) return;
  double sig = sigma_finite(c.gap_residuals);
  double thr = std::max(kStallSigmas * sig, kMinStall * c.base_step);
  // Warm-up steps are slow on every rank by nature: there a stall must also stand out from
  // the other ranks at the same step (a JIT compile on some ranks does, common start-up does not).
  std::vector<double> warm_ref(c.f, 0.0);
  for (size_t p = 0; p < c.f; ++p) {
    std::vector<double> col;
    for (size_t r = 0; r < c.R; ++r) col.push_back(c.a.gap_ns[r][p]);
    warm_ref[p] = c.R >= 3 ? median_finite(col) : 0.0;
    if (c.R == 2) { double x = c.a.gap_ns[0][p], y = c.a.gap_ns[1][p]; warm_ref[p] = std::isfinite(x) && std::isfinite(y) ? std::min(x, y) : 0.0; }
  }
  for (size_t r = 0; r < c.R; ++r) {
    if (!std::isfinite(base[r])) continue;
    std::vector<bool> flag(c.S);
    for (size_t p = 0; p < c.S; ++p) {
      double ref = p < c.f ? std::max(base[r], std::isfinite(warm_ref[p]) ? warm_ref[p] : 0.0) : base[r];
      flag[p] = !std::isnan(c.a.gap_ns[r][p]) && c.a.gap_ns[r][p] - ref > thr;
    }
    for (auto [b, e] : runs(flag, c.a.window_steps)) {
      double worst = 0, total = 0;
      for (size_t p = b; p <= e; ++p)
        if (flag[p]) { worst = std::max(worst, double(c.a.gap_ns[r][p])); total += c.a.gap_ns[r][p] - base[r]; }
      Finding fd;
      fd.kind = "host_stall";
      fd.ranks = {c.m.ranks[r].info.rank};
      fd.first_step = c.idx(b);
      fd.last_step = c.idx(e);
      fd.magnitude = (c.base_step + (worst - base[r])) / c.base_step;
      fd.evidence = fmt::format("rank {}: the GPU sat idle waiting for the host for up to {} per step in {} (baseline gap {}, steady step {}); {} lost in total.",
                                fd.ranks[0], ms(worst), steps_text(fd.first_step, fd.last_step), ms(base[r]), ms(c.base_step), ms(total));
      out.push_back(std::move(fd));
    }
  }
}

bool overlaps(const Finding& f, uint64_t a, uint64_t b) { return f.first_step <= b && a <= f.last_step; }

// How late the latest rank reached the collectives of steps [b, e), per step: its host gap
// above its own baseline plus its compute above the cross-rank median. Ranks that each stay
// below the host_stall / straggler thresholds still make everyone else wait in the collective
// (a descheduled host on a busy machine does exactly this); such a wait is a late arrival,
// not a slow collective.
double arrival_lateness(const Ctx& c, const std::vector<double>& base_gap, size_t b, size_t e) {
  double worst = 0;
  std::vector<double> sum(c.R, 0.0);
  size_t n = 0;
  std::vector<double> col;
  for (size_t p = b; p < e; ++p) {
    col.clear();
    for (size_t r = 0; r < c.R; ++r) col.push_back(c.a.compute_ns[r][p]);
    double med = median_finite(col);
    for (size_t r = 0; r < c.R; ++r) {
      double late = 0, g = c.a.gap_ns[r][p], k = c.a.compute_ns[r][p];
      if (std::isfinite(g) && std::isfinite(base_gap[r])) late += std::max(0.0, g - base_gap[r]);
      if (std::isfinite(k) && std::isfinite(med)) late += std::max(0.0, k - med);
      sum[r] += late;
    }
    ++n;
  }
  for (size_t r = 0; r < c.R && n; ++r) worst = std::max(worst, sum[r] / double(n));
  return worst;
}

// The names of NCCL kernels (or of all others) numbered in name order, and each rank's kernel
// index -> number: per-kernel sums over all ranks become arrays, not maps keyed by name.
struct KernelNumbers {
  std::map<std::string, uint32_t> ids;
  std::vector<const std::string*> names;      // by number
  std::vector<std::vector<int32_t>> of;       // [rank position][kernel index] -> number, -1: other kind
};

KernelNumbers number_kernels(const Ctx& c, bool collective) {
  KernelNumbers n;
  for (const auto& rd : c.m.ranks)
    for (const auto& k : rd.kernels)
      if (k.is_collective == collective) n.ids.emplace(k.name, 0);
  for (auto& [name, id] : n.ids) { id = uint32_t(n.names.size()); n.names.push_back(&name); }
  n.of.resize(c.R);
  for (size_t r = 0; r < c.R; ++r)
    for (const auto& k : c.m.ranks[r].kernels) n.of[r].push_back(k.is_collective == collective ? int32_t(n.ids[k.name]) : -1);
  return n;
}

// NCCL kernels and their totals over every window of every rank (summed rank by rank,
// window by window).
struct NcclWindows {
  KernelNumbers k;
  std::vector<std::pair<double, double>> all;   // (ns, count) by number
};

std::unique_ptr<NcclWindows> nccl_windows(const Ctx& c) {
  auto n = std::make_unique<NcclWindows>();
  n->k = number_kernels(c, true);
  n->all.resize(n->k.names.size());
  for (size_t r = 0; r < c.R; ++r)
    for (const auto& kw : c.m.ranks[r].kernel_windows) {
      int32_t id = n->k.of[r][kw.kernel];
      if (id < 0) continue;
      n->all[size_t(id)].first += double(kw.total_ns);
      n->all[size_t(id)].second += double(kw.count);
    }
  return n;
}

void slow_collectives(const Ctx& c, const std::vector<Finding>& late, std::vector<Finding>& out) {
  const auto& W = c.a.windows;
  if (W.size() < 4) return;
  std::vector<double> wm;
  for (auto [b, e] : W) {
    std::vector<double> per_rank;
    for (size_t r = 0; r < c.R; ++r) per_rank.push_back(nan_mean(c.a.coll_ns[r], b, e));
    wm.push_back(median_finite(per_rank));
  }
  double base = quantile_finite(wm, 0.25), sigma = temporal_sigma(wm);
  if (!(base > 0)) return;
  double thr = base + std::max(kWindowSigmas * sigma, 0.10 * base);
  std::vector<bool> flag(W.size());
  for (size_t w = 0; w < W.size(); ++w) {
    // Only collective time that matters for the step (>= 2% of a step) and only where no
    // rank arrived late: a late rank is reported as such, not as a slow collective.
    bool explained = false;
    for (const auto& l : late) explained = explained || overlaps(l, c.idx(W[w].first), c.idx(W[w].second - 1));
    bool rose = std::isfinite(wm[w]) && wm[w] > thr && wm[w] - base > 0.02 * c.base_step;
    // Half of the rise accounted for by the latest rank's arrival is a late arrival.
    if (rose && !explained) explained = arrival_lateness(c, c.base_gap, W[w].first, W[w].second) >= 0.5 * (wm[w] - base);
    flag[w] = rose && !explained;
  }
  // The op: from per-window NCCL kernel data when present, else the costliest collective.
  std::string top_op = c.a.collectives.empty() ? "" : c.a.collectives.front().op;
  std::unique_ptr<NcclWindows> nccl;  // made for the first flagged window, if any
  for (auto [b, e] : runs(flag, 0)) {
    double worst = 0;
    for (size_t w = b; w <= e; ++w) if (flag[w]) worst = std::max(worst, wm[w]);
    Finding fd;
    fd.kind = "slow_collective";
    fd.ranks = c.all_ranks;
    fd.first_step = c.idx(W[b].first);
    fd.last_step = c.idx(W[e].second - 1);
    fd.magnitude = worst / base;
    std::string op = top_op;
    {
      // Which NCCL kernel grew most in these steps, relative to its own whole-run mean.
      if (!nccl) nccl = nccl_windows(c);
      std::vector<std::pair<double, double>> in(nccl->all.size());  // (ns, count) by number
      for (size_t r = 0; r < c.R; ++r)
        for (const auto& kw : c.m.ranks[r].kernel_windows) {
          int32_t id = nccl->k.of[r][kw.kernel];
          if (id < 0 || !(kw.first_step <= fd.last_step && fd.first_step <= kw.last_step)) continue;
          in[size_t(id)].first += double(kw.total_ns);
          in[size_t(id)].second += double(kw.count);
        }
      double best = 0;
      for (size_t id = 0; id < in.size(); ++id) {
        const auto& x = in[id];
        const auto& all = nccl->all[id];
        if (x.second <= 0 || all.second <= 0) continue;
        double g = (x.first / x.second) / (all.first / all.second);
        std::string o = op_of_nccl_kernel(*nccl->k.names[id]);
        if (g > best && !o.empty()) { best = g; op = o; }
      }
    }
    if (!op.empty()) fd.collective = op;
    fd.evidence = fmt::format("{}: time in collectives{} rose to {} per step from a steady {} (x{:.2f}) on all ranks, while no rank arrived late.",
                              steps_text(fd.first_step, fd.last_step), op.empty() ? "" : " (" + op + ")", ms(worst), ms(base), fd.magnitude);
    out.push_back(std::move(fd));
  }
}

void degraded_kernels(const Ctx& c, std::vector<Finding>& out) {
  if (c.S == 0) return;
  uint64_t steady_first = c.idx(c.f);
  // A cell is one kernel on one rank over one window of steps (1,024 ranks: 2.6 million), so
  // flat arrays, not maps of vectors. Kernels are numbered in name order (findings come out by
  // name) and every pass visits the cells rank by rank, window by window: each kernel's cells
  // are in the order they always were, so its sigma and the sort of its hits are unchanged.
  const KernelNumbers kn = number_kernels(c, false);
  const auto& kid = kn.of;
  const size_t K = kn.names.size();
  auto use = [&](size_t r, const KernelWindow& kw) { return kid[r][kw.kernel] >= 0 && kw.count > 0 && kw.first_step >= steady_first; };
  bool have_windows = false;
  for (size_t r = 0; r < c.R && !have_windows; ++r)
    have_windows = std::any_of(c.m.ranks[r].kernel_windows.begin(), c.m.ranks[r].kernel_windows.end(),
                               [&](const KernelWindow& kw) { return use(r, kw); });
  // No per-window data: compare ranks over the whole run, one window per rank and kernel.
  std::vector<BulkVector<KernelWindow>> whole(have_windows ? 0 : c.R);
  for (size_t r = 0; r < whole.size(); ++r)
    for (size_t i = 0; i < c.m.ranks[r].kernels.size(); ++i) {
      const auto& k = c.m.ranks[r].kernels[i];
      if (!k.is_collective && k.count > 0) whole[r].push_back({steady_first, c.idx(c.S - 1), uint32_t(i), k.count, k.total_ns});
    }
  // Calls f(rank position, kernel id, group, cell) for every cell; a group is one rank's cells
  // of one window (ids dense, in visit order). Returns the number of groups.
  auto visit = [&](auto&& f) {
    uint32_t groups = 0;
    std::unordered_map<uint64_t, uint32_t> of_first;  // the rank's groups by window start
    for (size_t r = 0; r < c.R; ++r) {
      of_first.clear();
      uint32_t g = 0;
      uint64_t g_first = 0;
      for (const auto& kw : have_windows ? c.m.ranks[r].kernel_windows : whole[r]) {
        if (!use(r, kw)) continue;
        if (of_first.empty() || kw.first_step != g_first) {  // windows come sorted: rarely a lookup
          auto [it, fresh] = of_first.emplace(kw.first_step, groups);
          groups += fresh ? 1 : 0;
          g = it->second;
          g_first = kw.first_step;
        }
        f(r, uint32_t(kid[r][kw.kernel]), g, kw);
      }
    }
    return groups;
  };
  std::vector<size_t> per_kernel(K);
  size_t G = visit([&](size_t, uint32_t k, uint32_t, const KernelWindow&) { per_kernel[k]++; });
  // Baseline per kernel: median over all its cells; a cell's ratio = its mean / baseline.
  std::vector<std::vector<double>> vals(K);  // per kernel: the cells' means, later their adjusted ratios
  std::vector<double> base(K, 0.0);
  for (size_t k = 0; k < K; ++k) vals[k].reserve(per_kernel[k]);
  visit([&](size_t, uint32_t k, uint32_t, const KernelWindow& kw) { vals[k].push_back(double(kw.total_ns) / double(kw.count)); });
  for (size_t k = 0; k < K; ++k)
    if (!vals[k].empty()) base[k] = stats::median_in_place(vals[k]);
  auto ratio = [&](uint32_t k, const KernelWindow& kw) {
    double mean = double(kw.total_ns) / double(kw.count);
    return base[k] > 0 ? mean / base[k] : 1.0;
  };
  // A rank that is slow at everything is a straggler, not a degraded kernel: divide by the
  // median ratio of all kernels of that rank in that window (groups are per rank: a rank's
  // cells at a time).
  std::vector<double> factor(G, 1.0);
  {
    std::vector<std::pair<uint32_t, double>> cells;  // (group, ratio) of one rank
    std::vector<double> v;
    auto flush = [&] {
      std::sort(cells.begin(), cells.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
      for (size_t i = 0, j; i < cells.size(); i = j) {
        v.clear();
        for (j = i; j < cells.size() && cells[j].first == cells[i].first; ++j) v.push_back(cells[j].second);
        if (v.size() >= 3) factor[cells[i].first] = stats::median_in_place(v);
      }
      cells.clear();
    };
    size_t cur = 0;
    visit([&](size_t r, uint32_t k, uint32_t g, const KernelWindow& kw) {
      if (r != cur) { flush(); cur = r; }
      cells.push_back({g, ratio(k, kw)});
    });
    flush();
  }
  std::vector<double> thr(K, 0.0);
  for (auto& v : vals) v.clear();
  visit([&](size_t, uint32_t k, uint32_t g, const KernelWindow& kw) { vals[k].push_back(ratio(k, kw) / factor[g]); });
  for (size_t k = 0; k < K; ++k)
    if (per_kernel[k] >= 4) thr[k] = 1.0 + std::max(kCellSigmas * sigma_finite(vals[k]), kMinEffect);
  struct Hit { size_t r; uint64_t first, last; double ratio; };
  std::vector<std::vector<Hit>> hits(K);
  {
    std::vector<size_t> next(K, 0);
    visit([&](size_t r, uint32_t k, uint32_t, const KernelWindow& kw) {
      if (per_kernel[k] >= 4 && vals[k][next[k]] > thr[k]) hits[k].push_back({r, kw.first_step, kw.last_step, ratio(k, kw)});
      next[k]++;
    });
  }
  for (size_t k = 0; k < K; ++k) {
    auto& hit = hits[k];
    if (hit.empty()) continue;
    const std::string& name = *kn.names[k];
    std::sort(hit.begin(), hit.end(), [](const Hit& x, const Hit& y) { return std::tie(x.first, x.r) < std::tie(y.first, y.r); });
    // Cluster in step space: a gap longer than two windows starts a new finding.
    uint64_t span = std::max<uint64_t>(1, hit.front().last - hit.front().first + 1);
    size_t i = 0;
    while (i < hit.size()) {
      uint64_t first = hit[i].first, last = hit[i].last;
      std::set<int> ranks;
      std::vector<double> rs;
      size_t j = i;
      while (j < hit.size() && hit[j].first <= last + 2 * span + 1) {
        last = std::max(last, hit[j].last);
        ranks.insert(c.m.ranks[hit[j].r].info.rank);
        rs.push_back(hit[j].ratio);
        ++j;
      }
      Finding fd;
      fd.kind = "degraded_kernel";
      fd.ranks.assign(ranks.begin(), ranks.end());
      fd.first_step = first;
      fd.last_step = last;
      fd.kernel = name;
      fd.magnitude = stats::median(rs);
      std::string shown = demangle(name);
      if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
      fd.evidence = fmt::format("{} ran x{:.2f} slower than its own median duration on {} in {}{}.", shown, fd.magnitude,
                                rank_list(fd.ranks), steps_text(first, last),
                                have_windows ? "" : " (no per-window data: whole-run comparison across ranks)");
      out.push_back(std::move(fd));
      i = j;
    }
  }
}

void allocator_churn(const Ctx& c, std::vector<Finding>& out) {
  const auto& W = c.a.windows;
  if (W.empty()) return;
  // Calls per step per (rank, window) from the step records.
  std::vector<std::vector<double>> calls(c.R, std::vector<double>(W.size(), std::nan("")));
  std::vector<double> pooled, per_pos;
  for (size_t r = 0; r < c.R; ++r) {
    per_pos.assign(c.S, std::nan(""));
    for_each_completed_step(c.m.ranks[r], c.a.steps, [&](const StepRec& s, size_t p) {
      if (p < c.S) per_pos[p] = double(s.alloc_calls);
    });
    for (size_t w = 0; w < W.size(); ++w) {
      double sum = 0; size_t n = 0;
      for (size_t p = W[w].first; p < W[w].second; ++p) if (std::isfinite(per_pos[p])) { sum += per_pos[p]; ++n; }
      if (n) { calls[r][w] = sum / double(n); pooled.push_back(calls[r][w]); }
    }
  }
  if (pooled.empty()) return;
  double base = stats::median(pooled);
  for (size_t r = 0; r < c.R; ++r) {
    std::vector<bool> flag(W.size());
    for (size_t w = 0; w < W.size(); ++w)
      flag[w] = std::isfinite(calls[r][w]) && calls[r][w] >= base + 1.5 && calls[r][w] >= 1.5 * base;
    for (auto [b, e] : runs(flag, 1)) {
      std::vector<double> v;
      for (size_t w = b; w <= e; ++w) if (flag[w]) v.push_back(calls[r][w]);
      Finding fd;
      fd.kind = "allocator_churn";
      fd.ranks = {c.m.ranks[r].info.rank};
      fd.first_step = c.idx(W[b].first);
      fd.last_step = c.idx(W[e].second - 1);
      double obs = stats::median(v);
      fd.magnitude = obs / std::max(base, 1.0);
      fd.evidence = fmt::format("rank {} made {:.1f} device allocation calls (malloc+free) per step in {} against a run median of {:.1f}.",
                                fd.ranks[0], obs, steps_text(fd.first_step, fd.last_step), base);
      out.push_back(std::move(fd));
    }
  }
}

void ooms(const Ctx& c, std::vector<Finding>& out) {
  for (const auto& rd : c.m.ranks) {
    uint64_t fails = rd.mem.failures;
    std::optional<uint64_t> first, last;
    uint64_t step_fails = 0;
    for (const auto& s : rd.steps)
      if (s.alloc_failures) {
        step_fails += s.alloc_failures;
        if (!first) first = s.index;
        last = s.index;
      }
    fails = std::max(fails, step_fails);
    if (fails == 0) continue;
    Finding fd;
    fd.kind = "oom";
    fd.ranks = {rd.info.rank};
    uint64_t ls = rd.steps.empty() ? 0 : rd.steps.back().index;
    fd.first_step = first.value_or(ls);
    fd.last_step = last.value_or(ls);
    fd.magnitude = double(fails);
    fd.evidence = fmt::format("rank {}: {} device allocation(s) failed with out-of-memory ({}){}; peak {} MiB live.", rd.info.rank, fails,
                              steps_text(fd.first_step, fd.last_step),
                              rd.mem.retries ? fmt::format(", {} retried after the failure", rd.mem.retries) : std::string(),
                              rd.mem.peak >> 20);
    out.push_back(std::move(fd));
  }
}

std::optional<uint64_t> last_completed(const RankData& rd) {
  for (auto it = rd.steps.rbegin(); it != rd.steps.rend(); ++it)
    if (it->completed()) return it->index;
  return std::nullopt;
}

bool died(const RankData& rd) {
  return rd.info.state == RankState::killed || rd.info.state == RankState::crashed ||
         (rd.info.state == RankState::exited && rd.info.exit_code != 0);
}

void hangs_and_crashes(const Ctx& c, std::vector<Finding>& out) {
  // The run's furthest step: a rank that died before it died early.
  std::optional<uint64_t> run_last;
  for (const auto& rd : c.m.ranks) {
    auto l = last_completed(rd);
    if (l && (!run_last || *l > *run_last)) run_last = l;
  }
  // Collective sequence numbers per communicator: ranks behind the others never entered
  // the collective the others are waiting in.
  std::map<uint64_t, std::vector<std::pair<size_t, const CommSeq*>>> comms;
  for (size_t r = 0; r < c.R; ++r)
    for (const auto& cs : c.m.ranks[r].comms) comms[cs.comm].push_back({r, &cs});
  std::set<size_t> lagging, waiting;
  std::string hang_op, hang_where;  // hang_where: "communicator <id>, sequence number <S>"
  for (auto& [id, v] : comms) {
    uint64_t max_enq = 0;
    for (auto& [r, cs] : v) max_enq = std::max(max_enq, cs->enqueued);
    bool stuck = false;
    for (auto& [r, cs] : v)
      if (cs->completed < cs->enqueued) { stuck = true; waiting.insert(r); }
    // The collective the others wait in: sequence max_enq, its op from a rank that issued it;
    // a communicator with ranks behind is the one to name.
    bool lags = std::any_of(v.begin(), v.end(), [&](auto& p) { return p.second->enqueued < max_enq; });
    if (stuck && (hang_where.empty() || lags)) {
      hang_where = fmt::format("communicator {:016x}, sequence number {}", id, max_enq);
      for (auto& [r, cs] : v)
        if (cs->enqueued == max_enq && !cs->last_op.empty()) { hang_op = cs->last_op; break; }
    }
    if (!stuck) continue;
    for (auto& [r, cs] : v)
      if (cs->enqueued < max_enq) lagging.insert(r);
  }
  // A crash is a rank that died while the others were still alive: its last sign of life
  // (heartbeat/exit) is well before the run's last, or it died of a fault signal, or it
  // stopped before the steps the others completed. Ranks killed together at the end (the
  // launcher stopping a hung or interrupted job) are not crashes.
  uint64_t run_alive = 0;
  for (const auto& rd : c.m.ranks) run_alive = std::max(run_alive, rd.info.last_alive_ns);
  std::set<size_t> crashed;
  size_t died_n = 0;
  for (size_t r = 0; r < c.R; ++r) {
    const auto& rd = c.m.ranks[r];
    if (!died(rd)) continue;
    ++died_n;
    auto l = last_completed(rd);
    bool early = rd.info.state == RankState::crashed || (run_last && (!l || *l < *run_last)) ||
                 (rd.info.last_alive_ns && run_alive > rd.info.last_alive_ns + 2000000000ull);
    if (early) crashed.insert(r);
  }
  // A rank the others were waiting for that died of a different signal than the rest (SIGKILL
  // of one rank, then the launcher's SIGTERM to the others) crashed; one killed like everybody
  // else hung first and was stopped afterwards.
  {
    std::map<int, size_t> sigs;
    for (size_t r = 0; r < c.R; ++r) if (died(c.m.ranks[r])) sigs[c.m.ranks[r].info.signal]++;
    int common = 0;
    size_t best = 0;
    for (auto [sg, n] : sigs) if (n > best) { best = n; common = sg; }
    for (size_t r : lagging)
      if (died(c.m.ranks[r]) && (c.m.ranks[r].info.signal != common || best == 1)) crashed.insert(r);
  }
  if (crashed.empty() && died_n > 0 && died_n < c.R && waiting.empty())
    for (size_t r = 0; r < c.R; ++r) if (died(c.m.ranks[r])) crashed.insert(r);  // some ranks died, the rest finished
  for (size_t r : crashed) {
    const auto& rd = c.m.ranks[r];
    auto l = last_completed(rd);
    Finding fd;
    fd.kind = "crash";
    fd.ranks = {rd.info.rank};
    fd.first_step = fd.last_step = l ? *l + 1 : 0;
    fd.magnitude = 1.0;
    std::string how = rd.info.signal ? fmt::format("was killed by signal {}", rd.info.signal)
                                     : fmt::format("exited with status {}", rd.info.exit_code);
    fd.evidence = fmt::format("rank {} {} ({}) during step {}{}.", rd.info.rank, how, to_string(rd.info.state), fd.first_step,
                              l ? fmt::format(", after completing step {}", *l) : std::string(", before completing any step"));
    out.push_back(std::move(fd));
  }
  std::vector<int> culprits;
  for (size_t r : lagging) if (!crashed.count(r)) culprits.push_back(c.m.ranks[r].info.rank);
  bool lag_explained_by_crash = !lagging.empty() && culprits.empty();
  if (culprits.empty() && !lag_explained_by_crash) {
    // Everyone is waiting and nobody is behind: report the waiting ranks that were still running.
    for (size_t r : waiting)
      if (c.m.ranks[r].info.state == RankState::running || c.m.ranks[r].info.state == RankState::killed) culprits.push_back(c.m.ranks[r].info.rank);
  }
  if (culprits.empty()) return;
  std::sort(culprits.begin(), culprits.end());
  std::optional<uint64_t> stop;
  auto is_culprit = [&](size_t r) { return std::binary_search(culprits.begin(), culprits.end(), c.m.ranks[r].info.rank); };
  for (size_t r = 0; r < c.R; ++r)
    if (is_culprit(r)) {
      auto l = last_completed(c.m.ranks[r]);
      uint64_t s = l ? *l + 1 : 0;
      if (!stop || s < *stop) stop = s;
    }
  Finding fd;
  fd.kind = "hang";
  fd.ranks = culprits;
  fd.first_step = fd.last_step = stop.value_or(0);
  fd.magnitude = 1.0;
  if (!hang_op.empty()) fd.collective = hang_op;
  bool all_dead = true;
  for (size_t r = 0; r < c.R; ++r)
    if (is_culprit(r)) all_dead = all_dead && died(c.m.ranks[r]);
  const size_t culprits_waiting = size_t(std::count_if(waiting.begin(), waiting.end(), is_culprit));
  fd.evidence = fmt::format("{} never entered the {} ({}) that {} other rank(s) were waiting in at step {}; the job stopped progressing there{}.",
                            rank_list(culprits), hang_op.empty() ? "collective" : hang_op,
                            hang_where.empty() ? std::string("sequence unknown") : hang_where,
                            waiting.size() - std::min(waiting.size(), culprits_waiting),
                            fd.first_step, all_dead ? " (the process ended killed; its exit signal was not recorded)" : "");
  out.push_back(std::move(fd));
}

int kind_order(const std::string& k) {
  static const char* order[] = {"crash", "hang", "oom", "anomalous_window", "straggler_rank", "host_stall",
                                "slow_collective", "degraded_kernel", "allocator_churn"};
  for (int i = 0; i < 9; ++i) if (k == order[i]) return i;
  return 9;
}

}  // namespace

std::vector<Finding> find_anomalies(const RunModel& m, const Analysis& a) {
  std::vector<Finding> out;
  Ctx c{m, a, m.ranks.size(), a.steps.size(), a.first_steady, {}, 0, {}, {}};
  for (const auto& r : m.ranks) c.all_ranks.push_back(r.info.rank);
  std::sort(c.all_ranks.begin(), c.all_ranks.end());
  hangs_and_crashes(c, out);
  ooms(c, out);
  if (c.S > c.f) {
    c.base_step = a.step_summary.p50;
    c.base_gap = steady_gap_baseline(c, c.gap_residuals);
    anomalous_windows(c, out);
    std::vector<Finding> late;
    stragglers(c, late);
    host_stalls(c, late);
    slow_collectives(c, late, out);
    out.insert(out.end(), late.begin(), late.end());
    degraded_kernels(c, out);
    allocator_churn(c, out);
    // Per-window data covers whole windows; a run that ended inside one must not be reported
    // as slow in steps it never ran.
    const uint64_t last = c.idx(c.S - 1);
    for (auto& fd : out)
      if (fd.kind != "hang" && fd.kind != "crash" && fd.kind != "oom") {
        fd.last_step = std::min(fd.last_step, last);
        fd.first_step = std::min(fd.first_step, fd.last_step);
      }
  }
  std::stable_sort(out.begin(), out.end(), [](const Finding& x, const Finding& y) {
    return std::make_tuple(kind_order(x.kind), x.first_step, x.ranks, x.kernel.value_or("")) <
           std::make_tuple(kind_order(y.kind), y.first_step, y.ranks, y.kernel.value_or(""));
  });
  return out;
}

}  // namespace argus::report
