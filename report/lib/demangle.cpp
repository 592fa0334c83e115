#include "demangle.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

namespace argus::report {

std::string demangle(const std::string& raw) {
  if (raw.size() < 2 || raw[0] != '_' || raw[1] != 'Z') return raw;
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(raw.c_str(), nullptr, nullptr, &status), std::free);
  if (status != 0 || !out) return raw;
  return std::string(out.get());
}

}  // namespace argus::report
