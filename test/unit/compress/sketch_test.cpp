// argus::Sketch: geometry, the 1% quantile bound on synthetic distributions, exact
// count/sum/min/max, merge exactness, window deltas, CDF, comparison statistics.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "argus/sketch.h"

using argus::Sketch;

namespace {

std::unique_ptr<Sketch> make() { return std::make_unique<Sketch>(); }  // 19 KB: keep off the stack

std::unique_ptr<Sketch> sketch_of(const std::vector<uint64_t>& v) {
  auto s = make();
  for (uint64_t x : v) s->record(x);
  return s;
}

const double kQs[] = {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0};

// Checks every quantile of kQs against the exact one; returns the worst relative error.
double check_quantiles(const std::vector<uint64_t>& v) {
  auto s = sketch_of(v);
  std::vector<uint64_t> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  double worst = 0;
  for (double q : kQs) {
    const double exact = double(sorted[argus::nearest_rank(q, sorted.size()) - 1]);
    const double est = s->quantile(q);
    INFO("q=" << q << " exact=" << exact << " est=" << est << " n=" << v.size());
    if (exact == 0) {
      CHECK(est == 0);
      continue;
    }
    const double err = std::fabs(est - exact) / exact;
    CHECK(err <= argus::kSketchMaxRelativeError);
    worst = std::max(worst, err);
  }
  CHECK(s->count() == v.size());
  uint64_t sum = 0;
  for (uint64_t x : v) sum += x;
  CHECK(s->sum() == sum);
  CHECK(s->min() == sorted.front());
  CHECK(s->max() == sorted.back());
  return worst;
}

std::vector<uint64_t> lognormal(size_t n, double median_ns, double sigma, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> d(std::log(median_ns), sigma);
  std::vector<uint64_t> v(n);
  for (auto& x : v) x = uint64_t(std::llround(d(rng)));
  return v;
}

}  // namespace

TEST_CASE("bucket geometry: contiguous, self-consistent, half-width under 1/128", "[sketch]") {
  REQUIRE(Sketch::bucket_lower(0) == 0);
  for (uint32_t i = 0; i < argus::kSketchBuckets; ++i) {
    const uint64_t lo = Sketch::bucket_lower(i), hi = Sketch::bucket_upper(i);
    REQUIRE(lo <= hi);
    REQUIRE(Sketch::bucket_index(lo) == i);
    REQUIRE(Sketch::bucket_index(hi) == i);
    if (i > 0) REQUIRE(lo == Sketch::bucket_upper(i - 1) + 1);
    if (lo > 0) REQUIRE(0.5 * double(hi - lo) / double(lo) <= argus::kSketchMaxRelativeError);
  }
  REQUIRE(Sketch::bucket_upper(argus::kSketchBuckets - 1) == argus::kSketchMaxTrackable);
  REQUIRE(argus::kSketchMaxTrackable >= 3600ull * 1000 * 1000 * 1000);  // >= 1 hour
  REQUIRE(Sketch::bucket_index(~uint64_t{0}) == argus::kSketchBuckets - 1);
}

TEST_CASE("all-zero bytes are a valid empty sketch, and recording into them works", "[sketch]") {
  auto raw = std::make_unique<unsigned char[]>(sizeof(Sketch));
  std::memset(raw.get(), 0, sizeof(Sketch));
  Sketch* s = reinterpret_cast<Sketch*>(raw.get());  // as a zero-filled shm segment
  CHECK(s->empty());
  CHECK(s->count() == 0);
  CHECK(s->min() == 0);
  CHECK(s->max() == 0);
  CHECK(s->quantile(0.5) == 0);
  CHECK(s->cdf(10) == 0);
  s->record(700);
  s->record(300);
  s->record(5000);
  CHECK(s->count() == 3);
  CHECK(s->min() == 300);
  CHECK(s->max() == 5000);
  CHECK(s->sum() == 6000);
  CHECK(!s->empty());
}

