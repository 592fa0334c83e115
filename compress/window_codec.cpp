// Window codec (format in include/argus/window_codec.h).
//
// Raw payload, all LEB128 varints (at most 10 bytes, no overlong final byte):
//   first_step step_count begin_ns end_ns table  n_sketches
//   per sketch, ascending id:
//     id (first) or id - previous_id - 1
//     nb = number of non-zero buckets (>= 1), then per non-zero bucket, ascending index:
//       token = gap << 3 | min(count - 1, 7)   gap: index (first bucket) or index - previous
//       [count - 8, if the low 3 bits are 7]   index (>= 1)
//       Window deltas are sparse (a kernel's durations cluster in a few isolated buckets) and
//       their counts small, so a bucket usually costs one byte.
//     zigzag(sum - sum(count_i * mid_i))   mid_i = (lower_i + upper_i) / 2, all mod 2^64:
//                                          exact for any sum, small for consistent sketches
//     min - lower(first)                   mod 2^64 (< one bucket width when consistent)
//     upper(last) - max                    mod 2^64
//     misc = overflow_count << 2 | bit1 (other flags follow) | bit0 (kSketchFlagMinMaxApprox)
//     [flags & ~kSketchFlagMinMaxApprox, if bit1]
// Count is not stored (the sum of the buckets), and sum/min/max are stored relative to what
// the buckets already say. zstd on top removes repetition across sketches.
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
  void byte(uint8_t b) noexcept {
    if (n < cap) p[n++] = b;
    else overflow = true;
  }
};
struct VecWriter {
  std::vector<uint8_t>& v;
  void byte(uint8_t b) { v.push_back(b); }
};

template <class W>
void varint(W& w, uint64_t v) {
  while (v >= 0x80) {
    w.byte(uint8_t(v) | 0x80);
    v >>= 7;
  }
  w.byte(uint8_t(v));
}
uint64_t zigzag(uint64_t d) noexcept { return (d << 1) ^ uint64_t(int64_t(d) >> 63); }  // d: two's complement
uint64_t unzigzag(uint64_t z) noexcept { return (z >> 1) ^ (~(z & 1) + 1); }

uint64_t bucket_mid(uint32_t i) noexcept { return Sketch::bucket_lower(i) + (Sketch::bucket_upper(i) - Sketch::bucket_lower(i)) / 2; }

