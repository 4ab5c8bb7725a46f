// `crucible data pull` against a hub stand-in: a cpp-httplib server on 127.0.0.1 (ephemeral port) that HF_ENDPOINT
// points at. Covers success, pinned-hash mismatch, 404, 5xx/429 then success, short bodies, refused connections,
// the token (sent, never printed), atomicity (the old file survives every failure) and the CLI's exit codes.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/json_io.h"
#include "core/sha256.h"
#include "harness/data_pull.h"
#include "tests/harness/lcb_fixture.h"
#include "tests/support/test_support.h"

using namespace crucible;
using namespace crucible::harness;
using crucible::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// One scripted reply; the last one of a path repeats.
struct Reply {
  int status = 200;
  std::string body;
  size_t send_only = std::string::npos;  // < body.size(): Content-Length says body.size(), fewer bytes are sent
};

class FakeHub {
 public:
  FakeHub() {
    server_.Get(R"(/datasets/(.+)/resolve/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      Reply r;
      {
        std::lock_guard lock(mu_);
        ++hits_[req.path];
        auth_.push_back(req.get_header_value("Authorization"));
        auto it = replies_.find(req.path);
        if (it == replies_.end()) {
          res.status = 404;
          res.set_content(R"({"error":"Entry not found"})", "application/json");
          return;
        }
        r = it->second.size() > 1 ? it->second.front() : it->second.back();
        if (it->second.size() > 1) it->second.erase(it->second.begin());
      }
      res.status = r.status;
      if (r.send_only >= r.body.size()) {
        res.set_content(r.body, "application/octet-stream");
        return;
      }
      auto body = std::make_shared<std::string>(r.body);
      size_t n = r.send_only;
      res.set_content_provider(body->size(), "application/octet-stream",
                               [body, n](size_t, size_t, httplib::DataSink& sink) {
                                 sink.write(body->data(), n);
                                 return false;  // cancel: httplib closes the connection mid-body
                               });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");  // listening from here on: requests queue until the loop runs
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() before the accept loop has started does nothing, and join() would then wait forever.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeHub() {
    server_.stop();
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void serve(const std::string& repo, const std::string& rev, const std::string& file, std::vector<Reply> replies) {
    std::lock_guard lock(mu_);
    replies_["/datasets/" + repo + "/resolve/" + rev + "/" + file] = std::move(replies);
  }
  int hits(const std::string& repo, const std::string& rev, const std::string& file) {
    std::lock_guard lock(mu_);
    return hits_["/datasets/" + repo + "/resolve/" + rev + "/" + file];
  }
  std::vector<std::string> auth() {
    std::lock_guard lock(mu_);
    return auth_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, std::vector<Reply>> replies_;
  std::map<std::string, int> hits_;
  std::vector<std::string> auth_;
};

PullOptions options(const FakeHub& hub, const std::string& dir, std::vector<std::string>* lines = nullptr) {
  PullOptions o;
  o.data_dir = dir;
  o.endpoint = hub.endpoint();
  o.max_attempts = 3;
  o.backoff_s = 0.01;
  o.connect_timeout_s = 5;
  if (lines) o.on_progress = [lines](const std::string& l, bool) { lines->push_back(l); };
  return o;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Nothing but the data files (and the manifest) in the folder: no temporary file left behind.
std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> v;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) v.push_back(fs::relative(e.path(), dir).string());
  std::sort(v.begin(), v.end());
  return v;
}

const std::string kRepo = "org/bench";
const std::string kRev = "0123456789abcdef0123456789abcdef01234567";

}  // namespace

TEST(DataPull, DownloadsFilesRecordsTheManifestAndSendsTheToken) {
  FakeHub hub;
  TempDir dir;
  std::string a = "{\"x\": 1}\n", b(300000, 'b');  // b spans many reads
  hub.serve(kRepo, kRev, "a.jsonl", {{200, a}});
  hub.serve(kRepo, kRev, "sub/b.jsonl", {{200, b}});
  std::vector<std::string> lines;
  auto o = options(hub, dir.path(), &lines);
  o.token = "hf_SECRETtoken123";
  HubSource src{kRepo, kRev, {{"a.jsonl", "bench/a.jsonl", ""}, {"sub/b.jsonl", "bench/deep/b.jsonl", sha256_hex(b)}}};
  auto files = pull_source("bench", src, o);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(read_text_file(dir.file("bench/a.jsonl")), a);
  EXPECT_EQ(read_text_file(dir.file("bench/deep/b.jsonl")), b);
  EXPECT_TRUE(files[0].downloaded);
  EXPECT_FALSE(files[0].pinned);
  EXPECT_TRUE(files[1].pinned);
  EXPECT_EQ(files[0].sha256, sha256_hex(a));
  EXPECT_EQ(files[0].url, hub.endpoint() + "/datasets/org/bench/resolve/" + kRev + "/a.jsonl");
  EXPECT_EQ(files[0].attempts, 1);
  for (const auto& h : hub.auth()) EXPECT_EQ(h, "Bearer hf_SECRETtoken123");
  for (const auto& l : lines) EXPECT_EQ(l.find("SECRET"), std::string::npos) << l;
  EXPECT_FALSE(lines.empty());

  Json m = read_json_file(dir.file("crucible-manifest.json"));
  EXPECT_EQ(m["files"]["bench/a.jsonl"]["sha256"], sha256_hex(a));
  EXPECT_EQ(m["files"]["bench/a.jsonl"]["repo"], kRepo);
  EXPECT_EQ(m["files"]["bench/a.jsonl"]["revision"], kRev);
  EXPECT_EQ(m["files"]["bench/a.jsonl"]["pinned"], false);
  EXPECT_EQ(m["files"]["bench/deep/b.jsonl"]["bytes"], 300000);
  EXPECT_EQ(m.dump().find("SECRET"), std::string::npos);
  EXPECT_EQ(names_in(dir.path()),
            (std::vector<std::string>{"bench/a.jsonl", "bench/deep/b.jsonl", "crucible-manifest.json"}));

  // Present files are kept without a request; --force fetches them again.
  auto kept = pull_source("bench", src, o);
  EXPECT_FALSE(kept[0].downloaded);
  EXPECT_EQ(kept[0].sha256, sha256_hex(a));
  EXPECT_EQ(hub.hits(kRepo, kRev, "a.jsonl"), 1);
  o.force = true;
  pull_source("bench", src, o);
  EXPECT_EQ(hub.hits(kRepo, kRev, "a.jsonl"), 2);
}

TEST(DataPull, PinnedHashMismatchReplacesNothing) {
  FakeHub hub;
  TempDir dir;
  fs::create_directories(dir.file("bench"));
  write_text_file_atomic(dir.file("bench/a.jsonl"), "old\n");
  hub.serve(kRepo, kRev, "a.jsonl", {{200, "tampered\n"}});
  auto o = options(hub, dir.path());
  o.force = true;
  std::string pin = sha256_hex("expected\n");
  HubSource src{kRepo, kRev, {{"a.jsonl", "bench/a.jsonl", pin}}};
  std::string e = error_of([&] { pull_source("bench", src, o); });
  EXPECT_NE(e.find(dir.file("bench/a.jsonl") + ": sha256 mismatch"), std::string::npos) << e;
  EXPECT_NE(e.find("expected " + pin), std::string::npos) << e;
  EXPECT_NE(e.find("got " + sha256_hex("tampered\n")), std::string::npos) << e;
  EXPECT_EQ(read_text_file(dir.file("bench/a.jsonl")), "old\n");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"bench/a.jsonl"}) << "no temp file, no manifest entry";
  // A pin belongs to its revision: asked for another revision, the hash is recorded, not checked.
  hub.serve(kRepo, "main", "a.jsonl", {{200, "tampered\n"}});
  o.revision = "main";
  auto files = pull_source("bench", src, o);
  EXPECT_FALSE(files[0].pinned);
  EXPECT_EQ(read_text_file(dir.file("bench/a.jsonl")), "tampered\n");
}

