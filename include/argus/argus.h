/* SPDX-License-Identifier: Apache-2.0
 * argus/argus.h — the step API of libargus.so (C, callable from C, C++ and Python ctypes).
 *
 * Exported by libargus.so (preloaded by argus-run).  From Python:
 *     lib = ctypes.CDLL(None)            # the preloaded libargus.so is in the global scope
 *     lib.argus_step_begin(ctypes.c_int64(n)); ...; lib.argus_step_end()
 * or ctypes.CDLL("libargus.so") — the already loaded copy is returned.
 *
 * Every function is cheap, thread-safe, never fails, never blocks on I/O and does nothing
 * when libargus is disabled (ARGUS_DISABLE=1) or could not create its record.  The first
 * call creates the process's rank record (a process that marks steps is observed even if it
 * never touches CUDA).
 *
 * Step boundaries (ARGUS_STEPS_FROM):
 *   auto          (default) explicit marks (this API) if any; else NVTX ranges matching the
 *                 pattern; else, when neither produced a step in the first 30 s, fixed time
 *                 windows.  The first source that produces a step is used for the whole run.
 *   marker        only this API.
 *   nvtx:PATTERN  NVTX push/pop or start/end ranges whose message matches PATTERN: a glob
 *                 ('*' any run, '?' one char), alternatives separated by '|'.  A trailing
 *                 number in the message ("ProfilerStep#17") is the step index.  Default
 *                 pattern: "ProfilerStep#*|train_step*|training_step*|step_*|Step *|iteration*"
 *   window:SECONDS  time windows of SECONDS (fractional allowed) from the record's creation.
 */
#ifndef ARGUS_ARGUS_H
#define ARGUS_ARGUS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ARGUS_API_VERSION 1

/* Opens step `index` (index < 0: previous index + 1).  A step still open is closed first
 * (flagged "closed implicitly"). */
void argus_step_begin(int64_t index);

/* Closes the open step, if any. */
void argus_step_end(void);

/* One call per iteration: closes the open step (if any) and opens step `index`
 * (index < 0: previous index + 1).  For loops with no natural end point. */
void argus_mark(int64_t index);

/* Sets a named per-step counter (e.g. "torch.reserved_bytes", "torch.num_alloc_retries") for
 * the open step (or the next one if none is open); the last value set in a step is kept.
 * Up to 8 distinct names per process (more are ignored and counted).  name is copied. */
void argus_step_counter(const char* name, int64_t value);

/* 1 if this process is being recorded (record created or creatable), 0 if disabled. */
int argus_active(void);

/* ARGUS_API_VERSION of the loaded library. */
int argus_api_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ARGUS_ARGUS_H */
