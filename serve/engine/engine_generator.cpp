// The scheduler behind `crucible serve`: one thread owns the model's EngineSession and runs continuous batching
// across HTTP requests. Handler threads only touch the inbox (under a mutex); between two decode steps the thread
// moves new jobs into the session (they join the running batch at the next step) and applies cancellations.
//
//   loop: wait until there is work -> take inbox + cancellations -> session.step() (prefill newcomers into free
//         slots, one batched decode step) -> events to each job's handler
//
// A step that throws (out of memory, a CUDA error) fails the jobs then in the session, not the server: the session
// is rebuilt and the next jobs run on a fresh cache.
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "model/engine_session.h"
#include "model/generation_model.h"
#include "serve/generator.h"

namespace crucible::serve {
namespace {

class EngineGenerator final : public Generator {
 public:
  explicit EngineGenerator(const EngineGeneratorOptions& o)
      : gm_(model::load_generation_model({.path = o.model, .tokenizer = o.tokenizer, .device = o.device,
                                        .dtype = o.dtype, .hash_content = false})) {
    if (o.max_batch < 1) throw InputError("--max-batch", "--max-batch", "must be at least 1");
    const int64_t model_context = gm_.model->config().max_position_embeddings;
    options_.max_batch = o.max_batch;
    options_.max_seq = o.context > 0 ? std::min(o.context, model_context) : model_context;
    info_ = {gm_.path, gm_.format, options_.max_seq, gm_.model->config().vocab_size, gm_.chat_template.has_value()};
    thread_ = std::thread([this] { loop(); });
  }

  ~EngineGenerator() override { shutdown("server shutting down"); }

  ModelInfo info() const override { return info_; }

  std::vector<int32_t> encode(const std::string& text, bool add_special) const override {
    return gm_.tokenizer->encode(text, add_special);
  }

  std::string token_bytes(int32_t id) const override { return gm_.tokenizer->token_bytes(id); }

  std::string render_chat(const std::vector<text::ChatMessage>& messages, bool add_generation_prompt) const override {
    if (!gm_.chat_template)
      throw InputError(gm_.path, "chat_template",
                       "this model has no chat template; use /v1/completions with a plain prompt");
    // The Jinja interpreter keeps no state between renders, but it was never audited for concurrent ones; renders
    // take microseconds next to generation, so they are serialised.
    std::lock_guard lock(template_mu_);
    return gm_.chat_template->apply(messages, add_generation_prompt);
  }

  uint64_t submit(Job job, JobEvents events) override {
    std::unique_lock lock(mu_);
    const uint64_t id = next_id_++;
    if (stopping_) {
      lock.unlock();
      events.on_error("server shutting down");
      return id;
    }
    inbox_.push_back({id, std::move(job), std::move(events)});
    cv_.notify_one();
    return id;
  }

  void cancel(uint64_t job) override {
    std::lock_guard lock(mu_);
    cancels_.push_back(job);
    cv_.notify_one();
  }

  void shutdown(const std::string& why) override {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) stop_reason_ = why;
      stopping_ = true;
      cv_.notify_one();
    }
    std::lock_guard join_lock(join_mu_);  // a signal thread and the main thread may both get here
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Incoming {
    uint64_t id;
    Job job;
    JobEvents events;
  };
  struct Active {
    uint64_t id;
    JobEvents events;
    int64_t remaining;
  };

  static model::GenerationRequest to_request(const Job& j) {
    model::GenerationRequest r;
    r.prompt.assign(j.prompt.begin(), j.prompt.end());
    r.n_samples = j.n;
    r.params = j.sampling;
    r.score_prompt = j.score_prompt;
    return r;
  }

  void loop() {
    auto session = std::make_unique<model::EngineSession>(gm_.model, gm_.tokenizer.get(), options_);
    std::map<size_t, Active> active;        // session handle -> job
    std::map<uint64_t, size_t> handle_of;   // job id -> session handle
    auto on_token = [&](size_t h, int64_t sample, model::TokenId, std::string_view piece) {
      auto& a = active.at(h);
      if (a.events.on_text && !piece.empty()) a.events.on_text(sample, piece);
    };
    auto on_done = [&](const model::SampleOutput& o) {
      auto it = active.find(o.request);
      SampleResult res{o.sample, o.text, model::finish_reason_name(o.finish), o.prompt_tokens, o.completion_tokens,
                       o.logprobs, o.prompt_logprobs};
      res.logprobs.resize(std::min(res.logprobs.size(), o.tokens.size()));  // OpenAI shows no EOS entry
      it->second.events.on_sample(std::move(res));
      if (--it->second.remaining == 0) {
        handle_of.erase(it->second.id);
        active.erase(it);
      }
    };
    std::string why_stopped;
    for (;;) {
      std::deque<Incoming> incoming;
      std::vector<uint64_t> cancels;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !inbox_.empty() || !cancels_.empty() || !session->idle(); });
        if (stopping_) {
          why_stopped = stop_reason_;
          for (auto& in : inbox_) in.events.on_error(why_stopped);
          inbox_.clear();
          break;
        }
        incoming.swap(inbox_);
        cancels.swap(cancels_);
      }
      for (auto& in : incoming) {
        if (std::find(cancels.begin(), cancels.end(), in.id) != cancels.end()) continue;
        try {
          const size_t h = session->add(to_request(in.job));
          handle_of[in.id] = h;
          active.emplace(h, Active{in.id, std::move(in.events), in.job.n});
        } catch (const std::exception& e) {
          in.events.on_error(e.what());
        }
      }
      for (uint64_t id : cancels) {
        auto it = handle_of.find(id);
        if (it == handle_of.end()) continue;
        session->cancel(it->second);
        active.erase(it->second);
        handle_of.erase(it);
      }
      if (session->idle()) continue;
      try {
        session->step(on_token, on_done);
      } catch (const std::exception& e) {
        log::error("engine step failed ({}); failing {} running request(s) and starting a fresh session", e.what(),
                   active.size());
        for (auto& [h, a] : active) a.events.on_error(std::string("generation failed: ") + e.what());
        active.clear();
        handle_of.clear();
        session = std::make_unique<model::EngineSession>(gm_.model, gm_.tokenizer.get(), options_);
      }
    }
    for (auto& [h, a] : active) a.events.on_error(why_stopped);
    const auto& st = session->stats();
    log::info("scheduler stopped: prefill {} tokens in {:.2f} s, decode {} tokens in {} steps, {:.2f} s", st.prefill_tokens,
              st.prefill_seconds, st.decode_tokens, st.decode_steps, st.decode_seconds);
  }

  model::GenerationModel gm_;
  model::EngineOptions options_;
  ModelInfo info_;
  mutable std::mutex template_mu_;
  std::mutex join_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Incoming> inbox_;
  std::vector<uint64_t> cancels_;
  bool stopping_ = false;
  std::string stop_reason_;
  uint64_t next_id_ = 1;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Generator> make_engine_generator(const EngineGeneratorOptions& options) {
  return std::make_unique<EngineGenerator>(options);
}

}  // namespace crucible::serve
