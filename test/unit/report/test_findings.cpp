// Planted anomalies in synthetic runs: the matching finding appears with the right ranks,
// steps and kernel; healthy runs give none.
#include <catch2/catch.hpp>

#include "report_test_util.h"

using namespace argus::report;
using namespace argus::report::testutil;
using argus::synth::Fault;
using argus::synth::RunSpec;

namespace {
bool overlaps(const Finding& f, uint64_t a, uint64_t b) { return f.first_step <= b && a <= f.last_step; }
Fault F(std::string kind, std::vector<int> ranks, uint64_t a, uint64_t b, double factor = 1, std::string kernel = "") {
  Fault f;
  f.kind = std::move(kind);
  f.ranks = std::move(ranks);
  f.first = a;
  f.last = b;
  f.factor = factor;
  f.kernel = std::move(kernel);
  return f;
}
}  // namespace

TEST_CASE("healthy runs give no findings and complete integrity", "[findings]") {
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    RunSpec spec;
    spec.seed = seed;
    spec.world = int(2 + seed * 3);
    spec.steps = 200;
    auto m = model_of(spec);
    auto a = analyze(m);
    INFO("seed " << seed << "\n" << describe(a));
    CHECK(a.findings.empty());
    CHECK(a.integrity.complete);
    CHECK(a.integrity.found_ranks == spec.world);
    CHECK(a.warmup_steps >= 1);
    CHECK(a.warmup_steps <= 5);
  }
}

TEST_CASE("straggler rank is found with its steps", "[findings]") {
  RunSpec spec;
  spec.world = 8;
  spec.faults = {F("slow_rank", {3}, 100, 199, 1.15)};
  auto a = analyze(model_of(spec));
  INFO(describe(a));
  auto s = of_kind(a, "straggler_rank");
  REQUIRE(s.size() == 1);
  CHECK(s[0]->ranks == std::vector<int>{3});
  CHECK(overlaps(*s[0], 100, 199));
  CHECK(s[0]->first_step >= 90);
  CHECK(s[0]->magnitude == Approx(1.15).epsilon(0.03));
  CHECK(of_kind(a, "degraded_kernel").empty());  // slow at everything: a straggler, not a kernel
}

TEST_CASE("masked straggler: the slow rank is named, not the fastest", "[findings]") {
  // Rank 5 computes 12% longer; it arrives last at every allreduce so it waits least, while
  // every other rank's NCCL kernel grows. Its step time equals everybody's.
  RunSpec spec;
  spec.world = 8;
  spec.faults = {F("slow_rank", {5}, 0, 199, 1.12)};
  auto m = model_of(spec);
  auto a = analyze(m);
  INFO(describe(a));
  auto s = of_kind(a, "straggler_rank");
  REQUIRE(s.size() == 1);
  CHECK(s[0]->ranks == std::vector<int>{5});
  CHECK(s[0]->evidence.find("waits least") != std::string::npos);
  // The rank does wait least in collectives.
  auto& r5 = a.ranks[5];
  for (const auto& r : a.ranks) if (r.rank != 5) CHECK(r.coll_p50_ns > r5.coll_p50_ns);
}

TEST_CASE("degraded kernel in a window on one rank", "[findings]") {
  RunSpec spec;
  spec.world = 8;
  spec.faults = {F("slow_kernel", {5}, 50, 80, 1.5, "xmma_gemm")};
  auto a = analyze(model_of(spec));
  INFO(describe(a));
  auto d = of_kind(a, "degraded_kernel");
  REQUIRE(!d.empty());
  CHECK(d[0]->kernel.value().find("xmma_gemm") != std::string::npos);
  CHECK(d[0]->ranks == std::vector<int>{5});
  CHECK(overlaps(*d[0], 50, 80));
  CHECK(d[0]->magnitude > 1.3);
  for (auto* f : d) CHECK(f->kernel.value().find("xmma_gemm") != std::string::npos);
}

