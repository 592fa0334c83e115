// A mergeable duration distribution for the report side: the bucket grid of argus::Sketch
// (0.78% relative error), stored sparse and sorted so merges are linear, memory is
// proportional to the buckets actually used, and results are deterministic. A record's
// sketches convert into this losslessly; tests build it from raw samples.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include <argus/sketch.h>

namespace argus::report {

class Dist {
 public:

  void add(double value, uint64_t count = 1);
  void merge(const Dist& other);
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double mean() const { return count_ ? sum_ / double(count_) : 0.0; }
  double min() const { return count_ ? min_ : 0.0; }
  double max() const { return count_ ? max_ : 0.0; }
  // Nearest-rank quantile (argus::nearest_rank), the bucket midpoint clamped to [min, max];
  // q <= 0 gives min, q >= 1 max. Same convention as argus::Sketch::quantile.
  double quantile(double q) const;
  // Fraction of the mass <= x.
  double cdf(double x) const;
  bool empty() const { return count_ == 0; }
  void add_sketch(const argus::Sketch& s);  // exact: same grid
  // Sorted (argus::Sketch bucket index, count).
  const std::vector<std::pair<int32_t, uint64_t>>& buckets() const { return buckets_; }
  static double bucket_value(int32_t idx);
  static int32_t bucket_of(double v);

 private:
  std::vector<std::pair<int32_t, uint64_t>> buckets_;
  uint64_t count_ = 0;
  double sum_ = 0, min_ = 0, max_ = 0;
};

}  // namespace argus::report
