// The sanitizer: consistent placeholders, IPv4 detection, token boundaries, environment
// values, and same-length binary masks.
#include <catch2/catch.hpp>

#include <cstring>

#include "sanitize.h"

using argus::sanitize::Sanitizer;
using argus::sanitize::find_ipv4;
using argus::sanitize::find_ipv6;

TEST_CASE("IPv4 addresses are found, version strings with more parts are not") {
  auto v = find_ipv4("addr 10.1.22.3, ver 1.2.3.4.5, bad 300.1.1.1, x10.0.0.1 end 192.168.0.7");
  REQUIRE(v.size() == 2);
  CHECK(v[0] == std::make_pair(size_t(5), size_t(9)));
  CHECK(v[1].second == std::string("192.168.0.7").size());
}

TEST_CASE("IPv6 addresses are found; C++ scopes, clock times and MACs are not") {
  const std::string t = "a fe80::1ff:fe23:4567 b 2001:0db8:85a3:0000:0000:8a2e:0370:7334 c cub::DeviceReduce "
                        "at 12:34:56 mac 00:1a:2b:3c:4d:5e d [2001:db8:0:1::42]:29500 e ab::cd";
  auto v = find_ipv6(t);
  REQUIRE(v.size() == 3);
  CHECK(t.substr(v[0].first, v[0].second) == "fe80::1ff:fe23:4567");
  CHECK(t.substr(v[1].first, v[1].second) == "2001:0db8:85a3:0000:0000:8a2e:0370:7334");
  CHECK(t.substr(v[2].first, v[2].second) == "2001:db8:0:1::42");
  argus::sanitize::Sanitizer s;
  const std::string out = s.text("MASTER_ADDR=fe80::1ff:fe23:4567 and again fe80::1ff:fe23:4567");
  CHECK(out.find("fe80") == std::string::npos);
  CHECK(out == "MASTER_ADDR=2001:db8::1 and again 2001:db8::1");
}

TEST_CASE("hosts map to the same placeholder everywhere; users at token boundaries only") {
  Sanitizer s;
  s.add_host("gpu-node-17.cluster.example");
  s.add_host("gpu-node-18");
  s.add_user("jdoe");
  std::string t = s.text("gpu-node-18 then gpu-node-17 and gpu-node-17.cluster.example by jdoe; jdoex stays");
  CHECK(t == "host-3 then host-2 and host-1 by user-1; jdoex stays");
  CHECK(s.text("ranks/gpu-node-18-4242.argus") == "ranks/host-3-4242.argus");
}

TEST_CASE("JSON: environment values redacted, homes and IPs replaced, structure kept") {
  Sanitizer s;
  auto j = nlohmann::json::parse(R"({"cwd": "/home/alice/proj", "hosts": ["n1x"],
     "environment": {"NCCL_SOCKET_IFNAME": "sk-live-0123456789abcdef", "RANK": "3"},
     "note": "sk-live-0123456789abcdef copied at 10.0.0.5 by alice"})");
  s.learn_json(j);
  auto o = s.json(j);
  CHECK(o["cwd"] == "/home/user-1/proj");
  CHECK(o["hosts"][0] == "host-1");
  CHECK(o["environment"]["NCCL_SOCKET_IFNAME"] == "<redacted>");
  CHECK(o["environment"]["RANK"] == "<redacted>");
  CHECK(o["note"] == "<redacted> copied at 192.0.2.1 by user-1");
}

TEST_CASE("binary masks keep the length") {
  Sanitizer s;
  s.add_host("secret-host-a");
  char buf[] = "\x01\x02secret-host-a\0kernel\0secret-host-a9";
  size_t n = sizeof buf - 1;
  CHECK(s.bytes_inplace(buf, n) == 1);  // the second is part of a longer token
  CHECK(std::memcmp(buf + 2, "host-1_______", 13) == 0);
  CHECK(std::memcmp(buf + 16, "kernel", 6) == 0);
}
