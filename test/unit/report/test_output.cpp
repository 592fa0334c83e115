// Output contracts: schema-valid metrics.json, markdown that no kernel name can break,
// byte-identical regeneration, one-line errors with exit 2 for bad rank files.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include "render.h"
#include "report_pipeline.h"
#include "report_test_util.h"

using namespace argus::report;
using namespace argus::report::testutil;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int sh(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

bool validates(const std::string& schema, const fs::path& file) {
  return sh(std::string(ARGUS_PYTHON) + " " + ARGUS_TEST_DIR + "/validate_json.py " + ARGUS_SCHEMAS + "/" + schema + " " + file.string()) == 0;
}

// Cells of a GFM table row: split on pipes that are not backslash-escaped.
size_t cells(const std::string& row) {
  size_t n = 0;
  for (size_t i = 0; i < row.size(); ++i)
    if (row[i] == '|' && (i == 0 || row[i - 1] != '\\')) ++n;
  return n;
}

argus::synth::RunSpec small_spec() {
  argus::synth::RunSpec s;
  s.world = 4;
  s.steps = 60;
  return s;
}

void full_report(const fs::path& dir, bool skip_bad = false) {
  LoadOptions lo;
  lo.skip_bad = skip_bad;
  auto m = load_run(dir, lo);
  auto a = analyze(m);
  write_report(dir, render_report(m, a));
}

}  // namespace

TEST_CASE("metrics.json validates against its schema and carries the contract fields", "[output]") {
  TempDir t("schema");
  auto spec = small_spec();
  argus::synth::Fault f;
  f.kind = "slow_rank"; f.ranks = {2}; f.first = 20; f.last = 59; f.factor = 1.3;
  spec.faults = {f};
  argus::synth::write_run(spec, t.path);
  full_report(t.path);
  CHECK(validates("metrics.schema.json", t.path / "metrics.json"));
  auto j = nlohmann::json::parse(slurp(t.path / "metrics.json"));
  CHECK(j["schema"] == "argus.metrics/1");
  CHECK(j.begin().key() != "");
  REQUIRE(j["findings"].size() >= 1);
  CHECK(j["integrity"]["ranks_found"] == 4);
  // Integrity comes first in report.md.
  std::string md = slurp(t.path / "report.md");
  CHECK(md.find("## Integrity") < md.find("## Findings"));
  CHECK(md.find("## Findings") < md.find("## Kernels"));
  CHECK(fs::exists(t.path / "plots" / "step_time.svg"));
  CHECK(fs::exists(t.path / "plots" / "rank_heatmap.svg"));
  CHECK(fs::exists(t.path / "plots" / "kernel_durations.svg"));
  CHECK(md.find("(plots/step_time.svg)") != std::string::npos);
}

TEST_CASE("same input gives byte-identical output, wherever the run directory is", "[output]") {
  TempDir t("bytes");
  argus::synth::write_run(small_spec(), t.path / "run");
  full_report(t.path / "run");
  std::string m1 = slurp(t.path / "run" / "metrics.json"), r1 = slurp(t.path / "run" / "report.md");
  std::string p1 = slurp(t.path / "run" / "plots" / "rank_heatmap.svg");
  full_report(t.path / "run");
  CHECK(slurp(t.path / "run" / "metrics.json") == m1);
  CHECK(slurp(t.path / "run" / "report.md") == r1);
  CHECK(slurp(t.path / "run" / "plots" / "rank_heatmap.svg") == p1);
  fs::create_directories(t.path / "elsewhere");
  fs::rename(t.path / "run", t.path / "elsewhere" / "run");
  full_report(t.path / "elsewhere" / "run");
  CHECK(slurp(t.path / "elsewhere" / "run" / "metrics.json") == m1);
}

TEST_CASE("markdown escaping: kernel names cannot break tables or markup", "[output]") {
  CHECK(md_escape("a|b") == "a\\|b");
  CHECK(md_escape("x<y>&`z`") == "x&lt;y&gt;&amp;&#96;z&#96;");
  CHECK(md_escape("line1\nline2\r") == "line1 line2 ");
  CHECK(md_escape("*_[]#") == "\\*\\_\\[\\]\\#");
  // A whole report with hostile names keeps every table row's column count.
  argus::synth::RunSpec spec = small_spec();
  spec.kernels = {{"evil|kernel<script>`rm -rf`\nnext | row", 2, 100e3, 0.02},
                  {"_ZN4cute6kernelILi1EEEvv", 3, 50e3, 0.02},
                  {"**bold** [link](http://x) <!-- c --> \\| escaped", 1, 80e3, 0.02}};
  auto m = model_of(spec);
  auto a = analyze(m);
  std::string md = render_report(m, a).report_md;
  CHECK(md.find("<script>") == std::string::npos);
  CHECK(md.find("<!--") == std::string::npos);
  CHECK(md.find("rm -rf`") == std::string::npos);
  std::istringstream in(md);
  std::string line, header;
  size_t expect = 0;
  while (std::getline(in, line)) {
    if (line.rfind("|---", 0) == 0) { expect = cells(header); continue; }
    if (line.rfind("|", 0) == 0) {
      if (expect) CHECK(cells(line) == expect);
      header = line;
    } else {
      expect = 0;
    }
  }
  // The demangled name is shown, the raw name is kept in JSON.
  auto j = metrics_json(m, a);
  bool found = false;
  for (const auto& k : j["kernels"])
    if (k["name"] == "_ZN4cute6kernelILi1EEEvv") { found = true; CHECK(k["demangled"] == "void cute::kernel<1>()"); }
  CHECK(found);
}

