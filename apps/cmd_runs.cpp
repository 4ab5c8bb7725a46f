// crucible runs list|show|delete|export|import — look at, remove and move the runs in a store.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sys/stat.h>

#include "apps/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "reports/store.h"

namespace crucible::cli {
namespace {

nlohmann::json summary_json(const RunSummary& s) {
  const auto& r = s.run;
  nlohmann::json j = {{"id", r.id},
                      {"name", r.name},
                      {"kind", r.kind},
                      {"status", r.status},
                      {"protocol", r.protocol},
                      {"model", s.model_path ? nlohmann::json(*s.model_path) : nlohmann::json(nullptr)},
                      {"started_at", r.started_at},
                      {"ended_at", r.ended_at ? nlohmann::json(*r.ended_at) : nlohmann::json(nullptr)},
                      {"samples", s.n_samples},
                      {"graded", s.n_graded},
                      {"correct", s.n_correct}};
  return j;
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

RunRecord require_run(Store& store, const std::string& id_or_name) {
  auto run = store.find_run(id_or_name);
  if (!run) throw InputError(store.path(), "run", "no run with id or name '" + id_or_name + "'");
  return *run;
}

int list_runs(const Globals& g, const std::string& kind) {
  // Listing never creates a database: a missing file simply has no runs.
  std::vector<RunSummary> runs;
  if (file_exists(g.db_path)) runs = Store::open(g.db_path, /*create=*/false).list_runs();
  if (!kind.empty())
    std::erase_if(runs, [&](const RunSummary& s) { return s.run.kind != kind; });
  if (g.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : runs) arr.push_back(summary_json(s));
    print_json(arr.dump(2));
    return 0;
  }
  if (runs.empty()) {
    fmt::print("no runs in {}\n", g.db_path);
    return 0;
  }
  fmt::print("{:>5}  {:<28} {:<14} {:<11} {:>8} {:>8}  {:<24} {}\n", "id", "name", "kind", "status", "samples",
             "correct", "started", "model");
  for (const auto& s : runs) {
    fmt::print("{:>5}  {:<28} {:<14} {:<11} {:>8} {:>8}  {:<24} {}\n", s.run.id, s.run.name.substr(0, 28), s.run.kind,
               s.run.status, s.n_samples, s.n_correct, s.run.started_at, s.model_path.value_or("-"));
  }
  return 0;
}

int show_run(const Globals& g, const std::string& id) {
  Store store = Store::open(g.db_path, false);
  RunRecord run = require_run(store, id);
  auto datasets = store.run_datasets(run.id);
  auto scores = store.run_scores(run.id);
  int64_t n_samples = store.count_samples(run.id);
  std::optional<ModelRecord> model;
  if (run.model_id) model = store.get_model(*run.model_id);
  if (g.json) {
    nlohmann::json j = {{"id", run.id},           {"name", run.name},
                        {"kind", run.kind},       {"status", run.status},
                        {"protocol", run.protocol}, {"identity", run.identity},
                        {"seed", run.seed},       {"config", run.config},
                        {"crucible_version", run.crucible_version}, {"git_sha", run.git_sha},
                        {"host", run.host},       {"started_at", run.started_at},
                        {"ended_at", run.ended_at ? nlohmann::json(*run.ended_at) : nlohmann::json(nullptr)},
                        {"samples", n_samples}};
    if (model) j["model"] = {{"path", model->path}, {"format", model->format}, {"content_hash", model->content_hash}};
    j["datasets"] = nlohmann::json::array();
    for (const auto& d : datasets)
      j["datasets"].push_back({{"suite", d.suite}, {"version", d.version}, {"sha256", d.sha256},
                               {"n_problems", d.n_problems}});
    j["scores"] = nlohmann::json::array();
    for (const auto& s : scores)
      j["scores"].push_back({{"suite", s.suite}, {"metric", s.metric}, {"k", s.k}, {"value", s.value},
                             {"ci_low", s.ci_low ? nlohmann::json(*s.ci_low) : nlohmann::json(nullptr)},
                             {"ci_high", s.ci_high ? nlohmann::json(*s.ci_high) : nlohmann::json(nullptr)},
                             {"n", s.n}});
    print_json(j.dump(2));
    return 0;
  }
  fmt::print("run {} '{}' ({}, {})\n", run.id, run.name, run.kind, run.status);
  fmt::print("  started {}  ended {}\n", run.started_at, run.ended_at.value_or("-"));
  fmt::print("  crucible {} git {} on {}\n", run.crucible_version, run.git_sha, run.host);
  if (model) fmt::print("  model {} ({}, sha256 {})\n", model->path, model->format, model->content_hash.substr(0, 16));
  fmt::print("  protocol {}  seed {}  samples {}\n", run.protocol.empty() ? "-" : run.protocol, run.seed, n_samples);
  for (const auto& d : datasets)
    fmt::print("  dataset {} v{} ({} problems, sha256 {})\n", d.suite, d.version, d.n_problems, d.sha256.substr(0, 16));
  if (!scores.empty()) {
    fmt::print("  {:<16} {:<14} {:>4} {:>8}  {}\n", "suite", "metric", "k", "value", "95% CI");
    for (const auto& s : scores) {
      std::string ci = (s.ci_low && s.ci_high) ? fmt::format("[{:.4f}, {:.4f}]", *s.ci_low, *s.ci_high) : "";
      fmt::print("  {:<16} {:<14} {:>4} {:>8.4f}  {}\n", s.suite, s.metric, s.k, s.value, ci);
    }
  }
  fmt::print("  config {}\n", run.config.dump());
  return 0;
}

int delete_run(const Globals& g, const std::string& id, bool yes) {
  Store store = Store::open(g.db_path, false);
  RunRecord run = require_run(store, id);
  if (!yes) throw InputError("--yes", "", fmt::format("deleting run {} '{}' with {} samples needs --yes", run.id,
                                                      run.name, store.count_samples(run.id)));
  store.delete_run(run.id);
  if (g.json) print_json(nlohmann::json{{"deleted", run.id}}.dump());
  else fmt::print("deleted run {} '{}'\n", run.id, run.name);
  return 0;
}

int export_run(const Globals& g, const std::string& id, const std::string& output) {
  Store store = Store::open(g.db_path, false);
  RunRecord run = require_run(store, id);
  if (output.empty() || output == "-") {
    store.export_run(run.id, std::cout);
    std::cout.flush();
  } else {
    std::string tmp = output + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw InputError(output, "", "cannot open for writing");
      store.export_run(run.id, out);
    }
    if (std::rename(tmp.c_str(), output.c_str()) != 0) throw RunError("cannot rename " + tmp + " to " + output);
    log::info("exported run {} to {}", run.id, output);
  }
  return 0;
}

int import_run(const Globals& g, const std::string& input) {
  Store store = Store::open(g.db_path, true);
  int64_t id;
  if (input == "-") {
    id = store.import_run(std::cin, "<stdin>");
  } else {
    std::ifstream in(input, std::ios::binary);
    if (!in) throw InputError(input, "", "cannot open file");
    id = store.import_run(in, input);
  }
  if (g.json) print_json(nlohmann::json{{"imported", id}}.dump());
  else fmt::print("imported as run {}\n", id);
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto* runs = app.add_subcommand("runs", "List, show, delete, export and import stored runs");
  runs->require_subcommand(1);

  auto* list = runs->add_subcommand("list", "List the runs in the store");
  auto kind = std::make_shared<std::string>();
  list->add_option("--kind", *kind, "only runs of this kind")
      ->check(CLI::IsMember({"eval", "grpo", "distill-traces", "train-sft", "train-grpo", "distill-onpolicy"}));
  list->callback([&g, &action, kind] { action = [&g, kind] { return list_runs(g, *kind); }; });

  auto id = std::make_shared<std::string>();
  auto* show = runs->add_subcommand("show", "Show one run: config, datasets, scores");
  show->add_option("run", *id, "run id or name")->required();
  show->callback([&g, &action, id] { action = [&g, id] { return show_run(g, *id); }; });

  auto yes = std::make_shared<bool>(false);
  auto* del = runs->add_subcommand("delete", "Delete a run with its samples, scores, steps and artifact rows");
  del->add_option("run", *id, "run id or name")->required();
  del->add_flag("--yes,-y", *yes, "really delete");
  del->callback([&g, &action, id, yes] { action = [&g, id, yes] { return delete_run(g, *id, *yes); }; });

  auto output = std::make_shared<std::string>();
  auto* exp = runs->add_subcommand("export", "Write a run with everything it refers to as JSONL");
  exp->add_option("run", *id, "run id or name")->required();
  exp->add_option("-o,--output", *output, "output file (default: stdout)");
  exp->callback([&g, &action, id, output] { action = [&g, id, output] { return export_run(g, *id, *output); }; });

  auto input = std::make_shared<std::string>();
  auto* imp = runs->add_subcommand("import", "Add a run from a `runs export` file (a new id; same identity refused)");
  imp->add_option("file", *input, "export file, or - for stdin")->required();
  imp->callback([&g, &action, input] { action = [&g, input] { return import_run(g, *input); }; });
}

CRUCIBLE_REGISTER_COMMAND(900, setup);

}  // namespace
}  // namespace crucible::cli
