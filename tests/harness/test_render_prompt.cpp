// harness::render_prompt: the one rendering of a prompt for an in-process model (eval's native backend, GRPO's
// rollouts): the chat template with the generation prompt then the assistant prefix; plain lines without a template.
#include <gtest/gtest.h>

#include "harness/render_prompt.h"

namespace crucible::harness {
namespace {

TEST(RenderPrompt, TemplateWithGenerationPromptThenPrefix) {
  const std::optional<text::ChatTemplate> tpl = text::ChatTemplate::parse(
      "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>"
      "{% endif %}",
      "test.jinja");
  BuiltPrompt p;
  p.messages = {{"system", "Be brief."}, {"user", "1+1?"}};
  p.assistant_prefix = "<think>\n";
  EXPECT_EQ(render_prompt(tpl, p), "<system>Be brief.\n<user>1+1?\n<assistant><think>\n");
  EXPECT_EQ(render_prompt(tpl, p.messages, ""), "<system>Be brief.\n<user>1+1?\n<assistant>");
}

TEST(RenderPrompt, WithoutTemplateOneLinePerMessageThenPrefix) {
  BuiltPrompt p;
  p.messages = {{"user", "Once upon"}, {"user", "a time"}};
  p.assistant_prefix = "there";
  EXPECT_EQ(render_prompt(std::nullopt, p), "Once upon\na time\nthere");
}

}  // namespace
}  // namespace crucible::harness
