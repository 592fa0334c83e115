// axpy over several streams: each stream copies its slice in, runs an axpy loop, copies out.
// Prints the per-stream elapsed time from events and verifies the host<->device round trip.
#include <vector>
#include "common.h"

__global__ void axpy(float a, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

int main() {
  const int kStreams = 4, kIters = 50, n = 1 << 20;
  std::vector<float> host(n * kStreams), back(n * kStreams);
  for (size_t i = 0; i < host.size(); i++) host[i] = (float)i;
  float *x, *y;
  CHECK(cudaMalloc(&x, sizeof(float) * n * kStreams));
  CHECK(cudaMalloc(&y, sizeof(float) * n * kStreams));
  cudaStream_t s[kStreams];
  cudaEvent_t start[kStreams], stop[kStreams];
  for (int k = 0; k < kStreams; k++) {
    CHECK(cudaStreamCreateWithFlags(&s[k], cudaStreamNonBlocking));
    CHECK(cudaEventCreate(&start[k]));
    CHECK(cudaEventCreate(&stop[k]));
  }
  for (int k = 0; k < kStreams; k++) {
    float* xk = x + (size_t)k * n;
    float* yk = y + (size_t)k * n;
    CHECK(cudaEventRecord(start[k], s[k]));
    CHECK(cudaMemcpyAsync(xk, host.data() + (size_t)k * n, sizeof(float) * n, cudaMemcpyHostToDevice, s[k]));
    CHECK(cudaMemsetAsync(yk, 0, sizeof(float) * n, s[k]));
    for (int it = 0; it < kIters; it++) axpy<<<(n + 255) / 256, 256, 0, s[k]>>>(2.0f, xk, yk, n);
    CHECK(cudaGetLastError());
    CHECK(cudaMemcpyAsync(back.data() + (size_t)k * n, xk, sizeof(float) * n, cudaMemcpyDeviceToHost, s[k]));
    CHECK(cudaEventRecord(stop[k], s[k]));
  }
  float total = 0;
  for (int k = 0; k < kStreams; k++) {
    CHECK(cudaEventSynchronize(stop[k]));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, start[k], stop[k]));
    printf("stream %d: %d axpy launches in %.3f ms\n", k, kIters, ms);
    total += ms;
  }
  bool same = back == host;
  printf("axpy_streams: %d streams x %d launches, round trip %s\n", kStreams, kIters, same ? "ok" : "MISMATCH");
  CHECK(cudaFree(x));
  CHECK(cudaFree(y));
  return same && total > 0 ? 0 : 1;
}
