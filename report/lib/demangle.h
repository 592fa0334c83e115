// Readable kernel names. Demangling happens only here, never in the interposer's hot path.
#pragma once
#include <string>

namespace argus::report {
// The demangled name, or the input unchanged when it is not a mangled C++ name.
std::string demangle(const std::string& raw);
}  // namespace argus::report
