// SVG plots, hand-written so output is byte-stable: fixed number formatting, no timestamps.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "render.h"
#include "stats.h"

namespace argus::report {
namespace {

std::string xml(const std::string& s) {
  std::string o;
  for (unsigned char ch : s) {
    switch (ch) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: if (ch >= 0x20 || ch == '\t') o += char(ch);
    }
  }
  return o;
}

struct Frame {
  double W = 900, H = 420, L = 70, Rm = 20, T = 40, B = 50;
  double x0, x1, y0, y1;
  bool logx = false;
  double px(double x) const {
    double a = logx ? std::log10(x) : x, lo = logx ? std::log10(x0) : x0, hi = logx ? std::log10(x1) : x1;
    return L + (hi > lo ? (a - lo) / (hi - lo) : 0.5) * (W - L - Rm);
  }
  double py(double y) const { return H - B - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (H - T - B); }
};

std::string head(const Frame& f, const std::string& title, const std::string& desc) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<title>{}</title>\n<desc>{}</desc>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{:.0f}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
      f.W, f.H, f.W, f.H, xml(title), xml(desc), f.L, xml(title));
}

std::string axes(const Frame& f, const std::string& xlabel, const std::string& ylabel, int yticks = 5) {
  std::string o = fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"black\"/>\n", f.L, f.H - f.B, f.W - f.Rm, f.H - f.B);
  o += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"black\"/>\n", f.L, f.T, f.L, f.H - f.B);
  for (int i = 0; i <= yticks; ++i) {
    double v = f.y0 + (f.y1 - f.y0) * i / yticks;
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{:.3g}</text>\n", f.L - 5, f.py(v) + 4, v);
    o += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", f.L, f.py(v), f.W - f.Rm, f.py(v));
  }
  for (int i = 0; i <= 5; ++i) {
    double v = f.logx ? std::pow(10.0, std::log10(f.x0) + (std::log10(f.x1) - std::log10(f.x0)) * i / 5) : f.x0 + (f.x1 - f.x0) * i / 5;
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:.4g}</text>\n", f.px(v), f.H - f.B + 16, v);
  }
  o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", (f.L + f.W - f.Rm) / 2, f.H - 10, xml(xlabel));
  o += fmt::format("<text x=\"14\" y=\"{:.1f}\" transform=\"rotate(-90 14 {:.1f})\" text-anchor=\"middle\">{}</text>\n", (f.T + f.H - f.B) / 2,
                   (f.T + f.H - f.B) / 2, xml(ylabel));
  return o;
}

const char* palette(size_t i) {
  static const char* c[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                            "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"};
  return c[i % 16];
}

