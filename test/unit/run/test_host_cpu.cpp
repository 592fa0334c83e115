// Host CPU shares for run_meta.json (report/run/host_cpu.h): the job's CPU is its waited-for
// children's, everything else busy on the host is "other".
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>

#include <catch2/catch.hpp>

#include "host_cpu.h"

using namespace argus::run;

namespace {
double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}
// Burns `seconds` of this thread's CPU time (not wall time: a loaded host must not shrink it).
void burn_cpu(double seconds) {
  double end = thread_cpu_s() + seconds;
  volatile unsigned x = 0;
  while (thread_cpu_s() < end) x = x + 1;
}
}  // namespace

TEST_CASE("host load: shares from two snapshots", "[run]") {
  CpuSnapshot a, b;
  a.ok = b.ok = true;
  a.total_s = 100; b.total_s = 120;     // 20 CPU-seconds of capacity passed
  a.busy_s = 10;   b.busy_s = 24;       // 14 busy
  a.children_s = 1; b.children_s = 9;   // 8 of them the job's
  a.steal_s = 0;   b.steal_s = 1;
  b.cpus = 2;
  auto j = host_load_json(a, b);
  CHECK(j["cpus"] == 2);
  CHECK(j["job_share"].get<double>() == Approx(0.4));
  CHECK(j["other_share"].get<double>() == Approx(0.3));
  CHECK(j["steal_share"].get<double>() == Approx(0.05));
  // Accounting skew (the job's reaped time exceeds what /proc/stat saw): never negative.
  b.children_s = 30;
  j = host_load_json(a, b);
  CHECK(j["other_share"].get<double>() == 0);
  CHECK(j["job_share"].get<double>() == 1);
  // Unreadable /proc/stat or no time passed: null, never a made-up number.
  CpuSnapshot bad;
  CHECK(host_load_json(bad, b).is_null());
  CHECK(host_load_json(a, a).is_null());
}

TEST_CASE("host load: a child's CPU is the job's, our own thread's is other", "[run]") {
  CpuSnapshot s0 = cpu_snapshot();
  REQUIRE(s0.ok);
  CHECK(s0.cpus >= 1);
  // A child process burns 0.3 s of CPU and is waited for: job time.
  pid_t c = fork();
  REQUIRE(c >= 0);
  if (c == 0) {
    burn_cpu(0.3);
    _exit(0);
  }
  int st = 0;
  REQUIRE(waitpid(c, &st, 0) == c);
  CpuSnapshot s1 = cpu_snapshot();
  CHECK(s1.children_s - s0.children_s >= 0.29);
  auto j1 = host_load_json(s0, s1);
  REQUIRE(j1.is_object());
  CHECK(j1["job_share"].get<double>() > 0);
  // This process spins (not a child): that is somebody else's load from the job's view.
  double t0 = thread_cpu_s();
  burn_cpu(0.3);
  double mine = thread_cpu_s() - t0;
  CpuSnapshot s2 = cpu_snapshot();
  auto j2 = host_load_json(s1, s2);
  REQUIRE(j2.is_object());
  double other_cpu_s = j2["other_share"].get<double>() * (s2.total_s - s1.total_s);
  CHECK(other_cpu_s >= 0.7 * mine - 0.02);  // jiffy granularity (10 ms) and rounding
  CHECK(j2["job_share"].get<double>() == 0);
}
