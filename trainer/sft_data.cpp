#include "trainer/sft_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"
#include "harness/render_prompt.h"

namespace crucible::trainer {
namespace {

using text::ChatMessage;
using text::TokenId;

std::vector<ChatMessage> messages_of(const Json& j, const std::string& where, const std::string& field) {
  if (!j.is_array() || j.empty()) throw InputError(where, field, "expected a non-empty list of messages");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    if (!j[i].is_object()) throw InputError(where, f, "expected a message object {role, content}");
    if (!j[i].contains("role") || !j[i]["role"].is_string()) throw InputError(where, f + ".role", "expected a string");
    if (!j[i].contains("content") || !j[i]["content"].is_string())
      throw InputError(where, f + ".content", "expected a string");
    out.push_back({j[i]["role"].get<std::string>(), j[i]["content"].get<std::string>()});
  }
  return out;
}

size_t common_prefix(const std::vector<TokenId>& a, const std::vector<TokenId>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// Renders the conversation and marks the assistant turns at or after `first_learned` (a message index).
SftExample render(const std::vector<ChatMessage>& msgs, size_t first_learned, const text::Tokenizer& tok,
                  const text::ChatTemplate& tmpl) {
  SftExample ex;
  ex.ids = tok.encode(tmpl.apply(msgs, false), false);
  ex.learn.assign(ex.ids.size(), 0);
  for (size_t i = first_learned; i < msgs.size(); ++i) {
    if (msgs[i].role != "assistant") continue;
    // The turn's first token: where the rendering of the turns before it (plus the generation prompt) stops
    // matching the whole; its end: where the rendering up to it stops matching, or the end for the last turn.
    std::vector<ChatMessage> before(msgs.begin(), msgs.begin() + static_cast<std::ptrdiff_t>(i));
    size_t begin = common_prefix(tok.encode(tmpl.apply(before, true), false), ex.ids);
    size_t end = ex.ids.size();
    if (i + 1 < msgs.size()) {
      std::vector<ChatMessage> upto(msgs.begin(), msgs.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      end = common_prefix(tok.encode(tmpl.apply(upto, false), false), ex.ids);
    }
    for (size_t t = begin; t < end; ++t) ex.learn[t] = 1;
  }
  return ex;
}

// A teacher's tokens after the prompt as the teacher was given it (sft_data.h, "A teacher's tokens").
SftExample teacher_tokens_example(const Json& j, const std::string& where, const text::Tokenizer& tok,
                                  const text::ChatTemplate* tmpl) {
  if (!j.contains("prompt")) throw InputError(where, "prompt", "missing (completion_ids need their prompt)");
  if (!j.contains("completion") || !j["completion"].is_string())
    throw InputError(where, "completion", "expected the teacher's completion text (a string) beside completion_ids");
  const Json& p = j["prompt"];
  std::vector<harness::ChatTurn> turns;
  if (p.is_string()) turns.push_back({"user", p.get<std::string>()});
  else
    for (auto& m : messages_of(p, where, "prompt")) turns.push_back({m.role, m.content});
  const Json prefix = j.value("assistant_prefix", Json(""));
  if (!prefix.is_string()) throw InputError(where, "assistant_prefix", "expected a string");
  // As the engine encodes a rendered prompt: a chat template writes BOS itself, plain text gets the tokenizer's.
  SftExample ex;
  ex.ids = tok.encode(harness::render_prompt(tmpl, turns, prefix.get<std::string>()), /*add_special=*/!tmpl);
  const size_t n_prompt = ex.ids.size();
  if (j.contains("teacher_prompt_tokens") &&
      (!j["teacher_prompt_tokens"].is_number_integer() || j["teacher_prompt_tokens"].get<int64_t>() != static_cast<int64_t>(n_prompt)))
    throw InputError(where, "teacher_prompt_tokens",
                     fmt::format("the teacher was given {} prompt tokens, the student renders the prompt to {}: teacher "
                                 "and student must share a tokenizer and chat template", j["teacher_prompt_tokens"].dump(),
                                 n_prompt));

  const Json& ids = j["completion_ids"];
  if (!ids.is_array() || ids.empty()) throw InputError(where, "completion_ids", "expected a non-empty list of token ids");
  const auto vocab = static_cast<int64_t>(tok.vocab_size());
  text::StreamDecoder decoder(tok, /*skip_special=*/true);
  decoder.prime(ex.ids);
  std::string decoded;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!ids[i].is_number_integer() || ids[i].get<int64_t>() < 0 || ids[i].get<int64_t>() >= vocab)
      throw InputError(where, "completion_ids[" + std::to_string(i) + "]",
                       fmt::format("{} is not an id of the student's vocabulary ({} tokens): teacher and student must "
                                   "share a tokenizer", ids[i].dump(), vocab));
    ex.ids.push_back(static_cast<TokenId>(ids[i].get<int64_t>()));
    decoded += decoder.push(ex.ids.back());
  }
  decoded += decoder.flush();
  // The stored text is the teacher's decoding of these ids, cut before a stop string: a different vocabulary reads
  // them as other text.
  const auto& completion = j["completion"].get_ref<const std::string&>();
  if (decoded.compare(0, completion.size(), completion) != 0)
    throw InputError(where, "completion_ids",
                     fmt::format("the student's tokenizer reads the teacher's tokens as {:?}, the teacher wrote {:?}: "
                                 "teacher and student must share a tokenizer (same vocabulary and ids)",
                                 decoded.substr(0, 60), completion.substr(0, 60)));
  ex.learn.assign(ex.ids.size(), 0);
  std::fill(ex.learn.begin() + static_cast<std::ptrdiff_t>(n_prompt), ex.learn.end(), 1);

  if (!j.contains("teacher_topk")) return ex;
  const Json& top = j["teacher_topk"];
  if (!top.is_object() || !top.contains("ids") || !top.contains("logprobs"))
    throw InputError(where, "teacher_topk", "expected {\"ids\": [[K ids] per token], \"logprobs\": [[K] per token]}");
  const Json &tids = top["ids"], &tlps = top["logprobs"];
  if (!tids.is_array() || tids.size() != ids.size() || !tlps.is_array() || tlps.size() != ids.size())
    throw InputError(where, "teacher_topk", fmt::format("needs one entry per completion id ({})", ids.size()));
  ex.teacher_k = tids[0].is_array() ? static_cast<int64_t>(tids[0].size()) : 0;
  if (ex.teacher_k < 1) throw InputError(where, "teacher_topk.ids[0]", "expected a non-empty list of ids");
  const auto K = static_cast<size_t>(ex.teacher_k);
  ex.teacher_ids.assign(ex.ids.size() * K, -1);
  ex.teacher_logprobs.assign(ex.ids.size() * K, 0.0f);
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string f = "[" + std::to_string(i) + "]";
    if (!tids[i].is_array() || tids[i].size() != K) throw InputError(where, "teacher_topk.ids" + f, fmt::format("expected {} ids", K));
    if (!tlps[i].is_array() || tlps[i].size() != K)
      throw InputError(where, "teacher_topk.logprobs" + f, fmt::format("expected {} numbers", K));
    for (size_t k = 0; k < K; ++k) {
      const Json &id = tids[i][k], &lp = tlps[i][k];
      if (!id.is_number_integer() || id.get<int64_t>() < -1 || id.get<int64_t>() >= vocab)
        throw InputError(where, "teacher_topk.ids" + f,
                         fmt::format("{} is not -1 (none) or an id of the student's vocabulary ({} tokens)", id.dump(), vocab));
      if (!lp.is_number() || !(lp.get<double>() <= 0.0))
        throw InputError(where, "teacher_topk.logprobs" + f, "expected logprobs (numbers <= 0)");
      ex.teacher_ids[(n_prompt + i) * K + k] = static_cast<int32_t>(id.get<int64_t>());
      ex.teacher_logprobs[(n_prompt + i) * K + k] = static_cast<float>(lp.get<double>());
    }
  }
  return ex;
}

}  // namespace

