// The tar.zst writer: the archive decompresses to ustar blocks with valid checksums, the
// announced sizes, long names split into prefix/name, and zero runs from write_zeros.
#include <catch2/catch.hpp>

#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <fstream>
#include <sstream>
#include <string>

#include "tar_zstd_writer.h"

using argus::exporter::TarZstdWriter;

namespace {
std::string decompress(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string z = ss.str();
  unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
  std::string out;
  ZSTD_DStream* d = ZSTD_createDStream();
  ZSTD_inBuffer ib{z.data(), z.size(), 0};
  std::string buf(1 << 16, '\0');
  while (ib.pos < ib.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    size_t rc = ZSTD_decompressStream(d, &ob, &ib);
    REQUIRE_FALSE(ZSTD_isError(rc));
    out.append(buf.data(), ob.pos);
  }
  ZSTD_freeDStream(d);
  (void)n;
  return out;
}
unsigned checksum(const char* h) {
  unsigned s = 0;
  for (int i = 0; i < 512; ++i) s += (i >= 148 && i < 156) ? ' ' : (unsigned char)h[i];
  return s;
}
}  // namespace

TEST_CASE("ustar entries with sizes, checksums and long names") {
  std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/ops_tar_test_" + std::to_string(::getpid()) + ".tar.zst";
  std::string longdir(120, 'd');
  {
    TarZstdWriter w(path);
    w.add_directory("run", 0);
    w.begin_file("run/a.txt", 5, 1700000000);
    w.write("hello", 5);
    w.end_file();
    w.begin_file("run/" + longdir + "/z.bin", 70000, 0);
    w.write("x", 1);
    w.write_zeros(69999);
    w.end_file();
    w.finish();
  }
  std::string t = decompress(path);
  std::remove(path.c_str());
  REQUIRE(t.size() % 512 == 0);
  const char* h = t.data();
  CHECK(std::string(h) == "run/");
  CHECK(h[156] == '5');
  CHECK(std::strtoul(h + 148, nullptr, 8) == checksum(h));
  h += 512;
  CHECK(std::string(h) == "run/a.txt");
  CHECK(std::strtoull(h + 124, nullptr, 8) == 5);
  CHECK(std::strtoul(h + 148, nullptr, 8) == checksum(h));
  CHECK(std::string(h + 257, 5) == "ustar");
  CHECK(std::string(h + 512, 5) == "hello");
  h += 1024;
  CHECK(std::string(h) == "z.bin");
  CHECK(std::string(h + 345) == "run/" + longdir);
  CHECK(std::strtoull(h + 124, nullptr, 8) == 70000);
  CHECK(h[512] == 'x');
  CHECK(h[512 + 69999] == 0);
  size_t end = size_t(h - t.data()) + 512 + 70144;  // 70000 rounded up to 512
  REQUIRE(t.size() == end + 1024);
  CHECK(t.substr(end) == std::string(1024, '\0'));
}
