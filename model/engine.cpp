// Shape legend: B busy slots this step, T tokens per sequence this step, V vocabulary, N cache slots,
// K kv heads, P prompt length, E head dim.
#include "model/engine.h"
#include "model/engine_sequence.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>
#include <memory>

#include "core/error.h"

namespace crucible::model {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

using detail::Prefix;
using detail::Sequence;

}  // namespace

const char* finish_reason_name(FinishReason r) { return r == FinishReason::stop ? "stop" : "length"; }

uint64_t sample_seed(uint64_t request_seed, int64_t sample_index) {
  return splitmix64(splitmix64(request_seed) ^ static_cast<uint64_t>(sample_index + 1) * 0x2545f4914f6cdd1dull);
}

Sampler::Sampler(uint64_t seed) : rng_(seed) {}

TokenId Sampler::sample(const float* logits, int64_t V, const SamplingParams& p) {
  if (p.temperature <= 0) return static_cast<TokenId>(std::max_element(logits, logits + V) - logits);
  const float temperature = static_cast<float>(p.temperature);
  cand_.resize(V);
  for (int64_t i = 0; i < V; ++i) cand_[i] = {logits[i] / temperature, static_cast<TokenId>(i)};
  auto higher = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  auto first = cand_.begin();
  int64_t n = V;
  if (p.top_k > 0 && p.top_k < V) {
    std::nth_element(first, first + p.top_k, cand_.end(), higher);
    n = p.top_k;
  }
  float xmax = -INFINITY;
  for (int64_t i = 0; i < n; ++i) xmax = std::max(xmax, cand_[i].first);
  if (p.top_p < 1.0) {
    // Keep the smallest highest-probability prefix whose mass reaches top_p (transformers keeps a token when the
    // mass strictly above it is < top_p). The nucleus is usually small: sort a growing head, not the vocabulary.
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total += std::exp(static_cast<double>(cand_[i].first - xmax));
    for (int64_t m = std::min<int64_t>(n, 64);; m = std::min<int64_t>(n, m * 8)) {
      std::partial_sort(first, first + m, first + n, higher);
      double cum = 0;
      int64_t keep = -1;
      for (int64_t r = 0; r < m; ++r) {
        cum += std::exp(static_cast<double>(cand_[r].first - xmax)) / total;
        if (cum >= p.top_p) {
          keep = r + 1;
          break;
        }
      }
      if (keep > 0) {
        n = keep;
        break;
      }
      if (m == n) break;
    }
  }
  if (p.min_p > 0) {
    const float threshold = xmax + std::log(static_cast<float>(p.min_p));
    n = std::partition(first, first + n, [&](const auto& c) { return c.first >= threshold; }) - first;
  }
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += std::exp(static_cast<double>(cand_[i].first - xmax));
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_) * total;
  double cum = 0;
  for (int64_t i = 0; i < n; ++i) {
    cum += std::exp(static_cast<double>(cand_[i].first - xmax));
    if (u < cum) return cand_[i].second;
  }
  return cand_[n - 1].second;
}

Engine::Engine(Transformer model, const text::Tokenizer* tokenizer, EngineOptions options)
    : model_(std::move(model)), tokenizer_(tokenizer), options_(options) {
  model_->prepare_cached_forward();
  for (auto e : model_->config().eos_token_ids) eos_.push_back(static_cast<TokenId>(e));
  if (tokenizer_)
    for (auto e : tokenizer_->eos_ids())
      if (std::find(eos_.begin(), eos_.end(), e) == eos_.end()) eos_.push_back(e);
}

