// Writes the decode fixtures (FIXTURE_DIR) and the fuzz seed corpus (CORPUS_DIR) from the
// deterministic fixture table. Usage: compress-make-fixtures FIXTURE_DIR CORPUS_DIR
#include <cstdio>
#include <fstream>
#include <string>

#include "fixture_table.h"

static bool write(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream o(path, std::ios::binary);
  o.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  std::printf("%s: %zu bytes\n", path.c_str(), b.size());
  return bool(o);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FIXTURE_DIR CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string fix = argv[1], corpus = argv[2];
  auto t = argus::fixture::make_table();
  auto rows = t.rows();
  std::vector<uint8_t> raw, z, one, empty;
  argus::encode_window(t.info, rows, {.zstd = false}, raw);
  argus::encode_window(t.info, rows, {.zstd = true, .zstd_level = 19}, z);
  argus::encode_window(t.info, std::span(rows).subspan(0, 1), {.zstd = false}, one);
  argus::encode_window(argus::WindowInfo{}, {}, {.zstd = false}, empty);
  bool ok = write(fix + "/window-v1-raw.bin", raw) && write(fix + "/window-v1-zstd.bin", z);
  ok = ok && write(corpus + "/seed-raw", raw) && write(corpus + "/seed-zstd", z) && write(corpus + "/seed-one", one) &&
       write(corpus + "/seed-empty", empty);
  std::vector<uint8_t> two = raw;  // two frames back to back
  two.insert(two.end(), one.begin(), one.end());
  ok = ok && write(corpus + "/seed-two-frames", two);
  return ok ? 0 : 1;
}
