// See hang_analysis.h.
#include "hang_analysis.h"

#include <algorithm>
#include <map>
#include <set>

#include <argus/record.h>

namespace argus::live {

namespace {
bool running(const LiveRank& r) { return r.state == argus::rec::kStateRunning && (r.alive || !r.live); }
bool quiet(const LiveRank& r, uint64_t now, uint64_t quiet_ns) {
  uint64_t t = r.last_progress_ns();
  return now > t && now - t > quiet_ns;
}
// The host stopped between two steps (its last step is closed), rather than inside a step.
bool between_steps(const LiveRank& r) { return r.have_last_step && r.last_step_end_ns != 0; }
}  // namespace

StatusVerdict analyze_status(const std::vector<LiveRank>& ranks, uint64_t now, uint64_t quiet_ns) {
  StatusVerdict v;
  std::set<int> stalled;
  // Ranks whose host stopped launching between steps.
  for (const auto& r : ranks)
    if (running(r) && r.steps_begun > 0 && between_steps(r) && quiet(r, now, quiet_ns)) stalled.insert(r.rank);

  std::map<uint64_t, std::vector<std::pair<const LiveRank*, const LiveComm*>>> comms;
  for (const auto& r : ranks)
    for (const auto& c : r.comms) comms[c.id].push_back({&r, &c});
  for (auto& [id, members] : comms) {
    CommVerdict cv;
    cv.comm = id;
    uint64_t newest = 0;
    bool any_completion = false;
    std::set<int> comm_ranks_seen;
    for (auto& [r, c] : members) {
      cv.wait_seq = std::max(cv.wait_seq, c->enqueued);
      cv.nranks = std::max(cv.nranks, c->nranks);
      newest = std::max(newest, c->last_enqueue_ns);
      any_completion |= c->completed > 0;
      cv.members.push_back(r->rank);
      comm_ranks_seen.insert(c->rank);
    }
    for (auto& [r, c] : members) {
      if (c->enqueued < cv.wait_seq) {
        cv.missing.push_back(r->rank);
      } else if (!any_completion || c->completed < cv.wait_seq) {
        // Without completion times (no CUPTI) every member at S counts as waiting.
        cv.waiting.push_back(r->rank);
        if (cv.op.empty() && c->have_last_op && c->last_seq == cv.wait_seq) cv.op = op_name(c->last_op);
      }
    }
    if (cv.op.empty())
      for (auto& [r, c] : members)
        if (c->have_last_op && c->last_seq == cv.wait_seq) { cv.op = op_name(c->last_op); break; }
    for (int k = 0; k < cv.nranks; ++k)
      if (!comm_ranks_seen.count(k)) cv.absent.push_back(k);
    std::sort(cv.members.begin(), cv.members.end());
    std::sort(cv.missing.begin(), cv.missing.end());
    std::sort(cv.waiting.begin(), cv.waiting.end());
    bool no_progress = now > newest && now - newest > quiet_ns;
    if ((!cv.missing.empty() || (!cv.absent.empty() && !cv.waiting.empty())) && !cv.waiting.empty() && no_progress) {
      bool all_stalled = !cv.missing.empty() &&
                         std::all_of(cv.missing.begin(), cv.missing.end(), [&](int r) { return stalled.count(r) > 0; });
      if (all_stalled) cv.stalled = true; else cv.hung = true;
    }
    v.hang |= cv.hung;
    v.comms.push_back(std::move(cv));
  }
  v.stalled.assign(stalled.begin(), stalled.end());
  v.stall = !v.stalled.empty();
  return v;
}

}  // namespace argus::live
