#include "serve/server.h"

#include <httplib.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/log.h"

namespace crucible::serve {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Model text is valid UTF-8 by construction (the stream decoder holds split characters); `replace` keeps a bad byte
// from ever turning a response into an exception.
std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* digits = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = digits[rng() & 15];
  return s;
}

std::string stem_of(const std::string& path) {
  std::filesystem::path p(path);
  if (p.filename().empty()) p = p.parent_path();  // "models/Qwen2.5/"
  return std::filesystem::is_directory(p) ? p.filename().string() : p.stem().string();
}

// One API request's samples as the scheduler thread reports them; the handler thread waits on it.
struct Exchange {
  struct Event {
    int64_t index = 0;
    std::string piece;
    std::optional<SampleResult> done;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Event> events;  // streaming: pieces and finishes in the order they happened
  std::vector<std::optional<SampleResult>> results;
  int64_t remaining = 0;
  std::optional<std::string> error;
  std::vector<uint64_t> jobs;
  std::optional<Clock::time_point> first_token;
  std::vector<int32_t> first_prompt_token;  // per prompt (echo's first token, which has no logprob)
};

// Streaming text is held back by (longest stop string - 1) bytes: a stop string split over two tokens must not have
// its first half sent before the second half shows it was a stop. What is sent is always a prefix of the final text.
struct StreamedChoice {
  std::string held;
  size_t sent = 0;
  bool first = true;
};

}  // namespace

struct Server::Impl {
  Generator& gen;
  ServeConfig cfg;
  ModelInfo info;
  std::string name;
  int64_t started = std::time(nullptr);
  httplib::Server http;

