// A stand-in rank for the collector tests: creates its rank record the way libargus does
// (name from ARGUS_RUN_ID / ARGUS_HOST, 0600, O_EXCL), advances the step count, and ends as
// asked: --end exit (marks "exited", like the library's exit path), kill (SIGKILLs itself),
// hang (waits for a signal; the default action ends it without the exit mark).
// --ignore-signals: SIGINT/SIGTERM ignored (a job that does not stop when asked).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <argus/record.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "record_view.h"

using argus::run::RecordInfo;
using argus::run::RecordState;

static int env_int(const char* a, const char* b, int dflt) {
  for (const char* k : {a, b}) {
    const char* v = k ? getenv(k) : nullptr;
    if (v && *v) return atoi(v);
  }
  return dflt;
}

int main(int argc, char** argv) {
  int steps = 3, step_ms = 20, kill_at = -1;
  bool ignore_signals = false;
  std::string end = "exit";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc) steps = atoi(argv[++i]);
    else if (a == "--step-ms" && i + 1 < argc) step_ms = atoi(argv[++i]);
    else if (a == "--end" && i + 1 < argc) end = argv[++i];
    else if (a == "--kill-rank" && i + 1 < argc) kill_at = atoi(argv[++i]);
    else if (a == "--ignore-signals") ignore_signals = true;
    else {
      fprintf(stderr, "fake_rank: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  // A shell starts background jobs with SIGINT ignored; real ranks (Python, C++) have their
  // own handlers or the default. Use the default so a forwarded SIGINT ends us.
  signal(SIGINT, ignore_signals ? SIG_IGN : SIG_DFL);
  signal(SIGTERM, ignore_signals ? SIG_IGN : SIG_DFL);
  RecordInfo info;
  info.pid = getpid();
  info.rank = env_int("RANK", "OMPI_COMM_WORLD_RANK", -1);
  info.local_rank = env_int("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", -1);
  info.world_size = env_int("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", -1);
  const char* host = getenv("ARGUS_HOST");
  const char* run = getenv("ARGUS_RUN_ID");
  char hn[64] = {};
  gethostname(hn, sizeof hn - 1);
  info.host = host ? host : hn;
  info.run_id = run ? run : argus::rec::kDefaultRunId;
  info.exe = "fake_rank";
  info.state = RecordState::running;
  info.start_ns = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  char name[256];
  argus::rec::segment_name(name, sizeof name, geteuid(), info.run_id.c_str(), info.host.c_str(), getpid());
  const char* dir = getenv("ARGUS_SHM_DIR");
  std::string path = std::string(dir && *dir ? dir : "/dev/shm") + "/" + name;
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    perror(path.c_str());
    return 1;
  }
  for (int s = 1; s <= steps; ++s) {
    info.steps = static_cast<uint64_t>(s);
    argus::run::write_fake_record(fd, info);
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
    if (kill_at >= 0 && info.rank == kill_at && s == steps / 2) raise(SIGKILL);
  }
  if (end == "kill") raise(SIGKILL);
  if (end == "hang") {
    for (;;) pause();
  }
  info.state = RecordState::exited;
  argus::run::write_fake_record(fd, info);
  return 0;
}
