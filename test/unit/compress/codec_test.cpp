// Window codec: lossless round trip, committed fixtures, and rejection of malformed input.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "argus/window_codec.h"
#include "fixture_table.h"

using namespace argus;

namespace {

// The expected decode of the fixture table: ascending id, empty deltas omitted.
std::vector<std::pair<uint32_t, std::unique_ptr<Sketch>>> expected_deltas(const fixture::Table& t) {
  std::vector<std::pair<uint32_t, std::unique_ptr<Sketch>>> out;
  const Sketch empty{};
  for (size_t i = 0; i < t.ids.size(); ++i) {
    auto d = std::make_unique<Sketch>();
    REQUIRE(d->subtract(*t.after[i], t.before[i] ? *t.before[i] : empty));
    if (d->count()) out.emplace_back(t.ids[i], std::move(d));
  }
  return out;
}

void check_decodes_to_fixture(const std::vector<uint8_t>& bytes) {
  const auto t = fixture::make_table();
  DecodedWindow w;
  std::string err;
  size_t consumed = 0;
  REQUIRE(decode_window(bytes, w, &err, {}, &consumed));
  CHECK(err.empty());
  CHECK(consumed == bytes.size());
  CHECK(w.info == t.info);
  const auto exp = expected_deltas(t);
  REQUIRE(w.sketches.size() == exp.size());
  REQUIRE(exp.size() == 4);  // id 18 did not change
  for (size_t i = 0; i < exp.size(); ++i) {
    CHECK(w.sketches[i].id == exp[i].first);
    CHECK(std::memcmp(&w.sketches[i].delta, exp[i].second.get(), sizeof(Sketch)) == 0);
  }
  CHECK(w.sketches.back().delta.overflow_count == 1);
}

std::vector<uint8_t> read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint32_t crc32(const std::vector<uint8_t>& b) {  // bitwise reference CRC-32 (IEEE)
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t x : b) {
    c ^= x;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return ~c;
}

// A raw (uncompressed) frame around an arbitrary payload, with a correct checksum: reaches
// the structural checks behind the CRC.
std::vector<uint8_t> frame(const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> f = {'A', 'R', 'G', 'W', 1, 0, 0, 0};
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) f.push_back(uint8_t(v >> (8 * i)));
  };
  u32(uint32_t(payload.size()));
  u32(uint32_t(payload.size()));
  u32(crc32(payload));
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

bool decodes(const std::vector<uint8_t>& b, std::string* err = nullptr, const DecodeLimits& lim = {}) {
  DecodedWindow w;
  std::string e;
  const bool ok = decode_window(b, w, &e, lim);
  if (err) *err = e;
  if (!ok) {
    CHECK(!e.empty());
    CHECK(w.sketches.empty());
  }
  return ok;
}

}  // namespace

TEST_CASE("codec round trip, raw and zstd", "[codec]") {
  const auto t = fixture::make_table();
  const auto rows = t.rows();
  std::vector<uint8_t> raw, z;
  std::string err;
  REQUIRE(encode_window(t.info, rows, {.zstd = false}, raw, &err));
  REQUIRE(encode_window(t.info, rows, {.zstd = true}, z, &err));
  CHECK(raw[5] == 0);
  CHECK(z[5] == kWindowFlagZstd);
  CHECK(z.size() < raw.size());
  check_decodes_to_fixture(raw);
  check_decodes_to_fixture(z);

  // Row order does not matter.
  std::vector<SketchRow> rev(rows.rbegin(), rows.rend());
  std::vector<uint8_t> raw2;
  REQUIRE(encode_window(t.info, rev, {.zstd = false}, raw2));
  CHECK(raw2 == raw);

  // The allocation-free encoder writes the same bytes, and refuses a short buffer.
  std::vector<uint8_t> buf(raw.size() + 10);
  CHECK(encode_window_to(t.info, rows, buf) == raw.size());
  CHECK(std::equal(raw.begin(), raw.end(), buf.begin()));
  std::vector<uint8_t> small(raw.size() - 1);
  CHECK(encode_window_to(t.info, rows, small) == 0);

  // Frames concatenate.
  std::vector<uint8_t> two = z;
  two.insert(two.end(), raw.begin(), raw.end());
  DecodedWindow w;
  size_t used = 0;
  REQUIRE(decode_window(two, w, nullptr, {}, &used));
  CHECK(used == z.size());
  check_decodes_to_fixture(std::vector<uint8_t>(two.begin() + long(used), two.end()));
}

TEST_CASE("committed decode fixtures still decode (format stability)", "[codec]") {
  check_decodes_to_fixture(read_file(std::string(ARGUS_COMPRESS_FIXTURES) + "/window-v1-raw.bin"));
  check_decodes_to_fixture(read_file(std::string(ARGUS_COMPRESS_FIXTURES) + "/window-v1-zstd.bin"));
}

