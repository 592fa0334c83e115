// The collector: finds the shared-memory rank records of a run, validates them, copies them
// into RUN_DIR/ranks/<host>-<pid>.argus with each process's end state, and removes the
// segments. Used by argus-run when the job ends, and by `argus report --collect RUN_DIR` /
// `argus doctor` for segments left behind by a launcher that died.
//
// Segment names (contract with libargus): "/argus-<uid>-<run_id>-<host>-<pid>", 0600,
// i.e. /dev/shm/argus-<uid>-<run_id>-<host>-<pid>.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace argus::run {

struct CollectedProcess {
  std::string segment;    // path of the segment (/dev/shm/argus-... or $ARGUS_SHM_DIR/...)
  std::string host;
  int64_t pid = -1;
  int32_t rank = -1, local_rank = -1, world_size = -1;
  uint64_t steps = 0;     // steps in the record's header (0 when unknown)
  std::string cuda_runtime, cuda_driver, nccl;  // versions the process loaded ("" unknown)
  // exited: the library marked a normal exit; killed: the process is gone but its record
  // still says running (SIGKILL, crash, _exit); running: still alive at collection time
  // (copied as a snapshot only when take_live, and the segment is kept); invalid: the
  // segment did not validate (left in place, see error); empty: never initialised by a
  // process that is gone (removed).
  std::string state;
  int wait_status = -1;   // raw waitpid status when argus-run reaped the process itself, else -1
  std::string file;       // "ranks/<host>-<pid>.argus" relative to the run dir; empty if not copied
  std::string error;      // why the segment was rejected (left in place), empty when fine
};

struct CollectOptions {
  std::string run_id;            // required
  std::string host;              // only segments of this host; empty = every host
  bool take_live = false;        // also snapshot records of processes still running
  bool unlink = true;            // remove collected segments
  std::map<int64_t, int> reaped; // pid -> waitpid status known to the caller
  std::vector<std::string> shm_dirs;  // empty: /dev/shm and $ARGUS_SHM_DIR
};

// Collects every segment of options.run_id (and host) into run_dir/ranks/.
std::vector<CollectedProcess> collect_run(const std::filesystem::path& run_dir,
                                          const CollectOptions& options);

// `argus report --collect RUN_DIR` / doctor: reads the run id from RUN_DIR/run_meta.json,
// collects the segments of finished processes on any host name of this machine, records them
// in run_meta.json (a run_meta.d part, merged), and returns what was found. Records of
// processes still running are reported with state "running" and left alone.
// Throws std::runtime_error("<file>: <reason>") when RUN_DIR is not a run directory.
std::vector<CollectedProcess> collect_leftovers(const std::filesystem::path& run_dir);

// One segment of this user in /dev/shm, for doctor: which runs have leftovers.
struct SegmentInfo {
  std::string segment;   // path
  std::string run_id, host;
  int64_t pid = -1;
  bool valid = false;    // header validates
  bool alive = false;    // the process still exists
  std::string state;     // header state, or the validation error
  uint64_t size = 0;
};
std::vector<SegmentInfo> list_segments();

// Adds to a software summary (run_meta hosts[].software) the versions that collected records
// report, where the Python hook reported none ("not available").
void add_record_versions(nlohmann::json& software, const std::vector<CollectedProcess>& procs);

// Building blocks, exposed for tests.
std::string segment_prefix(uid_t uid, const std::string& run_id);  // "argus-<uid>-<run_id>-"
bool process_alive(int64_t pid);  // exists and is not a zombie
int64_t process_start_ns(int64_t pid);  // CLOCK_REALTIME start of a live process, -1 unknown
nlohmann::json to_json(const CollectedProcess& p);  // one object of run_meta "processes"

}  // namespace argus::run
