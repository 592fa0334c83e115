// argus::Sketch — a fixed-size, shared-memory-safe duration histogram (nanoseconds).
//
// Layout contract (embedded in the rank record, read by report/):
//   * trivially copyable, standard layout, no pointers, sizeof == kSketchBytes (19,008 B);
//   * ALL-ZERO BYTES ARE A VALID EMPTY SKETCH (shm segments are zero-filled by ftruncate):
//     the minimum is kept as its bitwise complement (min_inv = ~min) so that both min and
//     max are maintained with "fetch_max" starting from 0;
//   * a change of this layout bumps kSketchLayoutVersion (the record header carries it).
//
// Buckets are log-linear (HdrHistogram style, count-leading-zeros indexing):
//   values 0..127 ns have one bucket each (exact); above, every power of two [2^e, 2^(e+1))
//   is cut into 64 equal sub-buckets. A bucket [lo, hi] has hi - lo + 1 <= lo / 64, so
//   reporting its midpoint is off by at most (hi-lo)/2 / lo < 1/128 = 0.78% of any value in
//   it: every quantile is within 0.78% relative error of the exact (nearest-rank) quantile.
//   Range: 0 .. kSketchMaxTrackable = 2^42-1 ns (73.3 minutes). Larger values are clamped
//   into the last bucket and counted in overflow_count; sum/min/max stay exact for them.
//
// Writers: record() is safe from any number of threads at once (relaxed atomic RMW on plain
// uint64 fields; no allocation, locks, syscalls or exceptions). record_single_writer() is the
// cheaper variant when exactly one thread writes a sketch (relaxed load+store, no RMW);
// readers may still snapshot it concurrently.
// Cost measured on the dev VM (AMD EPYC, 2 vCPU; scripts/bench sketch): record() ~12 ns —
// it needs two lock-prefixed adds (bucket and sum) and one costs ~7.5 ns there, so the 5 ns
// target is out of reach for any multi-writer RMW design on that machine; record_single_writer()
// ~2 ns. Two threads hammering ONE sketch pay cache-line ping-pong (~25-55 ns): give hot
// writers their own sketch (e.g. the CUPTI buffer-completion thread) and merge when reading.
// Readers: take snapshot() (relaxed loads, TSan-clean) and query the copy. count is the sum
// of the buckets (not a separate field: one atomic less per record), so it is exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace argus {

inline constexpr uint32_t kSketchLayoutVersion = 1;
inline constexpr uint32_t kSketchSubBucketBits = 6;                              // 64 per octave
inline constexpr uint32_t kSketchSubBuckets = 1u << kSketchSubBucketBits;       // 64
inline constexpr uint32_t kSketchLinearLimit = 2u * kSketchSubBuckets;          // 0..127 exact
inline constexpr uint32_t kSketchMaxExponent = 41;                              // top octave 2^41
inline constexpr uint64_t kSketchMaxTrackable = (uint64_t{1} << (kSketchMaxExponent + 1)) - 1;
inline constexpr uint32_t kSketchBuckets =
    (kSketchMaxExponent - kSketchSubBucketBits + 1) * kSketchSubBuckets + kSketchLinearLimit - kSketchSubBuckets;  // 2368
inline constexpr double kSketchMaxRelativeError = 1.0 / (2.0 * kSketchSubBuckets);  // 0.78%

// Flags (never touched by writers; set by reader-side operations, OR-ed by merge).
inline constexpr uint64_t kSketchFlagMinMaxApprox = 1;  // min/max of a window delta are bucket bounds

struct Sketch {
  uint64_t sum_ns;          // exact sum (mod 2^64: 584 years of nanoseconds)
  uint64_t min_inv;         // ~min; 0 <=> empty (min "= UINT64_MAX")
  uint64_t max_ns;          // exact max; 0 when empty
  uint64_t overflow_count;  // values > kSketchMaxTrackable (clamped into the last bucket)
  uint64_t flags;           // kSketchFlag*
  uint64_t reserved[3];     // zero; keeps buckets 64-byte aligned relative to the struct
  uint64_t buckets[kSketchBuckets];

