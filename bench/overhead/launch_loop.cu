// bench-launch-loop N: times N cudaLaunchKernel calls of an empty kernel two ways in the same
// process, in alternating batches of 256 (ABBA) (host time inside the launch calls only; the stream
// is synchronised outside the timed region):
//   ns_per_launch         through the symbol the program links (libargus's hook when it is
//                         preloaded);
//   ns_per_launch_direct  through libcudart's own cudaLaunchKernel (dlsym on its handle), which
//                         no hook sees.
// Same process, same threads, same simgpu state: the difference is what the hook adds.
// (Across two processes it is not: one idle extra thread, such as libargus's flush thread,
// changes where the scheduler puts simgpu's worker and costs its device mutex ~50 ns per
// launch by itself — measured with a preloaded library that only starts a sleeping thread.)
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <cstdio>
#include <cstdlib>
#include <ctime>

extern "C" __global__ void bench_empty(int x) { (void)x; }

using Launch = cudaError_t (*)(const void*, dim3, dim3, void**, size_t, cudaStream_t);

static double now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double batch(Launch f, void** args, cudaStream_t s) {
  double t0 = now_ns();
  for (int i = 0; i < 256; ++i) f((const void*)bench_empty, dim3(1), dim3(32), args, 0, s);
  double t = now_ns() - t0;
  cudaStreamSynchronize(s);
  return t;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  int x = 0;
  void* args[] = {&x};
  cudaStream_t s;
  if (cudaStreamCreate(&s) != cudaSuccess) return 1;
  void* rt = dlopen("libcudart.so.13", RTLD_NOW | RTLD_NOLOAD);
  Launch direct = rt ? reinterpret_cast<Launch>(dlsym(rt, "cudaLaunchKernel")) : nullptr;
  if (!direct) {
    fprintf(stderr, "bench-launch-loop: libcudart.so.13: cudaLaunchKernel not found\n");
    return 2;
  }
  Launch linked = &cudaLaunchKernel;
  for (int i = 0; i < 4; ++i) { batch(linked, args, s); batch(direct, args, s); }  // warm-up
  double total = 0, total_direct = 0;
  long done = 0;
  // ABBA order: the batch right after a synchronisation may find simgpu's threads still busy
  // (CUPTI record delivery), so neither way always goes first.
  for (long i = 0; done < n; ++i) {
    if (i % 2 == 0) {
      total += batch(linked, args, s);
      total_direct += batch(direct, args, s);
    } else {
      total_direct += batch(direct, args, s);
      total += batch(linked, args, s);
    }
    done += 256;
  }
  printf("ns_per_launch %.2f\nns_per_launch_direct %.2f\n", total / double(done), total_direct / double(done));
  return 0;
}
