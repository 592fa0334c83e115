// argus doctor [--clean]: what this machine can observe.  One line per check:
// "ok|warn|fail  <check>: <finding> [-> what to do]".  The CUDA libraries are dlopen'ed from
// the default search path (exactly what the interposer would get in a job) and only queried,
// never linked.  Exit 0: observation possible (shm usable, CUDA runtime + driver with a
// device); 1: not possible (a fail line says why); 2: usage error.
#include <dlfcn.h>
#include <link.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>
#include <string>

#include <fmt/format.h>

#include <argus/record.h>

#include "commands.h"

#ifdef ARGUS_HAVE_COLLECT
#include "argus_collect.h"
#endif

namespace argus::cli {
namespace {
namespace fs = std::filesystem;

struct Doctor {
  int fails = 0, warns = 0;
  bool observe = true;  // becomes false on a fail that prevents observation
  void line(const char* level, const std::string& check, const std::string& what, const std::string& todo = "") {
    std::printf("%-4s  %s: %s%s\n", level, check.c_str(), what.c_str(), todo.empty() ? "" : ("  -> " + todo).c_str());
  }
  void ok(const std::string& c, const std::string& w) { line("ok", c, w); }
  void warn(const std::string& c, const std::string& w, const std::string& t) { ++warns; line("warn", c, w, t); }
  void fail(const std::string& c, const std::string& w, const std::string& t, bool blocks = true) {
    ++fails; if (blocks) observe = false; line("fail", c, w, t);
  }
};

std::string lib_path(void* h) {
  link_map* lm = nullptr;
  if (h && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name) return lm->l_name;
  return "?";
}

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  if (in) std::getline(in, s);
  return s;
}

void check_shm(Doctor& d) {
  std::vector<std::string> dirs{"/dev/shm"};
  const char* alt = getenv("ARGUS_SHM_DIR");
  if (alt && *alt) dirs.insert(dirs.begin(), alt);
  for (size_t i = 0; i < dirs.size(); ++i) {
    const std::string& dir = dirs[i];
    std::string check = "shared memory " + dir;
    struct statvfs sv{};
    bool primary = i == 0;
    if (statvfs(dir.c_str(), &sv) != 0) {
      if (primary) d.fail(check, "missing", "mount a tmpfs on /dev/shm, or set ARGUS_SHM_DIR to a writable tmpfs directory");
      else d.warn(check, "missing", "not used while ARGUS_SHM_DIR is set");
      continue;
    }
    if (access(dir.c_str(), W_OK | X_OK) != 0) {
      if (primary) d.fail(check, "not writable by this user", "fix its permissions (1777) or set ARGUS_SHM_DIR");
      else d.warn(check, "not writable", "not used while ARGUS_SHM_DIR is set");
      continue;
    }
    uint64_t free_b = uint64_t(sv.f_bavail) * sv.f_frsize;
    // A rank touches a few MiB of its ~59 MiB record; 64 MiB per local rank is generous.
    std::string what = fmt::format("writable, {} MiB free ({} MiB per record at most)", free_b >> 20, sizeof(argus::rec::Record) >> 20);
    if (free_b < (512ull << 20)) {
      if (primary) d.warn(check, what, "less than 512 MiB free: records of 8+ ranks may not fit; free space or use ARGUS_SHM_DIR");
    } else if (primary) {
      d.ok(check, what);
    }
    if (primary) break;  // /dev/shm is not used when ARGUS_SHM_DIR is set
  }
}

using IntFn = int (*)(int*);
void check_cuda(Doctor& d, bool& have_device) {
  have_device = false;
  void* rt = dlopen("libcudart.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!rt) {
    d.fail("CUDA runtime", "libcudart.so.13 not found on the library search path",
           "install the CUDA 13 runtime or add its directory to LD_LIBRARY_PATH (PyTorch wheels ship it inside the wheel)");
  } else {
    int v = 0;
    auto ver = reinterpret_cast<IntFn>(dlsym(rt, "cudaRuntimeGetVersion"));
    if (ver) ver(&v);
    d.ok("CUDA runtime", fmt::format("{} version {}.{} ({})", "libcudart.so.13", v / 1000, (v % 1000) / 10, lib_path(rt)));
  }
  void* drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!drv) {
    d.fail("CUDA driver", "libcuda.so.1 not found: no NVIDIA driver on this machine (no GPU to observe)",
           "run on a GPU node, or under scripts/with-simgpu for the simulated stack");
  } else {
    auto init = reinterpret_cast<int (*)(unsigned)>(dlsym(drv, "cuInit"));
    auto ver = reinterpret_cast<IntFn>(dlsym(drv, "cuDriverGetVersion"));
    auto count = reinterpret_cast<IntFn>(dlsym(drv, "cuDeviceGetCount"));
    int v = 0, n = 0;
    if (ver) ver(&v);
    int rc = init ? init(0) : -1;
    if (rc == 0 && count) count(&n);
    std::string where = lib_path(drv);
    if (rc != 0 || n == 0)
      d.fail("CUDA driver", fmt::format("libcuda.so.1 version {}.{} ({}) but no usable GPU (cuInit={}, devices={})", v / 1000, (v % 1000) / 10, where, rc, n),
             "check nvidia-smi and that the job sees its devices (CUDA_VISIBLE_DEVICES, container runtime)");
    else {
      have_device = true;
      d.ok("CUDA driver", fmt::format("libcuda.so.1 version {}.{}, {} device(s) ({})", v / 1000, (v % 1000) / 10, n, where));
    }
  }
  void* cupti = dlopen("libcupti.so.13", RTLD_NOW | RTLD_LOCAL);
  if (!cupti) {
    d.warn("CUPTI", "libcupti.so.13 not found: kernel durations fall back to sampled CUDA events",
           "add the CUPTI directory (e.g. /usr/local/cuda/extras/CUPTI/lib64) to LD_LIBRARY_PATH");
  } else {
    uint32_t v = 0;
    auto ver = reinterpret_cast<int (*)(uint32_t*)>(dlsym(cupti, "cuptiGetVersion"));
    if (ver) ver(&v);
    d.ok("CUPTI", fmt::format("libcupti.so.13 API version {} ({})", v, lib_path(cupti)));
    // Busy: one subscriber per process is allowed; a profiler injected into this process
    // (CUDA_INJECTION64_PATH of Nsight, DCGM profiling) already holds it.
    using Sub = int (*)(void**, void (*)(void*, int, unsigned, const void*), void*);
    auto sub = reinterpret_cast<Sub>(dlsym(cupti, "cuptiSubscribe"));
    auto unsub = reinterpret_cast<int (*)(void*)>(dlsym(cupti, "cuptiUnsubscribe"));
    if (!have_device) {
      d.line("ok", "CUPTI subscriber", "not checked (no usable GPU driver)");
    } else if (sub && unsub) {
      void* h = nullptr;
      int rc = sub(&h, [](void*, int, unsigned, const void*) {}, nullptr);
      if (rc == 0) { unsub(h); d.ok("CUPTI subscriber", "free (no other profiler holds CUPTI)"); }
      else if (rc == 39)  // CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED
        d.warn("CUPTI subscriber", "busy: another profiler holds CUPTI (Nsight Systems, DCGM profiling, Kineto)",
               "stop it, or accept sampled-event durations (ARGUS_CUPTI=0 to silence)");
      else d.warn("CUPTI subscriber", fmt::format("cuptiSubscribe failed with CUptiResult {}", rc), "durations may fall back to sampled events");
    }
  }
  void* nccl = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!nccl) {
    d.warn("NCCL", "libnccl.so.2 not found on the search path (fine for single-GPU jobs; PyTorch may load its own copy)",
           "collectives are observed only in processes that load libnccl.so.2");
  } else {
    int v = 0;
    auto ver = reinterpret_cast<IntFn>(dlsym(nccl, "ncclGetVersion"));
    if (ver) ver(&v);
    d.ok("NCCL", fmt::format("libnccl.so.2 version {}.{}.{} ({})", v / 10000, (v % 10000) / 100, v % 100, lib_path(nccl)));
  }
}

