#include "tests/support/test_support.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/fs.h"

namespace crucible::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/crucible-test-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  path_ = buf.data();
}

TempDir::~TempDir() {
  try {
    remove_tree(path_);  // core/fs.h: never std::filesystem::remove_all in a torch-linked binary
  } catch (const std::exception&) {  // a destructor leaves a folder it cannot remove
  }
}

std::string source_dir() {
  const char* s = std::getenv("CRUCIBLE_SOURCE_DIR");
  return s && *s ? s : CRUCIBLE_TEST_SOURCE_DIR;
}

std::string shared_dir() { return source_dir() + "/../shared"; }

bool has_shared_data() { return std::filesystem::exists(shared_dir() + "/data/SOURCES.md"); }

std::string crucible_binary() {
  const char* b = std::getenv("CRUCIBLE_BINARY_DIR");
  std::string dir = b && *b ? b : CRUCIBLE_TEST_BINARY_DIR;
  return dir + "/bin/crucible";
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  // Feed stdin and drain both outputs together so a chatty child can never block on a full pipe.
  CommandResult r;
  size_t written = 0;
  if (stdin_text.empty()) close(in_pipe[1]);
  fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  bool in_open = !stdin_text.empty(), out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    std::vector<pollfd> fds;
    if (out_open) fds.push_back({out_pipe[0], POLLIN, 0});
    if (err_open) fds.push_back({err_pipe[0], POLLIN, 0});
    if (in_open) fds.push_back({in_pipe[1], POLLOUT, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (auto& p : fds) {
      if (!p.revents) continue;
      if (p.fd == in_pipe[1]) {
        ssize_t n = write(in_pipe[1], stdin_text.data() + written, stdin_text.size() - written);
        if (n > 0) written += size_t(n);
        if (n < 0 || written == stdin_text.size()) {
          close(in_pipe[1]);
          in_open = false;
        }
        continue;
      }
      ssize_t n = read(p.fd, buf, sizeof buf);
      if (n <= 0) {
        close(p.fd);
        (p.fd == out_pipe[0] ? out_open : err_open) = false;
      } else {
        (p.fd == out_pipe[0] ? r.out : r.err).append(buf, size_t(n));
      }
    }
  }
  if (in_open) close(in_pipe[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::map<std::string, std::vector<float>> read_safetensors_f32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, std::vector<float>> out;
  const auto parsed = nlohmann::json::parse(header);
  for (const auto& [name, e] : parsed.items()) {
    if (name == "__metadata__") continue;
    EXPECT_EQ(e["dtype"], "F32") << path << ": " << name;
    const auto b = e["data_offsets"][0].get<size_t>(), end = e["data_offsets"][1].get<size_t>();
    std::vector<float> v((end - b) / 4);
    std::memcpy(v.data(), data.data() + b, end - b);
    out[name] = std::move(v);
  }
  return out;
}

std::pair<double, std::string> max_relative_difference(const std::string& fa, const std::string& fb) {
  const auto a = read_safetensors_f32(fa), b = read_safetensors_f32(fb);
  EXPECT_EQ(a.size(), b.size());
  EXPECT_FALSE(a.empty()) << fa;
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, va] : a) {
    const auto it = b.find(name);
    if (it == b.end()) {
      ADD_FAILURE() << fb << " has no " << name;
      continue;
    }
    const auto& vb = it->second;
    EXPECT_EQ(va.size(), vb.size()) << name;
    double scale = 0, diff = 0;
    for (size_t i = 0; i < va.size() && i < vb.size(); ++i) {
      scale = std::max(scale, std::abs(double(va[i])));
      diff = std::max(diff, std::abs(double(va[i]) - double(vb[i])));
    }
    const double rel = scale > 0 ? diff / scale : diff;
    if (rel >= worst) worst = rel, worst_name = name;
  }
  return {worst, worst_name};
}

}  // namespace crucible::testing
