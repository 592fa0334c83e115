#include "kineto_trace.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <sys/wait.h>

namespace argus::test {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::runtime_error(path + ": " + why);
}

std::string gunzip(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) fail(path, "no such file");
  std::string quoted = "'";
  for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  FILE* p = popen(("gzip -dc " + quoted + " 2>/dev/null").c_str(), "r");
  if (!p) fail(path, "cannot run gzip");
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) fail(path, "gzip -dc failed (not a gzip file?)");
  return out;
}

int64_t int_arg(const nlohmann::json& args, const char* key) {
  if (!args.is_object()) return -1;
  auto it = args.find(key);
  return it != args.end() && it->is_number() ? it->get<int64_t>() : -1;
}

}  // namespace

KinetoTrace load_kineto_trace(const std::string& path) {
  KinetoTrace t;
  t.path = path;
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(gunzip(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("invalid JSON: ") + e.what());
  }
  if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array())
    fail(path, "no traceEvents array");
  for (const auto& e : doc["traceEvents"]) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) continue;
    const auto ts = e.find("ts"), dur = e.find("dur");
    if (ts == e.end() || dur == e.end() || !ts->is_number() || !dur->is_number()) continue;
    const std::string& name = e["name"].get_ref<const std::string&>();
    const auto cat = e.find("cat");
    if (cat != e.end() && cat->is_string() && *cat == "kernel") {
      KernelEvent k;
      k.name = name;
      k.ts_us = ts->get<double>();
      k.dur_us = dur->get<double>();
      if (!(k.dur_us >= 0)) fail(path, "kernel with negative duration");
      k.dur_ns = uint64_t(std::llround(k.dur_us * 1000.0));
      if (auto a = e.find("args"); a != e.end()) k.args = *a;
      k.stream = int_arg(k.args, "stream");
      k.correlation = int_arg(k.args, "correlation");
      k.device = int_arg(k.args, "device");
      k.json_bytes = e.dump().size();
      t.kernel_json_bytes += k.json_bytes;
      t.kernels.push_back(std::move(k));
    } else if (name.rfind("ProfilerStep#", 0) == 0) {
      StepRange s;
      try {
        s.step = std::stoll(name.substr(13));
      } catch (const std::exception&) {
        continue;
      }
      s.ts_us = ts->get<double>();
      s.dur_us = dur->get<double>();
      t.steps.push_back(s);
    }
  }
  std::stable_sort(t.kernels.begin(), t.kernels.end(), [](auto& a, auto& b) { return a.ts_us < b.ts_us; });
  std::stable_sort(t.steps.begin(), t.steps.end(), [](auto& a, auto& b) { return a.ts_us < b.ts_us; });
  return t;
}

std::string traces_dir() { return ARGUS_TRACES_DIR; }
std::string trace_path(const std::string& file_name) { return traces_dir() + "/" + file_name; }

std::vector<std::string> list_trace_files() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(traces_dir(), ec)) {
    const std::string p = e.path().string();
    if (p.size() > 8 && p.compare(p.size() - 8, 8, ".json.gz") == 0) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int step_index(const KinetoTrace& trace, const KernelEvent& k) {
  const auto& s = trace.steps;
  auto it = std::upper_bound(s.begin(), s.end(), k.ts_us, [](double ts, const StepRange& r) { return ts < r.ts_us; });
  if (it == s.begin()) return -1;
  const int i = int(it - s.begin()) - 1;
  if (i == int(s.size()) - 1 && k.ts_us > s[i].ts_us + s[i].dur_us) return -1;
  return i;
}

}  // namespace argus::test