// Step time per rank over the run: each rank when there are few, else min / median / max.
std::string step_plot(const RunModel& m, const Analysis& a) {
  Frame f;
  size_t S = a.steps.size(), R = m.ranks.size();
  f.x0 = S ? double(a.steps.front()) : 0;
  f.x1 = S ? double(a.steps.back()) : 1;
  if (f.x1 <= f.x0) f.x1 = f.x0 + 1;
  double ymax = 0;
  for (const auto& row : a.step_ns)
    for (float v : row) if (std::isfinite(v)) ymax = std::max(ymax, double(v) / 1e6);
  // Clip extreme outliers (e.g. one 800 ms stall) so the steady state stays readable.
  double p99 = a.step_summary_all_ranks.p99 / 1e6;
  double cap = std::max(p99 * 3.0, a.step_summary_all_ranks.max / 1e6);
  if (ymax > p99 * 3.0 && p99 > 0) cap = p99 * 3.0;
  f.y0 = 0;
  f.y1 = std::max(cap, 1e-3);
  std::string o = head(f, "Step time per rank", "Host step duration of every rank at every step; warm-up shaded; values above the top are clipped.");
  if (a.first_steady > 0 && S) {
    double xe = f.px(double(a.steps[std::min(a.first_steady, S - 1)]));
    o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#eee\"/>\n<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#888\">warm-up</text>\n",
                     f.L, f.T, std::max(0.0, xe - f.L), f.H - f.T - f.B, f.L + 3, f.T + 12);
  }
  o += axes(f, "step", "step time (ms)");
  auto poly = [&](const std::vector<double>& ys, const char* color, double width) {
    std::string pts;
    for (size_t p = 0; p < S; ++p) {
      if (!std::isfinite(ys[p])) continue;
      pts += fmt::format("{:.1f},{:.1f} ", f.px(double(a.steps[p])), f.py(std::min(ys[p], f.y1)));
    }
    if (!pts.empty()) pts.pop_back();
    return fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" points=\"{}\"/>\n", color, width, pts);
  };
  if (R <= 16) {
    for (size_t r = 0; r < R; ++r) {
      std::vector<double> ys(S);
      for (size_t p = 0; p < S; ++p) ys[p] = double(a.step_ns[r][p]) / 1e6;
      o += poly(ys, palette(r), 1.2);
      o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"{}\">rank {}</text>\n", f.W - f.Rm - 60, f.T + 14.0 * double(r + 1), palette(r), m.ranks[r].info.rank);
    }
  } else {
    std::vector<double> lo(S), med(S), hi(S);
    std::vector<double> col;
    for_each_column(a.step_ns, S, [&](size_t p, const double* v, size_t n) {
      col.clear();
      for (size_t i = 0; i < n; ++i) if (std::isfinite(v[i])) col.push_back(v[i] / 1e6);
      if (col.empty()) { lo[p] = med[p] = hi[p] = std::nan(""); return; }
      lo[p] = *std::min_element(col.begin(), col.end());
      hi[p] = *std::max_element(col.begin(), col.end());
      med[p] = stats::median(col);
    });
    o += poly(hi, "#d62728", 1);
    o += poly(med, "#1f77b4", 1.5);
    o += poly(lo, "#2ca02c", 1);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#d62728\">max over {} ranks</text>\n", f.W - f.Rm - 150, f.T + 14, R);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#1f77b4\">median</text>\n", f.W - f.Rm - 150, f.T + 28);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#2ca02c\">min</text>\n", f.W - f.Rm - 150, f.T + 42);
  }
  return o + "</svg>\n";
}

// Ranks x steady windows: GPU compute per step relative to the window's median rank.
std::string heatmap(const RunModel& m, const Analysis& a) {
  size_t R = m.ranks.size(), Wn = a.windows.size();
  Frame f;
  double cell_h = R ? std::clamp(600.0 / double(R), 1.0, 14.0) : 14;
  f.H = f.T + f.B + cell_h * double(std::max<size_t>(R, 1)) + 30;
  std::string o = head(f, "GPU compute per step, rank vs. window median",
                       "Each cell: a rank's mean GPU compute time (kernels outside collectives) per step in a window of steady-state steps, divided by the median rank of that window. White = median, red = slower, blue = faster.");
  double plot_w = f.W - f.L - f.Rm;
  double cw = Wn ? plot_w / double(Wn) : plot_w;
  std::vector<double> ref(Wn);
  std::vector<std::vector<double>> val(R, std::vector<double>(Wn, std::nan("")));
  for (size_t w = 0; w < Wn; ++w) {
    std::vector<double> col;
    for (size_t r = 0; r < R; ++r) {
      double s = 0; size_t n = 0;
      for (size_t p = a.windows[w].first; p < a.windows[w].second; ++p)
        if (std::isfinite(a.compute_ns[r][p])) { s += a.compute_ns[r][p]; ++n; }
      if (n) { val[r][w] = s / double(n); col.push_back(val[r][w]); }
    }
    ref[w] = col.empty() ? std::nan("") : stats::median(col);
  }
  for (size_t r = 0; r < R; ++r) {
    double y = f.T + cell_h * double(r);
    for (size_t w = 0; w < Wn; ++w) {
      double v = val[r][w], rr = ref[w];
      std::string color = "#cccccc";
      if (std::isfinite(v) && rr > 0) {
        double t = std::clamp((v / rr - 1.0) / 0.25, -1.0, 1.0);  // full colour at +/-25%
        int hi = 255, lo = int(std::lround(255 * (1 - std::fabs(t))));
        color = t >= 0 ? fmt::format("#{:02x}{:02x}{:02x}", hi, lo, lo) : fmt::format("#{:02x}{:02x}{:02x}", lo, lo, hi);
      }
      o += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"/>\n", f.L + cw * double(w), y, cw, cell_h, color);
    }
    if (cell_h >= 10 || r % size_t(std::ceil(10.0 / cell_h)) == 0)
      o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"10\">{}</text>\n", f.L - 4, y + std::min(cell_h, 10.0), m.ranks[r].info.rank);
  }
  double yb = f.T + cell_h * double(R);
  for (size_t w = 0; w < Wn; w += std::max<size_t>(1, Wn / 8))
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\">{}</text>\n", f.L + cw * double(w), yb + 14, a.steps[a.windows[w].first]);
  o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">first step of window ({} steps each); rows: ranks. Red = slower than the window's median rank (full red: +25%).</text>\n",
                   f.L, yb + 32, a.window_steps);
  return o + "</svg>\n";
}

