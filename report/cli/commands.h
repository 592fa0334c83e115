// Subcommands of `argus`. Each lives in its own cmd_<name>.cpp and registers itself through
// one function listed in main.cpp (the only place to touch when adding a subcommand).
// A subcommand's callback stores its exit status in *exit_code.
#pragma once
#include <CLI/CLI.hpp>

namespace argus::cli {

void register_report(CLI::App& app, int* exit_code);
void register_compare(CLI::App& app, int* exit_code);
void register_status(CLI::App& app, int* exit_code);
void register_doctor(CLI::App& app, int* exit_code);
void register_export(CLI::App& app, int* exit_code);

// Prints "argus <cmd>: <message>" as one line on stderr (newlines flattened).
void error_line(const char* cmd, const std::string& message);

}  // namespace argus::cli
