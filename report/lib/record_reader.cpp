#include "record_reader.h"
#include "parallel.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <argus/record.h>
#include <nlohmann/json.hpp>

namespace argus::report {
namespace {

namespace fs = std::filesystem;
constexpr int kMaxWorldSize = 1 << 20;  // far above any job; bounds per-rank allocations
using namespace argus::rec;

std::string bounded(const char* p, size_t cap) { return std::string(p, strnlen(p, cap)); }

const char* dtype_name(uint32_t t) {
  static const char* n[] = {"int8", "uint8", "int32", "uint32", "int64", "uint64", "float16", "float32",
                            "float64", "bfloat16", "float8e4m3", "float8e5m2"};
  return t < 12 ? n[t] : "unknown";
}

std::string op_name(uint32_t op) {
  switch (op) {
    case kOpAllReduce: return "allreduce";
    case kOpBroadcast: case kOpBcast: return "broadcast";
    case kOpReduce: return "reduce";
    case kOpAllGather: return "allgather";
    case kOpReduceScatter: return "reducescatter";
    case kOpAllToAll: return "alltoall";
    case kOpGather: return "gather";
    case kOpScatter: return "scatter";
    case kOpSend: return "send";
    case kOpRecv: return "recv";
    default: return "unknown";
  }
}

// Sketches in a file may be hand-made or damaged: accept only internally consistent ones.
bool sketch_ok(const argus::Sketch& s, uint64_t expected_count) {
  uint64_t n = 0;
  bool ovf = false;
  s.for_each_nonzero([&](uint32_t, uint64_t c) { if (n + c < n) ovf = true; n += c; });
  if (ovf) return false;
  if (n == 0) return true;
  if (s.max() < s.min()) return false;
  return expected_count == 0 || n == expected_count;
}

std::string kernel_name(const Record& r, const KernelRow& k, uint32_t i) {
  if (k.name_len == 0 || k.name_off >= kStringBytes || uint64_t(k.name_off) + k.name_len >= kStringBytes)
    return "<kernel name not recorded #" + std::to_string(i) + ">";
  return std::string(r.strings.bytes + k.name_off, strnlen(r.strings.bytes + k.name_off, k.name_len));
}

// Launch counts: the shared rows plus the shards some thread claimed (record.h LaunchShard).
// A shard nobody claimed is all zero, usually a hole of a sparse copy: not touched.
struct LaunchCounts {
  std::vector<const LaunchShard*> shards;
  template <class Present>
  LaunchCounts(const Record& r, const Present& present) {
    for (const LaunchShard& s : r.launch_shards) {
      if (!present(&s, offsetof(LaunchShard, kernels))) continue;
      bool used = s.owner != 0;  // claimed now; a released shard keeps its counts
      for (uint64_t n : s.paths) used |= n != 0;
      if (used) shards.push_back(&s);
    }
  }
  uint64_t path(const Record& r, uint32_t p) const {
    uint64_t n = r.launch.launches[p];
    for (const LaunchShard* s : shards) n += s->paths[p];
    return n;
  }
  uint64_t kernel(const Record& r, uint32_t k, uint32_t p) const {
    uint64_t n = r.kernels[k].launches[p];
    for (const LaunchShard* s : shards) n += s->kernels[k][p];
    return n;
  }
};

void decode_integrity(const Record& r, const LaunchCounts& lc, RankData& d) {
  const Integrity& in = r.integrity;
  auto& o = d.integrity;
  o.cupti = in.cupti_state == kCuptiOk && in.duration_source == kDurCupti;
  o.timing_source = in.duration_source == kDurCupti ? "cupti" : in.duration_source == kDurEventSampling ? "sampled CUDA events" : "none";
  bool touched_gpu = in.hooked_calls > 0 || in.paths_seen != 0;
  if (touched_gpu && in.cupti_state != kCuptiOk) {
    o.unobservable.push_back(std::string("CUPTI ") + cupti_state_name(in.cupti_state) +
                             (in.duration_source == kDurEventSampling ? ": kernel durations sampled with CUDA events" : ": no GPU kernel durations"));
  }
  if (!touched_gpu) o.cupti = true;  // nothing to time: not a gap in observation
  if (in.nvtx_state == 2) o.unobservable.push_back("NVTX injection failed: NVTX step ranges not seen");
  if (in.unknown_cuda_version) o.unobservable.push_back("CUDA runtime/driver newer than the headers argus knows: results may be partial");
  if (in.init_errors & kErrDlsym) o.unobservable.push_back("a hooked CUDA/NCCL symbol was not found: some calls not intercepted");
  if (in.init_errors & kErrCuptiLoad) o.unobservable.push_back("libcupti could not be loaded");
  if (in.event_skipped_capturing) o.unobservable.push_back("event samples skipped on streams capturing a CUDA graph");
  if (in.init_errors & kErrEventSampling) o.unobservable.push_back("a CUDA event call failed: kernel duration sampling stopped");
  o.dropped_kernels = in.drops[kDropKernelTable] + in.drops[kDropCuptiRecords];
  o.dropped_collectives = in.drops[kDropCollectiveTable] + in.drops[kDropCommTable] + in.drops[kDropCuptiUnmatched];
  o.dropped_windows = 0;  // overwritten windows are history, not loss: kernel rows stay cumulative
  o.dropped_other = in.drops[kDropStringTable] + in.drops[kDropAllocMap];
  // Hook bodies are timed 1 in kOverheadSampleEvery; scale up, add our threads' CPU time.
  o.overhead_ns = in.overhead_sum_ns * kOverheadSampleEvery + in.own_cpu_ns;
  uint64_t end = r.header.end_time_ns ? r.header.end_time_ns : r.header.heartbeat_ns;
  o.observed_ns = end > r.header.start_time_ns ? end - r.header.start_time_ns : 0;
  for (uint32_t p = 0; p < kLaunchPaths; ++p)
    if (uint64_t n = lc.path(r, p)) d.launches_by_path[launch_path_name(p)] = n;
}

}  // namespace

bool Extents::any(uint64_t off, uint64_t len) const {
  if (all) return true;
  // First extent that ends after off.
  auto it = std::upper_bound(data.begin(), data.end(), off, [](uint64_t v, const auto& e) { return v < e.second; });
  return it != data.end() && it->first < off + len;
}

RankData decode_record(const void* image, size_t size, const std::string& file, const Extents* ex) {
  static const Extents kAll;
  if (!ex) ex = &kAll;
  auto present = [&](const void* row, size_t len) {
    return ex->any(uint64_t(static_cast<const char*>(row) - static_cast<const char*>(image)), len);
  };
  if (const char* why = validate(image, size)) {
    std::string reason = why;
    const auto* h = static_cast<const Header*>(image);
    if (size >= sizeof(Header) && h->magic == kMagic && h->layout_version > kLayoutVersion)
      reason = "written by a newer argus (record layout version " + std::to_string(h->layout_version) +
               ", this argus reads version " + std::to_string(kLayoutVersion) + ")";
    else if (size >= sizeof(Header) && h->magic == kMagic && h->layout_version != kLayoutVersion)
      reason = "unsupported record layout version " + std::to_string(h->layout_version);
    else if (reason.rfind("truncated", 0) == 0 || reason.rfind("shorter", 0) == 0)
      reason = "truncated (" + std::to_string(size) + " of " + std::to_string(sizeof(Record)) + " bytes)";
    throw InputError(file, reason);
  }
  const Record& r = *static_cast<const Record*>(image);
  const Header& h = r.header;
  static const uint64_t kOffsets[] = {offsetof(Record, integrity), offsetof(Record, strings), offsetof(Record, kernels),
                                      offsetof(Record, comms), offsetof(Record, collectives), offsetof(Record, memory),
                                      offsetof(Record, steps), offsetof(Record, windows), offsetof(Record, launch),
                                      offsetof(Record, launch_shards)};
  for (uint32_t t = 0; t <= kTabLaunchShards; ++t)
    if (h.tables[t].offset != 0 && h.tables[t].offset != kOffsets[t]) throw InputError(file, "corrupt (table offsets do not match the layout)");

  RankData d;
  auto& info = d.info;
  info.rank = h.rank;
  info.local_rank = h.local_rank;
  info.world_size = h.world_size > 0 ? h.world_size : 0;
  // Bounds the report's per-rank tables (missing ranks are listed one by one): a world size
  // or rank beyond any real job is a corrupt header, not a reason to allocate gigabytes.
  if (info.world_size > kMaxWorldSize)
    throw InputError(file, "corrupt (world size " + std::to_string(info.world_size) + " is beyond " + std::to_string(kMaxWorldSize) + ")");
  if (info.rank >= kMaxWorldSize)
    throw InputError(file, "corrupt (rank " + std::to_string(info.rank) + " is beyond " + std::to_string(kMaxWorldSize) + ")");
  info.pid = uint32_t(h.pid);
  info.host = bounded(h.host, sizeof h.host);
  info.run_id = bounded(h.run_id, sizeof h.run_id);
  info.file = file;
  info.start_ns = h.start_time_ns;
  info.end_ns = h.end_time_ns;
  info.last_alive_ns = std::max(h.end_time_ns, h.heartbeat_ns);
  info.state = h.state == kStateRunning ? RankState::running
             : h.state == kStateExited  ? RankState::exited
             : h.state == kStateKilled  ? RankState::killed
                                        : RankState::unknown;
  d.step_source = steps_source_name(h.steps_source);
  const LaunchCounts lc(r, present);
  decode_integrity(r, lc, d);

  // Steps: the ring, ordered by ordinal; torn slots (odd seq) are counted and skipped.
  std::vector<const StepRow*> rows;
  for (uint32_t i = 0; i < kStepRing; ++i) {
    const StepRow& s = r.steps[i];
    if (!present(&s, sizeof s.seq) || s.seq == 0) continue;
    if (s.seq & 1) { d.integrity.torn_reads++; continue; }
    if (s.ordinal % kStepRing != i) throw InputError(file, "corrupt (step ring slot " + std::to_string(i) + " holds ordinal " + std::to_string(s.ordinal) + ")");
    rows.push_back(&s);
  }
  // Slot i holds an ordinal = i (mod ring), so slot order is ordinal order rotated at the
  // oldest slot; sort only when it is not (a hand-made or damaged ring).
  {
    auto by_ordinal = [](const StepRow* a, const StepRow* b) { return a->ordinal < b->ordinal; };
    auto oldest = std::min_element(rows.begin(), rows.end(), by_ordinal);
    std::rotate(rows.begin(), oldest, rows.end());
    if (!std::is_sorted(rows.begin(), rows.end(), by_ordinal)) std::sort(rows.begin(), rows.end(), by_ordinal);
  }
  bool user_index_ok = true;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i && rows[i]->ordinal == rows[i - 1]->ordinal) throw InputError(file, "corrupt (duplicate step ordinal)");
    if (rows[i]->index < 0 || (i && rows[i]->index <= rows[i - 1]->index)) user_index_ok = false;
  }
  std::vector<std::pair<uint64_t, uint64_t>> ordinal_to_index;  // sorted by ordinal
  ordinal_to_index.reserve(rows.size());
  d.steps.reserve(rows.size());
  for (const StepRow* s : rows) {
    uint64_t index = user_index_ok ? uint64_t(s->index) : s->ordinal;
    bool closed = s->host_end_ns != 0 && s->host_end_ns >= s->host_start_ns;
    auto sat = [](uint64_t v) { return uint32_t(std::min<uint64_t>(v, UINT32_MAX)); };
    d.steps.push_back(make_step(index, int64_t(s->host_start_ns), closed ? int64_t(s->host_end_ns) : 0, s->gpu_busy_ns, s->collective_ns,
                                s->gpu_active_ns, sat(s->mallocs), sat(s->frees), sat(s->alloc_failures)));
    ordinal_to_index.push_back({s->ordinal, index});
  }
  d.steps_total = std::max<uint64_t>(r.step_summary.steps_begun, d.steps.size());
  auto index_of = [&](uint64_t ordinal) -> uint64_t {
    if (ordinal_to_index.empty()) return ordinal;
    auto it = std::lower_bound(ordinal_to_index.begin(), ordinal_to_index.end(), std::make_pair(ordinal, uint64_t(0)));
    if (it != ordinal_to_index.end() && it->first == ordinal) return it->second;
    // Outside the ring: extrapolate from the nearest known step (indices advance like ordinals).
    if (it == ordinal_to_index.end()) --it;
    int64_t v = int64_t(it->second) + (int64_t(ordinal) - int64_t(it->first));
    return v < 0 ? 0 : uint64_t(v);
  };

  // Kernels.
  std::vector<int32_t> kmap(kMaxKernels, -1);
  for (uint32_t i = 0; i < kMaxKernels; ++i) {
    const KernelRow& k = r.kernels[i];
    if (!present(&k, sizeof k.state) || k.state != kRowReady) continue;
    KernelStat ks;
    ks.name = kernel_name(r, k, i);
    ks.count = k.gpu_count;
    ks.total_ns = k.gpu_sum_ns;
    for (uint32_t p = 0; p < kLaunchPaths; ++p)
      if (p != kPathDriverEntryPoint) ks.launches += lc.kernel(r, i, p);
    ks.is_collective = (k.flags & kKernelNccl) != 0;
    if (!sketch_ok(k.gpu_duration, 0)) throw InputError(file, "corrupt (duration sketch of kernel row " + std::to_string(i) + ")");
    ks.dur.add_sketch(k.gpu_duration);
    kmap[i] = int32_t(d.kernels.size());
    d.kernels.push_back(std::move(ks));
  }
  // Kernel names are unique per record; a duplicate (hash collision in the writer) is merged.
  {
    std::map<std::string, uint32_t> seen;
    std::vector<KernelStat> uniq;
    std::vector<int32_t> remap(d.kernels.size());
    for (size_t i = 0; i < d.kernels.size(); ++i) {
      auto [it, fresh] = seen.emplace(d.kernels[i].name, uint32_t(uniq.size()));
      if (fresh) uniq.push_back(std::move(d.kernels[i]));
      else {
        auto& u = uniq[it->second];
        u.count += d.kernels[i].count; u.total_ns += d.kernels[i].total_ns; u.launches += d.kernels[i].launches;
        u.dur.merge(d.kernels[i].dur);
      }
      remap[i] = int32_t(it->second);
    }
    for (auto& k : kmap) if (k >= 0) k = remap[size_t(k)];
    d.kernels = std::move(uniq);
  }

  // Windows: per-kernel {count, sum} per window of steps.
  uint64_t wsteps = h.window_steps ? h.window_steps : kDefaultWindowSteps;
  {
    // Usually every kernel is in every window: reserve that, so the vector is not regrown
    // (copies and fresh pages) for every rank.
    size_t used = 0;
    for (uint32_t i = 0; i < kMaxWindows; ++i)
      used += present(&r.windows[i], sizeof r.windows[i].seq) && r.windows[i].seq != 0;
    d.kernel_windows.reserve(used * std::min<size_t>(d.kernels.size(), kWindowEntries));
  }
  for (uint32_t i = 0; i < kMaxWindows; ++i) {
    const WindowRow& w = r.windows[i];
    if (!present(&w, sizeof w.seq) || w.seq == 0) continue;
    if (w.seq & 1) { d.integrity.torn_reads++; continue; }
    if (w.window % kMaxWindows != i) throw InputError(file, "corrupt (window slot " + std::to_string(i) + " holds window " + std::to_string(w.window) + ")");
    uint64_t first = index_of(w.first_ordinal), last = index_of(w.first_ordinal + wsteps - 1);
    // Every slot, not the first n_entries: libargus places entries by hashing the kernel
    // index (open addressing), so used entries are not contiguous; unused ones have kernel 0.
    for (uint32_t e = 0; e < kWindowEntries; ++e) {
      const WindowEntry& we = w.entries[e];
      if (we.kernel == 0 || we.count == 0) continue;
      if (we.kernel > kMaxKernels || kmap[we.kernel - 1] < 0) throw InputError(file, "corrupt (window entry names kernel row " + std::to_string(we.kernel - 1) + ", which is empty)");
      d.kernel_windows.push_back({first, last, uint32_t(kmap[we.kernel - 1]), we.count, we.sum_ns});
    }
  }
  std::sort(d.kernel_windows.begin(), d.kernel_windows.end(), [](const KernelWindow& a, const KernelWindow& b) {
    return std::tie(a.first_step, a.kernel) < std::tie(b.first_step, b.kernel);
  });

  // Communicators and collectives.
  for (uint32_t i = 0; i < kMaxComms; ++i) {
    const CommRow& c = r.comms[i];
    if (!present(&c, sizeof c.state) || c.state != kRowReady) continue;
    CommSeq cs;
    cs.comm = c.id_hash;
    cs.comm_size = c.nranks;
    cs.comm_rank = c.rank;
    cs.enqueued = c.seq_enqueued;
    cs.started = c.seq_started;
    cs.completed = c.seq_completed;
    if (c.last_seq != 0 && !(c.last_seq & 1) && c.last_op.seq != 0) cs.last_op = op_name(c.last_op.op);
    d.comms.push_back(cs);
  }
  for (uint32_t i = 0; i < kMaxCollectives; ++i) {
    const CollectiveRow& c = r.collectives[i];
    if (!present(&c, sizeof c.state) || c.state != kRowReady) continue;
    if (c.comm >= kMaxComms) throw InputError(file, "corrupt (collective row " + std::to_string(i) + " names communicator " + std::to_string(c.comm) + ")");
    CollStat o;
    o.op = op_name(c.op);
    o.dtype = dtype_name(c.dtype);
    o.comm = c.comm_hash;
    o.comm_size = r.comms[c.comm].state == kRowReady ? r.comms[c.comm].nranks : 0;
    o.count = c.count;
    // nccl-tests' "size" for allgather/reducescatter is the whole buffer: count x nranks.
    uint64_t mult = (c.op == kOpAllGather || c.op == kOpReduceScatter) && o.comm_size > 0 ? uint64_t(o.comm_size) : 1;
    o.bytes = c.bytes * mult;
    o.total_ns = c.sum_ns;
    if (!sketch_ok(c.duration, 0)) throw InputError(file, "corrupt (duration sketch of collective row " + std::to_string(i) + ")");
    o.dur.add_sketch(c.duration);
    d.collectives.push_back(std::move(o));
  }

  // Memory.
  const Memory& m = r.memory;
  d.mem.live = m.live_bytes > 0 ? uint64_t(m.live_bytes) : 0;
  d.mem.peak = uint64_t(std::max<int64_t>({m.peak_bytes, m.physical_peak_bytes, 0}));
  for (uint32_t a = 0; a < kMemApis; ++a) {
    const MemApiRow& row = m.api[a];
    if (row.calls == 0) continue;
    if (mem_api_is_alloc(a)) {
      d.mem.mallocs += row.calls;
      d.mem.bytes_alloc += row.bytes;
      if (!sketch_ok(row.latency, 0)) throw InputError(file, "corrupt (allocation latency sketch)");
      d.mem.latency.add_sketch(row.latency);
    } else if (a != kMemCuMemMap && a != kMemCuMemUnmap) {
      d.mem.frees += row.calls;
      d.mem.bytes_freed += row.bytes;
    }
    d.mem.failures += row.failures;
    d.mem.retries += row.retry_after_failure;
  }
  return d;
}

