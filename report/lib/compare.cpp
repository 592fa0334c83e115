#include "compare.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "demangle.h"
#include "record_reader.h"
#include "render.h"

namespace argus::report {
namespace {

using ojson = nlohmann::ordered_json;

// What one run contributes to a comparison.
struct Derived {
  std::vector<double> step_w, coll_w, skew_w;         // window samples
  double step_med = 0, gap_per_step = 0, coll_per_step = 0;
  struct K {
    std::vector<double> window_means;                 // mean duration per window (all ranks)
    double count = 0, total_ns = 0;                   // steady, summed over ranks
    bool collective = false;
  };
  std::map<std::string, K> kernels;
  double covered = 0;                                 // rank-steps the kernel figures cover
  bool have_windows = false;
  std::set<std::tuple<std::string, std::string, uint64_t>> coll_keys;
  uint64_t mem_peak = 0, alloc_failures = 0;
  int world = 0;
  double gpu_total = 0;
  double host_other = std::nan("");                   // busiest host: other processes' CPU share
};

double nan_mean(const BulkVector<float>& row, size_t b, size_t e) {
  double s = 0; size_t n = 0;
  for (size_t p = b; p < e; ++p) if (std::isfinite(row[p])) { s += row[p]; ++n; }
  return n ? s / double(n) : std::nan("");
}

double finite_median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  return v.empty() ? std::nan("") : stats::median(std::move(v));
}

Derived derive(const LoadedRun& run) {
  const RunModel& m = run.model;
  const Analysis& a = run.analysis;
  Derived d;
  size_t R = m.ranks.size(), S = a.steps.size();
  d.world = int(R);
  // Samples are means over windows of at least 5 steps: consecutive steps are correlated
  // (queues, clocks, allocator state), windows of several steps much less so.
  std::vector<std::pair<size_t, size_t>> wins;
  size_t W = std::max<size_t>(5, size_t(a.window_steps));
  for (size_t b = a.first_steady; b + (W + 1) / 2 <= S; b += W) wins.push_back({b, std::min(S, b + W)});
  for (auto [b, e] : wins) {
    double s = 0; size_t n = 0;
    for (size_t p = b; p < e; ++p) if (std::isfinite(a.job_step_ns[p])) { s += a.job_step_ns[p]; ++n; }
    if (n) d.step_w.push_back(s / double(n));
    std::vector<double> coll, comp;
    for (size_t r = 0; r < R; ++r) { coll.push_back(nan_mean(a.coll_ns[r], b, e)); comp.push_back(nan_mean(a.compute_ns[r], b, e)); }
    double cm = finite_median(coll);
    if (std::isfinite(cm)) d.coll_w.push_back(cm);
    double med = finite_median(comp);
    double mx = 0;
    for (double x : comp) if (std::isfinite(x)) mx = std::max(mx, x);
    if (med > 0) d.skew_w.push_back(mx / med);
  }
  d.step_med = a.step_summary.p50;
  {
    double gs = 0, cs = 0, n = 0;
    for (size_t r = 0; r < R; ++r)
      for (size_t p = a.first_steady; p < S; ++p)
        if (std::isfinite(a.gap_ns[r][p])) { gs += a.gap_ns[r][p]; cs += a.coll_ns[r][p]; n += 1; }
    d.gap_per_step = n ? gs / n : 0;
    d.coll_per_step = n ? cs / n : 0;
  }
  uint64_t steady_first = S ? a.steps[std::min(a.first_steady, S - 1)] : 0;
  uint64_t last_step = S ? a.steps.back() : 0;
  // Per-window kernel data of the steady state, summed over ranks.
  std::map<std::string, std::map<uint64_t, std::pair<double, double>>> per_window;
  std::set<std::pair<uint64_t, uint64_t>> windows;
  for (const auto& rd : m.ranks)
    for (const auto& kw : rd.kernel_windows) {
      if (kw.first_step < steady_first || S == 0) continue;
      const auto& k = rd.kernels[kw.kernel];
      auto& x = per_window[k.name][kw.first_step];
      x.first += double(kw.total_ns);
      x.second += double(kw.count);
      windows.insert({kw.first_step, std::min(kw.last_step, last_step)});
      d.kernels[k.name].collective = k.is_collective;
    }
  if (!windows.empty()) {
    d.have_windows = true;
    double steps = 0;
    for (auto [f, l] : windows) steps += double(l >= f ? l - f + 1 : 0);
    d.covered = steps * double(R);
    for (auto& [name, wins] : per_window) {
      auto& k = d.kernels[name];
      for (auto& [first, x] : wins) {
        if (x.second > 0) k.window_means.push_back(x.first / x.second);
        k.count += x.second;
        k.total_ns += x.first;
      }
    }
  } else {
    // No window data: whole-run figures, one sample per rank.
    double steps = 0;
    for (const auto& rd : m.ranks) steps += double(std::max<uint64_t>(1, rd.steps_total));
    d.covered = steps;
    for (const auto& rd : m.ranks)
      for (const auto& k : rd.kernels) {
        auto& x = d.kernels[k.name];
        x.collective = k.is_collective;
        x.count += double(k.count);
        x.total_ns += double(k.total_ns);
        if (k.count) x.window_means.push_back(double(k.total_ns) / double(k.count));
      }
  }
  for (auto& [n, k] : d.kernels) d.gpu_total += k.total_ns;
  for (const auto& c : a.collectives) d.coll_keys.insert({c.op, c.dtype, c.bytes_per_call});
  d.mem_peak = a.memory.peak;
  d.alloc_failures = a.memory.failures;
  d.host_other = a.integrity.host_other_share;
  return d;
}

std::vector<double> concat(const std::vector<const Derived*>& ds, std::vector<double> Derived::*f) {
  std::vector<double> out;
  for (auto* d : ds) out.insert(out.end(), (d->*f).begin(), (d->*f).end());
  return out;
}

void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], prefix + "[" + std::to_string(i) + "]", out);
  } else {
    out[prefix] = j.is_string() ? j.get<std::string>() : j.dump();
  }
}

