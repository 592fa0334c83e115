// bench-report (scripts/bench report [DATA_DIR] [--repeat N]): how long `argus report` takes to
// merge 1,024 rank records of 10,000 steps each, its peak memory, and how the time grows from
// 128 to 1,024 ranks. The records are synthetic (test/unit/report/synth), written once as
// sparse files before anything is timed and reused. What is timed is one `argus report -q`
// process per run (read, merge, analyse, render, write), a child so that its own peak RSS is
// measured (wait4), after an untimed run that brings the records into the page cache. Each
// size runs N times (default 3) and the median is reported, the fastest alongside: the
// machine is shared and one run can be off by a factor of two. Every run's metrics.json must
// count all the ranks, so a broken merge cannot pass for a fast one.
// Last output line: one JSON object of figures (scripts/bench contract).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "synth_run.h"

namespace fs = std::filesystem;

namespace {

struct Child { double wall_s = 0; double cpu_s = 0; double rss_mib = 0; int rc = -1; };

Child run_report(const std::string& argus, const fs::path& dir) {
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    execl(argus.c_str(), argus.c_str(), "report", "-q", dir.c_str(), (char*)nullptr);
    _exit(127);
  }
  int status = 0;
  struct rusage ru{};
  wait4(pid, &status, 0, &ru);
  Child c;
  c.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  c.rss_mib = double(ru.ru_maxrss) / 1024.0;
  c.cpu_s = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  c.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}
double r3(double v) { return std::round(v * 1000) / 1000; }

struct Figures { std::vector<double> wall, cpu; double rss_mib = 0; };

