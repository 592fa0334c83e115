// SPDX-License-Identifier: Apache-2.0
// NCCL hooks: communicator identity, every collective / p2p / group call, per-communicator
// sequence numbers; completion (and duration) from the NCCL kernels' CUPTI records, matched
// to the enqueued calls in order (see nccl_kernel_done).
#include "real.h"
#include "state.h"

#include <nccl.h>

#include <cstring>
#include <sched.h>
#include <tuple>
#include <unistd.h>

using namespace argus;
using namespace argus::ip;

namespace {
thread_local int t_group_depth ARGUS_TLS = 0;
thread_local uint64_t t_group_id ARGUS_TLS = 0;
std::atomic<uint64_t> g_group_ids{0};
std::atomic<uint64_t> g_split_ordinal{0};

uint64_t dtype_size(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: case ncclUint8: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return (int(t) >= 10 && int(t) < 12) ? 1 : 0;  // fp8 variants
  }
}
int comm_size(ncclComm_t c) {
  int n = -1;
  if (auto f = real<ncclResult_t (*)(const ncclComm_t, int*)>(S_ncclCommCount)) f(c, &n);
  return n;
}
int32_t comm_index(ncclComm_t c) { return g_rec.comm_by_handle(uint64_t(c)); }

// ── pending calls awaiting their kernel record (MPSC ring; consumer = CUPTI processing) ──────
constexpr uint64_t kPending = 4096;
struct Pending {
  uint64_t ready;  // position + 1 once written; 0 free
  int32_t comm, row;
  uint64_t seq;
  uint32_t op;
  uint32_t done;
  uint64_t group;
};
Pending g_pending[kPending];
std::atomic<uint64_t> g_head{0};
uint64_t g_tail = 0;  // consumer only

void register_comm(ncclComm_t comm, uint64_t id_hash, int rank, int nranks) {
  int dev = -1;
  if (auto f = real<ncclResult_t (*)(const ncclComm_t, int*)>(S_ncclCommCuDevice)) f(comm, &dev);
  g_rec.comm(id_hash, rank, nranks, uint64_t(comm), dev);
  // The NCCL version as loaded by the job (run_meta.json reports it); communicator creation
  // is rare, so asking here costs nothing on the hot path.
  rec::Integrity& in = g_rec.integrity();
  if (__atomic_load_n(&in.nccl_version, __ATOMIC_RELAXED) == 0) {
    int v = 0;
    if (auto gv = real<ncclResult_t (*)(int*)>(S_ncclGetVersion); gv && gv(&v) == ncclSuccess)
      __atomic_store_n(&in.nccl_version, int32_t(v), __ATOMIC_RELAXED);
  }
  rec::Header& h = g_rec.record()->header;
  if (h.rank < 0 && h.rank_source == 0) {  // identity from the first communicator
    __atomic_store_n(&h.rank, int32_t(rank), __ATOMIC_RELAXED);
    __atomic_store_n(&h.world_size, int32_t(nranks), __ATOMIC_RELAXED);
    __atomic_store_n(&h.rank_source, uint32_t(2), __ATOMIC_RELAXED);
  }
  __atomic_fetch_or(&g_rec.integrity().nccl_resolved, uint64_t{1} << 17, __ATOMIC_RELAXED);
}

ncclResult_t coll(uint32_t op, ncclComm_t comm, ncclDataType_t dt, size_t count, uint64_t mult, int peer,
                  cudaStream_t stream, ncclResult_t (*call_fn)(void*), void* ctx) {
  if (!active()) return call_fn(ctx);
  Guard g;
  if (!g.ok) return call_fn(ctx);
  Recorder::CollCall c;
  c.comm = comm_index(comm);
  c.op = op;
  c.dtype = uint32_t(dt);
  c.count = count;
  c.bytes = uint64_t(count) * dtype_size(dt) * mult;
  c.peer = peer;
  c.in_group = t_group_depth > 0;
  c.stream = uint64_t(stream);
  int32_t row = -1;
  uint64_t seq = g_rec.collective_enqueue(c, &row);
  __atomic_fetch_or(&g_rec.integrity().nccl_resolved, uint64_t{1} << op, __ATOMIC_RELAXED);
  if (c.comm >= 0) nccl_pending_push(c.comm, row, seq, op, c.in_group ? t_group_id : 0);
  g_rec.add(g_rec.integrity().hooked_calls);
  return call_fn(ctx);
}
}  // namespace