namespace {

// A reusable, record-sized buffer: sparse record files are read extent by extent into it, so
// after the first rank no page is faulted in again (per-page faults dominated merging
// thousands of ranks). Bytes outside `dirty` are zero. Before a file is read, the dirty bytes
// it does not overwrite itself are zeroed: the ranks of a run have the same extents, so that
// is usually nothing (zeroing every extent after every file cost as much as reading it).
struct ReadBuffer {
  void* p = nullptr;
  std::vector<std::pair<uint64_t, uint64_t>> dirty;  // sorted, disjoint [begin, end)
  ReadBuffer() {
    p = mmap(nullptr, sizeof(Record), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) p = nullptr;
  }
  ~ReadBuffer() { if (p) munmap(p, sizeof(Record)); }
  // Zeroes dirty \ next (both sorted and disjoint); `next` becomes the dirty set.
  void prepare(const std::vector<std::pair<uint64_t, uint64_t>>& next) {
    auto* base = static_cast<char*>(p);
    size_t j = 0;
    for (auto [b, e] : dirty) {
      while (j < next.size() && next[j].second <= b) ++j;
      for (size_t k = j; b < e; ++k) {
        uint64_t stop = k < next.size() ? std::min(e, next[k].first) : e;
        if (stop > b) std::memset(base + b, 0, stop - b);
        if (k >= next.size() || next[k].first >= e) break;
        b = std::max(b, next[k].second);
      }
    }
    dirty = next;
  }
};

constexpr uint64_t kMaxBufferedBytes = 24u << 20;  // denser files are mapped instead of read

}  // namespace

