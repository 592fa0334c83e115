// read_live on a synthetic record image: header identity, the last step (open/closed) and
// the step rate from the ring, communicator counters and the seqlocked last op; rows not
// yet published and an odd (being written) seqlock are ignored.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <memory>

#include <argus/record.h>

#include "live_record.h"

namespace rec = argus::rec;

namespace {
struct Image {
  rec::Record* r = static_cast<rec::Record*>(std::calloc(1, sizeof(rec::Record)));  // zero = empty
  ~Image() { std::free(r); }
};
void header(rec::Record& r) {
  auto& h = r.header;
  h.layout_version = rec::kLayoutVersion;
  h.header_size = sizeof(rec::Header);
  h.total_size = sizeof(rec::Record);
  h.sketch_size = sizeof(argus::Sketch);
  h.sketch_version = argus::kSketchLayoutVersion;
  h.pid = 4242;
  h.rank = 3;
  h.world_size = 8;
  h.state = rec::kStateRunning;
  std::strcpy(h.host, "nodeA");
  std::strcpy(h.run_id, "r1");
  h.magic = rec::kMagic;
}
}  // namespace

TEST_CASE("live view of a record image") {
  Image im;
  auto& r = *im.r;
  header(r);
  // Steps 0..9, 10 ms apart; step 9 still open.
  r.step_summary.steps_begun = 10;
  r.step_summary.steps_closed = 9;
  for (uint64_t k = 0; k < 10; ++k) {
    auto& s = r.steps[k];
    s.seq = 2;
    s.ordinal = k;
    s.index = int64_t(100 + k);
    s.host_start_ns = 1000000000ull + k * 10000000ull;
    s.host_end_ns = k == 9 ? 0 : s.host_start_ns + 9000000ull;
  }
  auto& c = r.comms[0];
  c.state = rec::kRowReady;
  c.id_hash = 0xfeed;
  c.rank = 3;
  c.nranks = 8;
  c.seq_enqueued = 12;
  c.seq_completed = 11;
  c.last_enqueue_ns = 1095000000ull;
  c.last_seq = 4;
  c.last_op.seq = 12;
  c.last_op.op = rec::kOpReduceScatter;
  r.comms[1].state = rec::kRowClaiming;  // not published: ignored
  r.comms[1].seq_enqueued = 99;
  std::string why;
  auto v = argus::live::read_live(im.r, sizeof(rec::Record), &why);
  REQUIRE(v);
  CHECK(v->host == "nodeA");
  CHECK(v->rank == 3);
  CHECK(v->pid == 4242);
  CHECK(v->steps_begun == 10);
  CHECK(v->have_last_step);
  CHECK(v->last_step_index == 109);
  CHECK(v->last_step_end_ns == 0);
  CHECK(v->step_rate == Approx(100.0));
  REQUIRE(v->comms.size() == 1);
  CHECK(v->comms[0].enqueued == 12);
  CHECK(v->comms[0].completed == 11);
  CHECK(v->comms[0].have_last_op);
  CHECK(std::string(argus::live::op_name(v->comms[0].last_op)) == "reducescatter");
  CHECK(v->last_progress_ns() == 1095000000ull);

  // A writer in the middle of last_op (odd seqlock): the op is not used, counters still are.
  r.comms[0].last_seq = 5;
  v = argus::live::read_live(im.r, sizeof(rec::Record), &why);
  REQUIRE(v);
  CHECK_FALSE(v->comms[0].have_last_op);
  CHECK(v->comms[0].enqueued == 12);
}

TEST_CASE("records being created or of another layout are refused with a reason") {
  Image im;
  std::string why;
  CHECK_FALSE(argus::live::read_live(im.r, sizeof(rec::Record), &why));
  CHECK(why.find("not initialised") != std::string::npos);
  header(*im.r);
  im.r->header.layout_version = 99;
  CHECK_FALSE(argus::live::read_live(im.r, sizeof(rec::Record), &why));
  CHECK(why.find("layout") != std::string::npos);
}
