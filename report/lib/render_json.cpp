#include <cmath>

#include <fmt/format.h>

#include "render.h"

namespace argus::report {

double round_sig(double x, int digits) {
  if (!std::isfinite(x) || x == 0) return 0.0;
  double mag = std::pow(10.0, digits - 1 - int(std::floor(std::log10(std::fabs(x)))));
  double r = std::round(x * mag) / mag;
  return r == 0 ? 0.0 : r;  // no -0
}

std::string human_bytes(double b) {
  const char* u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (b >= 1024 && i < 4) { b /= 1024; ++i; }
  return i == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.1f} {}", b, u[i]);
}

std::string dump_json(const ojson& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

ojson ms(double ns) { return round_sig(ns / 1e6); }
ojson us(double ns) { return round_sig(ns / 1e3); }

ojson opt_step(const std::optional<uint64_t>& s) { return s ? ojson(*s) : ojson(nullptr); }

ojson summary_ms(const stats::Summary& s) {
  ojson j;
  j["n"] = s.n;
  j["mean"] = ms(s.mean);
  j["std"] = ms(s.std);
  j["min"] = ms(s.min);
  j["max"] = ms(s.max);
  j["p50"] = ms(s.p50);
  j["p90"] = ms(s.p90);
  j["p99"] = ms(s.p99);
  j["cv"] = round_sig(s.cv, 4);
  return j;
}

// The parts of run_meta.json a reader of metrics.json wants at hand; the full file stays beside it.
ojson run_section(const RunModel& m) {
  ojson run;
  // The folder's name only: moving a run directory must not change its metrics.json.
  std::string dir = m.run_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (auto p = dir.find_last_of('/'); p != std::string::npos && p + 1 < dir.size()) dir = dir.substr(p + 1);
  run["dir"] = dir;
  ojson meta = ojson::parse(m.meta_json, nullptr, false);
  bool ok = !meta.is_discarded() && meta.is_object();
  run["run_meta"] = ok ? ojson("run_meta.json") : ojson(nullptr);
  for (const char* k : {"run_id", "name", "command", "hosts", "fingerprint"})
    run[k] = ok && meta.contains(k) ? meta[k] : ojson(nullptr);
  std::string rid;
  for (const auto& r : m.ranks) if (!r.info.run_id.empty()) { rid = r.info.run_id; break; }
  if (run["run_id"].is_null() && !rid.empty()) run["run_id"] = rid;
  return run;
}

}  // namespace

