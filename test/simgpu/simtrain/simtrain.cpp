// simtrain — one rank of a simgpu workload as a DDP-like training loop, written against the
// ordinary CUDA runtime + NCCL API (it would build against the real libraries unchanged).
//
//   simtrain [--workload FILE] [--steps N]      (default: $SIMGPU_WORKLOAD)
//
// Rank from RANK/WORLD_SIZE/LOCAL_RANK, OMPI_COMM_WORLD_*, or SLURM_*; the NCCL unique id is
// exchanged through a file rendezvous (SIMTRAIN_RENDEZVOUS dir, else derived from the
// launcher's job id). Every step is an NVTX range "ProfilerStep#<n>" (nvtx3 header; reaches a
// tool only through NVTX_INJECTION64_PATH). Kernels are launched with cudaLaunchKernel on
// host-stub addresses registered through __cudaRegisterFunction under the workload's names,
// exactly what nvcc-generated code does.
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>
#include <nvtx3/nvToolsExt.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../core/workload.h"

extern "C" {
void** __cudaRegisterFatBinary(void* fatCubin);
void __cudaRegisterFatBinaryEnd(void** handle);
void __cudaRegisterFunction(void** handle, const char* hostFun, char* deviceFun, const char* deviceName, int limit,
                            uint3* tid, uint3* bid, dim3* bDim, dim3* gDim, int* wSize);
}

