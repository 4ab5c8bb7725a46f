// Chat templates rendered by crucible against transformers' apply_chat_template (chat_expected.json, written by
// make_chat_expected.py with the project venv), byte for byte; plus the interpreter's own corners and errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <random>

#include "core/error.h"
#include "core/json_io.h"
#include "model/text/chat_template.h"
#include "tests/support/test_support.h"

namespace crucible::text {
namespace {

std::string render(const std::string& src, const nlohmann::json& extra = nlohmann::json::object(),
                   std::vector<ChatMessage> msgs = {{"user", "hi"}}) {
  return ChatTemplate::parse(src, "test.jinja").apply(msgs, true, extra);
}

// Renders every case whose template path satisfies `want` and compares; returns how many cases it checked.
size_t check_cases(const std::function<bool(const std::string&)>& want) {
  Json cases = read_json_file(testing::source_dir() + "/tests/model/text/chat_expected.json");
  size_t checked = 0, ok = 0;
  for (const auto& c : cases) {
    std::string path = c["path"];
    if (!want(path)) continue;
    ++checked;
    bool own = path.size() > 5 && (path.substr(path.size() - 5) == ".json" || path.substr(path.size() - 5) == ".gguf");
    ChatTemplate tpl = own ? ChatTemplate::for_model(path) : ChatTemplate::parse(read_text_file(path), path);
    nlohmann::json extra = c["extra"];
    if (!own) {  // a bare .jinja file: the host tokenizer's special tokens, as transformers passed them
      extra["bos_token"] = c["bos_token"];
      extra["eos_token"] = c["eos_token"];
    }
    std::vector<ChatMessage> msgs;
    for (const auto& m : c["messages"]) msgs.push_back({m["role"], m["content"]});
    if (c.contains("error")) {  // the template raised under transformers
      std::string err = "no exception";
      try {
        tpl.apply(msgs, c["add_generation_prompt"].get<bool>(), extra);
      } catch (const InputError& e) {
        err = e.what();
      }
      if (err.find(c["error"].get<std::string>()) != std::string::npos && err.find(path) != std::string::npos) ++ok;
      else ADD_FAILURE() << c["template"] << ": want an InputError with \"" << c["error"] << "\", got: " << err;
      continue;
    }
    std::string got = tpl.apply(msgs, c["add_generation_prompt"].get<bool>(), extra);
    if (got == c["expected"].get<std::string>()) ++ok;
    else ADD_FAILURE() << c["template"] << " agp=" << c["add_generation_prompt"] << " extra=" << c["extra"].dump()
                       << " messages=" << c["messages"].dump() << "\nwant:\n" << c["expected"].get<std::string>()
                       << "\ngot:\n" << got;
  }
  EXPECT_EQ(ok, checked);
  return checked;
}

bool is_gguf(const std::string& p) { return p.size() > 5 && p.substr(p.size() - 5) == ".gguf"; }

TEST(ChatTemplate, MatchesTransformersByteForByte) {
  CRUCIBLE_REQUIRE_SHARED();
  EXPECT_GE(check_cases([](const std::string& p) { return !is_gguf(p); }), 200u);
}

TEST(ChatTemplate, SmolLM2GgufTemplateMatchesTransformers) {
  CRUCIBLE_REQUIRE_SHARED();
  Json cases = read_json_file(testing::source_dir() + "/tests/model/text/chat_expected.json");
  std::string gguf;
  for (const auto& c : cases)
    if (is_gguf(c["path"])) gguf = c["path"];
  ASSERT_FALSE(gguf.empty());
  if (!std::filesystem::exists(gguf)) GTEST_SKIP() << gguf << " missing: run scripts/setup";
  EXPECT_GE(check_cases(is_gguf), 12u);
}

TEST(ChatTemplate, WhitespaceControl) {
  CRUCIBLE_REQUIRE_SHARED();
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  // trim_blocks drops the newline after a block tag, lstrip_blocks the indentation before it.
  EXPECT_EQ(render("{% if true %}\n    x\n    {% endif %}\ny"), "    x\ny");
  EXPECT_EQ(render("a {# note #} b"), "a  b");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
}

TEST(ChatTemplate, ExpressionsFiltersAndTests) {
  CRUCIBLE_REQUIRE_SHARED();
  EXPECT_EQ(render("{{ [3, 1, 2] | sort | join(',') }}"), "1,2,3");
  EXPECT_EQ(render("{{ 'a,b,c'.split(',')[-1] }}{{ 'abc'[::-1] }}{{ 'abc'[1:] }}"), "ccbabc");
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 }}"), "3 -4 1 3.5 8");
  EXPECT_EQ(render("{{ x is defined }} {{ none is none }} {{ 'a' is string }} {{ 3 is not string }}"),
            "False True True True");
  EXPECT_EQ(render("{{ {'b': 1, 'a': [true, none, 'é\"']} | tojson }}"), "{\"b\": 1, \"a\": [true, null, \"é\\\"\"]}");
  EXPECT_EQ(render("{{ {'a': [1]} | tojson(indent=2) }}"), "{\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(render("{{ 'yes' if 1 > 2 else 'no' }} {{ 1 ~ 'x' }} {{ 'b' in 'abc' }} {{ 'z' not in ['a'] }}"),
            "no 1x True True");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(5) if i is odd %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }}"),
            "4");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ loop.index }}{{ k }}{{ v }}{% if not loop.last %},"
                   "{% endif %}{% endfor %}"),
            "1a1,2b2");
  EXPECT_EQ(render("{% for m in messages %}{% if m.role == 'user' %}{% break %}{% endif %}x{% else %}empty"
                   "{% endfor %}"),
            "");
  EXPECT_EQ(render("{% macro tag(n, c='!') %}<{{ n }}{{ c }}>{% endmacro %}{{ tag('a') }}{{ tag('b', c='?') }}"),
            "<a!><b?>");
  EXPECT_EQ(render("{% set x %}inner{% endset %}[{{ x | upper }}]"), "[INNER]");
  EXPECT_EQ(render("{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}"),
            "['hi']");
  // A set inside a loop does not leak out of it (that is what namespace() is for).
  EXPECT_EQ(render("{% set y = 1 %}{% for i in [1, 2] %}{% set y = i %}{% endfor %}{{ y }}"), "1");
}

