// Sanitizing a run for sharing (`argus export --sanitize`): user names, host names, IPv4
// and IPv6 addresses, home-directory paths and environment values are replaced everywhere they occur,
// consistently: the same host always becomes the same placeholder (host-1, host-2, ... in
// order of discovery), so cross-rank structure stays readable.
//
// Two phases: learn (local identity, run_meta/JSON fields, text scans, record headers), then
// rewrite.  Text (JSON, Markdown, SVG) gets placeholders; bytes inside binary rank records
// keep their length (record layout and string-table offsets must not move): the header's
// host field becomes the NUL-padded placeholder, other occurrences a same-length mask.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace argus::sanitize {

class Sanitizer {
 public:
  void learn_local();                       // this user's name/home, this host's name
  void add_user(const std::string& u);
  void add_host(const std::string& h);
  void add_home(const std::string& path);
  void add_secret(const std::string& v);    // environment values (replaced when >= 6 bytes)
  void learn_text(const std::string& text); // IP addresses, /home/<user>, /Users/<user>
  void learn_json(const nlohmann::json& j); // host/user keys, environment values, strings

  // Placeholder text replacement (token boundaries for names; IPv4 found anywhere).
  std::string text(const std::string& in);
  // JSON: "environment" objects get every value replaced by "<redacted>" (names kept, so
  // runs still compare); every other string (and key) goes through text().
  nlohmann::json json(const nlohmann::json& in);
  // Same-length replacement inside a byte range (binary files); returns replacements made.
  size_t bytes_inplace(char* data, size_t n) const;
  std::string host_placeholder(const std::string& host);
  size_t max_pattern() const;

  // The learned originals (tests assert they are gone).
  std::vector<std::string> originals() const;

 private:
  struct Pat { std::string from, to; bool token; };
  std::vector<Pat> patterns() const;  // longest first
  std::string ip(const std::string& v);
  void learn_ips(const std::string& text);  // IPv4 and IPv6 addresses
  std::map<std::string, std::string> users_, hosts_, homes_, ips_, secrets_;
};

// Finds IPv4 dotted quads (each part <= 255, not part of a longer dotted number).
std::vector<std::pair<size_t, size_t>> find_ipv4(const std::string& s);
// Finds IPv6 addresses (8 groups, or "::" with >= 3 groups; not C++ scopes or clock times).
std::vector<std::pair<size_t, size_t>> find_ipv6(const std::string& s);

}  // namespace argus::sanitize