template <class W>
void write_sketch(W& w, const Sketch& d) {
  uint32_t nb = 0, first = kSketchBuckets, last = 0;
  uint64_t mid_sum = 0;  // mod 2^64
  for (uint32_t i = 0; i < kSketchBuckets; ++i)
    if (d.buckets[i]) {
      ++nb;
      if (first == kSketchBuckets) first = i;
      last = i;
      mid_sum += d.buckets[i] * bucket_mid(i);
    }
  varint(w, nb);
  uint32_t prev = 0;
  for (uint32_t i = first; i <= last; ++i) {
    if (!d.buckets[i]) continue;
    const uint64_t c = d.buckets[i] - 1;
    varint(w, uint64_t(i - prev) << 3 | (c < 7 ? c : 7));
    if (c >= 7) varint(w, c - 7);
    prev = i;
  }
  varint(w, zigzag(d.sum_ns - mid_sum));
  varint(w, d.min() - Sketch::bucket_lower(first));
  varint(w, Sketch::bucket_upper(last) - d.max_ns);
  const uint64_t other = d.flags & ~kSketchFlagMinMaxApprox;
  varint(w, d.overflow_count << 2 | (other ? 2 : 0) | (d.flags & kSketchFlagMinMaxApprox));
  if (other) varint(w, other);
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

bool buckets_differ(const SketchRow& r) noexcept {
  static const Sketch kEmpty{};
  return std::memcmp(r.after->buckets, (r.before ? r.before : &kEmpty)->buckets, sizeof kEmpty.buckets) != 0;
}

// Writes the raw payload. order: rows sorted by id. false if a before is not a prefix (or
// an overflow count too large to encode, >= 2^62). delta: scratch space (a Sketch is 19 KB:
// callers decide where it lives).
template <class W>
bool write_payload(W& w, const WindowInfo& info, std::span<const SketchRow> rows, const uint32_t* order, Sketch& delta,
                   std::string* error) {
  varint(w, info.first_step);
  varint(w, info.step_count);
  varint(w, info.begin_ns);
  varint(w, info.end_ns);
  varint(w, info.table);
  uint64_t n = 0;  // a delta is non-empty iff some bucket changed
  for (size_t k = 0; k < rows.size(); ++k) n += buckets_differ(rows[order[k]]) ? 1 : 0;
  varint(w, n);
  bool have_prev = false;
  uint32_t prev = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    const SketchRow& r = rows[order[k]];
    if (!buckets_differ(r)) continue;
    if (r.before == nullptr) {
      delta = *r.after;  // encoded as is (a new row, or a delta computed by the caller)
    } else if (!delta.subtract(*r.after, *r.before)) {
      if (error) *error = "id " + std::to_string(r.id) + ": 'before' is not an earlier snapshot of 'after'";
      return false;
    }
    if (delta.overflow_count >> 62) {
      if (error) *error = "id " + std::to_string(r.id) + ": overflow count too large";
      return false;
    }
    varint(w, have_prev ? uint64_t(r.id) - prev - 1 : r.id);
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
  s = Sketch{};
  uint64_t nb;
  if (!r.varint(nb)) return fail(error, "truncated sketch");
  if (nb == 0 || nb > kSketchBuckets) return fail(error, "bad bucket count");
  uint64_t count = 0, mid_sum = 0, index = 0;
  uint32_t first = 0;
  for (uint64_t k = 0; k < nb; ++k) {
    uint64_t token, c;
    if (!r.varint(token)) return fail(error, "truncated buckets");
    const uint64_t gap = token >> 3;
    c = token & 7;
    if (c == 7) {
      uint64_t extra;
      if (!r.varint(extra)) return fail(error, "truncated buckets");
      if (extra > UINT64_MAX - 8) return fail(error, "bucket count overflow");
      c = extra + 7;
    }
    if (k > 0 && gap == 0) return fail(error, "bucket listed twice");
    if (gap >= kSketchBuckets || index + gap >= kSketchBuckets) return fail(error, "bucket index out of range");
    index += gap;
    if (k == 0) first = uint32_t(index);
    if (c + 1 > UINT64_MAX - count) return fail(error, "bucket counts overflow");
    s.buckets[index] = c + 1;
    count += c + 1;
    mid_sum += (c + 1) * bucket_mid(uint32_t(index));
  }
  const uint32_t last = uint32_t(index);
  uint64_t sum, dmin, dmax, misc, other = 0;
  if (!r.varint(sum) || !r.varint(dmin) || !r.varint(dmax) || !r.varint(misc)) return fail(error, "truncated sketch");
  if ((misc & 2) && !r.varint(other)) return fail(error, "truncated sketch flags");
  if ((misc & 2) && (other == 0 || (other & kSketchFlagMinMaxApprox))) return fail(error, "bad sketch flags");
  s.sum_ns = mid_sum + unzigzag(sum);
  const uint64_t mn = Sketch::bucket_lower(first) + dmin;
  if (mn == UINT64_MAX) return fail(error, "min out of range");  // ~min would read as "empty"
  s.min_inv = ~mn;
  s.max_ns = Sketch::bucket_upper(last) - dmax;
  s.overflow_count = misc >> 2;
  if (s.overflow_count > count) return fail(error, "overflow count exceeds count");
  s.flags = other | (misc & kSketchFlagMinMaxApprox);
  return true;
}

}  // namespace

uint32_t window_checksum(std::span<const uint8_t> stored_payload) noexcept {
  return crc32(stored_payload.data(), stored_payload.size());
}

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
  std::vector<uint8_t> raw;
  VecWriter w{raw};
  if (!write_payload(w, info, rows, order.data(), *delta, error)) return false;
  const size_t raw_len = raw.size();
  if (raw_len > UINT32_MAX) return fail(error, "window too large");
  if (opt.zstd && raw_len > 0) {
    std::vector<uint8_t> z(kWindowFrameHeaderBytes + ZSTD_compressBound(raw_len));
    const size_t zn = ZSTD_compress(z.data() + kWindowFrameHeaderBytes, z.size() - kWindowFrameHeaderBytes, raw.data(),
                                    raw.size(), opt.zstd_level);
    if (!ZSTD_isError(zn) && zn < raw_len) {
      write_header(z.data(), kWindowFlagZstd, uint32_t(zn), uint32_t(raw_len),
                   crc32(z.data() + kWindowFrameHeaderBytes, zn));
      z.resize(kWindowFrameHeaderBytes + zn);
      out = std::move(z);
      return true;
    }
  }
  out.resize(kWindowFrameHeaderBytes + raw_len);
  write_header(out.data(), 0, uint32_t(raw_len), uint32_t(raw_len), crc32(raw.data(), raw_len));
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
  // The CRC covers the stored bytes: every bit of the frame is checked (a flip in a zstd
  // field zstd itself ignores is still corruption), and garbage is never decompressed.
  if (crc32(payload, stored) != crc) return fail(error, "checksum mismatch");
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
