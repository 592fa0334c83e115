// argus-synth-run: writes a synthetic run directory (ranks/ + run_meta.json) for tests, the
// benchmark and demos of the report without simgpu.
//   argus-synth-run OUT_DIR [--world N] [--steps N] [--seed S] [--kernel-sigma X]
//       [--fault kind:ranks:first:last[:factor[:kernel]]]... [--env NAME=VALUE]
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "synth_run.h"

int main(int argc, char** argv) {
  using namespace argus::synth;
  if (argc < 2) {
    std::fprintf(stderr, "usage: argus-synth-run OUT_DIR [--world N] [--steps N] [--seed S] [--fault kind:ranks:first:last[:factor[:kernel]]] [--env K=V]\n");
    return 2;
  }
  RunSpec spec;
  std::string out = argv[1];
  double kscale = 1.0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--world") spec.world = std::atoi(v.c_str());
    else if (k == "--steps") spec.steps = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "--seed") spec.seed = std::strtoull(v.c_str(), nullptr, 10);
    else if (k == "--kernel-scale") kscale = std::atof(v.c_str());
    else if (k == "--env") spec.meta_extra_env = v;
    else if (k == "--run-id") spec.run_id = v;
    else if (k == "--fault") {
      Fault f;
      std::stringstream ss(v);
      std::string part;
      int field = 0;
      while (std::getline(ss, part, ':')) {
        switch (field++) {
          case 0: f.kind = part; break;
          case 1: { std::stringstream rs(part); std::string x; while (std::getline(rs, x, ',')) f.ranks.push_back(std::atoi(x.c_str())); break; }
          case 2: f.first = std::strtoull(part.c_str(), nullptr, 10); break;
          case 3: f.last = std::strtoull(part.c_str(), nullptr, 10); break;
          case 4: f.factor = std::atof(part.c_str()); f.stall_ns = f.factor * 1e3; f.signal = int(f.factor); break;
          case 5: f.kernel = part; break;
        }
      }
      spec.faults.push_back(f);
    } else {
      std::fprintf(stderr, "argus-synth-run: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (kscale != 1.0) {
    spec.kernels = default_kernels();
    for (auto& k : spec.kernels) k.median_ns *= kscale;
  }
  write_run(spec, out);
  return 0;
}
