// See sanitize.h.
#include "sanitize.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace argus::sanitize {
namespace {
bool alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool digit(char c) { return c >= '0' && c <= '9'; }
constexpr size_t kMinSecret = 6;  // shorter environment values ("1", "INFO") are too common
                                  // to replace outside environment objects
std::string numbered(const char* kind, size_t n) { return std::string(kind) + "-" + std::to_string(n); }
}  // namespace

std::vector<std::pair<size_t, size_t>> find_ipv4(const std::string& s) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t i = 0; i < s.size();) {
    if (!digit(s[i]) || (i > 0 && (digit(s[i - 1]) || s[i - 1] == '.' || std::isalpha(static_cast<unsigned char>(s[i - 1]))))) { ++i; continue; }
    size_t j = i;
    int parts = 0;
    bool ok = true;
    for (; parts < 4; ++parts) {
      size_t k = j;
      while (k < s.size() && digit(s[k]) && k - j < 4) ++k;
      if (k == j || k - j > 3 || std::stoi(s.substr(j, k - j)) > 255) { ok = false; break; }
      j = k;
      if (parts < 3) {
        if (j >= s.size() || s[j] != '.') { ok = false; break; }
        ++j;
      }
    }
    if (ok && (j >= s.size() || (!digit(s[j]) && !(s[j] == '.' && j + 1 < s.size() && digit(s[j + 1])) && !std::isalpha(static_cast<unsigned char>(s[j]))))) {
      out.push_back({i, j - i});
      i = j;
    } else {
      while (i < s.size() && (digit(s[i]) || s[i] == '.')) ++i;  // skip the whole dotted number
    }
  }
  return out;
}

std::vector<std::pair<size_t, size_t>> find_ipv6(const std::string& s) {
  // Runs of hex digits and colons, bounded by characters that cannot continue an address;
  // an address has at most 8 groups of 1-4 hex digits and at most one "::". To keep C++
  // scopes ("cub::Foo") and times ("12:34:56") out, require 8 groups, or "::" with at least
  // 3 non-empty groups.
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  while (i < s.size()) {
    if (!(hex(s[i]) || s[i] == ':')) { ++i; continue; }
    size_t j = i;
    while (j < s.size() && (hex(s[j]) || s[j] == ':')) ++j;
    const bool bounded = (i == 0 || !(alnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '_')) &&
                         (j == s.size() || !(alnum(s[j]) || s[j] == '.' || s[j] == '_'));
    const std::string t = s.substr(i, j - i);
    size_t groups = 0, doubles = 0, glen = 0, colons = 0;
    bool ok = bounded && t.find(":::") == std::string::npos;
    for (size_t k = 0; ok && k <= t.size(); ++k) {
      if (k == t.size() || t[k] == ':') {
        if (glen) ++groups;
        if (glen > 4) ok = false;
        glen = 0;
        if (k < t.size()) ++colons;
        if (k + 1 < t.size() && t[k] == ':' && t[k + 1] == ':') ++doubles;
      } else {
        ++glen;
      }
    }
    ok = ok && colons >= 2 && doubles <= 1 && groups <= 8 && (groups == 8 ? doubles == 0 : doubles == 1 && groups >= 3);
    if (ok) out.push_back({i, j - i});
    i = j;
  }
  return out;
}

void Sanitizer::add_user(const std::string& u) {
  if (u.size() < 2 || users_.count(u)) return;
  users_[u] = numbered("user", users_.size() + 1);
}
void Sanitizer::add_host(const std::string& h) {
  if (h.size() < 2 || hosts_.count(h)) return;
  hosts_[h] = numbered("host", hosts_.size() + 1);
  if (auto dot = h.find('.'); dot != std::string::npos && dot >= 2) add_host(h.substr(0, dot));
}
void Sanitizer::add_home(const std::string& p) {
  std::string path = p;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.size() < 2 || path == "/" || homes_.count(path)) return;
  // The home's last component is (almost always) a user name.
  auto slash = path.rfind('/');
  std::string user = path.substr(slash + 1);
  add_user(user);
  homes_[path] = "/home/" + (users_.count(user) ? users_[user] : numbered("user", users_.size() + 1));
}
void Sanitizer::add_secret(const std::string& v) {
  if (v.size() < kMinSecret || secrets_.count(v) || v == "<redacted>" || v == "<masked>") return;
  secrets_[v] = "<redacted>";
}
std::string Sanitizer::ip(const std::string& v) {
  auto it = ips_.find(v);
  if (it != ips_.end()) return it->second;
  // Documentation ranges (RFC 5737 TEST-NET-1, RFC 3849): still addresses to parsers, never
  // real ones.
  if (v.find(':') != std::string::npos) return ips_[v] = "2001:db8::" + std::to_string(ips_.size() + 1);
  return ips_[v] = "192.0.2." + std::to_string(ips_.size() + 1);
}

void Sanitizer::learn_ips(const std::string& t) {
  for (auto [pos, len] : find_ipv4(t)) ip(t.substr(pos, len));
  for (auto [pos, len] : find_ipv6(t)) ip(t.substr(pos, len));
}

