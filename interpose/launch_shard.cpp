// SPDX-License-Identifier: Apache-2.0
// Per-thread launch shards (record.h LaunchShard): a thread claims one on its first launch and
// gives it back when it exits, so that the launch hot path never executes a lock-prefixed
// instruction.  Threads that find none count into the shared atomic rows.
#include "state.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace argus::ip {
namespace {
// A thread that got no shard tries again once every kRetryEvery of its launches (a shard is
// freed when some thread exits).
constexpr uint32_t kRetryEvery = 1024;

pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
pthread_key_t g_key;
bool g_key_ok = false;

// Thread exit: hand the shard back.  Runs after the thread's last launch (TLS destructors run
// last), so the next owner is again the only writer.
void release_at_exit(void* s) {
  Recorder::release_shard(static_cast<rec::LaunchShard*>(s));
}
void make_key() { g_key_ok = pthread_key_create(&g_key, release_at_exit) == 0; }
}  // namespace

__attribute__((noinline)) void count_launch_slow(int32_t k, uint32_t path) noexcept {
  uint32_t tries = t_tls.shard_tries++;
  if (tries == 0 || tries % kRetryEvery == 0) {
    pthread_once(&g_key_once, make_key);
    if (rec::LaunchShard* s = g_rec.claim_shard(uint64_t(syscall(SYS_gettid)))) {
      // Without a key the shard is never given back (still correct, just not reused).
      if (g_key_ok) pthread_setspecific(g_key, s);
      t_tls.shard = s;
      Recorder::launch(s, k, path);
      return;
    }
    if (tries == 0) g_rec.add(g_rec.integrity().unsharded_threads);
  }
  g_rec.launch(k, path);
}

void launch_shard_on_fork_child() noexcept {
  // The forking thread's shard lives in the parent's record, which the child unmaps.
  t_tls.shard = nullptr;
  t_tls.shard_tries = 0;
  if (g_key_ok) pthread_setspecific(g_key, nullptr);
}

}  // namespace argus::ip
