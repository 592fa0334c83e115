// Unit tests of the rank-record writer (interpose/recorder.h) — no simgpu, no libargus.so.
#include <catch2/catch.hpp>

#include "recorder.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace argus;
using namespace argus::rec;

namespace {
// A zero-filled anonymous mapping the size of a record (what ftruncate gives).
struct AnonRecord {
  Record* r;
  AnonRecord() {
    void* p = mmap(nullptr, sizeof(Record), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    r = static_cast<Record*>(p);
  }
  ~AnonRecord() { munmap(r, sizeof(Record)); }
};
RecordIdentity ident() {
  RecordIdentity id;
  id.pid = 4242; id.ppid = 1; id.uid = 1000; id.rank = 3; id.local_rank = 1; id.world_size = 8;
  id.rank_source = 1; id.host = "nodeA"; id.run_id = "run-1"; id.exe = "train";
  id.steps_pattern = "ProfilerStep#*"; id.start_ns = 1000;
  return id;
}
uint64_t sum_launches(const KernelRow& k) {
  uint64_t n = 0;
  for (uint64_t v : k.launches) n += v;
  return n;
}
}  // namespace

TEST_CASE("zero memory is an empty record; init makes it valid", "[recorder]") {
  AnonRecord m;
  REQUIRE(std::string(validate(m.r, sizeof(Record))) == "not initialised (magic is 0)");
  Recorder rec(m.r);
  rec.init(ident());
  REQUIRE(validate(m.r, sizeof(Record)) == nullptr);
  REQUIRE(validate(m.r, sizeof(Record) - 1) != nullptr);
  const Header& h = m.r->header;
  CHECK(h.state == kStateRunning);
  CHECK(h.rank == 3);
  CHECK(h.world_size == 8);
  CHECK(std::string(h.host) == "nodeA");
  CHECK(std::string(h.run_id) == "run-1");
  CHECK(h.tables[kTabKernels].offset == offsetof(Record, kernels));
  CHECK(h.tables[kTabKernels].capacity == kMaxKernels);
  CHECK(h.tables[kTabSteps].row_size == sizeof(StepRow));
  rec.finish(kStateExited, 5000);
  CHECK(h.state == kStateExited);
  CHECK(h.end_time_ns == 5000);
  m.r->header.magic ^= 1;
  CHECK(std::string(validate(m.r, sizeof(Record))) == "bad magic (not an argus record)");
}

TEST_CASE("segment names are sanitised", "[recorder]") {
  char buf[128];
  REQUIRE(segment_name(buf, sizeof buf, 1000, "my run/1", "host.a b", 77));
  CHECK(std::string(buf) == "argus-1000-my_run_1-host.a_b-77");
  REQUIRE(segment_name(buf, sizeof buf, 0, nullptr, "h", 1));
  CHECK(std::string(buf) == "argus-0-adhoc-h-1");
  CHECK_FALSE(segment_name(buf, 8, 0, "x", "h", 1));
}

TEST_CASE("create_record makes a 0600 file with O_EXCL and maps it", "[recorder]") {
  char dir[] = "/tmp/argus-rec-test-XXXXXX";
  REQUIRE(mkdtemp(dir));
  int err = -1, fd = -1;
  Record* r = create_record(dir, "argus-1-x-h-1", &err, &fd);
  REQUIRE(r);
  CHECK(err == 0);
  CHECK(fd >= 0);
  Recorder rec(r, fd);
  rec.init(ident());
  int k = rec.kernel("k0");
  rec.launch(k, kPathCuLaunchKernel);
  // A second create of the same name fails (O_EXCL) and leaves the first intact.
  int err2 = 0;
  CHECK(create_record(dir, "argus-1-x-h-1", &err2) == nullptr);
  CHECK(err2 == EEXIST);
  std::string path = std::string(dir) + "/argus-1-x-h-1";
  struct stat sb;
  REQUIRE(stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
  CHECK(size_t(sb.st_size) == sizeof(Record));
  size_t size = 0;
  const Record* ro = map_record_readonly(path.c_str(), &size, &err);
  REQUIRE(ro);
  CHECK(validate(ro, size) == nullptr);
  CHECK(ro->kernels[k].launches[kPathCuLaunchKernel] == 1);
  CHECK(std::string(string_at(*ro, ro->kernels[k].name_off)) == "k0");
  unmap_record(ro);
  unmap_record(r);
  close(fd);
  unlink(path.c_str());
  // A missing directory fails cleanly.
  CHECK(create_record("/nonexistent-argus-dir", "argus-x", &err) == nullptr);
  CHECK(err == ENOENT);
  rmdir(dir);
}

TEST_CASE("kernel names are interned once, flags and truncation", "[recorder]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  int a = rec.kernel("gemm_kernel", kKernelNameFromRegister);
  int b = rec.kernel("elementwise");
  CHECK(a >= 0);
  CHECK(b >= 0);
  CHECK(a != b);
  CHECK(rec.kernel("gemm_kernel", kKernelNameFromCupti) == a);
  CHECK((m.r->kernels[a].flags & (kKernelNameFromRegister | kKernelNameFromCupti)) ==
        (kKernelNameFromRegister | kKernelNameFromCupti));
  int n = rec.kernel("ncclDevKernel_AllReduce_Sum_f32_RING_LL");
  CHECK((m.r->kernels[n].flags & kKernelNccl) != 0);
  std::string longname(10000, 'x');
  int l = rec.kernel(longname);
  REQUIRE(l >= 0);
  CHECK((m.r->kernels[l].flags & kKernelNameTruncated) != 0);
  CHECK(m.r->kernels[l].name_len == kMaxNameBytes - 1);
  CHECK(rec.kernel(longname) == l);
  std::string other = longname;
  other.back() = 'y';  // same truncated prefix, different full name → different row
  CHECK(rec.kernel(other) != l);
}

TEST_CASE("kernel table full: drops are counted, never a crash", "[recorder]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  for (uint32_t i = 0; i < kMaxKernels; ++i) REQUIRE(rec.kernel("k" + std::to_string(i)) >= 0);
  CHECK(rec.kernel("one-too-many") == -1);
  CHECK(m.r->integrity.drops[kDropKernelTable] == 1);
  CHECK(rec.kernel("k17") >= 0);  // existing names still found
  rec.launch(-1, kPathCudaLaunchKernel);  // a launch with no row still counts per path
  CHECK(m.r->launch.launches[kPathCudaLaunchKernel] == 1);
}

TEST_CASE("8 threads launching at once: exact counts", "[recorder][threads]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  constexpr int kThreads = 8, kIters = 20000, kNames = 50;
  std::atomic<int> go{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      while (!go.load()) {}
      for (int i = 0; i < kIters; ++i) {
        // every thread interns the same names concurrently (row publication race)
        int k = rec.kernel("kernel_" + std::to_string(i % kNames));
        uint32_t path = uint32_t((i + t) % 10);
        rec.launch(k, path);
        if (i % 16 == 0) rec.launch_latency(k, path, uint64_t(100 + i % 7));
      }
    });
  }
  go = 1;
  for (auto& th : ts) th.join();
  int ready = 0;
  uint64_t total = 0, per_path_total = 0, lat = 0;
  for (const auto& k : m.r->kernels) {
    if (k.state != kRowReady) continue;
    ++ready;
    CHECK(sum_launches(k) == uint64_t(kThreads) * kIters / kNames);
    total += sum_launches(k);
    lat += k.latency_samples;
  }
  for (uint64_t v : m.r->launch.launches) per_path_total += v;
  CHECK(ready == kNames);
  CHECK(total == uint64_t(kThreads) * kIters);
  CHECK(per_path_total == total);
  CHECK(lat == uint64_t(kThreads) * (kIters / 16 + (kIters % 16 ? 1 : 0)));
  CHECK(m.r->integrity.drops[kDropKernelTable] == 0);
}