TokenVerdict accept_token(const SamplingParams& p, const std::vector<TokenId>& eos, TokenId tok,
                          std::vector<TokenId>& out, std::string& text, text::StreamDecoder* decoder) {
  TokenVerdict v;
  if (!p.ignore_eos && std::find(eos.begin(), eos.end(), tok) != eos.end()) {
    v.kind = TokenVerdict::Kind::eos;
    return v;
  }
  out.push_back(tok);
  if (decoder) {
    v.piece = decoder->push(tok);
    const size_t before = text.size();
    text += v.piece;
    size_t max_stop = 0;
    for (const auto& st : p.stop) max_stop = std::max(max_stop, st.size());
    const size_t from = before >= max_stop ? before - max_stop : 0;
    size_t hit = std::string::npos;
    for (const auto& st : p.stop) {
      if (st.empty()) continue;
      const size_t at = text.find(st, from);
      if (at != std::string::npos && at < hit) {
        hit = at;
        v.matched = st;
      }
    }
    if (hit != std::string::npos) {
      text.resize(hit);
      v.piece = hit > before ? v.piece.substr(0, hit - before) : std::string();
      v.kind = TokenVerdict::Kind::stop_string;
      return v;
    }
  }
  if (static_cast<int64_t>(out.size()) >= p.max_new_tokens) {
    if (decoder) text += decoder->flush();  // a character cut by the length limit becomes U+FFFD
    v.kind = TokenVerdict::Kind::length;
  }
  return v;
}

