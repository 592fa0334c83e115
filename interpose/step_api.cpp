// SPDX-License-Identifier: Apache-2.0
// The argus.h step API (C, Python ctypes).  A call creates the record if needed.
#include <argus/argus.h>

#include "state.h"

using namespace argus;
using namespace argus::ip;

ARGUS_EXPORT void argus_step_begin(int64_t index) {
  if (t_tls.depth > 0 || !active()) return;
  step_begin_from(index, rec::kStepsMarker);
}
ARGUS_EXPORT void argus_step_end(void) {
  if (t_tls.depth > 0 || !active()) return;
  step_end_from(rec::kStepsMarker);
}
ARGUS_EXPORT void argus_mark(int64_t index) {
  if (t_tls.depth > 0 || !active()) return;
  if (steps_source_allowed(rec::kStepsMarker)) g_rec.step_mark(index, rec::kStepsMarker);
}
ARGUS_EXPORT void argus_step_counter(const char* name, int64_t value) {
  if (!name || t_tls.depth > 0 || !active()) return;
  g_rec.step_counter(name, value);
}
ARGUS_EXPORT int argus_active(void) { return active() ? 1 : 0; }
ARGUS_EXPORT int argus_api_version(void) { return ARGUS_API_VERSION; }
