// Small, exact statistics used by the report and compare: quantiles with one convention
// (linear interpolation, type 7), robust location/scale, Mann–Whitney U, Benjamini–Hochberg
// and distribution-free confidence intervals for the median.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "bulk_alloc.h"

namespace argus::report::stats {

double quantile(std::vector<double> v, double q);   // type-7; 0 for empty
double median(std::vector<double> v);
double median_in_place(std::vector<double>& v);     // median(), selecting in v (reorders it)
double median_in_place(std::vector<float>& v);      // the same figure as for the values as doubles
double median_in_place(double* v, size_t n);         // the same for v[0, n); 0 for n == 0
// quantile() of n ascending values, at(i) the i-th, read where they are (no copy, no selection).
template <class At>
double quantile_sorted(At&& at, size_t n, double q) {
  if (n == 0) return 0.0;
  q = std::clamp(q, 0.0, 1.0);
  double h = q * double(n - 1);
  size_t lo = size_t(std::floor(h));
  double a = at(lo);
  if (lo + 1 >= n || h == double(lo)) return a;
  return a + (h - double(lo)) * (at(lo + 1) - a);
}
double mean(const std::vector<double>& v);
double stddev(const std::vector<double>& v);        // sample std (n-1); 0 for n<2
double mad(const std::vector<double>& v);           // median absolute deviation (unscaled)
// Robust sigma: 1.4826*MAD, falling back to a scaled IQR/stddev when MAD is 0 (discrete data).
double robust_sigma(const std::vector<double>& v);

struct Summary {
  size_t n = 0;
  double mean = 0, std = 0, min = 0, max = 0, p50 = 0, p90 = 0, p99 = 0, cv = 0;
};
Summary summarize(const std::vector<double>& v);
// The same figures for float samples, without a copy (reorders v): the all-ranks step summary
// has a sample per rank and step, 8 million for 1,024 ranks.
Summary summarize_in_place(BulkVector<float>& v);

struct MannWhitney {
  double u = 0;        // U statistic of the first sample
  double p = 1;        // two-sided p-value
  bool exact = false;  // exact distribution (small samples, no ties) or normal approximation
};
MannWhitney mann_whitney(const std::vector<double>& a, const std::vector<double>& b);
// The smallest two-sided p-value any data could give with these sample sizes.
double mann_whitney_min_p(size_t n, size_t m);

// Benjamini–Hochberg adjusted p-values (q-values), same order as the input.
std::vector<double> benjamini_hochberg(const std::vector<double>& p);

struct Interval {
  double lo = 0, hi = 0;
  double confidence = 0;  // achieved confidence (order-statistic intervals are discrete)
};
// Distribution-free CI of the median from order statistics (binomial), at >= conf when possible.
Interval median_ci(std::vector<double> v, double conf = 0.95);

}  // namespace argus::report::stats
