#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "dist.h"
#include "stats.h"

using namespace argus::report;

TEST_CASE("quantiles, summary and robust scale", "[stats]") {
  std::vector<double> v = {5, 1, 4, 2, 3};
  CHECK(stats::median(v) == 3);
  CHECK(stats::quantile(v, 0.25) == 2);
  CHECK(stats::quantile({1, 2}, 0.5) == 1.5);
  auto s = stats::summarize({2, 4, 4, 4, 5, 5, 7, 9});
  CHECK(s.mean == Approx(5));
  CHECK(s.std == Approx(2.13809).epsilon(1e-4));
  CHECK(s.min == 2);
  CHECK(s.max == 9);
  CHECK(s.cv == Approx(2.13809 / 5).epsilon(1e-4));
  CHECK(stats::mad({1, 1, 2, 2, 4, 6, 9}) == 1);
  // A single outlier does not move the robust sigma.
  std::vector<double> w(99, 10.0);
  for (size_t i = 0; i < w.size(); ++i) w[i] += double(i % 3) - 1.0;
  double before = stats::robust_sigma(w);
  w.push_back(1e6);
  CHECK(stats::robust_sigma(w) == Approx(before).epsilon(0.05));
}

TEST_CASE("Mann-Whitney U matches known values", "[stats]") {
  // Exact: completely separated samples of 5 and 5: p = 2/252.
  auto r = stats::mann_whitney({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10});
  CHECK(r.exact);
  CHECK(r.u == 0);
  CHECK(r.p == Approx(2.0 / 252.0));
  CHECK(stats::mann_whitney_min_p(5, 5) == Approx(2.0 / 252.0));
  CHECK(stats::mann_whitney_min_p(3, 3) > 0.05);  // too few samples for any verdict
  // Identical samples: p = 1.
  CHECK(stats::mann_whitney({1, 2, 3}, {1, 2, 3}).p == Approx(1.0));
  // R: wilcox.test(c(1.83,0.50,1.62,2.48,1.68,1.88,1.55,3.06,1.30), c(0.878,0.647,0.598,2.05,1.06,1.29,1.06,3.14,1.29)) -> W = 58, p = 0.1329
  auto k = stats::mann_whitney({1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}, {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29});
  CHECK(k.u == 58);
  CHECK(k.p == Approx(0.1329).epsilon(0.01));
  // Large samples use the normal approximation; a real shift is found, noise is not.
  std::mt19937_64 g(3);
  std::normal_distribution<double> n(0, 1);
  std::vector<double> a, b, c;
  for (int i = 0; i < 200; ++i) { a.push_back(n(g)); b.push_back(n(g) + 0.5); c.push_back(n(g)); }
  CHECK(stats::mann_whitney(a, b).p < 1e-4);
  CHECK(stats::mann_whitney(a, c).p > 0.01);
}

TEST_CASE("Benjamini-Hochberg adjusted p-values", "[stats]") {
  // Known example: p = (0.01, 0.04, 0.03, 0.005) -> q = (0.02, 0.04, 0.04, 0.02)
  auto q = stats::benjamini_hochberg({0.01, 0.04, 0.03, 0.005});
  REQUIRE(q.size() == 4);
  CHECK(q[0] == Approx(0.02));
  CHECK(q[1] == Approx(0.04));
  CHECK(q[2] == Approx(0.04));
  CHECK(q[3] == Approx(0.02));
  CHECK(stats::benjamini_hochberg({}).empty());
}

TEST_CASE("median confidence interval covers the median at the stated level", "[stats]") {
  std::mt19937_64 g(11);
  std::exponential_distribution<double> e(1.0);
  int covered = 0, trials = 400;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> v;
    for (int i = 0; i < 25; ++i) v.push_back(e(g));
    auto ci = stats::median_ci(v, 0.95);
    CHECK(ci.confidence >= 0.95);
    if (ci.lo <= std::log(2.0) && std::log(2.0) <= ci.hi) ++covered;
  }
  CHECK(covered >= int(0.92 * trials));
  auto tiny = stats::median_ci({1, 2, 3}, 0.95);
  CHECK(tiny.confidence < 0.95);  // honest about what three samples can say
}

