// Window codec (format in include/argus/window_codec.h).
//
// Raw payload, all LEB128 varints (at most 10 bytes, no overlong final byte):
//   first_step step_count begin_ns end_ns table  n_sketches
//   per sketch, ascending id:
//     id (first) or id - previous_id - 1
//     count sum min (max - min) overflow flags
//     n_runs, then per run: gap (zero buckets since the end of the previous run, or since
//     bucket 0), len (>= 1), then len values (count - 1; run buckets are non-zero)
// Window deltas are small integers, so most fields take one or two bytes; zstd on top
// removes the repetition across sketches (similar bucket positions, similar counts).
#include "argus/window_codec.h"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <numeric>

namespace argus {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kCrcTable = make_crc_table();

uint32_t crc32(const uint8_t* p, size_t n) noexcept {  // IEEE 802.3 CRC-32
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = kCrcTable[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put_u32le(uint8_t* p, uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint32_t get_u32le(const uint8_t* p) noexcept {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Writes into a fixed span; remembers overflow instead of writing past the end.
struct SpanWriter {
  uint8_t* p;
  size_t cap;
  size_t n = 0;
  bool overflow = false;
  void byte(uint8_t b) noexcept {  // n counts every byte, so a zero-capacity writer measures
    if (n < cap) p[n] = b;
    else overflow = true;
    ++n;
  }
  void varint(uint64_t v) noexcept {
    while (v >= 0x80) {
      byte(uint8_t(v) | 0x80);
      v >>= 7;
    }
    byte(uint8_t(v));
  }
};

void write_sketch(SpanWriter& w, const Sketch& d) noexcept {
  w.varint(d.count());
  w.varint(d.sum_ns);
  w.varint(d.min());
  w.varint(d.max() - d.min());
  w.varint(d.overflow_count);
  w.varint(d.flags);
  uint32_t runs = 0;
  for (uint32_t i = 0; i < kSketchBuckets; ++i)
    if (d.buckets[i] && (i == 0 || !d.buckets[i - 1])) ++runs;
  w.varint(runs);
  uint32_t next = 0;  // first bucket not yet covered
  for (uint32_t i = 0; i < kSketchBuckets;) {
    if (!d.buckets[i]) {
      ++i;
      continue;
    }
    uint32_t j = i;
    while (j < kSketchBuckets && d.buckets[j]) ++j;
    w.varint(i - next);
    w.varint(j - i);
    for (uint32_t k = i; k < j; ++k) w.varint(d.buckets[k] - 1);
    next = j;
    i = j;
  }
}

// Validates rows and returns them sorted by id (indices into rows); false on a bad table.
bool order_rows(std::span<const SketchRow> rows, uint32_t* order, std::string* error) {
  for (uint32_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].after) {
      if (error) *error = "row " + std::to_string(i) + " (id " + std::to_string(rows[i].id) + ") has no sketch";
      return false;
    }
    order[i] = i;
  }
  std::sort(order, order + rows.size(), [&](uint32_t a, uint32_t b) { return rows[a].id < rows[b].id; });
  for (size_t i = 1; i < rows.size(); ++i)
    if (rows[order[i]].id == rows[order[i - 1]].id) {
      if (error) *error = "duplicate id " + std::to_string(rows[order[i]].id);
      return false;
    }
  return true;
}

// Writes the raw payload. order: rows sorted by id. false if a before is not a prefix.
// delta: scratch space (a Sketch is 19 KB: callers decide where it lives).
bool write_payload(SpanWriter& w, const WindowInfo& info, std::span<const SketchRow> rows, const uint32_t* order,
                   Sketch& delta, std::string* error) {
  w.varint(info.first_step);
  w.varint(info.step_count);
  w.varint(info.begin_ns);
  w.varint(info.end_ns);
  w.varint(info.table);
  static const Sketch kEmpty{};
  // Count the non-empty deltas first (the count precedes them).
  uint64_t n = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    const SketchRow& r = rows[order[k]];
    if (!delta.subtract(*r.after, r.before ? *r.before : kEmpty)) {
      if (error) *error = "id " + std::to_string(r.id) + ": 'before' is not an earlier snapshot of 'after'";
      return false;
    }
    if (delta.count()) ++n;
  }
  w.varint(n);
  bool have_prev = false;
  uint32_t prev = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    const SketchRow& r = rows[order[k]];
    delta.subtract(*r.after, r.before ? *r.before : kEmpty);
    if (!delta.count()) continue;
    w.varint(have_prev ? uint64_t(r.id) - prev - 1 : r.id);
    prev = r.id;
    have_prev = true;
    write_sketch(w, delta);
  }
  return true;
}

void write_header(uint8_t* h, uint8_t flags, uint32_t stored, uint32_t raw, uint32_t crc) noexcept {
  std::memcpy(h, kWindowMagic, 4);
  h[4] = kWindowCodecVersion;
  h[5] = flags;
  h[6] = h[7] = 0;
  put_u32le(h + 8, stored);
  put_u32le(h + 12, raw);
  put_u32le(h + 16, crc);
}

// ---- decoding ----
struct Reader {
  const uint8_t* p;
  size_t n;
  size_t i = 0;
  bool varint(uint64_t& v) noexcept {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (i >= n) return false;
      const uint8_t b = p[i++];
      if (shift == 63 && b > 1) return false;  // would overflow 64 bits
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
};

bool fail(std::string* error, const std::string& why) {
  if (error) *error = why;
  return false;
}

bool read_sketch(Reader& r, Sketch& s, std::string* error) {
  uint64_t count, sum, mn, range, ovf, flags, runs;
  if (!r.varint(count) || !r.varint(sum) || !r.varint(mn) || !r.varint(range) || !r.varint(ovf) ||
      !r.varint(flags) || !r.varint(runs))
    return fail(error, "truncated sketch header");
  if (count == 0) return fail(error, "empty sketch stored");
  if (range > UINT64_MAX - mn) return fail(error, "max out of range");
  if (ovf > count) return fail(error, "overflow count exceeds count");
  if (runs == 0 || runs > kSketchBuckets / 2 + 1) return fail(error, "bad bucket run count");
  s = Sketch{};
  s.sum_ns = sum;
  s.min_inv = ~mn;
  s.max_ns = mn + range;
  s.overflow_count = ovf;
  s.flags = flags;
  uint64_t next = 0, total = 0;
  for (uint64_t k = 0; k < runs; ++k) {
    uint64_t gap, len;
    if (!r.varint(gap) || !r.varint(len)) return fail(error, "truncated bucket run");
    if (k > 0 && gap == 0) return fail(error, "adjacent bucket runs");
    if (len == 0 || gap > kSketchBuckets || len > kSketchBuckets || next + gap + len > kSketchBuckets)
      return fail(error, "bucket run out of range");
    next += gap;
    for (uint64_t b = 0; b < len; ++b) {
      uint64_t c;
      if (!r.varint(c)) return fail(error, "truncated bucket counts");
      if (c >= count) return fail(error, "bucket count exceeds sketch count");
      s.buckets[next + b] = c + 1;
      total += c + 1;
      if (total > count) return fail(error, "bucket counts exceed sketch count");
    }
    next += len;
  }
  if (total != count) return fail(error, "bucket counts do not add up to the sketch count");
  return true;
}

}  // namespace

size_t encode_window_to(const WindowInfo& info, std::span<const SketchRow> rows, std::span<uint8_t> buffer) noexcept {
  if (buffer.size() < kWindowFrameHeaderBytes || rows.size() > UINT32_MAX) return 0;
  // No allocation: the id order is found by selection over the (small) table.
  SpanWriter w{buffer.data() + kWindowFrameHeaderBytes, buffer.size() - kWindowFrameHeaderBytes};
  constexpr size_t kMaxRowsNoAlloc = 4096;
  uint32_t order[kMaxRowsNoAlloc];
  if (rows.size() > kMaxRowsNoAlloc) return 0;
  for (uint32_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].after) return 0;
    order[i] = i;
  }
  std::sort(order, order + rows.size(), [&](uint32_t a, uint32_t b) { return rows[a].id < rows[b].id; });
  for (size_t i = 1; i < rows.size(); ++i)
    if (rows[order[i]].id == rows[order[i - 1]].id) return 0;
  Sketch delta;
  if (!write_payload(w, info, rows, order, delta, nullptr) || w.overflow || w.n > UINT32_MAX) return 0;
  write_header(buffer.data(), 0, uint32_t(w.n), uint32_t(w.n), crc32(buffer.data() + kWindowFrameHeaderBytes, w.n));
  return kWindowFrameHeaderBytes + w.n;
}

