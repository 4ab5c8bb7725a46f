// crucible tokenize — text on stdin to token ids (or ids to text with --decode) with a model's own tokenizer;
// --chat/--render put stdin (or a whole conversation, --messages FILE.json) through the model's chat template.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "apps/cli.h"
#include "core/error.h"
#include "core/json_io.h"
#include "model/text/chat_template.h"
#include "model/text/tokenizer.h"

namespace crucible::cli {
namespace {

struct TokenizeArgs {
  std::string model, tokenizer;
  int vocab_size = 0;
  bool decode = false, add_special = false, skip_special = false, chat = false, render = false, system_set = false;
  bool no_generation_prompt = false;
  std::string system, messages_file;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// llama2.c checkpoints start with 7 int32 (dim, hidden, layers, heads, kv heads, vocab_size, seq_len); a negative
// vocab_size only flags unshared classifier weights.
int llama2c_vocab_size(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  int32_t header[7];
  if (!in.read(reinterpret_cast<char*>(header), sizeof header))
    throw InputError(model_path, "header", "too short for a llama2.c checkpoint; pass --vocab-size");
  int32_t v = header[5] < 0 ? -header[5] : header[5];
  if (v <= 0 || v > 1'000'000) throw InputError(model_path, "header.vocab_size", "implausible; pass --vocab-size");
  return v;
}

std::unique_ptr<text::Tokenizer> open_tokenizer(const TokenizeArgs& a) {
  std::string path = a.tokenizer.empty() ? a.model : a.tokenizer;
  if (path.empty()) throw InputError("crucible tokenize", "--model", "required");
  if (ends_with(path, ".bin")) {  // llama2.c tokenizer.bin
    int v = a.vocab_size;
    if (v <= 0 && !a.model.empty() && a.model != path) v = llama2c_vocab_size(a.model);
    if (v <= 0) throw InputError(path, "--vocab-size", "a llama2.c tokenizer.bin needs the model's vocab size");
    return text::load_llama2c_tokenizer(path, v);
  }
  return text::load_tokenizer(path);
}

// A conversation file: a JSON array of {"role": …, "content": …} ("-" reads stdin). Each message goes to the template
// whole (tool_calls, reasoning_content and other fields included), as transformers passes it; role must be a
// string, content a string or null.
nlohmann::json read_messages(const std::string& file, const std::string& stdin_text) {
  nlohmann::json msgs;
  const std::string origin = file == "-" ? "<stdin>" : file;
  try {
    msgs = file == "-" ? nlohmann::json::parse(stdin_text) : read_json_file(file);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(origin, "messages", std::string("not valid JSON: ") + e.what());
  }
  if (!msgs.is_array()) throw InputError(origin, "messages", "expected a JSON array of {role, content} objects");
  if (msgs.empty()) throw InputError(origin, "messages", "the conversation is empty");
  for (size_t i = 0; i < msgs.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    const auto& m = msgs[i];
    if (!m.is_object()) throw InputError(origin, at, "expected an object with role and content");
    if (!m.contains("role") || !m["role"].is_string()) throw InputError(origin, at + ".role", "missing or not a string");
    if (!m.contains("content") || !(m["content"].is_string() || m["content"].is_null()))
      throw InputError(origin, at + ".content", "missing or not a string (null is allowed)");
  }
  return msgs;
}

int run_tokenize(const Globals& g, const TokenizeArgs& a) {
  if (!a.messages_file.empty() && a.system_set)
    throw InputError("crucible tokenize", "--system", "put the system message in the --messages file instead");
  if (a.no_generation_prompt && !a.chat && !a.render && a.messages_file.empty())
    throw InputError("crucible tokenize", "--no-generation-prompt", "only means something with --chat, --render or --messages");
  auto tok = open_tokenizer(a);
  std::string input;
  if (a.messages_file.empty() || a.messages_file == "-")
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  if (a.decode) {
    std::vector<text::TokenId> ids;
    std::string cleaned = input;
    for (char& c : cleaned)
      if (c == '[' || c == ']' || c == ',') c = ' ';  // accept "1 2 3" and "[1, 2, 3]"
    std::istringstream in(cleaned);
    std::string word;
    while (in >> word) {
      char* end = nullptr;
      long long v = std::strtoll(word.c_str(), &end, 10);
      if (*end != '\0' || v < INT32_MIN || v > INT32_MAX)
        throw InputError("<stdin>", "ids", "'" + word + "' is not a token id");
      ids.push_back(static_cast<text::TokenId>(v));
    }
    std::string out = tok->decode(ids, a.skip_special);
    if (g.json) print_json(nlohmann::json({{"text", out}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    else std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  std::string text = input;
  bool add_special = a.add_special;
  if (a.chat || a.render || !a.messages_file.empty()) {
    std::string tpl_path = a.model.empty() ? a.tokenizer : a.model;
    auto tpl = text::ChatTemplate::for_model(tpl_path);
    const bool generation_prompt = !a.no_generation_prompt;
    if (!a.messages_file.empty()) {
      // The whole array rides in as the template's `messages` variable, so every field reaches the template.
      nlohmann::json extra = {{"messages", read_messages(a.messages_file, input)}};
      text = tpl.apply({}, generation_prompt, extra);
    } else {
      std::vector<text::ChatMessage> msgs;
      if (a.system_set) msgs.push_back({"system", a.system});
      msgs.push_back({"user", input});
      text = tpl.apply(msgs, generation_prompt);
    }
    add_special = false;  // the template already wrote BOS where the model wants it
    if (a.render) {
      if (g.json) print_json(nlohmann::json({{"text", text}}).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      else std::fwrite(text.data(), 1, text.size(), stdout);
      return 0;
    }
  }
  auto ids = tok->encode(text, add_special);
  if (g.json) {
    nlohmann::json pieces = nlohmann::json::array();
    for (auto id : ids) pieces.push_back(tok->id_to_token(id).value_or(""));
    print_json(nlohmann::json({{"ids", ids}, {"tokens", pieces}, {"count", ids.size()}})
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}

void setup(CLI::App& app, Globals& g, Action& action) {
  auto a = std::make_shared<TokenizeArgs>();
  auto* cmd = app.add_subcommand("tokenize", "Text on stdin -> token ids (--decode: ids -> text) with a model's tokenizer");
  cmd->add_option("--model", a->model,
                  "tokenizer.json, a checkpoint folder, a SentencePiece .model, a .gguf, or a llama2.c .bin model "
                  "(then give --tokenizer)");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer to use instead of the model's (e.g. llama2.c tok512.bin)");
  cmd->add_option("--vocab-size", a->vocab_size, "vocab size for a llama2.c tokenizer.bin (default: the model header's)");
  cmd->add_flag("--decode", a->decode, "read token ids (\"1 2 3\" or a JSON array) and print the text");
  cmd->add_flag("--add-special", a->add_special, "add BOS/EOS as the tokenizer's post-processor does");
  cmd->add_flag("--skip-special", a->skip_special, "with --decode: leave special tokens out");
  cmd->add_flag("--chat", a->chat, "apply the model's chat template to stdin as one user message, then tokenize");
  cmd->add_flag("--render", a->render, "print the chat-templated prompt text instead of ids");
  cmd->add_option("--messages", a->messages_file,
                  "a whole conversation through the chat template: a JSON array of {role, content} (- for stdin)");
  cmd->add_flag("--no-generation-prompt", a->no_generation_prompt,
                "render without the assistant turn's opening (add_generation_prompt=false)");
  cmd->add_option("--system", a->system, "with --chat/--render: a system message first")
      ->each([a](const std::string&) { a->system_set = true; });
  cmd->callback([&g, &action, a] { action = [&g, a] { return run_tokenize(g, *a); }; });
}

CRUCIBLE_REGISTER_COMMAND(300, setup);

}  // namespace
}  // namespace crucible::cli
