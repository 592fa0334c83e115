// argus status RUN_DIR|--all [--watch]: live per-rank progress and hang/stall localisation,
// read from the shared-memory records of a running job (and the collected records of other
// nodes in RUN_DIR/ranks/).  Exit 0 healthy, 1 hang or stall seen, 2 usage/input error.
#include <signal.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "hang_analysis.h"
#include "live_record.h"

namespace argus::cli {
namespace {
namespace fs = std::filesystem;
using argus::live::LiveRank;

struct StatusArgs {
  std::string run_dir;
  bool all = false, watch = false;
  double interval = 1.0;
  double stuck_after = 1.0;
};

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Alive and the same process that created the record (a pid reused by a process started
// after the record was created does not count).
bool pid_alive(int64_t pid, uint64_t record_start_ns) {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(st, line)) return true;
  auto p = line.rfind(')');
  if (p == std::string::npos || p + 2 >= line.size()) return true;
  if (line[p + 2] == 'Z') return false;
  std::istringstream rest(line.substr(p + 2));
  std::string f;
  unsigned long long starttime = 0;
  for (int i = 3; i <= 22 && rest >> f; ++i) if (i == 22) starttime = std::stoull(f);
  std::ifstream ps("/proc/stat");
  unsigned long long btime = 0;
  for (std::string l; std::getline(ps, l);) if (l.rfind("btime ", 0) == 0) btime = std::stoull(l.substr(6));
  long hz = sysconf(_SC_CLK_TCK);
  if (!btime || hz <= 0 || !record_start_ns) return true;
  double proc_start = double(btime) + double(starttime) / double(hz);
  return proc_start <= double(record_start_ns) / 1e9 + 2.0;  // the record is created after the process starts
}

std::vector<fs::path> shm_dirs() {
  std::vector<fs::path> d{"/dev/shm"};
  if (const char* e = getenv("ARGUS_SHM_DIR"); e && *e) d.push_back(e);
  return d;
}

// Live segments of this user (run_id empty: every run).
std::vector<LiveRank> live_segments(const std::string& run_id) {
  std::vector<LiveRank> out;
  std::string prefix = "argus-" + std::to_string(geteuid()) + "-" + (run_id.empty() ? "" : run_id + "-");
  std::set<fs::path> seen;
  for (const auto& dir : shm_dirs()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      auto canon = fs::weakly_canonical(e.path(), ec);
      if (!seen.insert(canon).second) continue;
      std::string why;
      auto r = argus::live::read_live_file(e.path().string(), &why);
      if (!r) continue;  // being created, or not a record of ours
      if (!run_id.empty() && r->run_id != run_id) continue;  // "run-b" also starts with "run-"
      r->live = true;
      r->alive = pid_alive(r->pid, r->start_ns);
      out.push_back(std::move(*r));
    }
  }
  return out;
}

std::string read_run_id(const std::string& run_dir, std::string* err) {
  fs::path meta = fs::path(run_dir) / "run_meta.json";
  std::ifstream in(meta);
  if (!in) { *err = meta.string() + ": cannot read (not a run directory?)"; return ""; }
  try {
    auto j = nlohmann::json::parse(in);
    if (j.contains("run_id") && j["run_id"].is_string()) return j["run_id"].get<std::string>();
    *err = meta.string() + ": no run_id";
  } catch (const std::exception& e) {
    *err = meta.string() + ": invalid JSON (" + std::string(e.what()) + ")";
  }
  return "";
}

// Live records of the run plus collected ones (other nodes, finished processes) not live.
std::vector<LiveRank> gather(const std::string& run_dir, const std::string& run_id) {
  auto ranks = live_segments(run_id);
  std::set<std::pair<std::string, int64_t>> have;
  for (auto& r : ranks) have.insert({r.host, r.pid});
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(fs::path(run_dir) / "ranks", ec))
    if (e.path().extension() == ".argus") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (auto& f : files) {
    std::string why;
    auto r = argus::live::read_live_file(f.string(), &why);
    if (!r || have.count({r->host, r->pid})) continue;
    r->live = false;
    ranks.push_back(std::move(*r));
  }
  std::sort(ranks.begin(), ranks.end(), [](const LiveRank& a, const LiveRank& b) {
    return std::tie(a.rank, a.host, a.pid) < std::tie(b.rank, b.host, b.pid);
  });
  return ranks;
}

std::string ago(uint64_t now, uint64_t t) {
  if (!t) return "-";
  double s = now > t ? double(now - t) / 1e9 : 0.0;
  return s < 60 ? fmt::format("{:.1f}s", s) : fmt::format("{:.0f}m{:02.0f}s", s / 60, std::fmod(s, 60.0));
}

std::string rank_list(const std::vector<int>& v) {
  std::string s;
  for (int r : v) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s.empty() ? "-" : s;
}