int64_t SftExample::targets() const {
  int64_t n = 0;
  for (size_t t = 1; t < learn.size(); ++t) n += learn[t];
  return n;
}

std::vector<SftExample> load_sft_data(const std::string& path, const text::Tokenizer& tok,
                                      const text::ChatTemplate* tmpl, int64_t max_seq_len, SftDataStats* stats) {
  SftDataStats st;
  std::vector<SftExample> out;
  for_each_jsonl_file(path, [&](const Json& j, const std::string& where) {
    ++st.records;
    SftExample ex;
    if (j.contains("completion_ids")) {
      ex = teacher_tokens_example(j, where, tok, tmpl);
    } else if (j.contains("messages")) {
      if (!tmpl) throw InputError(where, "messages", "the model has no chat template to render messages with");
      auto msgs = messages_of(j["messages"], where, "messages");
      if (std::none_of(msgs.begin(), msgs.end(), [](const auto& m) { return m.role == "assistant"; }))
        throw InputError(where, "messages", "no assistant message to learn from");
      ex = render(msgs, 0, tok, *tmpl);
    } else if (j.contains("prompt") || j.contains("completion")) {
      if (!j.contains("prompt")) throw InputError(where, "prompt", "missing (a completion needs its prompt)");
      if (!j.contains("completion")) throw InputError(where, "completion", "missing");
      const Json &p = j["prompt"], &c = j["completion"];
      if (p.is_string() != c.is_string())
        throw InputError(where, "completion", "prompt and completion must both be strings or both message lists");
      if (!p.is_string() && !p.is_array()) throw InputError(where, "prompt", "expected a string or a message list");
      if (!tmpl) {
        if (!p.is_string()) throw InputError(where, "prompt", "the model has no chat template: give strings");
        // TRL's non-conversational prompt-completion: BOS + prompt + completion + EOS, completion after the prefix.
        auto prompt_ids = tok.encode(p.get<std::string>(), true);
        ex.ids = tok.encode(p.get<std::string>() + c.get<std::string>(), true);
        auto eos = tok.eos_ids();
        if (!eos.empty()) ex.ids.push_back(eos.front());
        ex.learn.assign(ex.ids.size(), 0);
        for (size_t t = common_prefix(prompt_ids, ex.ids); t < ex.ids.size(); ++t) ex.learn[t] = 1;
      } else {
        std::vector<ChatMessage> msgs;
        if (p.is_string()) {
          msgs = {{"user", p.get<std::string>()}, {"assistant", c.get<std::string>()}};
        } else {
          msgs = messages_of(p, where, "prompt");
          auto comp = messages_of(c, where, "completion");
          msgs.insert(msgs.end(), comp.begin(), comp.end());
        }
        const size_t n_prompt = p.is_string() ? 1 : p.size();
        // TRL: everything after the prompt's rendering (with a generation prompt) is the completion.
        std::vector<ChatMessage> prompt(msgs.begin(), msgs.begin() + static_cast<std::ptrdiff_t>(n_prompt));
        ex.ids = tok.encode(tmpl->apply(msgs, false), false);
        ex.learn.assign(ex.ids.size(), 0);
        for (size_t t = common_prefix(tok.encode(tmpl->apply(prompt, true), false), ex.ids); t < ex.ids.size(); ++t)
          ex.learn[t] = 1;
      }
    } else {
      throw InputError(where, "messages", "expected {\"messages\": [...]} or {\"prompt\": ..., \"completion\": ...}");
    }
    ex.where = where;
    if (static_cast<int64_t>(ex.ids.size()) > max_seq_len) {
      ex.ids.resize(static_cast<size_t>(max_seq_len));
      ex.learn.resize(static_cast<size_t>(max_seq_len));
      ex.teacher_ids.resize(static_cast<size_t>(max_seq_len * ex.teacher_k));
      ex.teacher_logprobs.resize(static_cast<size_t>(max_seq_len * ex.teacher_k));
      ++st.truncated;
    }
    // The step takes KD rows or CE rows of one K: a file holds teacher top-K on every record or on none.
    if (!out.empty() && ex.teacher_k != out.front().teacher_k)
      throw InputError(where, "teacher_topk",
                       fmt::format("{} alternatives per token, {} has {}: every record needs the same K (or none)",
                                   ex.teacher_k, out.front().where, out.front().teacher_k));
    if (ex.targets() == 0) {
      log::warn("{}: nothing to learn after truncation to {} tokens; record skipped", where, max_seq_len);
      ++st.dropped;
      return;
    }
    st.tokens += static_cast<int64_t>(ex.ids.size());
    st.targets += ex.targets();
    out.push_back(std::move(ex));
  });
  if (out.empty()) throw InputError(path, "", "no usable SFT records (need {messages} or {prompt, completion} lines)");
  if (stats) *stats = st;
  return out;
}

