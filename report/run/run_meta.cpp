#include "run_meta.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;
using nlohmann::json;

namespace argus::run {
namespace {

// Names recorded with their value (unless secret-like). Prefixes end with '_'.
constexpr std::string_view kAllowedPrefixes[] = {
    "NCCL_", "CUDA_", "CUDNN_", "CUBLAS_", "CUBLASLT_", "CUFFT_", "NVIDIA_", "NVTE_",
    "TORCH_", "PYTORCH_", "TORCHINDUCTOR_", "TORCHELASTIC_", "OMP_", "KMP_", "GOMP_", "MKL_",
    "OPENBLAS_", "UCX_", "FI_", "OMPI_MCA_", "HOROVOD_", "ARGUS_"};
constexpr std::string_view kAllowedNames[] = {
    "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
    "GROUP_RANK", "NODE_RANK", "PYTHONHASHSEED", "LD_PRELOAD", "LD_LIBRARY_PATH",
    "SLURM_NNODES", "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE", "SLURM_GPUS_PER_NODE"};
// Launcher-set identities vary on every run: kept out so two runs of a job compare equal.
constexpr std::string_view kVolatileNames[] = {"ARGUS_RUN_ID", "ARGUS_RUN_DIR", "ARGUS_HOST"};
constexpr std::string_view kSecretWords[] = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY",
                                             "CREDENTIAL", "AUTH", "COOKIE", "PRIVATE", "CERT"};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string trim(std::string s) {
  auto ws = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && ws(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

json number_or_string(const std::string& v) {
  if (v.empty() || v == "[N/A]" || v == "N/A" || v == "[Not Supported]") return nullptr;
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (end && *end == '\0') {
    if (d == static_cast<double>(static_cast<long long>(d))) return static_cast<long long>(d);
    return d;
  }
  return v;
}

}  // namespace

bool env_secret_like(std::string_view name) {
  std::string up(name);
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (auto w : kSecretWords)
    if (up.find(w) != std::string::npos) return true;
  return false;
}

bool env_allowed(std::string_view name) {
  for (auto v : kVolatileNames)
    if (name == v) return false;
  for (auto n : kAllowedNames)
    if (name == n) return true;
  for (auto p : kAllowedPrefixes)
    if (name.size() > p.size() && name.substr(0, p.size()) == p) return true;
  return false;
}

json filter_environment(char** envp) {
  json env = json::object();
  for (char** e = envp; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(kv.substr(0, eq));
    if (!env_allowed(name)) continue;
    std::string value(kv.substr(eq + 1));
    // A URL with user:password@ is a credential whatever the variable is called.
    auto scheme = value.find("://");
    bool url_cred = scheme != std::string::npos &&
                    value.find('@', scheme) != std::string::npos &&
                    value.find(':', scheme + 3) < value.find('@', scheme);
    env[name] = (env_secret_like(name) || url_cred) ? "<masked>" : value;
  }
  return env;
}

int run_capture(const std::vector<std::string>& argv, double timeout_s, std::string* out) {
  if (argv.empty()) return -1;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 2);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) { timed_out = true; break; }
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) { timed_out = r == 0; break; }
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out) out->append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (timed_out || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

json cpu_memory_os_info() {
  json m;
  std::string cpuinfo = read_text("/proc/cpuinfo");
  std::string model = "unknown";
  std::set<std::string> sockets;
  std::set<std::pair<std::string, std::string>> cores;
  std::string cur_phys;
  for (auto& line : split(cpuinfo, '\n')) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = trim(line.substr(0, colon)), val = trim(line.substr(colon + 1));
    if (key == "model name" && model == "unknown") model = val;
    if (key == "physical id") { cur_phys = val; sockets.insert(val); }
    if (key == "core id") cores.insert({cur_phys, val});
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  m["cpu"] = {{"model", model},
              {"logical_cpus", n},
              {"physical_cores", cores.empty() ? json(nullptr) : json(cores.size())},
              {"sockets", sockets.empty() ? json(nullptr) : json(sockets.size())}};
  long long mem_kib = -1;
  for (auto& line : split(read_text("/proc/meminfo"), '\n'))
    if (line.rfind("MemTotal:", 0) == 0) mem_kib = std::atoll(line.c_str() + 9);
  m["memory_bytes"] = mem_kib < 0 ? json(nullptr) : json(mem_kib * 1024);
  std::string os = "unknown";
  for (auto& line : split(read_text("/etc/os-release"), '\n'))
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      os = line.substr(12);
      if (os.size() >= 2 && os.front() == '"' && os.back() == '"') os = os.substr(1, os.size() - 2);
    }
  struct utsname u{};
  uname(&u);
  m["os"] = os;
  m["kernel"] = {{"name", u.sysname}, {"release", u.release}, {"version", u.version}, {"arch", u.machine}};
  std::string mid = trim(read_text("/etc/machine-id"));
  m["machine_id_hash"] = mid.empty() ? json(nullptr) : json(sha256_hex("argus:" + mid).substr(0, 16));
  return m;
}