RankData read_record_file(const fs::path& path, const std::string& name) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(name, std::string("cannot open (") + std::strerror(errno) + ")");
  struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw InputError(name, "not a regular file");
  size_t size = size_t(st.st_size);
  if (size == 0) throw InputError(name, "truncated (empty file)");
  Extents ex;
  {
    // Data extents of a sparse file; any error (no SEEK_DATA support) leaves `all` set.
    std::vector<std::pair<uint64_t, uint64_t>> v;
    off_t pos = 0;
    bool ok = true;
    while (pos < off_t(size)) {
      off_t b = lseek(fd, pos, SEEK_DATA);
      if (b < 0) { ok = errno == ENXIO; break; }
      off_t e = lseek(fd, b, SEEK_HOLE);
      if (e < 0) { ok = false; break; }
      v.push_back({uint64_t(b), uint64_t(e)});
      pos = e;
    }
    if (ok) { ex.all = false; ex.data = std::move(v); }
  }
  uint64_t data_bytes = 0;
  for (auto [b, e] : ex.data) data_bytes += std::min<uint64_t>(e, sizeof(Record)) - std::min<uint64_t>(b, sizeof(Record));
  thread_local ReadBuffer buf;
  if (!ex.all && buf.p && data_bytes <= kMaxBufferedBytes) {
    auto* base = static_cast<char*>(buf.p);
    std::vector<std::pair<uint64_t, uint64_t>> want;
    for (auto [b, e] : ex.data)
      if (b < std::min<uint64_t>(e, sizeof(Record))) want.push_back({b, std::min<uint64_t>(e, sizeof(Record))});
    buf.prepare(want);
    for (auto [b, e] : want) {
      uint64_t done = 0;
      while (b + done < e) {
        ssize_t n = pread(fd, base + b + done, e - b - done, off_t(b + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw InputError(name, std::string("read failed (") + (n < 0 ? std::strerror(errno) : "file shrank") + ")");
        done += uint64_t(n);
      }
    }
    return decode_record(base, size, name, &ex);
  }
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) throw InputError(name, std::string("cannot map (") + std::strerror(errno) + ")");
  struct Unmap { void* p; size_t n; ~Unmap() { munmap(p, n); } } guard{p, size};
  return decode_record(p, size, name, &ex);
}

