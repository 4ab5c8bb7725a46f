// `crucible tokenize`: ids out, text back, chat rendering, llama2.c with its vocab size, and exit code 2 naming the
// file and field on a bad tokenizer.json.
#include <gtest/gtest.h>

#include "core/json_io.h"
#include "tests/support/test_support.h"

namespace {

using crucible::testing::crucible_binary;
using crucible::testing::run_command;
using crucible::testing::shared_dir;

TEST(TokenizeCli, EncodesAndDecodes) {
  CRUCIBLE_REQUIRE_SHARED();
  const std::string model = shared_dir() + "/models/tokenizers/qwen3";
  auto enc = run_command({crucible_binary(), "tokenize", "--model", model}, "Hello world");
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  EXPECT_EQ(enc.out, "9707 1879\n");
  auto dec = run_command({crucible_binary(), "tokenize", "--model", model + "/tokenizer.json", "--decode"},
                         "[9707, 1879, 151645]");
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, "Hello world<|im_end|>");
  dec = run_command({crucible_binary(), "tokenize", "--model", model, "--decode", "--skip-special"}, "9707 1879 151645");
  EXPECT_EQ(dec.out, "Hello world");
}

TEST(TokenizeCli, ChatTemplateAndLlama2c) {
  CRUCIBLE_REQUIRE_SHARED();
  auto r = run_command({crucible_binary(), "tokenize", "--model", shared_dir() + "/models/tokenizers/deepseek_v3",
                        "--render"},
                       "What is 2+2?");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜>");
  // The vocab size comes from the llama2.c checkpoint header when --tokenizer is a .bin.
  r = run_command({crucible_binary(), "tokenize", "--model", shared_dir() + "/models/stories260K/stories260K.bin",
                   "--tokenizer", shared_dir() + "/models/stories260K/tok512.bin", "--add-special"},
                  "Once upon a time");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto back = run_command({crucible_binary(), "tokenize", "--model", shared_dir() + "/models/stories260K/tok512.bin",
                           "--vocab-size", "512", "--decode", "--skip-special"},
                          r.out);
  EXPECT_EQ(back.out, "Once upon a time");
}

TEST(TokenizeCli, BadTokenizerJsonExitsTwoNamingFileAndField) {
  CRUCIBLE_REQUIRE_SHARED();
  crucible::testing::TempDir dir;
  crucible::write_text_file_atomic(dir.file("tokenizer.json"),
                                   R"({"model": {"type": "Unigram", "vocab": []}, "pre_tokenizer": null})");
  auto r = run_command({crucible_binary(), "tokenize", "--model", dir.path()}, "x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(dir.file("tokenizer.json")), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model.type"), std::string::npos) << r.err;
  r = run_command({crucible_binary(), "tokenize", "--model", shared_dir() + "/models/tokenizers/qwen3", "--decode"},
                  "12 abc");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("abc"), std::string::npos) << r.err;
}

}  // namespace
