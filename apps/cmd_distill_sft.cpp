// crucible distill sft — `train sft` (trainer/sft.h) on a traces run's kept traces, rendered in the student's chat
// template; every `train sft` flag (add_sft_flags). Runs in crucible-torch (apps/CMakeLists.txt); the front hands
// `distill sft` over (cmd_distill.cpp). The training run (kind train-sft) records the traces run it learned from
// (config "distill" -> "traces_run"). `--kd topk:K` trains on the teacher's own token ids with its stored top-K
// (trainer/sft_data.h, "A teacher's tokens"; trainer/distill/README.md walks one KD step).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

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
  std::string kd;          // "" or "topk:K"
  double kd_alpha = 0.5;
  trainer::SftConfig sft;
};

// "topk:K" -> K; InputError naming --kd otherwise.
int64_t parse_kd(const std::string& kd) {
  const std::string head = "topk:";
  if (kd.rfind(head, 0) == 0) {
    try {
      size_t used = 0;
      const auto k = std::stoll(kd.substr(head.size()), &used);
      if (used == kd.size() - head.size() && k >= 1) return k;
    } catch (const std::exception&) {
    }
  }
  throw InputError("--kd", "", fmt::format("'{}': expected topk:K with K >= 1 (the teacher's K most likely tokens)", kd));
}

// The kept traces as SFT records: {"prompt", "completion"} strings when the prompt is one user turn (a model without
// a chat template can take those, as plain text), else {"prompt": [turns], "completion": [assistant turn]}. With the
// teacher's top-K (`topk` non-empty, by sample id): the teacher-token form of trainer/sft_data.h instead.
// Written beside `path` and renamed: with --nproc-per-node every rank writes the same file, none reads half of one.
int64_t write_sft_records(const std::vector<distill::KeptTrace>& kept,
                          const std::map<int64_t, const distill::TeacherTopK*>& topk, const std::string& path) {
  const std::string tmp = fmt::format("{}.{}.part", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path, "", "cannot write");
    for (const auto& k : kept) {
      nlohmann::json turns = nlohmann::json::array();
      for (const auto& t : k.prompt) turns.push_back({{"role", t.role}, {"content", t.content}});
      const bool one_user_turn = k.prompt.size() == 1 && k.prompt[0].role == "user";
      nlohmann::json record;
      if (auto it = topk.find(k.sample_id); it != topk.end()) {
        const auto& t = *it->second;
        nlohmann::json ids = nlohmann::json::array(), lps = nlohmann::json::array();
        for (size_t i = 0; i < t.token_ids.size(); ++i) {
          const auto from = static_cast<std::ptrdiff_t>(i * static_cast<size_t>(t.k)), to = from + t.k;
          ids.push_back(std::vector<int32_t>(t.top_ids.begin() + from, t.top_ids.begin() + to));
          lps.push_back(std::vector<float>(t.top_logprobs.begin() + from, t.top_logprobs.begin() + to));
        }
        record = {{"prompt", one_user_turn ? nlohmann::json(k.prompt[0].content) : turns},
                  {"assistant_prefix", k.assistant_prefix},
                  {"completion", k.completion},
                  {"completion_ids", t.token_ids},
                  {"teacher_prompt_tokens", k.prompt_tokens},
                  {"teacher_topk", {{"ids", ids}, {"logprobs", lps}}}};
      } else if (one_user_turn) {
        record = {{"prompt", k.prompt[0].content}, {"completion", k.response}};
      } else {
        record = {{"prompt", turns}, {"completion", {{{"role", "assistant"}, {"content", k.response}}}}};
      }
      out << record.dump() << "\n";
    }
    out.flush();
    if (!out) throw RunError("writing " + tmp + " failed");
  }
  std::filesystem::rename(tmp, path);
  return static_cast<int64_t>(kept.size());
}