namespace {

void apply_run_meta(RunModel& m, const std::string& meta_file) {
  nlohmann::json meta = nlohmann::json::parse(m.meta_json, nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) throw InputError(meta_file, "not a JSON object");
  if (!meta.contains("processes") || !meta["processes"].is_array()) return;
  std::map<std::string, const nlohmann::json*> by_file;
  for (const auto& p : meta["processes"])
    if (p.is_object() && p.contains("file") && p["file"].is_string()) by_file[p["file"].get<std::string>()] = &p;
  for (auto& r : m.ranks) {
    auto it = by_file.find("ranks/" + r.info.file);
    if (it == by_file.end()) continue;
    const auto& p = *it->second;
    if (p.contains("exit_code") && p["exit_code"].is_number_integer()) r.info.exit_code = p["exit_code"].get<int>();
    if (p.contains("signal") && p["signal"].is_number_integer()) {
      r.info.signal = p["signal"].get<int>();
      if (r.info.state == RankState::exited || r.info.state == RankState::unknown) r.info.state = RankState::killed;
    }
    // A process that died of a fault signal crashed; SIGKILL/SIGTERM/SIGINT are "killed".
    if (r.info.signal == SIGSEGV || r.info.signal == SIGABRT || r.info.signal == SIGBUS || r.info.signal == SIGFPE || r.info.signal == SIGILL)
      r.info.state = RankState::crashed;
  }
}

}  // namespace