// Fields asked of nvidia-smi, in order; "readings" vary while the machine runs.
static const std::vector<std::string> kSmiFields = {
    "index", "name", "uuid", "pci.bus_id", "driver_version", "memory.total", "clocks.max.sm",
    "clocks.max.memory", "ecc.mode.current", "power.limit", "clocks.sm", "clocks.mem",
    "temperature.gpu", "ecc.errors.uncorrected.volatile.total"};

json parse_nvidia_smi_csv(std::string_view csv) {
  json devices = json::array();
  for (auto& raw : split(csv, '\n')) {
    std::string line = trim(raw);
    if (line.empty()) continue;
    auto cells = split(line, ',');
    if (cells.size() != kSmiFields.size()) continue;
    for (auto& c : cells) c = trim(c);
    json d;
    d["index"] = number_or_string(cells[0]);
    d["name"] = cells[1];
    d["uuid"] = cells[2];
    d["pci_bus_id"] = cells[3];
    d["driver_version"] = cells[4];
    d["memory_total_mib"] = number_or_string(cells[5]);
    d["max_sm_clock_mhz"] = number_or_string(cells[6]);
    d["max_memory_clock_mhz"] = number_or_string(cells[7]);
    d["ecc_mode"] = cells[8].empty() ? json(nullptr) : json(cells[8]);
    d["power_limit_w"] = number_or_string(cells[9]);
    d["readings"] = {{"sm_clock_mhz", number_or_string(cells[10])},
                     {"memory_clock_mhz", number_or_string(cells[11])},
                     {"temperature_c", number_or_string(cells[12])},
                     {"ecc_uncorrected_volatile", number_or_string(cells[13])}};
    devices.push_back(d);
  }
  return devices;
}

json gpu_info() {
  std::string q;
  for (auto& f : kSmiFields) q += (q.empty() ? "" : ",") + f;
  std::string out;
  int rc = run_capture({"nvidia-smi", "--query-gpu=" + q, "--format=csv,noheader,nounits"}, 10.0, &out);
  if (rc != 0) return {{"available", false}, {"reason", "not available (nvidia-smi missing or failed)"}};
  json devices = parse_nvidia_smi_csv(out);
  if (devices.empty()) return {{"available", false}, {"reason", "not available (nvidia-smi listed no GPU)"}};
  return {{"available", true}, {"count", devices.size()}, {"devices", devices}};
}

json git_info(const fs::path& dir) {
  std::string head;
  if (run_capture({"git", "-C", dir.string(), "rev-parse", "HEAD"}, 10.0, &head) != 0)
    return {{"available", false}, {"reason", "not a git working tree"}};
  std::string status;
  // Untracked files are ignored: the run directory itself is often inside the tree.
  int rc = run_capture({"git", "-C", dir.string(), "--no-optional-locks", "status", "--porcelain",
                        "--untracked-files=no"}, 10.0, &status);
  std::string branch;
  run_capture({"git", "-C", dir.string(), "rev-parse", "--abbrev-ref", "HEAD"}, 10.0, &branch);
  return {{"available", true},
          {"commit", trim(head)},
          {"branch", trim(branch)},
          {"dirty", rc == 0 ? json(!trim(status).empty()) : json(nullptr)}};
}

