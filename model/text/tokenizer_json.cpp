// HF tokenizer.json (byte-level BPE) -> BpeSpec. What is supported is what the GPT-2 family files use; anything else
// is refused with the field that holds it, never silently tokenised differently.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/json_io.h"
#include "model/text/bpe.h"
#include "model/text/tokenizer.h"

namespace crucible::text {
namespace {

using detail::BpeSpec;

std::string regex_quote(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

void read_normalizer(const Json& n, const std::string& where, const std::string& field, BpeSpec& spec) {
  if (n.is_null()) return;
  std::string type = require_string(n, "type", where + ": " + field);
  if (type == "NFC") {
    spec.nfc = true;
  } else if (type == "Sequence") {
    const Json& list = require_field(n, "normalizers", where);
    for (size_t i = 0; i < list.size(); ++i)
      read_normalizer(list[i], where, field + ".normalizers[" + std::to_string(i) + "]", spec);
  } else {
    throw InputError(where, field + ".type", "unsupported normalizer '" + type + "' (supported: NFC, Sequence)");
  }
}

void read_pre_tokenizer(const Json& p, const std::string& where, const std::string& field, BpeSpec& spec,
                        bool& byte_level) {
  if (p.is_null()) return;
  std::string type = require_string(p, "type", where + ": " + field);
  if (type == "Sequence") {
    const Json& list = require_field(p, "pretokenizers", where);
    for (size_t i = 0; i < list.size(); ++i)
      read_pre_tokenizer(list[i], where, field + ".pretokenizers[" + std::to_string(i) + "]", spec, byte_level);
  } else if (type == "ByteLevel") {
    byte_level = true;
    if (p.value("add_prefix_space", false)) spec.add_prefix_space = true;
    if (p.value("use_regex", true)) spec.split_patterns.emplace_back(detail::kGpt2Pattern);
  } else if (type == "Split") {
    std::string behavior = p.value("behavior", "");
    if (behavior != "Isolated")
      throw InputError(where, field + ".behavior", "unsupported split behavior '" + behavior + "' (supported: Isolated)");
    if (p.value("invert", false)) throw InputError(where, field + ".invert", "inverted splits are not supported");
    const Json& pat = require_field(p, "pattern", where);
    if (pat.contains("Regex") && pat["Regex"].is_string()) spec.split_patterns.push_back(pat["Regex"]);
    else if (pat.contains("String") && pat["String"].is_string())
      spec.split_patterns.push_back(regex_quote(pat["String"]));
    else
      throw InputError(where, field + ".pattern", "expected {\"Regex\": …} or {\"String\": …}");
  } else if (type == "Digits") {
    spec.split_patterns.emplace_back(p.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
  } else {
    throw InputError(where, field + ".type",
                     "unsupported pre-tokenizer '" + type + "' (supported: ByteLevel, Split, Digits, Sequence)");
  }
}

void read_post_processor(const Json& p, const std::string& where, BpeSpec& spec) {
  if (p.is_null()) return;
  std::string type = require_string(p, "type", where + ": post_processor");
  if (type == "Sequence") {
    for (const auto& q : require_field(p, "processors", where)) read_post_processor(q, where, spec);
    return;
  }
  if (type != "TemplateProcessing") return;  // ByteLevel and friends add no tokens
  const Json& single = require_field(p, "single", where);
  const Json& specials = p.contains("special_tokens") ? p["special_tokens"] : Json::object();
  bool after = false;
  for (const auto& piece : single) {
    if (piece.contains("Sequence")) {
      after = true;
      continue;
    }
    if (!piece.contains("SpecialToken")) continue;
    std::string name = require_string(piece["SpecialToken"], "id", where + ": post_processor.single");
    if (!specials.contains(name) || !specials[name].contains("ids"))
      throw InputError(where, "post_processor.special_tokens", "no ids for '" + name + "'");
    for (const auto& id : specials[name]["ids"]) (after ? spec.suffix_ids : spec.prefix_ids).push_back(id.get<TokenId>());
  }
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer_json(const std::string& path) {
  Json j = read_json_file(path);
  if (!j.is_object()) throw InputError(path, "(root)", "expected a JSON object");
  BpeSpec spec;
  spec.source = path;
  const Json& model = require_field(j, "model", path);
  std::string type = model.value("type", "BPE");
  if (type != "BPE")
    throw InputError(path, "model.type", "unsupported model '" + type + "' (only byte-level BPE; use the "
                                         "SentencePiece tokenizer.model for Unigram/SentencePiece checkpoints)");
  if (model.value("byte_fallback", false))
    throw InputError(path, "model.byte_fallback",
                     "byte-fallback BPE is SentencePiece-style; load the checkpoint's tokenizer.model instead");
  const Json& vocab = require_field(model, "vocab", path);
  if (!vocab.is_object()) throw InputError(path, "model.vocab", "expected an object token -> id");
  for (const auto& [tok, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > 10'000'000)
      throw InputError(path, "model.vocab." + tok, "expected a non-negative integer id");
    auto i = id.get<size_t>();
    if (spec.vocab.size() <= i) spec.vocab.resize(i + 1);
    spec.vocab[i] = tok;
  }
  const Json& merges = require_field(model, "merges", path);
  if (!merges.is_array()) throw InputError(path, "model.merges", "expected an array");
  spec.merges.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const Json& m = merges[r];
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      auto sp = s.find(' ', 1);  // a part may be a lone space character only in older files; never the first byte
      if (sp == std::string::npos) throw InputError(path, "model.merges[" + std::to_string(r) + "]", "expected \"a b\"");
      spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      throw InputError(path, "model.merges[" + std::to_string(r) + "]", "expected \"a b\" or [\"a\", \"b\"]");
    }
  }
  spec.ignore_merges = model.value("ignore_merges", false);
  read_normalizer(j.value("normalizer", Json()), path, "normalizer", spec);
  bool byte_level = false;
  read_pre_tokenizer(j.value("pre_tokenizer", Json()), path, "pre_tokenizer", spec, byte_level);
  if (!byte_level)
    throw InputError(path, "pre_tokenizer", "no ByteLevel pre-tokenizer: only byte-level BPE tokenizer.json is supported");
  if (j.contains("added_tokens")) {
    const Json& added = j["added_tokens"];
    if (!added.is_array()) throw InputError(path, "added_tokens", "expected an array");
    for (size_t i = 0; i < added.size(); ++i) {
      std::string where = path + ": added_tokens[" + std::to_string(i) + "]";
      detail::AddedToken a;
      a.content = require_string(added[i], "content", where);
      int64_t id = require_int(added[i], "id", where);
      if (id < 0 || id > 10'000'000) throw InputError(path, "added_tokens[" + std::to_string(i) + "].id", "out of range");
      a.id = static_cast<TokenId>(id);
      a.special = added[i].value("special", false);
      a.lstrip = added[i].value("lstrip", false);
      a.rstrip = added[i].value("rstrip", false);
      spec.added.push_back(a);
    }
  }
  read_post_processor(j.value("post_processor", Json()), path, spec);

  // BOS/EOS come from tokenizer_config.json next to the file (that is where transformers reads them), plus the
  // family's end-of-turn tokens so generation stops where the chat template ends a turn.
  auto find_id = [&](const std::string& content) -> std::optional<TokenId> {
    for (const auto& a : spec.added)
      if (a.content == content) return a.id;
    for (size_t i = 0; i < spec.vocab.size(); ++i)
      if (spec.vocab[i] == content) return static_cast<TokenId>(i);
    return std::nullopt;
  };
  auto token_name = [](const Json& v) -> std::optional<std::string> {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
    return std::nullopt;
  };
  namespace fs = std::filesystem;
  fs::path config = fs::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (fs::exists(config, ec)) {
    Json c = read_json_file(config.string());
    if (c.is_object()) {
      if (auto b = token_name(c.value("bos_token", Json()))) spec.bos = find_id(*b);
      if (auto e = token_name(c.value("eos_token", Json())))
        if (auto id = find_id(*e)) spec.eos.push_back(*id);
    }
  }
  fs::path gen = fs::path(path).parent_path() / "generation_config.json";
  if (fs::exists(gen, ec)) {
    Json g = read_json_file(gen.string());
    if (g.is_object() && g.contains("eos_token_id")) {
      const Json& e = g["eos_token_id"];
      auto add = [&](const Json& x) {  // usually the tokenizer_config.json EOS again: keep each id once
        if (x.is_number_integer() && std::find(spec.eos.begin(), spec.eos.end(), x.get<TokenId>()) == spec.eos.end())
          spec.eos.push_back(x.get<TokenId>());
      };
      if (e.is_array())
        for (const auto& x : e) add(x);
      else
        add(e);
    }
  }
  for (const auto& a : spec.added)
    if (a.special && detail::is_end_of_generation_token(a.content) &&
        std::find(spec.eos.begin(), spec.eos.end(), a.id) == spec.eos.end())
      spec.eos.push_back(a.id);
  return detail::make_bpe_tokenizer(std::move(spec));
}

void write_hf_tokenizer_files(const VocabSpec& vocab, const std::optional<std::string>& chat_template,
                              const std::string& dir) {
  namespace fs = std::filesystem;
  if (vocab.model != "gpt2")
    throw InputError(vocab.source, "tokenizer.ggml.model",
                     "only byte-level BPE (gpt2) vocabularies can be written as tokenizer.json, not '" + vocab.model + "'");
  const BpeSpec spec = detail::bpe_spec_from_vocab(vocab);
  auto content = [&](std::optional<TokenId> id) -> Json {
    if (!id || *id < 0 || static_cast<size_t>(*id) >= vocab.tokens.size()) return nullptr;
    return vocab.tokens[static_cast<size_t>(*id)];
  };

  Json model = {{"type", "BPE"},           {"dropout", nullptr},          {"unk_token", content(vocab.unk_id)},
                {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr}, {"fuse_unk", false},
                {"byte_fallback", false},  {"ignore_merges", spec.ignore_merges}};
  Json v = Json::object();
  for (size_t i = 0; i < vocab.tokens.size(); ++i) v[vocab.tokens[i]] = i;
  model["vocab"] = std::move(v);
  Json merges = Json::array();
  for (const auto& [a, b] : spec.merges) merges.push_back(Json::array({a, b}));
  model["merges"] = std::move(merges);

  // Each regex as an isolating Split, then the byte-to-unicode mapping alone (use_regex false): the same splits
  // crucible makes, in the form tokenizers runs them.
  Json pre = Json::array();
  for (const auto& p : spec.split_patterns)
    pre.push_back({{"type", "Split"}, {"pattern", {{"Regex", p}}}, {"behavior", "Isolated"}, {"invert", false}});
  pre.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});

