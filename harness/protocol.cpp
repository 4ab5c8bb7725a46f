#include "harness/protocol.h"

#include <fmt/format.h>

#include "core/error.h"

namespace crucible::harness {

namespace {

const char* const kMathSuffix = "Please reason step by step, and put your final answer within \\boxed{}.";

// openai/simple-evals gpqa_eval.py QUERY_TEMPLATE_MULTICHOICE.
const char* const kGpqaTemplate =
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by step before answering.\n\n"
    "{}\n\nA) {}\nB) {}\nC) {}\nD) {}";

// LiveCodeBench lcb_runner prompts (code_generation.py).
const char* const kLcbSystem =
    "You are an expert Python programmer. You will be given a question (problem specification) and will generate a "
    "correct Python program that matches the specification and passes all tests.";
const char* const kLcbStarter =
    "### Format: You will use the following starter code to write the solution to the problem and enclose your code "
    "within delimiters.\n```python\n{}\n```\n\n";
const char* const kLcbStdin =
    "### Format: Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on "
    "the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it "
    "reads the inputs, runs the algorithm and writes output to STDOUT.\n```python\n# YOUR CODE HERE\n```\n\n";

std::string default_style(const SuiteInfo& suite) {
  if (suite.name == "gpqa_diamond") return "simple-evals";
  if (suite.name == "livecodebench") return "lcb";
  if (suite.name == "humaneval") return "humaneval";
  if (suite.name == "mbpp" || suite.name == "mbpp_train") return "mbpp";
  // The generated arith problems carry their own instruction ("Compute 7+5-3.") and are learned from scratch by
  // byte-level models, for which R1's 70-character suffix would be most of every prompt's tokens.
  if (suite.name == "arith" || suite.name == "arith_train") return "bare";
  return "r1-math";
}

}  // namespace

EvalConfig resolve_config(const std::string& preset, const SuiteInfo& suite, const Overrides& o) {
  EvalConfig c;
  c.preset = preset;
  c.suite = suite.name;
  c.prompt.style = default_style(suite);
  if (preset == "r1") {
    c.sampling.temperature = 0.6;
    c.sampling.top_p = 0.95;
    c.sampling.max_new_tokens = 32768;
    c.sampling.samples = suite.r1_samples;
    c.prompt.assistant_prefix = "<think>\n";
  } else if (preset == "greedy") {
    c.sampling.temperature = 0.0;
    c.sampling.top_p = 1.0;
    c.sampling.max_new_tokens = 32768;
    c.sampling.samples = 1;
    c.prompt.assistant_prefix = "<think>\n";
  } else {
    throw InputError("--preset", "", fmt::format("unknown preset '{}' (r1, greedy)", preset));
  }
  if (c.prompt.style == "lcb") c.prompt.system = kLcbSystem;
  if (o.temperature) c.sampling.temperature = *o.temperature;
  if (o.top_p) c.sampling.top_p = *o.top_p;
  if (o.min_p) c.sampling.min_p = *o.min_p;
  if (o.top_k) c.sampling.top_k = *o.top_k;
  if (o.max_new_tokens) c.sampling.max_new_tokens = *o.max_new_tokens;
  if (o.samples) c.sampling.samples = *o.samples;
  if (o.seed) c.sampling.seed = *o.seed;
  if (o.limit) c.limit = *o.limit;
  if (o.assistant_prefix) c.prompt.assistant_prefix = *o.assistant_prefix;
  if (o.system) c.prompt.system = o.system->empty() ? std::nullopt : std::optional<std::string>(*o.system);
  if (c.sampling.temperature < 0) throw InputError("--temperature", "", "must be >= 0");
  if (c.sampling.top_p <= 0 || c.sampling.top_p > 1) throw InputError("--top-p", "", "must be in (0, 1]");
  if (c.sampling.min_p < 0 || c.sampling.min_p >= 1) throw InputError("--min-p", "", "must be in [0, 1)");
  if (c.sampling.top_k < 0) throw InputError("--top-k", "", "must be >= 0");
  if (c.sampling.max_new_tokens < 1) throw InputError("--max-tokens", "", "must be >= 1");
  if (c.sampling.samples < 1) throw InputError("--samples", "", "must be >= 1");
  if (c.limit < 0) throw InputError("--limit", "", "must be >= 0");
  return c;
}

nlohmann::json to_json(const EvalConfig& c) {
  return {{"preset", c.preset},
          {"suite", c.suite},
          {"limit", c.limit},
          {"sampling",
           {{"temperature", c.sampling.temperature},
            {"top_p", c.sampling.top_p},
            {"top_k", c.sampling.top_k},
            {"min_p", c.sampling.min_p},
            {"max_new_tokens", c.sampling.max_new_tokens},
            {"samples", c.sampling.samples},
            {"seed", c.sampling.seed},
            {"stop", c.sampling.stop}}},
          {"prompt",
           {{"style", c.prompt.style},
            {"system", c.prompt.system ? nlohmann::json(*c.prompt.system) : nlohmann::json(nullptr)},
            {"assistant_prefix", c.prompt.assistant_prefix}}}};
}

EvalConfig eval_config_from_json(const nlohmann::json& j, const std::string& where) {
  try {
    EvalConfig c;
    c.preset = j.at("preset").get<std::string>();
    c.suite = j.at("suite").get<std::string>();
    c.limit = j.value("limit", int64_t(0));
    const auto& s = j.at("sampling");
    c.sampling.temperature = s.at("temperature").get<double>();
    c.sampling.top_p = s.at("top_p").get<double>();
    c.sampling.top_k = s.at("top_k").get<int64_t>();
    c.sampling.min_p = s.at("min_p").get<double>();
    c.sampling.max_new_tokens = s.at("max_new_tokens").get<int64_t>();
    c.sampling.samples = s.at("samples").get<int64_t>();
    c.sampling.seed = s.at("seed").get<uint64_t>();
    c.sampling.stop = s.value("stop", std::vector<std::string>{});
    const auto& p = j.at("prompt");
    c.prompt.style = p.at("style").get<std::string>();
    if (p.contains("system") && p["system"].is_string()) c.prompt.system = p["system"].get<std::string>();
    c.prompt.assistant_prefix = p.at("assistant_prefix").get<std::string>();
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where, "config", std::string("not a crucible eval config: ") + e.what());
  }
}

