#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "argus_collect.h"
#include "record_view.h"
#include "run_meta.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace argus::run {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Where segments live: /dev/shm (shm_open's directory on Linux) and, when set, the
// $ARGUS_SHM_DIR the library falls back to (record.h section 1).
std::vector<fs::path> segment_dirs(const std::vector<std::string>& given) {
  std::vector<fs::path> dirs;
  for (auto& d : given) dirs.emplace_back(d);
  if (dirs.empty()) {
    dirs.emplace_back("/dev/shm");
    const char* alt = getenv("ARGUS_SHM_DIR");
    if (alt && *alt && fs::path(alt) != "/dev/shm") dirs.emplace_back(alt);
  }
  return dirs;
}

// Opens a segment read-only, refusing links and anything not a regular file of this user.
int open_segment(const fs::path& path, std::string* why) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    *why = std::string("cannot open: ") + std::strerror(errno);
    return -1;
  }
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    *why = "not a regular segment owned by this user";
    return -1;
  }
  return fd;
}

struct Found {
  fs::path path;
  std::string name;
};

std::vector<Found> find_segments(const std::vector<fs::path>& dirs, const std::string& prefix) {
  std::vector<Found> out;
  for (auto& dir : dirs) {
    if (DIR* d = opendir(dir.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n.rfind(prefix, 0) == 0 && n.find(".tmp") == std::string::npos) out.push_back({dir / n, n});
      }
      closedir(d);
    }
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.path < b.path; });
  return out;
}

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string segment_prefix(uid_t uid, const std::string& run_id) {
  return "argus-" + std::to_string(uid) + "-" + run_id + "-";
}

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  // A zombie has ended: its record is final.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto rp = line.rfind(')');
  if (rp == std::string::npos || rp + 2 >= line.size()) return true;
  char state = line[rp + 2];
  return state != 'Z' && state != 'X';
}

int64_t process_start_ns(int64_t pid) {
  // /proc/<pid>/stat field 22 is the start time in clock ticks after boot; /proc/stat btime
  // is the boot time in seconds since the epoch.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return -1;
  auto rp = line.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream rest(line.substr(rp + 2));
  std::string field;
  unsigned long long ticks = 0;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) ticks = std::stoull(field);
  std::ifstream ps("/proc/stat");
  long long btime = -1;
  while (std::getline(ps, line))
    if (line.rfind("btime ", 0) == 0) btime = std::atoll(line.c_str() + 6);
  long hz = sysconf(_SC_CLK_TCK);
  if (btime < 0 || hz <= 0 || ticks == 0) return -1;
  return btime * 1000000000LL + static_cast<int64_t>(ticks) * (1000000000LL / hz);
}

json to_json(const CollectedProcess& p) {
  json j = {{"host", p.host}, {"pid", p.pid}, {"rank", p.rank}, {"local_rank", p.local_rank},
            {"world_size", p.world_size}, {"state", p.state}, {"steps", p.steps},
            {"file", p.file.empty() ? json(nullptr) : json(p.file)}};
  if (p.wait_status >= 0) {
    if (WIFEXITED(p.wait_status)) j["exit_code"] = WEXITSTATUS(p.wait_status);
    if (WIFSIGNALED(p.wait_status)) {
      j["signal"] = WTERMSIG(p.wait_status);
      const char* name = sigabbrev_np(WTERMSIG(p.wait_status));
      j["signal_name"] = name ? std::string("SIG") + name : "unknown";
    }
  }
  if (!p.error.empty()) j["error"] = p.error;
  return j;
}

