// argus: the offline tool. Subcommands are registered in kCommands; exit codes (contract):
// 0 success, 1 compare found a difference, 2 usage or input error, 3 compare inconclusive.
#include <cstdio>
#include <string>

#include "commands.h"

namespace argus::cli {
void error_line(const char* cmd, const std::string& message) {
  std::string m = message;
  for (char& c : m) if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "argus %s: %s\n", cmd, m.c_str());
}
}  // namespace argus::cli

namespace {
using Register = void (*)(CLI::App&, int*);
// The one list of subcommands (status, doctor and export are added here by their owners).
const Register kCommands[] = {
    argus::cli::register_report,
    argus::cli::register_compare,
    argus::cli::register_status,
    argus::cli::register_doctor,
    argus::cli::register_export,
};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"argus: merge, report and compare Argus run records (see `argus <command> --help`)", "argus"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "argus 0.1.0");
  int exit_code = 0;
  for (Register r : kCommands) r(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (char& c : msg) if (c == '\n') c = ' ';
    std::fprintf(stderr, "argus: %s (see argus --help)\n", msg.c_str());
    return 2;
  }
  return exit_code;
}
