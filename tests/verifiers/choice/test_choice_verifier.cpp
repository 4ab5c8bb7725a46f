#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "verifiers/choice/choice_verifier.h"

using namespace crucible::verifiers;

namespace {

std::string letter(std::string_view text, const std::vector<std::string>& options = {}) {
  auto e = extract_choice(text, 4, options);
  return e ? std::string(1, e->letter) : "-";
}

ChoiceRule rule(std::string_view text) {
  auto e = extract_choice(text, 4);
  return e ? e->rule : ChoiceRule::none;
}

}  // namespace

TEST(ChoiceExtract, SimpleEvalsAnswerLine) {
  EXPECT_EQ(letter("reasoning...\nAnswer: C"), "C");
  EXPECT_EQ(letter("Answer: $B$"), "B");
  EXPECT_EQ(letter("**Answer:** (D)"), "D");
  EXPECT_EQ(letter("Answer: A is wrong, so...\nAnswer: B"), "B");  // the last one
  EXPECT_EQ(rule("Answer: C"), ChoiceRule::answer_colon);
  EXPECT_EQ(letter("Answer: E"), "-");  // only A-D with 4 options
}

TEST(ChoiceExtract, BoxedPhrasesParenthesesAndBareLetters) {
  EXPECT_EQ(letter("so \\boxed{C}"), "C");
  EXPECT_EQ(letter("so \\boxed{\\text{(B)}}"), "B");
  EXPECT_EQ(rule("so \\boxed{C}"), ChoiceRule::boxed);
  EXPECT_EQ(letter("Therefore, the answer is (A)."), "A");
  EXPECT_EQ(letter("The correct option is **D**"), "D");
  EXPECT_EQ(rule("The correct option is **D**"), ChoiceRule::answer_is);
  EXPECT_EQ(letter("I compared (A) and (B); (B) fits."), "B");
  EXPECT_EQ(rule("I compared (A) and (B); (B) fits."), ChoiceRule::parenthesized);
  EXPECT_EQ(letter("C"), "C");
  EXPECT_EQ(letter("**B**."), "B");
  EXPECT_EQ(letter("The answer is a prime number"), "-");  // lower-case 'a' in prose is not a choice
  EXPECT_EQ(letter("Absolutely certain."), "-");
}

TEST(ChoiceExtract, OptionTextFallbackIsMathAware) {
  std::vector<std::string> opts = {"1/3", "0.5", "2", "\\pi"};
  EXPECT_EQ(letter("the value is \\boxed{\\frac{1}{2}}", opts), "B");
  EXPECT_EQ(letter("Final answer: \\pi", opts), "D");
  EXPECT_EQ(letter("the value is \\boxed{7}", opts), "-");
}

TEST(ChoiceGrade, VerdictsAndUnfinished) {
  auto v = grade_choice("<think>hmm</think>Answer: B", 'B');
  EXPECT_TRUE(v.correct);
  EXPECT_EQ(v.outcome, ChoiceOutcome::correct);
  EXPECT_EQ(v.extracted, 'B');
  EXPECT_EQ(v.grader_version, kChoiceGraderVersion);
  EXPECT_EQ(grade_choice("Answer: C", 'b').outcome, ChoiceOutcome::wrong);
  EXPECT_EQ(grade_choice("<think>Answer: B", 'B').outcome, ChoiceOutcome::unfinished);
  EXPECT_EQ(grade_choice("<think>x</think>Answer: A</think>no answer here", 'A').outcome, ChoiceOutcome::unparsed);
}

TEST(ChoicePermutation, DeterministicPerQuestionAndRepeat) {
  auto p = choice_permutation("rec123", 0, 4);
  EXPECT_EQ(p, choice_permutation("rec123", 0, 4));
  std::set<int> seen(p.begin(), p.end());
  EXPECT_EQ(seen.size(), 4u);
  // Different questions and different repeats get different orders (not one permutation for all: Evalchemy #155).
  std::set<std::vector<int>> orders;
  for (int q = 0; q < 50; ++q) orders.insert(choice_permutation("q" + std::to_string(q), 0, 4));
  EXPECT_GT(orders.size(), 15u);
  std::set<std::vector<int>> repeats;
  for (int r = 0; r < 50; ++r) repeats.insert(choice_permutation("rec123", r, 4));
  EXPECT_GT(repeats.size(), 15u);
  // Pinned values: the shuffle must not change between versions or machines (it is part of a run's identity).
  EXPECT_EQ(choice_permutation("gpqa/0", 0, 4), (std::vector<int>{2, 1, 0, 3}));
  EXPECT_EQ(choice_permutation("gpqa/1", 0, 4), (std::vector<int>{2, 3, 1, 0}));
  EXPECT_EQ(choice_permutation("gpqa/1", 1, 4), (std::vector<int>{0, 2, 1, 3}));
}

TEST(ChoicePermutation, GoldPositionIsUniform) {
  // Where the original option 0 (the gold, as GPQA lists it) lands, over 8000 questions: each of the 4 positions
  // about 2000 times. Chi-square with 3 degrees of freedom; 16.3 is the 0.1% critical value.
  std::map<int, int> where;
  const int n = 8000;
  for (int q = 0; q < n; ++q) {
    auto p = choice_permutation("question-" + std::to_string(q), 0, 4);
    for (int pos = 0; pos < 4; ++pos)
      if (p[static_cast<size_t>(pos)] == 0) ++where[pos];
  }
  double chi2 = 0;
  for (int pos = 0; pos < 4; ++pos) {
    double d = where[pos] - n / 4.0;
    chi2 += d * d / (n / 4.0);
  }
  EXPECT_LT(chi2, 16.3);
}
