// crucible serve — an OpenAI-compatible HTTP server over the native engine (serve/server.h has the flow).
// Torch-free: talks to the engine through serve/generator.h only.
#include <memory>

#include "apps/cli.h"
#include "core/error.h"
#include "serve/generator.h"
#include "serve/server.h"

namespace crucible::cli {
namespace {

struct Flags {
  serve::EngineGeneratorOptions engine;
  serve::ServeConfig server;
};

int run_serve(Flags& f) {
  if (f.server.port < 0 || f.server.port > 65535) throw InputError("--port", "--port", "must be in 0..65535");
  // Before the model loads: torch's threads inherit the mask, so only the waiting thread ever sees SIGINT/SIGTERM.
  serve::block_shutdown_signals();
  auto generator = serve::make_engine_generator(f.engine);
  f.server.max_batch = f.engine.max_batch;
  serve::Server server(*generator, f.server);
  server.bind();
  serve::serve_until_signal(server, *generator);
  return 0;
}

void setup(CLI::App& app, Globals&, Action& action) {
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API (/v1/completions, "
                                          "/v1/chat/completions, /v1/models)");
  auto& e = f->engine;
  auto& s = f->server;
  cmd->add_option("--model", e.model, "checkpoint: HF folder, .gguf file or llama2.c .bin")->required();
  cmd->add_option("--tokenizer", e.tokenizer, "tokenizer file (default: the checkpoint's own)");
  cmd->add_option("--host", s.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", s.port, "port to listen on (0: any free port, printed in the log)")->capture_default_str();
  cmd->add_option("--served-name", s.served_name, "the model's name in the API (default: the checkpoint's file stem; "
                                                  "'default' always works too)");
  cmd->add_option("--device", e.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", e.dtype, "auto, float32, bfloat16, float16")->capture_default_str();
  cmd->add_option("--max-batch", e.max_batch, "sequences decoded together, across all requests")->capture_default_str();
  cmd->add_option("--context", e.context, "prompt + completion tokens per sample (0: the model's own limit)")
      ->capture_default_str();
  cmd->add_option("--max-n", s.limits.max_n, "largest n (samples per prompt) a request may ask for")
      ->capture_default_str();
  cmd->callback([&action, f] {
    action = [f] { return run_serve(*f); };
  });
}

CRUCIBLE_REGISTER_COMMAND(350, setup);

}  // namespace
}  // namespace crucible::cli
