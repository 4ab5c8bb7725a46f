// The native engine behind harness::Backend. Each request's prompt is rendered by render_prompt() (the model's own
// chat template, plain text without one, the assistant prefix appended: "<think>\n" under R1), and its samples go
// to the engine as one request with one seed per sample, so they share one prefill and each sample's text depends on
// its own seed alone. A sample is handed back the moment it finishes, for grading and committing.
#include "harness/native_backend.h"

#include <chrono>
#include <map>

#include "core/error.h"
#include "core/sha256.h"
#include "harness/render_prompt.h"
#include "model/engine.h"
#include "model/generation_model.h"

namespace crucible::harness {
namespace {

class NativeBackend : public Backend {
 public:
  explicit NativeBackend(const NativeBackendOptions& o)
      : options_(o),
        gm_(model::load_generation_model({.path = o.model, .tokenizer = o.tokenizer, .device = o.device,
                                        .dtype = o.dtype})) {}

  ModelIdentity identity() const override {
    return {gm_.path, gm_.format, gm_.content_hash, gm_.template_hash,
            {{"config", gm_.config}, {"device", gm_.device.str()},
             {"dtype", model::dtype_name(gm_.dtype)}}};
  }

  void generate(const std::vector<GenerationRequest>& requests,
                const std::function<void(GenerationResult)>& on_result) override {
    std::vector<model::GenerationRequest> engine_requests;
    std::vector<std::string> prompt_hashes;
    for (const auto& r : requests) {
      const std::string text = render_prompt(gm_.chat_template, r.messages, r.assistant_prefix);
      model::GenerationRequest er;
      // A chat template writes BOS itself where the model wants one; plain prompts get the tokenizer's default.
      er.prompt = gm_.tokenizer->encode(text, /*add_special=*/!gm_.chat_template);
      if (er.prompt.empty()) throw InputError(gm_.path, "prompt", "a prompt encodes to no tokens");
      er.n_samples = static_cast<int64_t>(r.sample_indices.size());
      er.params = r.sampling;  // the seeds below override the run seed's
      er.sample_seeds = r.seeds;
      engine_requests.push_back(std::move(er));
      prompt_hashes.push_back(sha256_hex(text));
    }
    model::Engine engine(gm_.model, gm_.tokenizer.get(), model::EngineOptions{options_.max_batch, 0});
    auto started = std::chrono::steady_clock::now();
    engine.generate(engine_requests, {}, [&](const model::SampleOutput& o) {
      const auto& r = requests[o.request];
      GenerationResult res;
      res.request_id = r.id;
      res.sample_index = r.sample_indices.at(static_cast<size_t>(o.sample));
      res.text = o.text;
      res.prompt_hash = prompt_hashes[o.request];
      res.prompt_tokens = o.prompt_tokens;
      res.completion_tokens = o.completion_tokens;
      res.finish_reason = model::finish_reason_name(o.finish);
      res.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
      res.logprobs = o.logprobs;
      on_result(std::move(res));
    });
  }

 private:
  NativeBackendOptions options_;
  model::GenerationModel gm_;
};

}  // namespace

std::unique_ptr<Backend> make_native_backend(const NativeBackendOptions& options) {
  return std::make_unique<NativeBackend>(options);
}

}  // namespace crucible::harness
