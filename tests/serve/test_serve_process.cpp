// `crucible serve` as a process: it prints where it listens, serves, and on SIGTERM finishes the request in flight
// before exiting 0; a bad flag exits 2 naming it. Torch-free test binary (drives the built CLI).
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

namespace {

using crucible::testing::crucible_binary;
using crucible::testing::shared_dir;
using nlohmann::json;

std::string stories(const std::string& f) { return shared_dir() + "/models/stories260K/" + f; }

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ServeProcess, SigtermFinishesTheRequestInFlightThenExitsZero) {
  if (!std::filesystem::exists(stories("stories260K.bin"))) GTEST_SKIP() << "stories260K missing";
  crucible::testing::TempDir dir;
  const std::string log = dir.file("serve.log");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen(log.c_str(), "w", stderr);
    execl(crucible_binary().c_str(), crucible_binary().c_str(), "serve", "--model", stories("stories260K.bin").c_str(),
          "--tokenizer", stories("tok512.bin").c_str(), "--port", "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  int port = 0;
  const std::regex listening(R"(http://127\.0\.0\.1:(\d+)/v1)");
  for (int i = 0; i < 600 && port == 0; ++i) {
    std::smatch m;
    const std::string text = slurp(log);
    if (std::regex_search(text, m, listening)) port = std::stoi(m[1]);
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(port, 0) << slurp(log);
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  for (int i = 0; i < 100 && !c.Get("/health"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto reply = std::async(std::launch::async, [&] {
    httplib::Client c2("127.0.0.1", port);
    c2.set_read_timeout(300, 0);
    return c2.Post("/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 300}, {"n", 2}}.dump(),
                   "application/json");
  });
  // Signal once the request is being generated.
  for (int i = 0; i < 400 && slurp(log).find("<- prompts=1 n=2") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  auto r = reply.get();
  ASSERT_TRUE(r) << slurp(log);
  EXPECT_EQ(r->status, 200) << r->body;
  auto j = json::parse(r->body);
  EXPECT_EQ(j["choices"].size(), 2u);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(log);
  const std::string text = slurp(log);
  EXPECT_NE(text.find("server stopped"), std::string::npos) << text;
  EXPECT_EQ(text.find("Once upon a time"), std::string::npos) << "the prompt must never be logged";
  EXPECT_EQ(text.find(j["choices"][0]["text"].get<std::string>()), std::string::npos);
}

TEST(ServeProcess, BadFlagsExitTwo) {
  auto r = crucible::testing::run_command({crucible_binary(), "serve", "--model", "/nope/model.gguf"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("/nope/model.gguf"), std::string::npos) << r.err;
  if (std::filesystem::exists(stories("stories260K.bin"))) {
    r = crucible::testing::run_command({crucible_binary(), "serve", "--model", stories("stories260K.bin"),
                                        "--tokenizer", stories("tok512.bin"), "--port", "70000"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--port"), std::string::npos) << r.err;
  }
}

}  // namespace
