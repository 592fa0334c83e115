// run_meta.json: the environment snapshot of a run. Each launcher (one argus-run on one host)
// and each later collection writes its own part RUN_DIR/run_meta.d/<host>-<pid>.json, so
// several nodes sharing a run directory never write the same file; run_meta.json (the
// contract name) is the merge of all parts, rewritten under a lock after every part update.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace argus::run {

inline constexpr const char* kRunMetaSchema = "argus.run_meta/1";

// Environment variables: only allow-listed names are recorded; of those, names that look
// like credentials (*TOKEN*, *KEY*, *SECRET*, *PASSWORD*, ...) are recorded as "<masked>".
bool env_allowed(std::string_view name);
bool env_secret_like(std::string_view name);
nlohmann::json filter_environment(char** envp);

// Runs argv with a timeout, capturing stdout; returns the exit code, or -1 when it could not
// run or timed out. stderr is discarded.
int run_capture(const std::vector<std::string>& argv, double timeout_s, std::string* out);

nlohmann::json cpu_memory_os_info();                         // /proc, uname, os-release
nlohmann::json gpu_info();                                    // nvidia-smi or "not available"
nlohmann::json parse_nvidia_smi_csv(std::string_view csv);    // exposed for tests
nlohmann::json git_info(const std::filesystem::path& dir);

// Software versions as loaded by the job: summarised from the per-process files the Python
// hook writes into RUN_DIR/software/<host>-<pid>.json (and "not available" for what no
// process reported).
nlohmann::json software_from_job(const std::filesystem::path& run_dir, const std::string& host);

// Fingerprints of a host part: hardware (CPU, memory, GPU models), machine (hardware plus
// the machine's identity), stack (OS, kernel, driver, CUDA, NCCL, PyTorch, Python).
nlohmann::json fingerprint(const nlohmann::json& machine, const nlohmann::json& software);

std::string sha256_hex(std::string_view data);
std::string utc_iso8601(long long unix_ns);  // 2026-12-02T14:06:04.123Z

// Merge of all parts (pure; parts in any order give the same result).
nlohmann::json merge_parts(const std::vector<nlohmann::json>& parts, const std::string& run_id);

// Writes run_dir/run_meta.d/<part_name>.json atomically, then re-merges run_meta.json under
// an flock on run_dir/.run_meta.lock. Throws std::runtime_error("<file>: <reason>").
void write_part_and_merge(const std::filesystem::path& run_dir, const std::string& part_name,
                          const nlohmann::json& part, const std::string& run_id);

// Writes text to path via a temporary file and rename (readers never see a partial file).
void write_file_atomic(const std::filesystem::path& path, std::string_view text);

}  // namespace argus::run