namespace argus::ip {
void nccl_pending_push(int32_t comm, int32_t row, uint64_t seq, uint32_t op, uint64_t group) noexcept {
  uint64_t pos = g_head.fetch_add(1, std::memory_order_relaxed);
  Pending& p = g_pending[pos % kPending];
  if (__atomic_load_n(&p.ready, __ATOMIC_ACQUIRE) != 0) {  // ring full: this call stays unmatched
    g_rec.drop(rec::kDropCuptiUnmatched);
    return;
  }
  p.comm = comm; p.row = row; p.seq = seq; p.op = op; p.group = group;
  __atomic_store_n(&p.done, 0u, __ATOMIC_RELAXED);
  __atomic_store_n(&p.ready, pos + 1, __ATOMIC_RELEASE);
}

// Which ops a kernel name can complete.
static uint32_t ops_of_kernel(const char* name) {
  auto has = [&](const char* s) { return strstr(name, s) != nullptr; };
  if (has("AllReduce")) return 1u << rec::kOpAllReduce;
  if (has("ReduceScatter")) return 1u << rec::kOpReduceScatter;
  if (has("AllGather")) return 1u << rec::kOpAllGather;
  if (has("Broadcast") || has("Bcast")) return (1u << rec::kOpBroadcast) | (1u << rec::kOpBcast);
  if (has("SendRecv") || has("Send") || has("Recv") || has("AlltoAll") || has("AllToAll"))
    return (1u << rec::kOpSend) | (1u << rec::kOpRecv) | (1u << rec::kOpAllToAll) |
           (1u << rec::kOpGather) | (1u << rec::kOpScatter);
  if (has("Reduce")) return 1u << rec::kOpReduce;
  return ~0u;  // ncclDevKernel_Generic etc.: any op
}

// Called by CUPTI processing (one caller at a time) for every NCCL kernel record, in the
// order records are processed.  Completes the oldest pending call the kernel can belong to
// (and, for a grouped call, every pending call of the same group: NCCL fuses a group into one
// kernel, each call gets the kernel's duration).
void nccl_kernel_done(const char* name, uint64_t start_ns, uint64_t end_ns) noexcept {
  uint32_t ops = ops_of_kernel(name);
  uint64_t head = g_head.load(std::memory_order_acquire);
  uint64_t group = 0;
  int32_t comm = -1;
  bool matched = false;
  for (uint64_t pos = g_tail; pos < head && pos < g_tail + 512; ++pos) {
    Pending& p = g_pending[pos % kPending];
    if (__atomic_load_n(&p.ready, __ATOMIC_ACQUIRE) != pos + 1 || p.done) continue;
    if (!(ops & (1u << p.op))) continue;
    bool p2p = p.op == rec::kOpSend || p.op == rec::kOpRecv;
    if (!matched) {
      matched = true;
      // NCCL fuses the p2p calls of one group on one communicator into one kernel;
      // collectives get a kernel each.
      group = p2p ? p.group : 0;
      comm = p.comm;
    } else if (group == 0 || p.group != group || p.comm != comm || !p2p) {
      continue;
    }
    g_rec.collective_done(p.comm, p.row, p.seq, start_ns, end_ns);
    p.done = 1;
    if (group == 0) break;
  }
  if (!matched) g_rec.drop(rec::kDropCuptiUnmatched);
  // Retire completed entries at the tail.
  while (g_tail < head) {
    Pending& p = g_pending[g_tail % kPending];
    if (__atomic_load_n(&p.ready, __ATOMIC_ACQUIRE) != g_tail + 1 || !p.done) break;
    __atomic_store_n(&p.ready, uint64_t{0}, __ATOMIC_RELEASE);
    ++g_tail;
  }
}
}  // namespace argus::ip

