// Chat templates: a checkpoint's own Jinja `chat_template` (tokenizer_config.json or GGUF metadata), applied by a
// small Jinja interpreter so prompts match transformers' apply_chat_template byte for byte.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace crucible::text {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant" | …
  std::string content;
};

class ChatTemplate {
 public:
  // Parses the template once; InputError naming `origin` (file and field) on a syntax error.
  static ChatTemplate parse(const std::string& source, const std::string& origin);
  // Reads `chat_template` from a tokenizer_config.json (string, or the list-of-named-templates form: "default").
  // Its bos_token/eos_token/unk_token/pad_token become default template variables, as transformers passes them.
  static ChatTemplate from_tokenizer_config(const std::string& path);
  // The template a model brings: `path` is a checkpoint folder or a tokenizer.json (tokenizer_config.json beside
  // it), a tokenizer_config.json, or a .gguf (tokenizer.chat_template; BOS/EOS spelled from its vocabulary).
  // InputError naming the path when the model has no template.
  static ChatTemplate for_model(const std::string& path);

  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;
  ~ChatTemplate();

  // Renders with `messages`, `add_generation_prompt`, and `extra` variables (bos_token, eos_token, tools, …;
  // `extra` may also carry a full "messages" array with tool_calls/reasoning_content, which then wins).
  // A template's raise_exception(...) becomes InputError naming the origin and the message.
  std::string apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                    const nlohmann::json& extra = nlohmann::json::object()) const;
  const std::string& source() const;

 private:
  struct Impl;
  explicit ChatTemplate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crucible::text
