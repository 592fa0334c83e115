// Prints a rank record file (RUN_DIR/ranks/*.argus) as one JSON line: header identity and
// the step ring (for the integration tests' step counts).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <argus/record.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace rec = argus::rec;

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: record_dump FILE\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  struct stat st{};
  if (fd < 0 || fstat(fd, &st) != 0) {
    fprintf(stderr, "%s: cannot open\n", argv[1]);
    return 2;
  }
  void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return 2;
  if (const char* why = rec::validate(p, static_cast<size_t>(st.st_size))) {
    fprintf(stderr, "%s: %s\n", argv[1], why);
    return 2;
  }
  const auto& r = *static_cast<const rec::Record*>(p);
  const auto& h = r.header;
  nlohmann::json j = {{"pid", h.pid}, {"rank", h.rank}, {"local_rank", h.local_rank},
                      {"world_size", h.world_size}, {"state", rec::run_state_name(h.state)},
                      {"host", h.host}, {"run_id", h.run_id}, {"exe", h.exe},
                      {"steps_source", rec::steps_source_name(h.steps_source)},
                      {"steps_begun", r.step_summary.steps_begun},
                      {"steps_closed", r.step_summary.steps_closed}};
  nlohmann::json steps = nlohmann::json::array();
  uint64_t n = std::min<uint64_t>(r.step_summary.steps_begun, rec::kStepRing);
  for (uint64_t i = 0; i < n; ++i) {
    const auto& s = r.steps[i];
    if (s.seq == 0) continue;
    steps.push_back({{"ordinal", s.ordinal}, {"index", s.index}, {"start", s.host_start_ns},
                     {"end", s.host_end_ns}, {"flags", s.flags}, {"launches", s.launches},
                     {"counters", std::vector<int64_t>(s.counters, s.counters + rec::kStepCounters)}});
  }
  j["steps"] = steps;
  printf("%s\n", j.dump().c_str());
  return 0;
}
