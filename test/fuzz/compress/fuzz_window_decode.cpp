// Fuzzes the window decoder: any input must be rejected cleanly or decode to a window that
// re-encodes to the same content (decode . encode . decode == decode), frame after frame.
// Each input is tried twice: as is (the checksum blocks almost every mutation, as it should),
// and with the header's stored length and CRC repaired to match the bytes that follow, so
// mutations reach the zstd and payload parsers behind the checksum.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "argus/window_codec.h"

static void run(const uint8_t* data, size_t size);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run(data, size);
  if (size >= argus::kWindowFrameHeaderBytes) {
    std::vector<uint8_t> fixed(data, data + size);
    const uint32_t stored = uint32_t(size - argus::kWindowFrameHeaderBytes);
    std::span<const uint8_t> payload(fixed.data() + argus::kWindowFrameHeaderBytes, stored);
    const uint32_t crc = argus::window_checksum(payload);
    for (int i = 0; i < 4; ++i) {
      fixed[8 + i] = uint8_t(stored >> (8 * i));
      if (!(fixed[5] & argus::kWindowFlagZstd)) fixed[12 + i] = uint8_t(stored >> (8 * i));
      fixed[16 + i] = uint8_t(crc >> (8 * i));
    }
    run(fixed.data(), fixed.size());
  }
  return 0;
}

static void run(const uint8_t* data, size_t size) {
  // Small limits keep each run fast; the checks are the same as with the defaults.
  const argus::DecodeLimits limits{.max_sketches = 64, .max_payload_bytes = 1 << 20};
  std::span<const uint8_t> in(data, size);
  for (int frames = 0; frames < 4 && !in.empty(); ++frames) {
    argus::DecodedWindow w;
    std::string err;
    size_t used = 0;
    if (!argus::decode_window(in, w, &err, limits, &used)) {
      if (err.empty() || !w.sketches.empty()) std::abort();  // a failure must say why and leave nothing
      return;
    }
    if (used == 0 || used > in.size()) std::abort();
    std::vector<argus::SketchRow> rows;
    for (const auto& s : w.sketches) {
      if (s.delta.count() == 0) std::abort();  // empty deltas are never stored
      rows.push_back({s.id, nullptr, &s.delta});
    }
    std::vector<uint8_t> again;
    if (!argus::encode_window(w.info, rows, {.zstd = (frames & 1) != 0}, again)) std::abort();
    argus::DecodedWindow w2;
    if (!argus::decode_window(again, w2, &err, limits)) std::abort();
    if (!(w2.info == w.info) || w2.sketches.size() != w.sketches.size()) std::abort();
    for (size_t i = 0; i < w.sketches.size(); ++i)
      if (w2.sketches[i].id != w.sketches[i].id ||
          std::memcmp(&w2.sketches[i].delta, &w.sketches[i].delta, sizeof(argus::Sketch)) != 0)
        std::abort();
    in = in.subspan(used);
  }
}
