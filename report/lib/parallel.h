// parallel_for: the per-rank loops of the analysis on the machine's cores. f(i) must write
// only what belongs to i (its own slot of a vector sized beforehand), so that results do not
// depend on scheduling and the report stays byte-identical.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace argus::report {

// Threads for n items of work: the machine's cores, at most 8 (the caller's included), and
// at least `grain` items a thread.
inline size_t parallel_threads(size_t n, size_t grain) {
  return std::min<size_t>({std::max(1u, std::thread::hardware_concurrency()), 8, std::max<size_t>(1, n / std::max<size_t>(1, grain))});
}

// Calls f(i) for every i in [0, n) on parallel_threads(n, grain) threads. The first exception
// thrown by f is rethrown here.
template <class F>
void parallel_for(size_t n, F&& f, size_t grain = 64) {
  size_t threads = parallel_threads(n, grain);
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  auto work = [&] {
    try {
      for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) f(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      next.store(n);
    }
  };
  std::vector<std::thread> pool;
  try {
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  } catch (const std::system_error&) {
    // No more threads to be had: the ones running (and this one) do all the work.
  }
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace argus::report
