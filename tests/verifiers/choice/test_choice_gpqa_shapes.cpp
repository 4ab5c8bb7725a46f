// `grade choice` on GPQA-shaped responses: four options shuffled per question, a science question answered by a
// reasoning model in every format models use (Answer: C, (C), \boxed{C}, **C**, "The answer is C.", lower case, the
// option's text instead of its letter, several letters mentioned, think blocks). The questions and options are
// written for this test (no GPQA text: that set stays confidential). Each case states the letter the response
// chose, read by a person, and the verdict it must get.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"
#include "verifiers/choice/choice_verifier.h"

using namespace crucible::verifiers;

namespace {

// A made-up question's options in the order shown (the shuffle has already happened).
const std::vector<std::string> kHalfLife = {"2 hours", "4 hours", "8 hours", "16 hours"};
const std::vector<std::string> kEnergy = {"0.5 eV", "1.5 eV", "3.0 eV", "4.5 eV"};
const std::vector<std::string> kGene = {"a frameshift mutation", "a silent mutation", "a nonsense mutation",
                                        "a missense mutation"};
const std::vector<std::string> kRatio = {"\\frac{1}{4}", "\\frac{1}{2}", "2", "4"};
const std::vector<std::string> kLength = {"1.5 m", "15 m", "150 m", "0.15 m"};

struct Case {
  const char* what;
  std::string response;
  char gold;
  ChoiceOutcome outcome;
  char extracted;  // 0: none
  const std::vector<std::string>* options = nullptr;
};

std::string reasoning() {
  return "A sample decays to one quarter of its activity in 8 hours. One quarter is two halvings, so each half-life "
         "is 8 / 2 = 4 hours. Option A would need four halvings and option C only one.";
}

std::vector<Case> cases() {
  const std::string r = reasoning();
  return {
      {"Answer: line", r + "\n\nAnswer: B", 'B', ChoiceOutcome::correct, 'B'},
      {"Answer: line, wrong", r + "\n\nAnswer: C", 'B', ChoiceOutcome::wrong, 'C'},
      {"bold Answer label", r + "\n\n**Answer:** B", 'B', ChoiceOutcome::correct, 'B'},
      {"bold whole line", r + "\n\n**Answer: B**", 'B', ChoiceOutcome::correct, 'B'},
      {"Answer: (B)", r + "\nAnswer: (B)", 'B', ChoiceOutcome::correct, 'B'},
      {"Answer: $B$", r + "\nAnswer: $B$", 'B', ChoiceOutcome::correct, 'B'},
      {"Answer: B) with the option text", r + "\nAnswer: B) 4 hours", 'B', ChoiceOutcome::correct, 'B'},
      {"Answer: option B", r + "\nAnswer: Option B", 'B', ChoiceOutcome::correct, 'B'},
      {"ANSWER in capitals", r + "\nANSWER: B", 'B', ChoiceOutcome::correct, 'B'},
      {"lower-case letter after Answer:", r + "\nanswer: b", 'B', ChoiceOutcome::correct, 'B'},
      {"parenthesised letter only", r + " So the half-life matches (B).", 'B', ChoiceOutcome::correct, 'B'},
      {"boxed letter", r + " Therefore the answer is $\\boxed{B}$.", 'B', ChoiceOutcome::correct, 'B'},
      {"boxed text letter", r + " Hence $\\boxed{\\text{B}}$.", 'B', ChoiceOutcome::correct, 'B'},
      {"boxed (B)", r + " Hence $\\boxed{(B)}$.", 'B', ChoiceOutcome::correct, 'B'},
      {"boxed letter, wrong", r + " Therefore the answer is $\\boxed{D}$.", 'B', ChoiceOutcome::wrong, 'D'},
      {"bold letter at the end", r + "\n\n**B**", 'B', ChoiceOutcome::correct, 'B'},
      {"the answer is B.", r + " The answer is B.", 'B', ChoiceOutcome::correct, 'B'},
      {"the correct answer is (B)", r + " The correct answer is (B).", 'B', ChoiceOutcome::correct, 'B'},
      {"the correct option is **B**", r + " The correct option is **B**.", 'B', ChoiceOutcome::correct, 'B'},
      {"the answer is b, lower case", r + " so the answer is b.", 'B', ChoiceOutcome::correct, 'B'},
      {"I choose option B", r + " I choose option B.", 'B', ChoiceOutcome::correct, 'B'},
      {"bare letter response", "B", 'B', ChoiceOutcome::correct, 'B'},
      {"bare letter with a full stop", "B.", 'B', ChoiceOutcome::correct, 'B'},
      {"several letters, final choice last", r + " (A) and (C) are ruled out, so the answer is (B).", 'B',
       ChoiceOutcome::correct, 'B'},
      {"several letters, final choice wrong", r + " (B) looks close, but the answer is (D).", 'B', ChoiceOutcome::wrong,
       'D'},
      {"Answer: line wins over earlier mentions", "Options (A), (C) and (D) fail the check.\nAnswer: B", 'B',
       ChoiceOutcome::correct, 'B'},
      {"the last Answer: line counts", "Answer: A\nOn reflection that halves once too often.\nAnswer: B", 'B',
       ChoiceOutcome::correct, 'B'},
      {"think then answer", "<think>\n" + r + " Maybe (A)? No.\n</think>\n\nAnswer: B", 'B', ChoiceOutcome::correct,
       'B'},
      {"answer only inside the think block", "<think>\n" + r + "\nAnswer: B\n</think>\n\n", 'B',
       ChoiceOutcome::unparsed, 0},
      {"think never closed", "<think>\n" + r + "\nAnswer: B", 'B', ChoiceOutcome::unfinished, 0},
      {"think answer differs from final", "<think>\nAnswer: A, surely.\n</think>\nAnswer: B", 'B',
       ChoiceOutcome::correct, 'B'},
      {"no choice at all", r + " I cannot decide between the options.", 'B', ChoiceOutcome::unparsed, 0},
      {"a letter inside a word is not a choice", "Based on the data, a decay constant follows.", 'B',
       ChoiceOutcome::unparsed, 0},
      {"letter beyond the options", r + "\nAnswer: E", 'B', ChoiceOutcome::unparsed, 0},
      {"option text on an Answer: line", r + "\nAnswer: 4 hours", 'B', ChoiceOutcome::correct, 'B', &kHalfLife},
      {"option text, wrong", r + "\nAnswer: 8 hours", 'B', ChoiceOutcome::wrong, 'C', &kHalfLife},
      {"option text boxed", r + " So $\\boxed{4 \\text{ hours}}$.", 'B', ChoiceOutcome::correct, 'B', &kHalfLife},
      {"option text, energies", "The photon carries 1.5 eV.\nFinal answer: 1.5 eV", 'B', ChoiceOutcome::correct, 'B',
       &kEnergy},
      {"option text, words", "A premature stop codon is introduced.\nAnswer: a nonsense mutation", 'C',
       ChoiceOutcome::correct, 'C', &kGene},
      {"option value in another form", "The ratio is 0.5.\nAnswer: 1/2", 'B', ChoiceOutcome::correct, 'B', &kRatio},
      {"value matching no option", "The ratio is 3.\nAnswer: 3", 'B', ChoiceOutcome::unparsed, 0, &kRatio},
      {"option text with a decimal point", "Ten times the 1.5 m rod.\nAnswer: 15 m", 'B', ChoiceOutcome::correct, 'B',
       &kLength},
      {"option text, the other decimal", "The rod itself.\nAnswer: 1.5 m", 'B', ChoiceOutcome::wrong, 'A', &kLength},
      // Hedges: offering two choices as the answer is no single choice (it would otherwise collect the credit of
      // whichever letter comes first).
      {"hedge: A or B", r + "\nAnswer: A or B", 'A', ChoiceOutcome::unparsed, 0},
      {"hedge: B, C", r + "\nAnswer: B, C", 'B', ChoiceOutcome::unparsed, 0},
      {"hedge: (B) and (D)", r + " The answer is (B) and (D).", 'B', ChoiceOutcome::unparsed, 0},
      {"hedge: B/C in bold", r + "\n**Answer:** **B**/**C**", 'B', ChoiceOutcome::unparsed, 0},
      {"not a hedge: a lower-case word after the comma", r + "\nAnswer: B, a result of two halvings", 'B',
       ChoiceOutcome::correct, 'B'},
      {"not a hedge: the next sentence starts with a letter", r + "\nAnswer: B. A would need four halvings.", 'B',
       ChoiceOutcome::correct, 'B'},
      {"not a hedge: 'and not'", r + " The answer is B and not C.", 'B', ChoiceOutcome::correct, 'B'},
  };
}

}  // namespace

