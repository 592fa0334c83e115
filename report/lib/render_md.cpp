#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "render.h"

namespace argus::report {

std::string md_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size() + 8);
  for (unsigned char ch : s) {
    switch (ch) {
      case '\n': case '\r': case '\t': o += ' '; break;
      case '|': o += "\\|"; break;   // GFM: escaped pipes never split a table cell
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '`': o += "&#96;"; break;
      case '\\': case '*': case '_': case '[': case ']': case '#': case '~': case '!': case '$':
        o += '\\'; o += char(ch); break;
      default:
        if (ch < 0x20 || ch == 0x7f) o += "\xEF\xBF\xBD";  // U+FFFD for control bytes
        else o += char(ch);
    }
  }
  return o;
}

std::string md_short(const std::string& s, size_t max) {
  if (s.size() <= max) return md_escape(s);
  // Cut on a UTF-8 boundary.
  size_t cut = max - 1;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return md_escape(s.substr(0, cut)) + "…";
}

namespace {

std::string ms(double ns) {
  double v = ns / 1e6;
  if (v >= 100) return fmt::format("{:.1f} ms", v);
  if (v >= 1) return fmt::format("{:.2f} ms", v);
  return fmt::format("{:.3f} ms", v);
}
std::string us(double ns) {
  double v = ns / 1e3;
  if (v >= 100) return fmt::format("{:.0f} µs", v);
  return fmt::format("{:.2f} µs", v);
}
std::string pct(double x) { return fmt::format("{:.1f}%", 100.0 * x); }

std::string ranks_text(const std::vector<int>& r, size_t limit = 12) {
  std::string s;
  for (size_t i = 0; i < r.size() && i < limit; ++i) s += (i ? ", " : "") + std::to_string(r[i]);
  if (r.size() > limit) s += fmt::format(", … ({} ranks)", r.size());
  return s;
}

}  // namespace

