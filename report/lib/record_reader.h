// Reading rank record files (include/argus/record.h) into the run model, and a run directory
// (ranks/ + run_meta.json) into a RunModel. Every defect of the input is an InputError naming
// the file and the reason in one line; nothing here trusts an index or a length it read.
#pragma once
#include <cstddef>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "model.h"

namespace argus::report {

class InputError : public std::runtime_error {
 public:
  InputError(std::string file, std::string reason)
      : std::runtime_error(file + ": " + reason), file_(std::move(file)), reason_(std::move(reason)) {}
  const std::string& file() const { return file_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string file_, reason_;
};

// Which byte ranges of a record file hold data (SEEK_DATA/SEEK_HOLE on a sparse copy). Rows
// that lie entirely in a hole are zero, i.e. empty, and are not touched: a record is ~59 MiB
// of mostly empty fixed-capacity tables, and touching every row costs a page fault each.
struct Extents {
  bool all = true;                                   // no information: everything may hold data
  std::vector<std::pair<uint64_t, uint64_t>> data;   // [begin, end), sorted
  bool any(uint64_t off, uint64_t len) const;
};

// Decodes one record image (a file's bytes). `file` names it in errors and in RankInfo::file.
RankData decode_record(const void* image, size_t size, const std::string& file, const Extents* extents = nullptr);
// mmap()s and decodes a record file (only the pages the decoder touches are read).
RankData read_record_file(const std::filesystem::path& path, const std::string& display_name);

struct LoadOptions {
  bool skip_bad = false;  // bad rank files are listed in RunModel::bad_files instead of thrown
  std::function<void(size_t done, size_t total)> progress;  // called after each rank file
};

// Loads RUN_DIR/ranks/* (sorted by file name; ranks ordered by rank, host, pid) and
// RUN_DIR/run_meta.json (optional; exit codes and signals of processes come from it).
RunModel load_run(const std::filesystem::path& run_dir, const LoadOptions& opt = {});

}  // namespace argus::report
