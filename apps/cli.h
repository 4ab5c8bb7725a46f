// Wiring shared by the subcommands of the `crucible` CLI. Each subcommand lives in its own cmd_*.cpp, registers
// itself with CRUCIBLE_REGISTER_COMMAND, parses its flags and calls into the libraries: no logic lives here.
//
// Exit codes (also in README): 0 ok, 1 the run failed, 2 bad input or usage. Results go to stdout (tables, or JSON
// with --json); logs and progress go to stderr.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace crucible::cli {

struct Globals {
  std::string db_path;     // --db, else $CRUCIBLE_DB, else ./crucible.db
  bool json = false;       // --json: machine-readable output on stdout
  std::string log_level = "info";
};

// A subcommand's action: runs after parsing, returns the process exit code.
using Action = std::function<int()>;

struct Command {
  int order;  // position in --help
  std::function<void(CLI::App& app, Globals& globals, Action& action)> setup;
};

std::vector<Command>& registry();

struct Registrar {
  Registrar(int order, std::function<void(CLI::App&, Globals&, Action&)> setup) {
    registry().push_back({order, std::move(setup)});
  }
};

#define CRUCIBLE_CONCAT_INNER(a, b) a##b
#define CRUCIBLE_CONCAT(a, b) CRUCIBLE_CONCAT_INNER(a, b)
#define CRUCIBLE_REGISTER_COMMAND(order, fn) \
  static ::crucible::cli::Registrar CRUCIBLE_CONCAT(crucible_registrar_, __LINE__)(order, fn)

// Prints JSON text (one document) on stdout.
void print_json(const std::string& text);

// A comma-separated flag value ("gsm8k,math500") as its items; empty items are dropped.
std::vector<std::string> split_commas(const std::string& s);

// The subcommand `name` of `parent`, created on first use: lets separate files add `grade math` and `grade code`
// under one `grade`.
inline CLI::App* subcommand(CLI::App& parent, const std::string& name, const std::string& description) {
  for (auto* s : parent.get_subcommands([&](CLI::App* a) { return a->get_name() == name; })) return s;
  auto* s = parent.add_subcommand(name, description);
  s->require_subcommand(1);
  return s;
}

}  // namespace crucible::cli
