// libnccl.so.2 — simgpu's NCCL across processes through shared memory.
//
// Each communicator is a shm segment named after its unique id. A collective is a device op
// whose GPU start is this rank's ready time; it ends when every rank has arrived
// (max of their ready times) plus the ring transfer time (2(n-1)/n * bytes / bandwidth for
// allreduce, the slowest link of the ring decides). ncclAllReduce returns at once; the
// device thread resolves the op when the peers' arrivals show up (futex on a shared word).
// No data is moved: simgpu models time, not arithmetic.
#include <cuda_runtime_api.h>
#include <cupti_driver_cbid.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <nccl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../core/device.h"

namespace {

constexpr uint32_t kMagic = 0x53474e43;  // "SGNC"
constexpr int kSlots = 64;               // outstanding collectives per communicator
constexpr int kP2PSlots = 16;            // outstanding sends per (src, dst) pair

struct CollSlot {
  std::atomic<uint64_t> seq1;  // seq + 1 once this rank's arrival is published
  uint64_t arrive;
  double bw;
};
struct P2PSlot {
  std::atomic<uint64_t> send_seq1, recv_seq1;
  uint64_t send_arrive, recv_arrive;
  double send_bw, recv_bw;
};
struct Shm {
  std::atomic<uint32_t> magic;
  std::atomic<uint32_t> gen;  // futex word: bumped at every arrival
  std::atomic<int> joined;
  int nranks;
  // followed by CollSlot[kSlots][nranks], P2PSlot[nranks][nranks][kP2PSlots]
};

size_t shm_size(int n) {
  return sizeof(Shm) + sizeof(CollSlot) * kSlots * n + sizeof(P2PSlot) * (size_t)n * n * kP2PSlots;
}

long futex(std::atomic<uint32_t>* w, int op, uint32_t v, const timespec* ts) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(w), op, v, ts, nullptr, 0);
}

// One futex word per user and host, bumped at every arrival on any communicator: the device
// thread can wait for "some peer arrived" across all communicators of the process.
std::atomic<uint32_t>* host_word() {
  static std::atomic<uint32_t>* w = [] {
    std::string name = "/simgpu-arrivals-" + std::to_string(getuid());
    int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
    void* m = MAP_FAILED;
    if (fd >= 0) {
      if (ftruncate(fd, 4096) == 0) m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      close(fd);
    }
    // Without the shared word we fall back to a private one (peers then wake us only through
    // the device thread's periodic re-check).
    return m == MAP_FAILED ? new std::atomic<uint32_t>(0) : static_cast<std::atomic<uint32_t>*>(m);
  }();
  return w;
}

}  // namespace

struct ncclComm {
  Shm* shm = nullptr;
  size_t size = 0;
  int nranks = 0, rank = 0, device = 0;
  uint64_t coll_seq = 0;
  std::vector<uint64_t> send_seq, recv_seq;
  CollSlot* coll(int slot, int r) {
    return reinterpret_cast<CollSlot*>(reinterpret_cast<char*>(shm) + sizeof(Shm)) + (size_t)slot * nranks + r;
  }
  P2PSlot* p2p(int src, int dst, int slot) {
    auto* base = reinterpret_cast<P2PSlot*>(reinterpret_cast<char*>(shm) + sizeof(Shm) +
                                            sizeof(CollSlot) * kSlots * nranks);
    return base + ((size_t)src * nranks + dst) * kP2PSlots + slot;
  }
  void bump() {
    shm->gen.fetch_add(1, std::memory_order_acq_rel);
    futex(&shm->gen, FUTEX_WAKE, INT32_MAX, nullptr);
    std::atomic<uint32_t>* w = host_word();
    w->fetch_add(1, std::memory_order_acq_rel);
    futex(w, FUTEX_WAKE, INT32_MAX, nullptr);
  }
};