void Sanitizer::learn_local() {
  if (const passwd* pw = getpwuid(geteuid())) {
    add_user(pw->pw_name);
    add_home(pw->pw_dir);
  }
  for (const char* v : {"USER", "LOGNAME"})
    if (const char* e = getenv(v)) add_user(e);
  if (const char* h = getenv("HOME")) add_home(h);
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) add_host(host);
}

void Sanitizer::learn_text(const std::string& t) {
  learn_ips(t);
  for (const char* root : {"/home/", "/Users/"}) {
    for (size_t p = t.find(root); p != std::string::npos; p = t.find(root, p + 1)) {
      size_t s = p + std::strlen(root), e = s;
      while (e < t.size() && (alnum(t[e]) || t[e] == '.' || t[e] == '_' || t[e] == '-')) ++e;
      if (e > s) add_home(t.substr(p, e - p));
    }
  }
}

void Sanitizer::learn_json(const nlohmann::json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const auto& v = it.value();
      if (k == "environment" && v.is_object()) {
        for (auto e = v.begin(); e != v.end(); ++e)
          if (e.value().is_string()) { add_secret(e.value().get<std::string>()); learn_text(e.value().get<std::string>()); }
        continue;
      }
      if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (k == "host" || k == "hostname" || k == "node" || k == "nodename" || k == "host_name") add_host(s);
        else if (k == "user" || k == "username" || k == "user_name" || k == "login") add_user(s);
        else if (k == "home") add_home(s);
        learn_text(s);
      } else if (k == "hosts" && v.is_array()) {
        for (const auto& h : v) if (h.is_string()) add_host(h.get<std::string>());
        learn_json(v);
      } else {
        learn_json(v);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) learn_json(v);
  } else if (j.is_string()) {
    learn_text(j.get<std::string>());
  }
}

std::vector<Sanitizer::Pat> Sanitizer::patterns() const {
  std::vector<Pat> p;
  for (auto& [k, v] : homes_) p.push_back({k, v, false});
  for (auto& [k, v] : secrets_) p.push_back({k, v, false});
  for (auto& [k, v] : ips_) p.push_back({k, v, true});
  for (auto& [k, v] : hosts_) p.push_back({k, v, true});
  for (auto& [k, v] : users_) p.push_back({k, v, true});
  std::stable_sort(p.begin(), p.end(), [](const Pat& a, const Pat& b) { return a.from.size() > b.from.size(); });
  return p;
}

size_t Sanitizer::max_pattern() const {
  size_t m = 0;
  for (auto& p : patterns()) m = std::max(m, p.from.size());
  return m;
}

std::string Sanitizer::host_placeholder(const std::string& h) {
  add_host(h);
  return hosts_.count(h) ? hosts_[h] : h;
}

std::string Sanitizer::text(const std::string& in) {
  // IP addresses anywhere (also ones not seen while learning).
  learn_ips(in);
  auto pats = patterns();
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    bool hit = false;
    for (const auto& p : pats) {
      if (in.compare(i, p.from.size(), p.from) != 0) continue;
      if (p.token && ((i > 0 && alnum(in[i - 1])) || (i + p.from.size() < in.size() && alnum(in[i + p.from.size()])))) continue;
      out += p.to;
      i += p.from.size();
      hit = true;
      break;
    }
    if (!hit) out += in[i++];
  }
  return out;
}

nlohmann::json Sanitizer::json(const nlohmann::json& in) {
  if (in.is_object()) {
    nlohmann::json o = nlohmann::json::object();
    for (auto it = in.begin(); it != in.end(); ++it) {
      if (it.key() == "environment" && it.value().is_object()) {
        nlohmann::json env = nlohmann::json::object();
        for (auto e = it.value().begin(); e != it.value().end(); ++e)
          env[e.key()] = e.value().is_string() ? nlohmann::json("<redacted>") : json(e.value());
        o[it.key()] = env;
      } else {
        o[text(it.key())] = json(it.value());
      }
    }
    return o;
  }
  if (in.is_array()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& v : in) a.push_back(json(v));
    return a;
  }
  if (in.is_string()) return text(in.get<std::string>());
  return in;
}

size_t Sanitizer::bytes_inplace(char* d, size_t n) const {
  size_t hits = 0;
  auto pats = patterns();
  for (size_t i = 0; i < n; ++i) {
    for (const auto& p : pats) {
      size_t L = p.from.size();
      if (i + L > n || std::memcmp(d + i, p.from.data(), L) != 0) continue;
      if ((i > 0 && alnum(d[i - 1])) || (i + L < n && alnum(d[i + L]))) {
        if (p.token) continue;
      }
      // Same length: the placeholder cut or padded with '_' (offsets must not move).
      std::string r = p.to.substr(0, L);
      r.resize(L, '_');
      std::memcpy(d + i, r.data(), L);
      i += L - 1;
      ++hits;
      break;
    }
  }
  return hits;
}

std::vector<std::string> Sanitizer::originals() const {
  std::vector<std::string> v;
  for (auto* m : {&users_, &hosts_, &homes_, &ips_, &secrets_})
    for (auto& [k, _] : *m) v.push_back(k);
  return v;
}

}  // namespace argus::sanitize