// One run of argus report on `dir`, which must report `ranks` ranks found.
bool measure(const std::string& argus, const fs::path& dir, int ranks, Figures& f) {
  Child c = run_report(argus, dir);
  if (c.rc != 0) { std::fprintf(stderr, "bench-report: argus report failed on %d ranks (%d)\n", ranks, c.rc); return false; }
  nlohmann::json m = nlohmann::json::parse(std::ifstream(dir / "metrics.json"), nullptr, false);
  if (m.is_discarded() || m["integrity"]["ranks_found"] != ranks) {
    std::fprintf(stderr, "bench-report: %s/metrics.json does not count %d ranks\n", dir.c_str(), ranks);
    return false;
  }
  std::fprintf(stderr, "bench-report: %4d ranks: %.2f s wall, %.2f s CPU, peak RSS %.0f MiB\n", ranks, c.wall_s, c.cpu_s, c.rss_mib);
  f.wall.push_back(c.wall_s);
  f.cpu.push_back(c.cpu_s);
  f.rss_mib = std::max(f.rss_mib, c.rss_mib);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int world = 1024;
  uint64_t steps = 10000;
  fs::path self = fs::canonical("/proc/self/exe");
  std::string argus = (self.parent_path() / "argus").string();
  fs::path data = self.parent_path().parent_path() / "bench-report-data";
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else data = a;
  }
  fs::path full = data / "run-1024";
  std::string tag = "v1 world=1024 steps=10000";
  double gen_s = 0;
  {
    std::ifstream in(data / "READY");
    std::string have;
    std::getline(in, have);
    if (have != tag) {
      std::error_code ec;
      fs::remove_all(data, ec);
      fs::create_directories(data);
      std::fprintf(stderr, "bench-report: writing %d synthetic records of %llu steps into %s ...\n", world, (unsigned long long)steps, data.c_str());
      auto t0 = std::chrono::steady_clock::now();
      argus::synth::RunSpec spec;
      spec.world = world;
      spec.steps = steps;
      spec.seed = 42;
      spec.kernels = {{"_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctorIfEESt5arrayIPcLm1EEEEviT0_T1_", 2, 30e3, 0.04},
                      {"sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x32_stage4_warpsize2x2x1_tensor16x8x16", 3, 180e3, 0.02},
                      {"void flash_fwd_kernel<Flash_fwd_kernel_traits<128, 64, 64, 4, false, false, cutlass::bfloat16_t>, true>(Flash_fwd_params)", 2, 250e3, 0.03},
                      {"_ZN2at6native13reduce_kernelILi512ELi1ENS0_8ReduceOpIfNS0_7MeanOpsIffEEjfLi4EEEEEvT1_", 1, 45e3, 0.05}};
      argus::synth::write_run(spec, full);
      gen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::ofstream(data / "READY") << tag << "\n";
    }
  }
  // Subsets for the scaling curve: symlinks to the first N records.
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(full / "ranks")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  // One untimed run first: the records' pages may have left the page cache since they were
  // written (the machine is shared), and disk reads are not what this measures.
  if (run_report(argus, full).rc != 0) { std::fprintf(stderr, "bench-report: argus report failed on %s\n", full.c_str()); return 1; }
  // Rounds over all sizes (not each size N times in a row), so that a burst of other load
  // on the machine does not land on one size only and skew the growth.
  const std::vector<int> sizes = {128, 256, 512, world};
  std::vector<Figures> figs(sizes.size());
  for (int round = 0; round < repeat; ++round)
    for (size_t k = 0; k < sizes.size(); ++k) {
      int n = sizes[k];
      fs::path d = n == world ? full : data / ("run-" + std::to_string(n));
      if (!fs::exists(d / "ranks")) {
        fs::create_directories(d / "ranks");
        for (int i = 0; i < n && i < int(files.size()); ++i) fs::create_symlink(files[size_t(i)], d / "ranks" / files[size_t(i)].filename());
        fs::copy_file(full / "run_meta.json", d / "run_meta.json", fs::copy_options::overwrite_existing);
      }
      if (!measure(argus, d, n, figs[k])) return 1;
    }
  nlohmann::ordered_json scaling;
  for (size_t k = 0; k < sizes.size(); ++k)
    scaling[std::to_string(sizes[k])] = {{"wall_s", r3(median(figs[k].wall))}, {"wall_min_s", r3(*std::min_element(figs[k].wall.begin(), figs[k].wall.end()))},
                                         {"cpu_s", r3(median(figs[k].cpu))}, {"peak_rss_mib", std::round(figs[k].rss_mib)}};
  const Figures& c = figs.back();
  double t128 = median(figs.front().wall), c128 = median(figs.front().cpu);
  nlohmann::ordered_json out;
  out["benchmark"] = "report";
  out["ranks"] = world;
  out["steps"] = steps;
  out["repeat"] = repeat;
  out["merge_s"] = r3(median(c.wall));            // median of the runs
  out["merge_min_s"] = r3(*std::min_element(c.wall.begin(), c.wall.end()));
  out["merge_cpu_s"] = r3(median(c.cpu));         // less sensitive to other load on the machine
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) out["load_avg_1m"] = std::round(load[0] * 100) / 100;
  out["peak_rss_mib"] = std::round(c.rss_mib);   // highest of the runs
  out["scaling_s"] = scaling;
  out["growth_1024_over_128"] = t128 > 0 ? std::round(median(c.wall) / t128 * 100) / 100 : 0.0;  // 8.0 = linear
  out["cpu_growth_1024_over_128"] = c128 > 0 ? std::round(median(c.cpu) / c128 * 100) / 100 : 0.0;
  out["targets"] = {{"merge_s", 10}, {"peak_rss_mib", 2048}};
  {
    // A rank record keeps the last kStepRing (8,192) steps in full; earlier ones only in totals.
    nlohmann::json m = nlohmann::json::parse(std::ifstream(full / "metrics.json"), nullptr, false);
    if (!m.is_discarded() && m["steps"]["count"].is_number()) out["steps_merged_per_rank"] = m["steps"]["count"];
  }
  out["timed"] = "one `argus report -q RUN_DIR` process per run (read, merge, analyse, render, write); records written before timing";
  out["page_cache"] = "warm (an untimed run reads every record first)";
  if (gen_s > 0) out["generate_s"] = std::round(gen_s * 10) / 10;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
