// The collector against records laid out by record.h, in a private segment directory
// (the ARGUS_SHM_DIR fallback of record.h), with processes that really exited.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <argus/record.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "argus_collect.h"
#include "record_view.h"

using namespace argus::run;
namespace fs = std::filesystem;

namespace {

struct Dirs {
  fs::path root, shm, run;
  Dirs() {
    root = fs::temp_directory_path() / ("argus-unit-collect-" + std::to_string(getpid()));
    fs::remove_all(root);
    shm = root / "shm";
    run = root / "run";
    fs::create_directories(shm);
    fs::create_directories(run);
  }
  ~Dirs() { fs::remove_all(root); }
};

// A pid that certainly no longer exists: a child that has exited and been reaped.
pid_t dead_pid() {
  pid_t p = fork();
  if (p == 0) _exit(0);
  int st;
  waitpid(p, &st, 0);
  return p;
}

fs::path make_segment(const fs::path& dir, const std::string& run, const std::string& host, int64_t pid,
                      RecordState state, int rank, uint64_t steps) {
  char name[256];
  argus::rec::segment_name(name, sizeof name, geteuid(), run.c_str(), host.c_str(), static_cast<int>(pid));
  fs::path p = dir / name;
  int fd = open(p.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  RecordInfo info;
  info.pid = pid;
  info.rank = rank;
  info.local_rank = rank;
  info.world_size = 4;
  info.host = host;
  info.run_id = run;
  info.state = state;
  info.steps = steps;
  REQUIRE(write_fake_record(fd, info));
  close(fd);
  return p;
}

}  // namespace

TEST_CASE("record header round trip and validation") {
  Dirs d;
  fs::path p = d.root / "rec";
  int fd = open(p.c_str(), O_CREAT | O_RDWR, 0600);
  RecordInfo in;
  in.pid = 4242;
  in.rank = 3;
  in.world_size = 8;
  in.host = "node-1";
  in.run_id = "r1";
  in.steps = 17;
  in.state = RecordState::running;
  REQUIRE(write_fake_record(fd, in));
  std::string why;
  auto out = read_record_info(fd, &why);
  REQUIRE(out);
  CHECK(out->pid == 4242);
  CHECK(out->rank == 3);
  CHECK(out->host == "node-1");
  CHECK(out->steps == 17);
  CHECK(out->state == RecordState::running);
  CHECK(out->total_size == sizeof(argus::rec::Record));
  REQUIRE(set_record_state(fd, RecordState::killed));
  CHECK(read_record_info(fd, &why)->state == RecordState::killed);
  // Truncated, wrong magic, magic 0: rejected with a reason.
  REQUIRE(ftruncate(fd, 8192) == 0);
  CHECK_FALSE(read_record_info(fd, &why));
  CHECK(why.find("truncated") != std::string::npos);
  uint64_t bad = 0x1234;
  REQUIRE(pwrite(fd, &bad, sizeof bad, 0) == sizeof bad);
  CHECK_FALSE(read_record_info(fd, &why));
  CHECK(why.find("magic") != std::string::npos);
  bad = 0;
  REQUIRE(pwrite(fd, &bad, sizeof bad, 0) == sizeof bad);
  CHECK_FALSE(read_record_info(fd, &why));
  CHECK(why.find("not initialised") != std::string::npos);
  close(fd);
}

TEST_CASE("collect_run: states, sparse copies, segments removed, other hosts and runs untouched") {
  Dirs d;
  pid_t gone1 = dead_pid(), gone2 = dead_pid();
  make_segment(d.shm, "runA", "h-1", gone1, RecordState::exited, 0, 10);
  make_segment(d.shm, "runA", "h-1", gone2, RecordState::running, 1, 4);    // died without exit mark
  make_segment(d.shm, "runA", "h-1", getpid(), RecordState::running, 2, 9);  // alive: left alone
  fs::path other_host = make_segment(d.shm, "runA", "h-2", gone1, RecordState::exited, 3, 10);
  fs::path other_run = make_segment(d.shm, "runAB", "h-1", gone1, RecordState::exited, 0, 1);
  {
    std::ofstream junk(d.shm / ("argus-" + std::to_string(geteuid()) + "-runA-h-1-77"));
    junk << "not a record";
  }
  CollectOptions o;
  o.run_id = "runA";
  o.host = "h-1";
  o.shm_dirs = {d.shm.string()};
  auto got = collect_run(d.run, o);
  REQUIRE(got.size() == 4);
  std::map<int32_t, CollectedProcess> by_rank;
  for (auto& p : got) by_rank[p.rank] = p;
  CHECK(by_rank[0].state == "exited");
  CHECK(by_rank[0].steps == 10);
  CHECK(by_rank[1].state == "killed");
  CHECK(by_rank[2].state == "running");
  CHECK(by_rank[2].file.empty());
  CHECK(by_rank[-1].state == "invalid");
  // Copies: valid, sparse, and the killed state written into the copy.
  int fd = open((d.run / by_rank[1].file).c_str(), O_RDONLY);
  std::string why;
  auto info = read_record_info(fd, &why);
  REQUIRE(info);
  CHECK(info->state == RecordState::killed);
  struct stat st{};
  fstat(fd, &st);
  CHECK(st.st_blocks * 512 < 1024 * 1024);  // 59 MiB record, a few pages of data
  close(fd);
  // Segments: collected ones gone; the live one, the invalid one, other host/run kept.
  CHECK(fs::exists(other_host));
  CHECK(fs::exists(other_run));
  int left = 0;
  for (auto& e : fs::directory_iterator(d.shm)) (void)e, ++left;
  CHECK(left == 4);
  // The reaped status a launcher knows is reported.
  o.reaped[getpid()] = 9;  // pretend we reaped ourselves: SIGKILL
  auto again = collect_run(d.run, o);
  bool seen = false;
  for (auto& p : again)
    if (p.rank == 2) {
      seen = true;
      CHECK(p.state == "killed");
      CHECK(to_json(p)["signal_name"] == "SIGKILL");
    }
  CHECK(seen);
}

TEST_CASE("a live pid that started after the record was written is a reused pid") {
  int64_t self_start = process_start_ns(getpid());
  auto now = std::chrono::system_clock::now().time_since_epoch();
  int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  REQUIRE(self_start > 0);
  CHECK(self_start <= now_ns + 1000000000LL);
  CHECK(self_start > now_ns - 3600LL * 1000000000LL);  // this test process started recently
  Dirs d;
  // A "running" record of our own pid, written a day before we started: not ours -> killed.
  fs::path p = make_segment(d.shm, "runP", "h", getpid(), RecordState::running, 0, 5);
  int fd = open(p.c_str(), O_RDWR);
  RecordInfo info;
  info.pid = getpid();
  info.rank = 0;
  info.host = "h";
  info.run_id = "runP";
  info.state = RecordState::running;
  info.start_ns = static_cast<uint64_t>(self_start - 86400LL * 1000000000LL);
  REQUIRE(write_fake_record(fd, info));
  close(fd);
  CollectOptions o;
  o.run_id = "runP";
  o.shm_dirs = {d.shm.string()};
  auto got = collect_run(d.run, o);
  REQUIRE(got.size() == 1);
  CHECK(got[0].state == "killed");
}

TEST_CASE("versions the records saw fill the software summary") {
  CHECK(cuda_version_string(13000) == "13.0");
  CHECK(cuda_version_string(12040) == "12.4");
  CHECK(cuda_version_string(0).empty());
  CHECK(nccl_version_string(22803) == "2.28.3");
  CHECK(nccl_version_string(2804) == "2.8.4");
  Dirs d;
  pid_t gone = dead_pid();
  fs::path p = make_segment(d.shm, "runV", "h", gone, RecordState::exited, 0, 1);
  int fd = open(p.c_str(), O_RDWR);
  RecordInfo info;
  info.pid = gone;
  info.rank = 0;
  info.host = "h";
  info.run_id = "runV";
  info.state = RecordState::exited;
  info.cuda_runtime_version = 13000;
  info.cuda_driver_version = 13000;
  info.nccl_version = 22803;
  REQUIRE(write_fake_record(fd, info));
  close(fd);
  CollectOptions o;
  o.run_id = "runV";
  o.shm_dirs = {d.shm.string()};
  auto got = collect_run(d.run, o);
  REQUIRE(got.size() == 1);
  nlohmann::json sw = {{"python", "3.11.2"}, {"cuda_runtime", "not available"}, {"cuda_driver", "12.9"}, {"nccl", "not available"}};
  add_record_versions(sw, got);
  CHECK(sw["cuda_runtime"] == "13.0");
  CHECK(sw["cuda_driver"] == "12.9");  // what a process reported itself is kept
  CHECK(sw["nccl"] == "2.28.3");
}

TEST_CASE("collect_leftovers needs a run directory") {
  Dirs d;
  CHECK_THROWS_WITH(collect_leftovers(d.root / "missing"), Catch::Contains("not a directory"));
  CHECK_THROWS_WITH(collect_leftovers(d.run), Catch::Contains("run_meta.json"));
}
