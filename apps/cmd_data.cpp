// crucible data pull — fetch suites' public copies from the Hugging Face hub into the data dir.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "apps/cli.h"
#include "harness/data_pull.h"

namespace crucible::cli {
namespace {

struct PullArgs {
  std::string suites;
  std::optional<std::string> data_dir, revision;
  bool force = false;
};

int run_pull(const Globals& g, const PullArgs& a) {
  auto o = harness::pull_options_from_env(harness::resolve_data_dir(a.data_dir));
  o.revision = a.revision;
  o.force = a.force;
  bool tty = ::isatty(STDERR_FILENO) != 0;
  o.on_progress = [tty](const std::string& line, bool final) {
    if (tty) std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
    else if (final) std::fprintf(stderr, "%s\n", line.c_str());  // no rewriting in a log file: results only
    std::fflush(stderr);
  };
  auto files = harness::pull_suites(split_commas(a.suites), o);
  if (g.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& f : files)
      j.push_back({{"suite", f.suite}, {"path", f.local}, {"url", f.url}, {"sha256", f.sha256}, {"bytes", f.bytes},
                   {"downloaded", f.downloaded}, {"pinned", f.pinned}, {"attempts", f.attempts},
                   {"seconds", f.seconds}});
    print_json(j.dump(2));
  } else {
    for (const auto& f : files)
      fmt::print("{:<14} {:<10} {}  {}  {}\n", f.suite, f.downloaded ? "pulled" : "kept", f.sha256.substr(0, 16),
                 f.pinned ? "pinned" : "manifest", f.local);
  }
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto* data = subcommand(app, "data", "Benchmark data: fetch the suites' public copies");
  auto a = std::make_shared<PullArgs>();
  auto* pull = data->add_subcommand(
      "pull", "Download suites from the Hugging Face hub ($HF_ENDPOINT, $HF_TOKEN) into the data dir, atomically, "
              "checking pinned sha256s and recording the rest in <data dir>/crucible-manifest.json");
  pull->add_option("suites", a->suites, "SUITE[,SUITE...]")->required();
  pull->add_option("--data-dir", a->data_dir, "where to write (default: $CRUCIBLE_DATA or ~/.cache/crucible/data)");
  pull->add_option("--revision", a->revision,
                   "hub revision (branch, tag or commit) for every suite; pinned hashes apply only at the pinned one");
  pull->add_flag("--force", a->force, "download again files that are already there");
  pull->callback([&g, &action, a] { action = [&g, a] { return run_pull(g, *a); }; });
}

CRUCIBLE_REGISTER_COMMAND(250, setup);

}  // namespace
}  // namespace crucible::cli
