#include "dist.h"

#include <algorithm>
#include <cmath>

namespace argus::report {

int32_t Dist::bucket_of(double v) {
  if (!(v > 0)) return 0;
  double r = std::round(v);
  uint64_t u = r >= double(kSketchMaxTrackable) ? kSketchMaxTrackable : uint64_t(r);
  return int32_t(argus::Sketch::bucket_index(u));
}

double Dist::bucket_value(int32_t idx) { return argus::Sketch::bucket_value(uint32_t(idx)); }

void Dist::add(double value, uint64_t count) {
  if (count == 0 || std::isnan(value)) return;
  if (value < 0) value = 0;
  int32_t b = bucket_of(value);
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), b,
                             [](const auto& p, int32_t k) { return p.first < k; });
  if (it != buckets_.end() && it->first == b) it->second += count;
  else buckets_.insert(it, {b, count});
  if (count_ == 0) { min_ = max_ = value; }
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  count_ += count;
  sum_ += value * double(count);
}

void Dist::add_sketch(const argus::Sketch& s) {
  Dist d;
  s.for_each_nonzero([&](uint32_t i, uint64_t c) {
    d.buckets_.push_back({int32_t(i), c});
    d.count_ += c;
  });
  if (d.count_ == 0) return;
  d.sum_ = double(s.sum());
  d.min_ = double(s.min());
  d.max_ = double(s.max());
  merge(d);
}

void Dist::merge(const Dist& o) {
  if (o.count_ == 0) return;
  std::vector<std::pair<int32_t, uint64_t>> out;
  out.reserve(buckets_.size() + o.buckets_.size());
  size_t i = 0, j = 0;
  while (i < buckets_.size() || j < o.buckets_.size()) {
    if (j == o.buckets_.size() || (i < buckets_.size() && buckets_[i].first < o.buckets_[j].first)) out.push_back(buckets_[i++]);
    else if (i == buckets_.size() || o.buckets_[j].first < buckets_[i].first) out.push_back(o.buckets_[j++]);
    else { out.push_back({buckets_[i].first, buckets_[i].second + o.buckets_[j].second}); ++i; ++j; }
  }
  buckets_.swap(out);
  if (count_ == 0) { min_ = o.min_; max_ = o.max_; }
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  count_ += o.count_;
  sum_ += o.sum_;
}

double Dist::quantile(double q) const {
  if (count_ == 0) return 0.0;
  if (!(q > 0)) return min_;
  if (q >= 1) return max_;
  uint64_t rank = argus::nearest_rank(q, count_);
  uint64_t seen = 0;
  for (const auto& [b, c] : buckets_) {
    seen += c;
    if (seen >= rank) return std::clamp(bucket_value(b), min_, max_);
  }
  return max_;
}

double Dist::cdf(double x) const {
  if (count_ == 0) return 0.0;
  int32_t bx = bucket_of(x);
  uint64_t below = 0;
  for (const auto& [b, c] : buckets_) {
    if (b > bx) break;
    below += c;
  }
  return double(below) / double(count_);
}

}  // namespace argus::report
