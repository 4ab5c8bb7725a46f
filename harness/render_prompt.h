// The text a model in this process is given for a prompt: its own chat template with the generation prompt, then the
// assistant prefix ("<think>\n" under R1); without a template (llama2.c checkpoints), one line per message, then the
// prefix. The eval harness's native backend and GRPO's rollouts both render through it, so a policy is trained on
// exactly the text it is evaluated on. Torch-free.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "harness/protocol.h"
#include "model/text/chat_template.h"

namespace crucible::harness {

std::string render_prompt(const text::ChatTemplate* chat_template, const std::vector<ChatTurn>& messages,
                          const std::string& assistant_prefix);  // chat_template null: no template
inline std::string render_prompt(const std::optional<text::ChatTemplate>& chat_template,
                                 const std::vector<ChatTurn>& messages, const std::string& assistant_prefix) {
  return render_prompt(chat_template ? &*chat_template : nullptr, messages, assistant_prefix);
}
inline std::string render_prompt(const std::optional<text::ChatTemplate>& chat_template, const BuiltPrompt& prompt) {
  return render_prompt(chat_template, prompt.messages, prompt.assistant_prefix);
}

}  // namespace crucible::harness
