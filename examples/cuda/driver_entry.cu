// Driver API through the entry-point table, as PyTorch and Triton reach it: cuGetProcAddress
// obtained with cudaGetDriverEntryPoint, then cuLaunchKernel on the runtime kernel's CUfunction
// and the virtual-memory calls of expandable segments (cuMemCreate/AddressReserve/Map).
#include <cuda.h>
#include <cstring>
#include "common.h"

__global__ void fill(int* p, int v, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = v;
}

#define DCHECK(x)                                                                     \
  do {                                                                                \
    CUresult r_ = (x);                                                                \
    if (r_ != CUDA_SUCCESS) {                                                         \
      fprintf(stderr, "%s:%d: %s failed: %d\n", __FILE__, __LINE__, #x, (int)r_);     \
      return 1;                                                                       \
    }                                                                                 \
  } while (0)

int main() {
  CHECK(cudaFree(0));  // initialise the runtime (and the driver)
  void* fp = nullptr;
  cudaDriverEntryPointQueryResult q;
  CHECK(cudaGetDriverEntryPointByVersion("cuGetProcAddress", &fp, 12000, cudaEnableDefault, &q));
  if (q != cudaDriverEntryPointSuccess || !fp) { fprintf(stderr, "no cuGetProcAddress\n"); return 1; }
  auto getProc = (decltype(&cuGetProcAddress_v2))fp;
  decltype(&cuLaunchKernel) launch = nullptr;
  decltype(&cuFuncGetName) funcName = nullptr;
  decltype(&cuMemCreate) memCreate = nullptr;
  decltype(&cuMemAddressReserve) reserve = nullptr;
  decltype(&cuMemMap) map = nullptr;
  decltype(&cuMemUnmap) unmap = nullptr;
  decltype(&cuMemRelease) release = nullptr;
  decltype(&cuMemSetAccess) setAccess = nullptr;
  decltype(&cuStreamSynchronize) sync = nullptr;
  CUdriverProcAddressQueryResult st;
  DCHECK(getProc("cuLaunchKernel", (void**)&launch, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  DCHECK(getProc("cuFuncGetName", (void**)&funcName, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  DCHECK(getProc("cuMemCreate", (void**)&memCreate, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  DCHECK(getProc("cuMemAddressReserve", (void**)&reserve, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  DCHECK(getProc("cuMemMap", (void**)&map, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  DCHECK(getProc("cuMemUnmap", (void**)&unmap, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  DCHECK(getProc("cuMemRelease", (void**)&release, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  DCHECK(getProc("cuMemSetAccess", (void**)&setAccess, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  DCHECK(getProc("cuStreamSynchronize", (void**)&sync, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
  void* bogus = nullptr;
  if (getProc("cuNoSuchFunction", &bogus, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st) == CUDA_SUCCESS ||
      st != CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND) {
    fprintf(stderr, "unknown symbol was found\n");
    return 1;
  }

  // Expandable-segment style allocation: reserve VA, create physical memory, map it.
  const size_t size = 4 << 20;
  CUmemAllocationProp prop = {};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  CUdeviceptr va;
  CUmemGenericAllocationHandle h;
  DCHECK(reserve(&va, size, 0, 0, 0));
  DCHECK(memCreate(&h, size, &prop, 0));
  DCHECK(map(va, size, 0, h, 0));
  CUmemAccessDesc acc = {};
  acc.location = prop.location;
  acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  DCHECK(setAccess(va, size, &acc, 1));

  cudaFunction_t f;
  CHECK(cudaGetFuncBySymbol(&f, (const void*)fill));
  const char* name = nullptr;
  DCHECK(funcName(&name, (CUfunction)f));
  int* p = (int*)va;
  int v = 7, n = (int)(size / sizeof(int));
  void* args[] = {&p, &v, &n};
  for (int i = 0; i < 10; i++) DCHECK(launch((CUfunction)f, n / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr));
  DCHECK(sync(nullptr));
  int host[4] = {1, 2, 3, 4}, back[4] = {};
  CHECK(cudaMemcpy(p, host, sizeof host, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(back, p, sizeof back, cudaMemcpyDeviceToHost));
  DCHECK(unmap(va, size));
  DCHECK(release(h));
  bool ok = memcmp(host, back, sizeof host) == 0 && name && strcmp(name, "_Z4fillPiii") == 0;
  printf("driver_entry: launched %s 10 times through cuGetProcAddress, mapped memory round trip %s\n", name,
         ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
