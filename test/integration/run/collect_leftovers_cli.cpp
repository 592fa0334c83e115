// Test driver for argus::run::collect_leftovers (what `argus report --collect RUN_DIR` and
// doctor call): prints what it collected as JSON lines.
#include <cstdio>
#include <exception>

#include "argus_collect.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: collect_leftovers RUN_DIR\n");
    return 2;
  }
  try {
    for (auto& p : argus::run::collect_leftovers(argv[1])) printf("%s\n", argus::run::to_json(p).dump().c_str());
  } catch (const std::exception& e) {
    fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  return 0;
}
