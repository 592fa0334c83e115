// Synthetic rank records for the report's tests, fuzzer and benchmark: a small simulator of a
// data-parallel job (compute kernels, one allreduce per step that completes when the last rank
// arrives, host time, allocations) that writes real record images (include/argus/record.h),
// with the fault kinds of the simgpu workload format planted on chosen ranks and steps.
// It is a test double of libargus's output, written independently of interpose/.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <argus/record.h>

namespace argus::synth {

// A zero-filled Record (calloc: untouched pages cost nothing).
class RecordImage {
 public:
  RecordImage();
  ~RecordImage();
  RecordImage(RecordImage&&) noexcept;
  RecordImage& operator=(RecordImage&&) noexcept;
  rec::Record& rec() { return *r_; }
  const rec::Record& rec() const { return *r_; }
  const uint8_t* bytes() const { return reinterpret_cast<const uint8_t*>(r_); }
  static constexpr size_t size() { return sizeof(rec::Record); }
  // Writes the image as a sparse file (holes where pages are zero); `bytes` < size() truncates.
  void write_file(const std::filesystem::path& p, size_t bytes = size()) const;

  // Low-level builders.
  void header(int rank, int world, const std::string& host, int pid, const std::string& run_id, uint32_t state);
  uint32_t intern(const std::string& s);
  uint32_t kernel_row(const std::string& name, bool nccl);  // finds or creates, returns row index

 private:
  rec::Record* r_;
  uint32_t next_kernel_ = 0;
};

struct KernelSpec {
  std::string name;
  int per_step = 1;
  double median_ns = 100000;
  double sigma = 0.03;
};

struct Fault {
  std::string kind;        // slow_rank, slow_kernel, slow_link, stall, hang, crash, oom, alloc_churn
  std::vector<int> ranks;
  uint64_t first = 0, last = UINT64_MAX;
  double factor = 1.0;
  std::string kernel;      // substring (slow_kernel)
  double stall_ns = 0;     // stall
  int signal = 9;          // crash
};

struct RunSpec {
  int world = 8;
  uint64_t steps = 200;
  uint64_t seed = 1;
  double host_ns = 1.5e6;
  double host_sigma = 0.02;
  std::vector<KernelSpec> kernels;   // compute kernels of one step (empty = a default mix)
  double coll_ns = 2.0e6;            // allreduce time once every rank has arrived
  uint64_t coll_bytes = 25u << 20;
  double warmup_factor = 3.0;        // the first steps are this much slower (decaying)
  int warmup_steps = 3;
  int allocs_per_step = 0;           // malloc+free pairs per step on every rank
  std::vector<Fault> faults;
  std::string run_id = "synth";
  std::string host = "node0";
  uint32_t window_steps = 16;
  bool write_meta = true;
  std::string meta_extra_env;        // "NAME=value" added to run_meta environment
};

std::vector<KernelSpec> default_kernels();

// Simulates every rank; returns the images in rank order.
std::vector<RecordImage> build_run(const RunSpec& spec);
// build_run + write RUN_DIR/ranks/<host>-<pid>.argus and run_meta.json. Writes rank by rank
// (memory stays bounded for big runs).
void write_run(const RunSpec& spec, const std::filesystem::path& run_dir);

}  // namespace argus::synth