bool volatile_key(const std::string& k) {
  // Times, ids and live readings differ between any two runs of the same job.
  static const char* words[] = {"time", "_ns", "pid", "run_id", "launch_id", "temperature", "uptime", "date", "dirty_files", "free", "available", "load"};
  std::string low = k;
  std::transform(low.begin(), low.end(), low.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* w : words) if (low.find(w) != std::string::npos) return true;
  return false;
}

std::string short_name(const std::string& raw, size_t n = 70) {
  std::string d = demangle(raw);
  return d.size() > n ? d.substr(0, n - 3) + "..." : d;
}

}  // namespace

std::vector<EnvDiff> environment_diff(const std::string& ta, const std::string& tb) {
  std::vector<EnvDiff> out;
  auto ja = nlohmann::json::parse(ta, nullptr, false), jb = nlohmann::json::parse(tb, nullptr, false);
  if (ja.is_discarded() || jb.is_discarded() || !ja.is_object() || !jb.is_object()) return out;
  std::map<std::string, std::string> fa, fb;
  for (const char* k : {"command", "environment", "hosts", "fingerprint", "software", "git"}) {
    if (ja.contains(k)) flatten(ja[k], k, fa);
    if (jb.contains(k)) flatten(jb[k], k, fb);
  }
  std::set<std::string> keys;
  for (auto& [k, v] : fa) keys.insert(k);
  for (auto& [k, v] : fb) keys.insert(k);
  for (const auto& k : keys) {
    if (volatile_key(k)) continue;
    auto ia = fa.find(k), ib = fb.find(k);
    std::string va = ia == fa.end() ? "" : ia->second, vb = ib == fb.end() ? "" : ib->second;
    if (va != vb) out.push_back({k, va, vb});
  }
  return out;
}

LoadedRun load_for_compare(const std::string& dir, const CompareOptions& opt) {
  LoadedRun r;
  r.dir = dir;
  r.model = load_run(dir);
  AnalysisOptions ao;
  ao.warmup = opt.warmup;
  r.analysis = analyze(r.model, ao);
  return r;
}