std::vector<std::vector<size_t>> plan_batches(const std::vector<SftExample>& data, int64_t batch_tokens, int64_t steps,
                                              double epochs, uint64_t seed) {
  std::vector<std::vector<size_t>> plan;
  auto one_epoch = [&](uint64_t epoch) {
    std::vector<size_t> order(data.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed + epoch);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<std::vector<size_t>> batches(1);
    int64_t tokens = 0;
    for (size_t i : order) {
      if (tokens >= batch_tokens) {
        batches.emplace_back();
        tokens = 0;
      }
      batches.back().push_back(i);
      tokens += static_cast<int64_t>(data[i].ids.size());
    }
    return batches;
  };
  if (steps > 0) {
    for (uint64_t e = 0; static_cast<int64_t>(plan.size()) < steps; ++e)
      for (auto& b : one_epoch(e))
        if (static_cast<int64_t>(plan.size()) < steps) plan.push_back(std::move(b));
    return plan;
  }
  const auto whole = static_cast<uint64_t>(std::floor(epochs));
  for (uint64_t e = 0; e < whole; ++e)
    for (auto& b : one_epoch(e)) plan.push_back(std::move(b));
  if (const double frac = epochs - static_cast<double>(whole); frac > 0) {
    auto last = one_epoch(whole);
    const auto take = static_cast<size_t>(std::ceil(frac * static_cast<double>(last.size())));
    for (size_t i = 0; i < take; ++i) plan.push_back(std::move(last[i]));
  }
  return plan;
}

std::vector<std::vector<size_t>> pack_rows(const std::vector<SftExample>& data, const std::vector<size_t>& batch,
                                           int64_t row_tokens, bool pack) {
  std::vector<std::vector<size_t>> rows;
  if (!pack) {
    for (size_t i : batch) rows.push_back({i});
    return rows;
  }
  std::vector<size_t> order = batch;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return data[a].ids.size() > data[b].ids.size(); });
  std::vector<int64_t> free_space;
  for (size_t i : order) {
    const auto len = static_cast<int64_t>(data[i].ids.size());
    // Best fit: the fullest row that still has room.
    int64_t best = -1;
    for (size_t r = 0; r < rows.size(); ++r)
      if (free_space[r] >= len && (best < 0 || free_space[r] < free_space[static_cast<size_t>(best)]))
        best = static_cast<int64_t>(r);
    if (best < 0) {
      rows.push_back({i});
      free_space.push_back(std::max(row_tokens, len) - len);
    } else {
      rows[static_cast<size_t>(best)].push_back(i);
      free_space[static_cast<size_t>(best)] -= len;
    }
  }
  return rows;
}

}  // namespace crucible::trainer