TEST_CASE("launch shards: one per thread, overflow to the shared counters, reuse after release", "[recorder][threads]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  int gemm = rec.kernel("gemm"), relu = rec.kernel("relu");
  constexpr int kThreads = int(kLaunchShards) + 4, kIters = 3000;
  rec.step_begin(1, kStepsMarker, 100);
  // Wave 1: more threads than shards, all holding theirs at once.
  std::atomic<int> claimed{0}, tried{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      LaunchShard* s = rec.claim_shard(uint64_t(1000 + t));
      claimed += s != nullptr;
      ++tried;
      while (tried.load() < kThreads) std::this_thread::yield();  // nobody releases early
      for (int i = 0; i < kIters; ++i) {
        int k = i % 3 ? gemm : relu;
        uint32_t path = i % 2 ? kPathCudaLaunchKernel : kPathCuLaunchKernel;
        if (s) Recorder::launch(s, k, path);
        else rec.launch(k, path);
      }
      if (s) Recorder::release_shard(s);
    });
  for (auto& th : ts) th.join();
  CHECK(claimed == int(kLaunchShards));
  for (const LaunchShard& s : m.r->launch_shards) CHECK(s.owner == 0);
  uint64_t n = uint64_t(kThreads) * kIters;
  CHECK(path_launches(*m.r, kPathCudaLaunchKernel) + path_launches(*m.r, kPathCuLaunchKernel) == n);
  CHECK(m.r->launch.launches[kPathCudaLaunchKernel] + m.r->launch.launches[kPathCuLaunchKernel] == 4ull * kIters);
  CHECK(kernel_launches(*m.r, uint32_t(gemm), kPathCudaLaunchKernel) + kernel_launches(*m.r, uint32_t(gemm), kPathCuLaunchKernel) == n * 2 / 3);
  CHECK(kernel_launches(*m.r, uint32_t(relu), kPathCuLaunchKernel) == n / 3 / 2 + (n / 3) % 2);
  // Wave 2: every shard was released, so every thread gets one again; counts add up.
  ts.clear();
  claimed = 0;
  for (int t = 0; t < int(kLaunchShards); ++t)
    ts.emplace_back([&, t] {
      LaunchShard* s = rec.claim_shard(uint64_t(2000 + t));
      if (!s) return;
      ++claimed;
      for (int i = 0; i < kIters; ++i) Recorder::launch(s, relu, kPathCudaLaunchKernel);
      Recorder::reentrant(s);
    });
  for (auto& th : ts) th.join();
  CHECK(claimed == int(kLaunchShards));
  CHECK(reentrant_calls(*m.r) == kLaunchShards);
  uint64_t all = n + uint64_t(kLaunchShards) * kIters;
  CHECK(path_launches(*m.r, kPathCudaLaunchKernel) + path_launches(*m.r, kPathCuLaunchKernel) == all);
  // Step totals see the shards too.
  rec.step_end(200);
  StepRow row;
  REQUIRE(read_seqlocked(m.r->steps[0].seq, m.r->steps[0], row));
  CHECK(row.launches == all);
  CHECK(rec.claim_shard(0) == nullptr);  // 0 means "free": never an owner
}

