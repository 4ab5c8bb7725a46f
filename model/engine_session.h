// The engine's one loop. Engine::generate() adds every request and steps until idle; `crucible serve` keeps a session
// open so requests join while others decode and leave when their client goes away:
//
//   add(request)    queues its samples (InputError for a bad request, naming the field)
//   step()          fills free slots (the prompts starting together are prefilled as one padded batch, each prompt
//                   once; its samples fork the cache rows), keeps the busy slots at 0..B-1, and runs one batched
//                   decode step over them; finished samples go to `on_done` and free their slots
//   cancel(request) drops a request's queued and running samples at once (no on_done for them)
//
// Each sample draws from its own Sampler seeded by sample_seed(), so its tokens do not depend on how many requests
// share the batch. The KV cache grows with what is live: slots up to `max_batch`, positions with the longest live
// sequence up to `max_seq` (a request allowed the whole context does not make every slot pay for it up front).
// Not thread-safe: one thread owns a session (serve/'s scheduler thread).
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

  // Returns the request's handle (SampleOutput::request and the callbacks' `request` carry it): 0, 1, 2, ... in the
  // order of add(). InputError on a bad request, or one longer than the context.
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