bool encode_window(const WindowInfo& info, std::span<const SketchRow> rows, const EncodeOptions& opt,
                   std::vector<uint8_t>& out, std::string* error) {
  out.clear();
  std::vector<uint32_t> order(rows.size());
  if (!order_rows(rows, order.data(), error)) return false;
  // Size pass, then the real pass into an exact buffer.
  auto delta = std::make_unique<Sketch>();
  SpanWriter sizer{nullptr, 0};
  if (!write_payload(sizer, info, rows, order.data(), *delta, error)) return false;
  const size_t raw_len = sizer.n;
  if (raw_len > UINT32_MAX) return fail(error, "window too large");
  std::vector<uint8_t> raw(raw_len);
  SpanWriter w{raw.data(), raw.size()};
  write_payload(w, info, rows, order.data(), *delta, error);
  const uint32_t crc = crc32(raw.data(), raw.size());

  if (opt.zstd && raw_len > 0) {
    std::vector<uint8_t> z(kWindowFrameHeaderBytes + ZSTD_compressBound(raw_len));
    const size_t zn = ZSTD_compress(z.data() + kWindowFrameHeaderBytes, z.size() - kWindowFrameHeaderBytes, raw.data(),
                                    raw.size(), opt.zstd_level);
    if (!ZSTD_isError(zn) && zn < raw_len) {
      write_header(z.data(), kWindowFlagZstd, uint32_t(zn), uint32_t(raw_len), crc);
      z.resize(kWindowFrameHeaderBytes + zn);
      out = std::move(z);
      return true;
    }
  }
  out.resize(kWindowFrameHeaderBytes + raw_len);
  write_header(out.data(), 0, uint32_t(raw_len), uint32_t(raw_len), crc);
  std::memcpy(out.data() + kWindowFrameHeaderBytes, raw.data(), raw_len);
  return true;
}

