#include "workload.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace sg {
using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::runtime_error(path + ": " + why);
}

// Keys starting with '_' or named "comment" are annotations (allowed anywhere).
void check_keys(const std::string& path, const json& o, const std::set<std::string>& allowed,
                const std::string& where) {
  for (auto it = o.begin(); it != o.end(); ++it) {
    const std::string& k = it.key();
    if (k.empty() || k[0] == '_' || k == "comment") continue;
    if (!allowed.count(k)) fail(path, "unknown field '" + k + "' in " + where);
  }
}

double num(const std::string& path, const json& o, const char* key, double dflt, const std::string& where) {
  if (!o.contains(key)) return dflt;
  if (!o[key].is_number()) fail(path, std::string("field '") + key + "' in " + where + " must be a number");
  return o[key].get<double>();
}

std::string str(const std::string& path, const json& o, const char* key, const std::string& dflt,
                const std::string& where) {
  if (!o.contains(key)) return dflt;
  if (!o[key].is_string()) fail(path, std::string("field '") + key + "' in " + where + " must be a string");
  return o[key].get<std::string>();
}

std::vector<SeqItem> parse_sequence(const std::string& path, const json& seq, const std::string& name) {
  if (!seq.is_array()) fail(path, name + " must be an array");
  static const std::set<std::string> colls = {"allreduce", "allgather", "reducescatter", "broadcast", "reduce",
                                              "sendrecv"};
  std::vector<SeqItem> out;
  int idx = 0;
  for (const json& it : seq) {
    std::string where = name + "[" + std::to_string(idx++) + "]";
    if (!it.is_object()) fail(path, where + " must be an object");
    SeqItem s;
    if (it.contains("kernel")) {
      check_keys(path, it, {"kernel", "count", "median_us", "sigma", "stream", "grid", "block", "durations_us"}, where);
      s.type = SeqItem::Kernel;
      s.kernel = str(path, it, "kernel", "", where);
      if (s.kernel.empty()) fail(path, where + ": kernel name is empty");
      s.count = (int)num(path, it, "count", 1, where);
      s.median_us = num(path, it, "median_us", 10, where);
      s.sigma = num(path, it, "sigma", 0, where);
      s.stream = str(path, it, "stream", "compute", where);
      s.grid = (int)num(path, it, "grid", 0, where);
      s.block = (int)num(path, it, "block", 0, where);
      if (s.count < 0 || s.median_us < 0 || s.sigma < 0) fail(path, where + ": count, median_us, sigma must be >= 0");
      if (it.contains("durations_us")) {
        if (!it["durations_us"].is_array() || it["durations_us"].empty())
          fail(path, where + ": durations_us must be a non-empty array of numbers");
        for (const json& d : it["durations_us"]) {
          if (!d.is_number() || d.get<double>() < 0) fail(path, where + ": durations_us must hold numbers >= 0");
          s.durations_us.push_back(d.get<double>());
        }
      }
    } else if (it.contains("collective")) {
      check_keys(path, it, {"collective", "dtype", "bytes", "stream", "overlap", "op"}, where);
      s.type = SeqItem::Collective;
      s.collective = str(path, it, "collective", "", where);
      if (!colls.count(s.collective))
        fail(path, where + ": unknown collective '" + s.collective +
                       "' (allreduce, allgather, reducescatter, broadcast, reduce, sendrecv)");
      s.dtype = str(path, it, "dtype", "bf16", where);
      s.op = str(path, it, "op", "sum", where);
      s.bytes = (uint64_t)num(path, it, "bytes", 0, where);
      s.stream = str(path, it, "stream", "comm", where);
      if (it.contains("overlap")) {
        if (!it["overlap"].is_boolean()) fail(path, where + ": overlap must be true or false");
        s.overlap = it["overlap"].get<bool>();
      }
    } else if (it.contains("alloc_bytes")) {
      check_keys(path, it, {"alloc_bytes", "free"}, where);
      s.type = SeqItem::Alloc;
      s.alloc_bytes = (uint64_t)num(path, it, "alloc_bytes", 0, where);
      if (it.contains("free")) {
        if (!it["free"].is_boolean()) fail(path, where + ": free must be true or false");
        s.free = it["free"].get<bool>();
      }
    } else {
      fail(path, where + " is neither a kernel, a collective nor an alloc item");
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

bool Fault::applies(int rank, long step) const {
  if (!ranks.empty()) {
    bool hit = false;
    for (int r : ranks) hit |= (r == rank);
    if (!hit) return false;
  }
  if (step_lo >= 0 && (step < step_lo || step > step_hi)) return false;
  return true;
}

bool Fault::matches(const std::string& name) const {
  if (kernel.empty()) return true;
  if (is_regex) return std::regex_search(name, *re);
  return name.find(kernel) != std::string::npos;
}

double Workload::speed(int rank) const {
  auto it = rank_speed.find(rank);
  return it == rank_speed.end() ? 1.0 : it->second;
}

double Workload::kernel_factor(int rank, long step, const std::string& name) const {
  double f = 1.0;
  for (const Fault& x : faults) {
    if (x.kind == "slow_rank" && x.applies(rank, step)) f *= x.factor;
    else if (x.kind == "slow_kernel" && x.applies(rank, step) && x.matches(name)) f *= x.factor;
  }
  return f;
}

const Fault* Workload::find(const char* kind, int rank, long step) const {
  for (const Fault& x : faults)
    if (x.kind == kind && x.applies(rank, step)) return &x;
  return nullptr;
}

Workload parse_workload_text(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    fail(path, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(path, "a workload must be a JSON object");
  check_keys(path, j,
             {"world_size", "steps", "seed", "host_us", "link_gbps", "device_memory_gib", "rank_speed",
              "sequence", "step_sequences", "faults", "name", "description", "source"},
             "the workload");
  Workload w;
  w.path = path;
  if (!j.contains("world_size")) fail(path, "missing required field 'world_size'");
  if (!j.contains("steps")) fail(path, "missing required field 'steps'");
  if (!j.contains("sequence")) fail(path, "missing required field 'sequence'");
  w.world_size = (int)num(path, j, "world_size", 1, "the workload");
  w.steps = (long)num(path, j, "steps", 1, "the workload");
  if (w.world_size < 1 || w.world_size > 1024) fail(path, "world_size must be in 1..1024");
  if (w.steps < 0) fail(path, "steps must be >= 0");
  w.seed = (uint64_t)num(path, j, "seed", 0, "the workload");
  w.host_us = num(path, j, "host_us", 0, "the workload");
  w.link_gbps = num(path, j, "link_gbps", 100, "the workload");
  if (w.link_gbps <= 0) fail(path, "link_gbps must be > 0");
  w.device_memory_gib = num(path, j, "device_memory_gib", 80, "the workload");
  if (w.device_memory_gib <= 0) fail(path, "device_memory_gib must be > 0");
  if (j.contains("rank_speed")) {
    if (!j["rank_speed"].is_object()) fail(path, "rank_speed must be an object {\"rank\": factor}");
    for (auto it = j["rank_speed"].begin(); it != j["rank_speed"].end(); ++it) {
      char* end = nullptr;
      long r = std::strtol(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end) fail(path, "rank_speed key '" + it.key() + "' is not a rank number");
      if (!it.value().is_number() || it.value().get<double>() <= 0)
        fail(path, "rank_speed of rank " + it.key() + " must be a positive number");
      w.rank_speed[(int)r] = it.value().get<double>();
    }
  }
  w.sequence = parse_sequence(path, j["sequence"], "sequence");
  if (j.contains("step_sequences")) {
    if (!j["step_sequences"].is_array()) fail(path, "step_sequences must be an array of sequences");
    int si = 0;
    for (const json& sq : j["step_sequences"]) {
      w.step_sequences.push_back(parse_sequence(path, sq, "step_sequences[" + std::to_string(si) + "]"));
      si++;
    }
  }
  if (j.contains("faults")) {
    if (!j["faults"].is_array()) fail(path, "faults must be an array");
    static const std::map<std::string, std::set<std::string>> kinds = {
        {"slow_rank", {"factor"}},
        {"slow_kernel", {"factor", "kernel"}},
        {"slow_link", {"factor"}},
        {"stall", {"us"}},
        {"jit_stall", {"kernel", "ms"}},
        {"hang", {"collective_index"}},
        {"crash", {"signal"}},
        {"oom", {}},
        {"alloc_churn", {"bytes"}},
    };
    int idx = 0;
    for (const json& it : j["faults"]) {
      std::string where = "faults[" + std::to_string(idx++) + "]";
      if (!it.is_object()) fail(path, where + " must be an object");
      Fault f;
      f.kind = str(path, it, "kind", "", where);
      auto k = kinds.find(f.kind);
      if (k == kinds.end())
        fail(path, where + ": unknown fault kind '" + f.kind +
                       "' (slow_rank, slow_kernel, slow_link, stall, jit_stall, hang, crash, oom, alloc_churn)");
      std::set<std::string> allowed = k->second;
      allowed.insert({"kind", "ranks", "steps"});
      check_keys(path, it, allowed, where + " (" + f.kind + ")");
      if (it.contains("ranks")) {
        if (!it["ranks"].is_array()) fail(path, where + ": ranks must be an array of rank numbers");
        for (const json& r : it["ranks"]) {
          if (!r.is_number_integer()) fail(path, where + ": ranks must be an array of rank numbers");
          f.ranks.push_back(r.get<int>());
        }
      }
      if (it.contains("steps")) {
        const json& s = it["steps"];
        if (!s.is_array() || s.size() != 2 || !s[0].is_number_integer() || !s[1].is_number_integer())
          fail(path, where + ": steps must be [first, last]");
        f.step_lo = s[0].get<long>();
        f.step_hi = s[1].get<long>();
        if (f.step_lo < 0 || f.step_hi < f.step_lo) fail(path, where + ": steps must be [first, last] with 0 <= first <= last");
      }
      f.factor = num(path, it, "factor", 1.0, where);
      if (f.factor <= 0) fail(path, where + ": factor must be > 0");
      f.us = num(path, it, "us", 0, where);
      f.ms = num(path, it, "ms", 0, where);
      f.collective_index = (int)num(path, it, "collective_index", 0, where);
      f.bytes = (uint64_t)num(path, it, "bytes", 0, where);
      f.signal = str(path, it, "signal", "KILL", where);
      if (f.kind == "crash" && f.signal != "KILL" && f.signal != "SEGV" && f.signal != "ABRT")
        fail(path, where + ": signal must be KILL, SEGV or ABRT");
      f.kernel = str(path, it, "kernel", "", where);
      if (f.kind == "slow_kernel" && f.kernel.empty()) fail(path, where + ": slow_kernel needs 'kernel'");
      if (f.kernel.rfind("re:", 0) == 0) {
        f.is_regex = true;
        try {
          f.re = std::make_shared<std::regex>(f.kernel.substr(3));
        } catch (const std::exception& e) {
          fail(path, where + ": bad regular expression '" + f.kernel.substr(3) + "'");
        }
      }
      w.faults.push_back(std::move(f));
    }
  }
  return w;
}

Workload parse_workload_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open the workload file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_workload_text(ss.str(), path);
}

}  // namespace sg