TEST_CASE("steps: begin/end, counts per step, counters, GPU attribution, windows", "[recorder]") {
  AnonRecord m;
  Recorder rec(m.r);
  RecordIdentity id = ident();
  id.window_steps = 2;
  rec.init(id);
  int k = rec.kernel("gemm");
  int nccl = rec.kernel("ncclDevKernel_AllReduce_Sum_f32_RING_LL");
  rec.step_counter("torch.reserved", 7);  // before any step: applies to the next one
  for (int s = 0; s < 4; ++s) {
    uint64_t t0 = 10000 + uint64_t(s) * 1000;
    rec.step_begin(100 + s, kStepsMarker, t0);
    for (int i = 0; i <= s; ++i) rec.launch(k, kPathCudaLaunchKernel);
    rec.mem_call(kMemCudaMalloc, 64, true, 10, 64, false);
    rec.step_counter("torch.allocated", 1000 + s);
    rec.step_end(t0 + 900);
  }
  CHECK(m.r->header.steps_source == kStepsMarker);
  CHECK(m.r->step_summary.steps_begun == 4);
  CHECK(m.r->step_summary.steps_closed == 4);
  for (int s = 0; s < 4; ++s) {
    StepRow row;
    REQUIRE(read_seqlocked(m.r->steps[s].seq, m.r->steps[s], row));
    CHECK(row.ordinal == uint64_t(s));
    CHECK(row.index == 100 + s);
    CHECK(row.host_start_ns == 10000 + uint64_t(s) * 1000);
    CHECK(row.host_end_ns == row.host_start_ns + 900);
    CHECK(row.launches == uint64_t(s) + 1);
    CHECK(row.mallocs == 1);
    CHECK(row.alloc_bytes == 64);
    CHECK(row.counters[1] == 1000 + s);
  }
  CHECK(m.r->steps[0].counters[0] == 7);
  CHECK(std::string(m.r->strings.bytes + m.r->step_summary.counter_names[1] - 1) == "torch.allocated");
  // GPU activity: before the first step → unattributed; inside step 1 and 3.
  rec.kernel_activity(k, 500, 700, false, false);
  rec.kernel_activity(k, 11100, 11400, false, false);
  rec.kernel_activity(nccl, 11500, 11600, true, false);
  rec.kernel_activity(k, 13050, 13100, false, true);
  rec.copy_activity(13200, 13300, false);
  CHECK(m.r->step_summary.unattributed_gpu_kernels == 1);
  CHECK(m.r->steps[1].gpu_kernels == 2);
  CHECK(m.r->steps[1].gpu_busy_ns == 400);
  CHECK(m.r->steps[1].collective_ns == 100);
  CHECK(m.r->steps[3].gpu_busy_ns == 50);
  CHECK(m.r->steps[3].memcpy_ns == 100);
  CHECK(m.r->kernels[k].gpu_count == 3);
  CHECK(m.r->kernels[k].sampled_count == 1);
  CHECK(m.r->kernels[nccl].graph_count == 1);
  CHECK(snapshot(m.r->kernels[k].gpu_duration).count() == 3);
  CHECK(snapshot(m.r->kernels[k].gpu_duration).max() == 300);
  // windows of 2 steps: step 1 → window 0, step 3 → window 1
  const WindowRow& w0 = m.r->windows[0];
  const WindowRow& w1 = m.r->windows[1];
  CHECK(w0.window == 0);
  CHECK(w0.n_entries == 2);
  CHECK(w0.collective_count == 1);
  CHECK(w1.window == 1);
  CHECK(w1.n_entries == 1);
  uint64_t found = 0;
  for (const auto& e : w0.entries)
    if (e.kernel == uint32_t(k) + 1) { found = e.count; CHECK(e.sum_ns == 300); }
  CHECK(found == 1);
  CHECK(snapshot(m.r->step_summary.step_host_ns).count() == 4);
}