namespace {

// This rank's link bandwidth in bytes/ns, with slow_link applied at the current step.
double link_bw() {
  const sg::Workload* w = sg::workload();
  double gbps = w ? w->link_gbps : 100.0;
  if (w)
    for (const sg::Fault& f : w->faults)
      if (f.kind == "slow_link" && f.applies(sg::rank(), sg::step())) gbps /= f.factor;
  return gbps / 8.0;  // Gbit/s -> bytes/ns
}

constexpr double kLatencyNs = 6000;  // per-collective launch + protocol latency

struct CollRemote : sg::Remote {
  ncclComm* c;
  uint64_t seq;
  double xfer_bytes;  // bytes each link carries (ring model)
  CollRemote(ncclComm* comm, uint64_t s, double xb) : c(comm), seq(s), xfer_bytes(xb) {}
  void publish(sg::ns_t ready) override {
    CollSlot* s = c->coll((int)(seq % kSlots), c->rank);
    s->arrive = ready;
    s->bw = link_bw();
    s->seq1.store(seq + 1, std::memory_order_release);
    c->bump();
  }
  bool poll(sg::ns_t* end) override {
    uint64_t last = 0;
    double bw = 1e30;
    for (int r = 0; r < c->nranks; r++) {
      CollSlot* s = c->coll((int)(seq % kSlots), r);
      if (s->seq1.load(std::memory_order_acquire) != seq + 1) return false;
      last = std::max(last, s->arrive);
      bw = std::min(bw, s->bw);
    }
    *end = last + (sg::ns_t)(kLatencyNs + xfer_bytes / bw);
    return true;
  }
  std::atomic<uint32_t>* futex_word() override { return host_word(); }
};

struct P2POp {
  int peer;
  bool send;
  uint64_t seq;
  uint64_t bytes;
};

struct P2PRemote : sg::Remote {
  ncclComm* c;
  std::vector<P2POp> ops;
  sg::ns_t ready = 0;
  void publish(sg::ns_t r) override {
    ready = r;
    double bw = link_bw();
    for (auto& o : ops) {
      if (o.send) {
        P2PSlot* s = c->p2p(c->rank, o.peer, (int)(o.seq % kP2PSlots));
        s->send_arrive = r;
        s->send_bw = bw;
        s->send_seq1.store(o.seq + 1, std::memory_order_release);
      } else {
        P2PSlot* s = c->p2p(o.peer, c->rank, (int)(o.seq % kP2PSlots));
        s->recv_arrive = r;
        s->recv_bw = bw;
        s->recv_seq1.store(o.seq + 1, std::memory_order_release);
      }
    }
    c->bump();
  }
  bool poll(sg::ns_t* end) override {
    sg::ns_t e = ready;
    for (auto& o : ops) {
      P2PSlot* s = o.send ? c->p2p(c->rank, o.peer, (int)(o.seq % kP2PSlots))
                          : c->p2p(o.peer, c->rank, (int)(o.seq % kP2PSlots));
      uint64_t peer_seq1 = o.send ? s->recv_seq1.load(std::memory_order_acquire)
                                  : s->send_seq1.load(std::memory_order_acquire);
      if (peer_seq1 != o.seq + 1) return false;
      sg::ns_t peer_arrive = o.send ? s->recv_arrive : s->send_arrive;
      double bw = std::min(s->send_bw, s->recv_bw);
      e = std::max(e, std::max(ready, peer_arrive) + (sg::ns_t)(kLatencyNs + (double)o.bytes / bw));
    }
    *end = e;
    return true;
  }
  std::atomic<uint32_t>* futex_word() override { return host_word(); }
};

size_t dtype_size(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: case ncclUint8: case ncclFloat8e4m3: case ncclFloat8e5m2: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return 0;
  }
}
const char* dtype_name(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: return "i8";
    case ncclUint8: return "u8";
    case ncclInt32: return "i32";
    case ncclUint32: return "u32";
    case ncclInt64: return "i64";
    case ncclUint64: return "u64";
    case ncclFloat16: return "f16";
    case ncclFloat32: return "f32";
    case ncclFloat64: return "f64";
    case ncclBfloat16: return "bf16";
    case ncclFloat8e4m3: return "f8e4m3";
    case ncclFloat8e5m2: return "f8e5m2";
    default: return "?";
  }
}
const char* op_name(ncclRedOp_t o) {
  switch ((int)o) {
    case ncclSum: return "Sum";
    case ncclProd: return "Prod";
    case ncclMax: case ncclMin: return "MinMax";
    case ncclAvg: return "SumPostDiv";
    default: return "PreMulSum";
  }
}

