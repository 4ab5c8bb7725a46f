// Unit cases for the math grader: extraction rules and their order, outcomes, the time budget on pathological input,
// and thread safety (GiNaC is shared process state).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "verifiers/math/math_verifier.h"

using namespace crucible::verifiers;

namespace {

std::string extract(std::string_view text, std::vector<ExtractRule> rules = MathGradeOptions::math().rules) {
  auto e = extract_answer(text, rules);
  return e ? e->text : "<none>";
}

}  // namespace

TEST(MathExtract, LastBoxedWithNestedBraces) {
  EXPECT_EQ(extract(R"(first \boxed{1} then \boxed{\frac{1}{\sqrt{2}}} done)"), R"(\frac{1}{\sqrt{2}})");
  EXPECT_EQ(extract(R"(\fbox{7})"), "7");
  EXPECT_EQ(extract(R"(\boxed{\{1,2\}})"), R"(\{1,2\})");
  EXPECT_EQ(extract(R"(\boxed{3} and a broken \boxed{4)"), "3");
  EXPECT_EQ(extract(R"(\boxed 5 apples)"), "5");
}

TEST(MathExtract, PhrasesLinesBoldAndFallbacks) {
  EXPECT_EQ(extract("The final answer is $\\frac{3}{4}$. I hope it is correct."), "\\frac{3}{4}");
  EXPECT_EQ(extract("so the answer is 3.5."), "3.5");
  EXPECT_EQ(extract("work\nAnswer: 42\n"), "42");
  EXPECT_EQ(extract("work\n**Answer:** $x = 2$"), "x = 2");
  EXPECT_EQ(extract("it is **17** in total"), "17");
  std::vector<ExtractRule> markers{ExtractRule::boxed, ExtractRule::final_answer, ExtractRule::answer_line,
                                   ExtractRule::bold};
  EXPECT_EQ(extract("no marker, just 12 and 13", markers), "<none>");
  // The default chain ends on the last number, or on the numbers listed together at the end.
  EXPECT_EQ(extract("no marker, the total is 13."), "13");
  EXPECT_EQ(extract("no marker, just 12 and 13"), "12, 13");
  EXPECT_EQ(extract("no marker, just 12 then 1,300.", MathGradeOptions::gsm8k().rules), "1300");
  EXPECT_EQ(extract("calc\n#### 72", MathGradeOptions::gsm8k().rules), "72");
  // The answer phrase that holds a box yields the box's content.
  EXPECT_EQ(extract("the answer is $\\boxed{9}$", {ExtractRule::final_answer}), "9");
}

TEST(MathExtract, TheDefaultChainReadsUnmarkedAnswers) {
  EXPECT_EQ(extract("-12"), "-12");
  EXPECT_EQ(extract(".25"), ".25");
  EXPECT_EQ(extract("2 500"), "2 500");
  EXPECT_EQ(extract("1,250.50$"), "1,250.50$");
  EXPECT_EQ(extract("Solving gives\n$$\nx = \\frac{3}{2}\n$$\n"), "x = \\frac{3}{2}");
  EXPECT_EQ(extract(R"(\[\begin{aligned} S &= 1 + 2 \\ &= 3 \end{aligned}\])"), "3");
  EXPECT_EQ(extract("The area is \\(\\frac{9}{2}\\)."), "\\frac{9}{2}");
  // A display computed earlier, an inline answer after it: the later one.
  EXPECT_EQ(extract("$$2x = 10$$ so $x = 5$."), "x = 5");
  // Currency dollars are not math; the last number of the prose is the answer.
  EXPECT_EQ(extract("She pays $5 for apples and $7 for pears, so $12 in all."), "12");
  // The result of the last computation, not the distractor after it.
  EXPECT_EQ(extract("In total 9 + 6 = 15 liters of water out of the 24 liters."), "15");
  EXPECT_EQ(extract("Final Answer: The final answer is $2.5$. I hope it is correct."), "2.5");
  EXPECT_EQ(extract("**Final Answer**\n\n$\\frac{1}{2}$"), "\\frac{1}{2}");
}

TEST(MathExtract, BoxesWrittenTogetherAreOneAnswer) {
  EXPECT_EQ(extract("So $x = \\boxed{2}$ or $x = \\boxed{3}$."), "2; 3");
  EXPECT_EQ(extract("\\boxed{7} \\boxed{7}"), "7");
  // Work and answer, or a correction: only the last box.
  EXPECT_EQ(extract("For part one $\\boxed{4}$.\n\nSo the answer is $\\boxed{9}$."), "9");
  EXPECT_EQ(extract("First \\boxed{10}, corrected: \\boxed{12}"), "12");
  EXPECT_FALSE(grade_math("\\boxed{1}\\boxed{2}\\boxed{3}", "2").correct);
  EXPECT_TRUE(grade_math("The roots are \\boxed{-1} and \\boxed{1}.", "\\pm 1").correct);
  EXPECT_TRUE(grade_math("Hence $\\boxed{m = 3}$ and $\\boxed{n = 8}$.", "(3, 8)").correct);
  EXPECT_FALSE(grade_math("Hence $\\boxed{m = 3}$ and $\\boxed{n = 8}$.", "(8, 3)").correct);
}

