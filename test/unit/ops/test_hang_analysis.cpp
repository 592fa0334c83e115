// analyze_status on synthetic live views: who is missing from which collective, and a host
// stall (stopped between steps) told apart from a hang inside a step.
#include <catch2/catch.hpp>

#include <argus/record.h>

#include "hang_analysis.h"

using namespace argus::live;

namespace {
constexpr uint64_t kS = 1000000000ull;
constexpr uint64_t kNow = 1000 * kS;

// A rank of an 8-rank communicator that enqueued `enq` collectives, the last at `t`.
LiveRank rank(int r, uint64_t enq, uint64_t completed, uint64_t t, bool step_open) {
  LiveRank x;
  x.rank = r;
  x.world_size = 8;
  x.pid = 100 + r;
  x.live = true;
  x.alive = true;
  x.state = argus::rec::kStateRunning;
  x.steps_begun = 5;
  x.have_last_step = true;
  x.last_step_index = 4;
  x.last_step_start_ns = t - kS / 100;
  x.last_step_end_ns = step_open ? 0 : t;
  LiveComm c;
  c.id = 0xabc;
  c.rank = r;
  c.nranks = 8;
  c.enqueued = enq;
  c.completed = completed;
  c.last_enqueue_ns = t;
  c.have_last_op = true;
  c.last_seq = enq;
  c.last_op = argus::rec::kOpAllGather;
  x.comms.push_back(c);
  return x;
}
}  // namespace

TEST_CASE("a rank that never enters collective k is named; the others wait in k") {
  std::vector<LiveRank> rs;
  for (int r = 0; r < 8; ++r) rs.push_back(r == 5 ? rank(r, 10, 10, kNow - 3 * kS, true) : rank(r, 11, 10, kNow - 3 * kS, true));
  auto v = analyze_status(rs, kNow, kS);
  REQUIRE(v.comms.size() == 1);
  const auto& c = v.comms[0];
  CHECK(c.hung);
  CHECK_FALSE(c.stalled);
  CHECK(v.hang);
  CHECK(c.wait_seq == 11);
  CHECK(c.op == "allgather");
  CHECK(c.missing == std::vector<int>{5});
  CHECK(c.waiting.size() == 7);
  CHECK(v.stalled.empty());
}

TEST_CASE("the same picture is not a hang while progress is recent") {
  std::vector<LiveRank> rs;
  for (int r = 0; r < 8; ++r) rs.push_back(rank(r, r == 5 ? 10 : 11, 10, kNow - kS / 10, true));
  auto v = analyze_status(rs, kNow, kS);
  CHECK_FALSE(v.hang);
  CHECK_FALSE(v.stall);
}

TEST_CASE("a rank quiet between steps is stalled, not hung in the collective") {
  std::vector<LiveRank> rs;
  for (int r = 0; r < 8; ++r) rs.push_back(r == 2 ? rank(r, 10, 10, kNow - 4 * kS, false) : rank(r, 11, 10, kNow - 3 * kS, true));
  auto v = analyze_status(rs, kNow, kS);
  REQUIRE(v.comms.size() == 1);
  CHECK(v.comms[0].stalled);
  CHECK_FALSE(v.comms[0].hung);
  CHECK_FALSE(v.hang);
  CHECK(v.stall);
  CHECK(v.stalled == std::vector<int>{2});
}

TEST_CASE("exited ranks and a healthy finished job are not flagged") {
  std::vector<LiveRank> rs;
  for (int r = 0; r < 4; ++r) {
    auto x = rank(r, 20, 20, kNow - 60 * kS, false);
    x.state = argus::rec::kStateExited;
    rs.push_back(x);
  }
  auto v = analyze_status(rs, kNow, kS);
  CHECK_FALSE(v.hang);
  CHECK_FALSE(v.stall);
}

TEST_CASE("communicator ranks without any record are reported absent") {
  std::vector<LiveRank> rs;
  for (int r = 0; r < 7; ++r) rs.push_back(rank(r, 11, 10, kNow - 3 * kS, true));
  auto v = analyze_status(rs, kNow, kS);
  REQUIRE(v.comms.size() == 1);
  CHECK(v.comms[0].absent == std::vector<int>{7});
  CHECK(v.comms[0].hung);
}
