// argus export RUN_DIR [--sanitize] [-o FILE]: one .tar.zst of the run directory for a
// ticket.  Rank records (~59 MiB sparse files) are streamed extent by extent (holes are
// emitted as zeros into the compressor, never read); with --sanitize see report/lib/sanitize.h.
// Exit 0 written, 2 bad input or write error.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <argus/record.h>

#include "commands.h"
#include "sanitize.h"
#include "tar_zstd_writer.h"

namespace argus::cli {
namespace {
namespace fs = std::filesystem;
namespace rec = argus::rec;
using argus::exporter::TarZstdWriter;
using argus::sanitize::Sanitizer;

struct ExportArgs {
  std::string run_dir, output;
  bool sanitize = false;
};

struct Entry {
  fs::path path;   // absolute
  std::string rel; // relative to the run dir, '/'-separated
  bool dir = false;
  uint64_t size = 0, mtime = 0;
  bool text = false, json = false, record = false;
};

constexpr uint64_t kMaxText = 256ull << 20;

bool looks_text(const fs::path& p, uint64_t size) {
  if (size > kMaxText) return false;
  std::ifstream in(p, std::ios::binary);
  char buf[8192];
  in.read(buf, sizeof buf);
  return std::memchr(buf, 0, size_t(in.gcount())) == nullptr;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_record(const fs::path& p, rec::Header* h) {
  std::ifstream in(p, std::ios::binary);
  in.read(reinterpret_cast<char*>(h), sizeof *h);
  return in.gcount() == sizeof *h && h->magic == rec::kMagic && h->layout_version == rec::kLayoutVersion;
}

// Streams fd's [0,size) through fn(buf, offset, n): data extents are read, holes passed as
// nullptr (zeros).
template <class Fn>
void stream_extents(int fd, uint64_t size, Fn fn) {
  std::vector<char> buf(1 << 20);
  uint64_t off = 0;
  while (off < size) {
    off_t data = lseek(fd, off_t(off), SEEK_DATA);
    if (data < 0) data = off_t(size);  // ENXIO: only a hole remains
    if (uint64_t(data) > off) { fn(nullptr, off, uint64_t(data) - off); off = uint64_t(data); continue; }
    off_t hole = lseek(fd, off_t(off), SEEK_HOLE);
    uint64_t end = hole < 0 ? size : std::min<uint64_t>(uint64_t(hole), size);
    while (off < end) {
      size_t n = size_t(std::min<uint64_t>(buf.size(), end - off));
      ssize_t got = pread(fd, buf.data(), n, off_t(off));
      if (got <= 0) throw std::runtime_error("read failed (" + std::string(std::strerror(errno)) + ")");
      fn(buf.data(), off, uint64_t(got));
      off += uint64_t(got);
    }
  }
}

// A byte range of a record replaced by a sanitized copy.
struct Patch { uint64_t off; std::string bytes; };

std::vector<Patch> record_patches(const fs::path& p, Sanitizer& s) {
  std::vector<Patch> out;
  int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(p.string() + ": cannot open");
  std::string hdr(sizeof(rec::Header), '\0');
  if (pread(fd, hdr.data(), hdr.size(), 0) != ssize_t(hdr.size())) { close(fd); throw std::runtime_error(p.string() + ": short header"); }
  auto* h = reinterpret_cast<rec::Header*>(hdr.data());
  std::string ph = s.host_placeholder(std::string(h->host, strnlen(h->host, sizeof h->host)));
  std::memset(h->host, 0, sizeof h->host);
  std::memcpy(h->host, ph.data(), std::min(ph.size(), sizeof h->host - 1));
  s.bytes_inplace(h->run_id, strnlen(h->run_id, sizeof h->run_id));
  s.bytes_inplace(h->exe, strnlen(h->exe, sizeof h->exe));
  s.bytes_inplace(h->steps_pattern, strnlen(h->steps_pattern, sizeof h->steps_pattern));
  out.push_back({0, hdr});
  uint64_t used = 0;
  const uint64_t st = offsetof(rec::Record, strings);
  if (pread(fd, &used, sizeof used, off_t(st)) == ssize_t(sizeof used) && used) {
    used = std::min<uint64_t>(used, rec::kStringBytes);
    std::string bytes(used, '\0');
    ssize_t got = pread(fd, bytes.data(), used, off_t(st + offsetof(rec::StringTable, bytes)));
    if (got > 0) {
      bytes.resize(size_t(got));
      s.bytes_inplace(bytes.data(), bytes.size());
      out.push_back({st + offsetof(rec::StringTable, bytes), bytes});
    }
  }
  close(fd);
  return out;
}

int run_export(const ExportArgs& a) {
  fs::path dir = a.run_dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) { error_line("export", a.run_dir + ": not a directory"); return 2; }
  if (!fs::exists(dir / "run_meta.json", ec) && !fs::is_directory(dir / "ranks", ec)) {
    error_line("export", a.run_dir + ": not a run directory (no run_meta.json or ranks/)");
    return 2;
  }
  dir = fs::canonical(dir, ec);
  std::string top = dir.filename().string();
  fs::path out = a.output.empty() ? fs::path(top + (a.sanitize ? "-sanitized" : "") + ".tar.zst") : fs::path(a.output);
  fs::path out_abs = fs::absolute(out, ec);

  std::vector<Entry> entries;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const auto& de = *it;
    if (de.is_symlink(ec)) continue;  // never follow links out of the run dir
    Entry e;
    e.path = de.path();
    if (fs::equivalent(e.path, out_abs, ec)) continue;
    e.rel = fs::relative(e.path, dir, ec).generic_string();
    struct stat st{};
    if (stat(e.path.c_str(), &st) != 0) continue;
    e.mtime = uint64_t(st.st_mtime);
    e.dir = S_ISDIR(st.st_mode);
    if (!e.dir && !S_ISREG(st.st_mode)) continue;
    e.size = e.dir ? 0 : uint64_t(st.st_size);
    if (!e.dir) {
      rec::Header h{};
      e.record = is_record(e.path, &h);
      e.text = !e.record && looks_text(e.path, e.size);
      e.json = e.text && e.path.extension() == ".json";
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) { return x.rel < y.rel; });

