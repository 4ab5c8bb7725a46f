#include "harness/data_pull.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>

#include "core/error.h"
#include "core/json_io.h"
#include "core/sha256.h"
#include "core/version.h"
#include "core/time.h"
#include "harness/http.h"

namespace crucible::harness {

namespace {

namespace fs = std::filesystem;

constexpr const char* kManifest = "crucible-manifest.json";

// Closes the fd and removes the temporary file unless it was renamed into place.
struct TempFile {
  std::string path;
  int fd = -1;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

TempFile make_temp_beside(const std::string& dest) {
  fs::path p(dest);
  std::string pattern = (p.parent_path() / ("." + p.filename().string() + ".crucible-pull-XXXXXX")).string();
  TempFile t;
  t.fd = ::mkstemp(pattern.data());
  if (t.fd < 0) throw RunError(fmt::format("{}: cannot create a temporary file: {}", pattern, std::strerror(errno)));
  t.path = pattern;
  return t;
}

void fsync_or_throw(int fd, const std::string& path) {
  if (::fsync(fd) != 0) throw RunError(fmt::format("{}: fsync failed: {}", path, std::strerror(errno)));
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw RunError(fmt::format("{}: cannot open the folder to fsync it: {}", dir, std::strerror(errno)));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw RunError(fmt::format("{}: fsync failed: {}", dir, std::strerror(errno)));
}

// rename() over `dest`, then fsync the folder so the new name survives a power cut.
void commit_temp(TempFile& t, const std::string& dest) {
  fsync_or_throw(t.fd, t.path);
  ::close(t.fd);
  t.fd = -1;
  if (::rename(t.path.c_str(), dest.c_str()) != 0)
    throw RunError(fmt::format("{}: cannot rename {} into place: {}", dest, t.path, std::strerror(errno)));
  t.path.clear();
  fsync_dir(fs::path(dest).parent_path().string());
}

void write_all(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw RunError(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
    data += w;
    n -= static_cast<size_t>(w);
  }
}

void write_file_durably(const std::string& dest, const std::string& text) {
  TempFile t = make_temp_beside(dest);
  write_all(t.fd, text.data(), text.size(), t.path);
  commit_temp(t, dest);
}

std::string file_sha256(const std::string& path) { return sha256_file_hex(path); }

std::string human_bytes(double b) {
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.1f} kB", b / 1e3);
  return fmt::format("{} B", static_cast<int64_t>(b));
}

std::string status_hint(long status) {
  switch (status) {
    case 401:
    case 403: return " (a gated or private repo: set HF_TOKEN to a token that has accepted its terms)";
    case 404: return " (no such repo, revision or file; check --revision)";
    default: return "";
  }
}

// Downloads `url` into `temp` (truncated before each attempt), retrying what may pass (harness/http.h decides what
// and how long to wait). Returns the content hash.
std::string download(const std::string& url, const std::string& label, TempFile& temp, const PullOptions& o,
                     int& attempts, int64_t& bytes) {
  http::ConnectionOptions co;
  // The token lives only in this header list; no verbose mode, no message ever prints it.
  if (o.token && !o.token->empty()) co.headers.push_back("Authorization: Bearer " + *o.token);
  co.follow_redirects = true;
  co.connect_timeout_s = static_cast<double>(o.connect_timeout_s);
  co.low_speed_time_s = o.stall_timeout_s;
  auto start = std::chrono::steady_clock::now();
  if (o.on_progress)
    co.on_progress = [&](int64_t now, int64_t total) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string of = total > 0 ? fmt::format(" / {} ({:.0f}%)", human_bytes(static_cast<double>(total)),
                                               100.0 * static_cast<double>(now) / static_cast<double>(total))
                                 : "";
      o.on_progress(fmt::format("{}: {}{} {}/s", label, human_bytes(static_cast<double>(now)), of,
                                human_bytes(secs > 0 ? static_cast<double>(now) / secs : 0)),
                    false);
    };
  http::Connection connection(url, co);
  // Exactly 1, 2, 4… s (no jitter): one client, and the waits are documented.
  http::RetryPolicy policy{std::max(o.max_attempts, 1) - 1, o.backoff_s, 60.0, 600.0, false};
  std::mt19937_64 unused_rng(0);
  Sha256 hash;
  auto sink = [&](const char* data, size_t n) {
    write_all(temp.fd, data, n, temp.path);
    hash.update(data, n);
  };
  for (attempts = 1;; ++attempts) {
    if (::ftruncate(temp.fd, 0) != 0 || ::lseek(temp.fd, 0, SEEK_SET) != 0)
      throw RunError(fmt::format("{}: cannot truncate: {}", temp.path, std::strerror(errno)));
    hash = Sha256();
    start = std::chrono::steady_clock::now();
    http::Response r = connection.get(sink);
    std::string last_error;
    bool again = false;
    if (r.ok()) {
      if (r.content_length < 0 || r.content_length == r.received) {
        bytes = r.received;
        return hash.hex_digest();
      }
      last_error = fmt::format("short body: {} of {} bytes", r.received, r.content_length);
      again = true;
    } else if (r.transfer == CURLE_OK) {
      std::string body;
      for (char ch : r.body.substr(0, 300)) body += (ch == '\n' || ch == '\r') ? ' ' : ch;
      last_error = fmt::format("HTTP {}{}{}", r.status, status_hint(r.status), body.empty() ? "" : ": " + body);
      again = http::retryable_status(r.status).has_value();
    } else if (r.transfer == CURLE_WRITE_ERROR && !r.sink_error.empty()) {
      throw RunError(r.sink_error);
    } else {
      last_error = fmt::format("{}{}", curl_easy_strerror(r.transfer), r.error.empty() ? "" : " (" + r.error + ")");
      again = http::retryable_transfer(r.transfer).has_value();
    }
    if (!again) throw RunError(fmt::format("{}: {}", url, last_error));
    if (attempts >= std::max(o.max_attempts, 1))
      throw RunError(fmt::format("{}: failed after {} attempts; last: {}", url, attempts, last_error));
    double wait_s = http::retry_delay(policy, attempts - 1, r.retry_after_s, unused_rng);
    if (o.on_progress)
      o.on_progress(fmt::format("{}: {}; retrying in {:.1f} s (attempt {} of {}{})", label, last_error, wait_s,
                                attempts + 1, o.max_attempts, r.retry_after_s ? ", the server's Retry-After" : ""),
                    true);
    http::sleep_unless_stopped(wait_s, nullptr);
  }
}

Json read_manifest(const std::string& path) {
  if (!fs::exists(path)) return {{"version", 1}, {"files", Json::object()}};
  Json m = read_json_file(path);
  if (!m.is_object() || !m.contains("files") || !m["files"].is_object())
    throw InputError(path, "files", "not a crucible data manifest (move it away to start a new one)");
  return m;
}

}  // namespace

