// The collector's view of a rank record: just the header fields it needs to validate a
// segment, name its copy and record its end state. All knowledge of the record layout
// (include/argus/record.h) is kept in record_view.cpp so a layout change touches one file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace argus::run {

enum class RecordState { running, exited, killed, unknown };

const char* to_string(RecordState s);

struct RecordInfo {
  uint32_t layout_version = 0;
  uint64_t total_size = 0;   // bytes the header says the record occupies
  int64_t pid = -1;
  int32_t rank = -1;         // -1: not known to the process
  int32_t local_rank = -1;
  int32_t world_size = -1;
  std::string host;
  std::string run_id;
  uint64_t start_ns = 0;     // CLOCK_REALTIME ns since the epoch, 0 = unknown
  uint64_t end_ns = 0;
  uint64_t steps = 0;        // steps recorded (0 when the layout does not say)
  RecordState state = RecordState::unknown;
};

// Validates magic, layout version and size against the bytes actually present.
// On failure returns nullopt and sets *why to a one-line reason.
std::optional<RecordInfo> parse_record(std::span<const std::byte> bytes, std::string* why);

// Rewrites the state field of a record image (the collector marks "killed" in the copy).
// Returns false when the image is not a valid record.
bool set_record_state(std::span<std::byte> bytes, RecordState state);

// Builds a record image with the given header fields (for tests and the fake-rank helper,
// which exercise the collector without libargus). total_size >= record_header_bytes().
std::vector<std::byte> make_record_image(const RecordInfo& info, std::size_t total_size);

// Smallest number of bytes needed to read the header (the collector maps this much first).
std::size_t record_header_bytes();

}  // namespace argus::run