TEST_CASE("GPU active time: the union of overlapping kernels, in any arrival order", "[recorder]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  int gemm = rec.kernel("gemm");
  int nccl = rec.kernel("ncclDevKernel_AllReduce_Sum_f32_RING_LL", kKernelNccl);
  rec.step_begin(0, kStepsMarker, 10000);
  rec.step_end(20000);
  rec.step_begin(1, kStepsMarker, 20000);
  rec.step_end(30000);
  // Step 0: compute 10100-10600 and 10600-11000 (back to back), an allreduce 10400-11500 beside
  // them, a late record 10000-10050 (arrives last, lies before everything), one inside
  // another (10700-10800), and one that bridges a gap (11400-11700 then 11600-12000).
  rec.kernel_activity(gemm, 10100, 10600, false, false);
  rec.kernel_activity(gemm, 10600, 11000, false, false);
  rec.kernel_activity(nccl, 10400, 11500, false, false);
  rec.kernel_activity(gemm, 10700, 10800, false, false);
  rec.kernel_activity(gemm, 11600, 12000, false, false);
  rec.kernel_activity(gemm, 11400, 11700, false, false);
  rec.kernel_activity(gemm, 10000, 10050, false, false);
  // Step 1: a kernel that started in step 0's span list but is its own step's.
  rec.kernel_activity(gemm, 25000, 26000, false, false);
  rec.kernel_activity(gemm, 25500, 25600, false, false);
  const StepRow& s0 = m.r->steps[0];
  const StepRow& s1 = m.r->steps[1];
  CHECK(s0.gpu_busy_ns == 500 + 400 + 1100 + 100 + 400 + 300 + 50);  // every duration
  CHECK(s0.gpu_active_ns == 50 + (12000 - 10100));                   // [10000,10050) ∪ [10100,12000)
  CHECK(s0.collective_ns == 1100);
  CHECK(s1.gpu_busy_ns == 1100);
  CHECK(s1.gpu_active_ns == 1000);
  // Many disjoint kernels (more than the spans kept): each still counted exactly once.
  rec.step_begin(2, kStepsMarker, 30000);
  rec.step_end(900000);
  for (uint64_t t = 0; t < 500; ++t) rec.kernel_activity(gemm, 30000 + t * 1000, 30000 + t * 1000 + 300, false, false);
  rec.kernel_activity(gemm, 30000, 30300, false, false);  // an old duplicate, beyond the kept spans
  CHECK(m.r->steps[2].gpu_busy_ns == 501 * 300);
  CHECK(m.r->steps[2].gpu_active_ns >= 500 * 300);
  CHECK(m.r->steps[2].gpu_active_ns <= 501 * 300);
}