CompareResult compare_runs(const std::vector<const LoadedRun*>& A, const std::vector<const LoadedRun*>& B, const CompareOptions& opt) {
  CompareResult res;
  res.alpha = opt.alpha;
  std::vector<Derived> da, db;
  for (auto* r : A) { res.baseline_dirs.push_back(r->dir); da.push_back(derive(*r)); }
  for (auto* r : B) { res.candidate_dirs.push_back(r->dir); db.push_back(derive(*r)); }
  std::vector<const Derived*> pa, pb;
  for (auto& d : da) pa.push_back(&d);
  for (auto& d : db) pb.push_back(&d);

  // Environment: first baseline vs first candidate (and every further run against the first).
  if (!A.empty() && !B.empty()) {
    std::set<std::string> seen;
    for (auto* r : B)
      for (auto& e : environment_diff(A.front()->model.meta_json, r->model.meta_json))
        if (seen.insert(e.key + "\x1f" + e.candidate).second) res.env.push_back(e);
  }

  // Metrics.
  auto add_metric = [&](std::string name, std::string kind, std::string display, std::string unit, std::vector<double> a, std::vector<double> b, bool relevant, double share) {
    MetricResult m;
    m.name = std::move(name); m.kind = std::move(kind); m.display = std::move(display); m.unit = std::move(unit);
    m.a = std::move(a); m.b = std::move(b);
    m.relevant = relevant; m.share = share;
    m.med_a = m.a.empty() ? 0 : stats::median(m.a);
    m.med_b = m.b.empty() ? 0 : stats::median(m.b);
    m.ci_a = stats::median_ci(m.a);
    m.ci_b = stats::median_ci(m.b);
    m.delta = m.med_a != 0 ? (m.med_b - m.med_a) / m.med_a : 0;
    m.testable = stats::mann_whitney_min_p(m.a.size(), m.b.size()) <= opt.alpha;
    if (!m.a.empty() && !m.b.empty()) m.p = stats::mann_whitney(m.a, m.b).p;
    res.metrics.push_back(std::move(m));
  };
  add_metric("step_time", "step", "step time", "ms", concat(pa, &Derived::step_w), concat(pb, &Derived::step_w), true, 1.0);
  {
    double coll_a = 0, step_a = 0;
    for (auto* d : pa) { coll_a += d->coll_per_step; step_a += d->step_med; }
    bool rel = step_a > 0 && coll_a / step_a >= 0.02;
    add_metric("collective_time", "collective", "time in collectives per step", "ms", concat(pa, &Derived::coll_w), concat(pb, &Derived::coll_w), rel, 0);
  }
  if (!da.empty() && da.front().world > 1)
    add_metric("rank_skew", "skew", "slowest rank / median rank (GPU compute)", "ratio", concat(pa, &Derived::skew_w), concat(pb, &Derived::skew_w), true, 0);
  {
    std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> ks;
    std::map<std::string, double> share;
    std::map<std::string, bool> coll;
    double total_a = 0;
    for (auto* d : pa) total_a += d->gpu_total;
    for (auto* d : pa) for (auto& [n, k] : d->kernels) { auto& v = ks[n].first; v.insert(v.end(), k.window_means.begin(), k.window_means.end()); share[n] += total_a > 0 ? k.total_ns / total_a : 0; coll[n] = k.collective; }
    for (auto* d : pb) for (auto& [n, k] : d->kernels) { auto& v = ks[n].second; v.insert(v.end(), k.window_means.begin(), k.window_means.end()); coll[n] = coll[n] || k.collective; }
    std::vector<std::pair<double, std::string>> order;
    for (auto& [n, v] : ks) if (!v.first.empty() && !v.second.empty()) order.push_back({-share[n], n});
    std::sort(order.begin(), order.end());
    for (auto& [s, n] : order)
      add_metric("kernel:" + n, "kernel", short_name(n), "us", ks[n].first, ks[n].second, !coll[n] && -s >= 0.01, -s);
  }
  // Benjamini–Hochberg over every tested metric.
  {
    std::vector<double> ps;
    std::vector<size_t> idx;
    for (size_t i = 0; i < res.metrics.size(); ++i)
      if (res.metrics[i].testable && !res.metrics[i].a.empty() && !res.metrics[i].b.empty()) { ps.push_back(res.metrics[i].p); idx.push_back(i); }
    auto q = stats::benjamini_hochberg(ps);
    for (size_t k = 0; k < idx.size(); ++k) {
      auto& m = res.metrics[idx[k]];
      m.q = q[k];
      m.significant = m.q < opt.alpha;
    }
  }

  // Structural differences.
  auto per_step = [](const std::vector<const Derived*>& ds, std::map<std::string, double>& out) {
    std::map<std::string, double> cnt;
    double cov = 0;
    for (auto* d : ds) { cov += d->covered; for (auto& [n, k] : d->kernels) cnt[n] += k.count; }
    for (auto& [n, c] : cnt) out[n] = cov > 0 ? c / cov : 0;
  };
  std::map<std::string, double> ca, cb;
  per_step(pa, ca);
  per_step(pb, cb);
  for (auto& [n, v] : ca)
    if (v > 0 && (!cb.count(n) || cb[n] == 0)) res.structural.push_back({"kernel_disappeared", n, fmt::format("{:.3g}/step", v), "absent", short_name(n) + " ran in the baseline but not in the candidate"});
  for (auto& [n, v] : cb)
    if (v > 0 && (!ca.count(n) || ca[n] == 0)) res.structural.push_back({"kernel_appeared", n, "absent", fmt::format("{:.3g}/step", v), short_name(n) + " ran in the candidate but not in the baseline"});
  for (auto& [n, v] : ca) {
    if (!cb.count(n) || v <= 0 || cb[n] <= 0) continue;
    double rel = (cb[n] - v) / v;
    if (std::fabs(rel) > 0.01 && std::fabs(cb[n] - v) >= 0.05)
      res.structural.push_back({"launch_count_changed", n, fmt::format("{:.3g}/step", v), fmt::format("{:.3g}/step", cb[n]),
                                fmt::format("{} launches per rank and step changed by {:+.1f}%", short_name(n), 100 * rel)});
  }
  {
    std::set<std::tuple<std::string, std::string, uint64_t>> ka, kb;
    for (auto* d : pa) ka.insert(d->coll_keys.begin(), d->coll_keys.end());
    for (auto* d : pb) kb.insert(d->coll_keys.begin(), d->coll_keys.end());
    auto text = [](const auto& k) { return fmt::format("{} {} {}", std::get<0>(k), std::get<1>(k), human_bytes(double(std::get<2>(k)))); };
    for (auto& k : ka) if (!kb.count(k)) res.structural.push_back({"collective_disappeared", std::get<0>(k), text(k), "absent", "collective " + text(k) + " only in the baseline"});
    for (auto& k : kb) if (!ka.count(k)) res.structural.push_back({"collective_appeared", std::get<0>(k), "absent", text(k), "collective " + text(k) + " only in the candidate"});
  }
  {
    double pa_peak = 0, pb_peak = 0;
    uint64_t fa = 0, fb = 0;
    int wa = 0, wb = 0;
    for (auto* d : pa) { pa_peak = std::max(pa_peak, double(d->mem_peak)); fa += d->alloc_failures; wa = std::max(wa, d->world); }
    for (auto* d : pb) { pb_peak = std::max(pb_peak, double(d->mem_peak)); fb += d->alloc_failures; wb = std::max(wb, d->world); }
    if (pa_peak > 0 && std::fabs(pb_peak - pa_peak) / pa_peak > 0.05)
      res.structural.push_back({"memory_peak_changed", "peak live device memory", human_bytes(pa_peak), human_bytes(pb_peak),
                                fmt::format("peak live device memory changed by {:+.1f}%", 100 * (pb_peak - pa_peak) / pa_peak)});
    if ((fa == 0) != (fb == 0))
      res.structural.push_back({"alloc_failures_changed", "allocation failures", std::to_string(fa), std::to_string(fb), "device allocation failures (out of memory) in only one side"});
    if (wa != wb) res.structural.push_back({"world_size_changed", "ranks", std::to_string(wa), std::to_string(wb), "different number of ranks"});
  }

  // Attribution of the step-time change.
  {
    double sa = 0, sb = 0, ga = 0, gb = 0, cla = 0, clb = 0;
    for (auto* d : pa) { sa += d->step_med; ga += d->gap_per_step; cla += d->coll_per_step; }
    for (auto* d : pb) { sb += d->step_med; gb += d->gap_per_step; clb += d->coll_per_step; }
    if (!pa.empty()) { sa /= double(pa.size()); ga /= double(pa.size()); cla /= double(pa.size()); }
    if (!pb.empty()) { sb /= double(pb.size()); gb /= double(pb.size()); clb /= double(pb.size()); }
    res.step_delta_ns = sb - sa;
    std::map<std::string, double> ta, tb;
    double cova = 0, covb = 0;
    for (auto* d : pa) { cova += d->covered; for (auto& [n, k] : d->kernels) if (!k.collective) ta[n] += k.total_ns; }
    for (auto* d : pb) { covb += d->covered; for (auto& [n, k] : d->kernels) if (!k.collective) tb[n] += k.total_ns; }
    std::set<std::string> names;
    for (auto& [n, v] : ta) names.insert(n);
    for (auto& [n, v] : tb) names.insert(n);
    for (const auto& n : names) {
      double x = cova > 0 ? ta[n] / cova : 0, y = covb > 0 ? tb[n] / covb : 0;
      res.attribution.push_back({"kernel", n, short_name(n), y - x, 0});
    }
    res.attribution.push_back({"collectives", "collectives", "time in collectives", clb - cla, 0});
    res.attribution.push_back({"host_gap", "host_gap", "host gaps (GPU idle)", gb - ga, 0});
    double sum = 0;
    for (auto& at : res.attribution) {
      at.share = res.step_delta_ns != 0 ? at.delta_ns_per_step / res.step_delta_ns : 0;
      sum += at.delta_ns_per_step;
    }
    res.explained = res.step_delta_ns != 0 ? sum / res.step_delta_ns : 0;
    // Items backed by a metric that counts toward the verdict (relevant, significant, effect
    // >= min_effect; a kernel: its own metric; collectives: collective_time; host gaps:
    // step_time) first, then the rest, each largest first: otherwise host-gap noise of tens
    // to hundreds of us/step outranks a real 2% kernel slowdown.
    std::set<std::string> sig;
    for (const auto& m : res.metrics)
      if (m.relevant && m.significant && std::fabs(m.delta) >= opt.min_effect) sig.insert(m.name);
    auto backed = [&](const Attribution& x) {
      return sig.count(x.what == "kernel" ? "kernel:" + x.name : x.what == "collectives" ? "collective_time" : "step_time") > 0;
    };
    std::stable_sort(res.attribution.begin(), res.attribution.end(), [&](const Attribution& x, const Attribution& y) {
      bool bx = backed(x), by = backed(y);
      if (bx != by) return bx;
      return std::fabs(x.delta_ns_per_step) > std::fabs(y.delta_ns_per_step);
    });
    if (res.attribution.size() > 12) res.attribution.resize(12);
  }

  // Verdict.
  bool different = false;
  for (const auto& m : res.metrics)
    if (m.relevant && m.significant && std::fabs(m.delta) >= opt.min_effect) {
      different = true;
      res.reasons.push_back(fmt::format("{} changed by {:+.2f}% (q = {:.2g})", m.display, 100 * m.delta, m.q));
    }
  for (const auto& s : res.structural) {
    different = true;
    res.reasons.push_back(s.detail);
  }
  // Host interference: the difference is all host-side (step time and collective wait moved,
  // no kernel and nothing structural did) and the slower side ran on a host that other
  // processes kept busier.  Kernel durations are the job's own; waits and host gaps are also
  // its neighbours'.  Calling that a regression of the job would be a guess either way.
  {
    auto side_mean = [](const std::vector<const Derived*>& ds) {
      double s = 0; int n = 0;
      for (auto* d : ds) if (std::isfinite(d->host_other)) { s += d->host_other; ++n; }
      return n ? s / n : std::nan("");
    };
    res.host_other_a = side_mean(pa);
    res.host_other_b = side_mean(pb);
    bool host_side_only = different && res.structural.empty();
    for (const auto& m : res.metrics)
      if (m.relevant && m.significant && std::fabs(m.delta) >= opt.min_effect && m.kind != "step" && m.kind != "collective")
        host_side_only = false;
    double busier = res.step_delta_ns >= 0 ? res.host_other_b - res.host_other_a : res.host_other_a - res.host_other_b;
    if (host_side_only && std::isfinite(busier) && busier >= opt.host_interference) {
      res.host_interference = true;
      res.verdict = "inconclusive";
      res.reasons.push_back(fmt::format(
          "only host-side time changed (collective wait, host gaps; no kernel, nothing structural) and the {} ran on a busier host: "
          "other processes used {:.0f}% of its CPU, against {:.0f}% in the {}; rerun both on a quiet host to tell the job from its neighbours",
          res.step_delta_ns >= 0 ? "candidate" : "baseline", 100 * std::max(res.host_other_a, res.host_other_b),
          100 * std::min(res.host_other_a, res.host_other_b), res.step_delta_ns >= 0 ? "baseline" : "candidate"));
      return res;
    }
  }
  const auto& step = res.metrics.front();
  if (different) res.verdict = "different";
  else if (!step.testable || step.a.size() < 3 || step.b.size() < 3) {
    res.verdict = "inconclusive";
    res.reasons.push_back(fmt::format("need more samples: {} and {} steady-state step windows cannot show a difference at alpha = {}",
                                      step.a.size(), step.b.size(), opt.alpha));
  } else {
    res.verdict = "same";
    res.reasons.push_back("no metric differs beyond noise and the structure (kernels, launch counts, collective sizes) is identical");
  }
  return res;
}

