// Shape legend: B busy slots this step, T tokens per sequence this step, V vocabulary, N cache slots, K kv heads,
// P prompt length, S cache positions, E head dim.
#include "model/engine_session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>

#include "core/error.h"
#include "kernels/torch/parallel.h"

namespace crucible::model {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Prefix {  // a prefilled prompt kept for samples that did not get a slot at prefill time
  std::vector<torch::Tensor> k_KPE, v_KPE;
  std::vector<float> logits_V;
};

struct Sequence {
  size_t request = 0;
  int64_t sample = 0;
  int64_t len = 0;  // positions filled in the cache
  TokenId next_input = 0;
  std::optional<Sampler> sampler;
  std::vector<TokenId> out;
  std::string text;
  std::optional<text::StreamDecoder> decoder;
  std::vector<TokenLogprob> logprobs;  // params.logprobs: one per drawn token (the EOS that ends it included)
};

struct Pending {
  GenerationRequest req;
  int64_t unfinished = 0;                     // samples not yet finished (queued or running)
  std::optional<Prefix> prefix;               // while some samples are still queued after the prefill
  std::vector<TokenLogprob> prompt_logprobs;  // score_prompt: filled by the prefill, copied to each sample
};

// A prefill batch holds at most this many (padded) positions.
constexpr int64_t kPrefillTokens = 4096;

}  // namespace

struct EngineSession::Impl {
  Transformer model{nullptr};
  const text::Tokenizer* tokenizer;
  EngineOptions options;
  EngineStats stats;
  std::vector<TokenId> eos;
  int64_t V = 0;
  KVCache cache;
  std::vector<std::unique_ptr<Sequence>> slots;  // one per cache slot; owned, so a sequence can move slots
  std::deque<std::pair<size_t, int64_t>> queue;  // (request, sample) waiting for a slot
  std::map<size_t, Pending> requests;
  size_t next_handle = 0;

  const SamplingParams& params_of(const Sequence& s) const { return requests.at(s.request).req.params; }

  void mask_eos(float* row) const {
    for (auto e : eos)
      if (e >= 0 && e < V) row[e] = -INFINITY;
  }

  void name_tokens(TokenLogprob& lp) const {
    if (!tokenizer) return;
    lp.text = tokenizer->token_bytes(lp.token_id);
    for (auto& t : lp.top) t.text = tokenizer->token_bytes(t.token_id);
  }

  // Grows the cache to at least `n_slots` slots and `positions` positions, keeping what it holds. Slots grow with
  // the samples live or queued (up to max_batch); positions with the longest live sequence, doubling, up to the
  // context: a chat request's default max_tokens is the whole context, and max_batch x context of KV is gigabytes.
  void reserve(int64_t n_slots, int64_t positions) {
    const int64_t have_slots = cache.slots(), have_pos = cache.capacity();
    if (n_slots <= have_slots && positions <= have_pos) return;
    const int64_t new_slots =
        n_slots <= have_slots ? have_slots : std::min(options.max_batch, std::max(n_slots, 2 * have_slots));
    const int64_t new_pos = positions <= have_pos
                                ? have_pos
                                : std::min(options.max_seq, std::max({positions, int64_t{256}, 2 * have_pos}));
    KVCache bigger = model->make_cache(new_slots, new_pos);
    torch::NoGradGuard no_grad;
    for (size_t l = 0; l < cache.k_NKSE.size(); ++l) {
      bigger.k_NKSE[l].narrow(0, 0, have_slots).narrow(2, 0, have_pos).copy_(cache.k_NKSE[l]);
      bigger.v_NKSE[l].narrow(0, 0, have_slots).narrow(2, 0, have_pos).copy_(cache.v_NKSE[l]);
    }
    cache = std::move(bigger);
    slots.resize(static_cast<size_t>(new_slots));
  }