// ── communicators ──────────────────────────────────────────────────────────────────────────
ARGUS_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  auto f = real<ncclResult_t (*)(ncclComm_t*, int, ncclUniqueId, int)>(S_ncclCommInitRank);
  if (!f) return ncclSystemError;
  ncclResult_t r = f(comm, nranks, id, rank);
  if (r == ncclSuccess && comm && active()) {
    Guard g;
    if (g.ok) register_comm(*comm, rec::fnv1a(id.internal, sizeof id.internal), rank, nranks);
  }
  return r;
}
ARGUS_EXPORT ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t* cfg) {
  auto f = real<ncclResult_t (*)(ncclComm_t*, int, ncclUniqueId, int, ncclConfig_t*)>(S_ncclCommInitRankConfig);
  if (!f) return ncclSystemError;
  ncclResult_t r = f(comm, nranks, id, rank, cfg);
  if ((r == ncclSuccess || r == ncclInProgress) && comm && active()) {
    Guard g;
    if (g.ok) register_comm(*comm, rec::fnv1a(id.internal, sizeof id.internal), rank, nranks);
  }
  return r;
}
ARGUS_EXPORT ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int* devlist) {
  auto f = real<ncclResult_t (*)(ncclComm_t*, int, const int*)>(S_ncclCommInitAll);
  if (!f) return ncclSystemError;
  ncclResult_t r = f(comms, ndev, devlist);
  if (r == ncclSuccess && comms && active()) {
    Guard g;
    if (g.ok) {
      uint64_t key[2] = {uint64_t(getpid()), uint64_t(comms[0])};
      uint64_t h = rec::fnv1a(key, sizeof key);
      for (int i = 0; i < ndev; ++i) register_comm(comms[i], h, i, ndev);
    }
  }
  return r;
}
ARGUS_EXPORT ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t* newcomm, ncclConfig_t* cfg) {
  auto f = real<ncclResult_t (*)(ncclComm_t, int, int, ncclComm_t*, ncclConfig_t*)>(S_ncclCommSplit);
  if (!f) return ncclSystemError;
  ncclResult_t r = f(comm, color, key, newcomm, cfg);
  if (r == ncclSuccess && newcomm && *newcomm && active()) {
    Guard g;
    if (g.ok) {
      int32_t parent = comm_index(comm);
      // Same on every rank that makes the same sequence of splits of the same parent.
      uint64_t k[3] = {parent >= 0 ? g_rec.record()->comms[parent].id_hash : 0, uint64_t(int64_t(color)),
                       g_split_ordinal.fetch_add(1)};
      int rank = -1;
      if (auto ur = real<ncclResult_t (*)(const ncclComm_t, int*)>(S_ncclCommUserRank)) ur(*newcomm, &rank);
      register_comm(*newcomm, rec::fnv1a(k, sizeof k), rank, comm_size(*newcomm));
    }
  }
  return r;
}
ARGUS_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  auto f = real<ncclResult_t (*)(ncclComm_t)>(S_ncclCommDestroy);
  if (!f) return ncclSystemError;
  if (g_state.load(std::memory_order_acquire) == kOn) g_rec.comm_destroyed(comm_index(comm));
  return f(comm);
}
ARGUS_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) {
  auto f = real<ncclResult_t (*)(ncclComm_t)>(S_ncclCommAbort);
  if (!f) return ncclSystemError;
  if (g_state.load(std::memory_order_acquire) == kOn) g_rec.comm_destroyed(comm_index(comm));
  return f(comm);
}

// ── groups ─────────────────────────────────────────────────────────────────────────────────
ARGUS_EXPORT ncclResult_t ncclGroupStart() {
  auto f = real<ncclResult_t (*)()>(S_ncclGroupStart);
  if (!f) return ncclSystemError;
  if (t_group_depth++ == 0) t_group_id = g_group_ids.fetch_add(1, std::memory_order_relaxed) + 1;
  if (g_state.load(std::memory_order_acquire) == kOn)
    __atomic_fetch_or(&g_rec.integrity().nccl_resolved, uint64_t{1} << 16, __ATOMIC_RELAXED);
  return f();
}
ARGUS_EXPORT ncclResult_t ncclGroupEnd() {
  auto f = real<ncclResult_t (*)()>(S_ncclGroupEnd);
  if (!f) return ncclSystemError;
  if (t_group_depth > 0) --t_group_depth;
  return f();
}

