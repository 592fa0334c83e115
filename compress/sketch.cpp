// Reader-side operations of argus::Sketch (queries, merge, window delta, comparison).
// Everything here works on snapshots: plain reads, no atomics.
#include "argus/sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace argus {

double Sketch::quantile(double q) const noexcept {
  const uint64_t n = count();
  if (n == 0) return 0.0;
  if (!(q > 0.0)) return double(min());
  if (q >= 1.0) return double(max());
  const uint64_t rank = nearest_rank(q, n);
  uint64_t cum = 0;
  uint32_t i = 0;
  for (; i < kSketchBuckets; ++i) {
    cum += buckets[i];
    if (cum >= rank) break;
  }
  if (i == kSketchBuckets) i = kSketchBuckets - 1;  // unreachable: cum ends at n >= rank
  // The midpoint is within 0.78% of every value of the bucket; clamping to the exact
  // [min, max] can only move it closer to the true value (which lies in both ranges).
  const double v = bucket_value(i);
  if (min() > max()) return v;  // only in a malformed sketch; std::clamp needs lo <= hi
  return std::clamp(v, double(min()), double(max()));
}

double Sketch::cdf(double x) const noexcept {
  const uint64_t n = count();
  if (n == 0 || std::isnan(x)) return 0.0;
  if (x < double(min())) return 0.0;
  if (x >= double(max())) return 1.0;
  // Here 0 <= min <= x < max, so floor(x) fits in uint64.
  const uint64_t xi = uint64_t(std::floor(x));
  const uint32_t b = bucket_index(xi);
  uint64_t below = 0;
  for (uint32_t i = 0; i < b; ++i) below += buckets[i];
  const uint64_t lo = bucket_lower(b), hi = bucket_upper(b);
  const double frac = double(std::min(xi, hi) - lo + 1) / double(hi - lo + 1);
  return (double(below) + frac * double(buckets[b])) / double(n);
}

void Sketch::merge(const Sketch& o) noexcept {
  for (uint32_t i = 0; i < kSketchBuckets; ++i) buckets[i] += o.buckets[i];
  sum_ns += o.sum_ns;
  overflow_count += o.overflow_count;
  min_inv = std::max(min_inv, o.min_inv);  // larger ~min == smaller min; 0 (empty) is neutral
  max_ns = std::max(max_ns, o.max_ns);
  flags |= o.flags;
}

bool Sketch::subtract(const Sketch& newer, const Sketch& older) noexcept {
  Sketch d{};  // built aside: *this may alias newer or older
  bool ok = newer.overflow_count >= older.overflow_count;
  uint32_t first = kSketchBuckets, last = 0;
  for (uint32_t i = 0; i < kSketchBuckets && ok; ++i) {
    if (newer.buckets[i] < older.buckets[i]) ok = false;
    d.buckets[i] = newer.buckets[i] - older.buckets[i];
    if (d.buckets[i]) {
      if (first == kSketchBuckets) first = i;
      last = i;
    }
  }
  if (!ok || first == kSketchBuckets) {  // invalid, or nothing happened in the window
    *this = Sketch{};
    return ok;
  }
  d.sum_ns = newer.sum_ns - older.sum_ns;  // modular: right even across a wrap
  d.overflow_count = newer.overflow_count - older.overflow_count;
  d.flags = newer.flags | older.flags;
  // Min: exact if the window lowered the cumulative min, else bounded by the lowest bucket.
  // (A snapshot taken mid-record can show a bucket before its min/max update: the
  // std::clamp keeps the result inside the bucket whatever the cumulative values say.)
  if (newer.min_inv > older.min_inv) {
    d.min_inv = newer.min_inv;
  } else {
    const uint64_t lo = bucket_lower(first), hi = bucket_upper(first);
    d.min_inv = ~std::clamp(newer.min(), lo, hi);
    if (lo != hi) d.flags |= kSketchFlagMinMaxApprox;
  }
  if (newer.max_ns > older.max_ns) {
    d.max_ns = newer.max_ns;
  } else {
    const uint64_t lo = bucket_lower(last);
    const uint64_t hi = d.overflow_count ? std::numeric_limits<uint64_t>::max() : bucket_upper(last);
    d.max_ns = std::clamp(newer.max_ns, lo, hi);
    if (lo != hi) d.flags |= kSketchFlagMinMaxApprox;
  }
  *this = d;
  return true;
}

double ks_distance(const Sketch& a, const Sketch& b) noexcept {
  const uint64_t na = a.count(), nb = b.count();
  if (na == 0 || nb == 0) return 0.0;
  uint64_t ca = 0, cb = 0;
  double d = 0.0;
  for (uint32_t i = 0; i < kSketchBuckets; ++i) {
    if (!a.buckets[i] && !b.buckets[i]) continue;
    ca += a.buckets[i];
    cb += b.buckets[i];
    d = std::max(d, std::fabs(double(ca) / double(na) - double(cb) / double(nb)));
  }
  return d;
}

double ks_critical(uint64_t n, uint64_t m, double alpha) noexcept {
  if (n == 0 || m == 0) return std::numeric_limits<double>::infinity();
  const double c = std::sqrt(-0.5 * std::log(alpha / 2.0));
  return c * std::sqrt((double(n) + double(m)) / (double(n) * double(m)));
}

QuantileRatioProfile quantile_ratio_profile(const Sketch& a, const Sketch& b) noexcept {
  QuantileRatioProfile p{};
  const bool both = a.count() && b.count();
  for (size_t k = 0; k < kProfileSize; ++k) {
    const double qa = both ? a.quantile(kProfileQuantiles[k]) : 0.0;
    const double qb = both ? b.quantile(kProfileQuantiles[k]) : 0.0;
    p.ratio[k] = qa > 0.0 ? qb / qa : 0.0;
    if (p.ratio[k] > 0.0) p.max_abs_log_ratio = std::max(p.max_abs_log_ratio, std::fabs(std::log(p.ratio[k])));
  }
  return p;
}

}  // namespace argus