TEST_CASE("quantiles within 1% on synthetic distributions", "[sketch]") {
  SECTION("lognormal") { check_quantiles(lognormal(200000, 50000, 1.0, 1)); }
  SECTION("lognormal, wide") { check_quantiles(lognormal(100000, 2000, 3.0, 2)); }
  SECTION("bimodal") {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> fast(10000, 500), slow(2000000, 100000);
    std::bernoulli_distribution pick(0.7);
    std::vector<uint64_t> v(100000);
    for (auto& x : v) x = uint64_t(std::max(1.0, pick(rng) ? fast(rng) : slow(rng)));
    check_quantiles(v);
  }
  SECTION("heavy-tailed (Pareto, alpha 1.1)") {
    std::mt19937_64 rng(4);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<uint64_t> v(100000);
    for (auto& x : v) x = uint64_t(1000.0 / std::pow(1.0 - u(rng), 1.0 / 1.1));
    check_quantiles(v);
  }
  SECTION("constant") { check_quantiles(std::vector<uint64_t>(1000, 123457)); }
  SECTION("one sample") {
    check_quantiles({987654321});
    check_quantiles({3});
  }
  SECTION("small integers (exact buckets) including zero") {
    std::vector<uint64_t> v;
    for (uint64_t i = 0; i < 5000; ++i) v.push_back(i % 300);
    check_quantiles(v);
    auto s = sketch_of({0, 1, 2, 127});
    CHECK(s->quantile(0.5) == 1);  // rank 2 of 4
  }
  SECTION("every power-of-two edge") {
    std::vector<uint64_t> v;
    for (int e = 2; e < 42; ++e)
      for (int64_t d = -2; d <= 2; ++d) v.push_back(uint64_t(int64_t(1ull << e) + d));
    check_quantiles(v);
  }
}

TEST_CASE("values beyond the range are clamped, counted, and keep exact sum/max", "[sketch]") {
  auto s = make();
  const uint64_t big = uint64_t(1) << 50, top = argus::kSketchMaxTrackable;
  s->record(big);
  s->record(top);
  s->record(1000);
  CHECK(s->overflow_count == 1);
  CHECK(s->buckets[argus::kSketchBuckets - 1] == 2);
  CHECK(s->max() == big);
  CHECK(s->sum() == big + top + 1000);
  CHECK(s->quantile(1.0) == double(big));
  CHECK(std::fabs(s->quantile(0.1) - 1000) <= 1000 * argus::kSketchMaxRelativeError);
}

TEST_CASE("merge is exact: merged parts equal the sketch of the union", "[sketch]") {
  const auto v = lognormal(50000, 30000, 1.5, 7);
  auto whole = sketch_of(v);
  std::mt19937 rng(9);
  std::vector<std::unique_ptr<Sketch>> parts;
  for (int i = 0; i < 7; ++i) parts.push_back(make());
  for (uint64_t x : v) parts[rng() % 7]->record(x);
  auto merged = make();  // starts as the all-zero empty sketch
  for (auto& p : parts) merged->merge(*p);
  CHECK(std::memcmp(merged.get(), whole.get(), sizeof(Sketch)) == 0);
  // Identity and commutativity.
  auto a = make(), b = make();
  a->merge(*parts[0]);
  a->merge(*parts[1]);
  b->merge(*parts[1]);
  b->merge(*parts[0]);
  CHECK(std::memcmp(a.get(), b.get(), sizeof(Sketch)) == 0);
  auto empty = make();
  a->merge(*empty);
  CHECK(std::memcmp(a.get(), b.get(), sizeof(Sketch)) == 0);
}