namespace {
ojson side(const MetricResult& m, bool b) {
  double scale = m.unit == "ms" ? 1e-6 : m.unit == "us" ? 1e-3 : 1.0;
  const auto& s = b ? m.b : m.a;
  const auto& ci = b ? m.ci_b : m.ci_a;
  return {{"median", round_sig((b ? m.med_b : m.med_a) * scale)}, {"ci_low", round_sig(ci.lo * scale)}, {"ci_high", round_sig(ci.hi * scale)},
          {"ci_confidence", round_sig(ci.confidence, 4)}, {"n", s.size()}};
}
}  // namespace

ojson compare_json(const CompareResult& r) {
  ojson j;
  j["schema"] = "argus.compare/1";
  j["verdict"] = r.verdict;
  j["reasons"] = r.reasons;
  j["alpha"] = r.alpha;
  j["baseline"] = {{"runs", r.baseline_dirs}};
  j["candidate"] = {{"runs", r.candidate_dirs}};
  ojson env = ojson::array();
  for (const auto& e : r.env)
    env.push_back({{"key", e.key}, {"baseline", e.baseline.empty() ? ojson(nullptr) : ojson(e.baseline)},
                   {"candidate", e.candidate.empty() ? ojson(nullptr) : ojson(e.candidate)}});
  j["environment"] = {{"changed", !r.env.empty()}, {"differences", env}};
  auto share = [](double x) { return std::isfinite(x) ? ojson(round_sig(x, 3)) : ojson(nullptr); };
  j["host_load"] = {{"baseline_other_share", share(r.host_other_a)}, {"candidate_other_share", share(r.host_other_b)},
                    {"held_back_verdict", r.host_interference}};
  ojson st = ojson::array();
  for (const auto& s : r.structural)
    st.push_back({{"kind", s.kind}, {"name", s.name}, {"baseline", s.baseline}, {"candidate", s.candidate}, {"detail", s.detail}});
  j["structural"] = st;
  ojson ms = ojson::array();
  for (const auto& m : r.metrics) {
    ojson x;
    x["name"] = m.name;
    x["kind"] = m.kind;
    x["display"] = m.display;
    x["unit"] = m.unit;
    x["baseline"] = side(m, false);
    x["candidate"] = side(m, true);
    x["delta_pct"] = round_sig(100 * m.delta, 4);
    x["p"] = round_sig(m.p, 4);
    x["q"] = round_sig(m.q, 4);
    x["testable"] = m.testable;
    x["significant"] = m.significant;
    x["counts_for_verdict"] = m.relevant;
    x["gpu_share"] = round_sig(m.share, 4);
    ms.push_back(std::move(x));
  }
  j["metrics"] = ms;
  ojson at = ojson::array();
  for (const auto& a : r.attribution)
    at.push_back({{"what", a.what}, {"name", a.name}, {"display", a.display}, {"delta_ms_per_step", round_sig(a.delta_ns_per_step / 1e6)},
                  {"share", round_sig(a.share, 4)}});
  j["attribution"] = {{"step_delta_ms", round_sig(r.step_delta_ns / 1e6)}, {"explained", round_sig(r.explained, 4)}, {"items", at}};
  return j;
}

