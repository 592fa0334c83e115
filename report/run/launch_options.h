// argus-run's command line, run identity and child environment: pure logic, unit-tested.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace argus::run {

struct LaunchOptions {
  std::string out;             // --out DIR: the run directory itself
  std::string name;            // --name NAME
  std::string steps_from = "auto";
  std::string host;            // --host NAME (else ARGUS_HOST, else the host name)
  std::string lib;             // --lib PATH: libargus.so to preload (default <prefix>/lib)
  double grace_s = 10.0;       // --grace SECONDS between forwarding a stop signal and SIGKILL
  bool report = true;          // --no-report turns it off
  bool help = false;
  std::vector<std::string> command;
};

// Parses argv[1..]. Options stop at "--" or at the first argument that is not an option.
// Returns nullopt and sets *error (one line) on bad usage.
std::optional<LaunchOptions> parse_launch_args(const std::vector<std::string>& args, std::string* error);

std::string usage_text();

// "auto" | "marker" | "nvtx:PATTERN" (non-empty) | "window:SECONDS" (> 0).
bool valid_steps_from(const std::string& s);

// Keeps [A-Za-z0-9._-], replaces anything else by '_', at most 96 characters; "" -> "run".
std::string sanitize_id(const std::string& s);

using EnvLookup = std::function<const char*(const char*)>;

// The scheduler's job id, if any (SLURM_JOB_ID, PBS_JOBID, LSB_JOBID, FLUX_JOB_ID,
// COBALT_JOBID, JOB_ID with SGE_ROOT), sanitised; empty when none.
std::string scheduler_job_id(const EnvLookup& env);

// The run id shared by every launcher of a run:
//   ARGUS_RUN_ID if set; else the scheduler's job id (prefixed by --name when given);
//   else, with --out DIR, the directory's name (so launchers given the same shared
//   directory agree); else "<UTC time>-<name>" (a new run).
std::string resolve_run_id(const LaunchOptions& o, const EnvLookup& env, const std::string& utc_stamp);

// Default run directory when --out is not given: ./argus-runs/<run id>.
std::string default_run_dir(const std::string& run_id);

// The name used when --name is not given: the command's basename, sanitised.
std::string default_name(const std::vector<std::string>& command);

// "A" prepended to a ':'-separated list (LD_PRELOAD also accepts spaces), without
// duplicating A when it is already there.
std::string prepend_path_list(const std::string& first, const char* existing);

}  // namespace argus::run
