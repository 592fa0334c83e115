// Interim layout: include/argus/record.h (branch interpose) has not landed yet. This is the
// minimal versioned header the collector was written against; it is replaced by record.h's
// struct once that is merged. Only this file knows the byte layout.
#include "record_view.h"

#include <cstring>

namespace argus::run {
namespace {

constexpr uint64_t kMagic = 0x3153524755475241ull;  // "ARGUGRS1" little-endian
constexpr uint32_t kLayoutVersion = 1;

struct Header {
  uint64_t magic;
  uint32_t layout_version;
  uint32_t header_size;
  uint64_t total_size;
  int64_t pid;
  int32_t rank;
  int32_t local_rank;
  int32_t world_size;
  uint32_t state;  // 0 running, 1 exited, 2 killed
  char host[64];
  char run_id[128];
  uint64_t start_ns;
  uint64_t end_ns;
  uint64_t steps;
};

std::string bounded_string(const char* p, std::size_t cap) {
  return std::string(p, strnlen(p, cap));
}

}  // namespace

const char* to_string(RecordState s) {
  switch (s) {
    case RecordState::running: return "running";
    case RecordState::exited: return "exited";
    case RecordState::killed: return "killed";
    default: return "unknown";
  }
}

std::size_t record_header_bytes() { return sizeof(Header); }

std::optional<RecordInfo> parse_record(std::span<const std::byte> bytes, std::string* why) {
  auto fail = [&](const char* reason) -> std::optional<RecordInfo> {
    if (why) *why = reason;
    return std::nullopt;
  };
  if (bytes.size() < sizeof(Header)) return fail("shorter than the record header");
  Header h;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.magic != kMagic) return fail("bad magic (not an argus rank record)");
  if (h.layout_version != kLayoutVersion) return fail("unsupported record layout version");
  if (h.header_size != sizeof(Header)) return fail("header size does not match the layout");
  if (h.total_size < sizeof(Header) || h.total_size > bytes.size())
    return fail("record size in header exceeds the segment");
  RecordInfo r;
  r.layout_version = h.layout_version;
  r.total_size = h.total_size;
  r.pid = h.pid;
  r.rank = h.rank;
  r.local_rank = h.local_rank;
  r.world_size = h.world_size;
  r.host = bounded_string(h.host, sizeof h.host);
  r.run_id = bounded_string(h.run_id, sizeof h.run_id);
  r.start_ns = h.start_ns;
  r.end_ns = h.end_ns;
  r.steps = h.steps;
  r.state = h.state == 0 ? RecordState::running
          : h.state == 1 ? RecordState::exited
          : h.state == 2 ? RecordState::killed
                         : RecordState::unknown;
  return r;
}

bool set_record_state(std::span<std::byte> bytes, RecordState state) {
  if (!parse_record(bytes, nullptr)) return false;
  uint32_t v = state == RecordState::running ? 0 : state == RecordState::exited ? 1 : 2;
  std::memcpy(bytes.data() + offsetof(Header, state), &v, sizeof v);
  return true;
}

std::vector<std::byte> make_record_image(const RecordInfo& info, std::size_t total_size) {
  if (total_size < sizeof(Header)) total_size = sizeof(Header);
  std::vector<std::byte> out(total_size);
  Header h{};
  h.magic = kMagic;
  h.layout_version = kLayoutVersion;
  h.header_size = sizeof(Header);
  h.total_size = total_size;
  h.pid = info.pid;
  h.rank = info.rank;
  h.local_rank = info.local_rank;
  h.world_size = info.world_size;
  h.state = info.state == RecordState::running ? 0 : info.state == RecordState::exited ? 1 : 2;
  std::strncpy(h.host, info.host.c_str(), sizeof h.host - 1);
  std::strncpy(h.run_id, info.run_id.c_str(), sizeof h.run_id - 1);
  h.start_ns = info.start_ns;
  h.end_ns = info.end_ns;
  h.steps = info.steps;
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

}  // namespace argus::run
