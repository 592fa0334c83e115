// SPDX-License-Identifier: Apache-2.0
// PtrMap<Bits> — a fixed-capacity, lock-free map from a non-null pointer-sized key to a
// 64-bit value, for process-local caches of libargus (function handle → kernel row,
// allocation address → size).  No allocation (lives in static storage), no locks, no
// syscalls: safe on the launch hot path and in fork children.
//
// Open addressing, linear probing.  Key 0 = never used, 1 = erased (tombstone; reused by
// insert).  Values are stored +1 so that 0 means "slot claimed, value not written yet" and a
// concurrent find() treats it as a miss (the caller then takes its slow path).
// Contract: a key is inserted by at most one thread at a time and not concurrently with its
// own erase (true for our uses: an address is live once; a handle is cached idempotently).
#pragma once

#include <cstdint>

namespace argus {

template <unsigned Bits>
class PtrMap {
 public:
  static constexpr uint64_t kSlots = uint64_t{1} << Bits;
  static constexpr uint64_t kMaxProbe = 64;

  // Value for key, or false.
  bool find(uint64_t key, uint64_t* value) const noexcept {
    uint64_t i = slot(key);
    for (uint64_t n = 0; n < kMaxProbe; ++n, i = (i + 1) & (kSlots - 1)) {
      uint64_t k = __atomic_load_n(&s_[i].key, __ATOMIC_ACQUIRE);
      if (k == 0) return false;
      if (k == key) {
        uint64_t v = __atomic_load_n(&s_[i].value, __ATOMIC_ACQUIRE);
        if (v == 0) return false;
        *value = v - 1;
        return true;
      }
    }
    return false;
  }
  // Inserts or overwrites.  false if no slot within kMaxProbe (caller counts a drop).
  bool insert(uint64_t key, uint64_t value) noexcept {
    if (key <= 1) return false;
    uint64_t i = slot(key), tomb = UINT64_MAX;
    for (uint64_t n = 0; n < kMaxProbe; ++n, i = (i + 1) & (kSlots - 1)) {
      uint64_t k = __atomic_load_n(&s_[i].key, __ATOMIC_ACQUIRE);
      if (k == key) { __atomic_store_n(&s_[i].value, value + 1, __ATOMIC_RELEASE); return true; }
      if (k == 1 && tomb == UINT64_MAX) tomb = i;
      if (k == 0) {
        if (tomb != UINT64_MAX && claim(tomb, 1, key, value)) return true;
        if (claim(i, 0, key, value)) return true;
        // lost a race for this slot: re-examine it
        k = __atomic_load_n(&s_[i].key, __ATOMIC_ACQUIRE);
        if (k == key) { __atomic_store_n(&s_[i].value, value + 1, __ATOMIC_RELEASE); return true; }
      }
    }
    return tomb != UINT64_MAX && claim(tomb, 1, key, value);
  }
  // Removes key; returns its value in *value.  false if absent.
  bool erase(uint64_t key, uint64_t* value) noexcept {
    uint64_t i = slot(key);
    for (uint64_t n = 0; n < kMaxProbe; ++n, i = (i + 1) & (kSlots - 1)) {
      uint64_t k = __atomic_load_n(&s_[i].key, __ATOMIC_ACQUIRE);
      if (k == 0) return false;
      if (k == key) {
        uint64_t v = __atomic_exchange_n(&s_[i].value, 0, __ATOMIC_ACQ_REL);
        if (!__atomic_compare_exchange_n(&s_[i].key, &k, uint64_t{1}, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
          return false;
        if (v == 0) return false;
        if (value) *value = v - 1;
        return true;
      }
    }
    return false;
  }
  void clear() noexcept {
    for (uint64_t i = 0; i < kSlots; ++i) {
      __atomic_store_n(&s_[i].key, 0, __ATOMIC_RELAXED);
      __atomic_store_n(&s_[i].value, 0, __ATOMIC_RELAXED);
    }
  }

 private:
  struct Slot { uint64_t key; uint64_t value; };
  static uint64_t slot(uint64_t key) noexcept {
    return ((key >> 3) * 0x9E3779B97F4A7C15ull) >> (64 - Bits);
  }
  bool claim(uint64_t i, uint64_t from, uint64_t key, uint64_t value) noexcept {
    uint64_t expect = from;
    if (!__atomic_compare_exchange_n(&s_[i].key, &expect, key, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
      return false;
    __atomic_store_n(&s_[i].value, value + 1, __ATOMIC_RELEASE);
    return true;
  }
  Slot s_[kSlots] = {};
};

}  // namespace argus
