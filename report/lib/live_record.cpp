// See live_record.h.  Every field that a writer may change after creation is read with
// rec::load_word; rows overwritten as a whole are copied with rec::read_seqlocked.
#include "live_record.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <argus/record.h>

namespace argus::live {
namespace rec = argus::rec;

uint64_t LiveRank::last_progress_ns() const {
  uint64_t t = std::max(last_step_start_ns, last_step_end_ns);
  for (const auto& c : comms) t = std::max(t, c.last_enqueue_ns);
  return t ? t : start_ns;
}

const char* op_name(uint32_t op) {
  static const char* names[] = {"allreduce", "broadcast", "reduce", "allgather", "reducescatter", "alltoall",
                                "gather", "scatter", "send", "recv", "bcast", "unknown"};
  return op < rec::kCollOps ? names[op] : "unknown";
}

const char* state_name(uint32_t s) {
  switch (s) {
    case rec::kStateNone: return "starting";
    case rec::kStateRunning: return "running";
    case rec::kStateExited: return "exited";
    case rec::kStateKilled: return "killed";
  }
  return "unknown";
}

namespace {
std::string cstr(const char* p, size_t cap) { return std::string(p, strnlen(p, cap)); }
}  // namespace

std::optional<LiveRank> read_live(const void* image, size_t size, std::string* why) {
  if (const char* bad = rec::validate(image, size)) { if (why) *why = bad; return std::nullopt; }
  const auto& r = *static_cast<const rec::Record*>(image);
  const auto& h = r.header;
  LiveRank out;
  // Fields written before magic was published (release; validate() loaded it with acquire).
  out.host = cstr(h.host, sizeof h.host);
  out.run_id = cstr(h.run_id, sizeof h.run_id);
  out.exe = cstr(h.exe, sizeof h.exe);
  out.pid = h.pid;
  out.rank = rec::load_word(h.rank);
  out.world_size = rec::load_word(h.world_size);
  out.start_ns = h.start_time_ns;
  out.state = rec::load_word(h.state, std::memory_order_acquire);
  out.end_ns = rec::load_word(h.end_time_ns);
  out.heartbeat_ns = rec::load_word(h.heartbeat_ns);
  for (uint32_t p = 0; p < rec::kLaunchPaths; ++p)
    if (p != rec::kPathDriverEntryPoint && p != rec::kPathCudaGraphLaunch && p != rec::kPathCuGraphLaunch)
      out.launches += rec::path_launches(r, p);

  const auto& ss = r.step_summary;
  out.steps_begun = rec::load_word(ss.steps_begun, std::memory_order_acquire);
  out.steps_closed = rec::load_word(ss.steps_closed);
  if (out.steps_begun > 0) {
    // The last begun step, and the closed steps of the ring just before it (rate).
    uint64_t last = out.steps_begun - 1;
    rec::StepRow row{};
    const auto& slot = r.steps[last % rec::kStepRing];
    if (rec::read_seqlocked(slot.seq, slot, row) && row.seq != 0 && row.ordinal == last) {
      out.have_last_step = true;
      out.last_step_index = row.index;
      out.last_step_start_ns = row.host_start_ns;
      out.last_step_end_ns = row.host_end_ns;
    }
    // Rate over up to 32 recent closed steps: (n-1) / (start of newest - start of oldest).
    uint64_t first_ns = 0, last_ns = 0, n = 0;
    uint64_t lo = last >= 32 ? last - 32 : 0;
    for (uint64_t k = last + 1; k-- > lo;) {
      const auto& s = r.steps[k % rec::kStepRing];
      rec::StepRow sr{};
      if (!rec::read_seqlocked(s.seq, s, sr) || sr.seq == 0 || sr.ordinal != k) break;
      if (!last_ns) last_ns = sr.host_start_ns;
      first_ns = sr.host_start_ns;
      ++n;
    }
    if (n >= 2 && last_ns > first_ns) out.step_rate = double(n - 1) * 1e9 / double(last_ns - first_ns);
  }

  for (uint32_t i = 0; i < rec::kMaxComms; ++i) {
    const auto& c = r.comms[i];
    if (rec::load_word(c.state, std::memory_order_acquire) != rec::kRowReady) continue;
    LiveComm lc;
    lc.id = c.id_hash;
    lc.rank = c.rank;
    lc.nranks = c.nranks;
    lc.enqueued = rec::load_word(c.seq_enqueued, std::memory_order_acquire);
    lc.started = rec::load_word(c.seq_started);
    lc.completed = rec::load_word(c.seq_completed);
    lc.last_enqueue_ns = rec::load_word(c.last_enqueue_ns);
    lc.last_complete_ns = rec::load_word(c.last_complete_ns);
    rec::LastOp lo{};
    if (rec::read_seqlocked(c.last_seq, c.last_op, lo) && lo.seq != 0) {
      lc.have_last_op = true;
      lc.last_seq = lo.seq;
      lc.last_op = lo.op;
    }
    out.comms.push_back(lc);
  }
  return out;
}

std::optional<LiveRank> read_live_file(const std::string& path, std::string* why) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) { if (why) *why = std::strerror(errno); return std::nullopt; }
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); if (why) *why = "not a regular file"; return std::nullopt; }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < sizeof(rec::Header)) { close(fd); if (why) *why = "shorter than the record header"; return std::nullopt; }
  // Only touched pages are read: a sparse 59 MiB record costs a few MiB.
  void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) { if (why) *why = std::string("mmap: ") + std::strerror(errno); return std::nullopt; }
  auto res = read_live(p, size, why);
  munmap(p, size);
  if (res) res->source = path;
  return res;
}

}  // namespace argus::live
