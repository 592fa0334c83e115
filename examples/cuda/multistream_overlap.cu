// Two independent streams of work overlap on the device: the wall time of both together is
// well below the sum of each alone (measured with events on the legacy stream).
#include "common.h"

__global__ void busy(float* v, int n, int rounds) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    for (int r = 0; r < rounds; r++) v[i] = v[i] * 0.999f + 1.0f;
}

static float run(cudaStream_t* s, int nstreams, float* v, int n) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  CHECK(cudaEventRecord(a, 0));  // legacy stream: orders with the blocking streams
  for (int k = 0; k < nstreams; k++)
    for (int i = 0; i < 20; i++) busy<<<2048, 512, 0, s[k]>>>(v + (size_t)k * n, n, 100);
  CHECK(cudaEventRecord(b, 0));
  CHECK(cudaEventSynchronize(b));
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

int main() {
  const int n = 1 << 20;
  float* v;
  CHECK(cudaMalloc(&v, sizeof(float) * n * 2));
  cudaStream_t s[2];
  CHECK(cudaStreamCreate(&s[0]));
  CHECK(cudaStreamCreate(&s[1]));
  float one = run(s, 1, v, n);
  float two = run(s, 2, v, n);
  printf("multistream_overlap: one stream %.3f ms, two streams %.3f ms, overlap %s\n", one, two,
         two < 1.5f * one ? "yes" : "no");
  CHECK(cudaDeviceSynchronize());
  return two < 1.5f * one ? 0 : 1;
}