BuiltPrompt build_prompt(const Problem& problem, const SuiteInfo& suite, const PromptConfig& config,
                         const std::vector<int>& option_order) {
  BuiltPrompt out;
  out.assistant_prefix = config.assistant_prefix;
  if (config.system) out.messages.push_back({"system", *config.system});
  std::string user;
  if (config.style == "r1-math") {
    user = problem.question + "\n" + kMathSuffix;
  } else if (config.style == "bare") {
    user = problem.question;
  } else if (config.style == "simple-evals") {
    const auto& options = problem.meta.at("options");
    std::vector<int> order = option_order;
    if (order.empty())
      for (int i = 0; i < static_cast<int>(options.size()); ++i) order.push_back(i);
    if (order.size() != 4 || options.size() != 4)
      throw InputError(suite.name, "options", "simple-evals prompts need exactly 4 options");
    std::vector<std::string> shown;
    for (int i : order) shown.push_back(options.at(static_cast<size_t>(i)).get<std::string>());
    user = fmt::format(fmt::runtime(kGpqaTemplate), problem.question, shown[0], shown[1], shown[2], shown[3]);
    // Option 0 of the stored order is the correct one.
    for (size_t pos = 0; pos < order.size(); ++pos)
      if (order[pos] == 0) out.gold_letter = std::string(1, static_cast<char>('A' + pos));
    out.option_order = order;
  } else if (config.style == "lcb") {
    std::string starter = problem.meta.value("starter_code", "");
    user = "### Question:\n" + problem.question + "\n\n" +
           (starter.empty() ? std::string(kLcbStdin) : fmt::format(fmt::runtime(kLcbStarter), starter)) +
           "### Answer: (use the provided format with backticks)\n\n";
  } else if (config.style == "humaneval") {
    user = "Complete the following Python function. Return the whole function in a ```python code block.\n\n"
           "```python\n" + problem.question + "```";
  } else if (config.style == "mbpp") {
    std::string tests;
    for (const auto& t : problem.meta.at("test_list")) tests += t.get<std::string>() + "\n";
    user = "You are an expert Python programmer, and here is your task: " + problem.question +
           " Your code should pass these tests:\n\n" + tests +
           "\nWrite the solution in a ```python code block.";
  } else {
    throw InputError("--prompt-style", "", fmt::format("unknown prompt style '{}'", config.style));
  }
  out.messages.push_back({"user", user});
  return out;
}

}  // namespace crucible::harness
