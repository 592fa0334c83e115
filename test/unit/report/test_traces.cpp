// Real kernel names and durations: each Kineto trace in ../shared/traces is turned into a rank
// record (every kernel event recorded as libargus records a CUPTI kernel record), and the
// report's per-kernel counts, totals and medians must equal the trace's own, computed here
// independently. (This exercises the report side only; the simtrain replay through the
// interposer is covered by the integration tests.)
#include <algorithm>
#include <cmath>
#include <map>

#include <catch2/catch.hpp>

#include "kineto_trace.h"
#include "record_reader.h"
#include "render.h"
#include "synth_run.h"

using namespace argus::report;

namespace {
bool is_nccl(const std::string& n) { return n.rfind("ncclKernel_", 0) == 0 || n.rfind("ncclDevKernel_", 0) == 0; }
}  // namespace

TEST_CASE("per-kernel totals and counts of real traces survive the record and the report", "[traces]") {
  auto files = argus::test::list_trace_files();
  REQUIRE(files.size() >= 3);
  for (const auto& path : files) {
    SECTION(path) {
      auto t = argus::test::load_kineto_trace(path);
      REQUIRE(!t.kernels.empty());
      argus::synth::RecordImage img;
      img.header(0, 1, "a100", 4242, "trace", argus::rec::kStateExited);
      auto& R = img.rec();
      R.header.window_steps = 1;
      R.integrity.cupti_state = argus::rec::kCuptiOk;
      R.integrity.duration_source = argus::rec::kDurCupti;
      // Steps from the ProfilerStep annotations; kernels attributed as the trace tools do.
      std::vector<uint64_t> busy(t.steps.size()), coll(t.steps.size());
      std::map<std::string, std::pair<uint64_t, uint64_t>> truth;  // name -> (count, total ns)
      std::map<std::string, std::vector<uint64_t>> durs;
      for (const auto& k : t.kernels) {
        uint32_t row = img.kernel_row(k.name, is_nccl(k.name));
        auto& kr = R.kernels[row];
        kr.launches[argus::rec::kPathCudaLaunchKernel]++;
        kr.gpu_count++;
        kr.gpu_sum_ns += k.dur_ns;
        kr.gpu_max_ns = std::max(kr.gpu_max_ns, k.dur_ns);
        kr.gpu_duration.record_single_writer(k.dur_ns);
        truth[k.name].first++;
        truth[k.name].second += k.dur_ns;
        durs[k.name].push_back(k.dur_ns);
        int s = argus::test::step_index(t, k);
        if (s >= 0) { busy[size_t(s)] += k.dur_ns; if (is_nccl(k.name)) coll[size_t(s)] += k.dur_ns; }
      }
      for (size_t i = 0; i < t.steps.size(); ++i) {
        auto& row = R.steps[i];
        row.seq = 2;
        row.ordinal = i;
        row.index = t.steps[i].step;
        row.host_start_ns = uint64_t(llround(t.steps[i].ts_us * 1000));
        row.host_end_ns = uint64_t(llround((t.steps[i].ts_us + t.steps[i].dur_us) * 1000));
        row.gpu_busy_ns = busy[i];
        row.collective_ns = coll[i];
        R.step_summary.steps_begun++;
      }
      RunModel m;
      m.run_dir = "trace";
      m.ranks.push_back(decode_record(img.bytes(), img.size(), "trace.argus"));
      auto a = analyze(m);
      auto j = metrics_json(m, a);
      REQUIRE(j["kernels"].size() == truth.size());
      uint64_t all = 0;
      for (auto& [n, v] : truth) all += v.second;
      for (const auto& k : j["kernels"]) {
        std::string name = k["name"];
        INFO(name);
        REQUIRE(truth.count(name));
        CHECK(k["count"] == truth[name].first);
        CHECK(k["total_ms"].get<double>() == Approx(double(truth[name].second) / 1e6).epsilon(1e-5));
        CHECK(k["share"].get<double>() == Approx(double(truth[name].second) / double(all)).epsilon(1e-3).margin(1e-4));
        auto d = durs[name];
        std::sort(d.begin(), d.end());
        double exact = double(d[argus::nearest_rank(0.5, d.size()) - 1]);
        CHECK(k["duration_us"]["p50"].get<double>() * 1e3 == Approx(exact).epsilon(argus::kSketchMaxRelativeError + 1e-6).margin(1.0));
        CHECK(k["collective"] == is_nccl(name));
      }
      CHECK(j["steps"]["count"] == t.steps.size());
      CHECK(dump_json(j).size() > 0);  // long templated names serialise
      std::string md = report_markdown(m, a, {});
      CHECK(md.find("## Kernels") != std::string::npos);
    }
  }
}
