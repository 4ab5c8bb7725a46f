// crucible report [RUN…] [--db FILE] [--format md|html|json] [-o FILE] [--baseline RUN] — scores, curves and paired
// run-vs-run comparisons from a store, as Markdown, one self-contained HTML page, or JSON. Reads only.
#include <fmt/format.h>

#include <cstdio>
#include <cstring>

#include "apps/cli.h"
#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "reports/report.h"
#include "reports/store.h"

namespace crucible::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> runs;
  std::string db;
  std::string format;
  std::string output;
  std::string baseline;
};

int run_report(const Globals& g, const ReportArgs& a) {
  std::string format = a.format;
  if (format.empty()) {  // from -o's extension, then --json, else Markdown
    auto ends = [&](const char* ext) { return a.output.size() > std::strlen(ext) && a.output.ends_with(ext); };
    format = ends(".html") || ends(".htm") ? "html"
             : ends(".json")                 ? "json"
             : ends(".md") || ends(".markdown") ? "md"
             : g.json                        ? "json"
                                             : "md";
  }
  // Read-only: a report never creates, migrates or changes the database, whatever goes wrong.
  Store store = Store::open_read_only(a.db.empty() ? g.db_path : a.db);
  report::ReportOptions options;
  options.runs = a.runs;
  if (!a.baseline.empty()) options.baseline = a.baseline;
  nlohmann::json data = report::build_report(store, options);
  std::string text = format == "html" ? report::render_html(data)
                     : format == "json" ? data.dump(2) + "\n"
                                        : report::render_markdown(data);
  if (a.output.empty() || a.output == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    write_text_file_atomic(a.output, text);
    log::info("wrote {} report to {}", format, a.output);
  }
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto args = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report", "Scores, pass@k curves, lengths and paired run-vs-run comparisons as Markdown, HTML or JSON");
  cmd->add_option("runs", args->runs, "run ids or names (default: every run); the first is the baseline");
  cmd->add_option("--db", args->db, "SQLite store (default: the global --db, $CRUCIBLE_DB or ./crucible.db)");
  cmd->add_option("--format", args->format, "md, html or json (default: from -o's extension, else md)")
      ->check(CLI::IsMember({"md", "html", "json"}));
  cmd->add_option("-o,--output", args->output, "output file (default: stdout)");
  cmd->add_option("--baseline", args->baseline, "run to compare every other run against (default: the first run)");
  cmd->callback([&g, &action, args] { action = [&g, args] { return run_report(g, *args); }; });
}

CRUCIBLE_REGISTER_COMMAND(850, setup);

}  // namespace
}  // namespace crucible::cli