  Json added = Json::array(), decoder_map = Json::object();
  for (const auto& a : spec.added) {
    Json t = {{"id", a.id},         {"content", a.content}, {"single_word", false}, {"lstrip", a.lstrip},
              {"rstrip", a.rstrip}, {"normalized", false},  {"special", a.special}};
    added.push_back(t);
    t.erase("id");
    decoder_map[std::to_string(a.id)] = t;
  }
  Json post = nullptr;
  if (!spec.prefix_ids.empty() || !spec.suffix_ids.empty()) {
    Json single = Json::array(), pair = Json::array(), special = Json::object();
    auto add_special = [&](Json& seq, TokenId id) {
      const std::string name = content(id).get<std::string>();
      seq.push_back({{"SpecialToken", {{"id", name}, {"type_id", 0}}}});
      special[name] = {{"id", name}, {"ids", {id}}, {"tokens", {name}}};
    };
    for (auto id : spec.prefix_ids) add_special(single, id);
    single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
    for (auto id : spec.suffix_ids) add_special(single, id);
    pair = single;
    pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
    post = {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", special}};
  }
  Json tokenizer = {{"version", "1.0"},
                    {"truncation", nullptr},
                    {"padding", nullptr},
                    {"added_tokens", added},
                    {"normalizer", spec.nfc ? Json{{"type", "NFC"}} : Json(nullptr)},
                    {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", pre}}},
                    {"post_processor", post},
                    {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true},
                                 {"use_regex", true}}},
                    {"model", model}};