// Pending work of the current group (ncclGroupStart/End nest; work launches at depth 0).
struct GroupOp {
  bool is_coll;
  ncclComm* comm;
  cudaStream_t stream;
  std::string name;
  double xfer;
  uint64_t bytes;
  P2POp p2p;
};
thread_local int t_depth = 0;
thread_local std::vector<GroupOp> t_group;

ncclResult_t launch_one(ncclComm* c, cudaStream_t h, const std::string& name, std::shared_ptr<sg::Remote> r,
                        uint64_t bytes) {
  CUstream_st* s = sg::stream_resolve(h, false);
  if (!s) return ncclInvalidArgument;
  // NCCL launches its kernel through the driver: the kernel record correlates with that call.
  sg::ApiScope api(sg::ActivityRecord::Driver, CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx, "cuLaunchKernelEx");
  int e = sg::remote_op(name.c_str(), std::move(r), s, api.corr, bytes);
  api.done(e);
  (void)c;
  return e == 0 ? ncclSuccess : ncclUnhandledCudaError;
}

ncclResult_t flush_group() {
  std::vector<GroupOp> ops;
  ops.swap(t_group);
  ncclResult_t res = ncclSuccess;
  // Point-to-point ops of one (comm, stream) fuse into one SendRecv kernel, like NCCL's.
  std::vector<std::pair<std::pair<ncclComm*, cudaStream_t>, std::shared_ptr<P2PRemote>>> fused;
  for (auto& o : ops) {
    if (o.is_coll) {
      auto r = std::make_shared<CollRemote>(o.comm, o.comm->coll_seq++, o.xfer);
      ncclResult_t x = launch_one(o.comm, o.stream, o.name, r, o.bytes);
      if (x != ncclSuccess) res = x;
      continue;
    }
    std::shared_ptr<P2PRemote> pr;
    for (auto& f : fused)
      if (f.first.first == o.comm && f.first.second == o.stream) pr = f.second;
    if (!pr) {
      pr = std::make_shared<P2PRemote>();
      pr->c = o.comm;
      fused.push_back({{o.comm, o.stream}, pr});
    }
    P2POp p = o.p2p;
    p.seq = p.send ? o.comm->send_seq[p.peer]++ : o.comm->recv_seq[p.peer]++;
    pr->ops.push_back(p);
  }
  for (auto& f : fused) {
    uint64_t bytes = 0;
    for (auto& p : f.second->ops) bytes += p.bytes;
    ncclResult_t x = launch_one(f.first.first, f.first.second, "ncclDevKernel_SendRecv", f.second, bytes);
    if (x != ncclSuccess) res = x;
  }
  return res;
}

ncclResult_t enqueue(GroupOp o) {
  t_group.push_back(std::move(o));
  if (t_depth == 0) return flush_group();
  return ncclSuccess;
}

ncclResult_t coll(const char* kind, bool reduce, ncclDataType_t dt, ncclRedOp_t op, size_t bytes, double xfer_factor,
                  ncclComm* c, cudaStream_t s) {
  if (!c) return ncclInvalidArgument;
  if (!dtype_size(dt)) return ncclInvalidArgument;
  // Real NCCL (2.19+) names: reductions carry op and type, data movement does not.
  std::string name = std::string("ncclDevKernel_") + kind + "_";
  if (reduce) name += std::string(op_name(op)) + "_" + dtype_name(dt) + "_";
  name += "RING_LL";
  GroupOp g{true, c, s, name, c->nranks > 1 ? xfer_factor * (double)bytes : 0.0, bytes, {}};
  return enqueue(std::move(g));
}