json software_from_job(const fs::path& run_dir, const std::string& host) {
  // key in the hook's files -> key in run_meta
  static const std::vector<std::pair<std::string, std::string>> keys = {
      {"python", "python"}, {"torch", "pytorch"}, {"torch_cuda", "pytorch_cuda"},
      {"cuda_runtime", "cuda_runtime"}, {"cuda_driver", "cuda_driver"}, {"nccl", "nccl"}};
  std::map<std::string, std::set<std::string>> seen;
  std::error_code ec;
  fs::path dir = run_dir / "software";
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json" && e.path().filename().string().rfind(host + "-", 0) == 0)
      files.push_back(e.path());
  for (auto& f : files) {
    json j = json::parse(read_text(f), nullptr, false);
    if (!j.is_object() || j.value("host", "") != host) continue;
    for (auto& [from, to] : keys)
      if (j.contains(from) && j[from].is_string() && !j[from].get<std::string>().empty())
        seen[to].insert(j[from].get<std::string>());
  }
  json sw = json::object();
  for (auto& [from, to] : keys) {
    auto& s = seen[to];
    if (s.empty()) sw[to] = "not available";
    else if (s.size() == 1) sw[to] = *s.begin();
    else sw[to] = json(std::vector<std::string>(s.begin(), s.end()));
  }
  sw["reported_by_processes"] = files.size();
  return sw;
}

json fingerprint(const json& machine, const json& software) {
  json hw;
  hw["cpu_model"] = machine.value("/cpu/model"_json_pointer, json("unknown"));
  hw["logical_cpus"] = machine.value("/cpu/logical_cpus"_json_pointer, json(nullptr));
  hw["memory_bytes"] = machine.value("memory_bytes", json(nullptr));
  json gpus = json::array();
  json driver = nullptr;
  if (machine.contains("gpu") && machine["gpu"].value("available", false))
    for (auto& d : machine["gpu"]["devices"]) {
      gpus.push_back({d.value("name", ""), d.value("memory_total_mib", json(nullptr)),
                      d.value("max_sm_clock_mhz", json(nullptr))});
      driver = d.value("driver_version", json(nullptr));
    }
  hw["gpus"] = gpus;
  json id = {{"hardware", hw}, {"machine_id_hash", machine.value("machine_id_hash", json(nullptr))}};
  if (machine.contains("gpu") && machine["gpu"].value("available", false)) {
    json uuids = json::array();
    for (auto& d : machine["gpu"]["devices"]) uuids.push_back(d.value("uuid", ""));
    id["gpu_uuids"] = uuids;
  }
  json stack = {{"os", machine.value("os", "")},
                {"kernel", machine.value("/kernel/release"_json_pointer, json(""))},
                {"gpu_driver", driver},
                {"software", software.is_object() ? software : json::object()}};
  stack["software"].erase("reported_by_processes");
  return {{"hardware", sha256_hex(hw.dump()).substr(0, 16)},
          {"machine", sha256_hex(id.dump()).substr(0, 16)},
          {"stack", sha256_hex(stack.dump()).substr(0, 16)}};
}

std::string utc_iso8601(long long unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / 1000000000LL);
  int ms = static_cast<int>((unix_ns / 1000000LL) % 1000);
  struct tm tmv{};
  gmtime_r(&secs, &tmv);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900,
                tmv.tm_mon + 1, tmv.tm_mday, tmv.tm_hour, tmv.tm_min, tmv.tm_sec, ms);
  return buf;
}