  // The EOS transformers should stop on: GGUF's eos (else the first end-of-turn token crucible found).
  std::optional<TokenId> eos = vocab.eos_id;
  if (!eos && !spec.eos.empty()) eos = spec.eos.front();
  Json config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                 {"add_bos_token", vocab.add_bos.value_or(false)},
                 {"add_eos_token", vocab.add_eos.value_or(false)},
                 {"bos_token", content(vocab.bos_id)},
                 {"eos_token", content(eos)},
                 {"unk_token", content(vocab.unk_id)},
                 {"pad_token", content(vocab.pad_id)},
                 {"clean_up_tokenization_spaces", false},
                 {"added_tokens_decoder", decoder_map}};
  if (chat_template) config["chat_template"] = *chat_template;
  Json special_map = Json::object();
  for (const char* k : {"bos_token", "eos_token", "unk_token", "pad_token"})
    if (!config[k].is_null()) special_map[k] = config[k];

  fs::create_directories(dir);
  auto write = [&](const char* name, const Json& j) {
    const auto path = (fs::path(dir) / name).string();
    std::ofstream out(path, std::ios::binary);
    out << j.dump(2, ' ', false, Json::error_handler_t::strict) << "\n";
    if (!out) throw RunError("cannot write " + path);
  };
  write("tokenizer.json", tokenizer);
  write("tokenizer_config.json", config);
  write("special_tokens_map.json", special_map);
}

}  // namespace crucible::text
