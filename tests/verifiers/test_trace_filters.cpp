// The text checks of the distillation funnel on crafted traces: mixed scripts, loops, near-duplicates, n-gram overlap.
#include "verifiers/trace_filters.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace crucible::verifiers {
namespace {

TEST(TraceFilters, UnitsSplitWordsAndCjkCharacters) {
  auto u = text_units("Hello, World 42! 你好x²");
  ASSERT_EQ(u.size(), 6u);
  EXPECT_EQ(u[0].text, "hello");
  EXPECT_EQ(u[0].script, Script::latin);
  EXPECT_EQ(u[1].text, "world");
  EXPECT_TRUE(u[2].numeric);
  EXPECT_EQ(u[3].text, "你");
  EXPECT_EQ(u[3].script, Script::cjk);
  EXPECT_EQ(u[4].text, "好");
  EXPECT_EQ(u[5].text, "x");  // ² is a symbol, a separator
}

TEST(TraceFilters, DominantScriptIgnoresNumbersAndGreek) {
  EXPECT_EQ(dominant_script("What is 2 + 3? Let α = 5."), Script::latin);
  EXPECT_EQ(dominant_script("小明有三个苹果，又买了两个。他现在有几个? x"), Script::cjk);
  EXPECT_EQ(dominant_script("Сколько будет два плюс три?"), Script::cyrillic);
  EXPECT_EQ(dominant_script("12 + 30 = 42"), Script::other);
}

TEST(TraceFilters, ScriptMixShareOfAMixedReasoning) {
  // An English prompt, a reasoning that drifts into Chinese for 7 of its 17 lettered units.
  const std::string clean = "First add the two numbers, then check the sum: 2 + 3 = 5 with π kept.";
  const std::string mixed = "First add the two numbers 然后检查一下和 then check it again now";
  EXPECT_DOUBLE_EQ(script_mix_share(clean, Script::latin), 0.0);
  EXPECT_NEAR(script_mix_share(mixed, Script::latin), 7.0 / 17.0, 1e-12);
  // Seen from the other side: the Chinese units are the expected ones.
  EXPECT_NEAR(script_mix_share(mixed, Script::cjk), 10.0 / 17.0, 1e-12);
  EXPECT_DOUBLE_EQ(script_mix_share("1 + 2 = 3", Script::latin), 0.0);
}

TEST(TraceFilters, RepeatRatioSeparatesLoopsFromProse) {
  const std::string prose =
      "To find the sum we add the first number to the second one and get five, which we then compare with the "
      "expected result of the problem statement before writing the final answer in a box.";
  std::string loop = "So the answer is 5. Wait, let me check again. ";
  for (int i = 0; i < 5; ++i) loop += loop;  // 32 copies
  EXPECT_DOUBLE_EQ(ngram_repeat_ratio(prose, 4), 0.0);
  EXPECT_GT(ngram_repeat_ratio(loop, 4), 0.9);
  // Exact value on a tiny case: units a b a b a b, bigrams ab ba ab ba ab -> 2 distinct of 5.
  EXPECT_NEAR(ngram_repeat_ratio("a b a b a b", 2), 1.0 - 2.0 / 5.0, 1e-12);
  EXPECT_DOUBLE_EQ(ngram_repeat_ratio("too short", 4), 0.0);
}

TEST(TraceFilters, MinHashFindsNearDuplicatesOnly) {
  const std::string a =
      "We need the number of apples. Tom has three apples and buys four more, so he has three plus four which is "
      "seven apples in total. The answer is 7.";
  // The same trace with one word changed and different punctuation and case: a near-duplicate.
  const std::string b =
      "We need the number of apples: Tom has three apples and buys four more, so he has three plus four which is "
      "seven apples in all. the answer is 7";
  const std::string c =
      "Let x be the side of the square. Its area is x squared, and the perimeter is four x; setting them equal "
      "gives x equal to four, so the side is 4.";
  auto sa = minhash_signature(a, 3, 128), sb = minhash_signature(b, 3, 128), sc = minhash_signature(c, 3, 128);
  EXPECT_GT(minhash_similarity(sa, sb), 0.7);
  EXPECT_LT(minhash_similarity(sa, sc), 0.1);
  EXPECT_DOUBLE_EQ(minhash_similarity(sa, minhash_signature(a, 3, 128)), 1.0);
  EXPECT_EQ(normalized_units("The answer is 7."), normalized_units("the  answer, is 7"));
}

TEST(TraceFilters, NgramHashesOverlapOnSharedText) {
  const std::string bench = "Find the number of ordered pairs of positive integers whose product equals one hundred exactly";
  const std::string trace = "Okay. find the Number of ordered pairs of positive integers whose product equals one "
                            "hundred exactly, and then add";
  auto hb = ngram_hashes(bench, 13), ht = ngram_hashes(trace, 13);
  ASSERT_EQ(hb.size(), 3u);  // 15 units
  int shared = 0;
  for (auto h : ht) shared += std::count(hb.begin(), hb.end(), h) > 0;
  EXPECT_EQ(shared, 3);
  EXPECT_TRUE(ngram_hashes("only a few words", 13).empty());
}

}  // namespace
}  // namespace crucible::verifiers