TEST_CASE("codec is lossless for any sketch passed as is (before == nullptr)", "[codec]") {
  // Fields that no real recording produces together: still reproduced bit for bit.
  auto s = std::make_unique<Sketch>();
  s->buckets[0] = 3;
  s->buckets[5] = 1;
  s->buckets[2000] = 77;
  s->buckets[argus::kSketchBuckets - 1] = 9;
  s->sum_ns = 12345;  // far below what the buckets imply
  s->min_inv = ~uint64_t{40};
  s->max_ns = ~uint64_t{0} - 1;
  s->overflow_count = 5;
  s->flags = 0x1 | 0x10;
  SketchRow row{123456, nullptr, s.get()};
  for (bool zstd : {false, true}) {
    std::vector<uint8_t> b;
    REQUIRE(encode_window({1, 2, 3, 4, 5}, std::span(&row, 1), {.zstd = zstd}, b));
    DecodedWindow w;
    std::string err;
    REQUIRE(decode_window(b, w, &err));
    REQUIRE(w.sketches.size() == 1);
    CHECK(w.sketches[0].id == 123456);
    CHECK(std::memcmp(&w.sketches[0].delta, s.get(), sizeof(Sketch)) == 0);
    CHECK(w.info == WindowInfo{1, 2, 3, 4, 5});
  }
}

TEST_CASE("codec: empty table and unchanged rows", "[codec]") {
  std::vector<uint8_t> b;
  REQUIRE(encode_window(WindowInfo{}, {}, {}, b));
  DecodedWindow w;
  REQUIRE(decode_window(b, w));
  CHECK(w.sketches.empty());
  auto s = std::make_unique<Sketch>();
  s->record(5);
  SketchRow same{7, s.get(), s.get()};
  REQUIRE(encode_window(WindowInfo{}, std::span(&same, 1), {}, b));
  REQUIRE(decode_window(b, w));
  CHECK(w.sketches.empty());
}

TEST_CASE("encoder rejects invalid tables", "[codec]") {
  auto a = std::make_unique<Sketch>(), b = std::make_unique<Sketch>();
  a->record(10);
  b->record(20);
  std::vector<uint8_t> out;
  std::string err;
  SketchRow dup[] = {{1, nullptr, a.get()}, {1, nullptr, b.get()}};
  CHECK_FALSE(encode_window({}, dup, {}, out, &err));
  CHECK(err.find("duplicate") != std::string::npos);
  SketchRow null_after[] = {{1, nullptr, nullptr}};
  CHECK_FALSE(encode_window({}, null_after, {}, out, &err));
  SketchRow not_prefix[] = {{1, a.get(), b.get()}};
  CHECK_FALSE(encode_window({}, not_prefix, {}, out, &err));
  CHECK(out.empty());
  std::vector<uint8_t> buf(4096);
  CHECK(encode_window_to({}, dup, buf) == 0);
  CHECK(encode_window_to({}, not_prefix, buf) == 0);
}

TEST_CASE("decoder rejects every truncation and every single-bit flip", "[codec]") {
  const auto t = fixture::make_table();
  for (bool zstd : {false, true}) {
    std::vector<uint8_t> good;
    REQUIRE(encode_window(t.info, t.rows(), {.zstd = zstd}, good));
    INFO("zstd=" << zstd << " size=" << good.size());
    for (size_t n = 0; n < good.size(); ++n) {
      INFO("truncated to " << n);
      REQUIRE_FALSE(decodes(std::vector<uint8_t>(good.begin(), good.begin() + long(n))));
    }
    for (size_t i = 0; i < good.size(); ++i)
      for (int bit = 0; bit < 8; ++bit) {
        auto bad = good;
        bad[i] ^= uint8_t(1u << bit);
        INFO("flipped byte " << i << " bit " << bit);
        REQUIRE_FALSE(decodes(bad));
      }
  }
}

