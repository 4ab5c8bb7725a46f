// Chat templates: the checkpoint's own template found where transformers finds it (chat_template.jinja,
// tokenizer_config.json, GGUF metadata), with the variables transformers passes, rendered by jinja/.
#include "model/text/chat_template.h"

#include <filesystem>

#include "core/error.h"
#include "core/json_io.h"
#include "model/text/gguf.h"
#include "model/text/jinja/jinja.h"

namespace crucible::text {

using jinja::Value;

namespace {

// transformers renders with the tokenizer's special tokens as variables (bos_token, eos_token, …), written in
// tokenizer_config.json as strings or as {"content": …} added-token objects.
nlohmann::json special_tokens(const Json& config) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    if (!config.is_object() || !config.contains(key)) continue;
    const Json& v = config[key];
    if (v.is_string()) out[key] = v;
    else if (v.is_object() && v.contains("content") && v["content"].is_string()) out[key] = v["content"];
  }
  return out;
}

}  // namespace

struct ChatTemplate::Impl {
  std::string source, origin;
  jinja::Template tpl;
  nlohmann::json defaults = nlohmann::json::object();  // special tokens from tokenizer_config.json
};

ChatTemplate::ChatTemplate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;
const std::string& ChatTemplate::source() const { return impl_->source; }

ChatTemplate ChatTemplate::parse(const std::string& source, const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  impl->source = source;
  impl->origin = origin;
  impl->tpl = jinja::Template::parse(source, origin);
  return ChatTemplate(std::move(impl));
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::string& path) {
  Json config = read_json_file(path);
  if (!config.is_object() || !config.contains("chat_template"))
    throw InputError(path, "chat_template", "missing (this tokenizer_config.json has no chat template)");
  const Json& t = config["chat_template"];
  std::string source;
  if (t.is_string()) {
    source = t.get<std::string>();
  } else if (t.is_array()) {  // [{"name": "default", "template": …}, {"name": "tool_use", …}]
    for (const auto& entry : t)
      if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
          entry["template"].is_string())
        source = entry["template"].get<std::string>();
    if (source.empty()) throw InputError(path, "chat_template", "no template named 'default' in the list");
  } else {
    throw InputError(path, "chat_template", "expected a string or a list of {name, template}");
  }
  ChatTemplate tpl = parse(source, path);
  tpl.impl_->defaults = special_tokens(config);
  return tpl;
}

ChatTemplate ChatTemplate::for_model(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(path);
  if (p.extension() == ".gguf") {
    GgufFile gguf = GgufFile::open(path);
    auto src = gguf.chat_template();
    if (!src) throw InputError(path, "tokenizer.chat_template", "missing (this GGUF carries no chat template)");
    ChatTemplate tpl = parse(*src, path + ": tokenizer.chat_template");
    VocabSpec v = gguf.vocab();
    if (v.bos_id && static_cast<size_t>(*v.bos_id) < v.tokens.size()) tpl.impl_->defaults["bos_token"] = v.tokens[*v.bos_id];
    if (v.eos_id && static_cast<size_t>(*v.eos_id) < v.tokens.size()) tpl.impl_->defaults["eos_token"] = v.tokens[*v.eos_id];
    return tpl;
  }
  fs::path config;
  if (fs::is_directory(p, ec)) config = p / "tokenizer_config.json";
  else if (p.filename() == "tokenizer_config.json") config = p;
  else config = p.parent_path() / "tokenizer_config.json";
  // transformers >= 4.43 saves the template as chat_template.jinja beside tokenizer_config.json; it wins there too.
  fs::path jinja = config.parent_path() / "chat_template.jinja";
  if (fs::exists(jinja, ec)) {
    ChatTemplate tpl = parse(read_text_file(jinja.string()), jinja.string());
    if (fs::exists(config, ec)) tpl.impl_->defaults = special_tokens(read_json_file(config.string()));
    return tpl;
  }
  if (!fs::exists(config, ec))
    throw InputError(path, "chat_template", "no tokenizer_config.json at " + config.string() + " to take it from");
  return from_tokenizer_config(config.string());
}

std::string ChatTemplate::apply(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                const nlohmann::json& extra) const {
  jinja::Globals globals;
  jinja::List msgs;
  for (const auto& m : messages)
    msgs.push_back(Value::make_dict({{"role", Value::str(m.role)}, {"content", Value::str(m.content)}}));
  globals["messages"] = Value::make_list(std::move(msgs));
  globals["add_generation_prompt"] = Value::boolean(add_generation_prompt);
  // transformers always passes these, as None when the caller gives none.
  globals["tools"] = Value::none();
  globals["documents"] = Value::none();
  for (const auto& [k, v] : impl_->defaults.items()) globals[k] = jinja::from_json(v);
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) globals[k] = jinja::from_json(v);
  return impl_->tpl.render(std::move(globals));
}

}  // namespace crucible::text
