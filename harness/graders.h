// The graders a suite uses, wrapping the verifiers: math (extraction order per suite, R1's open <think>),
// multiple choice (per-question, per-sample option shuffle; option-text fallback in the order shown), and code
// (the sandbox, with the suite's tests). Each is thread-safe and stamps its version on every outcome.
#pragma once
#include <memory>

#include "harness/grader.h"
#include "harness/protocol.h"

namespace crucible::harness {

struct CodeLimits {
  double time_limit_s = 6.0;  // CPU seconds per test
  int64_t memory_mb = 1024;
};
// Stored with every eval run (config "code_limits") so `crucible regrade` runs the code with the run's own limits.
nlohmann::json to_json(const CodeLimits& limits);
// InputError naming `where` and the field.
CodeLimits code_limits_from_json(const nlohmann::json& j, const std::string& where);

std::shared_ptr<Grader> make_grader(const SuiteInfo& suite, const EvalConfig& config, const CodeLimits& limits = {});

// LeetCode-style problems: the method name from `class Solution:\n    def name(self, …)` starter code.
std::string function_name_from_starter(const std::string& starter_code);

}  // namespace crucible::harness