ojson metrics_json(const RunModel& m, const Analysis& a) {
  ojson j;
  j["schema"] = "argus.metrics/1";
  j["run"] = run_section(m);

  const auto& in = a.integrity;
  ojson ij;
  ij["complete"] = in.complete;
  ij["incomplete_reasons"] = in.incomplete_reasons;
  ij["ranks_expected"] = in.expected_ranks;
  ij["ranks_found"] = in.found_ranks;
  ij["missing_ranks"] = in.missing_ranks;
  ij["bad_files"] = ojson::array();
  for (const auto& b : in.bad_files) ij["bad_files"].push_back({{"file", b.file}, {"reason", b.reason}});
  ij["abnormal_ranks"] = ojson::array();
  for (const auto& e : in.abnormal)
    ij["abnormal_ranks"].push_back({{"rank", e.rank}, {"state", e.state}, {"signal", e.signal}, {"exit_code", e.exit_code}, {"last_step", opt_step(e.last_step)}});
  ij["unobservable"] = in.unobservable;
  ij["dropped"] = {{"kernels", in.dropped_kernels}, {"collectives", in.dropped_collectives}, {"steps", in.dropped_steps},
                   {"windows", in.dropped_windows}, {"other", in.dropped_other}};
  ij["steps_summarised"] = in.steps_not_in_ring;
  ij["overhead_pct"] = round_sig(in.overhead_pct, 4);
  ij["host_other_share"] = std::isfinite(in.host_other_share) ? ojson(round_sig(in.host_other_share, 3)) : ojson(nullptr);
  j["integrity"] = ij;

  ojson st;
  st["source"] = a.step_source;
  st["count"] = a.steps.size();
  st["first"] = a.steps.empty() ? ojson(nullptr) : ojson(a.steps.front());
  st["last"] = a.steps.empty() ? ojson(nullptr) : ojson(a.steps.back());
  st["warmup"] = {{"steps", a.warmup_steps}, {"method", a.warmup_method}};
  st["steady_count"] = a.steps.size() - a.first_steady;
  st["window_steps"] = a.window_steps;
  st["time_ms"] = summary_ms(a.step_summary);
  st["time_ms_all_ranks"] = summary_ms(a.step_summary_all_ranks);
  j["steps"] = st;

  ojson ks = ojson::array();
  for (const auto& k : a.kernels) {
    ojson kj;
    kj["name"] = k.raw;
    kj["demangled"] = k.demangled;
    kj["collective"] = k.is_collective;
    kj["count"] = k.count;
    kj["total_ms"] = ms(double(k.total_ns));
    kj["share"] = round_sig(k.share, 4);
    kj["per_step"] = round_sig(k.per_step, 4);
    kj["duration_us"] = {{"mean", us(k.mean_ns)}, {"p50", us(k.p50_ns)}, {"p90", us(k.p90_ns)}, {"p99", us(k.p99_ns)},
                         {"min", us(k.min_ns)}, {"max", us(k.max_ns)}};
    kj["ranks"] = k.ranks;
    kj["rank_spread"] = {{"min_ms_per_step", ms(k.rank_min_ns_per_step)}, {"max_ms_per_step", ms(k.rank_max_ns_per_step)},
                         {"cv", round_sig(k.rank_cv, 4)}};
    ks.push_back(std::move(kj));
  }
  j["kernels"] = std::move(ks);

  ojson cs = ojson::array();
  for (const auto& c : a.collectives) {
    ojson cj;
    cj["op"] = c.op;
    cj["dtype"] = c.dtype;
    cj["comm_size"] = c.comm_size;
    cj["bytes_per_call"] = c.bytes_per_call;
    cj["count"] = c.count;
    cj["bytes"] = c.bytes;
    cj["ranks"] = c.ranks;
    cj["total_ms"] = ms(c.total_ns);
    cj["duration_us"] = {{"p50", us(c.p50_ns)}, {"p90", us(c.p90_ns)}, {"p99", us(c.p99_ns)}};
    cj["algbw_gbps"] = round_sig(c.algbw_gbps, 4);
    cj["busbw_gbps"] = round_sig(c.busbw_gbps, 4);
    cs.push_back(std::move(cj));
  }
  j["collectives"] = std::move(cs);

  const auto& mem = a.memory;
  j["memory"] = {{"peak_bytes", mem.peak}, {"peak_rank", mem.peak_rank >= 0 ? ojson(mem.peak_rank) : ojson(nullptr)},
                 {"mallocs", mem.mallocs}, {"frees", mem.frees}, {"bytes_allocated", mem.bytes_alloc},
                 {"failures", mem.failures}, {"retries", mem.retries},
                 {"steady_calls_per_step", round_sig(mem.steady_calls_per_step, 4)},
                 {"latency_us", {{"p50", us(mem.latency_p50_ns)}, {"p99", us(mem.latency_p99_ns)}}}};

  ojson rs = ojson::array();
  for (const auto& r : a.ranks) {
    ojson rj;
    rj["rank"] = r.rank;
    rj["host"] = r.host;
    rj["pid"] = r.pid;
    rj["file"] = r.file;
    rj["state"] = to_string(r.state);
    rj["exit_code"] = r.exit_code;
    rj["signal"] = r.signal;
    rj["steps"] = r.steps;
    rj["last_step"] = opt_step(r.last_step);
    rj["step_ms_p50"] = ms(r.step_p50_ns);
    rj["compute_ms_p50"] = ms(r.compute_p50_ns);
    rj["collective_ms_p50"] = ms(r.coll_p50_ns);
    rj["host_gap_ms_p50"] = ms(r.gap_p50_ns);
    rj["memory_peak_bytes"] = r.mem_peak;
    rs.push_back(std::move(rj));
  }
  j["ranks"] = std::move(rs);

  ojson fs = ojson::array();
  for (const auto& f : a.findings) {
    ojson fj;
    fj["kind"] = f.kind;
    fj["ranks"] = f.ranks;
    fj["steps"] = {f.first_step, f.last_step};
    fj["kernel"] = f.kernel ? ojson(*f.kernel) : ojson(nullptr);
    fj["collective"] = f.collective ? ojson(*f.collective) : ojson(nullptr);
    fj["magnitude"] = round_sig(f.magnitude, 4);
    fj["evidence"] = f.evidence;
    fs.push_back(std::move(fj));
  }
  j["findings"] = std::move(fs);
  return j;
}

}  // namespace argus::report
