// A training-loop body captured once into a CUDA graph and replayed: fewer launches, same
// kernels on the GPU.
#include "common.h"

__global__ void scale(float* v, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) v[i] *= a;
}
__global__ void shift(float* v, float b, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) v[i] += b;
}

int main() {
  const int n = 1 << 16, kNodes = 5, kReplays = 20;
  float* v;
  CHECK(cudaMalloc(&v, sizeof(float) * n));
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  cudaStreamCaptureStatus st;
  CHECK(cudaStreamIsCapturing(s, &st));
  if (st != cudaStreamCaptureStatusActive) { fprintf(stderr, "not capturing\n"); return 1; }
  for (int i = 0; i < kNodes; i++) {
    scale<<<n / 256, 256, 0, s>>>(v, 1.01f, n);
    shift<<<n / 256, 256, 0, s>>>(v, 0.5f, n);
  }
  cudaGraph_t g;
  CHECK(cudaStreamEndCapture(s, &g));
  cudaGraphExec_t ge;
  CHECK(cudaGraphInstantiate(&ge, g, 0));
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  CHECK(cudaEventRecord(a, s));
  for (int r = 0; r < kReplays; r++) CHECK(cudaGraphLaunch(ge, s));
  CHECK(cudaEventRecord(b, s));
  CHECK(cudaStreamSynchronize(s));
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, a, b));
  printf("graph_loop: %d replays of a %d-kernel graph in %.3f ms\n", kReplays, 2 * kNodes, ms);
  CHECK(cudaGraphExecDestroy(ge));
  CHECK(cudaGraphDestroy(g));
  CHECK(cudaFree(v));
  return ms > 0 ? 0 : 1;
}