ncclResult_t init_join(ncclComm_t* out, int nranks, const ncclUniqueId& id, int rank) {
  if (!out || nranks < 1 || rank < 0 || rank >= nranks) return ncclInvalidArgument;
  if (memcmp(id.internal, "SGNC", 4) != 0) return ncclInvalidArgument;
  sg::init();
  simgpu_set_rank(rank);  // faults and noise follow the communicator rank
  std::string name = std::string("/simgpu-nccl-") + std::string(id.internal + 4, 32) + "-" + std::to_string(nranks);
  int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd < 0) return ncclSystemError;
  size_t size = shm_size(nranks);
  // Every rank truncates to the same size: idempotent, contents stay zero until written.
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    return ncclSystemError;
  }
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return ncclSystemError;
  auto* c = new ncclComm();
  c->shm = static_cast<Shm*>(m);
  c->size = size;
  c->nranks = nranks;
  c->rank = rank;
  c->device = sg::current_device();
  c->send_seq.assign(nranks, 0);
  c->recv_seq.assign(nranks, 0);
  c->shm->nranks = nranks;
  c->shm->magic.store(kMagic);
  c->shm->joined.fetch_add(1);
  c->bump();
  *out = c;
  (void)name;
  return ncclSuccess;
}

// Blocks (sleeping on the futex) until every rank joined; rank 0 then unlinks the name:
// everyone has it mapped, so nothing leaks in /dev/shm even if the job is killed later.
void init_wait(ncclComm* c, const ncclUniqueId& id) {
  while (c->shm->joined.load() < c->nranks) {
    uint32_t v = c->shm->gen.load();
    if (c->shm->joined.load() >= c->nranks) break;
    timespec ts{0, 100 * 1000 * 1000};
    futex(&c->shm->gen, FUTEX_WAIT, v, &ts);
  }
  if (c->rank == 0) {
    std::string name =
        std::string("/simgpu-nccl-") + std::string(id.internal + 4, 32) + "-" + std::to_string(c->nranks);
    shm_unlink(name.c_str());
  }
}

}  // namespace