TEST(MathExtract, HeadingsAreNotAnswersAndCutResponsesAreUnfinished) {
  std::string cut =
      "**Step 1: Find the cost of the apples**\nJohn buys 5 apples at $2 each, so 5 x 2 = 10 dollars.\n\n"
      "**Step 2: Find the cost of the pears**\nHe buys 4 pears at $3 each, so 4 x 3 = 12 dollars.\n\n"
      "**Step 3: Compare the profits of the two stalls**\nThe first stall earns 10 dollars and the second";
  MathVerdict v = grade_math(cut, "10");
  EXPECT_EQ(v.outcome, MathOutcome::unfinished) << v.reason;
  EXPECT_FALSE(v.correct);
  // The same text, finished: the heading is skipped, the bold answer is read.
  MathVerdict done = grade_math("**Step 1: Add**\n3 + 4 = 7.\n\n**7**", "7");
  EXPECT_TRUE(done.correct) << done.reason;
  EXPECT_EQ(done.rule, ExtractRule::bold);
  // finish_reason "length": only a marker counts.
  MathGradeOptions length_cut;
  length_cut.cut_by_length = true;
  EXPECT_EQ(grade_math("so far we have 3 + 4 = 7", "7", length_cut).outcome, MathOutcome::unfinished);
  EXPECT_TRUE(grade_math("so far \\boxed{7}", "7", length_cut).correct);
  // The span points into the response.
  std::string r = "<think>x</think> The answer is $\\frac{1}{2}$.";
  MathVerdict s = grade_math(r, "0.5");
  ASSERT_TRUE(s.correct);
  EXPECT_EQ(r.substr(s.span_begin, s.span_end - s.span_begin), "$\\frac{1}{2}$");
}

TEST(MathEquivalence, Issue11Policies) {
  // Decimals equal an exact irrational (or repeating) value only under a stated tolerance.
  EXPECT_FALSE(answers_equivalent("1.4142", "\\sqrt2"));
  EXPECT_FALSE(answers_equivalent("9.4248", "3\\pi"));
  EXPECT_FALSE(answers_equivalent("1.41421356237", "\\sqrt2"));
  EXPECT_FALSE(answers_equivalent("0.333", "\\frac13"));
  EXPECT_TRUE(answers_equivalent("2.5\\pi", "\\frac{5\\pi}{2}"));
  MathGradeOptions tolerant;
  tolerant.decimal_tolerance = 1e-4;
  EXPECT_TRUE(answers_equivalent("1.4142", "\\sqrt2", tolerant));
  EXPECT_FALSE(answers_equivalent("1.41", "\\sqrt2", tolerant));
  // Units: different units never equal, a bare number equals a number with a unit.
  EXPECT_FALSE(answers_equivalent("5 \\text{ cm}", "5 \\text{ m}"));
  EXPECT_FALSE(answers_equivalent("5 \\text{ km}", "5000 \\text{ m}"));
  EXPECT_TRUE(answers_equivalent("5 \\text{ meters}", "5\\mathrm{~m}"));
  EXPECT_TRUE(answers_equivalent("5\\text{ cm}", "5"));
  // Labels, chains, ratios, words.
  EXPECT_TRUE(answers_equivalent("(a,b)=(4,1)", "(4,1)"));
  EXPECT_TRUE(answers_equivalent("S_1:S_2 = 2:5", "2:5"));
  EXPECT_TRUE(answers_equivalent("|PQ| = 3", "3"));
  EXPECT_TRUE(answers_equivalent("a=1,b=2;a=3,b=4", "(1,2),(3,4)"));
  EXPECT_TRUE(answers_equivalent("a = 3 + 6 = 9", "9"));
  EXPECT_TRUE(answers_equivalent("x + y + z = 22", "22"));
  EXPECT_FALSE(answers_equivalent("1", "2x + z = 1"));  // a gold equation is not its right side
  EXPECT_TRUE(answers_equivalent("3,5", "3.5"));
  EXPECT_TRUE(answers_equivalent("3^{\\text{rd}}", "3"));
  EXPECT_TRUE(answers_equivalent("2\\text{ thousand}", "2000"));
  EXPECT_TRUE(answers_equivalent("45 percent", "45\\%"));
  // Relations: absolute values and function values as the unknown.
  EXPECT_TRUE(answers_equivalent("1 \\le |t| \\le 3", "[-3,-1] \\cup [1,3]"));
  EXPECT_TRUE(answers_equivalent("-1<g(x)<2", "(-1,2)"));
  EXPECT_TRUE(answers_equivalent("|x| < 2", "(-2, 2)"));
  // Several answers never equal one of them.
  EXPECT_FALSE(answers_equivalent("x = 1 \\text{ or } x = 2 \\text{ or } x = 3", "2"));
  EXPECT_FALSE(answers_equivalent("\\pm 3", "3"));
}

