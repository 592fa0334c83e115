// Window codec: what happened to a TABLE of sketches (e.g. one per kernel, keyed by a uint32
// id) during one window of steps, i.e. the difference of two snapshots, encoded sparsely.
//
// Frame (little endian), one self-contained frame per window; frames may be concatenated:
//   magic "ARGW" | u8 version (1) | u8 flags (bit0: payload zstd-compressed) | u16 0
//   | u32 stored payload bytes | u32 raw payload bytes | u32 CRC-32 of the stored payload
//   | payload
// Raw payload (LEB128 varints): window info, number of sketches, then per sketch (ascending
// id): id delta, the non-zero buckets as runs (zeros skipped, run length, counts...), then
// sum/min/max relative to what the buckets imply, overflow and flags — see
// compress/window_codec.cpp.
// Only rows whose delta is non-empty are written. Lossless: decode(encode(x)) == x exactly.
//
// The decoder validates everything (magic, version, lengths, CRC, varint bounds, bucket
// ranges, count/sum/min/max consistency) and returns false with a one-line reason on any
// malformed input; it never reads out of bounds and its allocation is bounded by DecodeLimits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "argus/sketch.h"

namespace argus {

inline constexpr uint8_t kWindowMagic[4] = {'A', 'R', 'G', 'W'};
inline constexpr uint8_t kWindowCodecVersion = 1;
inline constexpr size_t kWindowFrameHeaderBytes = 20;
inline constexpr uint8_t kWindowFlagZstd = 1;

struct WindowInfo {
  uint64_t first_step = 0;  // index of the first step in the window
  uint64_t step_count = 0;  // steps covered by the window
  uint64_t begin_ns = 0;    // host clock at the window start / end (0 if unknown)
  uint64_t end_ns = 0;
  uint32_t table = 0;       // which table the ids refer to (caller-defined: kernels, collectives...)
  bool operator==(const WindowInfo&) const = default;
};

// One table row: the window delta is *after - *before (Sketch::subtract), and before must be
// an earlier snapshot of the same sketch. before == nullptr: *after is encoded as is (a row
// that appeared during the window, or a delta the caller computed).
struct SketchRow {
  uint32_t id;
  const Sketch* before;
  const Sketch* after;
};

struct EncodeOptions {
  bool zstd = true;   // compress the payload (kept raw when zstd would not make it smaller)
  int zstd_level = 3;
};

// Encodes one window. Rows may come in any order; ids must be distinct. Returns false with a
// reason (duplicate id, null after, before not a prefix of after) and leaves out empty.
bool encode_window(const WindowInfo& info, std::span<const SketchRow> rows, const EncodeOptions& opt,
                   std::vector<uint8_t>& out, std::string* error = nullptr);

// Allocation-free variant (no zstd) writing into a caller buffer, e.g. a shared-memory ring:
// returns bytes written, or 0 if the buffer is too small or the rows are invalid (at most
// 4096 rows). Uses about 36 KB of stack: call it from a thread of ours, not an app thread.
size_t encode_window_to(const WindowInfo& info, std::span<const SketchRow> rows, std::span<uint8_t> buffer) noexcept;

struct DecodedSketch {
  uint32_t id;
  Sketch delta;  // what the window recorded for this id (min/max as documented in Sketch::subtract)
};
struct DecodedWindow {
  WindowInfo info;
  std::vector<DecodedSketch> sketches;  // ascending id, none empty
};
struct DecodeLimits {
  size_t max_sketches = 16384;            // rows per window
  size_t max_payload_bytes = 16u << 20;   // raw (decompressed) payload
};

// Decodes the first frame of bytes. On success *consumed (if given) is the frame's size.
bool decode_window(std::span<const uint8_t> bytes, DecodedWindow& out, std::string* error = nullptr,
                   const DecodeLimits& limits = {}, size_t* consumed = nullptr);

// The frame checksum: CRC-32 (IEEE 802.3, as zlib's crc32) of the stored payload bytes.
uint32_t window_checksum(std::span<const uint8_t> stored_payload) noexcept;

}  // namespace argus