TEST_CASE("a run ending inside a window: findings stay within the steps it ran", "[findings]") {
  RunSpec spec;
  spec.world = 8;
  spec.steps = 195;  // windows of 16 steps: the last one is partial
  spec.faults = {F("slow_kernel", {5}, 150, 194, 1.5, "xmma_gemm")};
  auto a = analyze(model_of(spec));
  INFO(describe(a));
  auto d = of_kind(a, "degraded_kernel");
  REQUIRE(!d.empty());
  CHECK(overlaps(*d[0], 150, 194));
  for (const auto& f : a.findings) CHECK(f.last_step <= 194);
}

TEST_CASE("slow collective with no late rank", "[findings]") {
  RunSpec spec;
  spec.world = 8;
  spec.faults = {F("slow_link", {2}, 120, 199, 3.0)};
  auto a = analyze(model_of(spec));
  INFO(describe(a));
  auto c = of_kind(a, "slow_collective");
  REQUIRE(c.size() == 1);
  CHECK(overlaps(*c[0], 120, 199));
  CHECK(c[0]->collective.value() == "allreduce");
  CHECK(of_kind(a, "straggler_rank").empty());
  CHECK(!of_kind(a, "anomalous_window").empty());
}

TEST_CASE("host stall on one rank at one step", "[findings]") {
  RunSpec spec;
  spec.world = 4;
  Fault f = F("stall", {0}, 10, 10);
  f.stall_ns = 800e6;
  spec.faults = {f};
  auto a = analyze(model_of(spec));
  INFO(describe(a));
  auto h = of_kind(a, "host_stall");
  REQUIRE(h.size() == 1);
  CHECK(h[0]->ranks == std::vector<int>{0});
  CHECK(h[0]->first_step == 10);
  CHECK(h[0]->last_step == 10);
  CHECK(a.warmup_steps < 10);  // one slow step later on is not warm-up
}

TEST_CASE("allocator churn on one rank", "[findings]") {
  RunSpec spec;
  spec.world = 8;
  spec.allocs_per_step = 1;  // healthy baseline: one malloc/free pair per step everywhere
  spec.faults = {F("alloc_churn", {4}, 60, 120)};
  spec.faults[0].factor = 1;
  auto a = analyze(model_of(spec));
  INFO(describe(a));
  auto c = of_kind(a, "allocator_churn");
  REQUIRE(c.size() == 1);
  CHECK(c[0]->ranks == std::vector<int>{4});
  CHECK(overlaps(*c[0], 60, 120));
}

TEST_CASE("oom on one rank", "[findings]") {
  RunSpec spec;
  spec.world = 4;
  spec.faults = {F("oom", {2}, 30, 30)};
  auto a = analyze(model_of(spec));
  INFO(describe(a));
  auto o = of_kind(a, "oom");
  REQUIRE(o.size() == 1);
  CHECK(o[0]->ranks == std::vector<int>{2});
  CHECK(o[0]->first_step == 30);
}

TEST_CASE("hang: the rank that never entered the collective", "[findings]") {
  RunSpec spec;
  spec.world = 8;
  spec.faults = {F("hang", {6}, 150, 150)};
  auto m = model_of(spec);
  for (auto& r : m.ranks) r.info.signal = 15;  // argus-run stopped the job
  auto a = analyze(m);
  INFO(describe(a));
  auto h = of_kind(a, "hang");
  REQUIRE(h.size() == 1);
  CHECK(h[0]->ranks == std::vector<int>{6});
  CHECK(h[0]->first_step == 150);
  CHECK(h[0]->collective.value() == "allreduce");
  CHECK(of_kind(a, "crash").empty());
}

TEST_CASE("crash: the killed rank and its last step", "[findings]") {
  RunSpec spec;
  spec.world = 8;
  spec.faults = {F("crash", {1}, 90, 90)};
  auto m = model_of(spec);
  for (auto& r : m.ranks) r.info.signal = r.info.rank == 1 ? 9 : 15;
  auto a = analyze(m);
  INFO(describe(a));
  auto c = of_kind(a, "crash");
  REQUIRE(c.size() == 1);
  CHECK(c[0]->ranks == std::vector<int>{1});
  CHECK(c[0]->first_step == 90);
  CHECK(of_kind(a, "hang").empty());  // the others wait for a dead peer: explained by the crash
  CHECK(!a.integrity.abnormal.empty());
}

