// SPDX-License-Identifier: Apache-2.0
// NVTX injection (NVTX_INJECTION64_PATH=libargus.so): the application's NVTX ranges whose
// message matches the step pattern become step boundaries.  We fill only the core range
// slots of the NVTX callback table; every other NVTX call stays a no-op.
#include "state.h"

#include <nvtx3/nvToolsExt.h>

#include <cstdint>

using namespace argus;
using namespace argus::ip;

namespace argus::ip {
std::atomic<int> g_nvtx_state{0};
}

namespace {
constexpr int kMaxDepth = 64;
thread_local uint64_t t_push_bits[kMaxDepth / 64] ARGUS_TLS = {};  // bit d: push at depth d was a step
thread_local int t_push_depth ARGUS_TLS = 0;
constexpr uint64_t kStepRangeTag = 1ull << 63;
std::atomic<uint64_t> g_range_ids{1};

const char* message_of(const nvtxEventAttributes_t* a) {
  if (!a || a->messageType != NVTX_MESSAGE_TYPE_ASCII) return nullptr;
  return a->message.ascii;
}
// Starts a step if msg matches; true if it did.
bool maybe_begin(const char* msg) {
  int64_t index = -1;
  if (!msg || t_tls.depth > 0 || !nvtx_match(msg, &index)) return false;
  if (!active()) return false;
  if (!steps_source_allowed(rec::kStepsNvtx)) return false;
  step_begin_from(index, rec::kStepsNvtx);
  return true;
}
void maybe_end() {
  if (g_state.load(std::memory_order_acquire) == kOn) step_end_from(rec::kStepsNvtx);
}

int push_common(const char* msg) {
  bool step = maybe_begin(msg);
  int d = t_push_depth++;
  if (d < kMaxDepth) {
    if (step) t_push_bits[0] |= (1ull << d);
    else t_push_bits[0] &= ~(1ull << d);
  }
  return d;
}
int NVTX_API push_a(const char* msg) { return push_common(msg); }
int NVTX_API push_ex(const nvtxEventAttributes_t* a) { return push_common(message_of(a)); }
int NVTX_API pop() {
  if (t_push_depth <= 0) return -1;
  int d = --t_push_depth;
  if (d < kMaxDepth && (t_push_bits[0] & (1ull << d))) maybe_end();
  return d;
}
nvtxRangeId_t start_common(const char* msg) {
  uint64_t id = g_range_ids.fetch_add(1, std::memory_order_relaxed);
  return maybe_begin(msg) ? (id | kStepRangeTag) : id;
}
nvtxRangeId_t NVTX_API start_a(const char* msg) { return start_common(msg); }
nvtxRangeId_t NVTX_API start_ex(const nvtxEventAttributes_t* a) { return start_common(message_of(a)); }
void NVTX_API range_end(nvtxRangeId_t id) {
  if (id & kStepRangeTag) maybe_end();
}
}  // namespace

ARGUS_EXPORT int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get_table) {
  if (!get_table) return 0;
  auto* cbs = static_cast<const NvtxExportTableCallbacks*>(get_table(NVTX_ETID_CALLBACKS));
  if (!cbs || cbs->struct_size < sizeof(NvtxExportTableCallbacks) || !cbs->GetModuleFunctionTable) {
    g_nvtx_state.store(2);
    return 0;
  }
  NvtxFunctionTable table = nullptr;
  unsigned int size = 0;
  if (!cbs->GetModuleFunctionTable(NVTX_CB_MODULE_CORE, &table, &size) || !table) {
    g_nvtx_state.store(2);
    return 0;
  }
  auto set = [&](unsigned id, NvtxFunctionPointer fn) {
    if (id < size && table[id]) *table[id] = fn;
  };
  set(NVTX_CBID_CORE_RangePushA, reinterpret_cast<NvtxFunctionPointer>(&push_a));
  set(NVTX_CBID_CORE_RangePushEx, reinterpret_cast<NvtxFunctionPointer>(&push_ex));
  set(NVTX_CBID_CORE_RangePop, reinterpret_cast<NvtxFunctionPointer>(&pop));
  set(NVTX_CBID_CORE_RangeStartA, reinterpret_cast<NvtxFunctionPointer>(&start_a));
  set(NVTX_CBID_CORE_RangeStartEx, reinterpret_cast<NvtxFunctionPointer>(&start_ex));
  set(NVTX_CBID_CORE_RangeEnd, reinterpret_cast<NvtxFunctionPointer>(&range_end));
  g_nvtx_state.store(1);
  if (g_state.load(std::memory_order_acquire) == kOn) g_rec.integrity().nvtx_state = 1;
  return 1;
}
