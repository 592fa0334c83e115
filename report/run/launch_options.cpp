#include "launch_options.h"

#include <cstdlib>
#include <sstream>

namespace argus::run {

std::string usage_text() {
  return R"(usage: argus-run [options] [--] CMD [ARGS...]

Runs CMD with the Argus interposer (libargus.so) and the Python step hook, then collects
every rank record into the run directory and runs `argus report` on it.

options:
  --out DIR            run directory (default ./argus-runs/<run id>)
  --name NAME          run name (default: the command's name)
  --steps-from SRC     step boundaries: auto | marker | nvtx:PATTERN | window:SECONDS
  --host NAME          host name used in record names (default $ARGUS_HOST or the host name)
  --grace SECONDS      after forwarding SIGINT/SIGTERM/SIGHUP, wait this long before SIGKILL (10)
  --lib PATH           libargus.so to preload (default <prefix>/lib/libargus.so)
  --no-report          do not run `argus report` at the end
  -h, --help           this text

The run id is $ARGUS_RUN_ID, else the scheduler's job id (SLURM_JOB_ID, ...), else the
name of --out DIR, else "<UTC time>-<name>". Launchers on several nodes that share a run
directory must agree on it (same --out, ARGUS_RUN_ID, or job id).
Exit status: CMD's (128+signal when CMD was killed by a signal); 2 on usage errors.
)";
}

bool valid_steps_from(const std::string& s) {
  if (s == "auto" || s == "marker") return true;
  if (s.rfind("nvtx:", 0) == 0) return s.size() > 5;
  if (s.rfind("window:", 0) == 0) {
    std::string v = s.substr(7);
    if (v.empty()) return false;
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    return end && *end == '\0' && d > 0;
  }
  return false;
}

std::string sanitize_id(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    out += ok ? c : '_';
    if (out.size() >= 96) break;
  }
  if (out.empty() || out == "." || out == "..") out = "run";
  return out;
}

std::optional<LaunchOptions> parse_launch_args(const std::vector<std::string>& args, std::string* error) {
  LaunchOptions o;
  std::size_t i = 0;
  auto value = [&](const std::string& opt, std::string* dst) -> bool {
    if (i + 1 >= args.size()) {
      *error = "option " + opt + " needs a value";
      return false;
    }
    *dst = args[++i];
    return true;
  };
  for (; i < args.size(); ++i) {
    std::string a = args[i];
    std::string inline_value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      inline_value = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
      has_inline = true;
    }
    auto take = [&](std::string* dst) -> bool {
      if (has_inline) {
        *dst = inline_value;
        return true;
      }
      return value(a, dst);
    };
    if (a == "--") {
      ++i;
      break;
    } else if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    } else if (a == "--out") {
      if (!take(&o.out)) return std::nullopt;
      if (o.out.empty()) { *error = "--out needs a directory"; return std::nullopt; }
    } else if (a == "--name") {
      if (!take(&o.name)) return std::nullopt;
    } else if (a == "--steps-from") {
      if (!take(&o.steps_from)) return std::nullopt;
      if (!valid_steps_from(o.steps_from)) {
        *error = "--steps-from: '" + o.steps_from + "' is not auto, marker, nvtx:PATTERN or window:SECONDS";
        return std::nullopt;
      }
    } else if (a == "--host") {
      if (!take(&o.host)) return std::nullopt;
      if (o.host.empty() || sanitize_id(o.host) != o.host) {
        *error = "--host: '" + o.host + "' must use only [A-Za-z0-9._-]";
        return std::nullopt;
      }
    } else if (a == "--lib") {
      if (!take(&o.lib)) return std::nullopt;
    } else if (a == "--grace") {
      std::string v;
      if (!take(&v)) return std::nullopt;
      char* end = nullptr;
      o.grace_s = std::strtod(v.c_str(), &end);
      if (v.empty() || !end || *end != '\0' || o.grace_s < 0) {
        *error = "--grace: '" + v + "' is not a number of seconds";
        return std::nullopt;
      }
    } else if (a == "--no-report") {
      if (has_inline) { *error = "--no-report takes no value"; return std::nullopt; }
      o.report = false;
    } else if (a.size() > 1 && a[0] == '-') {
      *error = "unknown option " + a;
      return std::nullopt;
    } else {
      break;  // first word of CMD
    }
  }
  for (; i < args.size(); ++i) o.command.push_back(args[i]);
  if (o.command.empty()) {
    *error = "no command given (argus-run [options] -- CMD...)";
    return std::nullopt;
  }
  return o;
}

std::string scheduler_job_id(const EnvLookup& env) {
  for (const char* k : {"SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID", "FLUX_JOB_ID", "COBALT_JOBID"}) {
    const char* v = env(k);
    if (v && *v) return sanitize_id(v);
  }
  const char* sge = env("SGE_ROOT");
  const char* job = env("JOB_ID");
  if (sge && *sge && job && *job) return sanitize_id(job);
  return "";
}

std::string default_name(const std::vector<std::string>& command) {
  if (command.empty()) return "run";
  std::string c = command.front();
  auto slash = c.rfind('/');
  if (slash != std::string::npos) c = c.substr(slash + 1);
  return sanitize_id(c);
}

std::string resolve_run_id(const LaunchOptions& o, const EnvLookup& env, const std::string& utc_stamp) {
  if (const char* id = env("ARGUS_RUN_ID"); id && *id) return sanitize_id(id);
  std::string job = scheduler_job_id(env);
  if (!job.empty()) return o.name.empty() ? "job-" + job : sanitize_id(o.name) + "-" + job;
  if (!o.out.empty()) {
    std::string d = o.out;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    auto slash = d.rfind('/');
    return sanitize_id(slash == std::string::npos ? d : d.substr(slash + 1));
  }
  std::string name = o.name.empty() ? default_name(o.command) : sanitize_id(o.name);
  return sanitize_id(utc_stamp + "-" + name);
}

std::string default_run_dir(const std::string& run_id) { return "argus-runs/" + run_id; }

std::string prepend_path_list(const std::string& first, const char* existing) {
  if (!existing || !*existing) return first;
  std::string ex = existing;
  // Already present (e.g. a nested argus-run): keep the list as it is.
  std::stringstream ss(ex);
  std::string item;
  while (std::getline(ss, item, ':'))
    if (item == first) return ex;
  return first + ":" + ex;
}

}  // namespace argus::run
