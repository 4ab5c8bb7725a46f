// Shape legend: B busy slots this step, V vocabulary, N cache slots, K kv heads, P prompt length, S cache positions,
// E head dim.
//
// The per-token rules (sampling, EOS, stop strings, length, streaming pieces) mirror Engine::generate in engine.cpp
// line for line; they are repeated rather than shared so the two loops can be changed independently while the engine
// internals are being optimised. tests/model/test_engine_session.cpp holds the two to the same tokens.
#include "model/engine_session.h"
#include "model/engine_sequence.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>

#include "core/error.h"

namespace crucible::model {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

using detail::Prefix;
using detail::Sequence;

struct Pending {
  GenerationRequest req;
  int64_t unfinished = 0;          // samples not yet finished (queued or running)
  std::optional<Prefix> prefix;    // while some samples are still queued after the prefill
};

}  // namespace

struct EngineSession::Impl {
  Transformer model{nullptr};
  const text::Tokenizer* tokenizer;
  EngineOptions options;
  EngineStats stats;
  std::vector<TokenId> eos;
  int64_t V = 0;
  KVCache cache;
  std::vector<std::optional<Sequence>> slots;
  std::deque<std::pair<size_t, int64_t>> queue;  // (request, sample) waiting for a slot
  std::map<size_t, Pending> requests;
  size_t next_handle = 0;

  void mask_eos(float* row) const {
    for (auto e : eos)
      if (e >= 0 && e < V) row[e] = -INFINITY;
  }

  // Positions grow with the longest live sequence (doubling, up to the context), not with what requests might
  // reach: a chat request's default max_tokens is the whole context, and max_batch x context of KV is gigabytes.
  void reserve(int64_t positions) {
    if (positions <= cache.capacity()) return;
    const int64_t cap = std::min(options.max_seq, std::max({positions, int64_t{256}, 2 * cache.capacity()}));
    KVCache bigger = model->make_cache(static_cast<int64_t>(slots.size()), cap);
    torch::NoGradGuard no_grad;
    for (size_t l = 0; l < cache.k_NKSE.size(); ++l) {
      const int64_t old = cache.capacity();
      bigger.k_NKSE[l].narrow(2, 0, old).copy_(cache.k_NKSE[l]);
      bigger.v_NKSE[l].narrow(2, 0, old).copy_(cache.v_NKSE[l]);
    }
    cache = std::move(bigger);
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
    slots[slot].reset();
    if (--it->second.unfinished == 0) requests.erase(it);
    if (on_done) on_done(o);
  }

