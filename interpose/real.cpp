// SPDX-License-Identifier: Apache-2.0
// Resolution of the real functions, and the dlsym interposer (PyTorch/Triton fetch driver
// functions with dlsym on a libcuda handle; those calls would bypass LD_PRELOAD).
#include "real.h"
#include "state.h"

#include <dlfcn.h>
#include <link.h>
#include <cstring>

namespace argus::ip {

const char* const kSymNames[kSymCount] = {
#define ARGUS_X(name) #name,
    ARGUS_REAL_SYMBOLS(ARGUS_X)
#undef ARGUS_X
};
std::atomic<void*> g_real[kSymCount];

namespace {
using DlsymFn = void* (*)(void*, const char*);
std::atomic<DlsymFn> g_dlsym{nullptr};
const void* our_base() noexcept {
  static const void* base = [] {
    Dl_info info{};
    return dladdr(reinterpret_cast<const void*>(&our_base), &info) ? info.dli_fbase : nullptr;
  }();
  return base;
}
}  // namespace

bool is_our_address(const void* p) noexcept {
  Dl_info info{};
  return p && dladdr(p, &info) && info.dli_fbase == our_base();
}

void* real_dlsym(void* handle, const char* name) noexcept {
  DlsymFn f = g_dlsym.load(std::memory_order_acquire);
  if (!f) {
    // dlvsym is not interposed: ask for glibc's dlsym by version (2.34 moved it into libc).
    f = reinterpret_cast<DlsymFn>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34"));
    if (!f) f = reinterpret_cast<DlsymFn>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5"));
    if (!f) return nullptr;
    g_dlsym.store(f, std::memory_order_release);
  }
  return f(handle, name);
}

void* resolve(Sym s) noexcept {
  void* p = g_real[s].load(std::memory_order_acquire);
  if (p) return p;
  ++t_tls.depth;  // dlsym may call malloc etc.; nothing of ours must record meanwhile
  p = real_dlsym(RTLD_NEXT, kSymNames[s]);
  if (p && is_our_address(p)) {  // would recurse into our own wrapper: reject
    p = nullptr;
    if (g_state.load(std::memory_order_relaxed) == kOn)
      g_rec.set_bits(g_rec.integrity().init_errors, rec::kErrSelfResolve);
  }
  --t_tls.depth;
  if (!p) {
    if (g_state.load(std::memory_order_relaxed) == kOn)
      g_rec.set_bits(g_rec.integrity().init_errors, rec::kErrDlsym);
    return nullptr;
  }
  void* expect = nullptr;
  if (!g_real[s].compare_exchange_strong(expect, p)) return expect;
  return p;
}

// RTLD_NEXT is relative to the *caller*; glibc finds the caller from the return address,
// which inside our interposer would be libargus.  Emulate it: search the objects loaded
// after the caller's, in load order.
static void* dlsym_next_for(const void* caller, const char* name) noexcept {
  Dl_info info{};
  link_map* lm = nullptr;
  if (!dladdr1(caller, &info, reinterpret_cast<void**>(&lm), RTLD_DL_LINKMAP) || !lm) return nullptr;
  for (link_map* l = lm->l_next; l; l = l->l_next) {
    if (!l->l_name || !*l->l_name) continue;
    void* h = dlopen(l->l_name, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    void* p = real_dlsym(h, name);
    dlclose(h);
    if (p) return p;
  }
  return nullptr;
}

}  // namespace argus::ip

using namespace argus::ip;

ARGUS_EXPORT void* dlsym(void* handle, const char* name) {
  if (handle == RTLD_NEXT) return dlsym_next_for(__builtin_return_address(0), name);
  void* p = real_dlsym(handle, name);
  if (!p || name[0] != 'c' || name[1] != 'u' || t_tls.depth > 0) return p;
  if (g_state.load(std::memory_order_relaxed) == kOff) return p;
  // Only functions that live in a libcuda are swapped (a symbol of the same name elsewhere,
  // e.g. our own, is left alone).
  Dl_info info{};
  if (!dladdr(p, &info) || !info.dli_fname || !strstr(info.dli_fname, "libcuda.so")) return p;
  void* w = wrapper_for_dlsym(name, p);
  return w ? w : p;
}