  void finish(int64_t slot, FinishReason why, std::optional<std::string> matched,
              const std::function<void(const SampleOutput&)>& on_done) {
    auto& s = *slots[slot];
    auto it = requests.find(s.request);
    SampleOutput o;
    o.request = s.request;
    o.sample = s.sample;
    o.tokens = std::move(s.out);
    o.text = std::move(s.text);
    o.finish = why;
    o.stop_matched = std::move(matched);
    o.prompt_tokens = static_cast<int64_t>(it->second.req.prompt.size());
    o.completion_tokens = static_cast<int64_t>(o.tokens.size());
    o.logprobs = std::move(s.logprobs);
    o.prompt_logprobs = it->second.prompt_logprobs;
    slots[slot].reset();
    if (--it->second.unfinished == 0) requests.erase(it);
    if (on_done) on_done(o);
  }

  // Draws the next token of the sequence in `slot` from its logits row (float32, length V; masked in place), and
  // records its logprobs when asked: under the model from the raw row, under the sampler from what it drew from.
  TokenId pick(Sequence& s, float* row) const {
    const auto& p = params_of(s);
    std::optional<RowLogprobs> lp;
    if (p.logprobs) lp = row_logprobs(row, V, p.top_logprobs);
    if (static_cast<int64_t>(s.out.size()) < p.min_new_tokens) mask_eos(row);
    double sampling_lp = 0;
    const TokenId tok = s.sampler->sample(row, V, p, lp ? &sampling_lp : nullptr);
    if (lp) {
      // row[tok] is still raw: a masked EOS (-inf) is never drawn.
      s.logprobs.push_back(token_logprob(row, *lp, tok));
      s.logprobs.back().sampling_logprob = sampling_lp;
      name_tokens(s.logprobs.back());
    }
    return tok;
  }

  // Applies accept_token (EOS, stop strings, length); frees the slot when the sequence is done.
  void accept(int64_t slot, TokenId tok, const TokenCallback& on_token,
              const std::function<void(const SampleOutput&)>& on_done) {
    auto& s = *slots[slot];
    auto v = accept_token(params_of(s), eos, tok, s.out, s.text, s.decoder ? &*s.decoder : nullptr);
    using K = TokenVerdict::Kind;
    if (v.kind == K::eos) {
      finish(slot, FinishReason::stop, tokenizer ? std::optional(tokenizer->token_bytes(tok)) : std::nullopt, on_done);
      return;
    }
    if (on_token) on_token(s.request, s.sample, tok, v.piece);
    if (v.kind == K::stop_string) finish(slot, FinishReason::stop, v.matched, on_done);
    else if (v.kind == K::length) finish(slot, FinishReason::length, std::nullopt, on_done);
    else s.next_input = tok;
  }