TEST(DataPull, NotFoundFailsAtOnceNamingTheUrl) {
  FakeHub hub;
  TempDir dir;
  auto o = options(hub, dir.path());
  HubSource src{kRepo, kRev, {{"missing.jsonl", "bench/missing.jsonl", ""}}};
  std::string e = error_of([&] { pull_source("bench", src, o); });
  EXPECT_NE(e.find(hub.endpoint() + "/datasets/org/bench/resolve/" + kRev + "/missing.jsonl: HTTP 404"),
            std::string::npos) << e;
  EXPECT_NE(e.find("Entry not found"), std::string::npos) << e;
  EXPECT_EQ(hub.hits(kRepo, kRev, "missing.jsonl"), 1) << "a 404 is not retried";
  EXPECT_FALSE(fs::exists(dir.file("bench"))) << "the folder made for the file is removed again";
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{});
}

TEST(DataPull, ServerErrorsAndRateLimitsAreRetried) {
  FakeHub hub;
  TempDir dir;
  hub.serve(kRepo, kRev, "a.jsonl", {{500, "oops"}, {429, "slow down"}, {200, "fine\n"}});
  std::vector<std::string> lines;
  auto o = options(hub, dir.path(), &lines);
  HubSource src{kRepo, kRev, {{"a.jsonl", "bench/a.jsonl", sha256_hex("fine\n")}}};
  auto files = pull_source("bench", src, o);
  EXPECT_EQ(files[0].attempts, 3);
  EXPECT_EQ(hub.hits(kRepo, kRev, "a.jsonl"), 3);
  EXPECT_EQ(read_text_file(dir.file("bench/a.jsonl")), "fine\n") << "no error page in the file";
  bool said_retry = false;
  for (const auto& l : lines) said_retry |= l.find("HTTP 500") != std::string::npos && l.find("retrying") != std::string::npos;
  EXPECT_TRUE(said_retry);
  // More failures than attempts: the last error is reported.
  hub.serve(kRepo, kRev, "b.jsonl", {{503, "down"}});
  HubSource src_b{kRepo, kRev, {{"b.jsonl", "bench/b.jsonl", ""}}};
  std::string e = error_of([&] { pull_source("bench", src_b, o); });
  EXPECT_NE(e.find("failed after 3 attempts; last: HTTP 503"), std::string::npos) << e;
}