  // ---- bucket geometry (constexpr, usable anywhere) ----
  // index = (s << 6) + (v >> s) with s = max(floor(log2 v) - 6, 0): branch-free apart from the clamp.
  static constexpr uint32_t bucket_index(uint64_t v) noexcept {
    if (v > kSketchMaxTrackable) v = kSketchMaxTrackable;
    const int e = 63 - __builtin_clzll(v | 1);
    const int s = e > int(kSketchSubBucketBits) ? e - int(kSketchSubBucketBits) : 0;
    return (uint32_t(s) << kSketchSubBucketBits) + uint32_t(v >> s);
  }
  static constexpr uint64_t bucket_lower(uint32_t i) noexcept {
    if (i < kSketchLinearLimit) return i;
    const uint32_t s = (i >> kSketchSubBucketBits) - 1;
    return uint64_t(i - (s << kSketchSubBucketBits)) << s;
  }
  static constexpr uint64_t bucket_upper(uint32_t i) noexcept {  // inclusive
    if (i < kSketchLinearLimit) return i;
    const uint32_t s = (i >> kSketchSubBucketBits) - 1;
    return ((uint64_t(i - (s << kSketchSubBucketBits)) + 1) << s) - 1;
  }
  // The value reported for a bucket: its midpoint (exact for the linear buckets).
  static constexpr double bucket_value(uint32_t i) noexcept {
    return 0.5 * (double(bucket_lower(i)) + double(bucket_upper(i)));
  }

