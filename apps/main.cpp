// crucible: the command-line entry point. Parses global flags, hands over to the chosen subcommand, and turns
// errors into exit codes (0 ok, 1 run failed, 2 bad input/usage) with one clear line on stderr.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "apps/cli.h"
#include "apps/torch_part.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"

namespace crucible::cli {

std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}

void print_json(const std::string& text) { std::fputs((text + "\n").c_str(), stdout); }

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace crucible::cli

int main(int argc, char** argv) {
  using namespace crucible;
  CLI::App app{"crucible: evaluate reasoning language models and make better ones.\n"
               "Exit codes: 0 ok, 1 run failed, 2 bad input or usage.",
               "crucible"};
  app.require_subcommand(1);
  // Global options may come before or after the subcommand: a subcommand hands the options it does not know to its
  // parent. Set before the subcommands are added, which inherit it.
  app.fallthrough();
  cli::remember_arguments(argc, argv);
  app.set_version_flag("--version", version_line());
  cli::Globals globals;
  const char* env_db = std::getenv("CRUCIBLE_DB");
  globals.db_path = env_db && *env_db ? env_db : "crucible.db";
  app.add_option("--db", globals.db_path, "SQLite store (default: $CRUCIBLE_DB or ./crucible.db)");
  app.add_flag("--json", globals.json, "print results as JSON on stdout");
  app.add_option("--log-level", globals.log_level, "debug, info, warn, error or off (logs go to stderr)")
      ->capture_default_str();

  cli::Action action;
  auto& commands = cli::registry();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  for (auto& c : commands) c.setup(app, globals, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(ExitCode::bad_input);
  }
  try {
    log::set_level(log::parse_level(globals.log_level));
    if (!action) {
      std::fprintf(stderr, "crucible: no action for this command; see --help\n");
      return static_cast<int>(ExitCode::bad_input);
    }
    return action();
  } catch (const Error& e) {
    std::fprintf(stderr, "crucible: error: %s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crucible: internal error: %s\n", e.what());
    return static_cast<int>(ExitCode::run_failed);
  }
}