// Duration distributions of the top kernels: p1-p99 whisker, p25-p75 box, median tick.
std::string kernel_plot(const Analysis& a) {
  std::vector<const KernelSummary*> top;
  for (const auto& k : a.kernels) if (!k.is_collective && top.size() < 8 && k.count) top.push_back(&k);
  Frame f;
  f.L = 330;
  f.H = f.T + f.B + 34.0 * double(std::max<size_t>(top.size(), 1));
  f.logx = true;
  double lo = 1e300, hi = 0;
  for (auto* k : top) { lo = std::min(lo, std::max(k->dist.quantile(0.01), 1.0)); hi = std::max(hi, k->dist.quantile(0.99)); }
  if (top.empty()) { lo = 1; hi = 10; }
  f.x0 = lo / 1e3 / 1.5;
  f.x1 = std::max(hi / 1e3 * 1.5, f.x0 * 10);
  f.y0 = 0; f.y1 = 1;
  std::string o = head(f, "Duration distributions of the top kernels", "Per kernel (by total GPU time, all ranks): whisker p1-p99, box p25-p75, black tick median; log scale in microseconds.");
  o += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"black\"/>\n", f.L, f.H - f.B, f.W - f.Rm, f.H - f.B);
  for (int i = 0; i <= 5; ++i) {
    double v = std::pow(10.0, std::log10(f.x0) + (std::log10(f.x1) - std::log10(f.x0)) * i / 5);
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:.3g}</text>\n", f.px(v), f.H - f.B + 16, v);
  }
  o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">kernel duration (µs, log scale)</text>\n", (f.L + f.W - f.Rm) / 2, f.H - 10);
  for (size_t i = 0; i < top.size(); ++i) {
    const auto& d = top[i]->dist;
    double y = f.T + 34.0 * double(i) + 17;
    auto X = [&](double q) { return f.px(std::max(d.quantile(q) / 1e3, f.x0)); };
    std::string name = top[i]->demangled;
    if (name.size() > 48) name = name.substr(0, 45) + "...";
    o += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" font-size=\"11\">{}</text>\n", f.L - 6, y + 4, xml(name));
    o += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\"/>\n", X(0.01), y, X(0.99), y, palette(i));
    o += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"16\" fill=\"{}\" fill-opacity=\"0.5\" stroke=\"{}\"/>\n", X(0.25), y - 8,
                     std::max(1.0, X(0.75) - X(0.25)), palette(i), palette(i));
    o += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"black\" stroke-width=\"2\"/>\n", X(0.5), y - 9, X(0.5), y + 9);
  }
  return o + "</svg>\n";
}

}  // namespace

std::map<std::string, std::string> render_plots(const RunModel& m, const Analysis& a) {
  std::map<std::string, std::string> p;
  if (a.steps.empty()) return p;
  p["step_time.svg"] = step_plot(m, a);
  if (!a.windows.empty() && m.ranks.size() > 1) p["rank_heatmap.svg"] = heatmap(m, a);
  if (!a.kernels.empty()) p["kernel_durations.svg"] = kernel_plot(a);
  return p;
}

}  // namespace argus::report
