// Shape legend: B busy slots this step, T tokens per sequence this step, V vocabulary, N cache slots,
// K kv heads, P prompt length, E head dim.
#include "model/engine.h"
#include "model/engine_session.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace crucible::model {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

const char* finish_reason_name(FinishReason r) { return r == FinishReason::stop ? "stop" : "length"; }

uint64_t sample_seed(uint64_t request_seed, int64_t sample_index) {
  return splitmix64(splitmix64(request_seed) ^ static_cast<uint64_t>(sample_index + 1) * 0x2545f4914f6cdd1dull);
}

Sampler::Sampler(uint64_t seed) : rng_(seed) {}

TokenId Sampler::sample(const float* logits, int64_t V, const SamplingParams& p, double* sampling_logprob) {
  // Greedy draws nothing, so a greedy sample leaves its RNG stream where it was.
  const double u = p.temperature > 0 ? std::uniform_real_distribution<double>(0.0, 1.0)(rng_) : 0.0;
  const kernels::SampleParams k{p.temperature, p.top_k, p.top_p, p.min_p};
  return static_cast<TokenId>(kernels::sample_row_cpu(logits, V, k, u, sampling_logprob, scratch_));
}

Engine::Engine(Transformer model, const text::Tokenizer* tokenizer, EngineOptions options)
    : model_(std::move(model)), tokenizer_(tokenizer), options_(options) {
  model_->prepare_cached_forward();
}

std::vector<TokenId> eos_ids_of(const Transformer& model, const text::Tokenizer* tokenizer) {
  std::vector<TokenId> eos;
  for (auto e : model->config().eos_token_ids) eos.push_back(static_cast<TokenId>(e));
  if (tokenizer)
    for (auto e : tokenizer->eos_ids())
      if (std::find(eos.begin(), eos.end(), e) == eos.end()) eos.push_back(e);
  return eos;
}

RowLogprobs row_logprobs(const float* logits, int64_t V, int64_t n) {
  RowLogprobs r;
  float xmax = -INFINITY;
  for (int64_t i = 0; i < V; ++i) xmax = std::max(xmax, logits[i]);
  double total = 0;
  for (int64_t i = 0; i < V; ++i) total += std::exp(static_cast<double>(logits[i]) - xmax);
  r.log_normalizer = xmax + std::log(total);
  n = std::min(n, V);
  if (n > 0) {
    auto higher = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    // A running top-n (n is small): one pass, no copy of the row.
    for (int64_t i = 0; i < V; ++i) {
      const std::pair<float, TokenId> c{logits[i], static_cast<TokenId>(i)};
      if (static_cast<int64_t>(r.top.size()) == n && !higher(c, r.top.back())) continue;
      r.top.insert(std::upper_bound(r.top.begin(), r.top.end(), c, higher), c);
      if (static_cast<int64_t>(r.top.size()) > n) r.top.pop_back();
    }
  }
  return r;
}

TokenLogprob token_logprob(const float* logits, const RowLogprobs& row, TokenId tok) {
  TokenLogprob lp;
  lp.token_id = tok;
  lp.logprob = static_cast<double>(logits[tok]) - row.log_normalizer;
  for (const auto& [x, id] : row.top) lp.top.push_back({id, "", static_cast<double>(x) - row.log_normalizer});
  return lp;
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
  std::vector<size_t> first_output(requests.size() + 1, 0);
  EngineOptions options = options_;
  const bool fit_context = options.max_seq <= 0;
  if (fit_context) options.max_seq = 1;
  for (size_t r = 0; r < requests.size(); ++r) {
    const auto& q = requests[r];
    first_output[r + 1] = first_output[r] + static_cast<size_t>(std::max<int64_t>(q.n_samples, 0));
    // The context holds the longest request exactly (an oversized max_new_tokens is the session's error to report).
    if (fit_context && q.params.max_new_tokens >= 0 &&
        q.params.max_new_tokens < std::numeric_limits<int64_t>::max() - static_cast<int64_t>(q.prompt.size()))
      options.max_seq = std::max<int64_t>(
          options.max_seq, static_cast<int64_t>(q.prompt.size()) + std::max<int64_t>(q.params.max_new_tokens, 1));
  }
  EngineSession session(model_, tokenizer_, options);
  for (const auto& q : requests) session.add(q);  // handles are 0, 1, 2, ...: the request indices
  std::vector<SampleOutput> outputs(first_output.back());
  auto keep = [&](const SampleOutput& o) {
    auto& slot = outputs[first_output[o.request] + static_cast<size_t>(o.sample)];
    slot = o;
    if (on_done) on_done(slot);
  };
  while (!session.idle()) session.step(on_token, keep);
  stats_ += session.stats();
  return outputs;
}

}  // namespace crucible::model