TEST(ChatTemplate, ErrorsNameTheOrigin) {
  CRUCIBLE_REQUIRE_SHARED();
  try {
    render("{{ raise_exception('Conversation roles must alternate') }}");
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("test.jinja"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Conversation roles must alternate"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ChatTemplate::parse("{% if x %}never closed", "t.jinja"), InputError);
  EXPECT_THROW(ChatTemplate::parse("{{ 1 + }}", "t.jinja"), InputError);
  EXPECT_THROW(ChatTemplate::parse("{% frobnicate %}", "t.jinja"), InputError);
  EXPECT_THROW(render("{{ undefined_thing + 1 }}"), InputError);
  // 64-bit integers stand in for Python's unbounded ones: overflow and runaway sizes are errors, not wrong output.
  EXPECT_THROW(render("{{ 9223372036854775807 + 1 }}"), InputError);
  EXPECT_THROW(render("{{ 3037000500 * 3037000500 }}"), InputError);
  EXPECT_THROW(render("{{ 2 ** 70 }}"), InputError);
  EXPECT_THROW(render("{{ range(10000000000) | length }}"), InputError);
  EXPECT_THROW(render("{{ 'x' * 100000000 }}"), InputError);
  testing::TempDir dir;
  write_text_file_atomic(dir.file("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
  try {
    ChatTemplate::from_tokenizer_config(dir.file("tokenizer_config.json"));
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("chat_template"), std::string::npos) << e.what();
  }
}

// A folder saved by recent transformers keeps the template in chat_template.jinja, special tokens in the config.
TEST(ChatTemplate, ForModelReadsChatTemplateJinja) {
  CRUCIBLE_REQUIRE_SHARED();
  testing::TempDir dir;
  write_text_file_atomic(dir.file("tokenizer_config.json"), R"({"bos_token": "<B>", "eos_token": {"content": "<E>"}})");
  write_text_file_atomic(dir.file("chat_template.jinja"),
                         "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}");
  EXPECT_EQ(ChatTemplate::for_model(dir.path()).apply({{"user", "hi"}}, true), "<B>[user]hi<E>");
  EXPECT_EQ(ChatTemplate::for_model(dir.file("tokenizer.json")).apply({{"user", "x"}}, false), "<B>[user]x<E>");
  testing::TempDir empty;
  EXPECT_THROW(ChatTemplate::for_model(empty.path()), InputError);
}

// Mutated real templates (bytes deleted, duplicated, replaced by template syntax) either render or fail with an
// InputError; never another exception, a hang or a crash. Hostile nesting is refused with a message.
TEST(ChatTemplate, MutatedTemplatesFailCleanly) {
  CRUCIBLE_REQUIRE_SHARED();
  std::vector<std::string> sources;
  for (const char* name : {"qwen3", "llama3", "deepseek_v3"})
    sources.push_back(read_json_file(testing::shared_dir() + "/models/tokenizers/" + name + "/tokenizer_config.json")
                          ["chat_template"]);
  sources.push_back(read_text_file(testing::source_dir() + "/tests/model/text/templates/stress.jinja"));
  static const char* const kBits[] = {"{{", "}}", "{%", "%}", "{#", "#}", "-", "(", ")", "[", "]", "'", "\"", "|",
                                      ".", ",", "not ", " if ", " else ", "endfor", "endif", "9999999999999999999999",
                                      "\\u12", "::", "**"};
  const char* iters_env = std::getenv("CRUCIBLE_FUZZ_ITERS");  // longer local runs: CRUCIBLE_FUZZ_ITERS=200000
  const int iters = iters_env ? std::atoi(iters_env) : 3000;
  std::mt19937 rng(iters_env ? static_cast<unsigned>(iters) : 99u);
  int rendered = 0, rejected = 0;
  const std::vector<ChatMessage> msgs = {{"system", "s"}, {"user", "u"}, {"assistant", "a"}, {"user", "v"}};
  for (int k = 0; k < iters; ++k) {
    std::string s = sources[rng() % sources.size()];
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s.erase(at, 1 + rng() % 8); break;
        case 1: s.insert(at, kBits[rng() % (sizeof kBits / sizeof *kBits)]); break;
        default: s.insert(at, s.substr(rng() % s.size(), 1 + rng() % 16));
      }
    }
    try {
      ChatTemplate::parse(s, "mutant.jinja").apply(msgs, true);
      ++rendered;
    } catch (const InputError&) {
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected " << e.what() << " for template:\n" << s;
      break;
    }
  }
  EXPECT_GT(rejected, 100);
  EXPECT_GT(rendered, 100);
  EXPECT_THROW(ChatTemplate::parse("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}", "deep"),
               InputError);
  std::string nested;
  for (int i = 0; i < 5000; ++i) nested += "{% if true %}";
  EXPECT_THROW(ChatTemplate::parse(nested, "deep"), InputError);
  EXPECT_THROW(render("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"), InputError);
}

}  // namespace
}  // namespace crucible::text
