// argus compare on synthetic runs: healthy pairs are "same", a 2% slowdown of an important
// kernel is "different" with that kernel first in the attribution, environment and
// structural changes are reported, too few samples give "inconclusive".
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>

#include "compare.h"
#include "render.h"
#include "report_test_util.h"

using namespace argus::report;
using namespace argus::report::testutil;
using argus::synth::RunSpec;

namespace {

LoadedRun loaded(const RunSpec& spec, const std::string& meta = "") {
  LoadedRun r;
  r.dir = "seed" + std::to_string(spec.seed);
  r.model = model_of(spec);
  r.model.meta_json = meta;
  r.analysis = analyze(r.model);
  return r;
}

CompareResult cmp(const LoadedRun& a, const LoadedRun& b) {
  CompareOptions o;
  return compare_runs({&a}, {&b}, o);
}

RunSpec base_spec(uint64_t seed, uint64_t steps = 200) {
  RunSpec s;
  s.world = 4;
  s.steps = steps;
  s.seed = seed;
  return s;
}

}  // namespace

TEST_CASE("healthy runs with different seeds are the same execution", "[compare]") {
  int different = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    auto a = loaded(base_spec(seed * 2));
    auto b = loaded(base_spec(seed * 2 + 1));
    auto r = cmp(a, b);
    INFO("seed " << seed << ": " << r.verdict << " " << (r.reasons.empty() ? "" : r.reasons[0]));
    CHECK(r.verdict != "inconclusive");
    if (r.verdict == "different") ++different;
    CHECK(r.structural.empty());
  }
  CHECK(different == 0);
}

TEST_CASE("a 2% slowdown of a kernel with >= 5% of GPU time is found and attributed", "[compare]") {
  int found = 0, first = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    auto a = loaded(base_spec(100 + seed));
    RunSpec sb = base_spec(200 + seed);
    argus::synth::Fault f;
    f.kind = "slow_kernel";
    f.ranks = {0, 1, 2, 3};
    f.first = 0;
    f.factor = 1.02;
    f.kernel = "flash_fwd";  // ~17% of GPU time in the default mix
    sb.faults = {f};
    auto b = loaded(sb);
    auto r = cmp(a, b);
    INFO(r.verdict << " " << (r.reasons.empty() ? "" : r.reasons[0]));
    if (r.verdict == "different") ++found;
    REQUIRE(!r.attribution.empty());
    if (r.attribution.front().name.find("flash_fwd") != std::string::npos) ++first;
    CHECK(r.exit_code() == (r.verdict == "different" ? 1 : r.verdict == "same" ? 0 : 3));
  }
  CHECK(found == 6);
  CHECK(first == 6);
}

TEST_CASE("structural differences: kernel set, launch counts, collective sizes", "[compare]") {
  auto a = loaded(base_spec(1));
  RunSpec sb = base_spec(2);
  sb.kernels = argus::synth::default_kernels();
  sb.kernels[1].name = "sm80_xmma_gemm_bf16bf16_bf16f32_f32_nt_n_tilesize256x128x32";  // a different cuBLAS algorithm
  sb.kernels[0].per_step = 7;                                                            // one more launch per step
  sb.coll_bytes = 50u << 20;
  auto b = loaded(sb);
  auto r = cmp(a, b);
  CHECK(r.verdict == "different");
  std::set<std::string> kinds;
  for (const auto& s : r.structural) kinds.insert(s.kind);
  CHECK(kinds.count("kernel_appeared"));
  CHECK(kinds.count("kernel_disappeared"));
  CHECK(kinds.count("launch_count_changed"));
  CHECK(kinds.count("collective_appeared"));
  CHECK(kinds.count("collective_disappeared"));
}

TEST_CASE("environment difference is reported first, volatile fields ignored", "[compare]") {
  std::string ma = R"({"run_id":"a","start_time":"t1","environment":{"NCCL_ALGO":"Ring","OMP_NUM_THREADS":"8"},"hosts":[{"host":"n0","software":{"nccl":"2.28.3"}}],"fingerprint":"f1","processes":[{"pid":1}]})";
  std::string mb = R"({"run_id":"b","start_time":"t2","environment":{"NCCL_ALGO":"Tree","OMP_NUM_THREADS":"8"},"hosts":[{"host":"n0","software":{"nccl":"2.29.1"}}],"fingerprint":"f2","processes":[{"pid":2}]})";
  auto d = environment_diff(ma, mb);
  std::set<std::string> keys;
  for (const auto& e : d) keys.insert(e.key);
  CHECK(keys.count("environment.NCCL_ALGO"));
  CHECK(keys.count("hosts[0].software.nccl"));
  CHECK(keys.count("fingerprint"));
  CHECK(!keys.count("run_id"));
  CHECK(!keys.count("start_time"));
  CHECK(!keys.count("environment.OMP_NUM_THREADS"));
  auto a = loaded(base_spec(1), ma);
  auto b = loaded(base_spec(2), mb);
  auto r = cmp(a, b);
  CHECK(!r.env.empty());
  std::string md = compare_markdown(r);
  CHECK(md.find("## Environment") < md.find("## Metrics"));
  CHECK(md.find("NCCL\\_ALGO") != std::string::npos);
}