void check_tools(Doctor& d) {
  std::string smi;
  if (const char* path = getenv("PATH"))
    for (std::string p = path; !p.empty();) {
      auto c = p.find(':');
      std::string dir = p.substr(0, c);
      if (!dir.empty() && access((dir + "/nvidia-smi").c_str(), X_OK) == 0) { smi = dir + "/nvidia-smi"; break; }
      if (c == std::string::npos) break;
      p = p.substr(c + 1);
    }
  if (smi.empty()) d.warn("nvidia-smi", "not found on PATH", "install the NVIDIA driver utilities to cross-check devices (not needed by argus)");
  else d.ok("nvidia-smi", smi);
  std::ifstream params("/proc/driver/nvidia/params");
  for (std::string l; std::getline(params, l);)
    if (l.rfind("RmProfilingAdminOnly:", 0) == 0 && l.find(" 1") != std::string::npos && geteuid() != 0)
      d.warn("GPU profiling permission", "the driver restricts profiling to admins (RmProfilingAdminOnly=1): CUPTI kernel activity will be refused",
             "set NVreg_RestrictProfilingToAdminUsers=0 or run as root");
  std::string paranoid = read_first_line("/proc/sys/kernel/perf_event_paranoid");
  if (!paranoid.empty()) {
    int p = std::atoi(paranoid.c_str());
    if (p > 2) d.warn("perf_event_paranoid", paranoid, "host CPU sampling by other tools (perf, py-spy --native) needs <= 2; argus itself does not use perf");
    else d.ok("perf_event_paranoid", paranoid + " (argus does not need perf; shown for co-tools)");
  }
  std::string yama = read_first_line("/proc/sys/kernel/yama/ptrace_scope");
  if (!yama.empty()) {
    if (std::atoi(yama.c_str()) >= 2) d.warn("ptrace_scope", yama, "attaching debuggers/py-spy to a hung rank needs ptrace_scope <= 1");
    else d.ok("ptrace_scope", yama + " (py-spy/gdb can attach to a hung rank of this user)");
  }
  if (const char* inj = getenv("CUDA_INJECTION64_PATH"); inj && *inj)
    d.warn("CUDA_INJECTION64_PATH", std::string("set to ") + inj, "another injected profiler will compete for CUPTI (argus-run sets it to libargus.so)");
}