// ── collectives and p2p ────────────────────────────────────────────────────────────────────
template <class F, class... A>
static ncclResult_t run(uint32_t op, ncclComm_t comm, ncclDataType_t dt, size_t count, uint64_t mult, int peer,
                        cudaStream_t stream, F f, A... a) {
  struct Ctx { F f; std::tuple<A...> args; } ctx{f, std::tuple<A...>(a...)};
  return coll(op, comm, dt, count, mult, peer, stream,
              [](void* p) { auto* c = static_cast<Ctx*>(p); return std::apply(c->f, c->args); }, &ctx);
}

ARGUS_EXPORT ncclResult_t ncclAllReduce(const void* s, void* r, size_t n, ncclDataType_t dt, ncclRedOp_t op,
                                        ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclAllReduce)>(S_ncclAllReduce);
  if (!f) return ncclSystemError;
  return run(rec::kOpAllReduce, comm, dt, n, 1, -1, st, f, s, r, n, dt, op, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclBroadcast(const void* s, void* r, size_t n, ncclDataType_t dt, int root,
                                        ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclBroadcast)>(S_ncclBroadcast);
  if (!f) return ncclSystemError;
  return run(rec::kOpBroadcast, comm, dt, n, 1, root, st, f, s, r, n, dt, root, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclBcast(void* b, size_t n, ncclDataType_t dt, int root, ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclBcast)>(S_ncclBcast);
  if (!f) return ncclSystemError;
  return run(rec::kOpBcast, comm, dt, n, 1, root, st, f, b, n, dt, root, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclReduce(const void* s, void* r, size_t n, ncclDataType_t dt, ncclRedOp_t op, int root,
                                     ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclReduce)>(S_ncclReduce);
  if (!f) return ncclSystemError;
  return run(rec::kOpReduce, comm, dt, n, 1, root, st, f, s, r, n, dt, op, root, comm, st);
}
// bytes follow nccl-tests' "size": the whole gathered / scattered buffer.
ARGUS_EXPORT ncclResult_t ncclAllGather(const void* s, void* r, size_t n, ncclDataType_t dt, ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclAllGather)>(S_ncclAllGather);
  if (!f) return ncclSystemError;
  int nr = comm_size(comm);
  return run(rec::kOpAllGather, comm, dt, n, nr > 0 ? nr : 1, -1, st, f, s, r, n, dt, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclReduceScatter(const void* s, void* r, size_t n, ncclDataType_t dt, ncclRedOp_t op,
                                            ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclReduceScatter)>(S_ncclReduceScatter);
  if (!f) return ncclSystemError;
  int nr = comm_size(comm);
  return run(rec::kOpReduceScatter, comm, dt, n, nr > 0 ? nr : 1, -1, st, f, s, r, n, dt, op, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclAlltoAll(const void* s, void* r, size_t n, ncclDataType_t dt, ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclAlltoAll)>(S_ncclAlltoAll);
  if (!f) return ncclSystemError;
  int nr = comm_size(comm);
  return run(rec::kOpAllToAll, comm, dt, n, nr > 0 ? nr : 1, -1, st, f, s, r, n, dt, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclGather(const void* s, void* r, size_t n, ncclDataType_t dt, int root, ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclGather)>(S_ncclGather);
  if (!f) return ncclSystemError;
  int nr = comm_size(comm);
  return run(rec::kOpGather, comm, dt, n, nr > 0 ? nr : 1, root, st, f, s, r, n, dt, root, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclScatter(const void* s, void* r, size_t n, ncclDataType_t dt, int root, ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclScatter)>(S_ncclScatter);
  if (!f) return ncclSystemError;
  int nr = comm_size(comm);
  return run(rec::kOpScatter, comm, dt, n, nr > 0 ? nr : 1, root, st, f, s, r, n, dt, root, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclSend(const void* s, size_t n, ncclDataType_t dt, int peer, ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclSend)>(S_ncclSend);
  if (!f) return ncclSystemError;
  return run(rec::kOpSend, comm, dt, n, 1, peer, st, f, s, n, dt, peer, comm, st);
}
ARGUS_EXPORT ncclResult_t ncclRecv(void* r, size_t n, ncclDataType_t dt, int peer, ncclComm_t comm, cudaStream_t st) {
  auto f = real<decltype(&ncclRecv)>(S_ncclRecv);
  if (!f) return ncclSystemError;
  return run(rec::kOpRecv, comm, dt, n, 1, peer, st, f, r, n, dt, peer, comm, st);
}