TEST(DataPull, ShortBodiesAndDeadServersLeaveTheOldFile) {
  FakeHub hub;
  TempDir dir;
  fs::create_directories(dir.file("bench"));
  write_text_file_atomic(dir.file("bench/a.jsonl"), "old\n");
  std::string body(100000, 'n');
  hub.serve(kRepo, kRev, "a.jsonl", {{200, body, 1000}});  // Content-Length 100000, 1000 bytes, then a closed socket
  auto o = options(hub, dir.path());
  o.force = true;
  HubSource src{kRepo, kRev, {{"a.jsonl", "bench/a.jsonl", ""}}};
  std::string e = error_of([&] { pull_source("bench", src, o); });
  EXPECT_NE(e.find("failed after 3 attempts; last: Transferred a partial file"), std::string::npos) << e;
  EXPECT_EQ(hub.hits(kRepo, kRev, "a.jsonl"), 3) << "a short body is retried";
  EXPECT_EQ(read_text_file(dir.file("bench/a.jsonl")), "old\n");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"bench/a.jsonl"});
  // The short body once, then the whole one.
  hub.serve(kRepo, kRev, "a.jsonl", {{200, body, 10}, {200, body}});
  auto files = pull_source("bench", src, o);
  EXPECT_EQ(files[0].attempts, 2);
  EXPECT_EQ(read_text_file(dir.file("bench/a.jsonl")), body);

  // Nothing listening: connection refused, retried, reported with the URL.
  int port = 0;
  {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port = ntohs(addr.sin_port);
    ::close(fd);  // bound, never listened, closed: connecting is refused
  }
  o.endpoint = "http://127.0.0.1:" + std::to_string(port);
  e = error_of([&] { pull_source("bench", src, o); });
  EXPECT_NE(e.find(o.endpoint + "/datasets/org/bench/resolve/"), std::string::npos) << e;
  EXPECT_NE(e.find("failed after 3 attempts"), std::string::npos) << e;
  EXPECT_EQ(read_text_file(dir.file("bench/a.jsonl")), body);
}

TEST(DataPull, SuiteNamesAreCheckedBeforeAnythingIsFetched) {
  FakeHub hub;
  TempDir dir;
  auto o = options(hub, dir.path());
  std::string e = error_of([&] { pull_suites({"math500", "nosuch"}, o); });
  EXPECT_NE(e.find("unknown suite 'nosuch'"), std::string::npos) << e;
  e = error_of([&] { pull_suites({"gsm8k"}, o); });
  EXPECT_NE(e.find("gsm8k: cannot be pulled: the hub copy (openai/gsm8k) is parquet"), std::string::npos) << e;
  EXPECT_TRUE(hub.auth().empty()) << "no request was made";
  EXPECT_THROW(pull_suites({}, o), InputError);
}