// Prints one run's status; returns true when a hang or stall was seen.
bool print_run(const std::string& label, const std::vector<LiveRank>& ranks, const StatusArgs& a) {
  uint64_t now = now_ns();
  auto v = argus::live::analyze_status(ranks, now, uint64_t(a.stuck_after * 1e9));
  std::set<int> stalled(v.stalled.begin(), v.stalled.end());
  std::set<int> missing, waiting;
  for (auto& c : v.comms) if (c.hung || c.stalled) { missing.insert(c.missing.begin(), c.missing.end()); waiting.insert(c.waiting.begin(), c.waiting.end()); }
  std::printf("run %s: %zu rank record(s)\n", label.c_str(), ranks.size());
  std::printf("%5s %-16s %8s %-8s %7s %8s %9s  %s\n", "rank", "host", "pid", "state", "step", "steps/s", "progress", "collectives (comm: enqueued/completed last)");
  for (const auto& r : ranks) {
    std::string state = argus::live::state_name(r.state);
    if (r.live && r.state == 1 && !r.alive) state = "gone";
    if (!r.live && r.state == 1) state = "running?";  // collected copy of another node
    std::string flag = stalled.count(r.rank) ? "  STALLED (host not launching)"
                       : missing.count(r.rank) ? "  MISSING from collective"
                       : waiting.count(r.rank) ? "  waiting" : "";
    std::string colls;
    for (const auto& c : r.comms)
      colls += fmt::format("{}{:04x}: {}/{} {}", colls.empty() ? "" : "; ", c.id & 0xffff, c.enqueued, c.completed,
                           c.have_last_op ? argus::live::op_name(c.last_op) : "-");
    std::string step = r.have_last_step ? fmt::format("{}{}", r.last_step_index, r.last_step_end_ns ? "" : "*") : "-";
    std::printf("%5d %-16.16s %8lld %-8s %7s %8.2f %9s  %s%s\n", r.rank, r.host.c_str(), (long long)r.pid, state.c_str(),
                step.c_str(), r.step_rate, ago(now, r.last_progress_ns()).c_str(), colls.empty() ? "-" : colls.c_str(),
                flag.c_str());
  }
  for (const auto& c : v.comms) {
    std::string head = fmt::format("comm {:016x} ({} ranks, seq {} {})", c.comm, c.nranks, c.wait_seq, c.op.empty() ? "?" : c.op);
    if (c.hung)
      std::printf("HANG  %s: rank(s) %s never entered collective %s; rank(s) %s waiting in it%s\n", head.c_str(),
                  rank_list(c.missing).c_str(), std::to_string(c.wait_seq).c_str(), rank_list(c.waiting).c_str(),
                  c.absent.empty() ? "" : fmt::format("; comm rank(s) {} have no record", rank_list(c.absent)).c_str());
    else if (c.stalled)
      std::printf("STALL %s: rank(s) %s stopped launching between steps; rank(s) %s waiting for them\n", head.c_str(),
                  rank_list(c.missing).c_str(), rank_list(c.waiting).c_str());
    else
      std::printf("ok    %s\n", head.c_str());
  }
  if (v.stall) std::printf("STALL ranks whose host stopped launching: %s (quiet > %.1fs between steps)\n", rank_list(v.stalled).c_str(), a.stuck_after);
  if (!v.hang && !v.stall) std::printf("healthy: no hang or stall\n");
  return v.hang || v.stall;
}

int run_status(const StatusArgs& a) {
  if (a.all == !a.run_dir.empty()) { error_line("status", "give RUN_DIR or --all"); return 2; }
  std::string run_id;
  if (!a.all) {
    std::string err;
    run_id = read_run_id(a.run_dir, &err);
    if (run_id.empty()) { error_line("status", err); return 2; }
  }
  for (;;) {
    if (a.watch) std::printf("\033[H\033[2J");
    bool bad = false;
    if (a.all) {
      std::map<std::string, std::vector<LiveRank>> runs;
      for (auto& r : live_segments("")) runs[r.run_id].push_back(std::move(r));
      if (runs.empty()) std::printf("no live argus records of this user\n");
      for (auto& [id, rs] : runs) {
        std::sort(rs.begin(), rs.end(), [](const LiveRank& x, const LiveRank& y) { return std::tie(x.rank, x.pid) < std::tie(y.rank, y.pid); });
        bad |= print_run(id, rs, a);
      }
    } else {
      auto ranks = gather(a.run_dir, run_id);
      bad = print_run(run_id, ranks, a);
    }
    std::fflush(stdout);
    if (!a.watch) return bad ? 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(int64_t(a.interval * 1000)));
  }
}

}  // namespace

void register_status(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<StatusArgs>();
  auto* sub = app.add_subcommand("status", "live per-rank progress of a running job; names hung collectives and stalled hosts (exit 1)");
  sub->add_option("RUN_DIR", args->run_dir, "run directory (run_meta.json names the run id)");
  sub->add_flag("--all", args->all, "every run of this user with live records on this node");
  sub->add_flag("--watch", args->watch, "refresh like top (Ctrl-C to stop)");
  sub->add_option("--interval", args->interval, "seconds between refreshes with --watch")->check(CLI::PositiveNumber);
  sub->add_option("--stuck-after", args->stuck_after, "seconds without progress before a rank counts as hung/stalled")
      ->check(CLI::PositiveNumber);
  sub->callback([args, exit_code] { *exit_code = run_status(*args); });
}

}  // namespace argus::cli
