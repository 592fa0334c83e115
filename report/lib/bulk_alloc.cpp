#include "bulk_alloc.h"

#include <sys/mman.h>

#include <atomic>

namespace argus::report {
namespace {

constexpr size_t kChunk = size_t(64) << 20;        // chunk size and alignment
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kOwnMapping = kChunk / 4;         // larger blocks get a mapping of their own
constexpr size_t kHeader = 64;                     // the chunk's reference count, at its start

size_t round_up(size_t v, size_t to) { return (v + to - 1) / to * to; }

// `bytes` (a multiple of kHugePage) at an `align`-aligned address, asking for huge pages.
void* map_aligned(size_t bytes, size_t align) {
  size_t len = bytes + align;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  auto b = reinterpret_cast<uintptr_t>(p);
  uintptr_t a = (b + align - 1) & ~uintptr_t(align - 1);
  if (a > b) munmap(p, a - b);
  if (b + len > a + bytes) munmap(reinterpret_cast<void*>(a + bytes), b + len - (a + bytes));
  madvise(reinterpret_cast<void*>(a), bytes, MADV_HUGEPAGE);  // a hint: without THP, plain pages
  return reinterpret_cast<void*>(a);
}

// Blocks in the chunk, plus one while a thread still allocates from it.
std::atomic<size_t>& refs(char* chunk) { return *reinterpret_cast<std::atomic<size_t>*>(chunk); }

void release(char* chunk) noexcept {
  if (refs(chunk).fetch_sub(1, std::memory_order_acq_rel) == 1) munmap(chunk, kChunk);
}

// Each thread fills its own chunk (no lock); the loader's threads each decode whole ranks.
struct Cursor {
  char* chunk = nullptr;
  size_t used = 0;
  ~Cursor() { if (chunk) release(chunk); }
};
thread_local Cursor cursor;

}  // namespace

void* bulk_allocate(size_t bytes) {
  if (bytes > kOwnMapping) return map_aligned(round_up(bytes, kHugePage), kHugePage);
  bytes = round_up(bytes, 64);
  Cursor& c = cursor;
  if (!c.chunk || c.used + bytes > kChunk) {
    char* fresh = static_cast<char*>(map_aligned(kChunk, kChunk));
    new (fresh) std::atomic<size_t>(1);
    if (c.chunk) release(c.chunk);
    c.chunk = fresh;
    c.used = kHeader;
  }
  refs(c.chunk).fetch_add(1, std::memory_order_relaxed);
  void* p = c.chunk + c.used;
  c.used += bytes;
  return p;
}

void bulk_deallocate(void* p, size_t bytes) noexcept {
  if (bytes > kOwnMapping) {
    munmap(p, round_up(bytes, kHugePage));
    return;
  }
  release(reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(p) & ~uintptr_t(kChunk - 1)));
}

}  // namespace argus::report
