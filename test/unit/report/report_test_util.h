// Helpers shared by the report unit tests.
#pragma once
#include <filesystem>
#include <random>
#include <string>

#include "analysis.h"
#include "record_reader.h"
#include "synth_run.h"

namespace argus::report::testutil {

// Synthetic run -> record images -> decoder -> model (no files).
inline RunModel model_of(const synth::RunSpec& spec) {
  RunModel m;
  m.run_dir = "synthetic";
  auto imgs = synth::build_run(spec);
  for (size_t i = 0; i < imgs.size(); ++i) m.ranks.push_back(decode_record(imgs[i].bytes(), imgs[i].size(), "rank" + std::to_string(i)));
  for (const auto& r : m.ranks) m.expected_world = std::max(m.expected_world, r.info.world_size);
  return m;
}

// A fresh empty folder under the system temp dir, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("argus-report-test-" + tag + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(path, ec); }
};

inline std::vector<const Finding*> of_kind(const Analysis& a, const std::string& kind) {
  std::vector<const Finding*> v;
  for (const auto& f : a.findings) if (f.kind == kind) v.push_back(&f);
  return v;
}

inline std::string describe(const Analysis& a) {
  std::string s;
  for (const auto& f : a.findings) {
    s += f.kind + " ranks=";
    for (int r : f.ranks) s += std::to_string(r) + ",";
    s += " steps=" + std::to_string(f.first_step) + "-" + std::to_string(f.last_step) + " mag=" + std::to_string(f.magnitude) + " : " + f.evidence + "\n";
  }
  return s;
}

}  // namespace argus::report::testutil
