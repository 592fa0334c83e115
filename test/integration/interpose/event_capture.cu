// The event-pair fallback next to CUDA graph capture (run with CUPTI unavailable): a capture
// in global mode on the main thread while a second thread launches on its own stream (its
// sampled launches harvest event pairs: a query that is not in relaxed capture mode would
// invalidate the capture), launches on the capturing stream (must never get events: a
// captured event cannot be queried), then launches after the capture.  Exits 1 on any CUDA
// error (the capture must end cleanly; the sticky last error must stay clean); prints what it
// did as JSON.  `event_capture threads [N [WAVES]]`: N threads (default 8) launch at once,
// each on its own stream (the pool's lock-free acquisition and the harvest's try-lock under
// contention), in WAVES consecutive waves (default 1): more threads than libargus has launch
// shards, and shards handed back at thread exit and claimed again by the next wave.
// Built with nvcc, linked against simgpu's libraries only.
#include <cuda_runtime.h>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

extern "C" __global__ void k_before(float* x) { x[threadIdx.x] += 1.0f; }
extern "C" __global__ void k_side(float* x) { x[threadIdx.x] += 2.0f; }
extern "C" __global__ void k_cap(float* x) { x[threadIdx.x] += 3.0f; }
extern "C" __global__ void k_after(float* x) { x[threadIdx.x] += 4.0f; }

#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s failed: %s\n", #x, cudaGetErrorName(e_)); return 1; } } while (0)

constexpr int kLaunches = 1024, kReplays = 3, kMaxThreads = 64;

int threads(float* d, int n, int waves) {
  if (n < 1 || n > kMaxThreads || waves < 1) return 2;
  int bad = 0;
  for (int w = 0; w < waves; ++w) {
    int errors[kMaxThreads] = {};
    std::atomic<int> started{0};
    std::thread t[kMaxThreads];
    for (int i = 0; i < n; ++i)
      t[i] = std::thread([&, i] {
        cudaStream_t s;
        if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) { errors[i] = 1; ++started; return; }
        k_side<<<1, 256, 0, s>>>(d);
        // Every thread of the wave has launched before any goes on (and so before any exits).
        ++started;
        while (started.load() < n) std::this_thread::yield();
        for (int j = 1; j < 4 * kLaunches; ++j) k_side<<<1, 256, 0, s>>>(d);
        errors[i] = (int)cudaStreamSynchronize(s) | (int)cudaGetLastError() | (int)cudaStreamDestroy(s);
      });
    for (int i = 0; i < n; ++i) {
      t[i].join();
      bad |= errors[i];
    }
  }
  printf("{\"threads\":%d,\"waves\":%d,\"launches\":%d,\"errors\":%d}\n", n, waves, 4 * kLaunches, bad);
  return bad ? 1 : 0;
}

int main(int argc, char** argv) {
  float* d = nullptr;
  CHECK(cudaMalloc(&d, 256 * sizeof(float)));
  if (argc > 1) return threads(d, argc > 2 ? atoi(argv[2]) : 8, argc > 3 ? atoi(argv[3]) : 1);
  cudaStream_t s, side;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CHECK(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
  for (int i = 0; i < kLaunches; ++i) k_before<<<1, 256, 0, s>>>(d);
  CHECK(cudaStreamSynchronize(s));

  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  int side_err = 0;
  std::thread t([&] {  // no synchronisation here: that would be illegal during a global capture
    for (int i = 0; i < kLaunches; ++i) k_side<<<1, 256, 0, side>>>(d);
    side_err = (int)cudaGetLastError();
  });
  t.join();
  for (int i = 0; i < kLaunches; ++i) k_cap<<<1, 256, 0, s>>>(d);
  cudaStreamCaptureStatus st;
  CHECK(cudaStreamIsCapturing(s, &st));
  if (st != cudaStreamCaptureStatusActive) { fprintf(stderr, "capture invalidated during the capture\n"); return 1; }
  cudaGraph_t g;
  CHECK(cudaStreamEndCapture(s, &g));
  cudaGraphExec_t ge;
  CHECK(cudaGraphInstantiate(&ge, g, 0));
  for (int r = 0; r < kReplays; ++r) CHECK(cudaGraphLaunch(ge, s));
  for (int i = 0; i < kLaunches; ++i) k_after<<<1, 256, 0, s>>>(d);
  CHECK(cudaStreamSynchronize(s));
  CHECK(cudaStreamSynchronize(side));
  int last = (int)cudaGetLastError();
  CHECK(cudaGraphExecDestroy(ge));
  CHECK(cudaGraphDestroy(g));
  CHECK(cudaFree(d));
  printf("{\"launches\":{\"k_before\":%d,\"k_side\":%d,\"k_cap\":%d,\"k_after\":%d},"
         "\"graph_replays\":%d,\"side_error\":%d,\"last_error\":%d}\n",
         kLaunches, kLaunches, kLaunches, kLaunches, kReplays, side_err, last);
  return side_err || last ? 1 : 0;
}