std::string hub_url(const std::string& endpoint, const std::string& repo, const std::string& revision,
                    const std::string& file) {
  std::string base = endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return fmt::format("{}/datasets/{}/resolve/{}/{}", base, repo, revision, file);
}

PullOptions pull_options_from_env(const std::string& data_dir) {
  PullOptions o;
  o.data_dir = data_dir;
  if (const char* e = std::getenv("HF_ENDPOINT"); e && *e) o.endpoint = e;
  if (const char* t = std::getenv("HF_TOKEN"); t && *t) o.token = t;
  return o;
}

std::vector<PulledFile> pull_source(const std::string& label, const HubSource& source, const PullOptions& o) {
  std::vector<PulledFile> out;
  bool pins_apply = !o.revision || *o.revision == source.revision;  // a pin is the hash of the pinned revision
  std::string revision = o.revision.value_or(source.revision);
  std::string manifest_path = o.data_dir + "/" + kManifest;
  for (const auto& f : source.files) {
    PulledFile r;
    r.suite = label;
    r.local = o.data_dir + "/" + f.local;
    r.url = hub_url(o.endpoint, source.repo, revision, f.remote);
    r.pinned = pins_apply && !f.sha256.empty();
    std::string name = fmt::format("{} {}", label, f.remote);
    if (!o.force && fs::is_regular_file(r.local)) {
      r.sha256 = file_sha256(r.local);
      r.bytes = static_cast<int64_t>(fs::file_size(r.local));
      if (o.on_progress)
        o.on_progress(fmt::format("{}: kept {} ({}{}; --force downloads it again)", name, r.local,
                                  human_bytes(static_cast<double>(r.bytes)),
                                  r.pinned && r.sha256 != f.sha256 ? ", differs from the pinned hash" : ""),
                      true);
      out.push_back(r);
      continue;
    }
    fs::path folder = fs::path(r.local).parent_path();
    bool folder_existed = fs::is_directory(folder);
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) throw RunError(fmt::format("{}: cannot create the folder: {}", folder.string(), ec.message()));
    auto t0 = std::chrono::steady_clock::now();
    try {
      TempFile temp = make_temp_beside(r.local);
      r.sha256 = download(r.url, name, temp, o, r.attempts, r.bytes);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r.pinned && r.sha256 != f.sha256)
        throw RunError(fmt::format("{}: sha256 mismatch for {} (from {}): expected {}, got {}; nothing was replaced",
                                   r.local, f.remote, r.url, f.sha256, r.sha256));
      commit_temp(temp, r.local);
    } catch (...) {
      if (!folder_existed) fs::remove(folder, ec);  // only if still empty: a failed pull leaves no trace
      throw;
    }
    r.downloaded = true;
    // Recorded after each file, so the files of a pull that fails halfway are still accounted for.
    Json manifest = read_manifest(manifest_path);
    manifest["files"][f.local] = {{"suite", label},         {"repo", source.repo}, {"revision", revision},
                                  {"file", f.remote},       {"url", r.url},        {"sha256", r.sha256},
                                  {"bytes", r.bytes},       {"pinned", r.pinned},  {"pulled_at", utc_now_iso8601()}};
    write_file_durably(manifest_path, manifest.dump(2) + "\n");
    if (o.on_progress)
      o.on_progress(fmt::format("{}: {} in {:.1f} s, sha256 {}{}", name, human_bytes(static_cast<double>(r.bytes)),
                                r.seconds, r.sha256.substr(0, 16), r.pinned ? " (pinned, checked)" : ""),
                    true);
    out.push_back(r);
  }
  return out;
}

std::vector<PulledFile> pull_suites(const std::vector<std::string>& suites, const PullOptions& o) {
  if (suites.empty()) throw InputError("SUITE", "", "name at least one suite");
  std::vector<const SuiteInfo*> infos;
  for (const auto& name : suites) {
    const SuiteInfo& info = find_suite(name);
    if (!info.hub) throw InputError(name, "", "cannot be pulled: " + info.hub_note);
    infos.push_back(&info);
  }
  std::vector<PulledFile> out;
  for (const auto* info : infos)
    for (auto& f : pull_source(info->name, *info->hub, o)) out.push_back(std::move(f));
  return out;
}

}  // namespace crucible::harness