TEST_CASE("two ranks: straggler found against the other rank", "[findings]") {
  RunSpec spec;
  spec.world = 2;
  spec.faults = {F("slow_rank", {1}, 60, 199, 1.2)};
  auto a = analyze(model_of(spec));
  INFO(describe(a));
  auto s = of_kind(a, "straggler_rank");
  REQUIRE(s.size() == 1);
  CHECK(s[0]->ranks == std::vector<int>{1});
}

// Every fault kind across world sizes 2-16, on different ranks and steps: the matching
// finding names the right ranks and overlaps the planted steps; no other rank is called a
// straggler.
TEST_CASE("every fault kind is localised across world sizes, ranks and steps", "[findings][sweep]") {
  struct Kind { const char* fault; const char* finding; double factor; bool one_step; };
  const Kind kinds[] = {{"slow_rank", "straggler_rank", 1.2, false}, {"slow_kernel", "degraded_kernel", 1.5, false},
                        {"stall", "host_stall", 1, true},           {"slow_link", "slow_collective", 3.0, false},
                        {"oom", "oom", 1, true},                    {"alloc_churn", "allocator_churn", 1, false},
                        {"crash", "crash", 1, true},                {"hang", "hang", 1, true}};
  int i = 0;
  for (int world : {2, 5, 16}) {
    for (const Kind& k : kinds) {
      ++i;
      const int rank = (i * 7) % world;
      const uint64_t first = 40 + uint64_t(i * 13) % 80, last = k.one_step ? first : first + 50;
      RunSpec spec;
      spec.world = world;
      spec.seed = uint64_t(100 + i);
      Fault f = F(k.fault, {rank}, first, last, k.factor, std::string(k.fault) == "slow_kernel" ? "xmma_gemm" : "");
      if (std::string(k.fault) == "stall") f.stall_ns = 800e6;
      if (std::string(k.fault) == "alloc_churn") spec.allocs_per_step = 1;
      spec.faults = {f};
      auto m = model_of(spec);
      if (std::string(k.fault) == "crash" || std::string(k.fault) == "hang")
        for (auto& r : m.ranks) r.info.signal = (std::string(k.fault) == "crash" && r.info.rank == rank) ? 9 : 15;
      auto a = analyze(m);
      INFO(k.fault << " on rank " << rank << " of " << world << ", steps " << first << "-" << last << "\n" << describe(a));
      auto got = of_kind(a, k.finding);
      REQUIRE(!got.empty());
      CHECK(overlaps(*got[0], first, last));
      if (std::string(k.finding) == "slow_collective") CHECK(got[0]->ranks.size() == size_t(world));
      else CHECK(got[0]->ranks == std::vector<int>{rank});
      for (auto* s : of_kind(a, "straggler_rank")) CHECK(s->ranks == std::vector<int>{rank});  // none elsewhere
    }
  }
}

TEST_CASE("step figures: the host gap is step time minus GPU active time, not minus the busy sum", "[model]") {
  // 10 ms step; 6 ms compute and a 5 ms allreduce on its own stream, 3 ms of it beside compute:
  // the GPU ran something for 8 ms, so 2 ms were host time with the GPU idle.
  StepRec s = make_step(7, 1000000, 11000000, 11000000, 5000000, 8000000, 2, 1, 0);
  CHECK(s.step_ns == Approx(10e6));
  CHECK(s.coll_ns == Approx(5e6));
  CHECK(s.compute_ns == Approx(6e6));
  CHECK(s.gap_ns == Approx(2e6));
  CHECK(s.alloc_calls == 3);
  // No active time recorded (0): the busy sum stands in, clamped at zero.
  CHECK(make_step(7, 1000000, 11000000, 11000000, 5000000, 0, 0, 0, 0).gap_ns == 0);
  CHECK(make_step(7, 1000000, 11000000, 7000000, 0, 0, 0, 0, 0).gap_ns == Approx(3e6));
  // An open step: no figures.
  CHECK_FALSE(make_step(7, 1000000, 0, 1, 1, 1, 0, 0, 0).completed());
}
