// `crucible data pull`: fetch a suite's public copy from the Hugging Face hub into the data dir the loaders read.
//
//   url       {HF_ENDPOINT or https://huggingface.co}/datasets/{repo}/resolve/{revision}/{file}; redirects followed
//             (curl drops the Authorization header when a redirect leaves the host, as the hub's CDN wants);
//   token     `Authorization: Bearer $HF_TOKEN` when set; never logged, never in an error message (URLs carry none);
//   retries   5xx, 429, timeouts, resets and short bodies are retried with exponential backoff; other 4xx are not;
//   hash      sha256 while the bytes arrive; a pinned hash must match (else RunError naming the file, the expected
//             and the actual hash, and nothing is replaced); every pulled file is recorded in <data dir>/
//             crucible-manifest.json (repo, revision, url, sha256, size, pinned or not, when);
//   atomic    bytes go to a temporary file in the destination's folder, fsync'd, then renamed over the old file and
//             the folder fsync'd: an interrupted or failed pull leaves the old file as it was.
//
// Not covered: concurrent pulls into one data dir race on the manifest (the data files themselves stay whole).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "harness/suite.h"

namespace crucible::harness {

struct PullOptions {
  std::string data_dir;
  std::optional<std::string> revision;  // overrides every suite's pinned revision
  bool force = false;                   // download again even when the file is there
  std::string endpoint = "https://huggingface.co";
  std::optional<std::string> token;
  int max_attempts = 5;
  double backoff_s = 1.0;         // before the 2nd attempt; doubled for each further one
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;      // a transfer slower than 1 KiB/s for this long is a timeout
  // A short status line, at most every half second while bytes arrive (final = false) and once per file when it is
  // done (final = true). The CLI rewrites one stderr line with it on a terminal.
  std::function<void(const std::string& line, bool final)> on_progress;
};

// HF_ENDPOINT, HF_TOKEN from the environment, the rest defaulted.
PullOptions pull_options_from_env(const std::string& data_dir);

struct PulledFile {
  std::string suite;
  std::string local;   // path written (or kept)
  std::string url;
  std::string sha256;
  int64_t bytes = 0;
  bool downloaded = false;  // false: already there, kept (no --force)
  bool pinned = false;
  int attempts = 0;
  double seconds = 0;
};

// Every name is checked first (InputError, nothing fetched, for an unknown suite or one with no hub source), then
// each suite's files are fetched in order. RunError naming the URL for a network failure or a hash mismatch.
std::vector<PulledFile> pull_suites(const std::vector<std::string>& suites, const PullOptions& options);

// One source's files (what pull_suites does per suite; `label` names it in messages and the manifest).
std::vector<PulledFile> pull_source(const std::string& label, const HubSource& source, const PullOptions& options);

std::string hub_url(const std::string& endpoint, const std::string& repo, const std::string& revision,
                    const std::string& file);

}  // namespace crucible::harness
