// `crucible tokenize`: ids out, text back, chat rendering (one message, or a whole conversation from --messages,
// byte for byte as transformers renders it), llama2.c with its vocab size, and exit code 2 naming the file and field
// on a bad tokenizer.json or messages file.
#include <gtest/gtest.h>

#include <map>

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

// The recorded transformers renderings (chat_expected.json, make_chat_expected.py) of the multi-turn conversations
// through the templates the shared tokenizer folders bring (Qwen3, Llama-3, DeepSeek-V3): system, user, assistant
// with <think>…</think>, user; and user, assistant, user with unicode, quotes and braces; each with and without
// the generation prompt. Every conversation through all 13 templates is test_chat_template.cpp's (the same renderer, in
// process: each CLI run here pays a process start).
TEST(TokenizeCli, RendersWholeConversationsLikeTransformers) {
  CRUCIBLE_REQUIRE_SHARED();
  crucible::testing::TempDir dir;
  const auto cases = crucible::read_json_file(crucible::testing::source_dir() + "/tests/model/text/chat_expected.json");
  std::map<std::string, int> checked;
  bool saw_think = false;
  for (const auto& c : cases) {
    const std::string path = c["path"];
    if (path.find("/tokenizers/") == std::string::npos || !c["extra"].empty() || c.contains("error") ||
        c["messages"].size() < 3 || c["messages"][1]["role"] == "system")
      continue;
    const std::string host = crucible::testing::shared_dir() + "/models/tokenizers/" + c["template"].get<std::string>();
    crucible::write_text_file_atomic(dir.file("m.json"), c["messages"].dump());
    std::vector<std::string> argv = {crucible_binary(), "tokenize", "--model", host, "--render", "--messages",
                                     dir.file("m.json")};
    if (!c["add_generation_prompt"].get<bool>()) argv.push_back("--no-generation-prompt");
    auto r = run_command(argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, c["expected"].get<std::string>()) << c["template"] << " " << c["messages"].dump();
    ++checked[c["template"]];
    // Qwen3's template drops an earlier assistant turn's reasoning; DeepSeek-V3's and Llama-3's keep it (R1's, among
    // test_chat_template.cpp's templates, drops it too).
    if (c["messages"].dump().find("<think>") != std::string::npos && c["template"] == "qwen3") {
      EXPECT_EQ(r.out.find("Two and two"), std::string::npos) << c["template"] << " kept the reasoning:\n" << r.out;
      saw_think = true;
    }
  }
  for (const char* t : {"qwen3", "llama3", "deepseek_v3"}) EXPECT_EQ(checked[t], 4) << t;
  EXPECT_TRUE(saw_think);
  // Tokenising the rendered conversation equals tokenising the rendering.
  const std::string qwen3 = crucible::testing::shared_dir() + "/models/tokenizers/qwen3";
  crucible::write_text_file_atomic(dir.file("m.json"),
                                   R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])");
  auto text = run_command({crucible_binary(), "tokenize", "--model", qwen3, "--render", "--messages", dir.file("m.json")});
  auto ids = run_command({crucible_binary(), "tokenize", "--model", qwen3, "--messages", dir.file("m.json")});
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  EXPECT_EQ(ids.out, run_command({crucible_binary(), "tokenize", "--model", qwen3}, text.out).out);
  // "-" reads the conversation from stdin.
  auto piped = run_command({crucible_binary(), "tokenize", "--model", qwen3, "--render", "--messages", "-"},
                           R"([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])");
  EXPECT_EQ(piped.out, text.out);
}

TEST(TokenizeCli, BadMessagesFileExitsTwoNamingFileAndField) {
  CRUCIBLE_REQUIRE_SHARED();
  crucible::testing::TempDir dir;
  const std::string qwen3 = crucible::testing::shared_dir() + "/models/tokenizers/qwen3";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"role": "user", "content": "x"})", "messages"},
      {R"([{"role": "user", "content": "x"}, {"content": "y"}])", "[1].role"},
      {R"([{"role": "user", "content": 3}])", "[0].content"},
      {R"([{"role": "user", "content": "x"})", "not valid JSON"},
      {"[]", "empty"}};
  for (const auto& [text, field] : bad) {
    crucible::write_text_file_atomic(dir.file("m.json"), text);
    auto r = run_command({crucible_binary(), "tokenize", "--model", qwen3, "--render", "--messages", dir.file("m.json")});
    EXPECT_EQ(r.exit_code, 2) << text;
    EXPECT_NE(r.err.find(dir.file("m.json")), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(field), std::string::npos) << r.err;
  }
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