extern "C" {

ncclResult_t ncclGetVersion(int* v) {
  if (!v) return ncclInvalidArgument;
  *v = NCCL_VERSION_CODE;
  return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  if (!id) return ncclInvalidArgument;
  memset(id->internal, 0, sizeof id->internal);
  memcpy(id->internal, "SGNC", 4);
  std::random_device rd;
  std::mt19937_64 g(((uint64_t)rd() << 32) ^ rd() ^ (uint64_t)getpid() ^ sg::now_ns());
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) id->internal[4 + i] = hex[g() & 15];
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  ncclResult_t r = init_join(comm, nranks, id, rank);
  if (r != ncclSuccess) return r;
  init_wait(*comm, id);
  return ncclSuccess;
}
ncclResult_t ncclCommInitRankConfig(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t*) {
  return ncclCommInitRank(comm, nranks, id, rank);
}
ncclResult_t ncclCommInitAll(ncclComm_t* comms, int ndev, const int*) {
  if (!comms || ndev < 1) return ncclInvalidArgument;
  ncclUniqueId id;
  ncclGetUniqueId(&id);
  for (int i = 0; i < ndev; i++) {
    ncclResult_t r = init_join(&comms[i], ndev, id, i);
    if (r != ncclSuccess) return r;
    comms[i]->device = i;
  }
  for (int i = 0; i < ndev; i++) init_wait(comms[i], id);
  return ncclSuccess;
}
ncclResult_t ncclCommFinalize(ncclComm_t) { return ncclSuccess; }
ncclResult_t ncclCommDestroy(ncclComm_t c) {
  if (!c) return ncclInvalidArgument;
  // Pending device ops may still reference the mapping: it stays mapped (process lifetime).
  return ncclSuccess;
}
ncclResult_t ncclCommAbort(ncclComm_t c) { return ncclCommDestroy(c); }
ncclResult_t ncclCommGetAsyncError(ncclComm_t c, ncclResult_t* e) {
  if (!c || !e) return ncclInvalidArgument;
  *e = ncclSuccess;
  return ncclSuccess;
}
ncclResult_t ncclCommCount(const ncclComm_t c, int* n) {
  if (!c || !n) return ncclInvalidArgument;
  *n = c->nranks;
  return ncclSuccess;
}
ncclResult_t ncclCommUserRank(const ncclComm_t c, int* r) {
  if (!c || !r) return ncclInvalidArgument;
  *r = c->rank;
  return ncclSuccess;
}
ncclResult_t ncclCommCuDevice(const ncclComm_t c, int* d) {
  if (!c || !d) return ncclInvalidArgument;
  *d = c->device;
  return ncclSuccess;
}
const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error";
    case ncclSystemError: return "unhandled system error";
    case ncclInternalError: return "internal error";
    case ncclInvalidArgument: return "invalid argument";
    case ncclInvalidUsage: return "invalid usage";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
  }
}
const char* ncclGetLastError(ncclComm_t) { return ""; }
ncclResult_t ncclMemAlloc(void** p, size_t n) { return sg::dev_malloc(p, n) == 0 ? ncclSuccess : ncclUnhandledCudaError; }
ncclResult_t ncclMemFree(void* p) { return sg::dev_free(p) == 0 ? ncclSuccess : ncclUnhandledCudaError; }
ncclResult_t ncclRedOpCreatePreMulSum(ncclRedOp_t* op, void*, ncclDataType_t, ncclScalarResidence_t, ncclComm_t) {
  *op = (ncclRedOp_t)ncclNumOps;
  return ncclSuccess;
}
ncclResult_t ncclRedOpDestroy(ncclRedOp_t, ncclComm_t) { return ncclSuccess; }

ncclResult_t ncclAllReduce(const void*, void*, size_t count, ncclDataType_t dt, ncclRedOp_t op, ncclComm_t c,
                           cudaStream_t s) {
  double n = c ? c->nranks : 1;
  return coll("AllReduce", true, dt, op, count * dtype_size(dt), 2.0 * (n - 1) / n, c, s);
}
ncclResult_t ncclReduce(const void*, void*, size_t count, ncclDataType_t dt, ncclRedOp_t op, int, ncclComm_t c,
                        cudaStream_t s) {
  return coll("Reduce", true, dt, op, count * dtype_size(dt), 1.0, c, s);
}
ncclResult_t ncclBroadcast(const void*, void*, size_t count, ncclDataType_t dt, int, ncclComm_t c, cudaStream_t s) {
  return coll("Broadcast", false, dt, ncclSum, count * dtype_size(dt), 1.0, c, s);
}
ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t dt, int root, ncclComm_t c, cudaStream_t s) {
  return ncclBroadcast(buff, buff, count, dt, root, c, s);
}
ncclResult_t ncclAllGather(const void*, void*, size_t sendcount, ncclDataType_t dt, ncclComm_t c, cudaStream_t s) {
  double n = c ? c->nranks : 1;
  return coll("AllGather", false, dt, ncclSum, sendcount * dtype_size(dt) * (size_t)n, (n - 1) / n, c, s);
}
ncclResult_t ncclReduceScatter(const void*, void*, size_t recvcount, ncclDataType_t dt, ncclRedOp_t op, ncclComm_t c,
                               cudaStream_t s) {
  double n = c ? c->nranks : 1;
  return coll("ReduceScatter", true, dt, op, recvcount * dtype_size(dt) * (size_t)n, (n - 1) / n, c, s);
}
ncclResult_t ncclAlltoAll(const void*, void*, size_t count, ncclDataType_t dt, ncclComm_t c, cudaStream_t s) {
  double n = c ? c->nranks : 1;
  return coll("AlltoAll", false, dt, ncclSum, count * dtype_size(dt) * (size_t)n, (n - 1) / n, c, s);
}