  // Each prompt token's logprob given the ones before it, from the prefill's final hidden states of every position
  // (h_PD), turned into logits a block of positions at a time (options.score_chunk_logits).
  std::vector<TokenLogprob> score(const torch::Tensor& h_PD, const std::vector<TokenId>& prompt, int64_t n_top) {
    const int64_t n = static_cast<int64_t>(prompt.size()) - 1;  // position t predicts token t + 1
    std::vector<TokenLogprob> out(static_cast<size_t>(n));
    const int64_t chunk = std::max<int64_t>(1, options.score_chunk_logits / V);
    for (int64_t first = 0; first < n; first += chunk) {
      const int64_t c = std::min(chunk, n - first);
      auto logits_CV = model->lm_logits(h_PD.narrow(0, first, c)).to(torch::kCPU, torch::kFloat32).contiguous();
      const float* rows = logits_CV.data_ptr<float>();
      at::parallel_for(0, c, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t t = lo; t < hi; ++t) {
          const float* row = rows + t * V;
          out[first + t] = token_logprob(row, row_logprobs(row, V, n_top), prompt[first + t + 1]);
        }
      });
    }
    for (auto& lp : out) name_tokens(lp);
    return out;
  }

  // Prefills the prompts of the requests whose first slots are `leaders` (one slot per request), as padded batches of
  // up to kPrefillTokens positions, shortest prompts together (a prompt to score goes alone: all its positions'
  // logits are kept); returns each request's last-position logits.
  void prefill(std::vector<int64_t> leaders, std::map<size_t, std::vector<float>>& logits_of) {
    const auto dev = model->device();
    auto request_of = [&](int64_t slot) -> Pending& { return requests.at(slots[slot]->request); };
    auto prompt_len = [&](int64_t slot) { return static_cast<int64_t>(request_of(slot).req.prompt.size()); };
    std::sort(leaders.begin(), leaders.end(), [&](int64_t a, int64_t b) { return prompt_len(a) < prompt_len(b); });
    for (size_t i = 0; i < leaders.size();) {
      const bool scoring = request_of(leaders[i]).req.score_prompt;
      size_t j = i + 1;  // rows i..j-1, padded to the longest (the last, after the sort)
      while (!scoring && j < leaders.size() && !request_of(leaders[j]).req.score_prompt &&
             static_cast<int64_t>(j + 1 - i) * prompt_len(leaders[j]) <= kPrefillTokens)
        ++j;
      const int64_t B = static_cast<int64_t>(j - i), T = prompt_len(leaders[j - 1]);
      const auto t0 = Clock::now();
      std::vector<int64_t> ids(static_cast<size_t>(B * T), 0);
      CacheStep step;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t slot = leaders[i + b];
        const auto& prompt = request_of(slot).req.prompt;
        std::copy(prompt.begin(), prompt.end(), ids.begin() + b * T);
        step.slots_B.push_back(slot);
        step.start_B.push_back(0);
        step.len_B.push_back(static_cast<int64_t>(prompt.size()));
        stats.prefill_tokens += static_cast<int64_t>(prompt.size());
      }
      auto tokens_BT = torch::tensor(ids, torch::kInt64).view({B, T}).to(dev);
      torch::Tensor logits;
      if (scoring) {  // one row (B = 1): every position's hidden state, scored in blocks
        auto& pending = request_of(leaders[i]);
        auto h_PD = model->forward_cached_hidden(tokens_BT, step, cache)[0];
        pending.prompt_logprobs = score(h_PD, pending.req.prompt, pending.req.params.top_logprobs);
        logits = model->lm_logits(h_PD.narrow(0, T - 1, 1));  // the last position predicts the first new token
      } else {
        logits = model->forward_cached(tokens_BT, step, cache);
      }
      logits = logits.to(torch::kCPU, torch::kFloat32).contiguous();
      const float* rows = logits.data_ptr<float>();
      for (int64_t b = 0; b < B; ++b)
        logits_of[slots[leaders[i + b]]->request].assign(rows + b * V, rows + (b + 1) * V);
      stats.prefill_seconds += seconds_since(t0);
      i = j;
    }
  }

  // One round of putting queued samples into free slots. A request's prompt is prefilled once (batched with the
  // other requests starting now); its samples starting in the same round fork the cache rows, and a copy of the
  // prefilled rows is kept while more of its samples wait in the queue. Returns whether any slot was filled.
  bool fill_round(const TokenCallback& on_token, const std::function<void(const SampleOutput&)>& on_done) {
    int64_t busy = 0, longest = 0;
    for (const auto& s : slots) busy += s ? 1 : 0;
    for (const auto& [r, sample] : queue) longest = std::max<int64_t>(longest, requests.at(r).req.prompt.size());
    reserve(busy + static_cast<int64_t>(queue.size()), longest);
    std::vector<int64_t> fresh;
    for (int64_t slot = 0; slot < cache.slots() && !queue.empty(); ++slot) {
      if (slots[slot]) continue;
      auto [r, sample] = queue.front();
      queue.pop_front();
      const auto& req = requests.at(r).req;
      auto s = std::make_unique<Sequence>();
      s->request = r;
      s->sample = sample;
      s->len = static_cast<int64_t>(req.prompt.size());
      s->sampler.emplace(req.sample_seeds.empty() ? sample_seed(req.params.seed, sample)
                                                  : req.sample_seeds[static_cast<size_t>(sample)]);
      if (tokenizer) {
        // Primed with the prompt so a SentencePiece leading space is dropped only at the very start of the text.
        s->decoder.emplace(*tokenizer, /*skip_special=*/true);
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
      auto& pending = requests.at(r);
      if (!pending.prefix) {
        leaders.push_back(slot);
        continue;
      }
      const int64_t P = slots[slot]->len;
      for (size_t l = 0; l < cache.k_NKSE.size(); ++l) {
        cache.k_NKSE[l][slot].narrow(1, 0, P).copy_(pending.prefix->k_KPE[l]);
        cache.v_NKSE[l][slot].narrow(1, 0, P).copy_(pending.prefix->v_KPE[l]);
      }
      logits_of[r] = pending.prefix->logits_V;
    }
    prefill(leaders, logits_of);
    for (auto slot : fresh) {
      const int64_t from = source.at(slots[slot]->request);
      if (from != slot) cache.copy_slot(from, slot, slots[slot]->len);
    }
    // Requests are queued sample by sample, so only the one now at the queue's front can have samples left.
    const bool any_waiting = !queue.empty();
    const size_t waiting = any_waiting ? queue.front().first : 0;
    for (const auto& [r, slot] : source) {
      auto& pending = requests.at(r);
      if (!any_waiting || waiting != r) {
        pending.prefix.reset();
      } else if (!pending.prefix) {
        Prefix pre;
        const int64_t P = slots[slot]->len;
        for (size_t l = 0; l < cache.k_NKSE.size(); ++l) {
          pre.k_KPE.push_back(cache.k_NKSE[l][slot].narrow(1, 0, P).clone());
          pre.v_KPE.push_back(cache.v_NKSE[l][slot].narrow(1, 0, P).clone());
        }
        pre.logits_V = logits_of.at(r);
        pending.prefix = std::move(pre);
      }
    }
    for (auto slot : fresh) {
      auto& s = *slots[slot];
      if (params_of(s).max_new_tokens == 0) {  // scoring only
        finish(slot, FinishReason::length, std::nullopt, on_done);
        continue;
      }
      std::vector<float> logits_V = logits_of.at(s.request);
      accept(slot, pick(s, logits_V.data()), on_token, on_done);
    }
    return true;
  }

  // Keeps the busy slots at 0..B-1 so a decode step reads the cache in place: when sequences finish and nothing is
  // queued to take their slots, the highest busy slot moves into the lowest free one (one copy of its rows, instead
  // of a gather of every busy row on every step).
  void compact() {
    const int64_t n_slots = static_cast<int64_t>(slots.size());
    for (int64_t lo = 0, hi = n_slots - 1;; ++lo, --hi) {
      while (lo < n_slots && slots[lo]) ++lo;
      while (hi >= 0 && !slots[hi]) --hi;
      if (lo >= hi) break;
      cache.copy_slot(hi, lo, slots[hi]->len);
      slots[lo] = std::move(slots[hi]);
    }
  }

  void decode(const TokenCallback& on_token, const std::function<void(const SampleOutput&)>& on_done) {
    std::vector<int64_t> busy, starts, inputs;
    for (int64_t slot = 0; slot < static_cast<int64_t>(slots.size()); ++slot)
      if (slots[slot]) {
        busy.push_back(slot);
        starts.push_back(slots[slot]->len);
        inputs.push_back(slots[slot]->next_input);
      }
    if (busy.empty()) return;
    reserve(0, *std::max_element(starts.begin(), starts.end()) + 1);
    const auto t0 = Clock::now();
    auto tokens_B1 = torch::tensor(inputs, torch::kInt64).to(model->device()).unsqueeze(1);
    auto logits_BV = model->forward_cached(tokens_B1, CacheStep{busy, starts}, cache);
    auto l32 = logits_BV.to(torch::kCPU, torch::kFloat32).contiguous();
    float* rows = l32.data_ptr<float>();
    // Rows are sampled in parallel (each sample owns its RNG, so the result does not depend on the split), then
    // accepted in slot order because accepting frees slots and streams text.
    std::vector<TokenId> picked(busy.size());
    at::parallel_for(0, static_cast<int64_t>(busy.size()), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b) picked[b] = pick(*slots[busy[b]], rows + b * V);
    });
    for (size_t b = 0; b < busy.size(); ++b) {
      slots[busy[b]]->len += 1;
      accept(busy[b], picked[b], on_token, on_done);
    }
    stats.decode_tokens += static_cast<int64_t>(busy.size());
    stats.decode_steps += 1;
    stats.decode_seconds += seconds_since(t0);
  }
};