TEST_CASE("decoder rejects structurally invalid payloads behind a valid checksum", "[codec]") {
  // info: first_step step_count begin end table; then n; per sketch: id, nb, bucket tokens
  // (gap << 3 | min(count-1, 7) [count-8]), zigzag sum residual, min - lower(first),
  // upper(last) - max, misc (overflow << 2 | other-flags | approx) [other flags].
  const std::vector<uint8_t> info = {1, 1, 0, 0, 0};
  auto payload = [&](std::vector<uint8_t> rest) {
    std::vector<uint8_t> p = info;
    p.insert(p.end(), rest.begin(), rest.end());
    return frame(p);
  };
  std::string err;
  // n=1 | id=9 | nb=2: bucket 10 (token 10<<3), bucket 11 (token 1<<3), one value each |
  // sum 21, min 10, max 11, no flags
  const std::vector<uint8_t> good = {1, 9, 2, 80, 8, 0, 0, 0, 0};
  auto with = [&](std::vector<uint8_t> v) { return payload(v); };
  {
    DecodedWindow w;
    const bool ok = decode_window(with(good), w, &err);
    INFO(err);
    REQUIRE(ok);  // valid, so the variants below fail for the reason they name
    REQUIRE(w.sketches.size() == 1);
    const Sketch& d = w.sketches[0].delta;
    CHECK(w.sketches[0].id == 9);
    CHECK(d.count() == 2);
    CHECK(d.buckets[10] == 1);
    CHECK(d.buckets[11] == 1);
    CHECK(d.sum() == 21);
    CHECK(d.min() == 10);
    CHECK(d.max() == 11);
    CHECK(d.flags == 0);
  }
  {
    DecodedWindow w;  // other flags, an overflow count, a count needing the escape
    REQUIRE(decode_window(with({1, 9, 2, 80 | 7, 5, 8, 0, 0, 0, 4 | 2 | 1, 4}), w, &err));
    CHECK(w.sketches[0].delta.flags == (4 | argus::kSketchFlagMinMaxApprox));
    CHECK(w.sketches[0].delta.overflow_count == 1);
    CHECK(w.sketches[0].delta.buckets[10] == 13);
  }
  CHECK_FALSE(decodes(with({1, 9, 0}), &err));  // no buckets
  CHECK(err.find("bucket count") != std::string::npos);
  CHECK_FALSE(decodes(with({1, 9, 1, 0x80, 0x94, 0x01, 0, 0, 0, 0}), &err));  // bucket index 2368
  CHECK(err.find("range") != std::string::npos);
  CHECK_FALSE(decodes(with({1, 9, 2, 80, 0, 0, 0, 0, 0}), &err));  // same bucket twice
  CHECK(err.find("twice") != std::string::npos);
  CHECK_FALSE(decodes(with({1, 9, 2, 80, 8, 0, 0, 0, 3 << 2}), &err));  // overflow 3 > count 2
  CHECK(err.find("overflow") != std::string::npos);
  CHECK_FALSE(decodes(with({1, 9, 2, 80, 8, 0, 0, 0, 0, 7}), &err));  // trailing byte
  CHECK(err.find("trailing") != std::string::npos);
  CHECK_FALSE(decodes(with({1, 9, 2, 80}), &err));  // truncated buckets
  CHECK(err.find("truncated") != std::string::npos);
  CHECK_FALSE(decodes(with({1, 9, 2, 80, 8, 0, 0, 0}), &err));  // truncated residuals
  CHECK(err.find("truncated") != std::string::npos);
  CHECK_FALSE(decodes(with({2, 9, 2, 80, 8, 0, 0, 0, 0}), &err));  // says 2 sketches
  CHECK_FALSE(decodes(with({1, 9, 2, 80, 8, 0, 0, 0, 2, 0}), &err));  // "other flags" that are 0
  CHECK(err.find("flags") != std::string::npos);
  CHECK_FALSE(decodes(with({1, 9, 2, 80, 8, 0, 0, 0, 2, 1}), &err));  // approx bit twice
  CHECK_FALSE(decodes(with({1, 9, 2, 80, 8, 0, 0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0, 0}),
                      &err));  // min = 10 + (2^64 - 11) = UINT64_MAX
  CHECK(err.find("min") != std::string::npos);
  CHECK_FALSE(decodes(with({1, 9, 2, 80 | 7, 0xF7, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 8 | 7, 0xF7,
                            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0, 0}),
                      &err));  // bucket counts add up past 2^64
  CHECK(err.find("overflow") != std::string::npos);
  // Overlong varint (11 bytes) and a 10th byte that overflows 64 bits.
  CHECK_FALSE(decodes(with({1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), &err));
  CHECK_FALSE(decodes(with({1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02}), &err));
  // Id beyond 32 bits, and ids that would wrap.
  CHECK_FALSE(decodes(with({1, 0x80, 0x80, 0x80, 0x80, 0x10, 2, 80, 8, 0, 0, 0, 0}), &err));
  CHECK(err.find("id") != std::string::npos);
  CHECK_FALSE(decodes(with({2, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 2, 80, 8, 0, 0, 0, 0, 0, 2, 80, 8, 0, 0, 0, 0}), &err));
  CHECK(err.find("id") != std::string::npos);
  // Limits.
  CHECK_FALSE(decodes(with(good), &err, {.max_sketches = 0}));
  CHECK_FALSE(decodes(with(good), &err, {.max_payload_bytes = 8}));
  // Header fields.
  auto f = payload({0});
  REQUIRE(decodes(f));
  auto v2 = f;
  v2[4] = 2;
  CHECK_FALSE(decodes(v2, &err));
  CHECK(err.find("version") != std::string::npos);
  auto magic = f;
  magic[0] = 'X';
  CHECK_FALSE(decodes(magic, &err));
  CHECK(err.find("magic") != std::string::npos);
  // A zstd flag on a payload that is not zstd.
  auto fake_z = f;
  fake_z[5] = kWindowFlagZstd;
  CHECK_FALSE(decodes(fake_z, &err));
}
