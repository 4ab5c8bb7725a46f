#include "harness/arith.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <random>

#include "core/error.h"
#include "core/json_io.h"
#include "harness/protocol.h"
#include "harness/suite.h"

namespace crucible::harness {

namespace {

// The space of chains, enumerated in a fixed order (operands, then operators, both as base-n counters).
std::vector<std::string> enumerate_chains(int ops, int max_operand) {
  std::vector<std::string> out;
  const int n_operands = ops + 1;
  int64_t n_numbers = 1, n_signs = int64_t(1) << ops;
  for (int i = 0; i < n_operands; ++i) n_numbers *= max_operand;
  out.reserve(static_cast<size_t>(n_numbers * n_signs));
  for (int64_t a = 0; a < n_numbers; ++a) {
    for (int64_t s = 0; s < n_signs; ++s) {
      std::string e;
      int64_t rest = a;
      for (int i = 0; i < n_operands; ++i) {
        if (i > 0) e += (s >> (i - 1)) & 1 ? '-' : '+';
        e += std::to_string(rest % max_operand + 1);
        rest /= max_operand;
      }
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace

ArithProblem solve_arith(const std::string& expression) {
  auto bad = [&](const std::string& why) {
    return InputError("arith", "expression", fmt::format("'{}': {}", expression, why));
  };
  std::vector<int64_t> operands;
  std::vector<char> signs;
  size_t i = 0;
  while (true) {
    size_t start = i;
    while (i < expression.size() && std::isdigit(static_cast<unsigned char>(expression[i]))) ++i;
    if (i == start || i - start > 9) throw bad("expected a number of 1-9 digits at offset " + std::to_string(start));
    operands.push_back(std::stoll(expression.substr(start, i - start)));
    if (i == expression.size()) break;
    if (expression[i] != '+' && expression[i] != '-') throw bad("expected + or - at offset " + std::to_string(i));
    signs.push_back(expression[i++]);
  }
  if (signs.empty()) throw bad("no operation");
  ArithProblem p;
  p.id = "arith-" + expression;
  p.question = "Compute " + expression + ".";
  int64_t value = operands[0];
  for (size_t k = 0; k < signs.size(); ++k) {
    int64_t next = signs[k] == '+' ? value + operands[k + 1] : value - operands[k + 1];
    p.reasoning += fmt::format("{}{}{}={}\n", value, signs[k], operands[k + 1], next);
    value = next;
  }
  p.answer = std::to_string(value);
  p.solution = p.reasoning + "</think>\n\\boxed{" + p.answer + "}";
  return p;
}

ArithSplits generate_arith(const ArithSpec& spec) {
  if (spec.ops < 1 || spec.ops > 4) throw InputError("arith", "ops", "expected 1..4 operations per problem");
  if (spec.max_operand < 2 || spec.max_operand > 99) throw InputError("arith", "max_operand", "expected 2..99");
  std::vector<std::string> chains = enumerate_chains(spec.ops, spec.max_operand);
  if (spec.test_size < 1 || spec.test_size >= static_cast<int64_t>(chains.size()))
    throw InputError("arith", "test_size",
                     fmt::format("expected 1..{} (the space has {} problems; the rest is the train split)",
                                 chains.size() - 1, chains.size()));
  // std::shuffle's algorithm is the library's, so the permutation is drawn here (Fisher-Yates over mt19937_64's
  // raw output, which the standard fixes) and the files are the same on every platform.
  std::mt19937_64 rng(spec.seed);
  for (size_t k = chains.size() - 1; k > 0; --k) std::swap(chains[k], chains[rng() % (k + 1)]);
  ArithSplits out;
  for (size_t k = 0; k < chains.size(); ++k)
    (static_cast<int64_t>(k) < spec.test_size ? out.test : out.train).push_back(solve_arith(chains[k]));
  return out;
}

void write_arith(const ArithSplits& splits, const ArithSpec& spec, const std::string& data_dir) {
  const std::string dir = data_dir + "/arith";
  std::filesystem::create_directories(dir);
  auto write = [&](const std::vector<ArithProblem>& problems, const char* split) {
    std::string text;
    for (const auto& p : problems)
      text += Json{{"id", p.id},
                   {"question", p.question},
                   {"answer", p.answer},
                   {"reasoning", p.reasoning},
                   {"solution", p.solution},
                   {"split", split},
                   {"seed", spec.seed}}
                  .dump() +
              "\n";
    write_text_file_atomic(dir + "/" + split + ".jsonl", text);
  };
  write(splits.test, "test");
  write(splits.train, "train");

  const SuiteInfo& suite = find_suite("arith_train");
  const EvalConfig r1 = resolve_config("r1", suite, {});
  auto write_sft = [&](const char* name, bool with_reasoning) {
    std::string text;
    for (const auto& a : splits.train) {
      Problem p;
      p.key = a.id;
      p.question = a.question;
      BuiltPrompt prompt = build_prompt(p, suite, r1.prompt);
      const std::string expression = a.id.substr(std::string("arith-").size());
      const std::string reasoning = with_reasoning ? a.reasoning : expression + "\n";
      text += Json{{"prompt", prompt.messages.back().content},
                   {"completion", prompt.assistant_prefix + reasoning + "</think>\n\\boxed{" + a.answer + "}"}}
                  .dump() +
              "\n";
    }
    write_text_file_atomic(dir + "/" + name, text);
  };
  write_sft("sft_reasoning.jsonl", true);
  write_sft("sft_answer.jsonl", false);
}

}  // namespace crucible::harness
