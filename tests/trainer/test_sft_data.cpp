// trainer/sft_data.h: which tokens are learned ({messages} and {prompt, completion} forms), errors that name
// file:line and the field, truncation, the batch plan and row packing. Llama-3's tokenizer from ../shared with a
// ChatML-style template.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "core/error.h"
#include "model/text/chat_template.h"
#include "model/text/tokenizer.h"
#include "tests/support/test_support.h"
#include "trainer/sft_data.h"

namespace crucible::trainer {
namespace {

const char* kChatml =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

struct Fixture {
  std::unique_ptr<text::Tokenizer> tok = text::load_tokenizer(testing::shared_dir() + "/models/tokenizers/llama3");
  text::ChatTemplate tmpl = text::ChatTemplate::parse(kChatml, "test template");
};

std::string write(const testing::TempDir& dir, const std::string& text) {
  static int n = 0;
  std::string p = dir.file("d" + std::to_string(n++) + ".jsonl");
  std::ofstream(p) << text;
  return p;
}

// The learned tokens of an example, decoded span by span.
std::vector<std::string> learned_spans(const SftExample& ex, const text::Tokenizer& tok) {
  std::vector<std::string> spans;
  std::vector<text::TokenId> cur;
  for (size_t t = 0; t <= ex.ids.size(); ++t) {
    if (t < ex.ids.size() && ex.learn[t]) {
      cur.push_back(ex.ids[t]);
    } else if (!cur.empty()) {
      spans.push_back(tok.decode(cur));
      cur.clear();
    }
  }
  return spans;
}

TEST(SftData, LearnsEveryAssistantTurnAndOnlyThem) {
  CRUCIBLE_REQUIRE_SHARED();
  Fixture f;
  testing::TempDir dir;
  auto path = write(dir,
                    R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "And Italy?"}, {"role": "assistant", "content": "Rome."}]})"
                    "\n\n"
                    R"({"prompt": "2+2?", "completion": "4"})"
                    "\n"
                    R"({"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Hello!"}]})"
                    "\n");
  SftDataStats st;
  auto data = load_sft_data(path, *f.tok, &f.tmpl, 512, &st);
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(st.records, 3);
  EXPECT_EQ(learned_spans(data[0], *f.tok), (std::vector<std::string>{"Paris.<|im_end|>\n", "Rome.<|im_end|>\n"}));
  EXPECT_EQ(learned_spans(data[1], *f.tok), (std::vector<std::string>{"4<|im_end|>\n"}));
  EXPECT_EQ(learned_spans(data[2], *f.tok), (std::vector<std::string>{"Hello!<|im_end|>\n"}));
  EXPECT_EQ(data[1].where, path + ":3");
  EXPECT_EQ(f.tok->decode(data[1].ids), "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n");
  int64_t targets = 0;
  for (const auto& ex : data) targets += ex.targets();
  EXPECT_EQ(st.targets, targets);
}

TEST(SftData, BadRecordsNameTheLineAndTheField) {
  CRUCIBLE_REQUIRE_SHARED();
  Fixture f;
  testing::TempDir dir;
  const std::string good = R"({"prompt": "Question:", "completion": " yes"})";
  struct Case {
    std::string line, field;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"text": "x"})", "messages"},
           {R"({"messages": "hello"})", "messages"},
           {R"({"messages": [{"role": "user"}]})", "messages[0].content"},
           {R"({"messages": [{"role": "user", "content": "q"}]})", "no assistant"},
           {R"({"prompt": "q"})", "completion"},
           {R"({"completion": "a"})", "prompt"},
           {R"({"prompt": "q", "completion": [{"role": "assistant", "content": "a"}]})", "completion"},
           {R"({"prompt": 3, "completion": 4})", "prompt"},
           {R"(not json)", ":2"},
       }) {
    auto path = write(dir, good + "\n" + c.line + "\n");
    try {
      load_sft_data(path, *f.tok, &f.tmpl, 512);
      ADD_FAILURE() << c.line << " was accepted";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path + ":2"), std::string::npos) << what;
      EXPECT_NE(what.find(c.field), std::string::npos) << what;
    }
  }
  // No template: messages are refused, string pairs are plain text with the tokenizer's special tokens (this one
  // adds no BOS, as transformers' does not) and EOS.
  auto path = write(dir, good + "\n");
  auto plain = load_sft_data(path, *f.tok, nullptr, 512);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(f.tok->decode(plain[0].ids), "Question: yes<|end_of_text|>");
  EXPECT_EQ(learned_spans(plain[0], *f.tok), (std::vector<std::string>{" yes<|end_of_text|>"}));
  EXPECT_THROW(load_sft_data(write(dir, R"({"messages": [{"role": "assistant", "content": "a"}]})"), *f.tok, nullptr,
                             512),
               InputError);
}

