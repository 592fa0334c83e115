// Fuzz target for the rank-record decoder (report/lib/record_reader.cpp) and what consumes its
// output (analysis, findings, JSON and markdown rendering).
//
// A record is ~59 MiB, far beyond what a fuzzer can mutate usefully, so the input is used two
// ways: (1) as a whole file image (short, foreign, truncated inputs), and (2) as a list of
// patches applied to a valid synthetic record: each patch is
//   u8 table | u16 row | u16 offset | u8 length | length bytes
// written into that row of that table, which reaches every field the decoder trusts.
#include <cstdint>
#include <cstring>
#include <vector>

#include "analysis.h"
#include "record_reader.h"
#include "render.h"
#include "synth_run.h"

namespace {

using argus::rec::Record;

struct Region { size_t offset, rows, row_size; };

const Region kRegions[] = {
    {0, 1, sizeof(argus::rec::Header)},
    {offsetof(Record, integrity), 1, sizeof(argus::rec::Integrity)},
    {offsetof(Record, memory), 1, sizeof(argus::rec::Memory)},
    {offsetof(Record, step_summary), 1, sizeof(argus::rec::StepSummary)},
    {offsetof(Record, comms), argus::rec::kMaxComms, sizeof(argus::rec::CommRow)},
    {offsetof(Record, collectives), 4, sizeof(argus::rec::CollectiveRow)},
    {offsetof(Record, kernels), 8, sizeof(argus::rec::KernelRow)},
    {offsetof(Record, steps), 64, sizeof(argus::rec::StepRow)},
    {offsetof(Record, windows), 8, sizeof(argus::rec::WindowRow)},
    {offsetof(Record, strings), 1, 4096},
};

argus::synth::RecordImage make_base() {
  argus::synth::RunSpec spec;
  spec.world = 1;
  spec.steps = 40;
  spec.window_steps = 8;
  return std::move(argus::synth::build_run(spec)[0]);
}

void exercise(const void* image, size_t size) {
  try {
    argus::report::RunModel m;
    m.ranks.push_back(argus::report::decode_record(image, size, "fuzz.argus"));
    auto a = argus::report::analyze(m);
    auto j = argus::report::metrics_json(m, a);
    (void)argus::report::dump_json(j);
    (void)argus::report::report_markdown(m, a, {});
  } catch (const argus::report::InputError&) {
    // Rejected with a reason: the expected outcome for bad input.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static argus::synth::RecordImage base = make_base();
  static argus::synth::RecordImage work = make_base();

  // (1) The input as a file image.
  if (size >= 8 && std::memcmp(data, "ARGUSREC", 8) == 0) exercise(data, size);
  else if (size < 64) exercise(data, size);

  // (2) Patches on a valid record.
  std::vector<std::pair<size_t, size_t>> touched;
  auto* w = reinterpret_cast<uint8_t*>(&work.rec());
  size_t i = 0;
  while (i + 6 <= size && touched.size() < 64) {
    const Region& r = kRegions[data[i] % (sizeof kRegions / sizeof kRegions[0])];
    size_t row = (size_t(data[i + 1]) | size_t(data[i + 2]) << 8) % r.rows;
    size_t off = (size_t(data[i + 3]) | size_t(data[i + 4]) << 8) % r.row_size;
    size_t len = data[i + 5];
    i += 6;
    len = std::min({len, size - i, r.row_size - off});
    size_t at = r.offset + row * r.row_size + off;
    std::memcpy(w + at, data + i, len);
    touched.push_back({at, len});
    i += len;
  }
  exercise(w, argus::synth::RecordImage::size());
  // Restore only what was patched (copying the whole 59 MiB image per input would be slow).
  const auto* b = reinterpret_cast<const uint8_t*>(&base.rec());
  for (auto [at, len] : touched) std::memcpy(w + at, b + at, len);
  return 0;
}