  Impl(Generator& g, ServeConfig c) : gen(g), cfg(std::move(c)), info(g.info()) {
    name = cfg.served_name.empty() ? stem_of(info.path) : cfg.served_name;
    const int threads = cfg.http_threads > 0 ? cfg.http_threads
                                              : static_cast<int>(std::max<int64_t>(32, 4 * cfg.max_batch));
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    http.set_payload_max_length(cfg.max_body_bytes);
    http.set_keep_alive_timeout(2);
    http.set_tcp_nodelay(true);  // stream chunks are small: Nagle + delayed ACKs would hold each one ~40 ms
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      Json data = Json::array();
      for (const auto& id : {name, std::string("default")})
        data.push_back({{"id", id}, {"object", "model"}, {"created", started}, {"owned_by", "crucible"},
                        {"max_model_len", info.context}});
      res.set_content(dump({{"object", "list"}, {"data", data}}), "application/json");
    });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle(Endpoint::completions, req, res);
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle(Endpoint::chat, req, res);
    });
    // httplib calls this for every status >= 400; only the ones it made itself (unknown route, body too large) have
    // no body yet.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                       httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      ApiError e{res.status, "", "invalid_request_error", "", ""};
      if (res.status == 404) {
        e.message = "no route " + req.method + " " + req.path + " (this server has /v1/models, /v1/completions, "
                    "/v1/chat/completions)";
        e.code = "unknown_url";
      } else if (res.status == 413) {
        e.message = "the request body is larger than " + std::to_string(cfg.max_body_bytes) + " bytes";
        e.code = "request_too_large";
      } else {
        e.message = "HTTP " + std::to_string(res.status);
      }
      res.set_content(dump(e.to_json()), "application/json");
      log::info("- {} {} -> {} {}", req.method, req.path, res.status, e.code);
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      log::error("- {} {} -> 500 internal error: {}", req.method, req.path, what);
      res.status = 500;
      res.set_content(dump(ApiError{500, "internal error: " + what, "server_error", "", ""}.to_json()),
                      "application/json");
    });
  }

  void reply_error(const std::string& id, const httplib::Request& req, httplib::Response& res, const ApiError& e,
                   Clock::time_point t0) {
    res.status = e.status;
    res.set_content(dump(e.to_json()), "application/json");
    // The message is not logged: a JSON parser's message quotes the body, and the body is the prompt.
    log::info("{} {} {} -> {} {} param={} ({:.3f} s)", id, req.method, req.path, e.status,
              e.code.empty() ? e.type : e.code, e.param.empty() ? "-" : e.param, seconds_since(t0));
  }

  void handle(Endpoint ep, const httplib::Request& req, httplib::Response& res) {
    const auto t0 = Clock::now();
    const std::string id = (ep == Endpoint::chat ? "chatcmpl-" : "cmpl-") + random_hex(24);
    auto parsed = parse_request(ep, req.body, cfg.limits);
    if (auto* e = std::get_if<ApiError>(&parsed)) return reply_error(id, req, res, *e, t0);
    auto& r = std::get<ApiRequest>(parsed);
    if (!r.model.empty() && r.model != name && r.model != "default")
      return reply_error(id, req, res,
                         {404, "the model '" + r.model + "' does not exist; this server serves '" + name +
                                   "' (also as 'default')",
                          "invalid_request_error", "model", "model_not_found"},
                         t0);

    if (ep == Endpoint::chat && !info.has_chat_template)
      return reply_error(id, req, res,
                         {400, "the model '" + name + "' has no chat template, so chat requests cannot be rendered; "
                               "use /v1/completions with a plain prompt, or start the server with --tokenizer pointing "
                               "at a tokenizer.json whose tokenizer_config.json has one",
                          "invalid_request_error", "messages", "no_chat_template"},
                         t0);
    std::vector<std::vector<int32_t>> prompts;
    std::vector<std::string> echoed;  // echo: each prompt's text
    try {
      if (ep == Endpoint::chat) {
        std::string text = gen.render_chat(r.messages, r.add_generation_prompt);
        if (r.continue_final_message) {
          auto cut = continue_final_message(text, r.messages.back().content);
          if (!cut)
            return reply_error(id, req, res,
                               {400, "continue_final_message: the chat template does not write the final message's "
                                     "content, so there is nothing to continue",
                                "invalid_request_error", "messages", "invalid_prompt"},
                               t0);
          text = std::move(*cut);
        }
        prompts.push_back(gen.encode(text, /*add_special=*/false));
      } else {
        for (const auto& p : r.prompts) {
          prompts.push_back(p.ids ? *p.ids : gen.encode(p.text, /*add_special=*/true));
          if (!r.echo) continue;
          std::string text = p.text;
          if (p.ids)
            for (int32_t t : *p.ids) text += t < info.vocab_size ? gen.token_bytes(t) : std::string();
          echoed.push_back(std::move(text));
        }
      }
    } catch (const InputError& e) {
      // A template's raise_exception ("roles must alternate user/assistant") lands here.
      return reply_error(id, req, res,
                         {400, e.what(), "invalid_request_error", ep == Endpoint::chat ? "messages" : "prompt",
                          "invalid_prompt"},
                         t0);
    }
    int64_t prompt_tokens = 0;
    int64_t max_tokens = 0;
    for (const auto& p : prompts) {
      const int64_t P = static_cast<int64_t>(p.size());
      prompt_tokens += P;
      if (P == 0)
        return reply_error(id, req, res,
                           {400, "the prompt encodes to no tokens (this tokenizer adds no BOS); give some text",
                            "invalid_request_error", "prompt", "empty_prompt"},
                           t0);
      for (int32_t t : p)
        if (t >= info.vocab_size)
          return reply_error(id, req, res,
                             {400, "token id " + std::to_string(t) + " is outside the vocabulary of " +
                                       std::to_string(info.vocab_size),
                              "invalid_request_error", "prompt", "invalid_token"},
                             t0);
      const int64_t want = r.max_tokens ? *r.max_tokens : ep == Endpoint::chat ? info.context - P : 16;
      if (want == 0 && P < 2)
        return reply_error(id, req, res,
                           {422, "max_tokens 0 scores the prompt, which needs at least 2 tokens",
                            "invalid_request_error", "max_tokens", "invalid_value"},
                           t0);
      if (P >= info.context || want > info.context - P)  // not P + want: max_tokens may be near INT64_MAX
        return reply_error(id, req, res,
                           {413, "this model's context is " + std::to_string(info.context) + " tokens; the prompt has " +
                                     std::to_string(P) + " and " + std::to_string(want) +
                                     " completion tokens were asked for",
                            "invalid_request_error",
                            r.max_tokens ? "max_tokens" : ep == Endpoint::chat ? "messages" : "prompt",
                            "context_length_exceeded"},
                           t0);
      max_tokens = std::max(max_tokens, want);
    }
    if (!r.has_seed) r.sampling.seed = std::random_device{}() * 0x100000001ull ^ std::random_device{}();

    auto ex = std::make_shared<Exchange>();
    const int64_t n_choices = static_cast<int64_t>(prompts.size()) * r.n;
    ex->results.resize(static_cast<size_t>(n_choices));
    for (const auto& p : prompts) ex->first_prompt_token.push_back(p.front());
    ex->remaining = n_choices;
    const bool stream = r.stream;
    for (size_t p = 0; p < prompts.size(); ++p) {
      Job job;
      const int64_t P = static_cast<int64_t>(prompts[p].size());
      job.prompt = std::move(prompts[p]);
      job.n = r.n;
      job.sampling = r.sampling;
      job.sampling.max_new_tokens = r.max_tokens ? *r.max_tokens : ep == Endpoint::chat ? info.context - P : 16;
      job.score_prompt = r.echo && r.sampling.logprobs && P >= 2;
      const int64_t base = static_cast<int64_t>(p) * r.n;
      JobEvents events;
      std::weak_ptr<Exchange> weak = ex;
      events.on_text = [weak, base, stream](int64_t sample, std::string_view piece) {
        auto x = weak.lock();
        if (!x) return;
        std::lock_guard lock(x->mu);
        if (!x->first_token) x->first_token = Clock::now();
        if (stream) {
          x->events.push_back({base + sample, std::string(piece), std::nullopt});
          x->cv.notify_all();
        }
      };
      events.on_sample = [weak, base, stream](SampleResult s) {
        auto x = weak.lock();
        if (!x) return;
        std::lock_guard lock(x->mu);
        if (!x->first_token) x->first_token = Clock::now();
        const int64_t index = base + s.sample;
        if (stream) x->events.push_back({index, "", s});
        x->results[static_cast<size_t>(index)] = std::move(s);
        --x->remaining;
        x->cv.notify_all();
      };
      events.on_error = [weak](const std::string& why) {
        auto x = weak.lock();
        if (!x) return;
        std::lock_guard lock(x->mu);
        if (!x->error) x->error = why;
        x->cv.notify_all();
      };
      const uint64_t job_id = gen.submit(std::move(job), std::move(events));
      std::lock_guard lock(ex->mu);
      ex->jobs.push_back(job_id);
    }
    ResponseMeta meta{id, static_cast<int64_t>(std::time(nullptr)), r.model.empty() ? name : r.model, ep};
    log::info("{} {} {} <- prompts={} n={} prompt_tokens={} max_tokens={} stream={}", id, req.method, req.path,
              r.prompts.empty() ? 1 : r.prompts.size(), r.n, prompt_tokens, max_tokens, stream);
    if (stream)
      stream_response(ex, meta, r, prompt_tokens, res, t0);
    else
      whole_response(ex, meta, r, echoed, prompt_tokens, res, t0);
  }

  void cancel_all(Exchange& ex) {
    std::vector<uint64_t> jobs;
    {
      std::lock_guard lock(ex.mu);
      jobs = ex.jobs;
    }
    for (auto j : jobs) gen.cancel(j);
  }

  ApiError failure(const std::string& why) const {
    const bool down = why.find("shutting down") != std::string::npos;
    return {down ? 503 : 500, why, down ? "service_unavailable" : "server_error", "", ""};
  }

  void log_done(const std::string& id, int status, const Usage& u, const std::optional<Clock::time_point>& first,
                Clock::time_point t0, const char* how) {
    const double total = seconds_since(t0);
    log::info("{} -> {} {} prompt_tokens={} completion_tokens={} first_token={:.3f} s total={:.3f} s ({:.1f} tokens/s)",
              id, status, how, u.prompt_tokens, u.completion_tokens,
              first ? std::chrono::duration<double>(*first - t0).count() : 0.0, total,
              total > 0 ? u.completion_tokens / total : 0.0);
  }

  void whole_response(const std::shared_ptr<Exchange>& ex, const ResponseMeta& meta, const ApiRequest& r,
                      const std::vector<std::string>& echoed, int64_t prompt_tokens, httplib::Response& res,
                      Clock::time_point t0) {
    std::unique_lock lock(ex->mu);
    ex->cv.wait(lock, [&] { return ex->remaining == 0 || ex->error; });
    Usage usage{prompt_tokens, 0};
    if (ex->error) {
      const ApiError e = failure(*ex->error);
      lock.unlock();
      cancel_all(*ex);
      res.status = e.status;
      res.set_content(dump(e.to_json()), "application/json");
      log_done(meta.id, e.status, usage, ex->first_token, t0, e.type.c_str());
      return;
    }
    std::vector<Choice> choices;
    for (size_t i = 0; i < ex->results.size(); ++i) {
      const auto& s = *ex->results[i];
      const size_t prompt = i / static_cast<size_t>(r.n);
      usage.completion_tokens += s.completion_tokens;
      Choice c{static_cast<int64_t>(i), r.echo ? echoed[prompt] + s.text : s.text, s.finish_reason, nullptr};
      if (r.sampling.logprobs && meta.endpoint == Endpoint::chat) {
        c.logprobs = chat_logprobs(s.logprobs, r.tokens_as_ids);
      } else if (r.sampling.logprobs) {
        // echo: the prompt's tokens first; its first token has no logprob (nothing precedes it).
        std::optional<TopLogprob> first;
        if (r.echo) {
          const int32_t id = ex->first_prompt_token[prompt];
          first = TopLogprob{id, gen.token_bytes(id), 0.0};
        }
        c.logprobs = completion_logprobs(first, r.echo ? s.prompt_logprobs : std::vector<TokenLogprob>{}, s.logprobs,
                                         r.sampling.top_logprobs > 0, r.tokens_as_ids);
      }
      choices.push_back(std::move(c));
    }
    res.set_content(dump(response_body(meta, choices, usage)), "application/json");
    log_done(meta.id, 200, usage, ex->first_token, t0, "ok");
  }

  void stream_response(const std::shared_ptr<Exchange>& ex, const ResponseMeta& meta, const ApiRequest& r,
                       int64_t prompt_tokens, httplib::Response& res, Clock::time_point t0) {
    size_t hold = 0;
    for (const auto& s : r.sampling.stop) hold = std::max(hold, s.size() - 1);
    struct State {
      std::vector<StreamedChoice> choices;
      Usage usage;
      bool finished = false;
    };
    auto st = std::make_shared<State>();
    st->choices.resize(ex->results.size());
    st->usage.prompt_tokens = prompt_tokens;
    const bool include_usage = r.include_usage;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, ex, st, meta, hold, include_usage, t0](size_t, httplib::DataSink& sink) {
          auto send = [&](const Json& j) {
            const std::string line = "data: " + dump(j) + "\n\n";
            return sink.write(line.data(), line.size());
          };
          std::deque<Exchange::Event> events;
          std::optional<std::string> error;
          bool all_done = false;
          {
            std::unique_lock lock(ex->mu);
            ex->cv.wait(lock, [&] { return !ex->events.empty() || ex->remaining == 0 || ex->error; });
            events.swap(ex->events);
            error = ex->error;
            all_done = ex->remaining == 0;
          }
          for (auto& e : events) {
            auto& c = st->choices[static_cast<size_t>(e.index)];
            std::string out;
            if (e.done) {
              // The final text decides: whatever was held back, less a stop string, goes out now.
              out = e.done->text.size() > c.sent ? e.done->text.substr(c.sent) : "";
              c.sent += out.size();
              c.held.clear();
            } else {
              c.held += e.piece;
              size_t cut = c.held.size() > hold ? c.held.size() - hold : 0;
              while (cut > 0 && cut < c.held.size() && (static_cast<unsigned char>(c.held[cut]) & 0xC0) == 0x80) --cut;
              out = c.held.substr(0, cut);
              c.held.erase(0, cut);
              c.sent += out.size();
            }
            if (!out.empty() || (c.first && meta.endpoint == Endpoint::chat)) {
              if (!send(chunk_body(meta, e.index, out, c.first, std::nullopt))) return false;
              c.first = false;
            }
            if (e.done) {
              st->usage.completion_tokens += e.done->completion_tokens;
              if (!send(chunk_body(meta, e.index, "", false, e.done->finish_reason))) return false;
            }
          }
          if (error) {
            const ApiError err = failure(*error);
            send(err.to_json());
            send_done(sink);
            st->finished = true;
            log_done(meta.id, err.status, st->usage, ex->first_token, t0, "stream failed");
            return true;
          }
          if (all_done) {
            if (include_usage && !send(usage_chunk_body(meta, st->usage))) return false;
            send_done(sink);
            st->finished = true;
            log_done(meta.id, 200, st->usage, ex->first_token, t0, "stream ok");
          }
          return true;
        },
        // Runs when the response is torn down; a stream that did not finish lost its client (or failed to write):
        // its samples are cancelled so they stop taking slots.
        [this, ex, st, meta, t0](bool) {
          if (st->finished) return;
          cancel_all(*ex);
          log_done(meta.id, 499, st->usage, ex->first_token, t0, "client went away; cancelled");
        });
  }

  static void send_done(httplib::DataSink& sink) {
    static const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
  }
};

