// Chat templates rendered by crucible against transformers' apply_chat_template (chat_expected.json, written by
// make_chat_expected.py with the project venv), byte for byte; plus the interpreter's own corners and errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

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
  EXPECT_GE(check_cases([](const std::string& p) { return !is_gguf(p); }), 96u);
}

TEST(ChatTemplate, SmolLM2GgufTemplateMatchesTransformers) {
  Json cases = read_json_file(testing::source_dir() + "/tests/model/text/chat_expected.json");
  std::string gguf;
  for (const auto& c : cases)
    if (is_gguf(c["path"])) gguf = c["path"];
  ASSERT_FALSE(gguf.empty());
  if (!std::filesystem::exists(gguf)) GTEST_SKIP() << gguf << " missing: run scripts/setup";
  EXPECT_GE(check_cases(is_gguf), 12u);
}

TEST(ChatTemplate, WhitespaceControl) {
  EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
  // trim_blocks drops the newline after a block tag, lstrip_blocks the indentation before it.
  EXPECT_EQ(render("{% if true %}\n    x\n    {% endif %}\ny"), "    x\ny");
  EXPECT_EQ(render("a {# note #} b"), "a  b");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
}

TEST(ChatTemplate, ExpressionsFiltersAndTests) {
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
  testing::TempDir dir;
  write_text_file_atomic(dir.file("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
  try {
    ChatTemplate::from_tokenizer_config(dir.file("tokenizer_config.json"));
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("chat_template"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace crucible::text
