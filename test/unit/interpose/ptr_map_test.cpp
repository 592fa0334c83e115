// Unit tests of the lock-free pointer map used by libargus's caches.
#include <catch2/catch.hpp>

#include "ptr_map.h"

#include <memory>
#include <thread>
#include <vector>

using argus::PtrMap;

TEST_CASE("ptr map: insert, find, overwrite, erase, tombstone reuse", "[ptrmap]") {
  auto m = std::make_unique<PtrMap<10>>();
  uint64_t v = 0;
  CHECK_FALSE(m->find(0x1000, &v));
  REQUIRE(m->insert(0x1000, 0));  // value 0 is a valid value
  REQUIRE(m->find(0x1000, &v));
  CHECK(v == 0);
  REQUIRE(m->insert(0x1000, 42));
  REQUIRE(m->find(0x1000, &v));
  CHECK(v == 42);
  CHECK(m->erase(0x1000, &v));
  CHECK(v == 42);
  CHECK_FALSE(m->find(0x1000, &v));
  CHECK_FALSE(m->erase(0x1000, &v));
  // churn far beyond capacity: tombstones are reused, nothing leaks
  for (uint64_t i = 0; i < 100000; ++i) {
    uint64_t key = 0x10000 + (i % 700) * 0x200;
    REQUIRE(m->insert(key, i));
    REQUIRE(m->erase(key, &v));
    CHECK(v == i);
  }
  CHECK_FALSE(m->insert(0, 1));
  CHECK_FALSE(m->insert(1, 1));
}

TEST_CASE("ptr map: 8 threads alloc/free their own keys concurrently", "[ptrmap][threads]") {
  auto m = std::make_unique<PtrMap<14>>();
  std::vector<std::thread> ts;
  std::atomic<int> errors{0};
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (uint64_t i = 0; i < 20000; ++i) {
        uint64_t key = (uint64_t(t + 1) << 32) + (i % 256) * 512;
        if (!m->insert(key, i)) { ++errors; continue; }
        uint64_t v = 0;
        if (!m->find(key, &v) || v != i) ++errors;
        if (!m->erase(key, &v) || v != i) ++errors;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(errors.load() == 0);
}