TEST_CASE("bad rank files: one line naming the file and the reason, exit 2; --skip-bad reports the rest", "[output][errors]") {
  struct Case { std::string name, reason; std::function<void(const fs::path&)> make; };
  std::vector<Case> cases = {
      {"truncated", "truncated", [](const fs::path& p) { auto imgs = argus::synth::build_run(small_spec()); imgs[0].write_file(p, argus::synth::RecordImage::size() / 3); }},
      {"empty", "truncated", [](const fs::path& p) { std::ofstream(p) << ""; }},
      {"foreign", "not an argus record", [](const fs::path& p) { std::ofstream o(p); for (int i = 0; i < 10000; ++i) o << "hello world "; }},
      {"future", "newer argus", [](const fs::path& p) { auto imgs = argus::synth::build_run(small_spec()); imgs[0].rec().header.layout_version = 7; imgs[0].write_file(p); }},
      {"corrupt", "corrupt", [](const fs::path& p) { auto imgs = argus::synth::build_run(small_spec()); imgs[0].rec().steps[5].ordinal = 77; imgs[0].write_file(p); }},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      TempDir t("bad-" + c.name);
      argus::synth::write_run(small_spec(), t.path);
      c.make(t.path / "ranks" / "zz-bad.argus");
      int rc = sh(std::string(ARGUS_BIN) + " report " + t.path.string() + " >" + (t.path / "out").string() + " 2>" + (t.path / "err").string());
      CHECK(rc == 2);
      std::string err = slurp(t.path / "err");
      INFO(err);
      CHECK(std::count(err.begin(), err.end(), '\n') == 1);
      CHECK(err.find("zz-bad.argus") != std::string::npos);
      CHECK(err.find(c.reason) != std::string::npos);
      CHECK(!fs::exists(t.path / "metrics.json"));
      rc = sh(std::string(ARGUS_BIN) + " report --skip-bad -q " + t.path.string() + " 2>" + (t.path / "err").string());
      CHECK(rc == 0);
      auto j = nlohmann::json::parse(slurp(t.path / "metrics.json"));
      REQUIRE(j["integrity"]["bad_files"].size() == 1);
      CHECK(j["integrity"]["bad_files"][0]["file"] == "ranks/zz-bad.argus");
      CHECK(j["integrity"]["complete"] == false);
      CHECK(j["integrity"]["ranks_found"] == 4);
      CHECK(validates("metrics.schema.json", t.path / "metrics.json"));
    }
  }
}

TEST_CASE("usage errors exit 2 with one line", "[output][errors]") {
  TempDir t("usage");
  CHECK(sh(std::string(ARGUS_BIN) + " report " + (t.path / "missing").string() + " 2>/dev/null") == 2);
  CHECK(sh(std::string(ARGUS_BIN) + " report 2>/dev/null") == 2);
  CHECK(sh(std::string(ARGUS_BIN) + " report --warmup abc " + t.path.string() + " 2>/dev/null") == 2);
  CHECK(sh(std::string(ARGUS_BIN) + " report --help >/dev/null") == 0);
  CHECK(sh(std::string(ARGUS_BIN) + " compare --help >/dev/null") == 0);
  CHECK(sh(std::string(ARGUS_BIN) + " nosuchcommand 2>/dev/null") == 2);
  fs::create_directories(t.path / "ranks");
  int rc = sh(std::string(ARGUS_BIN) + " report " + t.path.string() + " 2>" + (t.path / "err").string());
  CHECK(rc == 2);
  CHECK(slurp(t.path / "err").find("no rank records") != std::string::npos);
}

TEST_CASE("warm-up given as N (--warmup N) is honoured and reported", "[output]") {
  auto m = model_of(small_spec());
  AnalysisOptions o;
  o.warmup = 10;
  auto a = analyze(m, o);
  CHECK(a.warmup_steps == 10);
  CHECK(a.warmup_method == "fixed");
  auto j = metrics_json(m, a);
  CHECK(j["steps"]["warmup"]["steps"] == 10);
  CHECK(j["steps"]["steady_count"] == 50);
}