// The CLI end to end: livecodebench's five release files from the stand-in, then read by the loader with their
// private tests; exit codes 0, 1 and 2; the token in the header and nowhere in the output.
TEST(DataPull, CliPullsLiveCodeBenchAndKeepsTheTokenSecret) {
  FakeHub hub;
  TempDir dir;
  const auto& lcb = find_suite("livecodebench");
  Json pub = Json::array({crucible::testing::stdin_test("1 2\n", "3\n")});
  Json priv = Json::array({crucible::testing::stdin_test("5 6\n", "11\n")});
  for (const auto& f : lcb.hub->files) {
    std::string body = f.remote == "test5.jsonl"
                           ? crucible::testing::lcb_row("abc380_a", "2024-11-16T00:00:00", pub, priv).dump() + "\n"
                           : "";
    hub.serve(lcb.hub->repo, lcb.hub->revision, f.remote, {{200, body}});
  }
  const std::string token = "hf_DoNotPrintMe42";
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/env", "HF_ENDPOINT=" + hub.endpoint(), "HF_TOKEN=" + token,
                                     crucible::testing::crucible_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return crucible::testing::run_command(argv);
  };
  auto ok = run({"data", "pull", "livecodebench", "--data-dir", dir.path()});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ((ok.out + ok.err).find(token), std::string::npos);
  EXPECT_NE(ok.out.find("code_generation_lite/test5.jsonl"), std::string::npos) << ok.out;
  auto loaded = load_suite(lcb, dir.path());
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(loaded.problems[0].meta["tests"].size(), 2u) << "public + private";
  for (const auto& h : hub.auth()) EXPECT_EQ(h, "Bearer " + token);

  // Network failure (404 here): exit 1, the URL named, the token not.
  auto missing = run({"data", "pull", "math500", "--data-dir", dir.path()});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_NE(missing.err.find(hub.endpoint() + "/datasets/HuggingFaceH4/MATH-500/resolve/"), std::string::npos)
      << missing.err;
  EXPECT_EQ((missing.out + missing.err).find(token), std::string::npos);
  // A pinned suite served the wrong bytes: exit 1, expected and actual named.
  const auto& math = find_suite("math500");
  hub.serve(math.hub->repo, math.hub->revision, "test.jsonl", {{200, "{}\n"}});
  auto bad = run({"data", "pull", "math500", "--data-dir", dir.path()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("expected " + math.hub->files[0].sha256), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir.file("math500/test.jsonl")));
  // Bad names and arguments: exit 2.
  EXPECT_EQ(run({"data", "pull", "nosuch"}).exit_code, 2);
  EXPECT_EQ(run({"data", "pull", "humaneval", "--data-dir", dir.path()}).exit_code, 2);
  EXPECT_EQ(run({"data", "pull"}).exit_code, 2);
  EXPECT_EQ(run({"data", "pull", "math500", "--bogus"}).exit_code, 2);
}

// SIGKILL in the middle of a download: the old file is untouched (only a temporary file may stay behind).
TEST(DataPull, KilledMidDownloadLeavesTheOldFile) {
  httplib::Server server;
  std::atomic<bool> started{false}, release{false};
  server.Get(R"(/datasets/(.+)/resolve/([^/]+)/(.+))", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content_provider(1000000, "application/octet-stream", [&](size_t offset, size_t, httplib::DataSink& sink) {
      if (offset == 0) {
        sink.write("{\"partial\": ", 12);
        started = true;
        return true;
      }
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // stall until the test ends
      return false;
    });
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread loop([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  TempDir dir;
  const auto& math = find_suite("math500");
  std::string target = dir.file(math.hub->files[0].local);
  fs::create_directories(fs::path(target).parent_path());
  write_text_file_atomic(target, "old\n");
  std::string endpoint = "HF_ENDPOINT=http://127.0.0.1:" + std::to_string(port);
  std::string binary = crucible::testing::crucible_binary();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl("/usr/bin/env", "env", endpoint.c_str(), binary.c_str(), "data", "pull", "math500", "--force", "--data-dir",
          dir.path().c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 3000 && !started; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the first bytes reach the temporary file
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  release = true;
  server.stop();
  loop.join();
  ASSERT_TRUE(started.load()) << "the download never began";
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(read_text_file(target), "old\n");
  EXPECT_FALSE(fs::exists(dir.file("crucible-manifest.json")));
  for (const auto& name : names_in(dir.path()))
    EXPECT_TRUE(name == "math500/test.jsonl" || name.find(".test.jsonl.crucible-pull-") != std::string::npos) << name;
}
