// crucible data gen arith — write the generated task family's splits and SFT files into the data dir (harness/arith.h).
#include <fmt/format.h>

#include <memory>

#include "apps/cli.h"
#include "harness/arith.h"
#include "harness/suite.h"

namespace crucible::cli {
namespace {

struct GenArgs {
  std::optional<std::string> data_dir;
  harness::ArithSpec spec;
};

int run_gen(const Globals& g, const GenArgs& a) {
  const std::string dir = harness::resolve_data_dir(a.data_dir);
  auto splits = harness::generate_arith(a.spec);
  harness::write_arith(splits, a.spec, dir);
  const std::string where = dir + "/arith";
  if (g.json) {
    print_json(nlohmann::json{{"data_dir", dir},
                              {"seed", a.spec.seed},
                              {"train", splits.train.size()},
                              {"test", splits.test.size()},
                              {"files", {where + "/train.jsonl", where + "/test.jsonl", where + "/sft_reasoning.jsonl",
                                         where + "/sft_answer.jsonl"}}}
                   .dump(2));
  } else {
    fmt::print("arith: {} train, {} test problems (seed {}) in {}/ (suites arith_train, arith; SFT files "
               "sft_reasoning.jsonl, sft_answer.jsonl)\n",
               splits.train.size(), splits.test.size(), a.spec.seed, where);
  }
  return 0;
}

CRUCIBLE_REGISTER_COMMAND(251, [](CLI::App& app, Globals& g, Action& action) {
  auto* data = subcommand(app, "data", "Benchmark data: fetch the suites' public copies");
  auto* gen = data->add_subcommand("gen", "Generate a task family into the data dir");
  gen->require_subcommand(1);
  auto a = std::make_shared<GenArgs>();
  auto* arith = gen->add_subcommand(
      "arith", "Integer chains (Compute 7+5-3.) with the solver's worked <think> solutions: suites arith (test) and "
               "arith_train, disjoint, the same files for the same seed");
  arith->add_option("--data-dir", a->data_dir, "where to write (default: $CRUCIBLE_DATA or ~/.cache/crucible/data)");
  arith->add_option("--seed", a->spec.seed, "shuffle seed of the split")->capture_default_str();
  arith->add_option("--ops", a->spec.ops, "operations per problem (1-4)")->capture_default_str();
  arith->add_option("--max-operand", a->spec.max_operand, "operands are 1..N")->capture_default_str();
  arith->add_option("--test-size", a->spec.test_size, "problems in the test split")->capture_default_str();
  arith->callback([&g, &action, a] { action = [&g, a] { return run_gen(g, *a); }; });
});

}  // namespace
}  // namespace crucible::cli