TEST_CASE("Dist quantiles within the sketch error, merge is exact", "[dist]") {
  std::mt19937_64 g(5);
  std::lognormal_distribution<double> ln(std::log(1e5), 0.3);
  std::vector<double> xs;
  Dist a, b;
  for (int i = 0; i < 20000; ++i) {
    double x = std::round(ln(g));
    xs.push_back(x);
    (i % 2 ? a : b).add(x);
  }
  a.merge(b);
  std::sort(xs.begin(), xs.end());
  CHECK(a.count() == xs.size());
  for (double q : {0.01, 0.5, 0.9, 0.99}) {
    double exact = xs[argus::nearest_rank(q, xs.size()) - 1];
    CHECK(std::fabs(a.quantile(q) - exact) / exact <= argus::kSketchMaxRelativeError + 1e-9);
  }
  CHECK(a.quantile(0) == xs.front());
  CHECK(a.quantile(1) == xs.back());
  // Converting an argus::Sketch is lossless.
  static argus::Sketch s;
  s.clear();
  for (double x : xs) s.record_single_writer(uint64_t(x));
  Dist d;
  d.add_sketch(s);
  CHECK(d.count() == s.count());
  for (double q : {0.1, 0.5, 0.99}) CHECK(d.quantile(q) == Approx(s.quantile(q)));
}

TEST_CASE("in-place and sorted-order quantiles give summarize()'s figures exactly", "[stats]") {
  std::mt19937_64 g(7);
  std::lognormal_distribution<float> d(10.0f, 0.5f);
  for (size_t n : {1u, 2u, 3u, 10u, 101u, 5000u}) {
    BulkVector<float> f(n);
    for (auto& x : f) x = d(g);
    std::vector<double> v(f.begin(), f.end());
    auto a = stats::summarize(v);
    auto b = stats::summarize_in_place(f);
    CHECK(a.n == b.n);
    CHECK(a.mean == b.mean);
    CHECK(a.std == b.std);
    CHECK(a.min == b.min);
    CHECK(a.max == b.max);
    CHECK(a.p50 == b.p50);
    CHECK(a.p90 == b.p90);
    CHECK(a.p99 == b.p99);
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    for (double q : {0.0, 0.25, 0.5, 0.9, 1.0})
      CHECK(stats::quantile_sorted([&](size_t i) { return sorted[i]; }, n, q) == stats::quantile(v, q));
    std::vector<double> copy = v;
    CHECK(stats::median_in_place(copy) == stats::median(v));
    std::vector<float> floats(v.begin(), v.end());
    CHECK(stats::median_in_place(floats) == stats::median(v));
  }
}

TEST_CASE("bulk allocator: blocks of every size keep their contents, across threads and chunks", "[stats]") {
  // 64 MiB chunks, 16 MiB and larger blocks mapped on their own: cross both limits.
  auto work = [](uint32_t seed) {
    std::mt19937 g(seed);
    std::vector<BulkVector<uint32_t>> keep;
    size_t total = 0;
    while (total < (size_t(160) << 20)) {
      size_t n = g() % 3 == 0 ? 1 + g() % 2000 : (size_t(1) << (10 + g() % 13)) + g() % 1000;  // up to ~16 M elements
      BulkVector<uint32_t> v(n);
      for (size_t i = 0; i < n; i += 1024) v[i] = uint32_t(i) ^ seed;
      v[n - 1] = uint32_t(n) ^ seed;
      total += n * sizeof(uint32_t);
      if (g() % 2) keep.push_back(std::move(v));  // the others are freed at once
    }
    bool ok = true;
    for (const auto& v : keep) {
      for (size_t i = 0; i + 1 < v.size(); i += 1024) ok = ok && v[i] == (uint32_t(i) ^ seed);
      ok = ok && v.back() == (uint32_t(v.size()) ^ seed) && reinterpret_cast<uintptr_t>(v.data()) % alignof(std::max_align_t) == 0;
    }
    return ok;
  };
  bool other = false;
  std::thread t([&] { other = work(2); });
  bool mine = work(1);
  t.join();
  CHECK(mine);
  CHECK(other);
}