std::string report_markdown(const RunModel& m, const Analysis& a, const std::map<std::string, std::string>& plots) {
  std::string o;
  auto line = [&](const std::string& s) { o += s; o += '\n'; };
  std::string title = m.run_dir;
  if (auto p = title.find_last_of('/'); p != std::string::npos && p + 1 < title.size()) title = title.substr(p + 1);
  line("# Argus report: " + md_escape(title));
  line("");
  const auto& in = a.integrity;
  size_t nf = a.findings.size();
  if (nf == 0 && in.complete) line("**Result: nothing anomalous found.** The data was complete, so the absence of findings is meaningful.");
  else if (nf == 0) line("**Result: nothing anomalous found, but the data is incomplete** (see Integrity): absence of findings is not proof of health.");
  else line(fmt::format("**Result: {} finding{}.** {}", nf, nf == 1 ? "" : "s", in.complete ? "" : "The data is incomplete (see Integrity)."));
  line("");

  line("## Integrity");
  line("");
  line("| check | value |");
  line("|---|---|");
  line(fmt::format("| ranks expected / found | {} / {} |", in.expected_ranks, in.found_ranks));
  if (!in.missing_ranks.empty()) line("| ranks without a record | " + ranks_text(in.missing_ranks, 32) + " |");
  for (const auto& b : in.bad_files) line("| unreadable rank file | " + md_escape(b.file) + ": " + md_escape(b.reason) + " |");
  for (const auto& e : in.abnormal)
    line(fmt::format("| rank {} ended abnormally | {}{}{}, last completed step {} |", e.rank, e.state,
                     e.signal ? fmt::format(" by signal {}", e.signal) : std::string(),
                     e.exit_code ? fmt::format(" with status {}", e.exit_code) : std::string(),
                     e.last_step ? std::to_string(*e.last_step) : std::string("none")));
  for (const auto& u : in.unobservable) line("| not observable | " + md_escape(u) + " |");
  line(fmt::format("| records dropped (tables full) | kernels {}, collectives {}, steps {}, windows {}, other {} |", in.dropped_kernels,
                   in.dropped_collectives, in.dropped_steps, in.dropped_windows, in.dropped_other));
  if (in.steps_not_in_ring) line(fmt::format("| steps summarised (ring wrapped) | {} |", in.steps_not_in_ring));
  line(fmt::format("| interposer overhead (worst rank) | {:.3f}% of wall time |", in.overhead_pct));
  if (std::isfinite(in.host_other_share))
    line(fmt::format("| host CPU used by other processes | {} of the busiest host's capacity{} |", pct(in.host_other_share),
                     in.host_other_share >= 0.05 ? ": host-side times (gaps, collective waits) may carry its noise" : ""));
  line(fmt::format("| data complete | {} |", in.complete ? "yes" : "no: " + md_escape([&] {
    std::string s;
    for (size_t i = 0; i < in.incomplete_reasons.size(); ++i) s += (i ? "; " : "") + in.incomplete_reasons[i];
    return s;
  }())));
  line("");

  line("## Findings");
  line("");
  if (a.findings.empty()) line("None.");
  else {
    line("| # | kind | ranks | steps | kernel / collective | magnitude | evidence |");
    line("|---|---|---|---|---|---|---|");
    for (size_t i = 0; i < a.findings.size(); ++i) {
      const auto& f = a.findings[i];
      std::string what = f.kernel ? md_short(*f.kernel, 60) : f.collective ? md_escape(*f.collective) : "";
      line(fmt::format("| {} | {} | {} | {}–{} | {} | ×{:.2f} | {} |", i + 1, f.kind, ranks_text(f.ranks), f.first_step, f.last_step,
                       what, f.magnitude, md_escape(f.evidence)));
    }
  }
  line("");

  line("## Steps");
  line("");
  const auto& s = a.step_summary;
  line(fmt::format("Step boundaries from: **{}**. {} steps, warm-up: {} step{} excluded ({}). Steady state: {} steps, windows of {} step{}.",
                   md_escape(a.step_source), a.steps.size(), a.warmup_steps, a.warmup_steps == 1 ? "" : "s", a.warmup_method,
                   a.steps.size() - a.first_steady, a.window_steps, a.window_steps == 1 ? "" : "s"));
  line("");
  line("| step time (median across ranks) | mean | std | min | p50 | p90 | p99 | max | CV |");
  line("|---|---|---|---|---|---|---|---|---|");
  line(fmt::format("| steady state | {} | {} | {} | {} | {} | {} | {} | {:.3f} |", ms(s.mean), ms(s.std), ms(s.min), ms(s.p50), ms(s.p90),
                   ms(s.p99), ms(s.max), s.cv));
  line("");

  line("## Kernels");
  line("");
  if (a.kernels.empty()) line("No kernels recorded.");
  else {
    size_t shown = std::min<size_t>(a.kernels.size(), 25);
    line(fmt::format("Top {} of {} kernels by GPU time (all ranks, whole run). Full list with raw names in metrics.json.", shown, a.kernels.size()));
    line("");
    line("| kernel | GPU share | per step | p50 | p90 | p99 | ranks | spread across ranks (per step) |");
    line("|---|---|---|---|---|---|---|---|");
    for (size_t i = 0; i < shown; ++i) {
      const auto& k = a.kernels[i];
      line(fmt::format("| {}{} | {} | {:.2f} | {} | {} | {} | {} | {} – {} (CV {:.3f}) |", md_short(k.demangled, 90),
                       k.is_collective ? " (NCCL)" : "", pct(k.share), k.per_step, us(k.p50_ns), us(k.p90_ns), us(k.p99_ns), k.ranks,
                       ms(k.rank_min_ns_per_step), ms(k.rank_max_ns_per_step), k.rank_cv));
    }
  }
  line("");

  line("## Collectives");
  line("");
  if (a.collectives.empty()) line("No collectives recorded.");
  else {
    line("| op | dtype | ranks in comm | size per call | calls | p50 | p99 | algbw | busbw |");
    line("|---|---|---|---|---|---|---|---|---|");
    for (const auto& c : a.collectives)
      line(fmt::format("| {} | {} | {} | {} | {} | {} | {} | {:.2f} GB/s | {:.2f} GB/s |", md_escape(c.op), md_escape(c.dtype), c.comm_size,
                       human_bytes(double(c.bytes_per_call)), c.count, us(c.p50_ns), us(c.p99_ns), c.algbw_gbps, c.busbw_gbps));
    line("");
    line("Bandwidths at the median call time; busbw = algbw × NCCL's factor (2(n−1)/n for allreduce, (n−1)/n for allgather / reducescatter / alltoall).");
  }
  line("");

  line("## Memory");
  line("");
  const auto& mm = a.memory;
  line("| peak live | allocation calls | frees | allocated | failures | retries | steady calls per step | call latency p50 / p99 |");
  line("|---|---|---|---|---|---|---|---|");
  line(fmt::format("| {}{} | {} | {} | {} | {} | {} | {:.2f} | {} / {} |", human_bytes(double(mm.peak)),
                   mm.peak_rank >= 0 ? fmt::format(" (rank {})", mm.peak_rank) : std::string(), mm.mallocs, mm.frees,
                   human_bytes(double(mm.bytes_alloc)), mm.failures, mm.retries, mm.steady_calls_per_step, us(mm.latency_p50_ns),
                   us(mm.latency_p99_ns)));
  line("");

  line("## Ranks");
  line("");
  {
    std::vector<const RankSummary*> rs;
    for (const auto& r : a.ranks) rs.push_back(&r);
    bool cut = rs.size() > 32;
    if (cut) {
      // Show the 32 ranks with the most GPU compute per step: stragglers first.
      std::stable_sort(rs.begin(), rs.end(), [](auto* x, auto* y) { return x->compute_p50_ns > y->compute_p50_ns; });
      rs.resize(32);
      line(fmt::format("The 32 of {} ranks with the most GPU compute per step (all in metrics.json).", a.ranks.size()));
      line("");
    }
    line("| rank | host | pid | state | steps | step p50 | GPU compute p50 | in collectives p50 | host gap p50 | peak memory |");
    line("|---|---|---|---|---|---|---|---|---|---|");
    for (auto* r : rs)
      line(fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |", r->rank, md_escape(r->host), r->pid, to_string(r->state),
                       r->steps, ms(r->step_p50_ns), ms(r->compute_p50_ns), ms(r->coll_p50_ns), ms(r->gap_p50_ns),
                       human_bytes(double(r->mem_peak))));
  }
  line("");

  if (!plots.empty()) {
    line("## Plots");
    line("");
    for (const auto& [name, svg] : plots) {
      std::string label = name.substr(0, name.find('.'));
      std::replace(label.begin(), label.end(), '_', ' ');
      line(fmt::format("![{}](plots/{})", label, name));
      line("");
    }
  }
  line("Generated by `argus report` from ranks/ and run_meta.json; metrics.json holds every figure (schema argus.metrics/1).");
  return o;
}

}  // namespace argus::report
