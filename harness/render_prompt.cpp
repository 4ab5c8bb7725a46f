#include "harness/render_prompt.h"

namespace crucible::harness {

std::string render_prompt(const text::ChatTemplate* chat_template, const std::vector<ChatTurn>& messages,
                          const std::string& assistant_prefix) {
  if (chat_template) {
    std::vector<text::ChatMessage> chat;
    for (const auto& m : messages) chat.push_back({m.role, m.content});
    return chat_template->apply(chat, /*add_generation_prompt=*/true) + assistant_prefix;
  }
  std::string text;
  for (const auto& m : messages) text += m.content + "\n";
  return text + assistant_prefix;
}

}  // namespace crucible::harness
