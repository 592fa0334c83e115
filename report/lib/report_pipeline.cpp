#include "report_pipeline.h"

#include <unistd.h>

#include <fstream>

#include "render.h"

namespace argus::report {
namespace fs = std::filesystem;

ReportOutput render_report(const RunModel& m, const Analysis& a) {
  ReportOutput o;
  o.metrics_json = dump_json(metrics_json(m, a));
  o.plots = render_plots(m, a);
  o.report_md = report_markdown(m, a, o.plots);
  return o;
}

void write_file_atomic(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path.string(), "cannot write");
    out.write(text.data(), std::streamsize(text.size()));
    out.flush();
    if (!out) { std::error_code ec; fs::remove(tmp, ec); throw InputError(path.string(), "write failed (disk full?)"); }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) { fs::remove(tmp, ec); throw InputError(path.string(), "cannot rename into place"); }
}

void write_report(const fs::path& dir, const ReportOutput& out) {
  std::error_code ec;
  fs::path plots = dir / "plots";
  fs::create_directories(plots, ec);
  if (ec) throw InputError(plots.string(), "cannot create (" + ec.message() + ")");
  // Remove SVGs of an earlier report that this one no longer draws (regeneration is exact).
  for (const auto& e : fs::directory_iterator(plots, ec))
    if (e.path().extension() == ".svg" && !out.plots.count(e.path().filename().string())) fs::remove(e.path(), ec);
  for (const auto& [name, svg] : out.plots) write_file_atomic(plots / name, svg);
  write_file_atomic(dir / "metrics.json", out.metrics_json);
  write_file_atomic(dir / "report.md", out.report_md);
}

}  // namespace argus::report
