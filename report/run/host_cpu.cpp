#include "host_cpu.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace argus::run {

CpuSnapshot cpu_snapshot() {
  CpuSnapshot s;
  rusage ru{};
  if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
    s.children_s = double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::ifstream in("/proc/stat");
  long hz = sysconf(_SC_CLK_TCK);
  if (!in || hz <= 0) return s;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0) continue;
    if (line.size() > 3 && line[3] != ' ') { ++s.cpus; continue; }  // cpuN
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest is in user)
    std::istringstream f(line.substr(3));
    double v[8] = {};
    for (double& x : v) f >> x;
    if (!f) return s;
    double idle = v[3] + v[4];
    double busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    s.busy_s = busy / double(hz);
    s.total_s = (busy + idle) / double(hz);
    s.steal_s = v[7] / double(hz);
    s.ok = true;
  }
  return s;
}

nlohmann::json host_load_json(const CpuSnapshot& a, const CpuSnapshot& b) {
  double total = b.total_s - a.total_s;
  if (!a.ok || !b.ok || !(total > 0)) return nullptr;
  auto share = [&](double x) { return std::round(std::clamp(x / total, 0.0, 1.0) * 1e4) / 1e4; };
  double job = std::max(0.0, b.children_s - a.children_s);
  double busy = std::max(0.0, b.busy_s - a.busy_s);
  return {{"cpus", b.cpus},
          {"job_share", share(job)},
          {"other_share", share(std::max(0.0, busy - job))},
          {"steal_share", share(std::max(0.0, b.steal_s - a.steal_s))}};
}

}  // namespace argus::run