std::vector<CollectedProcess> collect_run(const fs::path& run_dir, const CollectOptions& opt) {
  std::vector<CollectedProcess> out;
  const std::string prefix = segment_prefix(geteuid(), opt.run_id);
  std::error_code ec;
  fs::create_directories(run_dir / "ranks", ec);

  for (const auto& seg : find_segments(segment_dirs(opt.shm_dirs), prefix)) {
    // "<prefix><host>-<pid>": the host may itself contain '-', the pid is after the last one.
    std::string rest = seg.name.substr(prefix.size());
    auto dash = rest.rfind('-');
    if (dash == std::string::npos || dash == 0 || !all_digits(rest.substr(dash + 1))) continue;
    CollectedProcess p;
    p.segment = seg.path.string();
    p.host = rest.substr(0, dash);
    p.pid = std::stoll(rest.substr(dash + 1));
    if (!opt.host.empty() && p.host != opt.host) continue;
    if (auto it = opt.reaped.find(p.pid); it != opt.reaped.end()) p.wait_status = it->second;
    bool alive = p.wait_status < 0 && process_alive(p.pid);

    std::string why;
    int fd = open_segment(seg.path, &why);
    std::optional<RecordInfo> info;
    if (fd >= 0) info = read_record_info(fd, &why);
    if (!info) {
      if (fd >= 0) close(fd);
      p.state = "invalid";
      p.error = why;
      // A record whose process died while creating it holds nothing: remove it.
      if (!alive && why.rfind("not initialised", 0) == 0 && opt.unlink) {
        unlink(seg.path.c_str());
        p.state = "empty";
      }
      out.push_back(p);
      continue;
    }
    // A record is created after its process started; a process with its pid that started
    // later (beyond clock granularity and boot-time rounding) is another one: pid reuse.
    if (alive && info->start_ns > 0) {
      int64_t started = process_start_ns(p.pid);
      if (started > 0 && started > static_cast<int64_t>(info->start_ns) + 2000000000LL) alive = false;
    }
    p.rank = info->rank;
    p.local_rank = info->local_rank;
    p.world_size = info->world_size;
    p.steps = info->steps;
    p.cuda_runtime = cuda_version_string(info->cuda_runtime_version);
    p.cuda_driver = cuda_version_string(info->cuda_driver_version);
    p.nccl = nccl_version_string(info->nccl_version);
    bool keep_segment = false;
    std::optional<RecordState> new_state;
    if (info->state == RecordState::running || info->state == RecordState::none) {
      if (alive) {
        p.state = "running";
        keep_segment = true;  // its owner is still writing; a later collection takes it
        if (!opt.take_live) {
          close(fd);
          out.push_back(p);
          continue;
        }
      } else {
        // The library marks "exited" in its exit path; a record still "running" whose
        // process is gone ended without it: SIGKILL, a fatal signal, or _exit.
        p.state = "killed";
        new_state = RecordState::killed;
      }
    } else {
      p.state = to_string(info->state);
    }
    std::string file_name = p.host + "-" + std::to_string(p.pid) + ".argus";
    if (copy_record(fd, *info, run_dir / "ranks" / file_name, new_state, &why)) {
      p.file = "ranks/" + file_name;
    } else {
      p.error = why;
      keep_segment = true;  // never drop data we could not save
    }
    close(fd);
    if (opt.unlink && !keep_segment) unlink(seg.path.c_str());
    out.push_back(p);
  }
  return out;
}

void add_record_versions(json& software, const std::vector<CollectedProcess>& procs) {
  auto add = [&](const char* key, std::string CollectedProcess::*field) {
    std::set<std::string> seen;
    for (auto& p : procs)
      if (!(p.*field).empty()) seen.insert(p.*field);
    if (seen.empty()) return;
    if (software.contains(key) && software[key] != "not available") return;
    software[key] = seen.size() == 1 ? json(*seen.begin()) : json(std::vector<std::string>(seen.begin(), seen.end()));
  };
  add("cuda_runtime", &CollectedProcess::cuda_runtime);
  add("cuda_driver", &CollectedProcess::cuda_driver);
  add("nccl", &CollectedProcess::nccl);
}

std::vector<CollectedProcess> collect_leftovers(const fs::path& run_dir) {
  fs::path meta_path = run_dir / "run_meta.json";
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec))
    throw std::runtime_error(run_dir.string() + ": not a directory");
  if (!fs::exists(meta_path, ec))
    throw std::runtime_error(meta_path.string() + ": missing (not an argus run directory)");
  json meta = json::parse(read_text(meta_path), nullptr, false);
  if (!meta.is_object() || !meta.contains("run_id") || !meta["run_id"].is_string())
    throw std::runtime_error(meta_path.string() + ": no run_id (not a run_meta.json)");
  std::string run_id = meta["run_id"];
  CollectOptions opt;
  opt.run_id = run_id;
  auto found = collect_run(run_dir, opt);
  bool any_new = std::any_of(found.begin(), found.end(), [](auto& p) { return !p.file.empty(); });
  if (any_new) {
    json part = {{"kind", "collect"},
                 {"start_time", utc_iso8601(now_ns())},
                 {"host", found.front().host},
                 {"processes", json::array()}};
    for (auto& p : found) part["processes"].push_back(to_json(p));
    std::string part_name = "collect-" + std::to_string(getpid()) + "-" + std::to_string(now_ns());
    write_part_and_merge(run_dir, part_name, part, run_id);
  }
  return found;
}

std::vector<SegmentInfo> list_segments() {
  std::vector<SegmentInfo> out;
  const std::string prefix = "argus-" + std::to_string(geteuid()) + "-";
  for (auto& seg : find_segments(segment_dirs({}), prefix)) {
    SegmentInfo s;
    s.segment = seg.path.string();
    auto dash = seg.name.rfind('-');
    if (dash != std::string::npos && all_digits(seg.name.substr(dash + 1))) s.pid = std::stoll(seg.name.substr(dash + 1));
    std::string why;
    int fd = open_segment(seg.path, &why);
    std::optional<RecordInfo> info;
    if (fd >= 0) {
      struct stat st{};
      if (fstat(fd, &st) == 0) s.size = static_cast<uint64_t>(st.st_size);
      info = read_record_info(fd, &why);
      close(fd);
    }
    if (info) {
      s.valid = true;
      s.run_id = info->run_id;
      s.host = info->host;
      s.state = to_string(info->state);
      if (info->pid > 0) s.pid = info->pid;
    } else {
      s.state = why;
    }
    s.alive = process_alive(s.pid);
    out.push_back(s);
  }
  return out;
}

}  // namespace argus::run
