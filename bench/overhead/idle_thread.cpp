// libbench-idle-thread.so: preloaded into an unhooked bench-launch-loop by bench/overhead.sh,
// it only starts one thread that sleeps forever.  It isolates what an extra idle thread in
// the process (libargus has one: its flush thread) does to simgpu's launch cost, so that the
// cross-process figure can be read apart from the hook's own cost.
#include <pthread.h>
#include <unistd.h>

namespace {
void* sleep_forever(void*) {
  for (;;) pause();
  return nullptr;
}
__attribute__((constructor)) void start_idle_thread() {
  pthread_t t;
  if (pthread_create(&t, nullptr, sleep_forever, nullptr) == 0) pthread_detach(t);
}
}  // namespace
