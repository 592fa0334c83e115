// `argus report` as a library call: load a run directory, analyse it, render and write
// metrics.json, report.md and plots/ (atomically: a reader never sees half a file).
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "analysis.h"
#include "record_reader.h"

namespace argus::report {

struct ReportOutput {
  std::string metrics_json;
  std::string report_md;
  std::map<std::string, std::string> plots;  // file name -> SVG
};

ReportOutput render_report(const RunModel& m, const Analysis& a);
// Writes RUN_DIR/metrics.json, report.md and plots/*.svg (stale plots of ours are removed).
void write_report(const std::filesystem::path& run_dir, const ReportOutput& out);
// Atomic write via a temporary file in the same folder and rename.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);

}  // namespace argus::report
