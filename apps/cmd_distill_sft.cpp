// crucible distill sft — `train sft` (trainer/sft.h) on a traces run's kept traces, rendered in the student's chat
// template. Runs in crucible-torch (apps/CMakeLists.txt); the front hands `distill sft` over (cmd_distill.cpp).
// The training run (kind train-sft) records the traces run it learned from (config "distill" -> "traces_run").
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "apps/cli.h"
#include "apps/cmd_train.h"
#include "core/error.h"
#include "core/log.h"
#include "trainer/distill/traces.h"
#include "trainer/sft.h"

namespace crucible::cli {
namespace {

struct DistillSftArgs {
  std::string traces;
  trainer::SftConfig sft;
};

// The kept traces as SFT records: {"prompt", "completion"} strings when the prompt is one user turn (a model without
// a chat template can take those, as plain text), else {"prompt": [turns], "completion": [assistant turn]}.
int64_t write_sft_records(const std::vector<distill::KeptTrace>& kept, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError(path, "", "cannot write");
  for (const auto& k : kept) {
    nlohmann::json record;
    if (k.prompt.size() == 1 && k.prompt[0].role == "user") {
      record = {{"prompt", k.prompt[0].content}, {"completion", k.response}};
    } else {
      nlohmann::json turns = nlohmann::json::array();
      for (const auto& t : k.prompt) turns.push_back({{"role", t.role}, {"content", t.content}});
      record = {{"prompt", turns}, {"completion", {{{"role", "assistant"}, {"content", k.response}}}}};
    }
    out << record.dump() << "\n";
  }
  out.flush();
  if (!out) throw RunError("writing " + path + " failed");
  return static_cast<int64_t>(kept.size());
}

int run_distill_sft(const Globals& g, DistillSftArgs& a) {
  std::optional<int64_t> traces_run;
  if (std::filesystem::is_regular_file(a.traces)) {
    a.sft.data = a.traces;  // an exported (or any SFT) JSONL, read as train sft reads it
  } else {
    Store store = Store::open_read_only(g.db_path);
    auto run = store.find_run(a.traces);
    if (!run) throw InputError("--traces", "", fmt::format("'{}' is neither a file nor a run in {}", a.traces, g.db_path));
    auto kept = distill::kept_traces(store, *run);
    if (kept.empty())
      throw InputError("--traces", "", fmt::format("run {} kept no traces: nothing to train on", run->id));
    std::filesystem::create_directories(a.sft.out);
    a.sft.data = (std::filesystem::path(a.sft.out) / "distill-traces.jsonl").string();
    log::info("{} kept traces of run {} -> {}", write_sft_records(kept, a.sft.data), run->id, a.sft.data);
    traces_run = run->id;
  }
  if (a.sft.run_name.empty())
    a.sft.run_name = "distill-sft-" + a.sft.model.substr(a.sft.model.find_last_of('/') + 1);
  a.sft.validate();
  auto r = trainer::run_sft(a.sft, g.db_path);
  {
    Store store = Store::open(g.db_path);
    nlohmann::json config = store.get_run(r.run_id)->config;
    config["distill"] = {{"stage", "sft"}, {"traces", a.traces}};
    if (traces_run) config["distill"]["traces_run"] = *traces_run;
    store.update_run_config(r.run_id, config);
  }
  if (g.json) {
    print_json(nlohmann::json{{"run_id", r.run_id},
                              {"traces_run", traces_run ? nlohmann::json(*traces_run) : nlohmann::json(nullptr)},
                              {"status", r.status},
                              {"steps", r.steps},
                              {"first_loss", r.first_loss},
                              {"last_loss", r.last_loss},
                              {"tokens", r.tokens},
                              {"out", r.out_dir}}
                   .dump(2));
  } else {
    fmt::print("run {} {}: {} steps on the traces of {}, loss {:.4f} -> {:.4f}; student in {}\n", r.run_id, r.status,
               r.steps, a.traces, r.first_loss, r.last_loss, r.out_dir);
  }
  return r.status == "completed" ? 0 : 1;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto a = std::make_shared<DistillSftArgs>();
  auto* parent = subcommand(app, "distill", "Distil a teacher into a student: traces, export, sft");
  auto* cmd = parent->add_subcommand("sft", "Fine-tune a student on a traces run's kept traces (or an exported JSONL)");
  cmd->add_option("--student", a->sft.model, "student checkpoint: HF folder, .gguf or llama2.c .bin")->required();
  cmd->add_option("--tokenizer", a->sft.tokenizer, "student tokenizer (default: the checkpoint's own)");
  cmd->add_option("--traces", a->traces, "a traces run (id or name) or a JSONL from `distill export`")->required();
  cmd->add_option("--out", a->sft.out, "output folder (HF format)")->required();
  auto* steps = cmd->add_option("--steps", a->sft.steps, "optimizer steps (default: --epochs passes)");
  cmd->add_option("--epochs", a->sft.epochs, "passes over the traces")->capture_default_str()->excludes(steps);
  cmd->add_option("--seed", a->sft.seed, "data order seed")->capture_default_str();
  cmd->add_option("--batch-tokens", a->sft.batch_tokens, "tokens per optimizer step")->capture_default_str();
  cmd->add_option("--max-seq-len", a->sft.max_seq_len, "longer traces are cut")->capture_default_str();
  cmd->add_option("--save-dtype", a->sft.save_dtype, "float32 or bfloat16")->capture_default_str();
  cmd->add_option("--device", a->sft.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--threads", a->sft.threads, "CPU threads (0: torch's default)")->capture_default_str();
  cmd->add_option("--name", a->sft.run_name, "run name (default: distill-sft-<student>)");
  add_optim_flags(cmd, a->sft.optim);
  cmd->callback([&g, &action, a] { action = [&g, a] { return run_distill_sft(g, *a); }; });
}

CRUCIBLE_REGISTER_COMMAND(451, setup);

}  // namespace
}  // namespace crucible::cli
