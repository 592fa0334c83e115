#include "stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>

namespace argus::report::stats {

namespace {
// Type-7 quantile by selection (O(n)); reorders v. Float samples give the same figures as
// the same values widened to double.
template <class V>
double select_quantile(V& v, double q) {
  if (v.empty()) return 0.0;
  // Only the order statistics lo and lo + 1 matter: select them, interpolate as quantile_sorted.
  size_t lo = size_t(std::floor(std::clamp(q, 0.0, 1.0) * double(v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + long(lo), v.end());
  return quantile_sorted([&](size_t i) -> double { return i == lo ? v[lo] : *std::min_element(v.begin() + long(lo) + 1, v.end()); },
                         v.size(), q);
}

template <class V>
double mean_of(const V& v) {
  if (v.empty()) return 0.0;
  // Kahan-free but order-fixed: deterministic for the same input order.
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

template <class V>
double stddev_of(const V& v) {
  if (v.size() < 2) return 0.0;
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

// Everything but the quantiles (v is left untouched).
template <class V>
Summary moments_of(const V& v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  s.mean = mean_of(v);
  s.std = stddev_of(v);
  auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  s.min = *mn;
  s.max = *mx;
  s.cv = s.mean != 0 ? s.std / s.mean : 0.0;
  return s;
}

// The quantiles, selected in place (reorders work).
template <class V>
void quantiles_into(Summary& s, V& work) {
  if (work.empty()) return;
  s.p50 = select_quantile(work, 0.5);
  s.p90 = select_quantile(work, 0.9);
  s.p99 = select_quantile(work, 0.99);
}
}  // namespace

double quantile(std::vector<double> v, double q) { return select_quantile(v, q); }

double median(std::vector<double> v) { return quantile(std::move(v), 0.5); }

double median_in_place(std::vector<double>& v) { return select_quantile(v, 0.5); }

double median_in_place(std::vector<float>& v) { return select_quantile(v, 0.5); }

double median_in_place(double* v, size_t n) {
  std::span<double> s(v, n);
  return select_quantile(s, 0.5);
}

double mean(const std::vector<double>& v) { return mean_of(v); }

double stddev(const std::vector<double>& v) { return stddev_of(v); }

double mad(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double m = median(v);
  std::vector<double> d(v.size());
  for (size_t i = 0; i < v.size(); ++i) d[i] = std::fabs(v[i] - m);
  return median(std::move(d));
}

double robust_sigma(const std::vector<double>& v) {
  double s = 1.4826 * mad(v);
  if (s > 0) return s;
  double iqr = quantile(v, 0.75) - quantile(v, 0.25);
  if (iqr > 0) return iqr / 1.349;
  return stddev(v);
}

Summary summarize(const std::vector<double>& v) {
  Summary s = moments_of(v);
  std::vector<double> work(v);  // one copy, selected in place (runs of 10^7 steps stay linear)
  quantiles_into(s, work);
  return s;
}

Summary summarize_in_place(BulkVector<float>& v) {
  Summary s = moments_of(v);
  quantiles_into(s, v);
  return s;
}

namespace {
// P(U <= u) under H0 for sizes n, m: the coefficients of the Gaussian binomial
// [n+m choose n]_q count the arrangements with U = k; built as a product of
// (1 - q^(m+i)) / (1 - q^i), O(n * n * m).
double exact_cdf(size_t n, size_t m, double u) {
  size_t maxu = n * m;
  std::vector<double> c(maxu + 1, 0.0);
  c[0] = 1.0;
  for (size_t i = 1; i <= n; ++i) {
    size_t s = m + i;
    for (size_t k = maxu + 1; k-- > s;) c[k] -= c[k - s];
    for (size_t k = i; k <= maxu; ++k) c[k] += c[k - i];
  }
  double total = 0, below = 0;
  for (size_t k = 0; k <= maxu; ++k) {
    total += c[k];
    if (double(k) <= u + 1e-9) below += c[k];
  }
  return below / total;
}
}  // namespace

double mann_whitney_min_p(size_t n, size_t m) {
  if (n == 0 || m == 0) return 1.0;
  // 2 / C(n+m, n)
  double c = 1.0;
  for (size_t i = 1; i <= n; ++i) c = c * double(m + i) / double(i);
  return std::min(1.0, 2.0 / c);
}

MannWhitney mann_whitney(const std::vector<double>& a, const std::vector<double>& b) {
  MannWhitney r;
  size_t n = a.size(), m = b.size();
  if (n == 0 || m == 0) return r;
  std::vector<std::pair<double, int>> all;
  all.reserve(n + m);
  for (double x : a) all.push_back({x, 0});
  for (double x : b) all.push_back({x, 1});
  std::sort(all.begin(), all.end());
  std::vector<double> rank(all.size());
  double tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j + 1 < all.size() && all[j + 1].first == all[i].first) ++j;
    double rk = (double(i) + double(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) rank[k] = rk;
    double t = double(j - i + 1);
    if (t > 1) { ties = true; tie_term += t * t * t - t; }
    i = j + 1;
  }
  double ra = 0;
  for (size_t k = 0; k < all.size(); ++k)
    if (all[k].second == 0) ra += rank[k];
  double u = ra - double(n) * double(n + 1) / 2.0;
  r.u = u;
  double nm = double(n) * double(m);
  double umin = std::min(u, nm - u);
  if (!ties && n <= 30 && m <= 30) {
    r.exact = true;
    r.p = std::min(1.0, 2.0 * exact_cdf(n, m, umin));
    return r;
  }
  double N = double(n + m);
  double mu = nm / 2.0;
  double var = nm / 12.0 * ((N + 1) - tie_term / (N * (N - 1)));
  if (var <= 0) { r.p = 1.0; return r; }
  double z = (std::fabs(u - mu) - 0.5) / std::sqrt(var);  // continuity correction
  if (z < 0) z = 0;
  r.p = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return r;
}

std::vector<double> benjamini_hochberg(const std::vector<double>& p) {
  size_t n = p.size();
  std::vector<double> q(n);
  if (n == 0) return q;
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return p[x] < p[y]; });
  double prev = 1.0;
  for (size_t k = n; k-- > 0;) {
    double v = std::min(prev, p[idx[k]] * double(n) / double(k + 1));
    prev = v;
    q[idx[k]] = std::min(1.0, v);
  }
  return q;
}

Interval median_ci(std::vector<double> v, double conf) {
  Interval iv;
  if (v.empty()) return iv;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  iv.lo = v.front();
  iv.hi = v.back();
  // P(X_(k) <= median <= X_(n-k+1)) = 1 - 2 * P(Bin(n, .5) <= k-1). Find the largest k that
  // still reaches conf; with too few samples the widest interval [min, max] is reported with
  // its real (lower) confidence.
  std::vector<double> cdf(n + 1);
  double pk = std::pow(0.5, double(n)), acc = 0;
  for (size_t k = 0; k <= n; ++k) {
    acc += pk;
    cdf[k] = acc;
    pk = pk * double(n - k) / double(k + 1);
  }
  size_t best = 0;
  double best_conf = 1.0 - 2.0 * 0.0;  // k=0 would be (-inf, inf)
  for (size_t k = 1; k <= n / 2 + 1 && k <= n; ++k) {
    double c = 1.0 - 2.0 * cdf[k - 1];
    if (c >= conf) { best = k; best_conf = c; }
    else break;
  }
  if (best == 0) {
    iv.confidence = n >= 1 ? 1.0 - 2.0 * cdf[0] : 0.0;
    return iv;
  }
  iv.lo = v[best - 1];
  iv.hi = v[n - best];
  iv.confidence = best_conf;
  return iv;
}

}  // namespace argus::report::stats