TEST(ChoiceGpqaShapes, EveryFormatGetsItsVerdict) {
  int n = 0;
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.what);
    auto v = grade_choice(c.response, c.gold, c.options ? *c.options : std::vector<std::string>{});
    EXPECT_EQ(choice_outcome_name(v.outcome), choice_outcome_name(c.outcome));
    EXPECT_EQ(v.extracted.value_or(0), c.extracted);
    EXPECT_EQ(v.correct, c.outcome == ChoiceOutcome::correct);
    ++n;
  }
  EXPECT_GE(n, 40);
}

TEST(ChoiceGpqaShapes, R1PromptEndingInThink) {
  // The prompt ended with "<think>\n": the response has only the closing tag.
  ChoiceGradeOptions o;
  o.assume_think_open = true;
  EXPECT_EQ(grade_choice(reasoning() + "\n</think>\nAnswer: B", 'B', {}, o).outcome, ChoiceOutcome::correct);
  EXPECT_EQ(grade_choice(reasoning() + "\nAnswer: B", 'B', {}, o).outcome, ChoiceOutcome::unfinished);
  o.grade_unfinished = true;  // a caller may still grade the reasoning of an unfinished response
  EXPECT_EQ(grade_choice(reasoning() + "\nAnswer: B", 'B', {}, o).outcome, ChoiceOutcome::correct);
}

TEST(ChoiceGpqaShapes, CliGradesTheSameCases) {
  // Through `crucible grade choice` as a user runs it: the same verdicts, in input order.
  std::string input;
  std::vector<Case> cs = cases();
  for (const auto& c : cs) {
    nlohmann::json rec = {{"response", c.response}, {"gold", std::string(1, c.gold)}};
    if (c.options) rec["options"] = *c.options;
    input += rec.dump() + "\n";
  }
  auto r = crucible::testing::run_command({crucible::testing::crucible_binary(), "grade", "choice", "--workers", "2"},
                                          input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ASSERT_LT(i, cs.size());
    auto out = nlohmann::json::parse(line);
    SCOPED_TRACE(cs[i].what);
    EXPECT_EQ(out["reason"], std::string(choice_outcome_name(cs[i].outcome)));
    EXPECT_EQ(out["correct"], cs[i].outcome == ChoiceOutcome::correct);
    ++i;
  }
  EXPECT_EQ(i, cs.size());
}