Server::Server(Generator& generator, ServeConfig config) : impl_(std::make_unique<Impl>(generator, std::move(config))) {}
Server::~Server() = default;

int Server::bind() {
  auto& m = *impl_;
  if (m.cfg.port == 0) {
    const int port = m.http.bind_to_any_port(m.cfg.host);
    if (port <= 0) throw InputError("--host", "--host", "cannot bind an ephemeral port on '" + m.cfg.host + "'");
    m.cfg.port = port;
  } else if (!m.http.bind_to_port(m.cfg.host, m.cfg.port)) {
    throw InputError("--port", "--port",
                     "cannot listen on " + m.cfg.host + ":" + std::to_string(m.cfg.port) +
                         " (in use, or not an address of this machine)");
  }
  return m.cfg.port;
}

void Server::run() {
  log::info("serving '{}' (and 'default') from {} on http://{}:{}/v1 (context {} tokens)", impl_->name,
            impl_->info.path, impl_->cfg.host, impl_->cfg.port, impl_->info.context);
  impl_->http.listen_after_bind();
}

void Server::stop() { impl_->http.stop(); }

const std::string& Server::served_name() const { return impl_->name; }

namespace {
sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void block_shutdown_signals() {
  sigset_t set = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void serve_until_signal(Server& server, Generator& generator) {
  std::atomic<bool> finished{false};
  std::thread waiter([&] {
    sigset_t set = shutdown_signals();
    int signals = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0 || finished) return;
      if (++signals == 1) {
        log::info("signal {}: no new connections; finishing the requests in flight (signal again to cancel them)", sig);
        server.stop();
      } else {
        log::warn("signal {} again: cancelling the requests in flight", sig);
        generator.shutdown("server shutting down");
        return;
      }
    }
  });
  server.run();
  finished = true;
  pthread_kill(waiter.native_handle(), SIGTERM);  // wakes the waiter if no signal came
  waiter.join();
  generator.shutdown("server shutting down");
  log::info("server stopped");
}

}  // namespace crucible::serve
