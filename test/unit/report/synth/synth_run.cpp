#include "synth_run.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace argus::synth {
namespace fs = std::filesystem;
using namespace argus::rec;

RecordImage::RecordImage() : r_(static_cast<Record*>(std::calloc(1, sizeof(Record)))) {
  if (!r_) throw std::bad_alloc();
}
RecordImage::~RecordImage() { std::free(r_); }
RecordImage::RecordImage(RecordImage&& o) noexcept : r_(o.r_), next_kernel_(o.next_kernel_) { o.r_ = nullptr; }
RecordImage& RecordImage::operator=(RecordImage&& o) noexcept {
  std::swap(r_, o.r_);
  std::swap(next_kernel_, o.next_kernel_);
  return *this;
}

void RecordImage::write_file(const fs::path& p, size_t n) const {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(p.string() + ": cannot create");
  if (::ftruncate(fd, off_t(n)) != 0) { ::close(fd); throw std::runtime_error(p.string() + ": ftruncate failed"); }
  const uint8_t* b = bytes();
  static const uint8_t zero[4096] = {};
  size_t off = 0;
  while (off < n) {
    size_t len = std::min<size_t>(4096, n - off);
    if (std::memcmp(b + off, zero, len) == 0) { off += len; continue; }
    size_t end = off + len;
    while (end < n) {
      size_t l2 = std::min<size_t>(4096, n - end);
      if (std::memcmp(b + end, zero, l2) == 0) break;
      end += l2;
    }
    size_t done = 0;
    while (done < end - off) {
      ssize_t w = ::pwrite(fd, b + off + done, end - off - done, off_t(off + done));
      if (w <= 0) { ::close(fd); throw std::runtime_error(p.string() + ": write failed"); }
      done += size_t(w);
    }
    off = end;
  }
  ::close(fd);
}

void RecordImage::header(int rank, int world, const std::string& host, int pid, const std::string& run_id, uint32_t state) {
  Header& h = r_->header;
  h.layout_version = kLayoutVersion;
  h.header_size = sizeof(Header);
  h.total_size = sizeof(Record);
  h.sketch_size = sizeof(argus::Sketch);
  h.sketch_version = argus::kSketchLayoutVersion;
  h.pid = pid;
  h.ppid = 1;
  h.uid = 1000;
  h.rank = rank;
  h.local_rank = rank;
  h.world_size = world;
  h.rank_source = 1;
  h.cuda_device = rank % 8;
  h.state = state;
  h.steps_source = kStepsMarker;
  h.steps_requested = kStepsAuto;
  if (!h.window_steps) h.window_steps = kDefaultWindowSteps;
  std::snprintf(h.host, sizeof h.host, "%s", host.c_str());
  std::snprintf(h.run_id, sizeof h.run_id, "%s", run_id.c_str());
  std::snprintf(h.exe, sizeof h.exe, "%s", "synthtrain");
  describe_tables(h);
  h.magic = kMagic;
}

uint32_t RecordImage::intern(const std::string& s) {
  StringTable& t = r_->strings;
  uint32_t off = uint32_t(t.used);
  if (off + s.size() + 1 > kStringBytes) throw std::runtime_error("synthetic string table full");
  std::memcpy(t.bytes + off, s.data(), s.size());
  t.bytes[off + s.size()] = 0;
  t.used += s.size() + 1;
  return off;
}

uint32_t RecordImage::kernel_row(const std::string& name, bool nccl) {
  uint64_t h = fnv1a(name.data(), name.size());
  for (uint32_t i = 0; i < next_kernel_; ++i)
    if (r_->kernels[i].name_hash == h) return i;
  uint32_t i = next_kernel_++;
  KernelRow& k = r_->kernels[i];
  k.name_hash = h;
  k.name_off = intern(name);
  k.name_len = uint32_t(name.size());
  k.flags = uint32_t(kKernelNameFromRegister) | (nccl ? uint32_t(kKernelNccl) : 0u);
  k.state = kRowReady;
  return i;
}

