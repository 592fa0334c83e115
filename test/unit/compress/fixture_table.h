// The deterministic table of sketches behind the committed decode fixtures and fuzz seeds
// (integer-only generator: identical on every compiler and standard library).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "argus/sketch.h"
#include "argus/window_codec.h"

namespace argus::fixture {

struct Table {
  std::vector<uint32_t> ids;
  std::vector<std::unique_ptr<Sketch>> before, after;  // before[i] == nullptr: new in the window
  WindowInfo info{100, 16, 1'700'000'000'000'000'000ull, 1'700'000'003'500'000'000ull, 0};
  std::vector<SketchRow> rows() const {
    std::vector<SketchRow> r;
    for (size_t i = 0; i < ids.size(); ++i) r.push_back({ids[i], before[i].get(), after[i].get()});
    return r;
  }
};

inline uint64_t lcg(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return s >> 11;
}

// Values around base with a heavy-ish tail: base * (1 + u/4) * (1 or 3 with prob 1/32).
inline uint64_t draw(uint64_t& s, uint64_t base) {
  const uint64_t u = lcg(s) % 1024;
  uint64_t v = base + base * u / 4096;
  if (lcg(s) % 32 == 0) v *= 3;
  return v;
}

// ids 3, 17, 18, 1000, 4000000000 (18 is unchanged in the window: omitted by the encoder;
// 1000 appears during the window; 4000000000 gets one value beyond the sketch range).
inline Table make_table() {
  Table t;
  const uint32_t ids[] = {3, 17, 18, 1000, 4000000000u};
  const uint64_t base[] = {2000, 48000, 130, 7'000'000, 900'000};
  uint64_t seed = 42;
  for (int i = 0; i < 5; ++i) {
    t.ids.push_back(ids[i]);
    auto live = std::make_unique<Sketch>();
    if (i != 3) {
      for (int k = 0; k < 500; ++k) live->record(draw(seed, base[i]));
      t.before.push_back(std::make_unique<Sketch>(snapshot(*live)));
    } else {
      t.before.push_back(nullptr);
    }
    if (i != 2)
      for (int k = 0; k < 64 * (i + 1); ++k) live->record(draw(seed, base[i]));
    if (i == 4) live->record(kSketchMaxTrackable + 5);
    t.after.push_back(std::make_unique<Sketch>(snapshot(*live)));
  }
  return t;
}

}  // namespace argus::fixture