std::vector<SampleOutput> Engine::generate(const std::vector<GenerationRequest>& requests,
                                           const TokenCallback& on_token,
                                           const std::function<void(const SampleOutput&)>& on_done) {
  torch::NoGradGuard no_grad;
  const auto& cfg = model_->config();
  const int64_t V = cfg.vocab_size;
  std::vector<size_t> first_output(requests.size() + 1, 0);
  int64_t max_seq = 0;
  for (size_t r = 0; r < requests.size(); ++r) {
    const auto& q = requests[r];
    if (q.prompt.empty()) throw InputError("request " + std::to_string(r), "prompt", "is empty (needs at least BOS)");
    if (q.n_samples < 1) throw InputError("request " + std::to_string(r), "samples", "must be at least 1");
    if (!q.sample_seeds.empty() && static_cast<int64_t>(q.sample_seeds.size()) != q.n_samples)
      throw InputError("request " + std::to_string(r), "sample_seeds", "needs one seed per sample");
    for (auto t : q.prompt)
      if (t < 0 || t >= V) throw InputError("request " + std::to_string(r), "prompt", "token id " + std::to_string(t) + " outside the vocabulary");
    first_output[r + 1] = first_output[r] + static_cast<size_t>(q.n_samples);
    max_seq = std::max<int64_t>(max_seq, static_cast<int64_t>(q.prompt.size()) + q.params.max_new_tokens);
  }
  if (options_.max_seq > 0) max_seq = options_.max_seq;
  std::vector<SampleOutput> outputs(first_output.back());
  if (outputs.empty()) return outputs;

  std::deque<std::pair<size_t, int64_t>> queue;
  for (size_t r = 0; r < requests.size(); ++r)
    for (int64_t s = 0; s < requests[r].n_samples; ++s) queue.emplace_back(r, s);
  const int64_t n_slots = std::min<int64_t>(options_.max_batch, static_cast<int64_t>(queue.size()));
  KVCache cache = model_->make_cache(n_slots, max_seq);
  std::vector<std::unique_ptr<Sequence>> slots(n_slots);  // owned, so a sequence can move slots
  std::map<size_t, Prefix> prefixes;
  const auto dev = model_->device();

  auto finish = [&](int64_t slot, FinishReason why, std::optional<std::string> matched) {
    auto& s = *slots[slot];
    auto& o = outputs[first_output[s.request] + s.sample];
    const auto& req = requests[s.request];
    o.request = s.request;
    o.sample = s.sample;
    o.tokens = std::move(s.out);
    o.text = std::move(s.text);
    o.finish = why;
    o.stop_matched = std::move(matched);
    o.prompt_tokens = static_cast<int64_t>(req.prompt.size());
    o.completion_tokens = static_cast<int64_t>(o.tokens.size());
    slots[slot].reset();
    if (on_done) on_done(o);
  };

  auto mask_eos = [&](float* row) {
    for (auto e : eos_)
      if (e >= 0 && e < V) row[e] = -INFINITY;
  };

  // Appends a sampled token to the sequence in `slot`; frees the slot when the sequence is done.
  auto accept = [&](int64_t slot, TokenId tok) {
    auto& s = *slots[slot];
    auto v = accept_token(requests[s.request].params, eos_, tok, s.out, s.text, s.decoder ? &*s.decoder : nullptr);
    using K = TokenVerdict::Kind;
    if (v.kind == K::eos) {
      finish(slot, FinishReason::stop, tokenizer_ ? std::optional(tokenizer_->token_bytes(tok)) : std::nullopt);
      return;
    }
    if (on_token) on_token(s.request, s.sample, tok, v.piece);
    if (v.kind == K::stop_string) finish(slot, FinishReason::stop, v.matched);
    else if (v.kind == K::length) finish(slot, FinishReason::length, std::nullopt);
    else s.next_input = tok;
  };

  // Prefills the prompts of the requests whose first slots are `leaders` (one slot per request), as padded batches of
  // up to kPrefillTokens positions, shortest prompts together; returns each request's last-position logits.
  constexpr int64_t kPrefillTokens = 4096;
  auto prefill = [&](std::vector<int64_t> leaders, std::map<size_t, std::vector<float>>& logits_of) {
    auto prompt_len = [&](int64_t slot) { return static_cast<int64_t>(requests[slots[slot]->request].prompt.size()); };
    std::sort(leaders.begin(), leaders.end(), [&](int64_t a, int64_t b) { return prompt_len(a) < prompt_len(b); });
    for (size_t i = 0; i < leaders.size();) {
      size_t j = i + 1;  // rows i..j-1, padded to the longest (the last, after the sort)
      while (j < leaders.size() && static_cast<int64_t>(j + 1 - i) * prompt_len(leaders[j]) <= kPrefillTokens) ++j;
      const int64_t B = static_cast<int64_t>(j - i), T = prompt_len(leaders[j - 1]);
      const auto t0 = Clock::now();
      std::vector<int64_t> ids(static_cast<size_t>(B * T), 0);
      CacheStep step;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t slot = leaders[i + b];
        const auto& prompt = requests[slots[slot]->request].prompt;
        std::copy(prompt.begin(), prompt.end(), ids.begin() + b * T);
        step.slots_B.push_back(slot);
        step.start_B.push_back(0);
        step.len_B.push_back(static_cast<int64_t>(prompt.size()));
        stats_.prefill_tokens += static_cast<int64_t>(prompt.size());
      }
      auto tokens_BT = torch::tensor(ids, torch::kInt64).view({B, T}).to(dev);
      auto logits_BV = model_->forward_cached(tokens_BT, step, cache).to(torch::kCPU, torch::kFloat32).contiguous();
      for (int64_t b = 0; b < B; ++b) {
        const float* row = logits_BV.data_ptr<float>() + b * V;
        logits_of[slots[leaders[i + b]]->request].assign(row, row + V);
      }
      stats_.prefill_seconds += seconds_since(t0);
      i = j;
    }
  };

  // One round of putting queued sequences into free slots. A request's prompt is prefilled once (batched with the
  // other requests starting now); its samples starting in the same round fork the cache rows, and a copy of the
  // prefilled rows is kept while more of its samples wait in the queue. Returns whether any slot was filled.
  auto fill_round = [&]() {
    std::vector<int64_t> fresh;
    for (int64_t slot = 0; slot < n_slots && !queue.empty(); ++slot) {
      if (slots[slot]) continue;
      auto [r, sample] = queue.front();
      queue.pop_front();
      const auto& req = requests[r];
      auto s = std::make_unique<Sequence>();
      s->request = r;
      s->sample = sample;
      s->len = static_cast<int64_t>(req.prompt.size());
      s->sampler.emplace(req.sample_seeds.empty() ? sample_seed(req.params.seed, sample)
                                                  : req.sample_seeds[static_cast<size_t>(sample)]);
      if (tokenizer_) {
        // Primed with the prompt so a SentencePiece leading space is dropped only at the very start of the text.
        s->decoder.emplace(*tokenizer_, /*skip_special=*/true);
        s->decoder->prime(req.prompt);
      }
      slots[slot] = std::move(s);
      fresh.push_back(slot);
    }
    if (fresh.empty()) return false;
    std::map<size_t, int64_t> source;  // request -> the slot holding its prompt's K/V
    std::map<size_t, std::vector<float>> logits_of;
    std::vector<int64_t> leaders;
    for (auto slot : fresh) {
      const size_t r = slots[slot]->request;
      if (source.count(r)) continue;
      source[r] = slot;
      auto pit = prefixes.find(r);
      if (pit == prefixes.end()) {
        leaders.push_back(slot);
        continue;
      }
      const int64_t P = slots[slot]->len;
      for (size_t l = 0; l < cache.k_NKSE.size(); ++l) {
        cache.k_NKSE[l][slot].narrow(1, 0, P).copy_(pit->second.k_KPE[l]);
        cache.v_NKSE[l][slot].narrow(1, 0, P).copy_(pit->second.v_KPE[l]);
      }
      logits_of[r] = pit->second.logits_V;
    }
    prefill(leaders, logits_of);
    for (auto slot : fresh) {
      const int64_t from = source.at(slots[slot]->request);
      if (from != slot) cache.copy_slot(from, slot, slots[slot]->len);
    }
    // Requests are queued sample by sample, so only the one now at the queue's front can have samples left.
    const std::optional<size_t> waiting = queue.empty() ? std::nullopt : std::optional(queue.front().first);
    for (const auto& [r, slot] : source) {
      if (waiting == r) {
        if (!prefixes.count(r)) {
          Prefix pre;
          const int64_t P = slots[slot]->len;
          for (size_t l = 0; l < cache.k_NKSE.size(); ++l) {
            pre.k_KPE.push_back(cache.k_NKSE[l][slot].narrow(1, 0, P).clone());
            pre.v_KPE.push_back(cache.v_NKSE[l][slot].narrow(1, 0, P).clone());
          }
          pre.logits_V = logits_of.at(r);
          prefixes[r] = std::move(pre);
        }
      } else {
        prefixes.erase(r);
      }
    }
    for (auto slot : fresh) {
      const auto& req = requests[slots[slot]->request];
      std::vector<float> logits_V = logits_of.at(slots[slot]->request);
      if (req.params.min_new_tokens > 0) mask_eos(logits_V.data());
      accept(slot, slots[slot]->sampler->sample(logits_V.data(), V, req.params));
    }
    return true;
  };

  // Keeps the busy slots at 0..B-1 so a decode step reads the cache in place: when sequences finish and nothing is
  // queued to take their slots, the highest busy slot moves into the lowest free one (one copy of its rows, instead
  // of a gather of every busy row on every step).
  auto compact = [&]() {
    for (int64_t lo = 0, hi = n_slots - 1;; ++lo, --hi) {
      while (lo < n_slots && slots[lo]) ++lo;
      while (hi >= 0 && !slots[hi]) --hi;
      if (lo >= hi) break;
      cache.copy_slot(hi, lo, slots[hi]->len);
      slots[lo] = std::move(slots[hi]);
    }
  };
  auto fill = [&]() {
    while (!queue.empty() && fill_round()) {
    }
    compact();
  };

  for (fill();; fill()) {
    std::vector<int64_t> busy, starts;
    std::vector<int64_t> inputs;
    for (int64_t slot = 0; slot < n_slots; ++slot)
      if (slots[slot]) {
        busy.push_back(slot);
        starts.push_back(slots[slot]->len);
        inputs.push_back(slots[slot]->next_input);
      }
    if (busy.empty()) break;
    const auto t0 = Clock::now();
    auto tokens_B1 = torch::tensor(inputs, torch::kInt64).to(dev).unsqueeze(1);
    auto logits_BV = model_->forward_cached(tokens_B1, CacheStep{busy, starts}, cache);
    auto l32 = logits_BV.to(torch::kCPU, torch::kFloat32).contiguous();
    float* rows = l32.data_ptr<float>();
    // Rows are sampled in parallel (each sample owns its RNG, so the result does not depend on the split), then
    // accepted in slot order because accepting frees slots and streams text.
    std::vector<TokenId> picked(busy.size());
    at::parallel_for(0, static_cast<int64_t>(busy.size()), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b) {
        auto& s = *slots[busy[b]];
        const auto& params = requests[s.request].params;
        if (static_cast<int64_t>(s.out.size()) < params.min_new_tokens) mask_eos(rows + b * V);
        picked[b] = s.sampler->sample(rows + b * V, V, params);
      }
    });
    for (size_t b = 0; b < busy.size(); ++b) {
      slots[busy[b]]->len += 1;
      accept(busy[b], picked[b]);
    }
    stats_.decode_tokens += static_cast<int64_t>(busy.size());
    stats_.decode_steps += 1;
    stats_.decode_seconds += seconds_since(t0);
  }
  return outputs;
}

}  // namespace crucible::model
