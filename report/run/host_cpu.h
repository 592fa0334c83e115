// Host CPU use while a job ran: how much of the machine went to the job and how much to
// everything else (another job, a compile, a noisy neighbour's VM: steal).  `argus compare`
// uses it to tell a host-side slowdown that came with a busier host from one the job caused.
#pragma once

#include <nlohmann/json.hpp>

namespace argus::run {

struct CpuSnapshot {
  bool ok = false;
  double busy_s = 0;      // every CPU's non-idle time (/proc/stat "cpu" line, steal included)
  double total_s = 0;     // every CPU's time, idle and iowait included
  double steal_s = 0;     // time the hypervisor gave to other guests
  double children_s = 0;  // user + system time of our waited-for descendants (the job)
  int cpus = 0;
};

// /proc/stat and getrusage(RUSAGE_CHILDREN) now.  ok == false when /proc/stat is unreadable.
CpuSnapshot cpu_snapshot();

// {"cpus", "job_share", "other_share", "steal_share"}: shares of the host's CPU capacity
// between the two snapshots (the job: our descendants; other: every other process, and
// steal).  null when either snapshot failed or no time passed.
nlohmann::json host_load_json(const CpuSnapshot& start, const CpuSnapshot& end);

}  // namespace argus::run
