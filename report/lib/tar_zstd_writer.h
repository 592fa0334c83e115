// A minimal streaming writer of ustar archives compressed with zstd (.tar.zst), so `argus
// export` needs no libarchive.  Entries are written in order; file contents are streamed in
// chunks (rank records are ~59 MiB sparse files and are never held in memory).
// Readable by `tar --zstd -xf` / `zstd -dc | tar -x`.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

typedef struct ZSTD_CCtx_s ZSTD_CCtx;

namespace argus::exporter {

class TarZstdWriter {
 public:
  // Throws std::runtime_error("<path>: <reason>") when the file cannot be created.
  explicit TarZstdWriter(const std::string& path, int level = 3);
  ~TarZstdWriter();
  TarZstdWriter(const TarZstdWriter&) = delete;
  TarZstdWriter& operator=(const TarZstdWriter&) = delete;

  void add_directory(const std::string& name, uint64_t mtime);
  // Starts a regular file of exactly `size` bytes; then write() exactly size bytes.
  void begin_file(const std::string& name, uint64_t size, uint64_t mtime, unsigned mode = 0644);
  void write(const void* data, size_t n);
  void write_zeros(uint64_t n);
  void end_file();     // pads to 512
  void finish();       // end-of-archive blocks, zstd frame end, close

 private:
  void header(const std::string& name, char type, uint64_t size, uint64_t mtime, unsigned mode);
  void raw(const void* data, size_t n);  // into the compressor
  std::string path_;
  FILE* out_ = nullptr;
  ZSTD_CCtx* cctx_ = nullptr;
  uint64_t remaining_ = 0, written_ = 0;
  bool finished_ = false;
};

}  // namespace argus::exporter
