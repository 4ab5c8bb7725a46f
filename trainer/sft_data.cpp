#include "trainer/sft_data.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/json_io.h"
#include "core/log.h"

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
    if (j.contains("messages")) {
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
      ++st.truncated;
    }
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