TEST_CASE("step ring wraps: evicted steps are summarised", "[recorder]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  const uint64_t n = kStepRing + 10;
  for (uint64_t s = 0; s < n; ++s) {
    rec.launch(-1, kPathCudaLaunchKernel);
    rec.step_mark(-1, kStepsMarker, 1000 + s * 10);
  }
  rec.step_end(1000 + n * 10);
  CHECK(m.r->step_summary.steps_begun == n);
  CHECK(m.r->step_summary.evicted == 10);
  CHECK(m.r->step_summary.evicted_host_ns == 100);
  CHECK(m.r->integrity.drops[kDropStepsOverwritten] == 10);
  const StepRow& last = m.r->steps[(n - 1) % kStepRing];
  CHECK(last.ordinal == n - 1);
  CHECK(last.index == int64_t(n - 1));
  CHECK(m.r->steps[0].ordinal == kStepRing);
}

TEST_CASE("collectives: sequence numbers, rows per size class, completion", "[recorder][threads]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  uint64_t id = fnv1a("unique-id", 9);
  int c = rec.comm(id, 2, 8, 0xabc, 0);
  REQUIRE(c >= 0);
  CHECK(rec.comm_by_handle(0xabc) == c);
  CHECK(rec.comm_by_handle(0xdef) == -1);
  constexpr int kThreads = 8, kIters = 2000;
  std::atomic<int> thread_errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < kIters; ++i) {
        Recorder::CollCall call;
        call.comm = c; call.op = kOpAllReduce; call.dtype = 7;
        call.count = (i % 2) ? 256 : 1024; call.bytes = call.count * 4;
        int32_t row = -1;
        uint64_t seq = rec.collective_enqueue(call, &row);
        if (seq == 0 || row < 0) ++thread_errors;  // Catch2 assertions are not thread-safe
      }
    });
  for (auto& t : ts) t.join();
  CHECK(thread_errors.load() == 0);
  const CommRow& cr = m.r->comms[c];
  CHECK(cr.seq_enqueued == uint64_t(kThreads) * kIters);
  LastOp lo;
  REQUIRE(read_seqlocked(cr.last_seq, cr.last_op, lo));
  CHECK(lo.seq == uint64_t(kThreads) * kIters);
  CHECK(lo.op == kOpAllReduce);
  int rows = 0;
  uint64_t count = 0, bytes = 0;
  for (const auto& r : m.r->collectives) {
    if (r.state != kRowReady) continue;
    ++rows;
    count += r.count;
    bytes += r.bytes;
    CHECK(r.comm_hash == id);
    CHECK((r.size_class == size_class(1024) || r.size_class == size_class(4096)));
  }
  CHECK(rows == 2);
  CHECK(count == uint64_t(kThreads) * kIters);
  CHECK(bytes == uint64_t(kThreads) * kIters / 2 * (1024 + 4096));
  int32_t row = -1;
  Recorder::CollCall call;
  call.comm = c; call.op = kOpSend; call.dtype = 0; call.bytes = 10; call.peer = 3;
  uint64_t seq = rec.collective_enqueue(call, &row);
  rec.collective_done(c, row, seq, 100, 350);
  CHECK(cr.seq_completed == seq);
  CHECK(cr.seq_started == seq);
  CHECK(m.r->collectives[row].timed_count == 1);
  CHECK(snapshot(m.r->collectives[row].duration).max() == 250);
  rec.comm_destroyed(c, 99);
  CHECK(rec.comm_by_handle(0xabc) == -1);
}

