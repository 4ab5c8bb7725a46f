// crucible demo — the R1 pipeline in miniature, on a CPU, in minutes: a generated task family (harness/arith.h),
// models from scratch (model/random_init.h), and every stage a stored run made by the existing commands, each run as
// its own `crucible` process exactly as a user would type it (the command lines are in DIR/commands.sh):
//
//   data gen arith → init-model teacher, student → train sft teacher (solver traces) → train sft base student
//   (answers without reasoning) → eval both → train grpo base student (R1-Zero: accuracy + format, the format rule
//   `answer`, which R1's `++</think>}` hack does not pass) → eval →
//   distill traces (teacher, rejection sampled) → distill sft base student → eval → train grpo distilled → eval →
//   report.md, report.html
//
// Nothing here computes a score: the numbers in the stage table are the eval commands' own (--json), and the report
// is `crucible report` over the stored runs.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "apps/cli.h"
#include "core/error.h"
#include "core/json_io.h"

namespace crucible::cli {
namespace {

namespace fs = std::filesystem;

// One model's shape for `init-model`.
struct Shape {
  int layers, dim, heads, ffn;
};

// Every size and step count of a demo, named once. `full` is the default; `quick` is the CI smoke variant.
struct DemoPlan {
  Shape teacher, student;
  int teacher_sft_steps, student_sft_steps;
  double teacher_lr, student_lr;
  int batch_tokens;
  int eval_samples, eval_limit;     // k per problem, test problems (0: the whole split)
  int grpo_steps, grpo_distilled_steps, grpo_prompts, grpo_group;
  double grpo_lr;
  int max_tokens;                   // completion budget of every eval, rollout and trace
  int distill_samples;              // teacher traces per train problem (rejection sampled)
  int distill_sft_steps;
};

// Measured on the 2-core machine (issue 16's note; benchmarks/RESULTS.md "demo"): a 4x64 teacher needs ~1.5 M
// solver-trace tokens (3000 steps of 512) to solve ~98% of the test split; the 2x64 student after 1000 steps of
// answers alone solves ~18%; the teacher's traces take it past 80% within 2000 steps. GRPO on a model this small
// gains slowly and only at a small learning rate: at 1e-4 it adds ~5 points in 400 steps and ~10 in 800, while
// 2e-4 and up give noisier, smaller gains and 1e-3 makes the student worse. Batches of 512 tokens learn more per
// second than 1024 at these sizes.
DemoPlan full_plan() {
  return {.teacher = {4, 64, 4, 192},
          .student = {2, 64, 4, 192},
          .teacher_sft_steps = 3000,
          .student_sft_steps = 1000,
          .teacher_lr = 3e-3,
          .student_lr = 3e-3,
          .batch_tokens = 512,
          .eval_samples = 16,
          .eval_limit = 0,
          .grpo_steps = 800,
          .grpo_distilled_steps = 200,
          .grpo_prompts = 16,
          .grpo_group = 8,
          .grpo_lr = 1e-4,
          .max_tokens = 40,
          .distill_samples = 1,
          .distill_sft_steps = 2000};
}

// The CI smoke variant: the same models and stages, fewer steps and samples, still the whole 200-problem test split
// (a smaller one widens every interval past the effects the test asserts).
DemoPlan quick_plan() {
  DemoPlan p = full_plan();
  p.teacher_sft_steps = 1200;
  p.eval_samples = 8;
  p.grpo_steps = 400;
  p.grpo_distilled_steps = 40;
  p.distill_sft_steps = 1200;
  return p;
}

struct DemoArgs {
  std::string out = "crucible-demo";
  std::string db;  // default DIR/demo.db
  uint64_t seed = 0;
  bool quick = false;
  int threads = 1;
  int nproc = 1;  // data-parallel ranks of every training stage (train sft, train grpo, distill sft)
};

struct StageRow {
  std::string stage;     // "eval base student"
  std::string kind;      // eval | train | data | model
  int64_t run_id = 0;
  nlohmann::json result;  // the command's --json output
  double seconds = 0;
};

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw RunError("demo: cannot find the crucible executable (/proc/self/exe): " + ec.message());
  return p.string();
}

std::string shell_quote(const std::string& s) {
  if (s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,") == std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string tail_of(const std::string& path, size_t bytes) {
  std::string text;
  try {
    text = read_text_file(path);
  } catch (const Error&) {
    return "";
  }
  return text.size() > bytes ? "…" + text.substr(text.size() - bytes) : text;
}

class Demo {
 public:
  Demo(const DemoArgs& a, DemoPlan plan, bool json) : a_(a), plan_(plan), json_(json), exe_(self_exe()) {
    db_ = a.db.empty() ? a.out + "/demo.db" : a.db;
    logs_ = a.out + "/logs";
  }

  // Runs `crucible --db DB --json ARGS…` with stdout (the JSON) to logs/NAME.json and stderr (logs, progress) to
  // logs/NAME.log; returns the parsed JSON (null for a command that writes a file instead: `report -o`). A failed
  // command stops the demo with the end of its log.
  nlohmann::json run(const std::string& name, std::vector<std::string> args, double* seconds,
                     bool prints_json = true) {
    std::vector<std::string> argv = {exe_, "--db", db_, "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string line;
    for (size_t i = 1; i < argv.size(); ++i) line += (i > 1 ? " " : "") + shell_quote(argv[i]);
    commands_ << "crucible " << line << "\n";
    commands_.flush();
    const std::string out_path = logs_ + "/" + name + ".json", err_path = logs_ + "/" + name + ".log";
    fmt::print(stderr, "demo: {} …\n", name);
    auto start = std::chrono::steady_clock::now();
    int status = spawn(argv, out_path, err_path);
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (status != 0)
      throw RunError(fmt::format("demo: stage '{}' failed (exit {}): crucible {}\n{}\n(full log: {})", name, status,
                                 line, tail_of(err_path, 2000), err_path));
    if (!prints_json) return nullptr;
    auto j = nlohmann::json::parse(read_text_file(out_path), nullptr, false);
    if (j.is_discarded()) throw RunError(fmt::format("demo: stage '{}' printed no JSON ({})", name, out_path));
    return j;
  }

  int main() {
    if (fs::exists(db_))
      throw InputError(db_, "", "a store is already there: the demo starts from an empty one, so pass another --out "
                                "or --db (nothing was changed)");
    fs::create_directories(logs_);
    commands_.open(a_.out + "/commands.sh");
    commands_ << "# The commands `crucible demo` ran, in order (the demo adds --db and --json to each).\n";
    // Single-threaded torch unless asked: the same seed then gives the same numbers on any machine, and the two
    // cores of a small machine are not fought over by the intra-op pool.
    ::setenv("OMP_NUM_THREADS", std::to_string(a_.threads).c_str(), 1);
    ::setenv("MKL_NUM_THREADS", std::to_string(a_.threads).c_str(), 1);
    const std::string data = a_.out + "/data", models = a_.out + "/models";
    const std::string seed = std::to_string(a_.seed);
    const std::string max_tokens = std::to_string(plan_.max_tokens);
    auto t0 = std::chrono::steady_clock::now();

    stage("data", "generate arith (train/test)",
          {"data", "gen", "arith", "--data-dir", data, "--seed", seed});
    auto init = [&](const std::string& name, const Shape& s, uint64_t seed_offset) {
      stage("model", "init " + name,
            {"init-model", "--out", models + "/" + name + "-init", "--layers", std::to_string(s.layers), "--dim",
             std::to_string(s.dim), "--heads", std::to_string(s.heads), "--kv-heads", std::to_string(s.heads),
             "--ffn", std::to_string(s.ffn), "--seed", std::to_string(a_.seed + seed_offset)});
    };
    init("teacher", plan_.teacher, 1);
    init("student", plan_.student, 2);
    auto sft = [&](const std::string& label, const std::string& from, const std::string& to,
                   const std::string& file, int steps, double lr) {
      std::vector<std::string> args = {
          "train", "sft", "--model", from, "--data", file, "--out", to, "--steps", std::to_string(steps),
          "--batch-tokens", std::to_string(plan_.batch_tokens), "--max-seq-len", "128", "--lr", fmt::format("{}", lr),
          "--warmup", "0.05", "--seed", seed, "--name", "demo-" + label};
      for (auto& f : train_flags()) args.push_back(f);
      stage("train", label, args);
    };
    sft("sft teacher", models + "/teacher-init", models + "/teacher", data + "/arith/sft_reasoning.jsonl",
        plan_.teacher_sft_steps, plan_.teacher_lr);
    sft("sft base student", models + "/student-init", models + "/student-base", data + "/arith/sft_answer.jsonl",
        plan_.student_sft_steps, plan_.student_lr);
    auto eval = [&](const std::string& label, const std::string& model) {
      std::vector<std::string> args = {"eval", "--model", model, "--suite", "arith", "--data-dir", data,
                                       "--samples", std::to_string(plan_.eval_samples), "--max-tokens", max_tokens,
                                       "--seed", seed, "--name", "demo-" + label};
      if (plan_.eval_limit > 0) args.insert(args.end(), {"--limit", std::to_string(plan_.eval_limit)});
      stage("eval", label, args);
    };
    eval("eval teacher", models + "/teacher");
    eval("eval base student", models + "/student-base");
    auto grpo = [&](const std::string& label, const std::string& from, const std::string& to, int steps) {
      std::vector<std::string> args = {
          "train", "grpo", "--model", from, "--suite", "arith_train", "--data-dir", data, "--out", to, "--steps",
          std::to_string(steps), "--prompts-per-step", std::to_string(plan_.grpo_prompts), "--group-size",
          std::to_string(plan_.grpo_group), "--max-tokens", max_tokens, "--lr", fmt::format("{}", plan_.grpo_lr),
          "--beta", "0", "--format-rule", "answer", "--seed", seed, "--name", "demo-" + label};
      for (auto& f : train_flags()) args.push_back(f);
      stage("train", label, args);
    };
    grpo("grpo base student", models + "/student-base", models + "/student-grpo", plan_.grpo_steps);
    eval("eval grpo student", models + "/student-grpo");

    // Distillation (issue 15): the teacher's verified traces, SFT of the base student on them, then GRPO on top.
    nlohmann::json traces = stage("train", "distill traces",
                                  {"distill", "traces", "--teacher", models + "/teacher", "--suite", "arith_train",
                                   "--data-dir", data, "--samples", std::to_string(plan_.distill_samples),
                                   "--max-tokens", max_tokens, "--seed", seed});
    std::vector<std::string> distill_args = {
        "distill", "sft", "--student", models + "/student-base", "--traces",
        std::to_string(traces.value("run_id", int64_t(0))), "--out", models + "/student-distilled", "--steps",
        std::to_string(plan_.distill_sft_steps), "--batch-tokens", std::to_string(plan_.batch_tokens),
        "--max-seq-len", "128", "--warmup", "0.05", "--lr", fmt::format("{}", plan_.student_lr), "--seed", seed};
    for (auto& f : train_flags()) distill_args.push_back(f);
    stage("train", "distill sft student", distill_args);
    eval("eval distilled student", models + "/student-distilled");
    grpo("grpo distilled student", models + "/student-distilled", models + "/student-distilled-grpo",
         plan_.grpo_distilled_steps);
    eval("eval distilled+grpo student", models + "/student-distilled-grpo");

    report();
    compare();
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (json_) print_json(rows_json(total).dump(2));
    else print_table(total);
    return 0;
  }

 private:
  // The training stages' parallelism: torch threads, and with --nproc-per-node N > 1 that many data-parallel ranks.
  std::vector<std::string> train_flags() const {
    std::vector<std::string> f = {"--threads", std::to_string(a_.threads)};
    if (a_.nproc > 1) f.insert(f.end(), {"--nproc-per-node", std::to_string(a_.nproc)});
    return f;
  }

  nlohmann::json stage(const std::string& kind, const std::string& label, std::vector<std::string> args) {
    std::string name;
    for (char c : label) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
    name = fmt::format("{:02d}-{}", rows_.size() + 1, name);
    StageRow row{label, kind, 0, nullptr, 0};
    row.result = run(name, std::move(args), &row.seconds);
    if (row.result.is_object()) row.run_id = row.result.value("run_id", int64_t(0));
    rows_.push_back(row);
    return row.result;
  }

  // `crucible report` over the eval runs (the base student's first, so every comparison is paired against it on the
  // same test problems) and the training runs (their curves), as Markdown and HTML.
  void report() {
    std::vector<std::string> evals, trains;
    std::string baseline;
    for (const auto& r : rows_) {
      if (r.run_id == 0) continue;
      if (r.kind == "eval") {
        if (r.stage == "eval base student") baseline = std::to_string(r.run_id);
        evals.push_back(std::to_string(r.run_id));
      } else if (r.kind == "train") {
        trains.push_back(std::to_string(r.run_id));
      }
    }
    std::vector<std::string> runs = evals;
    runs.insert(runs.end(), trains.begin(), trains.end());
    for (const char* ext : {"md", "html"}) {
      std::vector<std::string> args = {"report"};
      args.insert(args.end(), runs.begin(), runs.end());
      args.insert(args.end(), {"--baseline", baseline, "--format", ext, "-o", a_.out + "/report." + ext});
      double seconds = 0;
      run(std::string("report-") + ext, args, &seconds, /*prints_json=*/false);
    }
  }

  const StageRow* find(const std::string& label) const {
    for (const auto& r : rows_)
      if (r.stage == label) return &r;
    return nullptr;
  }

  // The paired differences the comparison table prints, read from `crucible report --format json` (run minus
  // baseline on the problems both ran, paired bootstrap 95% CI): every student stage and the teacher against the base
  // student, the distilled student against the GRPO student (R1's claim for small models), and GRPO on the distilled
  // student against the distilled student (does RL add to distillation).
  void compare() {
    auto paired = [&](const std::string& name, const StageRow* baseline, std::vector<const StageRow*> runs) {
      std::vector<std::string> args = {"report", "--format", "json", std::to_string(baseline->run_id)};
      for (const auto* r : runs) args.push_back(std::to_string(r->run_id));
      double seconds = 0;
      nlohmann::json rep = run(name, args, &seconds);
      for (const auto& c : rep.at("suites").at(0).at("comparisons")) {
        for (const auto* r : runs)
          if (c.at("run").get<int64_t>() == r->run_id)
            comparisons_.push_back({{"run", r->stage},
                                    {"baseline", baseline->stage},
                                    {"paired_problems", c.at("paired")},
                                    {"difference", c.at("difference")},
                                    {"test", c.at("test")}});
      }
    };
    const StageRow* base = find("eval base student");
    const StageRow* grpo = find("eval grpo student");
    const StageRow* distilled = find("eval distilled student");
    paired("compare-base", base, {find("eval teacher"), grpo, distilled, find("eval distilled+grpo student")});
    paired("compare-grpo", grpo, {distilled});
    paired("compare-distilled", distilled, {find("eval distilled+grpo student")});
  }

  // Seconds of a training stage (0 when absent).
  double seconds_of(const std::string& label) const {
    const StageRow* r = find(label);
    return r ? r->seconds : 0.0;
  }
  // Student-side compute of distillation: the teacher's traces and the student's SFT on them.
  double distillation_seconds() const { return seconds_of("distill traces") + seconds_of("distill sft student"); }

  nlohmann::json rows_json(double total) const {
    nlohmann::json stages = nlohmann::json::array();
    for (const auto& r : rows_)
      stages.push_back({{"stage", r.stage}, {"kind", r.kind}, {"run_id", r.run_id ? nlohmann::json(r.run_id) : nullptr},
                        {"seconds", r.seconds}, {"result", r.result}});
    return {{"out", a_.out}, {"db", db_}, {"seed", a_.seed}, {"quick", a_.quick}, {"threads", a_.threads},
            {"seconds", total}, {"report_html", a_.out + "/report.html"}, {"report_md", a_.out + "/report.md"},
            {"stages", stages}, {"comparisons", comparisons_},
            {"compute_seconds",
             {{"grpo_alone", seconds_of("grpo base student")},
              {"distillation", distillation_seconds()},
              {"teacher_sft", seconds_of("sft teacher")}}}};
  }

  void print_table(double total) const {
    fmt::print("\ncrucible demo{} — seed {}, {} torch thread(s), store {}\n\n", a_.quick ? " --quick" : "", a_.seed,
               a_.threads, db_);
    fmt::print("| {:<28} | {:>4} | {:<28} | {:>8} | {:>8} |\n", "stage", "run", "result", "cons@k", "seconds");
    fmt::print("|{:-<30}|{:->6}|{:-<30}|{:->10}|{:->10}|\n", "", "", "", "", "");
    for (const auto& r : rows_) {
      std::string result, cons;
      if (r.kind == "eval") {
        const auto& s = r.result.at("suites").at(0);
        const auto& ci = s.at("pass@1_ci95");
        result = fmt::format("pass@1 {:.3f} [{:.3f}, {:.3f}]", s.at("pass@1").get<double>(), ci[0].get<double>(),
                             ci[1].get<double>());
        if (!s.at("cons@k").is_null())
          cons = fmt::format("{:.3f}@{}", s.at("cons@k").get<double>(), s.at("samples_per_problem").get<int64_t>());
      } else if (r.kind == "train" && r.result.contains("last_loss")) {
        result = fmt::format("loss {:.3f} -> {:.3f}", r.result.value("first_loss", 0.0), r.result.value("last_loss", 0.0));
      } else if (r.kind == "train" && r.result.contains("last_reward")) {
        result = fmt::format("reward {:.2f} -> {:.2f}", r.result.value("first_reward", 0.0),
                             r.result.value("last_reward", 0.0));
      }
      fmt::print("| {:<28} | {:>4} | {:<28} | {:>8} | {:>8.1f} |\n", r.stage,
                 r.run_id ? std::to_string(r.run_id) : std::string("-"), result, cons, r.seconds);
    }
    fmt::print("\nPaired on the same test problems (run minus baseline pass@1, 95% paired bootstrap CI):\n");
    for (const auto& c : comparisons_) {
      const auto& d = c.at("difference");
      fmt::print("  {:<28} vs {:<18} {:+.3f} [{:+.3f}, {:+.3f}]  ({} problems)\n", c.at("run").get<std::string>(),
                 c.at("baseline").get<std::string>(), d.at("value").get<double>(), d.at("low").get<double>(),
                 d.at("high").get<double>(), c.at("paired_problems").get<int64_t>());
    }
    for (const auto& c : comparisons_) {
      if (c.at("run") != "eval distilled student" || c.at("baseline") != "eval grpo student") continue;
      const auto& d = c.at("difference");
      const double low = d.at("low").get<double>(), high = d.at("high").get<double>();
      fmt::print("R1's claim for small models, distillation beats RL alone at comparable compute: {} here — the "
                 "distilled student {} the GRPO student by {:+.3f} [{:+.3f}, {:+.3f}], after {:.0f} s of student-side "
                 "distillation (traces + SFT; the teacher's own SFT took {:.0f} s) vs {:.0f} s of GRPO.\n",
                 low > 0 ? "holds" : high < 0 ? "does not hold" : "undecided",
                 low > 0 ? "beats" : high < 0 ? "trails" : "is within noise of", d.at("value").get<double>(), low,
                 high, distillation_seconds(), seconds_of("sft teacher"), seconds_of("grpo base student"));
    }
    fmt::print("\ntotal {:.1f} s. Report: {}/report.html and {}/report.md; commands: {}/commands.sh\n", total, a_.out,
               a_.out, a_.out);
  }

  int spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path) {
    pid_t pid = ::fork();
    if (pid < 0) throw RunError("demo: fork failed");
    if (pid == 0) {
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out < 0 || err < 0) ::_exit(127);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      std::vector<char*> c;
      for (const auto& s : argv) c.push_back(const_cast<char*>(s.c_str()));
      c.push_back(nullptr);
      ::execv(c[0], c.data());
      ::_exit(127);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) throw RunError("demo: waitpid failed");
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }

  DemoArgs a_;
  DemoPlan plan_;
  bool json_ = false;
  std::string exe_, db_, logs_;
  std::ofstream commands_;
  std::vector<StageRow> rows_;
  nlohmann::json comparisons_ = nlohmann::json::array();
};

CRUCIBLE_REGISTER_COMMAND(50, [](CLI::App& app, Globals& g, Action& action) {
  auto a = std::make_shared<DemoArgs>();
  auto* cmd = app.add_subcommand(
      "demo", "The R1 pipeline in miniature on this CPU: models from scratch, SFT, GRPO, distillation, evals, report");
  cmd->add_option("--out", a->out, "output folder: data, models, logs, commands.sh, report.md, report.html")
      ->capture_default_str();
  cmd->add_option("--db", a->db, "SQLite store (default: OUT/demo.db; must not exist yet)");
  cmd->add_option("--seed", a->seed, "seed of the data split, the weights, the data order and every sample")
      ->capture_default_str();
  cmd->add_flag("--quick", a->quick, "the CI smoke variant (fewer steps, 100 test problems)");
  cmd->add_option("--threads", a->threads, "torch threads of every stage (1: the same numbers on any machine)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--nproc-per-node", a->nproc,
                  "data-parallel ranks of every training stage (train sft, train grpo, distill sft) on this node")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->callback([&g, &action, a] {
    action = [&g, a] {
      Demo demo(*a, a->quick ? quick_plan() : full_plan(), g.json);
      return demo.main();
    };
  });
});

}  // namespace
}  // namespace crucible::cli
