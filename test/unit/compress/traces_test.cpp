// The sketch on real A100 kernel durations (../shared/traces): per kernel name, p50/p90/p99/
// p99.9 within 1% of the exact nearest-rank quantile; and per-step windows of the real kernel
// table through the codec. One test case so each trace is parsed once per test process.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "argus/window_codec.h"
#include "kineto_trace.h"

using argus::Sketch;

TEST_CASE("real kernel durations: quantiles within 1%, windows round-trip", "[sketch][traces]") {
  const auto files = argus::test::list_trace_files();
  REQUIRE(files.size() >= 3);
  double worst = 0;
  size_t groups = 0, checked = 0;
  for (const auto& file : files) {
    const auto trace = argus::test::load_kineto_trace(file);
    REQUIRE(!trace.kernels.empty());
    INFO(file);

    // Group by kernel name (ids in order of first appearance).
    std::map<std::string, uint32_t> ids;
    std::vector<std::vector<uint64_t>> values;
    for (const auto& k : trace.kernels) {
      auto [it, fresh] = ids.emplace(k.name, uint32_t(ids.size()));
      if (fresh) values.emplace_back();
      values[it->second].push_back(k.dur_ns);
    }
    for (auto& v : values) {
      auto s = std::make_unique<Sketch>();
      for (uint64_t x : v) s->record(x);
      std::sort(v.begin(), v.end());
      ++groups;
      REQUIRE(s->count() == v.size());
      REQUIRE(s->min() == v.front());
      REQUIRE(s->max() == v.back());
      for (double q : {0.5, 0.9, 0.99, 0.999}) {
        const double exact = double(v[argus::nearest_rank(q, v.size()) - 1]);
        const double err = std::fabs(s->quantile(q) - exact) / exact;
        INFO("q=" << q << " n=" << v.size() << " exact=" << exact << " est=" << s->quantile(q));
        REQUIRE(err <= 0.01);
        worst = std::max(worst, err);
        ++checked;
      }
    }

    // Per-step windows of the whole kernel table: cumulative table, snapshot at every step
    // boundary, encode the window, decode, compare with a sketch of that step's kernels alone.
    const size_t n_ids = ids.size();
    std::vector<Sketch> live(n_ids), prev(n_ids);
    std::map<int, std::vector<const argus::test::KernelEvent*>> by_step;
    for (const auto& k : trace.kernels) by_step[argus::test::step_index(trace, k)].push_back(&k);
    REQUIRE(by_step.size() >= 2);
    for (const auto& [step, ks] : by_step) {
      if (step < 0) continue;  // kernels outside every ProfilerStep
      std::vector<Sketch> expect(n_ids);
      for (const auto* k : ks) {
        live[ids[k->name]].record(k->dur_ns);
        expect[ids[k->name]].record(k->dur_ns);
      }
      std::vector<argus::SketchRow> rows;
      for (uint32_t i = 0; i < n_ids; ++i) rows.push_back({i, &prev[i], &live[i]});
      std::vector<uint8_t> bytes;
      REQUIRE(argus::encode_window({uint64_t(step), 1, 0, 0, 0}, rows, {}, bytes));
      argus::DecodedWindow w;
      std::string err;
      REQUIRE(argus::decode_window(bytes, w, &err));
      size_t nonempty = 0;
      for (const auto& e : expect) nonempty += e.count() ? 1 : 0;
      REQUIRE(w.sketches.size() == nonempty);
      for (const auto& d : w.sketches) {
        const Sketch& e = expect[d.id];
        REQUIRE(std::memcmp(d.delta.buckets, e.buckets, sizeof e.buckets) == 0);
        REQUIRE(d.delta.sum() == e.sum());
        REQUIRE(Sketch::bucket_index(d.delta.min()) == Sketch::bucket_index(e.min()));
        REQUIRE(Sketch::bucket_index(d.delta.max()) == Sketch::bucket_index(e.max()));
      }
      prev = live;
    }
  }
  WARN("real traces: " << groups << " kernel groups, " << checked << " quantiles, worst relative error "
                       << worst * 100 << "%");
  CHECK(worst <= argus::kSketchMaxRelativeError);
}