namespace {

// One distinct address per sequence item: the "host stubs" kernels are registered under.
char g_stubs[4096];

// The fat binary wrapper layout nvcc emits (magic, version, data, filename).
struct FatbinWrapper {
  int magic;
  int version;
  const void* data;
  void* filename;
};
const unsigned long long g_fatbin_data[4] = {0x00100001ba55ed50ull, 0, 0, 0};
const FatbinWrapper g_fatbin = {0x466243b1, 1, g_fatbin_data, nullptr};

[[noreturn]] void die(const std::string& msg, int code = 2) {
  fprintf(stderr, "simtrain: %s\n", msg.c_str());
  exit(code);
}

#define CK(x)                                                                                    \
  do {                                                                                           \
    cudaError_t e_ = (x);                                                                        \
    if (e_ != cudaSuccess) die(std::string(#x) + ": " + cudaGetErrorString(e_), 1);              \
  } while (0)
#define NK(x)                                                                                    \
  do {                                                                                           \
    ncclResult_t e_ = (x);                                                                       \
    if (e_ != ncclSuccess) die(std::string(#x) + ": " + ncclGetErrorString(e_), 1);              \
  } while (0)

int env_int(std::initializer_list<const char*> keys, int dflt) {
  for (const char* k : keys)
    if (const char* v = getenv(k); v && *v) return atoi(v);
  return dflt;
}

std::string env_str(std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (const char* v = getenv(k); v && *v) return v;
  return "";
}

std::string rendezvous_dir() {
  std::string d = env_str({"SIMTRAIN_RENDEZVOUS"});
  if (!d.empty()) return d;
  std::string key = env_str({"TORCHELASTIC_RUN_ID"});
  if (!key.empty()) key += "-" + env_str({"MASTER_PORT"});
  if (key.empty()) key = env_str({"OMPI_MCA_orte_hnp_uri", "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid"});
  if (key.empty() && !env_str({"SLURM_JOB_ID"}).empty())
    key = env_str({"SLURM_JOB_ID"}) + "." + env_str({"SLURM_STEP_ID"});
  if (key.empty()) key = "ppid" + std::to_string(getppid());
  for (char& c : key)
    if (!isalnum((unsigned char)c) && c != '-' && c != '.') c = '_';
  const char* tmp = getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/simtrain-rdzv-" + key.substr(0, 120);
}

ncclUniqueId exchange_id(int rank) {
  ncclUniqueId id;
  std::string dir = rendezvous_dir();
  std::string file = dir + "/nccl-id";
  if (rank == 0) {
    NK(ncclGetUniqueId(&id));
    mkdir(dir.c_str(), 0700);
    std::string tmp = file + ".tmp" + std::to_string(getpid());
    {
      std::ofstream o(tmp, std::ios::binary);
      o.write(id.internal, sizeof id.internal);
      if (!o) die("cannot write the rendezvous file " + tmp, 1);
    }
    if (rename(tmp.c_str(), file.c_str()) != 0) die("cannot publish the rendezvous file " + file, 1);
    return id;
  }
  for (int i = 0;; i++) {
    std::ifstream in(file, std::ios::binary);
    if (in && in.read(id.internal, sizeof id.internal)) return id;
    if (i > 60000 / 20) die("timed out waiting for rank 0's rendezvous file " + file, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ncclDataType_t dtype_of(const std::string& s) {
  if (s == "bf16") return ncclBfloat16;
  if (s == "f16" || s == "fp16") return ncclFloat16;
  if (s == "f32" || s == "fp32") return ncclFloat32;
  if (s == "f64") return ncclFloat64;
  if (s == "i32") return ncclInt32;
  if (s == "i64") return ncclInt64;
  if (s == "u8" || s == "i8") return ncclUint8;
  die("unknown dtype '" + s + "'");
}
size_t dtype_bytes(ncclDataType_t t) {
  switch (t) {
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclFloat32: case ncclInt32: return 4;
    case ncclFloat64: case ncclInt64: return 8;
    default: return 1;
  }
}
ncclRedOp_t redop_of(const std::string& s) {
  if (s == "sum") return ncclSum;
  if (s == "max") return ncclMax;
  if (s == "min") return ncclMin;
  if (s == "avg") return ncclAvg;
  if (s == "prod") return ncclProd;
  die("unknown reduction op '" + s + "'");
}

void sleep_us(double us) {
  if (us > 0) std::this_thread::sleep_for(std::chrono::nanoseconds((long long)(us * 1000)));
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  long steps_override = -1;
  bool check_only = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--workload" && i + 1 < argc) path = argv[++i];
    else if (a.rfind("--workload=", 0) == 0) path = a.substr(11);
    else if (a == "--steps" && i + 1 < argc) steps_override = atol(argv[++i]);
    else if (a == "--check") check_only = true;
    else if (a == "--help" || a == "-h") {
      printf("usage: simtrain [--workload FILE] [--steps N] [--check]   (default workload: $SIMGPU_WORKLOAD)\n"
             "  --check  validate the workload and exit (0 valid, 2 invalid)\n");
      return 0;
    } else {
      die("unknown argument '" + a + "' (usage: simtrain [--workload FILE] [--steps N])");
    }
  }
  if (path.empty()) path = env_str({"SIMGPU_WORKLOAD"});
  if (path.empty()) die("no workload: pass --workload FILE or set SIMGPU_WORKLOAD (scripts/with-simgpu --workload)");
  sg::Workload w;
  try {
    w = sg::parse_workload_file(path);
  } catch (const std::exception& e) {
    die(e.what());
  }
  if (check_only) {
    printf("%s: valid workload (%d ranks, %ld steps, %zu items, %zu faults)\n", path.c_str(), w.world_size, w.steps,
           w.sequence.size(), w.faults.size());
    return 0;
  }
  // The libraries read the same workload (durations, faults, capacity).
  setenv("SIMGPU_WORKLOAD", path.c_str(), 1);
  long steps = steps_override >= 0 ? steps_override : w.steps;

  int rank = env_int({"RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"}, 0);
  int world = env_int({"WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS"}, w.world_size);
  int local = env_int({"LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"}, rank);
  if (world != w.world_size)
    fprintf(stderr, "simtrain: rank %d: launcher world size %d differs from the workload's %d; using %d\n", rank, world,
            w.world_size, world);
  if (rank < 0 || rank >= world) die("rank " + std::to_string(rank) + " outside world size " + std::to_string(world));

  using SetStep = void (*)(long);
  using SetRank = void (*)(int);
  using Bind = void (*)(const void*, double, double);
  auto set_step = (SetStep)dlsym(RTLD_DEFAULT, "simgpu_set_step");
  auto set_rank = (SetRank)dlsym(RTLD_DEFAULT, "simgpu_set_rank");
  auto bind = (Bind)dlsym(RTLD_DEFAULT, "simgpu_bind_kernel");  // unused: per-launch hook below
  if (set_rank) set_rank(rank);

  int ndev = 0;
  CK(cudaGetDeviceCount(&ndev));
  CK(cudaSetDevice(ndev > 0 ? local % ndev : 0));

  // Register one host stub per distinct kernel name, under that name.
  using Next = void (*)(double, double, double);
  auto next_kernel = (Next)dlsym(RTLD_DEFAULT, "simgpu_next_kernel");
  (void)bind;
  void** fatbin = __cudaRegisterFatBinary((void*)&g_fatbin);
  std::map<std::string, const void*> stub;
  std::vector<const std::vector<sg::SeqItem>*> all_seqs = {&w.sequence};
  for (auto& sq : w.step_sequences) all_seqs.push_back(&sq);
  for (auto* sq : all_seqs)
    for (const sg::SeqItem& it : *sq) {
      if (it.type != sg::SeqItem::Kernel || stub.count(it.kernel)) continue;
      if (stub.size() >= sizeof g_stubs) die("too many distinct kernel names (max 4096)");
      const void* h = &g_stubs[stub.size()];
      stub[it.kernel] = h;
      __cudaRegisterFunction(fatbin, (const char*)h, (char*)it.kernel.c_str(), it.kernel.c_str(), -1, nullptr, nullptr,
                             nullptr, nullptr, nullptr);
    }
  __cudaRegisterFatBinaryEnd(fatbin);

  cudaStream_t compute, comm;
  CK(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
  CK(cudaStreamCreateWithFlags(&comm, cudaStreamNonBlocking));
  std::map<std::string, cudaStream_t> streams = {{"compute", compute}, {"comm", comm}};
  for (auto* sq : all_seqs)
    for (const sg::SeqItem& it : *sq)
      if (!streams.count(it.stream)) {
        cudaStream_t s;
        CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
        streams[it.stream] = s;
      }
  cudaEvent_t ev_compute, ev_comm, ev_side;
  CK(cudaEventCreateWithFlags(&ev_compute, cudaEventDisableTiming));
  CK(cudaEventCreateWithFlags(&ev_comm, cudaEventDisableTiming));
  CK(cudaEventCreateWithFlags(&ev_side, cudaEventDisableTiming));

  ncclComm_t nccl = nullptr;
  bool has_coll = false;
  for (auto* sq : all_seqs)
    for (auto& it : *sq) has_coll |= it.type == sg::SeqItem::Collective;
  if (has_coll) {
    ncclUniqueId id = exchange_id(rank);
    NK(ncclCommInitRank(&nccl, world, id, rank));
    if (rank == 0) unlink((rendezvous_dir() + "/nccl-id").c_str());  // everyone has joined
  }

  // Buffers: collectives need device memory like a real gradient bucket.
  uint64_t max_coll = 0;
  for (auto* sq : all_seqs)
    for (auto& it : *sq)
      if (it.type == sg::SeqItem::Collective) max_coll = std::max(max_coll, it.bytes);
  void* bucket = nullptr;
  if (max_coll) CK(cudaMalloc(&bucket, max_coll));
  // Kernel "arguments" (nvcc passes an array of pointers to the arguments).
  void* argbuf = nullptr;
  CK(cudaMalloc(&argbuf, 4096));
  void* kargs[1] = {&argbuf};

  void* churn = nullptr;
  auto start = std::chrono::steady_clock::now();
  for (long step = 0; step < steps; step++) {
    if (set_step) set_step(step);
    for (const sg::Fault& f : w.faults) {
      if (!f.applies(rank, step)) continue;
      if (f.kind == "crash") {
        int sig = f.signal == "SEGV" ? SIGSEGV : f.signal == "ABRT" ? SIGABRT : SIGKILL;
        fprintf(stderr, "simtrain: rank %d: crash fault at step %ld (SIG%s)\n", rank, step, f.signal.c_str());
        fflush(stderr);
        signal(sig, SIG_DFL);
        rlimit no_core{0, 0};  // a simulated crash should not litter core files
        setrlimit(RLIMIT_CORE, &no_core);
        raise(sig);
      }
    }
    for (const sg::Fault& f : w.faults)
      if (f.kind == "stall" && f.applies(rank, step)) sleep_us(f.us);

    std::string range = "ProfilerStep#" + std::to_string(step);
    nvtxRangePushA(range.c_str());
    sleep_us(w.host_us);

    for (const sg::Fault& f : w.faults) {
      if (f.kind != "alloc_churn" || !f.applies(rank, step)) continue;
      if (churn) CK(cudaFree(churn));
      churn = nullptr;
      cudaError_t e = cudaMalloc(&churn, f.bytes);
      if (e != cudaSuccess) {
        fprintf(stderr, "simtrain: rank %d: alloc_churn cudaMalloc(%llu) failed: %s\n", rank,
                (unsigned long long)f.bytes, cudaGetErrorString(e));
        churn = nullptr;
      }
    }

    const std::vector<sg::SeqItem>& seq = w.sequence_for(step);
    int last_kernel_item = -1;
    for (size_t i = 0; i < seq.size(); i++)
      if (seq[i].type == sg::SeqItem::Kernel && seq[i].stream == "compute") last_kernel_item = (int)i;
    std::set<cudaStream_t> side_used;
    std::vector<void*> step_allocs;
    bool comm_pending = false;  // an overlapped collective the step's last compute must wait for
    int coll_index = 0;
    for (size_t i = 0; i < seq.size(); i++) {
      const sg::SeqItem& it = seq[i];
      cudaStream_t s_item = streams[it.stream];
      if (s_item != compute && s_item != comm) side_used.insert(s_item);
      if (it.type == sg::SeqItem::Kernel) {
        if ((int)i == last_kernel_item && comm_pending) {
          CK(cudaEventRecord(ev_comm, comm));
          CK(cudaStreamWaitEvent(compute, ev_comm, 0));
          comm_pending = false;
        }
        unsigned g = it.grid > 0 ? (unsigned)it.grid : 1024, b = it.block > 0 ? (unsigned)it.block : 256;
        const void* h = stub[it.kernel];
        for (int k = 0; k < it.count; k++) {
          if (next_kernel)
            next_kernel(it.median_us, it.sigma,
                        it.durations_us.empty() ? 0.0 : it.durations_us[(size_t)k % it.durations_us.size()]);
          CK(cudaLaunchKernel(h, dim3(g), dim3(b), kargs, 0, s_item));
        }
      } else if (it.type == sg::SeqItem::Alloc) {
        void* p = nullptr;
        cudaError_t e = cudaMalloc(&p, it.alloc_bytes);
        if (e != cudaSuccess) {
          fprintf(stderr, "simtrain: rank %d: step %ld: cudaMalloc(%llu) failed: %s\n", rank, step,
                  (unsigned long long)it.alloc_bytes, cudaGetErrorString(e));
          fflush(stderr);
          nvtxRangePop();
          return 3;  // like a training script dying on CUDA OOM
        }
        if (it.free) step_allocs.push_back(p);
      } else {
        for (const sg::Fault& f : w.faults)
          if (f.kind == "hang" && f.applies(rank, step) && f.collective_index == coll_index) {
            fprintf(stderr, "simtrain: rank %d: hang fault at step %ld before collective %d\n", rank, step, coll_index);
            fflush(stderr);
            for (;;) pause();  // never enters the collective
          }
        coll_index++;
        if (!nccl) continue;
        ncclDataType_t dt = dtype_of(it.dtype);
        size_t count = std::max<size_t>(it.bytes / dtype_bytes(dt), 1);
        cudaStream_t cs = s_item;
        // The collective waits for the compute launched before it (DDP bucket ready).
        if (cs != compute) {
          CK(cudaEventRecord(ev_compute, compute));
          CK(cudaStreamWaitEvent(cs, ev_compute, 0));
        }
        const std::string& c = it.collective;
        if (c == "allreduce") NK(ncclAllReduce(bucket, bucket, count, dt, redop_of(it.op), nccl, cs));
        else if (c == "allgather") NK(ncclAllGather(bucket, bucket, std::max<size_t>(count / world, 1), dt, nccl, cs));
        else if (c == "reducescatter")
          NK(ncclReduceScatter(bucket, bucket, std::max<size_t>(count / world, 1), dt, redop_of(it.op), nccl, cs));
        else if (c == "broadcast") NK(ncclBroadcast(bucket, bucket, count, dt, 0, nccl, cs));
        else if (c == "reduce") NK(ncclReduce(bucket, bucket, count, dt, redop_of(it.op), 0, nccl, cs));
        else if (c == "sendrecv") {
          NK(ncclGroupStart());
          NK(ncclSend(bucket, count, dt, (rank + 1) % world, nccl, cs));
          NK(ncclRecv(bucket, count, dt, (rank + world - 1) % world, nccl, cs));
          NK(ncclGroupEnd());
        }
        if (cs != compute) {
          if (it.overlap) {
            comm_pending = true;
          } else {  // inline: compute continues only after the collective
            CK(cudaEventRecord(ev_comm, cs));
            CK(cudaStreamWaitEvent(compute, ev_comm, 0));
          }
        }
      }
    }
    if (comm_pending) {
      CK(cudaEventRecord(ev_comm, comm));
      CK(cudaStreamWaitEvent(compute, ev_comm, 0));
    }
    for (cudaStream_t side : side_used) {  // the step ends when its side streams are done
      CK(cudaEventRecord(ev_side, side));
      CK(cudaStreamWaitEvent(compute, ev_side, 0));
    }
    for (void* p : step_allocs) CK(cudaFree(p));
    // loss.item(): the host waits for the step's GPU work.
    CK(cudaStreamSynchronize(compute));
    nvtxRangePop();
  }
  CK(cudaDeviceSynchronize());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rank == 0 || getenv("SIMTRAIN_VERBOSE"))
    printf("simtrain: rank %d/%d finished %ld steps in %.3f s\n", rank, world, steps, secs);
  if (nccl) ncclCommDestroy(nccl);
  return 0;
}
