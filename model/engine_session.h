// The engine as an open loop, for a server. Engine::generate() takes every request up front and returns when all are
// done; `crucible serve` needs requests to join while others decode and to leave when their client goes away:
//
//   add(request)   queues its samples (validated as Engine::generate validates)
//   step()         fills free slots (a prompt is prefilled once; its samples fork the cache rows) and runs one
//                  batched decode step over every busy slot; finished samples go to `on_done` and free their slots
//   cancel(request) drops a request's queued and running samples at once (no on_done for them)
//
// Sampling, per-sample seeds, stop strings, EOS and length rules are Engine::generate's (same Sampler, same
// sample_seed), so a sample's tokens do not depend on how many requests share the batch. The KV cache has
// `max_batch` slots and grows its positions with the longest live sequence, up to `max_seq` (a request allowed the
// whole context does not make every slot pay for it up front). Not thread-safe: one thread owns a session
// (serve/'s scheduler thread).
#pragma once
#include <functional>
#include <memory>

#include "model/engine.h"

namespace crucible::model {

class EngineSession {
 public:
  // `options.max_seq` is the context limit: a request whose prompt + max_new_tokens exceeds it is an InputError.
  EngineSession(Transformer model, const text::Tokenizer* tokenizer, EngineOptions options);
  ~EngineSession();
  EngineSession(const EngineSession&) = delete;
  EngineSession& operator=(const EngineSession&) = delete;

  // Returns the request's handle (SampleOutput::request and the callbacks' `request` carry it). InputError on a
  // request Engine::generate would refuse, or one longer than the context.
  size_t add(GenerationRequest request);
  void cancel(size_t request);
  bool idle() const;              // nothing queued, nothing running
  int64_t running() const;        // busy slots
  void step(const TokenCallback& on_token, const std::function<void(const SampleOutput&)>& on_done);
  const EngineStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crucible::model