int run_distill_sft(const Globals& g, DistillSftArgs& a) {
  std::optional<int64_t> traces_run;
  const int64_t kd_k = a.kd.empty() ? 0 : parse_kd(a.kd);
  a.sft.kd_alpha = kd_k > 0 ? a.kd_alpha : 0.0;
  if (std::filesystem::is_regular_file(a.traces)) {
    // An exported (or any SFT) JSONL, read as train sft reads it. A file in the teacher-token form (an earlier --kd
    // run's OUT/distill-traces.jsonl) trains on the teacher's ids with the KL share 0: --kd reads the run.
    if (kd_k > 0) throw InputError("--kd", "", "needs --traces RUN: the teacher's top-K is read from the traces run");
    a.sft.data = a.traces;
  } else {
    Store store = Store::open_read_only(g.db_path);
    auto run = store.find_run(a.traces);
    if (!run) throw InputError("--traces", "", fmt::format("'{}' is neither a file nor a run in {}", a.traces, g.db_path));
    auto kept = distill::kept_traces(store, *run);
    if (kept.empty())
      throw InputError("--traces", "", fmt::format("run {} kept no traces: nothing to train on", run->id));
    std::vector<distill::TeacherTopK> topk;
    if (kd_k > 0) topk = distill::kept_teacher_topk(store, *run, kd_k);
    std::map<int64_t, const distill::TeacherTopK*> topk_of;
    for (const auto& t : topk) topk_of[t.sample_id] = &t;
    std::filesystem::create_directories(a.sft.out);
    a.sft.data = (std::filesystem::path(a.sft.out) / "distill-traces.jsonl").string();
    log::info("{} kept traces of run {}{} -> {}", write_sft_records(kept, topk_of, a.sft.data), run->id,
              kd_k > 0 ? fmt::format(" with the teacher's top-{}", kd_k) : std::string(), a.sft.data);
    traces_run = run->id;
  }
  if (a.sft.run_name.empty())
    a.sft.run_name = "distill-sft-" + a.sft.model.substr(a.sft.model.find_last_of('/') + 1);
  a.sft.validate();
  auto r = trainer::run_sft(a.sft, g.db_path);
  if (r.rank != 0) return r.status == "completed" ? 0 : 1;  // rank 0 records and reports for all
  {
    Store store = Store::open(g.db_path);
    nlohmann::json config = store.get_run(r.run_id)->config;
    config["distill"] = {{"stage", "sft"}, {"traces", a.traces}};
    if (traces_run) config["distill"]["traces_run"] = *traces_run;
    if (kd_k > 0) config["distill"]["kd"] = {{"method", "topk"}, {"k", kd_k}, {"alpha", a.sft.kd_alpha}};
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
  auto* parent = subcommand(app, "distill", "Distil a teacher into a student: traces, export, sft, onpolicy");
  auto* cmd = parent->add_subcommand("sft", "Fine-tune a student on a traces run's kept traces (or an exported JSONL)");
  cmd->add_option("--student", a->sft.model, "student checkpoint: HF folder, .gguf or llama2.c .bin")->required();
  cmd->add_option("--traces", a->traces, "a traces run (id or name) or a JSONL from `distill export`")->required();
  cmd->add_option("--out", a->sft.out, "output folder (HF format)")->required();
  cmd->add_option("--name", a->sft.run_name, "run name (default: distill-sft-<student>)");
  auto* kd = cmd->add_option("--kd", a->kd, "logit distillation: topk:K (the teacher's top-K stored by `distill "
                                            "traces --top-logprobs N`, N >= K; student and teacher share a tokenizer)");
  cmd->add_option("--kd-alpha", a->kd_alpha, "with --kd: loss = (1 - A) CE + A KL(teacher top-K || student)")
      ->capture_default_str()
      ->needs(kd);
  auto nproc = add_sft_flags(cmd, a->sft);
  cmd->callback([&g, &action, a, nproc] {
    action = [&g, a, nproc] { return *nproc > 1 ? trainer::dist::launch_local_ranks(*nproc) : run_distill_sft(g, *a); };
  });
}

CRUCIBLE_REGISTER_COMMAND(451, setup);

}  // namespace
}  // namespace crucible::cli