TEST(MathExtract, RuleOrderIsTheSuitesAndTheRuleIsReported) {
  std::string text = "The answer is 5.\n\\boxed{6}";
  auto boxed_first = extract_answer(text, {ExtractRule::boxed, ExtractRule::final_answer});
  ASSERT_TRUE(boxed_first);
  EXPECT_EQ(boxed_first->text, "6");
  EXPECT_EQ(boxed_first->rule, ExtractRule::boxed);
  auto phrase_first = extract_answer(text, {ExtractRule::final_answer, ExtractRule::boxed});
  ASSERT_TRUE(phrase_first);
  EXPECT_EQ(phrase_first->text, "5");
  EXPECT_EQ(rule_name(phrase_first->rule), "final_answer");
  EXPECT_EQ(parse_rule_name("last_number"), ExtractRule::last_number);
  EXPECT_FALSE(parse_rule_name("nope"));
}

TEST(MathGrade, OutcomesCarryTheVersion) {
  MathVerdict ok = grade_math("<think>2+2</think> so $\\boxed{4}$", "4");
  EXPECT_TRUE(ok.correct);
  EXPECT_EQ(ok.outcome, MathOutcome::correct);
  EXPECT_EQ(ok.rule, ExtractRule::boxed);
  EXPECT_EQ(ok.extracted, "4");
  EXPECT_EQ(ok.grader_version, kMathGraderVersion);

  EXPECT_EQ(grade_math("\\boxed{5}", "4").outcome, MathOutcome::wrong);
  EXPECT_EQ(grade_math("I give up", "4").outcome, MathOutcome::unparsed);
  EXPECT_EQ(grade_math("\\boxed{)(}", "4").outcome, MathOutcome::unparsed);
  MathVerdict unfinished = grade_math("<think>so \\boxed{4}", "4");
  EXPECT_EQ(unfinished.outcome, MathOutcome::unfinished);
  EXPECT_FALSE(unfinished.correct);
  MathGradeOptions open;
  open.assume_think_open = true;
  EXPECT_EQ(grade_math("no closing tag \\boxed{4}", "4", open).outcome, MathOutcome::unfinished);
  open.grade_unfinished = true;
  EXPECT_TRUE(grade_math("no closing tag \\boxed{4}", "4", open).correct);
  EXPECT_EQ(grade_math("\\boxed{10^{10^{10}}}", "4").outcome, MathOutcome::timeout);
}

TEST(MathEquivalence, NumbersAndExpressions) {
  EXPECT_TRUE(answers_equivalent("\\frac{1}{2}", "0.5"));
  EXPECT_TRUE(answers_equivalent("1,000", "1000"));
  EXPECT_TRUE(answers_equivalent("10,\\!080", "10080"));
  EXPECT_FALSE(answers_equivalent("\\frac{b}{a}", "\\frac{a}{b}"));
  EXPECT_FALSE(answers_equivalent("3 and 4", "34"));
  EXPECT_TRUE(answers_equivalent("\\text{13}", "13"));
  EXPECT_FALSE(answers_equivalent("1-1/e", "1+1/e"));
  EXPECT_TRUE(answers_equivalent("\\sqrt{8}", "2\\sqrt2"));
  EXPECT_TRUE(answers_equivalent("y = 2x+1", "2x - y + 1 = 0"));
  EXPECT_TRUE(answers_equivalent("x > 3", "(3, \\infty)"));
  EXPECT_FALSE(answers_equivalent("(1,2)", "(2,1)"));
  EXPECT_TRUE(answers_equivalent("\\{1,2\\}", "\\{2,1\\}"));
  EXPECT_TRUE(answers_equivalent("1011_2", "11"));
  // Exact arithmetic: these differ only beyond double precision.
  EXPECT_FALSE(answers_equivalent("2^{100}", "1267650600228229401496703205377"));
  EXPECT_FALSE(answers_equivalent("\\sqrt{10^{20}+1}", "10^{10}"));
  EXPECT_EQ(compare_answers("\\boxed{", "1"), Equivalence::unparsed);
}