EngineSession::EngineSession(Transformer model, const text::Tokenizer* tokenizer, EngineOptions options)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.model = std::move(model);
  m.tokenizer = tokenizer;
  m.options = options;
  if (m.options.max_batch < 1) throw InputError("engine", "max_batch", "must be at least 1");
  if (m.options.max_seq < 1) throw InputError("engine", "max_seq", "must be at least 1 (the context limit)");
  m.V = m.model->config().vocab_size;
  m.eos = eos_ids_of(m.model, tokenizer);
  m.model->prepare_cached_forward();  // a stale or missing packed copy is made now, not inside the first request
}

EngineSession::~EngineSession() = default;

size_t EngineSession::add(GenerationRequest q) {
  auto& m = *impl_;
  const std::string where = "request " + std::to_string(m.next_handle);
  if (q.prompt.empty()) throw InputError(where, "prompt", "is empty (needs at least BOS)");
  if (q.n_samples < 1) throw InputError(where, "samples", "must be at least 1");
  if (auto bad = check_sampling(q.params)) throw InputError(where, bad->field, bad->message);
  if (q.params.max_new_tokens < 1 && !q.score_prompt)
    throw InputError(where, "max_new_tokens", "must be at least 1 (0 only to score the prompt)");
  if (q.score_prompt && q.prompt.size() < 2)
    throw InputError(where, "prompt", "needs at least 2 tokens to be scored (the first has no logprob)");
  if (!q.sample_seeds.empty() && static_cast<int64_t>(q.sample_seeds.size()) != q.n_samples)
    throw InputError(where, "sample_seeds", "needs one seed per sample");
  for (auto t : q.prompt)
    if (t < 0 || t >= m.V) throw InputError(where, "prompt", "token id " + std::to_string(t) + " outside the vocabulary");
  const int64_t P = static_cast<int64_t>(q.prompt.size());
  if (P >= m.options.max_seq || q.params.max_new_tokens > m.options.max_seq - P)  // no overflow near INT64_MAX
    throw InputError(where, "max_new_tokens", "prompt (" + std::to_string(P) + ") + max_new_tokens (" +
                                                  std::to_string(q.params.max_new_tokens) + ") exceeds the context of " +
                                                  std::to_string(m.options.max_seq));
  const size_t h = m.next_handle++;
  for (int64_t s = 0; s < q.n_samples; ++s) m.queue.emplace_back(h, s);
  Pending p;
  p.unfinished = q.n_samples;
  p.req = std::move(q);
  m.requests.emplace(h, std::move(p));
  return h;
}

void EngineSession::cancel(size_t request) {
  auto& m = *impl_;
  std::erase_if(m.queue, [&](const auto& q) { return q.first == request; });
  for (auto& s : m.slots)
    if (s && s->request == request) s.reset();
  m.requests.erase(request);
}

bool EngineSession::idle() const { return impl_->requests.empty(); }

int64_t EngineSession::running() const {
  return std::count_if(impl_->slots.begin(), impl_->slots.end(), [](const auto& s) { return s != nullptr; });
}

void EngineSession::step(const TokenCallback& on_token, const std::function<void(const SampleOutput&)>& on_done) {
  torch::NoGradGuard no_grad;
  auto& m = *impl_;
  while (!m.queue.empty() && m.fill_round(on_token, on_done)) {
  }
  m.compact();
  m.decode(on_token, on_done);
}

const EngineStats& EngineSession::stats() const { return impl_->stats; }

}  // namespace crucible::model