std::vector<KernelSpec> default_kernels() {
  return {
      {"_ZN2at6native29vectorized_elementwise_kernelILi4ENS0_11FillFunctorIfEESt5arrayIPcLm1EEEEviT0_T1_", 6, 30e3, 0.04},
      {"sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x32_stage4_warpsize2x2x1_tensor16x8x16", 12, 180e3, 0.02},
      {"void flash_fwd_kernel<Flash_fwd_kernel_traits<128, 64, 64, 4, false, false, cutlass::bfloat16_t>, true>(Flash_fwd_params)", 4, 250e3, 0.03},
      {"_ZN2at6native13reduce_kernelILi512ELi1ENS0_8ReduceOpIfNS0_7MeanOpsIffEEjfLi4EEEEEvT1_", 3, 45e3, 0.05},
  };
}

namespace {

const char* kNcclKernel = "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)";

bool applies(const Fault& f, int r, uint64_t s) {
  return s >= f.first && s <= f.last && std::find(f.ranks.begin(), f.ranks.end(), r) != f.ranks.end();
}

struct Stop { uint64_t step = UINT64_MAX; std::vector<int> crashed, hung; int signal = 9; };

Stop stop_of(const RunSpec& spec) {
  Stop st;
  for (const auto& f : spec.faults)
    if (f.kind == "crash" || f.kind == "hang") st.step = std::min(st.step, f.first);
  for (const auto& f : spec.faults) {
    if (f.first != st.step) continue;
    if (f.kind == "crash") { st.crashed.insert(st.crashed.end(), f.ranks.begin(), f.ranks.end()); st.signal = f.signal; }
    if (f.kind == "hang") st.hung.insert(st.hung.end(), f.ranks.begin(), f.ranks.end());
  }
  return st;
}

double lognormal(std::mt19937_64& g, double median, double sigma) {
  std::normal_distribution<double> n(0.0, 1.0);
  return median * std::exp(sigma * n(g));
}

// One rank. Pass 1 (img == nullptr) returns the time each step's allreduce could start on this
// rank; pass 2 writes the record given every step's latest arrival.
std::vector<double> simulate(const RunSpec& spec, int r, const std::vector<double>* max_arrival, const std::vector<double>* coll_base,
                             RecordImage* img) {
  std::mt19937_64 g(spec.seed * 1000003ull + uint64_t(r) * 7919ull + 17);
  std::mt19937_64 g_alloc(spec.seed + uint64_t(r));  // separate: pass 1 never allocates
  const auto kernels = spec.kernels.empty() ? default_kernels() : spec.kernels;
  Stop stop = stop_of(spec);
  bool crashed = std::find(stop.crashed.begin(), stop.crashed.end(), r) != stop.crashed.end();
  bool hung = std::find(stop.hung.begin(), stop.hung.end(), r) != stop.hung.end();
  std::vector<double> arrival(spec.steps, std::nan(""));

  std::vector<uint32_t> krow;
  uint32_t nccl_row = 0, comm_row = 0;
  Record* R = img ? &img->rec() : nullptr;
  if (img) {
    R->header.window_steps = spec.window_steps;
    for (const auto& k : kernels) krow.push_back(img->kernel_row(k.name, false));
    nccl_row = img->kernel_row(kNcclKernel, true);
    CommRow& c = R->comms[comm_row];
    c.rank = r;
    c.nranks = spec.world;
    c.cuda_device = r % 8;
    c.id_hash = 0x5eed0000c0ffeeull ^ spec.seed;
    c.handle = 0x1000;
    c.state = kRowReady;
    CollectiveRow& cr = R->collectives[0];
    cr.comm = comm_row;
    cr.comm_hash = c.id_hash;
    cr.op = kOpAllReduce;
    cr.dtype = 7;
    cr.size_class = size_class(spec.coll_bytes);
    cr.state = kRowReady;
    Integrity& in = R->integrity;
    in.cupti_state = kCuptiOk;
    in.duration_source = kDurCupti;
    in.nvtx_state = 1;
    in.paths_resolved = (1u << kLaunchPaths) - 1;
    in.cuda_runtime_version = 13000;
    in.cuda_driver_version = 13000;
    in.nccl_version = 22800;
  }
  double t = 1.7e18 + double(spec.seed) * 1e12;  // CLOCK_REALTIME-like origin
  uint64_t start_time = uint64_t(t);
  std::vector<uint8_t> used_entries;
  auto window_entry = [&](uint64_t ordinal, uint32_t row) -> WindowEntry* {
    uint64_t w = ordinal / spec.window_steps;
    WindowRow& wr = R->windows[w % kMaxWindows];
    if (wr.seq == 0 || wr.window != w) {
      if (wr.seq != 0) R->integrity.drops[kDropWindowsOverwritten]++;
      uint64_t seq = wr.seq;
      std::memset(&wr, 0, sizeof wr);
      wr.seq = seq + 2;
      wr.window = w;
      wr.first_ordinal = w * spec.window_steps;
      wr.start_ns = uint64_t(t);
    }
    for (uint32_t e = 0; e < wr.n_entries; ++e)
      if (wr.entries[e].kernel == row + 1) return &wr.entries[e];
    if (wr.n_entries >= kWindowEntries) return nullptr;
    WindowEntry& e = wr.entries[wr.n_entries++];
    e.kernel = row + 1;
    return &e;
  };
  auto kernel_exec = [&](uint64_t ordinal, uint32_t row, uint64_t ns) {
    KernelRow& k = R->kernels[row];
    k.launches[kPathCudaLaunchKernel]++;
    k.gpu_count++;
    k.gpu_sum_ns += ns;
    k.gpu_max_ns = std::max(k.gpu_max_ns, ns);
    k.gpu_duration.record_single_writer(ns);
    R->launch.launches[kPathCudaLaunchKernel]++;
    R->integrity.kernel_records++;
    R->integrity.hooked_calls++;
    if (WindowEntry* e = window_entry(ordinal, row)) { e->count++; e->sum_ns += ns; e->max_ns = std::max(e->max_ns, ns); }
    else R->windows[(ordinal / spec.window_steps) % kMaxWindows].other_count++;
  };
  auto alloc = [&](bool fail) {
    MemApiRow& m = R->memory.api[kMemCudaMalloc];
    m.calls++;
    m.latency.record_single_writer(4000 + (g_alloc() % 2000));
    if (fail) { m.failures++; return; }
    m.bytes += 64u << 20;
    R->memory.live_bytes += 64ll << 20;
    R->memory.peak_bytes = std::max(R->memory.peak_bytes, R->memory.live_bytes);
  };
  auto free_ = [&]() {
    MemApiRow& m = R->memory.api[kMemCudaFree];
    m.calls++;
    m.bytes += 64u << 20;
    R->memory.live_bytes -= 64ll << 20;
  };
  if (img) { R->memory.live_bytes = 1ll << 30; R->memory.peak_bytes = 1ll << 30; R->memory.api[kMemCudaMalloc].calls = 1; R->memory.api[kMemCudaMalloc].bytes = 1u << 30; }

  uint64_t ordinal = 0;
  for (uint64_t s = 0; s < spec.steps && s <= stop.step; ++s, ++ordinal) {
    if (s == stop.step && crashed) break;  // killed at the start of the step
    double warm = 1.0 + (s < uint64_t(spec.warmup_steps) ? (spec.warmup_factor - 1.0) * (1.0 - double(s) / spec.warmup_steps) : 0.0);
    double host = lognormal(g, spec.host_ns, spec.host_sigma) * warm;
    for (const auto& f : spec.faults) if (f.kind == "stall" && applies(f, r, s)) host += f.stall_ns;
    double compute = 0;
    std::vector<std::pair<uint32_t, uint64_t>> execs;
    for (size_t k = 0; k < kernels.size(); ++k) {
      double factor = warm;
      for (const auto& f : spec.faults) {
        if (!applies(f, r, s)) continue;
        if (f.kind == "slow_rank") factor *= f.factor;
        if (f.kind == "slow_kernel" && kernels[k].name.find(f.kernel) != std::string::npos) factor *= f.factor;
      }
      for (int i = 0; i < kernels[k].per_step; ++i) {
        double d = lognormal(g, kernels[k].median_ns, kernels[k].sigma) * factor;
        compute += d;
        if (img) execs.push_back({uint32_t(k), uint64_t(d)});
      }
    }
    bool open = s == stop.step;  // the step in which the job stopped
    arrival[s] = host + compute;
    if (!img) continue;
    uint64_t my_mallocs = 0, my_frees = 0, failures = 0;
    int pairs = spec.allocs_per_step;
    for (const auto& f : spec.faults) if (f.kind == "alloc_churn" && applies(f, r, s)) pairs += 1;
    bool oom = false;
    for (const auto& f : spec.faults) if (f.kind == "oom" && applies(f, r, s)) oom = true;
    for (int i = 0; i < pairs; ++i) { alloc(false); free_(); my_mallocs++; my_frees++; }
    if (oom) {
      alloc(true); alloc(false); free_();
      R->memory.api[kMemCudaMalloc].retry_after_failure++;
      my_mallocs += 2; my_frees++; failures++;
    }
    for (auto [k, d] : execs) kernel_exec(ordinal, krow[k], d);
    StepRow& row = R->steps[ordinal % kStepRing];
    if (row.seq != 0) {
      StepSummary& sum = R->step_summary;
      sum.evicted++;
      sum.evicted_host_ns += row.host_end_ns - row.host_start_ns;
      sum.evicted_gpu_busy_ns += row.gpu_busy_ns;
      sum.evicted_collective_ns += row.collective_ns;
      sum.evicted_launches += row.launches;
      sum.evicted_gpu_kernels += row.gpu_kernels;
      R->integrity.drops[kDropStepsOverwritten]++;
    }
    uint64_t seq = row.seq;
    std::memset(&row, 0, sizeof row);
    row.seq = seq + 2;
    row.ordinal = ordinal;
    row.index = int64_t(s);
    row.host_start_ns = uint64_t(t);
    row.source = kStepsMarker;
    row.launches = execs.size();
    row.gpu_kernels = execs.size();
    row.mallocs = my_mallocs;
    row.frees = my_frees;
    row.alloc_failures = failures;
    R->step_summary.steps_begun++;
    CommRow& c = R->comms[comm_row];
    if (open) {
      // Stopped in this step: the hung rank never enqueues its allreduce; the others did and wait.
      row.gpu_busy_ns = uint64_t(compute);
      if (!hung) {
        c.seq_enqueued++;
        c.seq_started++;
        c.last_seq += 2;
        c.last_op = {c.seq_enqueued, kOpAllReduce, 7, spec.coll_bytes / 4, spec.coll_bytes, -1, 0, 0x10, uint64_t(t + arrival[s])};
      }
      R->header.heartbeat_ns = uint64_t(t + arrival[s] + 60e9);
      break;
    }
    double base = (*coll_base)[s];
    double nccl = (*max_arrival)[s] - arrival[s] + base;
    double dur = (*max_arrival)[s] + base;
    kernel_exec(ordinal, nccl_row, uint64_t(nccl));
    CollectiveRow& cr = R->collectives[0];
    cr.count++;
    cr.bytes += spec.coll_bytes;
    cr.timed_count++;
    cr.sum_ns += uint64_t(nccl);
    cr.max_ns = std::max(cr.max_ns, uint64_t(nccl));
    cr.duration.record_single_writer(uint64_t(nccl));
    c.seq_enqueued++;
    c.seq_started++;
    c.seq_completed++;
    c.last_seq += 2;
    c.last_op = {c.seq_enqueued, kOpAllReduce, 7, spec.coll_bytes / 4, spec.coll_bytes, -1, 0, 0x10, uint64_t(t + arrival[s])};
    c.bytes_total += spec.coll_bytes;
    row.gpu_busy_ns = uint64_t(compute + nccl);
    row.collective_ns = uint64_t(nccl);
    row.collectives = 1;
    row.gpu_kernels += 1;
    row.launches += 1;
    row.host_end_ns = uint64_t(t + dur);
    R->step_summary.steps_closed++;
    R->step_summary.step_host_ns.record_single_writer(uint64_t(dur));
    R->windows[(ordinal / spec.window_steps) % kMaxWindows].collective_count++;
    R->windows[(ordinal / spec.window_steps) % kMaxWindows].collective_ns += uint64_t(nccl);
    R->header.heartbeat_ns = uint64_t(t + dur);
    t += dur;
  }
  if (img) {
    R->header.start_time_ns = start_time;
    R->integrity.overhead_samples = R->integrity.hooked_calls / kOverheadSampleEvery;
    R->integrity.overhead_sum_ns = R->integrity.overhead_samples * 40;
    R->integrity.own_cpu_ns = 2000000;
    if (crashed) R->header.heartbeat_ns = uint64_t(t);
    if (stop.step == UINT64_MAX || stop.step >= spec.steps) {
      R->header.end_time_ns = uint64_t(t);
      R->header.state = kStateExited;
    } else {
      R->header.state = kStateKilled;
    }
  }
  return arrival;
}

struct Shared { std::vector<double> max_arrival, coll_base; };

Shared pass1(const RunSpec& spec) {
  Shared sh;
  sh.max_arrival.assign(spec.steps, 0.0);
  for (int r = 0; r < spec.world; ++r) {
    auto a = simulate(spec, r, nullptr, nullptr, nullptr);
    for (uint64_t s = 0; s < spec.steps; ++s) if (std::isfinite(a[s])) sh.max_arrival[s] = std::max(sh.max_arrival[s], a[s]);
  }
  std::mt19937_64 g(spec.seed * 31 + 5);
  sh.coll_base.resize(spec.steps);
  for (uint64_t s = 0; s < spec.steps; ++s) {
    double f = 1.0;
    for (const auto& fl : spec.faults)
      if (fl.kind == "slow_link" && s >= fl.first && s <= fl.last) f *= fl.factor;
    sh.coll_base[s] = lognormal(g, spec.coll_ns, 0.02) * f;
  }
  return sh;
}

RecordImage make_rank(const RunSpec& spec, const Shared& sh, int r) {
  RecordImage img;
  img.header(r, spec.world, spec.host, 1000 + r, spec.run_id, kStateRunning);
  simulate(spec, r, &sh.max_arrival, &sh.coll_base, &img);
  return img;
}

}  // namespace