TEST(MathBudget, PathologicalInputEndsQuicklyAndNeverEqual) {
  std::vector<std::string> bad = {
      "10^{10^{10}}",          "2^{2^{2^{2^{2}}}}",     "99999!", std::string(100'000, '{'),
      std::string(50'000, '{') + "1" + std::string(50'000, '}'), std::string(100'000, '('),
      std::string(3000, '1') + "^" + std::string(3000, '9'), "\\frac{1}{0}", "0^{-1}", "\\sqrt{-1}^{\\sqrt{-1}}",
      // Found by fuzzing: GiNaC expanded 18^(13^20) (hung); 2999! * 2000! took seconds under ASan.
      "18^{13^{20}+c}", "2999! 2000! .720018", "((10^{500})^{500})^{500}", "e^{10^{500}}", "\\sin(10^{500})"};
  std::string many_sqrt;
  for (int i = 0; i < 5000; ++i) many_sqrt += "\\sqrt{";
  bad.push_back(many_sqrt);
  for (const auto& b : bad) {
    auto t0 = std::chrono::steady_clock::now();
    auto v = grade_math("\\boxed{" + b + "}", "7");
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_FALSE(v.correct) << b.substr(0, 40);
    EXPECT_LT(ms, 1000.0) << b.substr(0, 40);  // 50 ms budget; slack for a loaded shared machine
  }
}

TEST(MathBudget, ExtractionStaysLinearOnHostileResponses) {
  // Each of these once took seconds (a search per box for a command that never came; a check per empty display).
  std::string boxes, dollars(200'000, '$'), prose, headings;
  for (int i = 0; i < 20000; ++i) boxes += "\\boxed{" + std::to_string(i) + "} and ";
  for (int i = 0; i < 20000; ++i) prose += "$" + std::to_string(i) + " for apples and ";
  for (int i = 0; i < 20000; ++i) headings += "**Step " + std::to_string(i) + ": do it** x = $" + std::to_string(i) + "$ ";
  for (const std::string* t : {&boxes, &dollars, &prose, &headings}) {
    auto t0 = std::chrono::steady_clock::now();
    MathVerdict v = grade_math(*t, "7");
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_FALSE(v.correct);
    EXPECT_LT(ms, 2000.0) << t->substr(0, 40);  // ~100 ms here; slack for a loaded shared machine
  }
}

TEST(MathBudget, TheBudgetIsReal) {
  // A legitimate but large comparison: two sets of 45 irrational numbers in different orders.
  std::string a, b;
  for (int i = 1; i <= 45; ++i) {
    a += (i > 1 ? ", " : "") + std::string("\\sqrt{") + std::to_string(i + 1000) + "}";
    b += (i > 1 ? ", " : "") + std::string("\\sqrt{") + std::to_string(1046 - i) + "}";
  }
  MathGradeOptions tight;
  tight.budget = std::chrono::microseconds(200);
  auto t0 = std::chrono::steady_clock::now();
  Equivalence e = compare_answers(a, b, tight);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(e, Equivalence::timeout);
  EXPECT_LT(ms, 250.0);  // 0.2 ms budget; slack for scheduling on a loaded machine
  MathGradeOptions roomy;
  roomy.budget = std::chrono::seconds(5);
  EXPECT_EQ(compare_answers(a, b, roomy), Equivalence::equal);
}

TEST(MathThreads, ManyThreadsAgreeWithOneThread) {
  // Pairs that reach GiNaC (symbolic, irrational) and pairs that do not, graded on 8 threads at once; every thread
  // must reproduce the single-threaded verdicts exactly, many times over.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}"}, {"\\sin^2 x + \\cos^2 x", "1"}, {"x^2-1", "(x-1)(x+1)"},
      {"\\sqrt{10^{20}+1}", "10^{10}"},              {"1-1/e", "1+1/e"},             {"\\frac{1}{2}", "0.5"},
      {"e^{i\\pi}", "-1"},                            {"y=2x+1", "2y=4x+2"},          {"(1,2]", "1 < x \\le 2"},
      {"\\frac{\\sqrt{3}}{2}", "\\sin 60^\\circ"},   {"\\log 6", "\\log 2+\\log 3"}, {"x^3+y^3", "(x-y)(x^2+xy+y^2)"}};
  MathGradeOptions o;
  o.budget = std::chrono::seconds(2);  // a loaded machine must not turn verdicts into timeouts here
  std::vector<Equivalence> expected;
  for (const auto& [a, b] : pairs) expected.push_back(compare_answers(a, b, o));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 40; ++round) {
        for (size_t i = 0; i < pairs.size(); ++i) {
          size_t k = (i + static_cast<size_t>(t) + static_cast<size_t>(round)) % pairs.size();
          if (compare_answers(pairs[k].first, pairs[k].second, o) != expected[k]) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(expected[0], Equivalence::equal);
  EXPECT_EQ(expected[3], Equivalence::different);
  EXPECT_EQ(expected[4], Equivalence::different);
}
