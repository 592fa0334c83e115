// The only file of the collector that knows the record layout (include/argus/record.h).
#include "record_view.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <argus/record.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace rec = argus::rec;

namespace argus::run {
namespace {

std::string bounded(const char* p, std::size_t cap) { return std::string(p, strnlen(p, cap)); }

RecordState from_word(uint32_t s) {
  switch (s) {
    case rec::kStateNone: return RecordState::none;
    case rec::kStateRunning: return RecordState::running;
    case rec::kStateExited: return RecordState::exited;
    case rec::kStateKilled: return RecordState::killed;
    default: return RecordState::unknown;
  }
}

uint32_t to_word(RecordState s) {
  switch (s) {
    case RecordState::running: return rec::kStateRunning;
    case RecordState::exited: return rec::kStateExited;
    case RecordState::killed: return rec::kStateKilled;
    default: return rec::kStateNone;
  }
}

bool pread_all(int fd, void* buf, std::size_t n, off_t off) {
  auto* p = static_cast<char*>(buf);
  while (n) {
    ssize_t r = pread(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r; n -= static_cast<std::size_t>(r); off += r;
  }
  return true;
}

bool pwrite_all(int fd, const void* buf, std::size_t n, off_t off) {
  const auto* p = static_cast<const char*>(buf);
  while (n) {
    ssize_t r = pwrite(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r; n -= static_cast<std::size_t>(r); off += r;
  }
  return true;
}

constexpr off_t kStepsBegunOffset =
    offsetof(rec::Record, step_summary) + offsetof(rec::StepSummary, steps_begun);

}  // namespace

const char* to_string(RecordState s) {
  switch (s) {
    case RecordState::none: return "none";
    case RecordState::running: return "running";
    case RecordState::exited: return "exited";
    case RecordState::killed: return "killed";
    default: return "unknown";
  }
}

std::optional<RecordInfo> read_record_info(int fd, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<RecordInfo> {
    if (why) *why = reason;
    return std::nullopt;
  };
  struct stat st{};
  if (fstat(fd, &st) != 0) return fail(std::string("cannot stat: ") + std::strerror(errno));
  rec::Header h;
  if (static_cast<std::size_t>(st.st_size) < sizeof h || !pread_all(fd, &h, sizeof h, 0))
    return fail("shorter than the record header");
  // The same checks as rec::validate(), on a header read from a file we do not map whole.
  if (h.magic == 0) return fail("not initialised (magic is 0)");
  if (h.magic != rec::kMagic) return fail("bad magic (not an argus record)");
  if (h.layout_version != rec::kLayoutVersion)
    return fail("unsupported layout version " + std::to_string(h.layout_version));
  if (h.header_size != sizeof(rec::Header)) return fail("header size mismatch");
  if (h.total_size != sizeof(rec::Record)) return fail("record size mismatch (different layout)");
  if (static_cast<uint64_t>(st.st_size) < h.total_size) return fail("truncated (shorter than total_size)");
  if (h.sketch_size != sizeof(argus::Sketch) || h.sketch_version != argus::kSketchLayoutVersion)
    return fail("sketch layout mismatch");
  if (h.state > rec::kStateKilled) return fail("bad state");
  RecordInfo r;
  r.layout_version = h.layout_version;
  r.total_size = h.total_size;
  r.pid = h.pid;
  r.rank = h.rank;
  r.local_rank = h.local_rank;
  r.world_size = h.world_size;
  r.host = bounded(h.host, sizeof h.host);
  r.run_id = bounded(h.run_id, sizeof h.run_id);
  r.exe = bounded(h.exe, sizeof h.exe);
  r.start_ns = h.start_time_ns;
  r.end_ns = h.end_time_ns;
  r.state = from_word(h.state);
  uint64_t steps = 0;
  if (pread_all(fd, &steps, sizeof steps, kStepsBegunOffset)) r.steps = steps;
  rec::Integrity integ;
  if (pread_all(fd, &integ, sizeof integ, offsetof(rec::Record, integrity))) {
    r.cuda_runtime_version = integ.cuda_runtime_version;
    r.cuda_driver_version = integ.cuda_driver_version;
    r.nccl_version = integ.nccl_version;
  }
  return r;
}

bool copy_record(int src, const RecordInfo& info, const std::filesystem::path& dst,
                 std::optional<RecordState> new_state, std::string* why) {
  std::filesystem::path tmp = dst;
  tmp += ".tmp." + std::to_string(getpid());
  int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (out < 0) {
    *why = tmp.string() + ": cannot create (" + std::strerror(errno) + ")";
    return false;
  }
  const off_t total = static_cast<off_t>(info.total_size);
  bool ok = ftruncate(out, total) == 0;
  std::vector<char> buf(1 << 20);
  // Copy only the data extents (tmpfs and most file systems support SEEK_DATA/SEEK_HOLE;
  // where they do not, lseek reports the whole file as data and we copy it all).
  off_t pos = 0;
  while (ok && pos < total) {
    off_t data = lseek(src, pos, SEEK_DATA);
    if (data < 0) break;  // ENXIO: no more data
    if (data >= total) break;
    off_t hole = lseek(src, data, SEEK_HOLE);
    if (hole < 0 || hole > total) hole = total;
    for (off_t o = data; ok && o < hole;) {
      std::size_t n = static_cast<std::size_t>(std::min<off_t>(hole - o, static_cast<off_t>(buf.size())));
      ok = pread_all(src, buf.data(), n, o) && pwrite_all(out, buf.data(), n, o);
      o += static_cast<off_t>(n);
    }
    pos = hole;
  }
  if (ok && new_state) {
    uint32_t w = to_word(*new_state);
    ok = pwrite_all(out, &w, sizeof w, offsetof(rec::Header, state));
  }
  if (close(out) != 0) ok = false;
  if (ok && rename(tmp.c_str(), dst.c_str()) != 0) ok = false;
  if (!ok) {
    *why = dst.string() + ": copy failed (" + std::strerror(errno) + ")";
    unlink(tmp.c_str());
  }
  return ok;
}

std::string cuda_version_string(int32_t v) {
  if (v <= 0) return "";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::string nccl_version_string(int32_t v) {
  if (v <= 0) return "";
  if (v >= 20900) return std::to_string(v / 10000) + "." + std::to_string((v % 10000) / 100) + "." + std::to_string(v % 100);
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 100) + "." + std::to_string(v % 100);
}

bool write_fake_record(int fd, const RecordInfo& info) {
  if (ftruncate(fd, sizeof(rec::Record)) != 0) return false;
  rec::Header h{};
  h.layout_version = rec::kLayoutVersion;
  h.header_size = sizeof(rec::Header);
  h.total_size = sizeof(rec::Record);
  h.sketch_size = sizeof(argus::Sketch);
  h.sketch_version = argus::kSketchLayoutVersion;
  h.pid = static_cast<int32_t>(info.pid);
  h.ppid = static_cast<int32_t>(getppid());
  h.uid = static_cast<uint32_t>(geteuid());
  h.rank = info.rank;
  h.local_rank = info.local_rank;
  h.world_size = info.world_size;
  h.state = to_word(info.state);
  h.start_time_ns = info.start_ns;
  h.end_time_ns = info.end_ns;
  std::strncpy(h.host, info.host.c_str(), sizeof h.host - 1);
  std::strncpy(h.run_id, info.run_id.c_str(), sizeof h.run_id - 1);
  std::strncpy(h.exe, info.exe.c_str(), sizeof h.exe - 1);
  if (!pwrite_all(fd, &h, sizeof h, 0)) return false;
  uint64_t steps = info.steps;
  if (!pwrite_all(fd, &steps, sizeof steps, kStepsBegunOffset)) return false;
  int32_t versions[3] = {info.cuda_runtime_version, info.cuda_driver_version, info.nccl_version};
  static_assert(offsetof(rec::Integrity, nccl_version) - offsetof(rec::Integrity, cuda_runtime_version) == 8);
  if (!pwrite_all(fd, versions, sizeof versions,
                  offsetof(rec::Record, integrity) + offsetof(rec::Integrity, cuda_runtime_version)))
    return false;
  uint64_t magic = rec::kMagic;  // stored last, as the library does
  return pwrite_all(fd, &magic, sizeof magic, offsetof(rec::Header, magic));
}

bool set_record_state(int fd, RecordState state) {
  uint32_t w = to_word(state);
  return pwrite_all(fd, &w, sizeof w, offsetof(rec::Header, state));
}

}  // namespace argus::run
