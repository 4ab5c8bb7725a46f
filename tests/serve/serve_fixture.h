// An in-process `crucible serve` on an ephemeral port for the serve tests, plus a small HTTP/SSE client.
#pragma once
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "serve/generator.h"
#include "serve/server.h"
#include "tests/support/test_support.h"

namespace crucible::serve::testing {

inline std::string stories(const std::string& f) {
  return crucible::testing::shared_dir() + "/models/stories260K/" + f;
}
inline std::string demo_gguf() {
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf";
}

// Forwards to the real generator and counts cancellations (a stream whose client left must cancel its jobs).
class CountingGenerator : public Generator {
 public:
  explicit CountingGenerator(std::unique_ptr<Generator> inner) : inner_(std::move(inner)) {}
  ModelInfo info() const override { return inner_->info(); }
  std::vector<int32_t> encode(const std::string& t, bool s) const override { return inner_->encode(t, s); }
  std::string render_chat(const std::vector<text::ChatMessage>& m, bool gen) const override {
    return inner_->render_chat(m, gen);
  }
  std::string token_bytes(int32_t id) const override { return inner_->token_bytes(id); }
  uint64_t submit(Job job, JobEvents events) override { return inner_->submit(std::move(job), std::move(events)); }
  void cancel(uint64_t job) override {
    ++cancels;
    inner_->cancel(job);
  }
  void shutdown(const std::string& why) override { inner_->shutdown(why); }
  std::atomic<int> cancels{0};

 private:
  std::unique_ptr<Generator> inner_;
};

struct LiveServer {
  LiveServer(EngineGeneratorOptions engine, ServeConfig config = {}) {
    gen = std::make_unique<CountingGenerator>(make_engine_generator(engine));
    config.port = 0;
    config.max_batch = engine.max_batch;
    server = std::make_unique<Server>(*gen, config);
    port = server->bind();
    thread = std::thread([this] { server->run(); });
    httplib::Client probe("127.0.0.1", port);
    for (int i = 0; i < 200 && !probe.Get("/health"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~LiveServer() {
    server->stop();
    thread.join();
    gen->shutdown("test over");
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(120, 0);
    return c;
  }
  struct Reply {
    int status = 0;
    nlohmann::json body;
    std::string raw;
  };
  Reply post(const std::string& path, const std::string& body) const {
    auto c = client();
    auto r = c.Post(path.c_str(), body, "application/json");
    Reply out;
    if (!r) return out;
    out.status = r->status;
    out.raw = r->body;
    out.body = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    return out;
  }
  Reply post(const std::string& path, const nlohmann::json& body) const { return post(path, body.dump()); }

  // A streamed request: the `data:` payloads in order ("[DONE]" included). `stop_after` > 0 drops the connection
  // after that many events, as a client that goes away.
  std::vector<std::string> stream(const std::string& path, const nlohmann::json& body, int stop_after = 0) const {
    auto c = client();
    httplib::Request req;
    req.method = "POST";
    req.path = path;
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    std::string buf;
    std::vector<std::string> events;
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      buf.append(data, len);
      for (size_t at; (at = buf.find("\n\n")) != std::string::npos;) {
        std::string ev = buf.substr(0, at);
        buf.erase(0, at + 2);
        if (ev.rfind("data: ", 0) == 0) events.push_back(ev.substr(6));
        if (stop_after > 0 && static_cast<int>(events.size()) >= stop_after) return false;
      }
      return true;
    };
    c.send(req);
    return events;
  }

  std::unique_ptr<CountingGenerator> gen;
  std::unique_ptr<Server> server;
  int port = 0;
  std::thread thread;
};

}  // namespace crucible::serve::testing
