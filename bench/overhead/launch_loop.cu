// bench-launch-loop N: times N cudaLaunchKernel calls of an empty kernel (host time inside
// the launch calls only: batches of 256 launches are timed, the stream is synchronised
// outside the timed region).  Prints "ns_per_launch <float>".
#include <cuda_runtime.h>
#include <cstdio>
#include <cstdlib>
#include <ctime>

extern "C" __global__ void bench_empty(int x) { (void)x; }

static double now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  int x = 0;
  void* args[] = {&x};
  cudaStream_t s;
  if (cudaStreamCreate(&s) != cudaSuccess) return 1;
  for (int i = 0; i < 1000; ++i) cudaLaunchKernel((const void*)bench_empty, dim3(1), dim3(32), args, 0, s);  // warm-up
  cudaStreamSynchronize(s);
  double total = 0;
  long done = 0;
  while (done < n) {
    double t0 = now_ns();
    for (int i = 0; i < 256; ++i) cudaLaunchKernel((const void*)bench_empty, dim3(1), dim3(32), args, 0, s);
    total += now_ns() - t0;
    done += 256;
    cudaStreamSynchronize(s);
  }
  printf("ns_per_launch %.2f\n", total / double(done));
  return 0;
}
