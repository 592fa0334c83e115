// See tar_zstd_writer.h.  ustar (POSIX.1-1988) headers: names up to 255 bytes via the prefix
// field, sizes up to 8 GiB (11 octal digits) — enough for run directories.
#include "tar_zstd_writer.h"

#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace argus::exporter {

TarZstdWriter::TarZstdWriter(const std::string& path, int level) : path_(path) {
  out_ = std::fopen(path.c_str(), "wb");
  if (!out_) throw std::runtime_error(path + ": cannot create (" + std::strerror(errno) + ")");
  cctx_ = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
}

TarZstdWriter::~TarZstdWriter() {
  if (out_) std::fclose(out_);
  ZSTD_freeCCtx(cctx_);
}

void TarZstdWriter::raw(const void* data, size_t n) {
  std::vector<char> buf(ZSTD_CStreamOutSize());
  ZSTD_inBuffer in{data, n, 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    size_t rc = ZSTD_compressStream2(cctx_, &o, &in, ZSTD_e_continue);
    if (ZSTD_isError(rc)) throw std::runtime_error(path_ + ": zstd: " + ZSTD_getErrorName(rc));
    if (o.pos && std::fwrite(buf.data(), 1, o.pos, out_) != o.pos)
      throw std::runtime_error(path_ + ": write failed (" + std::strerror(errno) + ")");
  }
  written_ += n;
}

void TarZstdWriter::header(const std::string& name_in, char type, uint64_t size, uint64_t mtime, unsigned mode) {
  char h[512] = {};
  std::string name = name_in, prefix;
  if (name.size() > 100) {  // split at a '/' so that prefix <= 155 and name <= 100
    size_t cut = name.rfind('/', 155);
    while (cut != std::string::npos && name.size() - cut - 1 > 100) cut = std::string::npos;
    if (cut == std::string::npos || cut == 0) throw std::runtime_error(name_in + ": path too long for ustar");
    prefix = name.substr(0, cut);
    name = name.substr(cut + 1);
  }
  if (size > 077777777777ull) throw std::runtime_error(name_in + ": larger than 8 GiB (ustar limit)");
  std::memcpy(h, name.data(), name.size());
  std::snprintf(h + 100, 8, "%07o", mode & 07777);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011llo", (unsigned long long)size);
  std::snprintf(h + 136, 12, "%011llo", (unsigned long long)(mtime & 077777777777ull));
  std::memset(h + 148, ' ', 8);
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 265, "argus", 5);
  std::memcpy(h + 297, "argus", 5);
  std::memcpy(h + 345, prefix.data(), prefix.size());
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);  // six digits, NUL, then the space kept from above
  h[155] = ' ';
  raw(h, sizeof h);
}

void TarZstdWriter::add_directory(const std::string& name, uint64_t mtime) {
  header(name.back() == '/' ? name : name + "/", '5', 0, mtime, 0755);
}

void TarZstdWriter::begin_file(const std::string& name, uint64_t size, uint64_t mtime, unsigned mode) {
  if (remaining_) throw std::logic_error("tar: previous file not complete");
  header(name, '0', size, mtime, mode);
  remaining_ = size;
}

void TarZstdWriter::write(const void* data, size_t n) {
  if (n > remaining_) throw std::logic_error("tar: more bytes than announced");
  raw(data, n);
  remaining_ -= n;
}

void TarZstdWriter::write_zeros(uint64_t n) {
  static const char zeros[1 << 16] = {};
  while (n) {
    size_t k = n < sizeof zeros ? size_t(n) : sizeof zeros;
    write(zeros, k);
    n -= k;
  }
}

void TarZstdWriter::end_file() {
  if (remaining_) throw std::logic_error("tar: file shorter than announced");
  static const char zeros[512] = {};
  if (written_ % 512) raw(zeros, 512 - written_ % 512);
}

void TarZstdWriter::finish() {
  if (finished_) return;
  static const char zeros[1024] = {};
  raw(zeros, sizeof zeros);
  std::vector<char> buf(ZSTD_CStreamOutSize());
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    size_t rc = ZSTD_compressStream2(cctx_, &o, &in, ZSTD_e_end);
    if (ZSTD_isError(rc)) throw std::runtime_error(path_ + ": zstd: " + ZSTD_getErrorName(rc));
    if (o.pos && std::fwrite(buf.data(), 1, o.pos, out_) != o.pos)
      throw std::runtime_error(path_ + ": write failed (" + std::strerror(errno) + ")");
    if (rc == 0) break;
  }
  int rc = std::fclose(out_);
  out_ = nullptr;
  finished_ = true;
  if (rc != 0) throw std::runtime_error(path_ + ": close failed (" + std::strerror(errno) + ")");
}

}  // namespace argus::exporter
