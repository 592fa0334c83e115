// The collector's view of a rank record (include/argus/record.h): the header fields it needs
// to validate a segment, name its copy and record its end state, and a sparse copy (a record
// is ~59 MiB of mostly untouched pages, so it is never read whole into memory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace argus::run {

enum class RecordState { none, running, exited, killed, unknown };

const char* to_string(RecordState s);

struct RecordInfo {
  uint32_t layout_version = 0;
  uint64_t total_size = 0;   // bytes of the record (sizeof(argus::rec::Record))
  int64_t pid = -1;
  int32_t rank = -1;         // -1: not known to the process
  int32_t local_rank = -1;
  int32_t world_size = -1;
  std::string host;
  std::string run_id;
  std::string exe;
  uint64_t start_ns = 0;     // CLOCK_REALTIME ns
  uint64_t end_ns = 0;
  uint64_t steps = 0;        // steps begun (StepSummary::steps_begun)
  // Versions the process loaded, as libargus saw them (0 = unknown): cudaRuntimeGetVersion,
  // cuDriverGetVersion, ncclGetVersion codes.
  int32_t cuda_runtime_version = 0, cuda_driver_version = 0, nccl_version = 0;
  RecordState state = RecordState::unknown;
};

// Reads and validates the header of the record in fd (a segment or a file): magic, layout
// version, header/record/sketch sizes against the file's size. nullopt + *why on failure.
std::optional<RecordInfo> read_record_info(int fd, std::string* why);

// Copies the record in src_fd to dst (via dst.tmp.<pid> and rename), keeping holes, and
// optionally rewrites the state word. Returns false + *why on failure (dst untouched).
bool copy_record(int src_fd, const RecordInfo& info, const std::filesystem::path& dst,
                 std::optional<RecordState> new_state, std::string* why);

// "13.0" from 13000 (CUDA), "2.28.3" from 22803 (NCCL >= 2.9; 2.8.4 from 2804); "" for 0.
std::string cuda_version_string(int32_t v);
std::string nccl_version_string(int32_t v);

// Writes a minimal valid record (header + step count, everything else zero = empty) into fd,
// sized like a real one (sparse). For tests and the fake-rank helper, which exercise the
// collector without libargus.
bool write_fake_record(int fd, const RecordInfo& info);

// Rewrites only the state word of the record in fd.
bool set_record_state(int fd, RecordState state);

}  // namespace argus::run
