// Concurrent record(): no update is ever lost (run under TSan by scripts/test).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "argus/sketch.h"

using argus::Sketch;

namespace {
// Thread t records values value(t, i) for i < n: deterministic, spread over many buckets.
uint64_t value(unsigned t, uint64_t i) { return ((i * 2654435761u + t * 97u) % 5000000u) + t; }
}  // namespace

TEST_CASE("many threads recording into one sketch lose nothing", "[sketch][concurrency]") {
  const unsigned threads = GENERATE(2u, 4u);
  const uint64_t per_thread = 4000000 / threads;  // 4 M records in total
  auto live = std::make_unique<Sketch>();
  std::atomic<bool> go{false}, done{false};
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      while (!go.load()) {
      }
      for (uint64_t i = 0; i < per_thread; ++i) live->record(value(t, i));
    });
  // A reader snapshots concurrently: counts only grow, and no snapshot is torn per field.
  uint64_t snapshots = 0;
  bool monotonic = true;
  std::thread reader([&] {
    auto prev = std::make_unique<Sketch>(), cur = std::make_unique<Sketch>();
    while (!done.load()) {
      cur->snapshot_from(*live);
      for (uint32_t i = 0; i < argus::kSketchBuckets; ++i)
        if (cur->buckets[i] < prev->buckets[i]) monotonic = false;
      std::swap(prev, cur);
      ++snapshots;
    }
  });
  go = true;
  for (auto& t : ts) t.join();
  done = true;
  reader.join();

  auto expect = std::make_unique<Sketch>();
  uint64_t sum = 0, mn = ~uint64_t{0}, mx = 0;
  for (unsigned t = 0; t < threads; ++t)
    for (uint64_t i = 0; i < per_thread; ++i) {
      const uint64_t v = value(t, i);
      expect->record_single_writer(v);
      sum += v;
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
  const Sketch got = argus::snapshot(*live);
  CHECK(got.count() == threads * per_thread);
  CHECK(got.sum() == sum);
  CHECK(got.min() == mn);
  CHECK(got.max() == mx);
  CHECK(std::memcmp(got.buckets, expect->buckets, sizeof got.buckets) == 0);
  CHECK(monotonic);
  CHECK(snapshots > 0);
}

TEST_CASE("single-writer records with a concurrent reader", "[sketch][concurrency]") {
  auto live = std::make_unique<Sketch>();
  std::atomic<bool> done{false};
  std::thread reader([&] {
    auto s = std::make_unique<Sketch>();
    while (!done.load()) s->snapshot_from(*live);
  });
  for (uint64_t i = 1; i <= 1000000; ++i) live->record_single_writer(i);
  done = true;
  reader.join();
  CHECK(live->count() == 1000000);
  CHECK(live->sum() == 1000000ull * 1000001ull / 2);
  CHECK(live->min() == 1);
  CHECK(live->max() == 1000000);
}
