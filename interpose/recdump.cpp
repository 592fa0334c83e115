// SPDX-License-Identifier: Apache-2.0
// argus-recdump FILE... — prints a rank record as one JSON object per file (a debugging and
// test tool; the real reader is report/).  Exit 2 with a one-line error on a bad file.
#include "recorder.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <string>

using namespace argus;
using namespace argus::rec;
using nlohmann::json;

static json dump(const Record& r) {
  json j;
  const Header& h = r.header;
  j["header"] = {{"pid", h.pid}, {"ppid", h.ppid}, {"rank", h.rank}, {"local_rank", h.local_rank},
                 {"world_size", h.world_size}, {"rank_source", h.rank_source}, {"host", h.host},
                 {"run_id", h.run_id}, {"exe", h.exe}, {"state", run_state_name(h.state)},
                 {"steps_source", steps_source_name(h.steps_source)},
                 {"steps_requested", steps_source_name(h.steps_requested)}, {"steps_pattern", h.steps_pattern},
                 {"start_time_ns", h.start_time_ns}, {"end_time_ns", h.end_time_ns},
                 {"gpu_clock_offset_ns", h.gpu_clock_offset_ns}};
  const Integrity& in = r.integrity;
  json drops = json::object();
  for (uint32_t i = 0; i < kDropKinds; ++i)
    if (in.drops[i]) drops[std::to_string(i)] = in.drops[i];
  json paths_resolved = json::array(), paths_seen = json::array();
  for (uint32_t p = 0; p < kLaunchPaths; ++p)
    if (in.paths_seen & (1ull << p)) paths_seen.push_back(launch_path_name(p));
  j["integrity"] = {{"cupti_state", cupti_state_name(in.cupti_state)}, {"cupti_error", in.cupti_error},
                    {"duration_source", in.duration_source}, {"nvtx_state", in.nvtx_state},
                    {"paths_seen", paths_seen}, {"cuda_runtime_version", in.cuda_runtime_version},
                    {"cuda_driver_version", in.cuda_driver_version}, {"unknown_cuda_version", in.unknown_cuda_version},
                    {"fork_child", in.fork_child}, {"cupti_buffers", in.cupti_buffers},
                    {"cupti_records", in.cupti_records}, {"kernel_records", in.kernel_records},
                    {"memcpy_records", in.memcpy_records}, {"memset_records", in.memset_records},
                    {"event_samples", in.event_samples}, {"event_skipped_capturing", in.event_skipped_capturing},
                    {"graph_launches", in.graph_launches}, {"reentrant_calls", reentrant_calls(r)},
                    {"passthrough_calls", in.passthrough_calls}, {"overhead_samples", in.overhead_samples},
                    {"overhead_sum_ns", in.overhead_sum_ns}, {"own_cpu_ns", in.own_cpu_ns},
                    {"unknown_functions", in.unknown_functions}, {"unsharded_threads", in.unsharded_threads}, {"init_errors", in.init_errors}, {"drops", drops}};
  json launches = json::object();
  for (uint32_t p = 0; p < kLaunchPaths; ++p)
    if (uint64_t n = path_launches(r, p)) launches[launch_path_name(p)] = n;
  j["launches"] = launches;
  json kernels = json::array();
  for (uint32_t i = 0; i < kMaxKernels; ++i) {
    const KernelRow& k = r.kernels[i];
    if (k.state != kRowReady) continue;
    json lp = json::object();
    for (uint32_t p = 0; p < kLaunchPaths; ++p)
      if (uint64_t n = kernel_launches(r, i, p)) lp[launch_path_name(p)] = n;
    Sketch s = snapshot(k.gpu_duration);
    kernels.push_back({{"index", i}, {"name", std::string(r.strings.bytes + k.name_off, k.name_len)},
                       {"flags", k.flags}, {"launches", lp}, {"gpu_count", k.gpu_count}, {"gpu_sum_ns", k.gpu_sum_ns},
                       {"gpu_max_ns", k.gpu_max_ns}, {"graph_count", k.graph_count}, {"sampled_count", k.sampled_count},
                       {"latency_samples", k.latency_samples}, {"sketch_count", s.count()},
                       {"sketch_min", s.min()}, {"sketch_max", s.max()}, {"sketch_sum", s.sum()},
                       {"p50", s.quantile(0.5)}, {"p90", s.quantile(0.9)}, {"p99", s.quantile(0.99)}});
  }
  j["kernels"] = kernels;
  json comms = json::array();
  for (uint32_t i = 0; i < kMaxComms; ++i) {
    const CommRow& c = r.comms[i];
    if (c.state != kRowReady) continue;
    LastOp lo{};
    read_seqlocked(c.last_seq, c.last_op, lo);
    comms.push_back({{"index", i}, {"id_hash", c.id_hash}, {"rank", c.rank}, {"nranks", c.nranks},
                     {"seq_enqueued", c.seq_enqueued}, {"seq_started", c.seq_started},
                     {"seq_completed", c.seq_completed}, {"bytes_total", c.bytes_total},
                     {"last_op", {{"seq", lo.seq}, {"op", coll_op_name(lo.op)}, {"bytes", lo.bytes}, {"peer", lo.peer}}}});
  }
  j["comms"] = comms;
  json colls = json::array();
  for (uint32_t i = 0; i < kMaxCollectives; ++i) {
    const CollectiveRow& c = r.collectives[i];
    if (c.state != kRowReady) continue;
    colls.push_back({{"comm", c.comm}, {"op", coll_op_name(c.op)}, {"dtype", c.dtype}, {"size_class", c.size_class},
                     {"count", c.count}, {"bytes", c.bytes}, {"timed_count", c.timed_count}, {"sum_ns", c.sum_ns},
                     {"comm_hash", c.comm_hash}});
  }
  j["collectives"] = colls;
  json mem = json::object();
  for (uint32_t a = 0; a < kMemApis; ++a) {
    const MemApiRow& m = r.memory.api[a];
    if (m.calls) mem[mem_api_name(a)] = {{"calls", m.calls}, {"failures", m.failures}, {"bytes", m.bytes},
                                         {"retry_after_failure", m.retry_after_failure}};
  }
  j["memory"] = {{"live_bytes", r.memory.live_bytes}, {"peak_bytes", r.memory.peak_bytes},
                 {"mapped_live_bytes", r.memory.mapped_live_bytes}, {"physical_live_bytes", r.memory.physical_live_bytes},
                 {"untracked_frees", r.memory.untracked_frees}, {"api", mem}};
  json steps = json::array();
  uint64_t begun = r.step_summary.steps_begun;
  uint64_t first = begun > kStepRing ? begun - kStepRing : 0;
  for (uint64_t o = first; o < begun; ++o) {
    StepRow s{};
    if (!read_seqlocked(r.steps[o % kStepRing].seq, r.steps[o % kStepRing], s)) continue;
    json counters = json::object();
    for (uint32_t c = 0; c < kStepCounters; ++c)
      if (uint32_t off = r.step_summary.counter_names[c]) counters[string_at(r, off - 1)] = s.counters[c];
    steps.push_back({{"ordinal", s.ordinal}, {"index", s.index}, {"host_start_ns", s.host_start_ns},
                     {"host_end_ns", s.host_end_ns}, {"launches", s.launches}, {"gpu_kernels", s.gpu_kernels},
                     {"gpu_busy_ns", s.gpu_busy_ns}, {"gpu_active_ns", s.gpu_active_ns}, {"collective_ns", s.collective_ns}, {"collectives", s.collectives},
                     {"mallocs", s.mallocs}, {"frees", s.frees}, {"counters", counters}});
  }
  j["steps"] = steps;
  j["step_summary"] = {{"steps_begun", begun}, {"steps_closed", r.step_summary.steps_closed},
                       {"evicted", r.step_summary.evicted},
                       {"unattributed_gpu_kernels", r.step_summary.unattributed_gpu_kernels}};
  return j;
}

int main(int argc, char** argv) {
  if (argc < 2 || !strcmp(argv[1], "--help")) {
    fprintf(stderr, "usage: argus-recdump RECORD_FILE...  (prints one JSON object per file)\n");
    return argc < 2 ? 2 : 0;
  }
  for (int i = 1; i < argc; ++i) {
    size_t size = 0;
    int err = 0;
    const Record* r = map_record_readonly(argv[i], &size, &err);
    if (!r) { fprintf(stderr, "%s: cannot open: %s\n", argv[i], strerror(err)); return 2; }
    if (const char* why = validate(r, size)) { fprintf(stderr, "%s: not a valid record: %s\n", argv[i], why); return 2; }
    printf("%s\n", dump(*r).dump().c_str());
    unmap_record(r);
  }
  return 0;
}
