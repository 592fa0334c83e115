#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "run_meta.h"

using namespace argus::run;
using nlohmann::json;
namespace fs = std::filesystem;

TEST_CASE("sha256 matches the FIPS 180-4 test vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(sha256_hex(std::string(55, 'x')) != sha256_hex(std::string(56, 'x')));  // padding edge
}

TEST_CASE("environment: allow-list only, credential-like names masked") {
  std::vector<std::string> vars = {"NCCL_DEBUG=INFO", "CUDA_VISIBLE_DEVICES=0,1", "OMP_NUM_THREADS=4",
                                   "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
                                   "HOME=/root", "AWS_SECRET_ACCESS_KEY=abc", "PATH=/bin",
                                   "TORCH_HUB_TOKEN=tok", "NCCL_IB_SECRET=x", "WANDB_API_KEY=k",
                                   "MASTER_ADDR=10.0.0.1", "ARGUS_RUN_ID=volatile",
                                   "CUDA_CACHE_PATH=https://u:pw@h/x", "NCCL_X=noequals", "BROKEN"};
  std::vector<char*> envp;
  for (auto& v : vars) envp.push_back(v.data());
  envp.push_back(nullptr);
  json e = filter_environment(envp.data());
  CHECK(e["NCCL_DEBUG"] == "INFO");
  CHECK(e["CUDA_VISIBLE_DEVICES"] == "0,1");
  CHECK(e["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True");
  CHECK(e["MASTER_ADDR"] == "10.0.0.1");
  CHECK(e["TORCH_HUB_TOKEN"] == "<masked>");
  CHECK(e["NCCL_IB_SECRET"] == "<masked>");
  CHECK(e["CUDA_CACHE_PATH"] == "<masked>");
  for (auto* k : {"HOME", "AWS_SECRET_ACCESS_KEY", "PATH", "WANDB_API_KEY", "ARGUS_RUN_ID", "BROKEN"})
    CHECK_FALSE(e.contains(k));
  CHECK(e.dump().find("abc") == std::string::npos);
  CHECK(env_secret_like("my_api_key"));
  CHECK_FALSE(env_secret_like("NCCL_SOCKET_IFNAME"));
}

TEST_CASE("nvidia-smi CSV: devices, N/A values, live readings apart") {
  json d = parse_nvidia_smi_csv(
      "0, NVIDIA H100 80GB HBM3, GPU-1, 00000000:18:00.0, 550.1, 81559, 1980, 2619, Enabled, 700.00, 345, 2619, 41, 0\n"
      "garbage line\n"
      "1, NVIDIA H100 80GB HBM3, GPU-2, 00000000:2A:00.0, 550.1, 81559, 1980, 2619, [N/A], [N/A], 1980, 2619, 44, [N/A]\n");
  REQUIRE(d.size() == 2);
  CHECK(d[0]["name"] == "NVIDIA H100 80GB HBM3");
  CHECK(d[0]["memory_total_mib"] == 81559);
  CHECK(d[0]["power_limit_w"] == 700);
  CHECK(d[0]["readings"]["temperature_c"] == 41);
  CHECK(d[1]["power_limit_w"].is_null());
  CHECK(d[1]["readings"]["ecc_uncorrected_volatile"].is_null());
  json m = {{"cpu", {{"model", "X"}, {"logical_cpus", 8}}}, {"memory_bytes", 1}, {"os", "o"},
            {"kernel", {{"release", "r"}}}, {"gpu", {{"available", true}, {"devices", d}}}};
  json m2 = m;
  m2["gpu"]["devices"][0]["readings"]["temperature_c"] = 90;
  json sw = {{"pytorch", "2.3.0"}};
  CHECK(fingerprint(m, sw) == fingerprint(m2, sw));
  json sw2 = {{"pytorch", "2.4.0"}};
  CHECK(fingerprint(m, sw)["stack"] != fingerprint(m, sw2)["stack"]);
  CHECK(fingerprint(m, sw)["hardware"] == fingerprint(m, sw2)["hardware"]);
  json m3 = m;
  m3["gpu"]["devices"][1]["uuid"] = "GPU-9";  // another board of the same model
  CHECK(fingerprint(m, sw)["hardware"] == fingerprint(m3, sw)["hardware"]);
  CHECK(fingerprint(m, sw)["machine"] != fingerprint(m3, sw)["machine"]);
}

TEST_CASE("run_meta parts merge the same in any order: hosts, processes, status") {
  auto launch = [](std::string host, std::string start, bool done, int pid) {
    json p = {{"kind", "launch"}, {"launch_id", host + "-1"}, {"host", host}, {"start_time", start},
              {"end_time", done ? json("2026-01-01T00:10:00.000Z") : json(nullptr)},
              {"status", done ? "finished" : "running"}, {"command", {"torchrun", host}},
              {"machine", {{"cpu", {{"model", host}}}}}, {"software", {{"pytorch", "1.13"}}},
              {"fingerprint", {{"hardware", "h"}, {"machine", host}, {"stack", "s"}}},
              {"processes", {{{"host", host}, {"pid", pid}, {"rank", pid % 10}, {"state", "exited"}, {"file", "ranks/x"}}}}};
    return p;
  };
  json a = launch("nodeA", "2026-01-01T00:00:01.000Z", true, 11);
  json b = launch("nodeB", "2026-01-01T00:00:00.500Z", false, 22);
  json m1 = merge_parts({a, b}, "r");
  json m2 = merge_parts({b, a}, "r");
  CHECK(m1 == m2);
  CHECK(m1["status"] == "running");
  CHECK(m1["end_time"].is_null());
  CHECK(m1["start_time"] == "2026-01-01T00:00:00.500Z");
  CHECK(m1["command"] == json({"torchrun", "nodeB"}));  // the earliest launcher's
  REQUIRE(m1["hosts"].size() == 2);
  CHECK(m1["hosts"][0]["host"] == "nodeA");
  CHECK(m1["processes"].size() == 2);
  CHECK_FALSE(m1["launches"][0].contains("processes"));
  b["status"] = "finished";
  b["end_time"] = "2026-01-01T00:20:00.000Z";
  json m3 = merge_parts({a, b}, "r");
  CHECK(m3["status"] == "finished");
  CHECK(m3["end_time"] == "2026-01-01T00:20:00.000Z");
  // A later collection adds processes the launchers could not collect, and only those.
  json c = {{"kind", "collect"}, {"host", "nodeA"}, {"start_time", "2026-01-02T00:00:00.000Z"},
            {"processes", {{{"host", "nodeA"}, {"pid", 11}, {"state", "killed"}, {"file", "ranks/y"}},
                           {{"host", "nodeA"}, {"pid", 33}, {"state", "killed"}, {"file", "ranks/z"}}}}};
  json m4 = merge_parts({a, b, c}, "r");
  CHECK(m4["processes"].size() == 3);
  for (auto& p : m4["processes"])
    if (p["pid"] == 11) CHECK(p["state"] == "exited");
  CHECK(m4["collections"].size() == 1);
}

TEST_CASE("write_part_and_merge writes the part and the merged file") {
  fs::path dir = fs::temp_directory_path() / ("argus-unit-meta-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  json part = {{"kind", "launch"}, {"launch_id", "h-1"}, {"host", "h"}, {"start_time", "2026-01-01T00:00:00.000Z"}, {"status", "running"}};
  write_part_and_merge(dir, "h-1", part, "rid");
  std::ifstream in(dir / "run_meta.json");
  json m = json::parse(in);
  CHECK(m["run_id"] == "rid");
  CHECK(m["schema"] == "argus.run_meta/1");
  CHECK(fs::exists(dir / "run_meta.d" / "h-1.json"));
  for (auto& e : fs::directory_iterator(dir)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("software versions as reported by the job's processes") {
  fs::path dir = fs::temp_directory_path() / ("argus-unit-sw-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "software");
  std::ofstream(dir / "software" / "h-1.json") << R"({"host":"h","pid":1,"python":"3.11.2","torch":"1.13.0"})";
  std::ofstream(dir / "software" / "h-2.json") << R"({"host":"h","pid":2,"python":"3.11.2","torch":"2.0.1","nccl":"2.18.1"})";
  std::ofstream(dir / "software" / "other-3.json") << R"({"host":"other","pid":3,"torch":"9"})";
  std::ofstream(dir / "software" / "h-4.json") << "not json";
  json sw = software_from_job(dir, "h");
  CHECK(sw["python"] == "3.11.2");
  CHECK(sw["pytorch"] == json({"1.13.0", "2.0.1"}));  // disagreeing processes: both shown
  CHECK(sw["nccl"] == "2.18.1");
  CHECK(sw["cuda_runtime"] == "not available");
  fs::remove_all(dir);
}

TEST_CASE("utc_iso8601") {
  CHECK(utc_iso8601(0) == "1970-01-01T00:00:00.000Z");
  CHECK(utc_iso8601(1700000000123456789LL) == "2023-11-14T22:13:20.123Z");
}