std::vector<RecordImage> build_run(const RunSpec& spec) {
  Shared sh = pass1(spec);
  std::vector<RecordImage> out;
  for (int r = 0; r < spec.world; ++r) out.push_back(make_rank(spec, sh, r));
  return out;
}

void write_run(const RunSpec& spec, const fs::path& dir) {
  fs::create_directories(dir / "ranks");
  Shared sh = pass1(spec);
  Stop stop = stop_of(spec);
  nlohmann::json procs = nlohmann::json::array();
  for (int r = 0; r < spec.world; ++r) {
    RecordImage img = make_rank(spec, sh, r);
    std::string name = spec.host + "-" + std::to_string(1000 + r) + ".argus";
    img.write_file(dir / "ranks" / name);
    nlohmann::json p = {{"host", spec.host}, {"pid", 1000 + r}, {"rank", r}, {"local_rank", r}, {"world_size", spec.world},
                        {"file", "ranks/" + name}};
    if (stop.step < spec.steps) {
      bool crashed = std::find(stop.crashed.begin(), stop.crashed.end(), r) != stop.crashed.end();
      p["state"] = "killed";
      p["signal"] = crashed ? stop.signal : 15;
    } else {
      p["state"] = "exited";
      p["exit_code"] = 0;
    }
    procs.push_back(p);
  }
  if (!spec.write_meta) return;
  nlohmann::json env = {{"NCCL_ALGO", "Ring"}, {"CUDA_VISIBLE_DEVICES", "0,1,2,3,4,5,6,7"}};
  if (auto eq = spec.meta_extra_env.find('='); eq != std::string::npos)
    env[spec.meta_extra_env.substr(0, eq)] = spec.meta_extra_env.substr(eq + 1);
  nlohmann::json meta = {
      {"schema", "argus.run_meta/1"},
      {"run_id", spec.run_id},
      {"status", "finished"},
      {"start_time", "2026-12-02T14:00:00.000Z"},
      {"command", {"simtrain", "--workload", "synthetic.json"}},
      {"environment", env},
      {"hosts", {{{"host", spec.host}, {"software", {{"cuda_runtime", "13.0"}, {"nccl", "2.28.3"}, {"torch", "not available"}}},
                  {"fingerprint", {{"stack", "s1"}, {"machine", "m1"}}}}}},
      {"fingerprint", "0123456789abcdef"},
      {"processes", procs}};
  std::ofstream(dir / "run_meta.json") << meta.dump(2) << "\n";
}

}  // namespace argus::synth
