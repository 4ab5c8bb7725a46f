// `crucible serve`: an OpenAI-compatible HTTP server (cpp-httplib) over a Generator.
//
//   GET  /v1/models             the served model, under its name and as "default"
//   POST /v1/completions        prompt (string | strings | token ids), n, max_tokens, temperature, top_p, top_k,
//                               min_p, seed, stop, stream
//   POST /v1/chat/completions   messages through the model's own chat template (add_generation_prompt), same fields,
//                               max_tokens | max_completion_tokens
//   GET  /health                200 "ok"
//
// Flow of one request: parse + validate (protocol.h) -> tokenize / render the chat template (handler thread) ->
// one Job per prompt to the Generator, whose scheduler thread batches it with every other request in flight ->
// wait for the samples (or stream their text as SSE) -> OpenAI-shaped response. A stream whose client goes away
// cancels its samples. Logs go to stderr with the request id and timings, never the prompt or completion text.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "serve/generator.h"
#include "serve/protocol.h"

namespace crucible::serve {

struct ServeConfig {
  std::string host = "127.0.0.1";
  int port = 8000;                    // 0: an ephemeral port (bind() returns it)
  std::string served_name;            // the model's name in the API; "" = the checkpoint's file stem
  Limits limits;
  size_t max_body_bytes = 8u << 20;   // larger bodies get 413
  int http_threads = 0;               // connections served at once; 0: 4 x max_batch, at least 32
  int64_t max_batch = 16;             // only to size http_threads
};

class Server {
 public:
  Server(Generator& generator, ServeConfig config);
  ~Server();
  // Binds the socket (InputError naming --host/--port when it cannot); returns the port bound.
  int bind();
  void run();   // serves until stop(); bind() first
  void stop();  // stops accepting; requests in flight finish first (thread-safe, also from a signal thread)
  const std::string& served_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// bind + run until SIGINT or SIGTERM, then a graceful stop (a second signal cancels what is still generating).
// Call before any other thread starts (it blocks the two signals for the whole process so one thread waits on them).
void block_shutdown_signals();
void serve_until_signal(Server& server, Generator& generator);

}  // namespace crucible::serve
