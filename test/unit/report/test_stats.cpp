#include <algorithm>
#include <cmath>
#include <random>

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