TEST(SftData, TruncationKeepsThePrefixAndDropsWhatHasNothingLeftToLearn) {
  CRUCIBLE_REQUIRE_SHARED();
  Fixture f;
  testing::TempDir dir;
  auto path = write(dir, R"({"prompt": "a long question with many words in it", "completion": "yes"})"
                         "\n"
                         R"({"prompt": "q", "completion": "one two three four five six seven"})"
                         "\n");
  SftDataStats st;
  // The rendered prompts are 30 and 23 tokens, the whole records 37 and 36.
  auto data = load_sft_data(path, *f.tok, &f.tmpl, 26, &st);
  EXPECT_EQ(st.dropped, 1);  // the first record's completion lies past token 26
  EXPECT_EQ(st.truncated, 2);
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].ids.size(), 26u);
  EXPECT_EQ(data[0].targets(), 3);
}

std::vector<SftExample> examples(const std::vector<size_t>& lengths) {
  std::vector<SftExample> d;
  for (size_t n : lengths) {
    SftExample e;
    e.ids.assign(n, 1);
    e.learn.assign(n, 1);
    d.push_back(e);
  }
  return d;
}

TEST(SftData, BatchPlanAndPacking) {
  auto d = examples({10, 20, 30, 40, 50, 60, 70});
  auto plan = plan_batches(d, 100, 0, 1.0, 3);
  std::multiset<size_t> seen;
  for (const auto& b : plan) {
    int64_t tokens = 0;
    for (size_t i = 0; i < b.size(); ++i) {
      if (i + 1 == b.size()) {
        EXPECT_LT(tokens, 100) << "a batch closes once it reaches the budget";
      }
      tokens += static_cast<int64_t>(d[b[i]].ids.size());
      seen.insert(b[i]);
    }
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(std::set<size_t>(seen.begin(), seen.end()).size(), 7u) << "one epoch sees each example once";
  EXPECT_EQ(plan_batches(d, 100, 0, 1.0, 3), plan) << "the seed fixes the order";
  EXPECT_NE(plan_batches(d, 100, 0, 1.0, 4), plan);
  EXPECT_EQ(plan_batches(d, 100, 11, 0, 3).size(), 11u);  // --steps cycles through epochs
  const auto per_epoch = plan.size();
  EXPECT_EQ(plan_batches(d, 100, 0, 1.5, 3).size(), per_epoch + (per_epoch + 1) / 2);

  auto rows = pack_rows(d, {0, 1, 2, 3, 4, 5, 6}, 100, true);
  std::multiset<size_t> packed;
  for (const auto& r : rows) {
    int64_t tokens = 0;
    for (size_t i : r) {
      tokens += static_cast<int64_t>(d[i].ids.size());
      packed.insert(i);
    }
    EXPECT_LE(tokens, 100);
  }
  EXPECT_EQ(packed.size(), 7u);
  EXPECT_EQ(rows.size(), 3u);  // 280 tokens in rows of 100: 70+30, 60+40, 50+20+10 (best fit, longest first)
  EXPECT_EQ(pack_rows(d, {0, 1, 2}, 100, false).size(), 3u);
  EXPECT_EQ(pack_rows(examples({150}), {0}, 100, true).size(), 1u) << "an example longer than a row gets its own";
}

}  // namespace
}  // namespace crucible::trainer