TEST_CASE("memory: live, peak, failures, retry-after-failure", "[recorder]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  rec.mem_call(kMemCudaMalloc, 100, true, 5, 100, false);
  rec.mem_call(kMemCudaMalloc, 50, true, 5, 50, false);
  rec.mem_call(kMemCudaFree, 100, true, 5, -100, false);
  rec.mem_call(kMemCudaMalloc, 1 << 30, false, 5, 0, false);
  rec.mem_call(kMemCudaMalloc, 10, true, 5, 10, true);
  rec.mem_call(kMemCuMemMap, 4096, true, 5, 4096, false);
  rec.mem_call(kMemCuMemUnmap, 4096, true, 5, -4096, false);
  const Memory& mem = m.r->memory;
  CHECK(mem.live_bytes == 60);
  CHECK(mem.peak_bytes == 150);
  CHECK(mem.mapped_live_bytes == 0);
  CHECK(mem.mapped_peak_bytes == 4096);
  CHECK(mem.api[kMemCudaMalloc].calls == 4);
  CHECK(mem.api[kMemCudaMalloc].failures == 1);
  CHECK(mem.api[kMemCudaMalloc].retry_after_failure == 1);
  CHECK(mem.api[kMemCudaMalloc].bytes == 160);
  CHECK(snapshot(mem.api[kMemCudaMalloc].latency).count() == 4);
}

TEST_CASE("a concurrent reader never sees a torn step row", "[recorder][threads]") {
  AnonRecord m;
  Recorder rec(m.r);
  rec.init(ident());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> checked{0}, bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      for (uint32_t s = 0; s < 64; ++s) {
        StepRow row;
        if (!read_seqlocked(m.r->steps[s].seq, m.r->steps[s], row, 100)) continue;
        if (row.seq == 0) continue;
        // writer invariant: index = 3 * ordinal, start = 1000 * (ordinal + 1)
        if (row.index != int64_t(row.ordinal * 3) || row.host_start_ns != 1000 * (row.ordinal + 1)) ++bad;
        ++checked;
      }
    }
  });
  for (uint64_t o = 0; o < 20000; ++o) rec.step_begin(int64_t(o * 3), kStepsMarker, 1000 * (o + 1));
  stop = true;
  reader.join();
  CHECK(bad.load() == 0);
  CHECK(checked.load() > 0);
}
