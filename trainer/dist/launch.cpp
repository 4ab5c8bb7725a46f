#include "trainer/dist/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "trainer/dist/env.h"

namespace crucible::trainer::dist {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw RunError(std::string("socket(): ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw RunError(std::string("no free loopback port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

namespace {

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + ::strsignal(WTERMSIG(status));
  return "stopped";
}

volatile sig_atomic_t g_sigint = 0;

}  // namespace

void install_sigint_flag() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_sigint = 1; };
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
}

bool sigint_received() { return g_sigint != 0; }

std::vector<std::string> own_arguments() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  size_t i = 0;
  while (i < all.size()) {
    size_t z = all.find('\0', i);
    if (z == std::string::npos) z = all.size();
    args.push_back(all.substr(i, z - i));
    i = z + 1;
  }
  return args;
}

std::vector<std::string> without_nproc_flag(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc-per-node") {
      ++i;  // and its value
      continue;
    }
    if (args[i].rfind("--nproc-per-node=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

int launch_local_ranks(int nproc) {
  if (nproc < 1) throw InputError("train", "--nproc-per-node", "must be >= 1");
  if (dist_env().source != "single")
    throw InputError("train", "--nproc-per-node",
                     "this process already runs under a launcher (RANK/WORLD_SIZE or SLURM_PROCID/SLURM_NTASKS set): "
                     "use one or the other");
  const auto args = without_nproc_flag(own_arguments());
  const char* mp = std::getenv("MASTER_PORT");
  const std::string port = mp && *mp ? std::string(mp) : std::to_string(free_port());
  std::vector<pid_t> pids(static_cast<size_t>(nproc), -1);
  ::signal(SIGINT, SIG_IGN);
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) throw RunError(std::string("--nproc-per-node: fork(): ") + std::strerror(errno));
    if (pid == 0) {
      ::signal(SIGINT, SIG_DFL);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "rank %d: exec of /proc/self/exe failed: %s\n", r, std::strerror(errno));
      ::_exit(127);
    }
    pids[static_cast<size_t>(r)] = pid;
  }
  int live = nproc, code = 0;
  std::chrono::steady_clock::time_point kill_at{};
  while (live > 0) {
    int status = 0;
    // Blocking until a rank fails; then polling, so that ranks still alive after the grace period get SIGKILL
    // (only pids not yet reaped are signalled: they cannot have been reused).
    const pid_t pid = ::waitpid(-1, &status, code == 0 ? 0 : WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;
    if (pid == 0) {
      if (std::chrono::steady_clock::now() >= kill_at)
        for (pid_t p : pids)
          if (p > 0) ::kill(p, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    int rank = -1;
    for (int r = 0; r < nproc; ++r)
      if (pids[static_cast<size_t>(r)] == pid) rank = r;
    if (rank < 0) continue;
    pids[static_cast<size_t>(rank)] = -1;
    --live;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok || code != 0) continue;
    // The first failure: the others cannot finish a collective without this rank, so stop them now rather than
    // letting them wait for the collective timeout.
    code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    log::error("--nproc-per-node: rank {} {}; stopping the other ranks", rank, describe(status));
    for (pid_t p : pids)
      if (p > 0) ::kill(p, SIGTERM);
    kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  }
  return code;
}

}  // namespace crucible::trainer::dist