RunModel load_run(const fs::path& dir, const LoadOptions& opt) {
  RunModel m;
  m.run_dir = dir.lexically_normal().string();
  if (!m.run_dir.empty() && m.run_dir.size() > 1 && m.run_dir.back() == '/') m.run_dir.pop_back();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw InputError(dir.string(), "not a run directory (no such directory)");
  fs::path ranks = dir / "ranks";
  if (!fs::is_directory(ranks, ec)) throw InputError(ranks.string(), "no ranks/ folder: not a run directory, or nothing was collected (try --collect)");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(ranks, ec))
    if (e.is_regular_file() || e.is_symlink()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  // Ranks are decoded in parallel (one reusable read buffer per thread); results land in
  // file order, so the output does not depend on scheduling.
  std::vector<std::optional<RankData>> decoded(files.size());
  std::vector<std::optional<InputError>> errors(files.size());
  std::atomic<size_t> next_file{0}, done{0};
  auto work = [&] {
    for (size_t i; (i = next_file.fetch_add(1)) < files.size();) {
      std::string shown = (fs::path("ranks") / files[i].filename()).string();
      try {
        decoded[i] = read_record_file(files[i], shown);
        decoded[i]->info.file = files[i].filename().string();
      } catch (const InputError& e) {
        errors[i] = e;
      } catch (const std::exception& e) {
        errors[i] = InputError(shown, e.what());
      }
      done.fetch_add(1);
    }
  };
  size_t nthreads = parallel_threads(files.size(), 8);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < nthreads; ++t) pool.emplace_back(work);
  if (opt.progress) {
    // The caller's callback runs on this thread only.
    std::thread self(work);
    size_t shown = 0;
    while (shown < files.size()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      size_t d = done.load();
      if (d != shown) { shown = d; opt.progress(d, files.size()); }
    }
    self.join();
  } else {
    work();
  }
  for (auto& t : pool) t.join();
  for (size_t i = 0; i < files.size(); ++i) {
    if (errors[i]) {
      if (!opt.skip_bad) throw InputError((dir / errors[i]->file()).string(), errors[i]->reason());
      m.bad_files.push_back({errors[i]->file(), errors[i]->reason()});
    } else {
      m.ranks.push_back(std::move(*decoded[i]));
      decoded[i].reset();
    }
  }
  fs::path meta = dir / "run_meta.json";
  if (fs::exists(meta, ec)) {
    std::ifstream in(meta, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    m.meta_json = s.str();
    try {
      apply_run_meta(m, meta.string());
    } catch (const InputError& e) {
      if (!opt.skip_bad) throw;
      m.bad_files.push_back({"run_meta.json", e.reason()});
      m.meta_json.clear();
    }
  }
  // Processes without a rank (no RANK/... in their environment) get numbers after the known ones.
  int next = 0;
  for (const auto& r : m.ranks) next = std::max(next, r.info.rank + 1);
  std::sort(m.ranks.begin(), m.ranks.end(), [](const RankData& a, const RankData& b) {
    return std::make_tuple(a.info.rank < 0, a.info.rank, a.info.host, a.info.pid) < std::make_tuple(b.info.rank < 0, b.info.rank, b.info.host, b.info.pid);
  });
  for (auto& r : m.ranks)
    if (r.info.rank < 0) r.info.rank = next++;
  for (const auto& r : m.ranks) m.expected_world = std::max(m.expected_world, r.info.world_size);
  if (m.ranks.empty() && m.bad_files.empty() && !opt.skip_bad) throw InputError(ranks.string(), "no rank records in ranks/ (nothing observed, or nothing collected)");
  return m;
}

}  // namespace argus::report