std::string compare_markdown(const CompareResult& r) {
  std::string o;
  auto line = [&](const std::string& s) { o += s; o += '\n'; };
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + md_escape(v[i]);
    return s;
  };
  line("# Argus compare");
  line("");
  line(fmt::format("**Verdict: {}**", r.verdict));
  line("");
  line("Baseline: " + list(r.baseline_dirs) + "  ");
  line("Candidate: " + list(r.candidate_dirs));
  line("");
  for (const auto& why : r.reasons) line("- " + md_escape(why));
  line("");
  line("## Environment");
  line("");
  if (r.env.empty()) line("No difference in run_meta.json (commands, environment variables, versions, hosts, machine fingerprint).");
  else {
    line("| key | baseline | candidate |");
    line("|---|---|---|");
    for (const auto& e : r.env)
      line("| " + md_escape(e.key) + " | " + (e.baseline.empty() ? "*absent*" : md_short(e.baseline, 80)) + " | " +
           (e.candidate.empty() ? "*absent*" : md_short(e.candidate, 80)) + " |");
  }
  if (std::isfinite(r.host_other_a) || std::isfinite(r.host_other_b)) {
    auto pct = [](double x) { return std::isfinite(x) ? fmt::format("{:.0f}%", 100 * x) : std::string("unknown"); };
    line("");
    line(fmt::format("Host CPU used by other processes while the job ran (share of the busiest host's capacity): baseline {}, candidate {}.",
                     pct(r.host_other_a), pct(r.host_other_b)));
  }
  line("");
  line("## Structural differences");
  line("");
  if (r.structural.empty()) line("None: the same kernels, launch counts per step, collective sizes and memory behaviour.");
  else {
    line("| kind | what | baseline | candidate |");
    line("|---|---|---|---|");
    for (const auto& s : r.structural)
      line("| " + s.kind + " | " + md_short(s.kind.rfind("kernel", 0) == 0 || s.kind == "launch_count_changed" ? demangle(s.name) : s.name, 80) + " | " +
           md_escape(s.baseline) + " | " + md_escape(s.candidate) + " |");
  }
  line("");
  line("## Metrics");
  line("");
  line(fmt::format("Medians of steady-state window means with 95% confidence intervals; Mann–Whitney U, Benjamini–Hochberg adjusted (q) across all {} metrics, alpha = {}. `~` = no significant difference.",
                   r.metrics.size(), r.alpha));
  line("");
  line("| metric | baseline | candidate | delta | test |");
  line("|---|---|---|---|---|");
  size_t shown = 0;
  for (const auto& m : r.metrics) {
    if (m.kind == "kernel" && shown >= 30) continue;
    if (m.kind == "kernel") ++shown;
    double scale = m.unit == "ms" ? 1e-6 : m.unit == "us" ? 1e-3 : 1.0;
    auto cell = [&](double med, const stats::Interval& ci) {
      double rel = med != 0 ? std::max(med - ci.lo, ci.hi - med) / std::fabs(med) : 0;
      return fmt::format("{:.4g} {} ±{}%", med * scale, m.unit, 100 * rel >= 1 ? fmt::format("{:.0f}", 100 * rel) : fmt::format("{:.2f}", 100 * rel));
    };
    std::string delta = !m.testable ? "need more samples" : m.significant ? fmt::format("{:+.2f}%", 100 * m.delta) : "~";
    std::string test = fmt::format("p={:.3g} q={:.3g} n={}+{}", m.p, m.q, m.a.size(), m.b.size());
    line("| " + md_short(m.display, 70) + (m.relevant ? "" : " (info)") + " | " + cell(m.med_a, m.ci_a) + " | " + cell(m.med_b, m.ci_b) + " | " + delta + " | " + test + " |");
  }
  line("");
  line("## Attribution of the step-time change");
  line("");
  line(fmt::format("Step time changed by {:+.3f} ms per step; the items below add up to {:.0f}% of it (GPU time per rank and step, so overlapping work can add to more than 100%). Items backed by a significant difference come first, then the rest; each group largest first.",
                   r.step_delta_ns / 1e6, 100 * r.explained));
  line("");
  line("| item | change per step | share |");
  line("|---|---|---|");
  for (const auto& a : r.attribution)
    line(fmt::format("| {} | {:+.4f} ms | {:.0f}% |", md_short(a.display, 80), a.delta_ns_per_step / 1e6,
                     100 * a.share));
  return o;
}

}  // namespace argus::report
