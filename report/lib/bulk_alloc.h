// Memory for the report's few big arrays: every rank's steps and kernel windows, the rank x
// step matrices. For 1,024 ranks they are ~500 MiB, and touching fresh memory is what merging
// costs most: a page fault per 4 KiB page (~5 us each on the project's VMs), 120,000 of them.
// Blocks of 16 KiB or more are therefore carved from 64 MiB chunks that ask for transparent
// huge pages (madvise), one fault per 2 MiB; a chunk goes back to the system when its last
// block is freed. Smaller blocks use operator new. Only for trivially copyable element types:
// leak checkers do not scan these mappings for pointers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <vector>

namespace argus::report {

inline constexpr size_t kBulkMinBytes = size_t(16) << 10;

void* bulk_allocate(size_t bytes);                 // bytes >= kBulkMinBytes; 64-byte aligned
void bulk_deallocate(void* p, size_t bytes) noexcept;

template <class T>
struct BulkAllocator {
  static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  using value_type = T;
  BulkAllocator() = default;
  template <class U>
  BulkAllocator(const BulkAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    size_t bytes = n * sizeof(T);
    return static_cast<T*>(bytes >= kBulkMinBytes ? bulk_allocate(bytes) : ::operator new(bytes));
  }
  void deallocate(T* p, size_t n) noexcept {
    if (n * sizeof(T) >= kBulkMinBytes) bulk_deallocate(p, n * sizeof(T));
    else ::operator delete(p);
  }
  template <class U>
  bool operator==(const BulkAllocator<U>&) const noexcept { return true; }
};

template <class T>
using BulkVector = std::vector<T, BulkAllocator<T>>;

}  // namespace argus::report