  // ---- writer side ----
  // Thread-safe from any number of threads; relaxed atomics only.
  void record(uint64_t ns) noexcept {
    __atomic_fetch_add(&buckets[bucket_index(ns)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&sum_ns, ns, __ATOMIC_RELAXED);
    atomic_max(max_ns, ns);
    atomic_max(min_inv, ~ns);
    if (ns > kSketchMaxTrackable) [[unlikely]]
      __atomic_fetch_add(&overflow_count, 1, __ATOMIC_RELAXED);
  }
  // Only one thread may ever write this sketch (concurrent snapshot() readers are fine).
  void record_single_writer(uint64_t ns) noexcept {
    bump(buckets[bucket_index(ns)], 1);
    bump(sum_ns, ns);
    if (ns > load(max_ns)) store(max_ns, ns);
    if (~ns > load(min_inv)) store(min_inv, ~ns);
    if (ns > kSketchMaxTrackable) [[unlikely]] bump(overflow_count, 1);
  }

  // ---- reader side: copy a live sketch (per-field relaxed loads; writers may continue) ----
  void snapshot_from(const Sketch& live) noexcept {
    sum_ns = load(live.sum_ns);
    min_inv = load(live.min_inv);
    max_ns = load(live.max_ns);
    overflow_count = load(live.overflow_count);
    flags = load(live.flags);
    for (auto& r : reserved) r = 0;
    for (uint32_t i = 0; i < kSketchBuckets; ++i) buckets[i] = load(live.buckets[i]);
  }

  // ---- queries on a snapshot (or any sketch nobody writes concurrently) ----
  uint64_t count() const noexcept {
    uint64_t n = 0;
    for (uint32_t i = 0; i < kSketchBuckets; ++i) n += buckets[i];
    return n;
  }
  bool empty() const noexcept { return min_inv == 0 && max_ns == 0 && count() == 0; }
  uint64_t sum() const noexcept { return sum_ns; }
  uint64_t min() const noexcept { return min_inv == 0 ? 0 : ~min_inv; }  // 0 when empty
  uint64_t max() const noexcept { return max_ns; }
  double mean() const noexcept {
    const uint64_t n = count();
    return n ? double(sum_ns) / double(n) : 0.0;
  }
  // f(uint32_t bucket_index, uint64_t count) for every non-zero bucket, ascending index.
  template <class F>
  void for_each_nonzero(F&& f) const {
    for (uint32_t i = 0; i < kSketchBuckets; ++i)
      if (buckets[i]) f(i, buckets[i]);
  }
  void clear() noexcept { *this = Sketch{}; }

  // Defined in compress/ (link argus_compress):
  // Nearest-rank quantile: the bucket holding the ceil(q*n)-th smallest value, reported as its
  // midpoint clamped to [min, max]; q <= 0 gives min, q >= 1 gives max (both exact). 0 if empty.
  double quantile(double q) const noexcept;
  // Fraction of values <= x (linear interpolation inside the bucket containing x). 0 if empty.
  double cdf(double x) const noexcept;
  double fraction_above(double x) const noexcept { return empty() ? 0.0 : 1.0 - cdf(x); }
  // Exact merge: buckets, sum, overflow added; min/max combined; flags OR-ed.
  void merge(const Sketch& other) noexcept;
  // *this = newer - older, for two snapshots of the same cumulative sketch (older taken
  // first): what was recorded in between. min/max are exact when the window moved the
  // cumulative min/max, else the bounds of the lowest/highest non-empty delta bucket clamped
  // to the cumulative min/max (kSketchFlagMinMaxApprox is then set). Returns false (and
  // leaves *this empty) when older is not a prefix of newer (a bucket decreased).
  bool subtract(const Sketch& newer, const Sketch& older) noexcept;

 private:
  static uint64_t load(const uint64_t& x) noexcept { return __atomic_load_n(&x, __ATOMIC_RELAXED); }
  static void store(uint64_t& x, uint64_t v) noexcept { __atomic_store_n(&x, v, __ATOMIC_RELAXED); }
  static void bump(uint64_t& x, uint64_t d) noexcept { store(x, load(x) + d); }
  static void atomic_max(uint64_t& x, uint64_t v) noexcept {
    uint64_t cur = load(x);
    while (v > cur && !__atomic_compare_exchange_n(&x, &cur, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
  }
};

inline constexpr size_t kSketchBytes = sizeof(Sketch);
static_assert(kSketchBuckets == 2368);
static_assert(kSketchBytes == 64 + 8 * kSketchBuckets);
static_assert(std::is_trivially_copyable_v<Sketch> && std::is_standard_layout_v<Sketch>);
static_assert(Sketch::bucket_index(kSketchMaxTrackable) == kSketchBuckets - 1);
static_assert(Sketch::bucket_upper(kSketchBuckets - 1) == kSketchMaxTrackable);
static_assert(Sketch::bucket_index(127) == 127 && Sketch::bucket_index(128) == 128);
static_assert(offsetof(Sketch, buckets) == 64);

// Nearest-rank definition used by Sketch::quantile (and by the tests' exact quantiles):
// the rank (1-based) of the q-quantile among n sorted values is ceil(q*n) clamped to [1, n].
// q*n is computed in long double and nudged down by a relative 1e-12 so that e.g. 0.9*10 is
// rank 9, not 10 because of binary rounding.
inline uint64_t nearest_rank(double q, uint64_t n) noexcept {
  if (n == 0) return 0;
  if (!(q > 0.0)) return 1;
  if (q >= 1.0) return n;
  const long double r = (long double)q * (long double)n;
  long double c = r - r * 1e-12L;
  uint64_t k = (uint64_t)c;
  if ((long double)k < c) ++k;
  return k < 1 ? 1 : (k > n ? n : k);
}

// A snapshot of a live (possibly concurrently written) sketch.
inline Sketch snapshot(const Sketch& live) noexcept {
  Sketch s;
  s.snapshot_from(live);
  return s;
}

// ---- distribution comparison (defined in compress/) ----
// Two-sample Kolmogorov–Smirnov distance sup_x |F_a(x) - F_b(x)| evaluated at every bucket
// boundary. Both sketches share one bucket grid, so this is exactly the KS distance of the
// bucketed samples; it can only understate the true distance, by at most the mass of a single
// bucket, i.e. a shift smaller than 0.78% of the value can hide. Why KS: distribution-free,
// scale-free, sensitive to shifts anywhere in the body, and with a known null distribution
// (ks_critical) so "same execution?" becomes a test with a stated false-alarm rate.
// Returns 0 when either sketch is empty.
double ks_distance(const Sketch& a, const Sketch& b) noexcept;
// Critical KS distance at significance alpha for sample sizes n, m (asymptotic formula
// c(alpha) * sqrt((n+m)/(n*m)), c = sqrt(-ln(alpha/2)/2)); infinity if n or m is 0.
double ks_critical(uint64_t n, uint64_t m, double alpha) noexcept;

// Quantile-ratio profile b/a at fixed quantiles: tells by how much (not just whether) a
// distribution moved, and where (body vs tail) — what KS cannot say. Each sketch quantile is
// within 0.78% of exact, so a ratio outside [0.9845, 1.0157] is a real shift of the data.
inline constexpr double kProfileQuantiles[] = {0.5, 0.9, 0.99, 0.999};
inline constexpr size_t kProfileSize = sizeof(kProfileQuantiles) / sizeof(kProfileQuantiles[0]);
struct QuantileRatioProfile {
  double ratio[kProfileSize];  // quantile_b(q) / quantile_a(q); 0 when undefined (empty or a_q == 0)
  double max_abs_log_ratio;    // max |ln ratio| over the defined entries; 0 if none
};
QuantileRatioProfile quantile_ratio_profile(const Sketch& a, const Sketch& b) noexcept;
// A ratio within this band can be sketch error alone (both quantiles at worst-case error).
inline constexpr double kQuantileRatioNoise = (1.0 + kSketchMaxRelativeError) / (1.0 - kSketchMaxRelativeError) - 1.0;

}  // namespace argus
