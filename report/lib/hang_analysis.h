// Hang / stall localisation from per-rank communicator sequence numbers (pure function:
// used by `argus status` on live records and testable without records).
//
// For each communicator: S = the highest sequence number any member has enqueued.  Members
// at S that have not completed it are waiting in collective S; members below S have not
// entered it ("missing").  A communicator is hung when members are missing and nobody has
// made progress for `quiet_ns` (a healthy job passes through such states for microseconds).
// A missing rank whose host stopped between steps (its last step is closed and it has been
// quiet for quiet_ns) is reported as stalled (the host is not launching: data loading,
// checkpointing, a debugger), not as hung in a collective; ranks quiet for quiet_ns that are
// missing nowhere are stalled too when others still make progress.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "live_record.h"

namespace argus::live {

struct CommVerdict {
  uint64_t comm = 0;
  int nranks = 0;
  uint64_t wait_seq = 0;          // S
  std::string op;                 // op of collective S (from a waiting member's last_op), "" unknown
  std::vector<int> members;       // global ranks seen in this communicator
  std::vector<int> waiting;       // global ranks at S, not completed
  std::vector<int> missing;       // global ranks below S (never entered S)
  std::vector<int> absent;        // comm ranks with no record (nranks > members seen)
  bool hung = false;              // missing (or absent) ranks and no progress for quiet_ns
  bool stalled = false;           // the missing ranks are all stalled hosts
};

struct StatusVerdict {
  std::vector<CommVerdict> comms;
  std::vector<int> stalled;       // global ranks whose host stopped launching
  bool hang = false, stall = false;
};

StatusVerdict analyze_status(const std::vector<LiveRank>& ranks, uint64_t now_ns, uint64_t quiet_ns);

}  // namespace argus::live
