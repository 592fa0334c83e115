// Reading real PyTorch-profiler (Kineto, Chrome-trace JSON, gzip) traces in tests.
//   auto t = argus::test::load_kineto_trace(argus::test::trace_path("a100-16rank-rank0.json.gz"));
// Decompression goes through `gzip -dc` (popen): no zlib dependency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace argus::test {

struct KernelEvent {
  std::string name;        // as in the trace (mangled or demangled, whatever Kineto wrote)
  double ts_us = 0;        // GPU start, microseconds (trace clock)
  double dur_us = 0;       // GPU duration, microseconds
  uint64_t dur_ns = 0;     // llround(dur_us * 1000)
  int64_t stream = -1;     // args.stream, -1 if absent
  int64_t correlation = -1;  // args.correlation, -1 if absent
  int64_t device = -1;     // args.device, -1 if absent
  nlohmann::json args;     // the whole args object (NCCL kernels carry collective info here)
  size_t json_bytes = 0;   // size of the event re-serialized as compact JSON (a lower bound
                           // of its bytes in the original file, which has extra spaces)
};

struct StepRange {         // a ProfilerStep#N CPU annotation
  int64_t step = 0;        // N
  double ts_us = 0;
  double dur_us = 0;
};

struct KinetoTrace {
  std::string path;
  std::vector<KernelEvent> kernels;  // events with cat == "kernel", sorted by ts_us
  std::vector<StepRange> steps;      // sorted by ts_us
  size_t kernel_json_bytes = 0;      // sum of kernels[i].json_bytes
};

// Throws std::runtime_error("PATH: reason") on a missing/unreadable/malformed file.
KinetoTrace load_kineto_trace(const std::string& path);

// The folder of the shared traces (ARGUS_TRACES_DIR from CMake) and its *.json.gz files, sorted.
std::string traces_dir();
std::string trace_path(const std::string& file_name);
std::vector<std::string> list_trace_files();

// Index into trace.steps of the step a kernel belongs to: the last step whose start is <= the
// kernel's GPU start (GPU work lags the CPU annotation, so a kernel is attributed to the step
// in which it started on the GPU timeline up to the next step's CPU start). -1 if the kernel
// starts before the first step; kernels after the last step's end are -1 too.
int step_index(const KinetoTrace& trace, const KernelEvent& k);

}  // namespace argus::test