json merge_parts(const std::vector<json>& parts_in, const std::string& run_id) {
  std::vector<json> launches, collects;
  for (auto& p : parts_in) {
    if (!p.is_object()) continue;
    (p.value("kind", "") == "collect" ? collects : launches).push_back(p);
  }
  auto by_start = [](const json& a, const json& b) {
    auto ka = std::make_pair(a.value("start_time", ""), a.value("launch_id", ""));
    auto kb = std::make_pair(b.value("start_time", ""), b.value("launch_id", ""));
    return ka < kb;
  };
  std::sort(launches.begin(), launches.end(), by_start);
  std::sort(collects.begin(), collects.end(), by_start);

  json m;
  m["schema"] = kRunMetaSchema;
  m["run_id"] = run_id;
  bool finished = !launches.empty();
  std::string start, end;
  std::map<std::string, json> hosts;
  // processes keyed by (host, pid): a later collection of the same record replaces nothing
  // a launcher already recorded, it only adds what the launcher could not collect.
  std::map<std::pair<std::string, long long>, json> procs;
  for (auto& l : launches) {
    if (l.value("status", "") != "finished") finished = false;
    std::string s = l.value("start_time", "");
    if (!s.empty() && (start.empty() || s < start)) start = s;
    if (l.contains("end_time") && l["end_time"].is_string()) {
      std::string e = l["end_time"];
      if (e > end) end = e;
    }
    std::string h = l.value("host", "");
    json& host = hosts[h];
    if (host.is_null()) host = {{"host", h}, {"machine", l.value("machine", json::object())}};
    if (l.contains("software")) host["software"] = l["software"];
    if (l.contains("fingerprint")) host["fingerprint"] = l["fingerprint"];
    for (auto& p : l.value("processes", json::array()))
      procs.emplace(std::make_pair(p.value("host", ""), p.value("pid", -1LL)), p);
  }
  for (auto& c : collects)
    for (auto& p : c.value("processes", json::array())) {
      auto key = std::make_pair(p.value("host", ""), p.value("pid", -1LL));
      auto it = procs.find(key);
      if (it == procs.end() || (it->second.value("file", "").empty() && !p.value("file", "").empty()))
        procs[key] = p;
    }
  m["status"] = finished ? "finished" : "running";
  m["start_time"] = start.empty() ? json(nullptr) : json(start);
  m["end_time"] = finished && !end.empty() ? json(end) : json(nullptr);
  if (!launches.empty()) {
    const json& first = launches.front();
    for (const char* k : {"command", "cwd", "git", "environment", "options"})
      m[k] = first.value(k, json(nullptr));
  } else {
    m["command"] = nullptr;
  }
  m["hosts"] = json::array();
  std::vector<std::string> fps;
  for (auto& [name, h] : hosts) {
    m["hosts"].push_back(h);
    if (h.contains("fingerprint")) fps.push_back(h["fingerprint"].dump());
  }
  std::sort(fps.begin(), fps.end());
  std::string all;
  for (auto& f : fps) all += f;
  m["fingerprint"] = sha256_hex(all).substr(0, 16);
  m["launches"] = json::array();
  for (auto& l : launches) {
    json copy = l;
    copy.erase("machine");  // kept once per host in "hosts"
    copy.erase("processes");
    copy.erase("software");
    copy.erase("fingerprint");
    m["launches"].push_back(copy);
  }
  std::vector<json> plist;
  for (auto& [k, p] : procs) plist.push_back(p);
  std::sort(plist.begin(), plist.end(), [](const json& a, const json& b) {
    return std::make_tuple(a.value("host", ""), a.value("rank", -1), a.value("pid", -1LL)) <
           std::make_tuple(b.value("host", ""), b.value("rank", -1), b.value("pid", -1LL));
  });
  m["processes"] = plist;
  m["collections"] = json::array();
  for (auto& c : collects)
    m["collections"].push_back({{"host", c.value("host", "")}, {"time", c.value("start_time", "")},
                                {"processes", c.value("processes", json::array()).size()}});
  return m;
}

void write_file_atomic(const fs::path& path, std::string_view text) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(tmp.string() + ": cannot write (" + std::strerror(errno) + ")");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) throw std::runtime_error(tmp.string() + ": write failed");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw std::runtime_error(path.string() + ": cannot rename into place");
  }
}

void write_part_and_merge(const fs::path& run_dir, const std::string& part_name, const json& part,
                          const std::string& run_id) {
  fs::path parts = run_dir / "run_meta.d";
  std::error_code ec;
  fs::create_directories(parts, ec);
  if (ec) throw std::runtime_error(parts.string() + ": cannot create (" + ec.message() + ")");
  write_file_atomic(parts / (part_name + ".json"), part.dump(2) + "\n");

  fs::path lock_path = run_dir / ".run_meta.lock";
  int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(lock_path.string() + ": cannot open (" + std::strerror(errno) + ")");
  while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {}
  try {
    std::vector<json> all;
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(parts, ec))
      if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      json j = json::parse(read_text(f), nullptr, false);
      if (!j.is_discarded()) all.push_back(std::move(j));
    }
    write_file_atomic(run_dir / "run_meta.json", merge_parts(all, run_id).dump(2) + "\n");
  } catch (...) {
    close(fd);
    throw;
  }
  close(fd);
}

}  // namespace argus::run