void check_leftovers(Doctor& d, bool clean) {
#ifdef ARGUS_HAVE_COLLECT
  auto segs = argus::run::list_segments();
  std::map<std::string, std::vector<argus::run::SegmentInfo>> dead;
  size_t live = 0;
  for (auto& s : segs) (s.alive ? (void)++live : dead[s.valid ? s.run_id : std::string()].push_back(s));
  if (dead.empty()) { d.ok("leftover segments", fmt::format("none ({} live record(s) of running processes)", live)); return; }
  for (auto& [run_id, v] : dead) {
    uint64_t bytes = 0;
    for (auto& s : v) bytes += s.size;
    std::string what = fmt::format("{} segment(s) of dead processes of run '{}' ({} MiB logical)", v.size(), run_id.empty() ? "?" : run_id, bytes >> 20);
    if (!clean) { d.warn("leftover segments", what, "argus doctor --clean collects them into argus-leftovers/<run_id>/ and removes them"); continue; }
    if (!run_id.empty()) {
      fs::path dir = fs::path("argus-leftovers") / run_id;
      std::error_code ec;
      fs::create_directories(dir / "ranks", ec);
      argus::run::CollectOptions o;
      o.run_id = run_id;
      auto got = argus::run::collect_run(dir, o);
      size_t copied = 0;
      for (auto& p : got) copied += !p.file.empty();
      d.ok("leftover segments", fmt::format("{}: collected {} record(s) into {}", what, copied, dir.string()));
    }
    for (auto& s : v)  // invalid or uncollectable segments of dead processes: remove
      if (fs::exists(s.segment)) { std::error_code ec; fs::remove(s.segment, ec); }
  }
#else
  (void)clean;
  d.warn("leftover segments", "this build has no collector", "build report/run");
#endif
}

int run_doctor(bool clean) {
  Doctor d;
  check_shm(d);
  bool device = false;
  check_cuda(d, device);
  check_tools(d);
  check_leftovers(d, clean);
  std::printf("%s: %d fail, %d warn\n", d.observe ? "observation possible" : "observation NOT possible on this machine", d.fails, d.warns);
  return d.observe ? 0 : 1;
}

}  // namespace

void register_doctor(CLI::App& app, int* exit_code) {
  auto clean = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("doctor", "check what this machine can observe (exit 0 possible, 1 not)");
  sub->add_flag("--clean", *clean, "collect and remove shared-memory records left by dead processes");
  sub->callback([clean, exit_code] { *exit_code = run_doctor(*clean); });
}

}  // namespace argus::cli
