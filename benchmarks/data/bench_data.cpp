// bench_data: two measurements for issue 6's data half, one run each, printed as a table.
//
//   resume scan  a store with R1-scale completions (AIME: 30 problems x 64 samples x ~100 kB); what the eval loop's
//                resume check costs reading every sample (run_samples, before) vs the keys alone (run_sample_keys);
//   pull         a 256 MB file from a local cpp-httplib server: pull_source (curl + sha256 + fsync + rename) vs the
//                curl(1) command line writing the same bytes (`curl -sS -o`), then `sha256sum` of them.
#include <httplib.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "core/fs.h"
#include "core/sha256.h"
#include "harness/data_pull.h"
#include "reports/store.h"

using namespace crucible;
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

long max_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

void bench_resume_scan(const std::string& dir) {
  const int problems = 30, samples = 64;
  const size_t completion_bytes = 100 * 1000;
  std::string db = dir + "/bench.db";
  fs::remove(db);
  Store store = Store::open(db);
  int64_t model = store.upsert_model({0, "/m", "hf", "h", {}});
  int64_t dataset = store.upsert_dataset({0, "aime24", "1", "/d", "sha", problems});
  RunRecord r;
  r.name = "bench";
  r.kind = "eval";
  r.model_id = model;
  r.identity = "bench";
  int64_t run = store.create_run(r);
  std::string text(completion_bytes, 'x');
  for (int p = 0; p < problems; ++p) {
    int64_t pid = store.upsert_problem({0, dataset, "p" + std::to_string(p), p, "1", {}});
    std::vector<SampleRecord> batch;
    for (int k = 0; k < samples; ++k) {
      SampleRecord s;
      s.run_id = run;
      s.problem_id = pid;
      s.sample_index = k;
      s.prompt_hash = "ph";
      s.completion = text;
      s.finish_reason = "stop";
      batch.push_back(std::move(s));
    }
    store.insert_samples(batch);
  }
  std::printf("resume scan: %d samples, %.0f MB of completions, store %.0f MB\n", problems * samples,
              problems * samples * completion_bytes / 1e6, fs::file_size(db) / 1e6);
  long rss0 = max_rss_mb();
  auto t0 = std::chrono::steady_clock::now();
  size_t n_keys = store.run_sample_keys(run).size();
  double keys_s = seconds_since(t0);
  long rss_keys = max_rss_mb();
  t0 = std::chrono::steady_clock::now();
  size_t n_samples = store.run_samples(run).size();
  double samples_s = seconds_since(t0);
  long rss_samples = max_rss_mb();
  std::printf("  run_sample_keys  %8.4f s  max RSS +%ld MB  (%zu keys)\n", keys_s, rss_keys - rss0, n_keys);
  std::printf("  run_samples      %8.4f s  max RSS +%ld MB  (%zu samples)\n", samples_s, rss_samples - rss_keys,
              n_samples);
  std::printf("  ratio            %8.0fx faster\n", samples_s / keys_s);
}

void bench_pull(const std::string& dir) {
  const size_t size = 256u << 20;
  std::string body(size, '\0');
  for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>((i * 2654435761u) >> 13);
  httplib::Server server;
  server.Get(R"(/datasets/(.+)/resolve/([^/]+)/(.+))",
             [&](const httplib::Request&, httplib::Response& res) { res.set_content(body, "application/octet-stream"); });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread loop([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::string endpoint = "http://127.0.0.1:" + std::to_string(port);

  harness::PullOptions o;
  o.data_dir = dir;
  o.endpoint = endpoint;
  o.force = true;
  harness::HubSource src{"org/big", "rev", {{"big.bin", "big/big.bin", sha256_hex(body)}}};
  auto t0 = std::chrono::steady_clock::now();
  auto files = harness::pull_source("big", src, o);
  double crucible_s = seconds_since(t0);

  std::string out = dir + "/curl.bin";
  std::string cmd = "curl -sS -o " + out + " " + endpoint + "/datasets/org/big/resolve/rev/big.bin";
  t0 = std::chrono::steady_clock::now();
  int rc = std::system(cmd.c_str());
  double curl_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  int rc2 = std::system(("sha256sum " + out + " > /dev/null").c_str());
  double sha_s = seconds_since(t0);
  server.stop();
  loop.join();
  std::printf("pull: %zu MB from 127.0.0.1 (pinned sha256 checked: %s)\n", size >> 20,
              files[0].sha256 == src.files[0].sha256 ? "yes" : "NO");
  std::printf("  crucible pull_source (download + sha256 + fsync + rename) %6.2f s  %6.0f MB/s\n", crucible_s,
              size / 1e6 / crucible_s);
  std::printf("  curl -o                                                  %6.2f s  %6.0f MB/s  (rc %d)\n", curl_s,
              size / 1e6 / curl_s, rc);
  std::printf("  curl -o, then sha256sum                                  %6.2f s  %6.0f MB/s  (rc %d)\n",
              curl_s + sha_s, size / 1e6 / (curl_s + sha_s), rc2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/crucible-bench-data";
  fs::create_directories(dir);
  bench_resume_scan(dir);
  bench_pull(dir);
  remove_tree(dir);
  return 0;
}