  Sanitizer s;
  if (a.sanitize) {
    s.learn_local();
    for (const auto& e : entries) {
      if (e.record) {
        rec::Header h{};
        is_record(e.path, &h);
        s.add_host(std::string(h.host, strnlen(h.host, sizeof h.host)));
      } else if (e.text) {
        std::string t = slurp(e.path);
        if (e.json) {
          auto j = nlohmann::json::parse(t, nullptr, false);
          if (!j.is_discarded()) s.learn_json(j);
        }
        s.learn_text(t);
      }
    }
  }
  auto name = [&](const std::string& rel) {
    std::string t = a.sanitize ? s.text(top) : top;
    return rel.empty() ? t : t + "/" + (a.sanitize ? s.text(rel) : rel);
  };

  try {
    TarZstdWriter w(out.string());
    w.add_directory(name(""), 0);
    for (const auto& e : entries) {
      if (e.dir) { w.add_directory(name(e.rel), e.mtime); continue; }
      if (a.sanitize && e.text) {
        std::string t = slurp(e.path);
        if (e.json) {
          auto j = nlohmann::json::parse(t, nullptr, false);
          t = j.is_discarded() ? s.text(t) : s.json(j).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        } else {
          t = s.text(t);
        }
        w.begin_file(name(e.rel), t.size(), e.mtime);
        w.write(t.data(), t.size());
        w.end_file();
        continue;
      }
      std::vector<Patch> patches;
      if (a.sanitize && e.record) patches = record_patches(e.path, s);
      std::string whole;  // other binary files with --sanitize: same-length masks
      if (a.sanitize && !e.record) {
        if (e.size > kMaxText) throw std::runtime_error(e.path.string() + ": binary file too large to sanitize");
        whole = slurp(e.path);
        s.bytes_inplace(whole.data(), whole.size());
        w.begin_file(name(e.rel), whole.size(), e.mtime);
        w.write(whole.data(), whole.size());
        w.end_file();
        continue;
      }
      int fd = open(e.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error(e.path.string() + ": cannot open (" + std::strerror(errno) + ")");
      std::unique_ptr<int, void (*)(int*)> guard(&fd, [](int* f) { close(*f); });
      w.begin_file(name(e.rel), e.size, e.mtime);
      try {
        stream_extents(fd, e.size, [&](char* buf, uint64_t off, uint64_t n) {
          if (!buf) {
            // A hole: zeros, unless a patch covers part of it (never: patched ranges are data).
            w.write_zeros(n);
            return;
          }
          for (const auto& p : patches) {
            uint64_t lo = std::max(off, p.off), hi = std::min(off + n, p.off + p.bytes.size());
            if (lo < hi) std::memcpy(buf + (lo - off), p.bytes.data() + (lo - p.off), hi - lo);
          }
          w.write(buf, size_t(n));
        });
      } catch (const std::exception& ex) {
        throw std::runtime_error(e.path.string() + ": " + ex.what());
      }
      w.end_file();
    }
    w.finish();
  } catch (const std::exception& ex) {
    fs::remove(out, ec);
    error_line("export", ex.what());
    return 2;
  }
  std::printf("%s\n", out.string().c_str());
  return 0;
}

}  // namespace

void register_export(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ExportArgs>();
  auto* sub = app.add_subcommand("export", "pack a run directory into one .tar.zst (optionally sanitized) for a ticket");
  sub->add_option("RUN_DIR", args->run_dir, "run directory")->required();
  sub->add_flag("--sanitize", args->sanitize, "replace user/host names, IPs, home paths and environment values");
  sub->add_option("-o,--output", args->output, "archive to write (default ./<run>[-sanitized].tar.zst)");
  sub->callback([args, exit_code] { *exit_code = run_export(*args); });
}

}  // namespace argus::cli
