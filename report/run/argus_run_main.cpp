// argus-run: the launcher. Makes the run directory, writes run_meta.json, runs CMD with the
// interposer and the Python step hook, forwards signals, collects every rank record when CMD
// ends (however it ends), completes run_meta.json and runs `argus report`.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "argus_collect.h"
#include "host_cpu.h"
#include "launch_options.h"
#include "run_meta.h"

extern char** environ;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace argus::run;

namespace {

constexpr const char* kVersion = "0.1.0";

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string compact_utc_stamp() {
  time_t t = time(nullptr);
  struct tm tmv{};
  gmtime_r(&t, &tmv);
  char buf[32];
  strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tmv);
  return buf;
}

std::string signal_name(int sig) {
  const char* n = sigabbrev_np(sig);
  return n ? std::string("SIG") + n : "signal " + std::to_string(sig);
}

fs::path self_prefix() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return exe.parent_path().parent_path();
}

std::string find_on_path(const std::string& name) {
  const char* path = getenv("PATH");
  if (!path) return "";
  std::string p = path;
  std::size_t start = 0;
  while (start <= p.size()) {
    auto end = p.find(':', start);
    std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty()) {
      fs::path c = fs::path(dir) / name;
      if (access(c.c_str(), X_OK) == 0) return c.string();
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

// Environment of CMD: ours prepended/added, everything else untouched.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& set) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string k = kv.substr(0, kv.find('='));
    if (!set.count(k)) env.push_back(kv);
  }
  for (auto& [k, v] : set) env.push_back(k + "=" + v);
  return env;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string error;
  auto parsed = parse_launch_args(args, &error);
  if (!parsed) {
    std::cerr << "argus-run: " << error << " (see argus-run --help)\n";
    return 2;
  }
  LaunchOptions o = *parsed;
  if (o.help) {
    std::cout << usage_text();
    return 0;
  }

  // Identity of this launch.
  std::string host = o.host;
  if (host.empty()) {
    const char* h = getenv("ARGUS_HOST");
    if (h && *h) host = h;
  }
  if (host.empty()) {
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    host = buf;
  }
  host = sanitize_id(host);
  auto env_lookup = [](const char* k) -> const char* { return getenv(k); };
  const std::string run_id = resolve_run_id(o, env_lookup, compact_utc_stamp());
  std::error_code ec;
  fs::path run_dir = fs::absolute(o.out.empty() ? default_run_dir(run_id) : o.out, ec);
  for (const char* sub : {"ranks", "software", "run_meta.d"}) {
    fs::create_directories(run_dir / sub, ec);
    if (ec) {
      std::cerr << "argus-run: " << (run_dir / sub).string() << ": cannot create (" << ec.message() << ")\n";
      return 2;
    }
  }

  fs::path prefix = self_prefix();
  fs::path lib = o.lib.empty() ? prefix / "lib" / "libargus.so" : fs::absolute(fs::path(o.lib), ec);
  fs::path pyhook = prefix / "lib" / "argus" / "python";
  bool have_lib = access(lib.c_str(), R_OK) == 0;
  bool have_hook = fs::exists(pyhook / "sitecustomize.py", ec);
  if (!have_lib)
    std::cerr << "argus-run: " << lib.string() << ": not found; running CMD without the interposer (no rank records)\n";

  // run_meta part of this launch, written before CMD starts.
  const std::string cwd = fs::current_path(ec).string();
  const std::string part_name = host + "-" + std::to_string(getpid());
  json machine = cpu_memory_os_info();
  machine["gpu"] = gpu_info();
  json part;
  part["kind"] = "launch";
  part["launch_id"] = part_name;
  part["host"] = host;
  part["argus_version"] = kVersion;
  part["command"] = o.command;
  part["cwd"] = cwd;
  part["git"] = git_info(cwd);
  part["start_time"] = utc_iso8601(now_ns());
  part["end_time"] = nullptr;
  part["status"] = "running";
  part["options"] = {{"steps_from", o.steps_from}, {"report", o.report}, {"grace_seconds", o.grace_s}};
  part["environment"] = filter_environment(environ);
  part["machine"] = machine;
  part["interposer"] = {{"library", have_lib ? json(lib.string()) : json(nullptr)},
                        {"python_hook", have_hook ? json(pyhook.string()) : json(nullptr)},
                        {"disabled", getenv("ARGUS_DISABLE") && std::string(getenv("ARGUS_DISABLE")) == "1"}};
  part["software"] = software_from_job(run_dir, host);
  part["fingerprint"] = fingerprint(machine, part["software"]);
  try {
    write_part_and_merge(run_dir, part_name, part, run_id);
  } catch (const std::exception& e) {
    std::cerr << "argus-run: " << e.what() << "\n";
    return 2;
  }

  std::map<std::string, std::string> set_env = {
      {"ARGUS_RUN_ID", run_id}, {"ARGUS_RUN_DIR", run_dir.string()},
      {"ARGUS_STEPS_FROM", o.steps_from}, {"ARGUS_HOST", host}};
  if (have_lib) {
    set_env["LD_PRELOAD"] = prepend_path_list(lib.string(), getenv("LD_PRELOAD"));
    set_env["CUDA_INJECTION64_PATH"] = lib.string();
    set_env["NVTX_INJECTION64_PATH"] = lib.string();
  }
  if (have_hook) set_env["PYTHONPATH"] = prepend_path_list(pyhook.string(), getenv("PYTHONPATH"));
  std::vector<std::string> env_strings = child_environment(set_env);

  // Signals are taken synchronously (sigtimedwait) so forwarding, reaping and the grace
  // timer live in one loop; SIGTTOU is blocked so we can hand the terminal back and forth.
  sigset_t wait_set, block_set, old_set;
  sigemptyset(&wait_set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGQUIT}) sigaddset(&wait_set, s);
  block_set = wait_set;
  sigaddset(&block_set, SIGTTOU);
  sigprocmask(SIG_BLOCK, &block_set, &old_set);
  // Orphaned ranks (their launcher died) are re-parented to us, so we learn how they ended.
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  std::vector<char*> cargv, cenv;
  for (auto& a : o.command) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (auto& e : env_strings) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  const long long start_ns = now_ns();
  const CpuSnapshot cpu_start = cpu_snapshot();
  pid_t child = fork();
  if (child < 0) {
    std::cerr << "argus-run: fork failed: " << std::strerror(errno) << "\n";
    return 2;
  }
  if (child == 0) {
    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, &old_set, nullptr);
    environ = cenv.data();
    execvp(cargv[0], cargv.data());
    int err = errno;
    std::fprintf(stderr, "argus-run: %s: %s\n", cargv[0], std::strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  setpgid(child, child);  // also here: whichever runs first, the group exists before we signal it
  const pid_t pgid = child;
  bool gave_tty = false;
  if (isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp()) gave_tty = tcsetpgrp(STDIN_FILENO, pgid) == 0;

  std::map<int64_t, int> reaped;
  int child_status = 0;
  bool child_done = false;
  int stop_signal = 0, stop_count = 0;
  bool sent_kill = false;
  using clock = std::chrono::steady_clock;
  std::optional<clock::time_point> kill_at;
  auto reap = [&] {
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
      reaped[p] = st;
      if (p == child) {
        child_done = true;
        child_status = st;
      }
    }
  };
  auto signal_group = [&](int sig) {
    if (kill(-pgid, sig) != 0 && !child_done) kill(child, sig);
  };
  auto handle_signal = [&](int sig) {
    if (sig == SIGCHLD || sig <= 0) return;
    signal_group(sig);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
      if (++stop_count == 1) {
        stop_signal = sig;
        kill_at = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(o.grace_s));
      } else {
        signal_group(SIGKILL);  // asked twice: stop now
        sent_kill = true;
      }
    }
  };
  auto wait_step = [&](int ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    siginfo_t info;
    int sig = sigtimedwait(&wait_set, &info, &ts);
    handle_signal(sig);
  };

  while (true) {
    reap();
    if (child_done) break;
    if (kill_at && clock::now() >= *kill_at) {
      std::cerr << "argus-run: CMD still running " << o.grace_s << " s after " << signal_name(stop_signal)
                << "; sending SIGKILL to its process group\n";
      signal_group(SIGKILL);
      sent_kill = true;
      kill_at.reset();
    }
    wait_step(100);
  }

  // CMD has ended. Other members of its process group (ranks whose launcher died) get a
  // short while to finish their exit path; when we are stopping the job, they get the rest
  // of the grace period and then SIGKILL.
  auto group_alive = [&] { return kill(-pgid, 0) == 0; };
  auto linger_until = clock::now() + std::chrono::seconds(2);
  if (stop_count > 0 && kill_at) linger_until = *kill_at;
  while (group_alive() && clock::now() < linger_until) {
    reap();
    wait_step(50);
  }
  if (group_alive() && stop_count > 0) {
    signal_group(SIGKILL);
    sent_kill = true;
    for (int i = 0; i < 40 && group_alive(); ++i) {
      reap();
      wait_step(50);
    }
  }
  reap();
  const CpuSnapshot cpu_end = cpu_snapshot();  // every process of the job has been waited for
  if (gave_tty) tcsetpgrp(STDIN_FILENO, getpgrp());

  // Collection.
  CollectOptions copt;
  copt.run_id = run_id;
  copt.host = host;
  copt.reaped = reaped;
  std::vector<CollectedProcess> procs = collect_run(run_dir, copt);
  int n_exited = 0, n_killed = 0, n_running = 0, n_invalid = 0;
  for (auto& p : procs) {
    if (p.state == "exited") ++n_exited;
    else if (p.state == "killed") ++n_killed;
    else if (p.state == "running") ++n_running;
    else ++n_invalid;
  }
  std::cerr << "argus-run: collected " << (procs.size() - n_running - n_invalid) << " rank record(s) into "
            << (run_dir / "ranks").string() << " (" << n_exited << " exited, " << n_killed << " killed";
  if (n_running) std::cerr << ", " << n_running << " still running: left for `argus report --collect`";
  if (n_invalid) std::cerr << ", " << n_invalid << " invalid: left in /dev/shm";
  std::cerr << ")\n";
  for (auto& p : procs) {
    if (p.state == "killed")
      std::cerr << "argus-run: rank " << p.rank << " (pid " << p.pid << " on " << p.host
                << ") ended without exiting normally (killed) after " << p.steps << " step(s)\n";
    if (!p.error.empty()) std::cerr << "argus-run: /dev/shm/" << p.segment << ": " << p.error << "\n";
  }

  // Records other runs left behind (their launcher died): say where they are, once.
  {
    int stale = 0;
    for (auto& s : list_segments())
      if (!s.alive && s.run_id != run_id) ++stale;
    if (stale)
      std::cerr << "argus-run: " << stale << " record(s) of earlier runs whose launcher died are still in "
                << "shared memory; `argus report --collect RUN_DIR` (or `argus doctor`) collects them\n";
  }

  int exit_code = 0;
  json exit_info;
  if (WIFEXITED(child_status)) {
    exit_code = WEXITSTATUS(child_status);
    exit_info = {{"status", exit_code}, {"exit_code", exit_code}, {"signal", nullptr}};
  } else if (WIFSIGNALED(child_status)) {
    int sig = WTERMSIG(child_status);
    exit_code = 128 + sig;
    exit_info = {{"status", exit_code}, {"exit_code", nullptr}, {"signal", signal_name(sig)}};
    std::cerr << "argus-run: CMD was killed by " << signal_name(sig) << "\n";
  }
  exit_info["stopped_by"] = stop_signal ? json(signal_name(stop_signal)) : json(nullptr);
  exit_info["sent_sigkill"] = sent_kill;

  part["end_time"] = utc_iso8601(now_ns());
  part["duration_seconds"] = static_cast<double>(now_ns() - start_ns) / 1e9;
  part["status"] = "finished";
  part["exit"] = exit_info;
  part["host_load"] = host_load_json(cpu_start, cpu_end);
  part["processes"] = json::array();
  for (auto& p : procs) part["processes"].push_back(to_json(p));
  part["software"] = software_from_job(run_dir, host);
  add_record_versions(part["software"], procs);
  part["fingerprint"] = fingerprint(machine, part["software"]);
  try {
    write_part_and_merge(run_dir, part_name, part, run_id);
  } catch (const std::exception& e) {
    std::cerr << "argus-run: " << e.what() << "\n";
  }

  if (o.report) {
    std::string argus = (prefix / "bin" / "argus").string();
    if (access(argus.c_str(), X_OK) != 0) argus = find_on_path("argus");
    if (argus.empty()) {
      std::cerr << "argus-run: `argus` not found next to argus-run or on PATH; run `argus report "
                << run_dir.string() << "` later\n";
    } else {
      std::string out;
      std::vector<std::string> rargv = {argus, "report", run_dir.string()};
      pid_t r = fork();
      if (r == 0) {
        sigprocmask(SIG_SETMASK, &old_set, nullptr);
        std::vector<char*> a;
        for (auto& s : rargv) a.push_back(const_cast<char*>(s.c_str()));
        a.push_back(nullptr);
        execv(a[0], a.data());
        _exit(127);
      }
      int st = 0;
      while (r > 0 && waitpid(r, &st, 0) < 0 && errno == EINTR) {}
      if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        std::cerr << "argus-run: `argus report " << run_dir.string() << "` failed (status "
                  << (r > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1) << ")\n";
    }
  }
  std::cerr << "argus-run: run directory " << run_dir.string() << "\n";
  return exit_code;
}