  // Applies accept_token (the rules Engine::generate uses too); frees the slot when the sequence is done.
  void accept(int64_t slot, TokenId tok, const TokenCallback& on_token,
              const std::function<void(const SampleOutput&)>& on_done) {
    auto& s = *slots[slot];
    auto v = accept_token(requests.at(s.request).req.params, eos, tok, s.out, s.text,
                          s.decoder ? &*s.decoder : nullptr);
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

  // Puts queued samples into free slots; a prompt is prefilled once and its other samples copy its cache rows.
  void fill(const TokenCallback& on_token, const std::function<void(const SampleOutput&)>& on_done) {
    const auto dev = model->device();
    const int64_t n_slots = static_cast<int64_t>(slots.size());
    for (int64_t slot = 0; slot < n_slots && !queue.empty(); ++slot) {
      if (slots[slot]) continue;
      auto [r, sample] = queue.front();
      queue.pop_front();
      auto& pending = requests.at(r);
      const auto& req = pending.req;
      const int64_t P = static_cast<int64_t>(req.prompt.size());
      reserve(P);
      const bool more_queued = std::any_of(queue.begin(), queue.end(), [&](const auto& q) { return q.first == r; });
      std::vector<float> logits_V;
      if (pending.prefix) {
        for (size_t l = 0; l < cache.k_NKSE.size(); ++l) {
          cache.k_NKSE[l][slot].narrow(1, 0, P).copy_(pending.prefix->k_KPE[l]);
          cache.v_NKSE[l][slot].narrow(1, 0, P).copy_(pending.prefix->v_KPE[l]);
        }
        logits_V = pending.prefix->logits_V;
        if (!more_queued) pending.prefix.reset();
      } else {
        const auto t0 = Clock::now();
        auto tokens_1P = torch::tensor(std::vector<int64_t>(req.prompt.begin(), req.prompt.end()), torch::kInt64)
                             .to(dev)
                             .unsqueeze(0);
        auto logits_1V = model->forward_cached(tokens_1P, CacheStep{{slot}, {0}}, cache);
        auto l32 = logits_1V.to(torch::kCPU, torch::kFloat32).contiguous();
        logits_V.assign(l32.data_ptr<float>(), l32.data_ptr<float>() + V);
        stats.prefill_tokens += P;
        stats.prefill_seconds += seconds_since(t0);
        if (more_queued) {
          Prefix pre;
          for (size_t l = 0; l < cache.k_NKSE.size(); ++l) {
            pre.k_KPE.push_back(cache.k_NKSE[l][slot].narrow(1, 0, P).clone());
            pre.v_KPE.push_back(cache.v_NKSE[l][slot].narrow(1, 0, P).clone());
          }
          pre.logits_V = logits_V;
          pending.prefix = std::move(pre);
        }
      }
      Sequence& s = slots[slot].emplace();  // in place: the decoder holds a reference and cannot be moved
      s.request = r;
      s.sample = sample;
      s.len = P;
      s.sampler.emplace(req.sample_seeds.empty() ? sample_seed(req.params.seed, sample)
                                                 : req.sample_seeds[static_cast<size_t>(sample)]);
      if (tokenizer) {
        s.decoder.emplace(*tokenizer, /*skip_special=*/true);
        s.decoder->prime(req.prompt);
      }
      if (req.params.min_new_tokens > 0) mask_eos(logits_V.data());
      const TokenId tok = s.sampler->sample(logits_V.data(), V, req.params);
      accept(slot, tok, on_token, on_done);
      if (!slots[slot]) --slot;  // finished at once: offer the slot to the next sample
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
    reserve(*std::max_element(starts.begin(), starts.end()) + 1);
    const auto t0 = Clock::now();
    auto tokens_B1 = torch::tensor(inputs, torch::kInt64).to(model->device()).unsqueeze(1);
    auto logits_BV = model->forward_cached(tokens_B1, CacheStep{busy, starts}, cache);
    auto l32 = logits_BV.to(torch::kCPU, torch::kFloat32).contiguous();
    float* rows = l32.data_ptr<float>();
    std::vector<TokenId> picked(busy.size());
    at::parallel_for(0, static_cast<int64_t>(busy.size()), 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b) {
        auto& s = *slots[busy[b]];
        const auto& params = requests.at(s.request).req.params;
        if (static_cast<int64_t>(s.out.size()) < params.min_new_tokens) mask_eos(rows + b * V);
        picked[b] = s.sampler->sample(rows + b * V, V, params);
      }
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
  for (auto e : m.model->config().eos_token_ids) m.eos.push_back(static_cast<TokenId>(e));
  if (tokenizer)
    for (auto e : tokenizer->eos_ids())
      if (std::find(m.eos.begin(), m.eos.end(), e) == m.eos.end()) m.eos.push_back(e);
  m.slots.resize(static_cast<size_t>(m.options.max_batch));
}

EngineSession::~EngineSession() = default;

size_t EngineSession::add(GenerationRequest q) {
  auto& m = *impl_;
  const std::string where = "request";
  if (q.prompt.empty()) throw InputError(where, "prompt", "is empty (needs at least BOS)");
  if (q.n_samples < 1) throw InputError(where, "samples", "must be at least 1");
  if (q.params.max_new_tokens < 1) throw InputError(where, "max_new_tokens", "must be at least 1");
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
  return std::count_if(impl_->slots.begin(), impl_->slots.end(), [](const auto& s) { return s.has_value(); });
}

void EngineSession::step(const TokenCallback& on_token, const std::function<void(const SampleOutput&)>& on_done) {
  torch::NoGradGuard no_grad;
  impl_->fill(on_token, on_done);
  impl_->decode(on_token, on_done);
}

const EngineStats& EngineSession::stats() const { return impl_->stats; }

}  // namespace crucible::model