static ncclResult_t p2p(bool send, size_t count, ncclDataType_t dt, int peer, ncclComm_t c, cudaStream_t s) {
  if (!c || peer < 0 || peer >= c->nranks || !dtype_size(dt)) return ncclInvalidArgument;
  GroupOp g{false, c, s, "", 0, 0, {peer, send, 0, count * dtype_size(dt)}};
  return enqueue(std::move(g));
}
ncclResult_t ncclSend(const void*, size_t count, ncclDataType_t dt, int peer, ncclComm_t c, cudaStream_t s) {
  return p2p(true, count, dt, peer, c, s);
}
ncclResult_t ncclRecv(void*, size_t count, ncclDataType_t dt, int peer, ncclComm_t c, cudaStream_t s) {
  return p2p(false, count, dt, peer, c, s);
}

ncclResult_t ncclGroupStart() {
  t_depth++;
  return ncclSuccess;
}
ncclResult_t ncclGroupEnd() {
  if (t_depth == 0) return ncclInvalidUsage;
  if (--t_depth == 0) return flush_group();
  return ncclSuccess;
}
}  // extern "C"

// The profiling-interface names (pnccl*) real NCCL exports alongside: same functions.
#define SG_PNCCL(ret, name, params) extern "C" ret p##name params __attribute__((alias(#name)));
SG_PNCCL(ncclResult_t, ncclGetVersion, (int*))
SG_PNCCL(ncclResult_t, ncclGetUniqueId, (ncclUniqueId*))
SG_PNCCL(ncclResult_t, ncclCommInitRank, (ncclComm_t*, int, ncclUniqueId, int))
SG_PNCCL(ncclResult_t, ncclCommInitRankConfig, (ncclComm_t*, int, ncclUniqueId, int, ncclConfig_t*))
SG_PNCCL(ncclResult_t, ncclCommInitAll, (ncclComm_t*, int, const int*))
SG_PNCCL(ncclResult_t, ncclCommFinalize, (ncclComm_t))
SG_PNCCL(ncclResult_t, ncclCommDestroy, (ncclComm_t))
SG_PNCCL(ncclResult_t, ncclCommAbort, (ncclComm_t))
SG_PNCCL(ncclResult_t, ncclCommGetAsyncError, (ncclComm_t, ncclResult_t*))
SG_PNCCL(ncclResult_t, ncclCommCount, (const ncclComm_t, int*))
SG_PNCCL(ncclResult_t, ncclCommUserRank, (const ncclComm_t, int*))
SG_PNCCL(ncclResult_t, ncclCommCuDevice, (const ncclComm_t, int*))
SG_PNCCL(const char*, ncclGetErrorString, (ncclResult_t))
SG_PNCCL(const char*, ncclGetLastError, (ncclComm_t))
SG_PNCCL(ncclResult_t, ncclAllReduce, (const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclReduce, (const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, int, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclBroadcast, (const void*, void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclBcast, (void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclAllGather, (const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclReduceScatter, (const void*, void*, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclAlltoAll, (const void*, void*, size_t, ncclDataType_t, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclSend, (const void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclRecv, (void*, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t))
SG_PNCCL(ncclResult_t, ncclGroupStart, ())
SG_PNCCL(ncclResult_t, ncclGroupEnd, ())
SG_PNCCL(ncclResult_t, ncclMemAlloc, (void**, size_t))
SG_PNCCL(ncclResult_t, ncclMemFree, (void*))
