// bench-report (scripts/bench report): how long `argus report` takes to merge 1,024 rank
// records of 10,000 steps each, its peak memory, and how the time grows from 128 to 1,024
// ranks. The records are synthetic (test/unit/report/synth), written once as sparse files and
// reused; `argus report` runs as a child process so its own peak RSS is measured (wait4).
// Last output line: one JSON object of figures (scripts/bench contract).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

}  // namespace

int main(int argc, char** argv) {
  int world = 1024;
  uint64_t steps = 10000;
  fs::path self = fs::canonical("/proc/self/exe");
  std::string argus = (self.parent_path() / "argus").string();
  fs::path data = argc > 1 ? fs::path(argv[1]) : self.parent_path().parent_path() / "bench-report-data";
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
  nlohmann::ordered_json scaling;
  double t128 = 0, c128 = 0;
  for (int n : {128, 256, 512}) {
    fs::path d = data / ("run-" + std::to_string(n));
    if (!fs::exists(d / "ranks")) {
      fs::create_directories(d / "ranks");
      for (int i = 0; i < n && i < int(files.size()); ++i) fs::create_symlink(files[size_t(i)], d / "ranks" / files[size_t(i)].filename());
      fs::copy_file(full / "run_meta.json", d / "run_meta.json", fs::copy_options::overwrite_existing);
    }
    Child c = run_report(argus, d);
    if (c.rc != 0) { std::fprintf(stderr, "bench-report: argus report failed on %d ranks (%d)\n", n, c.rc); return 1; }
    std::fprintf(stderr, "bench-report: %4d ranks: %.2f s wall, %.2f s CPU, peak RSS %.0f MiB\n", n, c.wall_s, c.cpu_s, c.rss_mib);
    scaling[std::to_string(n)] = {{"wall_s", std::round(c.wall_s * 1000) / 1000}, {"cpu_s", std::round(c.cpu_s * 1000) / 1000}};
    if (n == 128) { t128 = c.wall_s; c128 = c.cpu_s; }
  }
  Child c = run_report(argus, full);
  if (c.rc != 0) { std::fprintf(stderr, "bench-report: argus report failed on 1024 ranks (%d)\n", c.rc); return 1; }
  std::fprintf(stderr, "bench-report: 1024 ranks: %.2f s wall, %.2f s CPU, peak RSS %.0f MiB\n", c.wall_s, c.cpu_s, c.rss_mib);
  scaling["1024"] = {{"wall_s", std::round(c.wall_s * 1000) / 1000}, {"cpu_s", std::round(c.cpu_s * 1000) / 1000}};
  nlohmann::ordered_json out;
  out["benchmark"] = "report";
  out["ranks"] = world;
  out["steps"] = steps;
  out["merge_s"] = std::round(c.wall_s * 1000) / 1000;
  out["merge_cpu_s"] = std::round(c.cpu_s * 1000) / 1000;  // less sensitive to other load on the machine
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) out["load_avg_1m"] = std::round(load[0] * 100) / 100;
  out["peak_rss_mib"] = std::round(c.rss_mib);
  out["scaling_s"] = scaling;
  out["growth_1024_over_128"] = t128 > 0 ? std::round(c.wall_s / t128 * 100) / 100 : 0.0;  // 8.0 = linear
  out["cpu_growth_1024_over_128"] = c128 > 0 ? std::round(c.cpu_s / c128 * 100) / 100 : 0.0;
  out["targets"] = {{"merge_s", 10}, {"peak_rss_mib", 2048}};
  out["page_cache"] = "warm (records read back right after being written or from an earlier run)";
  if (gen_s > 0) out["generate_s"] = std::round(gen_s * 10) / 10;
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
