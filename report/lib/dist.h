// A mergeable duration distribution for the report side: log-spaced buckets with a fixed
// relative error (1%), stored sparse and sorted so merges are linear and results are
// deterministic. The record's own sketches (argus::Sketch) are converted into this on load,
// so statistics never depend on how a rank happened to encode its data.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace argus::report {

class Dist {
 public:
  static constexpr double kRelErr = 0.01;

  void add(double value, uint64_t count = 1);
  void merge(const Dist& other);
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double mean() const { return count_ ? sum_ / double(count_) : 0.0; }
  double min() const { return count_ ? min_ : 0.0; }
  double max() const { return count_ ? max_ : 0.0; }
  // q in [0,1]; values are reported at bucket midpoints (within kRelErr), clamped to [min,max].
  double quantile(double q) const;
  // Fraction of the mass <= x.
  double cdf(double x) const;
  bool empty() const { return count_ == 0; }
  // Sorted (bucket index, count); bucket 0 (INT32_MIN) holds values <= 0.
  const std::vector<std::pair<int32_t, uint64_t>>& buckets() const { return buckets_; }
  static double bucket_value(int32_t idx);
  static int32_t bucket_of(double v);

 private:
  std::vector<std::pair<int32_t, uint64_t>> buckets_;
  uint64_t count_ = 0;
  double sum_ = 0, min_ = 0, max_ = 0;
};

}  // namespace argus::report
