#include <catch2/catch.hpp>

#include <map>

#include "launch_options.h"

using namespace argus::run;

namespace {
std::optional<LaunchOptions> parse(std::vector<std::string> a, std::string* err = nullptr) {
  std::string e;
  auto r = parse_launch_args(a, err ? err : &e);
  return r;
}
EnvLookup env_of(std::map<std::string, std::string> m) {
  return [m = std::move(m)](const char* k) -> const char* {
    auto it = m.find(k);
    return it == m.end() ? nullptr : it->second.c_str();
  };
}
}  // namespace

TEST_CASE("argus-run options stop at -- or at the first word of CMD") {
  auto o = parse({"--out", "d", "--name=exp", "--steps-from", "nvtx:train*", "--no-report", "--", "torchrun", "--nproc_per_node", "2"});
  REQUIRE(o);
  CHECK(o->out == "d");
  CHECK(o->name == "exp");
  CHECK(o->steps_from == "nvtx:train*");
  CHECK_FALSE(o->report);
  CHECK(o->command == std::vector<std::string>{"torchrun", "--nproc_per_node", "2"});
  auto p = parse({"--host", "n1", "python3", "-u", "--out", "x"});  // options of CMD stay CMD's
  REQUIRE(p);
  CHECK(p->host == "n1");
  CHECK(p->command == std::vector<std::string>{"python3", "-u", "--out", "x"});
  CHECK(parse({"--help"})->help);
}

TEST_CASE("argus-run usage errors are one line") {
  std::string err;
  CHECK_FALSE(parse({"--bogus", "true"}, &err));
  CHECK(err.find("--bogus") != std::string::npos);
  CHECK_FALSE(parse({"--out"}, &err));
  CHECK_FALSE(parse({"--"}, &err));
  CHECK(err.find("no command") != std::string::npos);
  CHECK_FALSE(parse({"--steps-from", "sometimes", "true"}, &err));
  CHECK_FALSE(parse({"--host", "a/b", "true"}, &err));
  CHECK_FALSE(parse({"--grace", "-1", "true"}, &err));
  CHECK_FALSE(parse({"--grace", "x", "true"}, &err));
  for (auto* e : {&err}) CHECK(e->find('\n') == std::string::npos);
}

TEST_CASE("steps-from forms") {
  CHECK(valid_steps_from("auto"));
  CHECK(valid_steps_from("marker"));
  CHECK(valid_steps_from("nvtx:ProfilerStep#*"));
  CHECK(valid_steps_from("window:0.5"));
  CHECK_FALSE(valid_steps_from("nvtx:"));
  CHECK_FALSE(valid_steps_from("window:0"));
  CHECK_FALSE(valid_steps_from("window:abc"));
  CHECK_FALSE(valid_steps_from("Auto"));
}

TEST_CASE("ids are sanitised to [A-Za-z0-9._-]") {
  CHECK(sanitize_id("my run/1:x") == "my_run_1_x");
  CHECK(sanitize_id("") == "run");
  CHECK(sanitize_id("..") == "run");
  CHECK(sanitize_id(std::string(300, 'a')).size() == 96);
  CHECK(default_name({"/usr/bin/torchrun", "x"}) == "torchrun");
}

TEST_CASE("run id: ARGUS_RUN_ID, then the scheduler, then --out's name, then time-name") {
  LaunchOptions o;
  o.command = {"/usr/bin/python3", "train.py"};
  CHECK(resolve_run_id(o, env_of({}), "20260101T000000Z") == "20260101T000000Z-python3");
  o.name = "exp 1";
  CHECK(resolve_run_id(o, env_of({}), "20260101T000000Z") == "20260101T000000Z-exp_1");
  o.out = "/shared/runs/bert-42/";
  CHECK(resolve_run_id(o, env_of({}), "T") == "bert-42");
  CHECK(resolve_run_id(o, env_of({{"SLURM_JOB_ID", "9981"}}), "T") == "exp_1-9981");
  o.name.clear();
  CHECK(resolve_run_id(o, env_of({{"SLURM_JOB_ID", "9981"}}), "T") == "job-9981");
  CHECK(resolve_run_id(o, env_of({{"PBS_JOBID", "12.pbs"}}), "T") == "job-12.pbs");
  CHECK(resolve_run_id(o, env_of({{"JOB_ID", "5"}}), "T") == "bert-42");  // JOB_ID alone is not SGE
  CHECK(resolve_run_id(o, env_of({{"JOB_ID", "5"}, {"SGE_ROOT", "/sge"}}), "T") == "job-5");
  CHECK(resolve_run_id(o, env_of({{"ARGUS_RUN_ID", "fixed id"}, {"SLURM_JOB_ID", "1"}}), "T") == "fixed_id");
  CHECK(default_run_dir("abc") == "argus-runs/abc");
}

TEST_CASE("LD_PRELOAD / PYTHONPATH: ours first, existing kept, never twice") {
  CHECK(prepend_path_list("/p/libargus.so", nullptr) == "/p/libargus.so");
  CHECK(prepend_path_list("/p/libargus.so", "") == "/p/libargus.so");
  CHECK(prepend_path_list("/p/libargus.so", "/x/liby.so") == "/p/libargus.so:/x/liby.so");
  CHECK(prepend_path_list("/p/libargus.so", "/x/liby.so:/p/libargus.so") == "/x/liby.so:/p/libargus.so");
}