TEST_CASE("host-side slowdown on a busier host: inconclusive, not different", "[compare]") {
  auto meta = [](double other) {
    return R"({"launches":[{"host":"n0","host_load":{"cpus":2,"job_share":0.5,"other_share":)" + std::to_string(other) + "}}]}";
  };
  auto a_plain = loaded(base_spec(11));
  // Every rank stalls on the host for 3% of a step, every step: step time and host gaps grow,
  // no kernel changes.
  RunSpec sb = base_spec(12);
  argus::synth::Fault f;
  f.kind = "stall";
  f.ranks = {0, 1, 2, 3};
  f.stall_ns = 0.03 * a_plain.analysis.step_summary.p50;
  sb.faults = {f};
  auto b_plain = loaded(sb);
  REQUIRE(cmp(a_plain, b_plain).verdict == "different");  // no host_load recorded: a regression

  auto a_quiet = loaded(base_spec(11), meta(0.02));
  auto b_busy = loaded(sb, meta(0.40));
  auto r = cmp(a_quiet, b_busy);
  CHECK(r.verdict == "inconclusive");
  CHECK(r.exit_code() == 3);
  CHECK(r.host_interference);
  CHECK(r.host_other_a == Approx(0.02));
  CHECK(r.host_other_b == Approx(0.40));
  CHECK(r.reasons.back().find("busier host") != std::string::npos);
  CHECK(compare_markdown(r).find("baseline 2%, candidate 40%") != std::string::npos);

  // The faster side had the busier host: the load does not explain the slowdown.
  auto a_busy = loaded(base_spec(11), meta(0.40));
  auto b_quiet = loaded(sb, meta(0.02));
  CHECK(cmp(a_busy, b_quiet).verdict == "different");
  // Both equally busy: nothing to hold the verdict back for.
  CHECK(cmp(loaded(base_spec(11), meta(0.38)), b_busy).verdict == "different");

  // A kernel that really got slower stays "different" however busy the host was.
  RunSpec sk = base_spec(12);
  argus::synth::Fault slow;
  slow.kind = "slow_kernel";
  slow.ranks = {0, 1, 2, 3};
  slow.factor = 1.05;
  slow.kernel = "flash_fwd";
  sk.faults = {slow, f};
  auto rk = cmp(a_quiet, loaded(sk, meta(0.40)));
  CHECK(rk.verdict == "different");
  CHECK_FALSE(rk.host_interference);
}

TEST_CASE("too few steps: inconclusive, need more samples", "[compare]") {
  auto a = loaded(base_spec(1, 12));
  auto b = loaded(base_spec(2, 12));
  auto r = cmp(a, b);
  CHECK(r.verdict == "inconclusive");
  CHECK(r.exit_code() == 3);
  CHECK(compare_markdown(r).find("need more samples") != std::string::npos);
}

TEST_CASE("compare CLI: exit codes and a schema-valid compare.json", "[compare]") {
  TempDir t("cmp");
  auto sa = base_spec(1), sb = base_spec(2), sc = base_spec(3);
  argus::synth::Fault f;
  f.kind = "slow_rank"; f.ranks = {0, 1, 2, 3}; f.first = 0; f.factor = 1.10;
  sc.faults = {f};
  argus::synth::write_run(sa, t.path / "a");
  argus::synth::write_run(sb, t.path / "b");
  argus::synth::write_run(sc, t.path / "c");
  auto run = [&](const std::string& args) {
    int rc = std::system((std::string(ARGUS_BIN) + " compare -q " + args + " 2>/dev/null").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  CHECK(run((t.path / "a").string() + " " + (t.path / "b").string() + " --out " + (t.path / "ab").string()) == 0);
  CHECK(run((t.path / "a").string() + " " + (t.path / "c").string() + " --out " + (t.path / "ac").string()) == 1);
  CHECK(run("--baseline " + (t.path / "a").string() + "," + (t.path / "b").string() + " --candidate " + (t.path / "c").string() + " --out " + (t.path / "abc").string()) == 1);
  CHECK(run((t.path / "a").string()) == 2);
  CHECK(run((t.path / "a").string() + " " + (t.path / "nope").string()) == 2);
  for (const char* d : {"ab", "ac", "abc"}) {
    int rc = std::system((std::string(ARGUS_PYTHON) + " " + ARGUS_TEST_DIR + "/validate_json.py " + ARGUS_SCHEMAS + "/compare.schema.json " + (t.path / d / "compare.json").string()).c_str());
    CHECK(WEXITSTATUS(rc) == 0);
  }
  std::ifstream in(t.path / "ac" / "compare.json");
  auto j = nlohmann::json::parse(in);
  CHECK(j["schema"] == "argus.compare/1");
  CHECK(j["verdict"] == "different");
}