bool decode_window(std::span<const uint8_t> bytes, DecodedWindow& out, std::string* error,
                   const DecodeLimits& limits, size_t* consumed) {
  out.info = WindowInfo{};
  out.sketches.clear();
  if (bytes.size() < kWindowFrameHeaderBytes) return fail(error, "truncated frame header");
  const uint8_t* h = bytes.data();
  if (std::memcmp(h, kWindowMagic, 4) != 0) return fail(error, "bad magic (not an Argus window frame)");
  if (h[4] != kWindowCodecVersion) return fail(error, "unsupported codec version " + std::to_string(h[4]));
  if ((h[5] & ~kWindowFlagZstd) != 0 || h[6] != 0 || h[7] != 0) return fail(error, "unknown frame flags");
  const uint32_t stored = get_u32le(h + 8), raw_len = get_u32le(h + 12), crc = get_u32le(h + 16);
  const bool zstd = h[5] & kWindowFlagZstd;
  if (stored > bytes.size() - kWindowFrameHeaderBytes) return fail(error, "truncated payload");
  if (raw_len > limits.max_payload_bytes) return fail(error, "payload larger than the decode limit");
  if (!zstd && stored != raw_len) return fail(error, "stored and raw payload sizes differ");
  const uint8_t* payload = h + kWindowFrameHeaderBytes;
  std::vector<uint8_t> inflated;
  if (zstd) {
    // Bounded allocation: raw_len was checked against the limit above.
    const unsigned long long declared = ZSTD_getFrameContentSize(payload, stored);
    if (declared == ZSTD_CONTENTSIZE_ERROR || (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != raw_len))
      return fail(error, "corrupt zstd payload");
    inflated.resize(raw_len);
    const size_t got = ZSTD_decompress(inflated.data(), inflated.size(), payload, stored);
    if (ZSTD_isError(got) || got != raw_len) return fail(error, "corrupt zstd payload");
    payload = inflated.data();
  }
  if (crc32(payload, raw_len) != crc) return fail(error, "checksum mismatch");

  Reader r{payload, raw_len};
  WindowInfo info;
  uint64_t table, n;
  if (!r.varint(info.first_step) || !r.varint(info.step_count) || !r.varint(info.begin_ns) ||
      !r.varint(info.end_ns) || !r.varint(table) || !r.varint(n))
    return fail(error, "truncated window info");
  if (table > UINT32_MAX) return fail(error, "table id out of range");
  info.table = uint32_t(table);
  if (n > limits.max_sketches) return fail(error, "more sketches than the decode limit");
  if (n > raw_len / 8) return fail(error, "sketch count larger than the payload can hold");  // >= 8 bytes each
  std::vector<DecodedSketch> sketches;  // grows only with sketches actually decoded
  uint64_t prev = 0;
  for (uint64_t k = 0; k < n; ++k) {
    uint64_t d;
    if (!r.varint(d)) return fail(error, "truncated sketch id");
    const uint64_t id = k == 0 ? d : prev + 1 + d;
    if (d > UINT32_MAX || id > UINT32_MAX) return fail(error, "sketch id out of range");
    prev = id;
    sketches.push_back(DecodedSketch{uint32_t(id), Sketch{}});
    if (!read_sketch(r, sketches.back().delta, error)) return false;
  }
  if (r.i != raw_len) return fail(error, "trailing bytes after the last sketch");
  out.info = info;
  out.sketches = std::move(sketches);
  if (consumed) *consumed = kWindowFrameHeaderBytes + stored;
  return true;
}

}  // namespace argus
