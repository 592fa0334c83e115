// argus compare RUN_A RUN_B [RUN_C ...] | --baseline A1,A2 --candidate B1,B2
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "compare.h"
#include "record_reader.h"
#include "render.h"
#include "report_pipeline.h"

namespace argus::cli {
namespace {

struct CompareArgs {
  std::vector<std::string> runs, baseline, candidate;
  std::string format = "md";
  std::string out;
  double alpha = 0.05;
  std::string warmup = "auto";
  bool quiet = false;
};

int run_compare(const CompareArgs& a) {
  using namespace argus::report;
  std::vector<std::string> base = a.baseline, cand = a.candidate;
  if (!a.runs.empty()) {
    if (!base.empty() || !cand.empty()) { error_line("compare", "give either RUN_A RUN_B [...] or --baseline/--candidate, not both"); return 2; }
    if (a.runs.size() < 2) { error_line("compare", "need at least two runs (RUN_A RUN_B)"); return 2; }
    base = {a.runs[0]};
    cand.assign(a.runs.begin() + 1, a.runs.end());
  }
  if (base.empty() || cand.empty()) { error_line("compare", "need a baseline and a candidate run (see argus compare --help)"); return 2; }
  if (!(a.alpha > 0 && a.alpha < 1)) { error_line("compare", "--alpha must be between 0 and 1"); return 2; }
  CompareOptions opt;
  opt.alpha = a.alpha;
  if (a.warmup != "auto") {
    char* end = nullptr;
    unsigned long long v = std::strtoull(a.warmup.c_str(), &end, 10);
    if (a.warmup.empty() || *end || a.warmup[0] == '-') { error_line("compare", "--warmup: expected a number of steps or 'auto'"); return 2; }
    opt.warmup = v;
  }
  try {
    std::vector<LoadedRun> runs;
    runs.reserve(base.size() + cand.size());
    for (const auto& d : base) runs.push_back(load_for_compare(d, opt));
    for (const auto& d : cand) runs.push_back(load_for_compare(d, opt));
    std::vector<const LoadedRun*> pa, pb;
    for (size_t i = 0; i < base.size(); ++i) pa.push_back(&runs[i]);
    for (size_t i = base.size(); i < runs.size(); ++i) pb.push_back(&runs[i]);
    CompareResult r = compare_runs(pa, pb, opt);
    std::string json = dump_json(compare_json(r));
    std::string md = compare_markdown(r);
    std::filesystem::path out = a.out.empty() ? std::filesystem::path(cand.front()) : std::filesystem::path(a.out);
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    write_file_atomic(out / "compare.json", json);
    write_file_atomic(out / "compare.md", md);
    if (!a.quiet) std::cout << (a.format == "json" ? json : md);
    std::fprintf(stderr, "argus compare: %s (%s)\n", r.verdict.c_str(), (out / "compare.md").c_str());
    return r.exit_code();
  } catch (const InputError& e) {
    error_line("compare", e.what());
    return 2;
  } catch (const std::exception& e) {
    error_line("compare", e.what());
    return 2;
  }
}

std::vector<std::string> split_commas(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    size_t b = 0;
    while (b <= s.size()) {
      size_t e = s.find(',', b);
      if (e == std::string::npos) e = s.size();
      if (e > b) out.push_back(s.substr(b, e - b));
      b = e + 1;
    }
  }
  return out;
}

}  // namespace

void register_compare(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* sub = app.add_subcommand("compare",
      "Is the candidate run the same execution as the baseline? RUN_A is the baseline, every further run a candidate replicate. "
      "Writes compare.md and compare.json (schema argus.compare/1). Exit 0 same, 1 different, 3 inconclusive (too few samples), 2 error.");
  sub->add_option("RUNS", args->runs, "RUN_A RUN_B [RUN_C ...]");
  sub->add_option("--baseline", args->baseline, "baseline runs, comma-separated: A1,A2,...")->delimiter(',');
  sub->add_option("--candidate", args->candidate, "candidate runs, comma-separated: B1,B2,...")->delimiter(',');
  sub->add_option("--format", args->format, "what to print on stdout: md or json")->check(CLI::IsMember({"md", "json"}));
  sub->add_option("--out", args->out, "folder for compare.md and compare.json (default: the first candidate run)");
  sub->add_option("--alpha", args->alpha, "significance level (default 0.05)");
  sub->add_option("--warmup", args->warmup, "warm-up steps to exclude: a number, or auto");
  sub->add_flag("-q,--quiet", args->quiet, "print only the verdict line");
  sub->callback([args, exit_code] {
    args->baseline = split_commas(args->baseline);
    args->candidate = split_commas(args->candidate);
    *exit_code = run_compare(*args);
  });
}

}  // namespace argus::cli
