// argus report RUN_DIR: ranks/ + run_meta.json -> metrics.json, report.md, plots/.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "analysis.h"
#include "commands.h"
#include "record_reader.h"
#include "report_pipeline.h"

#ifdef ARGUS_HAVE_COLLECT
#include "argus_collect.h"
#endif

namespace argus::cli {
namespace {

struct ReportArgs {
  std::string run_dir;
  bool collect = false;
  std::string format = "md";
  std::string warmup = "auto";
  bool skip_bad = false;
  bool quiet = false;
};

int run_report(const ReportArgs& a) {
  namespace fs = std::filesystem;
  using namespace argus::report;
  std::optional<uint64_t> warmup;
  if (a.warmup != "auto") {
    char* end = nullptr;
    unsigned long long v = std::strtoull(a.warmup.c_str(), &end, 10);
    if (a.warmup.empty() || *end || a.warmup[0] == '-') {
      error_line("report", "--warmup: expected a number of steps or 'auto', got '" + a.warmup + "'");
      return 2;
    }
    warmup = v;
  }
  try {
    if (a.collect) {
#ifdef ARGUS_HAVE_COLLECT
      try {
        auto got = argus::run::collect_leftovers(a.run_dir);
        if (!a.quiet) std::fprintf(stderr, "argus report: collected %zu leftover record(s)\n", got.size());
      } catch (const std::exception& e) {
        error_line("report", std::string("--collect: ") + e.what());  // "<file>: <reason>" from the collector
        return 2;
      }
#else
      error_line("report", "--collect: this build has no collector (report/run missing)");
      return 2;
#endif
    }
    // Progress on a terminal, only once merging has taken more than a second.
    auto t0 = std::chrono::steady_clock::now();
    bool tty = isatty(2) && !a.quiet;
    bool shown = false;
    LoadOptions lo;
    lo.skip_bad = a.skip_bad;
    lo.progress = [&](size_t done, size_t total) {
      if (!tty) return;
      if (!shown && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1)) return;
      shown = true;
      int width = 40, fill = total ? int(double(done) / double(total) * width) : width;
      std::fprintf(stderr, "\rmerging ranks [%.*s%*s] %zu/%zu", fill, "########################################", width - fill, "", done, total);
      if (done == total) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    };
    RunModel m = load_run(a.run_dir, lo);
    AnalysisOptions ao;
    ao.warmup = warmup;
    Analysis an = analyze(m, ao);
    ReportOutput out = render_report(m, an);
    write_report(a.run_dir, out);
    if (!a.quiet) std::cout << (a.format == "json" ? out.metrics_json : out.report_md);
    return 0;
  } catch (const InputError& e) {
    error_line("report", e.what());
    return 2;
  } catch (const std::exception& e) {
    error_line("report", a.run_dir + ": " + e.what());
    return 2;
  }
}

}  // namespace

void register_report(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* sub = app.add_subcommand("report",
      "Merge RUN_DIR/ranks/ and run_meta.json into metrics.json (schema argus.metrics/1), report.md and plots/. "
      "Prints report.md (or metrics.json with --format json). Exit 0 ok, 2 bad usage or input (one line naming the file).");
  sub->add_option("RUN_DIR", args->run_dir, "run directory made by argus-run")->required();
  sub->add_flag("--collect", args->collect, "first copy leftover shared-memory records of this run into RUN_DIR/ranks/");
  sub->add_option("--format", args->format, "what to print on stdout: md (report.md) or json (metrics.json)")
      ->check(CLI::IsMember({"md", "json"}));
  sub->add_option("--warmup", args->warmup, "warm-up steps to exclude: a number, or auto (detected from the run)");
  sub->add_flag("--skip-bad", args->skip_bad, "report the readable rank files and list the unreadable ones in the integrity section");
  sub->add_flag("-q,--quiet", args->quiet, "print nothing on success");
  sub->callback([args, exit_code] { *exit_code = run_report(*args); });
}

}  // namespace argus::cli
