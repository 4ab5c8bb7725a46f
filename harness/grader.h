// The eval loop's view of grading: one outcome per sample, plus the answer equivalence that majority voting
// (cons@k) uses. Implementations wrap the verifiers (math, choice, code); each outcome carries its grader version
// so `crucible regrade` knows what to redo.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/protocol.h"
#include "harness/suite.h"
#include "reports/store.h"

namespace crucible::harness {

struct GradeOutcome {
  bool correct = false;
  std::optional<std::string> extracted;
  std::string verdict;          // correct | wrong | unparsed | unfinished | timeout | <code verdicts>
  std::string grader_version;
  nlohmann::json detail = nlohmann::json::object();
};

// Writes a grading outcome into a stored sample (the eval loop and regrade share this), keeping a choice sample's
// option order beside its verdict so votes and regrades can map letters back to options.
void apply_grade(SampleRecord& sample, const GradeOutcome& outcome, const BuiltPrompt& prompt);

class Grader {
 public:
  virtual ~Grader() = default;
  // Thread-safe: called concurrently from the grading pool. `finish_reason` is the backend's ("stop", "length",
  // "error"; empty when unknown): a math answer cut by the length limit counts only where the model marked it.
  virtual GradeOutcome grade(const Problem& problem, const BuiltPrompt& prompt, const std::string& completion,
                             std::string_view finish_reason) = 0;
  GradeOutcome grade(const Problem& problem, const BuiltPrompt& prompt, const std::string& completion) {
    return grade(problem, prompt, completion, {});
  }
  virtual bool equivalent(const std::string& a, const std::string& b) = 0;
  virtual std::string version() const = 0;
  // Choice suites: the order in which this sample sees the stored options (a deterministic per-question, per-sample
  // shuffle). Empty for other suites.
  virtual std::vector<int> option_order(const Problem& /*problem*/, int64_t /*sample_index*/) { return {}; }
};

}  // namespace crucible::harness