TEST_CASE("subtract gives what happened between two snapshots", "[sketch]") {
  auto live = make();
  const auto before_vals = lognormal(20000, 40000, 0.5, 11);
  for (uint64_t x : before_vals) live->record(x);
  const Sketch s1 = argus::snapshot(*live);

  SECTION("window inside the cumulative range: min/max approximate but inside the right bucket") {
    std::vector<uint64_t> w = {35000, 36000, 41000, 47000, 52000};
    for (uint64_t x : w) live->record(x);
    const Sketch s2 = argus::snapshot(*live);
    auto d = make();
    REQUIRE(d->subtract(s2, s1));
    auto expect = sketch_of(w);
    CHECK(std::memcmp(d->buckets, expect->buckets, sizeof d->buckets) == 0);
    CHECK(d->count() == 5);
    CHECK(d->sum() == expect->sum());
    CHECK((d->flags & argus::kSketchFlagMinMaxApprox) != 0);
    CHECK(Sketch::bucket_index(d->min()) == Sketch::bucket_index(35000));
    CHECK(Sketch::bucket_index(d->max()) == Sketch::bucket_index(52000));
    CHECK(std::fabs(d->quantile(0.5) - 41000) / 41000 <= argus::kSketchMaxRelativeError);
  }
  SECTION("window that extends the cumulative range: exact min and max") {
    const uint64_t lo = s1.min() - 1, hi = s1.max() + 12345;
    live->record(hi);
    live->record(lo);
    auto d = make();
    REQUIRE(d->subtract(argus::snapshot(*live), s1));
    CHECK(d->min() == lo);
    CHECK(d->max() == hi);
    CHECK(d->count() == 2);
    CHECK(d->sum() == lo + hi);
    CHECK((d->flags & argus::kSketchFlagMinMaxApprox) == 0);
  }
  SECTION("empty window") {
    auto d = make();
    REQUIRE(d->subtract(s1, s1));
    CHECK(d->empty());
  }
  SECTION("not a prefix: rejected, result empty") {
    auto other = sketch_of({5});
    auto d = make();
    d->record(77);
    CHECK_FALSE(d->subtract(*other, s1));
    CHECK(d->empty());
  }
  SECTION("aliasing: a = a - b") {
    live->record(1);
    Sketch s2 = argus::snapshot(*live);
    REQUIRE(s2.subtract(s2, s1));
    CHECK(s2.count() == 1);
    CHECK(s2.min() == 1);
  }
}

TEST_CASE("cdf and fraction_above agree with the data up to one bucket's mass", "[sketch]") {
  const auto v = lognormal(100000, 20000, 1.0, 21);
  auto s = sketch_of(v);
  std::vector<uint64_t> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  const double n = double(v.size());
  for (double x : {500.0, 5000.0, 15000.0, 20000.0, 20001.5, 40000.0, 200000.0}) {
    const double exact = double(std::upper_bound(sorted.begin(), sorted.end(), uint64_t(x)) - sorted.begin()) / n;
    const double slack = double(s->buckets[Sketch::bucket_index(uint64_t(x))]) / n + 1e-12;
    INFO("x=" << x);
    CHECK(std::fabs(s->cdf(x) - exact) <= slack);
    CHECK(std::fabs(s->fraction_above(x) - (1.0 - exact)) <= slack);
  }
  CHECK(s->cdf(double(s->max())) == 1.0);
  CHECK(s->cdf(double(s->min()) - 1) == 0.0);
  CHECK(s->fraction_above(double(s->max())) == 0.0);
  CHECK(std::fabs(s->mean() - double(s->sum()) / n) < 1e-9);
}

TEST_CASE("comparison: KS distance and quantile-ratio profile", "[sketch]") {
  auto base = lognormal(20000, 50000, 0.3, 31);
  auto a = sketch_of(base);
  auto a2 = sketch_of(lognormal(20000, 50000, 0.3, 32));  // same distribution, other sample
  auto v = base;
  for (auto& x : v) x = uint64_t(std::llround(double(x) * 1.05));  // the same run, 5% slower
  auto slow = sketch_of(v);
  const double crit = argus::ks_critical(20000, 20000, 0.001);
  CHECK(argus::ks_distance(*a, *a) == 0.0);
  CHECK(argus::ks_distance(*a, *a2) < crit);
  CHECK(argus::ks_distance(*a, *slow) > crit);
  CHECK(argus::ks_distance(*a, *make()) == 0.0);
  CHECK(std::isinf(argus::ks_critical(0, 5, 0.01)));

  const auto same = argus::quantile_ratio_profile(*a, *a2);
  CHECK(same.max_abs_log_ratio < 0.1);  // sampling noise of two samples (p99.9: 20 values)
  const auto p = argus::quantile_ratio_profile(*a, *slow);
  for (double r : p.ratio) CHECK(std::fabs(r / 1.05 - 1.0) <= argus::kQuantileRatioNoise + 1e-4);
  CHECK(p.ratio[0] > 1.0 + argus::kQuantileRatioNoise);  // the median really moved
  const auto none = argus::quantile_ratio_profile(*a, *make());
  CHECK(none.max_abs_log_ratio == 0.0);
}
