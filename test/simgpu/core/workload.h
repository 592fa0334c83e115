// simgpu workload model: the JSON contract of ../shared/simgpu-workload.md, parsed strictly
// (unknown fields and fault kinds are errors naming the file and the field).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace sg {

struct SeqItem {
  enum Type { Kernel, Collective, Alloc } type = Kernel;
  std::string kernel;          // Kernel
  int count = 1;
  double median_us = 10.0;
  double sigma = 0.0;
  std::string stream;          // "compute" (kernels) / "comm" (collectives) by default
  std::string collective;      // allreduce allgather reducescatter broadcast reduce sendrecv
  std::string dtype = "bf16";
  std::string op = "sum";      // reduction operator (optional extension)
  uint64_t bytes = 0;
  bool overlap = false;
  uint64_t alloc_bytes = 0;    // Alloc
  bool free = false;
  int grid = 0, block = 0;     // optional extension: launch geometry (0 = derived)
  std::vector<double> durations_us;  // optional extension: exact per-launch durations (cycled)
};

struct Fault {
  std::string kind;
  std::vector<int> ranks;      // empty = every rank
  long step_lo = -1, step_hi = -1;  // -1 = every step
  double factor = 1.0;
  std::string kernel;          // substring, or regex when it started with "re:"
  bool is_regex = false;
  std::shared_ptr<std::regex> re;
  double us = 0, ms = 0;
  int collective_index = 0;
  std::string signal = "KILL";
  uint64_t bytes = 0;

  bool applies(int rank, long step) const;
  bool matches(const std::string& name) const;  // true when no kernel filter
};

struct Workload {
  std::string path;
  int world_size = 1;
  long steps = 1;
  uint64_t seed = 0;
  double host_us = 0;
  double link_gbps = 100;       // Gbit/s per rank link
  double device_memory_gib = 80;
  std::map<int, double> rank_speed;
  std::vector<SeqItem> sequence;
  // Optional extension: step i < step_sequences.size() runs step_sequences[i] instead of
  // `sequence` (trace replays whose steps differ).
  std::vector<std::vector<SeqItem>> step_sequences;
  const std::vector<SeqItem>& sequence_for(long step) const {
    return step >= 0 && (size_t)step < step_sequences.size() ? step_sequences[(size_t)step] : sequence;
  }
  std::vector<Fault> faults;

  double speed(int rank) const;
  // Product of slow_rank/slow_kernel factors that apply to this kernel.
  double kernel_factor(int rank, long step, const std::string& name) const;
  const Fault* find(const char* kind, int rank, long step) const;
};

// Throws std::runtime_error("<file>: <reason>") on any problem.
Workload parse_workload_file(const std::string& path);
Workload parse_workload_text(const std::string& text, const std::string& path);

}  // namespace sg
