// Live view of rank records for `argus status` and hang analysis: reads a record that its
// process may still be writing (a mapped /dev/shm segment) or a collected copy in
// RUN_DIR/ranks/, following record.h's live-reader rules (atomic word loads, seqlocked rows,
// rows used only when kRowReady).  Only the few fields status needs are extracted.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace argus::live {

struct LiveComm {
  uint64_t id = 0;            // CommRow::id_hash (same on every rank of the communicator)
  int rank = -1, nranks = 0;
  uint64_t enqueued = 0, started = 0, completed = 0;
  uint64_t last_enqueue_ns = 0, last_complete_ns = 0;
  bool have_last_op = false;  // last_op read consistently (seqlock)
  uint64_t last_seq = 0;      // LastOp::seq
  uint32_t last_op = 0;       // CollOp
};

struct LiveRank {
  std::string source;         // segment or file path
  bool live = false;          // read from a shared-memory segment (not a collected copy)
  std::string host, run_id, exe;
  int64_t pid = -1;
  int rank = -1, world_size = -1;
  uint32_t state = 0;         // RunState
  bool alive = false;         // process exists (only meaningful for live, same host)
  uint64_t start_ns = 0, end_ns = 0, heartbeat_ns = 0;
  uint64_t steps_begun = 0, steps_closed = 0;
  bool have_last_step = false;
  int64_t last_step_index = -1;
  uint64_t last_step_start_ns = 0, last_step_end_ns = 0;  // end 0 = open
  double step_rate = 0;       // closed steps per second over the recent ring (0 unknown)
  uint64_t launches = 0;      // host kernel launches, all paths
  std::vector<LiveComm> comms;
  // Latest sign of the host doing work: step begin/end, collective enqueue.
  uint64_t last_progress_ns() const;
};

// Extracts the live view from a record image (mapped read-only, at least sizeof(Record)).
// nullopt + *why when the image does not validate.
std::optional<LiveRank> read_live(const void* image, size_t size, std::string* why);

// Maps path read-only and reads it (segments and collected files alike).
std::optional<LiveRank> read_live_file(const std::string& path, std::string* why);

const char* op_name(uint32_t coll_op);   // "allreduce", ...
const char* state_name(uint32_t state);  // "running", "exited", ...

}  // namespace argus::live
