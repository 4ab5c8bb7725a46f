// Hostile programs (hostile/*.py) armed inside the sandbox, one by one. For each: the verdict is one of those
// expected, programs that report on themselves print CONTAINED, and the host is unchanged afterwards — no process
// of the run alive 2 s after the verdict, no file planted outside the work dir, the environment canary never in the
// output, the loopback listener never reached, and crucible's own descriptors and memory bounded.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"
#include "verifiers/code/code_grader.h"
#include "verifiers/code/sandbox.h"

namespace vc = crucible::verifiers::code;
namespace fs = std::filesystem;
using V = vc::Verdict;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string hostile(const std::string& name) {
  return read_file(crucible::testing::source_dir() + "/tests/verifiers/code/hostile/" + name);
}

// Host uids of this test's runs, distinct from any other test's running in parallel under ctest -j.
unsigned test_uid() { return 62000 + 2 * static_cast<unsigned>(getpid() % 1000); }

// Live processes only: a zombie has released everything but its pid, and whether one is left depends on who reaps
// orphans on the host (a container's pid 1 may never do it), not on crucible.
int count_processes_of(unsigned uid_a, unsigned uid_b) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream status(e.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("State:", 0) == 0) {
        const auto at = line.find_first_not_of(" \t", 6);
        if (at != std::string::npos && (line[at] == 'Z' || line[at] == 'X')) break;
      }
      if (line.rfind("Uid:", 0) == 0) {
        std::istringstream f(line.substr(4));
        unsigned real = 0;
        f >> real;
        if (real == uid_a || real == uid_b) ++n;
        break;
      }
    }
  }
  return n;
}

std::set<std::string> planted_files() {
  std::set<std::string> found;
  for (const char* dir : {"/", "/tmp", "/var/tmp", "/root", "/etc", "/etc/profile.d", "/etc/cron.d", "/work",
                          "/dev", "/dev/shm", "/usr", "/usr/lib", "/usr/lib/python3.11", "/home"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename();
      if (name.find("crucible_hostile") != std::string::npos || name == "sitecustomize.py") found.insert(e.path());
    }
  }
  return found;
}

int count_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

long rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!vc::sandbox_available(&why)) GTEST_FAIL() << "no sandbox: " << why;
    std::random_device rd;
    canary_ = "canary-" + std::to_string(rd()) + std::to_string(rd());
    setenv("CRUCIBLE_HOSTILE_CANARY", canary_.c_str(), 1);
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener_, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(listener_, 16), 0);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    files_before_ = planted_files();
    bashrc_before_ = read_file("/root/.bashrc");
    fds_before_ = count_fds();
    rss_before_ = rss_kb();
  }
  void TearDown() override {
    if (listener_ >= 0) close(listener_);
    unsetenv("CRUCIBLE_HOSTILE_CANARY");
  }

  vc::SandboxResult arm(const std::string& file, double cpu = 1.0) {
    vc::SandboxSpec spec;
    spec.argv = {"/usr/bin/python3", "-I", "/work/main.py"};
    spec.files = {{"main.py", hostile(file)}};
    spec.stdin_data = std::to_string(port_) + "\n";
    spec.limits.cpu_seconds = cpu;
    spec.limits.wall_seconds = 4;
    spec.limits.max_processes = 32;
    spec.limits.memory_mb = 512;
    spec.host_uid = test_uid();
    auto r = vc::run_sandboxed(spec);
    check_host(file, r.out + r.err);
    return r;
  }

  void check_host(const std::string& what, const std::string& output) {
    // No process of the run survives its verdict (allow 5 s for the kernel to finish killing on a loaded machine).
    int left = 0;
    for (int i = 0; i < 50; ++i) {
      while (waitpid(-1, nullptr, WNOHANG) > 0) {  // orphans re-parented to this test (CrucibleKilledMidRun)
      }
      left = count_processes_of(test_uid(), test_uid() + 1);
      if (left == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(left, 0) << what << ": processes of the run outlived it";
    EXPECT_EQ(planted_files(), files_before_) << what << ": a file appeared outside the work dir";
    EXPECT_EQ(read_file("/root/.bashrc"), bashrc_before_) << what;
    EXPECT_EQ(output.find(canary_), std::string::npos) << what << ": the environment leaked";
    int conn = accept(listener_, nullptr, nullptr);
    EXPECT_LT(conn, 0) << what << ": the host's loopback listener was reached";
    if (conn >= 0) close(conn);
    EXPECT_LE(count_fds(), fds_before_) << what << ": crucible leaked descriptors";
    EXPECT_LT(rss_kb() - rss_before_, 64 * 1024) << what << ": crucible's memory grew";
  }

  void expect_contained(const std::string& file, std::set<V> verdicts = {V::pass}) {
    auto r = arm(file);
    EXPECT_TRUE(verdicts.count(r.verdict)) << file << ": " << vc::verdict_name(r.verdict) << " " << r.message
                                           << "\n" << r.err.substr(0, 2000);
    if (r.verdict == V::pass) {
      EXPECT_EQ(r.out.rfind("CONTAINED", 0), 0u) << file << " says: " << r.out.substr(0, 2000);
    }
  }

  std::string canary_;
  int listener_ = -1;
  int port_ = 0;
  std::set<std::string> files_before_;
  std::string bashrc_before_;
  int fds_before_ = 0;
  long rss_before_ = 0;
};

}  // namespace

TEST_F(Hostile, ForkBomb) {
  auto r = arm("fork_bomb.py");
  EXPECT_EQ(r.verdict, V::time_limit) << r.message;
}

TEST_F(Hostile, ThreadBomb) {
  auto r = arm("thread_bomb.py");
  EXPECT_EQ(r.verdict, V::time_limit) << r.message;
}

TEST_F(Hostile, MemoryHog) {
  auto r = arm("memory_hog.py");
  EXPECT_EQ(r.verdict, V::memory_limit) << r.message << r.err;
  EXPECT_LT(r.peak_memory_kb, 512 * 1024);
}

TEST_F(Hostile, ForkMemoryBomb) {
  auto r = arm("fork_memory_bomb.py");
  EXPECT_EQ(r.verdict, V::memory_limit) << r.message;
}

TEST_F(Hostile, SharedMemoryAndTmpfs) { expect_contained("shm_hog.py"); }

TEST_F(Hostile, SleepPastTheLimit) {
  auto r = arm("sleep_forever.py");
  EXPECT_EQ(r.verdict, V::time_limit);
  EXPECT_LT(r.wall_seconds, 6);
}

TEST_F(Hostile, IgnoresSignals) {
  auto r = arm("ignore_signals.py");
  EXPECT_EQ(r.verdict, V::time_limit);
}

TEST_F(Hostile, EndlessStdout) {
  auto r = arm("endless_output.py");
  EXPECT_EQ(r.verdict, V::output_limit);
  EXPECT_LE(r.out.size(), size_t{8} << 20);
}

TEST_F(Hostile, EndlessStderr) {
  auto r = arm("endless_stderr.py");
  EXPECT_EQ(r.verdict, V::time_limit);
  EXPECT_LE(r.err.size(), size_t{64} << 10);
}

TEST_F(Hostile, WritesOutsideWorkDir) { expect_contained("write_outside.py"); }
TEST_F(Hostile, PlantsPersistence) { expect_contained("persistence.py"); }

TEST_F(Hostile, ReadsEnvironment) {
  auto r = arm("read_environment.py");  // check_host() already looked for the canary in its output
  EXPECT_EQ(r.verdict, V::pass) << r.err;
  EXPECT_NE(r.out.find("1 environ denied"), std::string::npos) << r.out;  // the init's environment is off limits
}

TEST_F(Hostile, ReadsHostFilesAndProcesses) { expect_contained("read_host.py"); }
TEST_F(Hostile, Sockets) { expect_contained("sockets.py"); }
TEST_F(Hostile, KillsParentAndEverything) { expect_contained("kill_everything.py"); }

TEST_F(Hostile, DaemonOutlivingTheRun) {
  auto r = arm("daemon.py");
  EXPECT_EQ(r.verdict, V::pass);
  EXPECT_LT(r.wall_seconds, 2) << "the verdict waited for the daemon";
}

TEST_F(Hostile, RaisesRlimits) { expect_contained("raise_rlimits.py"); }
TEST_F(Hostile, CtypesSyscalls) { expect_contained("ctypes_syscalls.py"); }
TEST_F(Hostile, ForgesVerdictOnInheritedFds) { expect_contained("forge_verdict.py"); }
TEST_F(Hostile, TampersWithDriverFiles) { expect_contained("tamper_driver.py"); }
TEST_F(Hostile, Devices) { expect_contained("devices.py"); }

TEST_F(Hostile, DeepRecursion) {
  auto r = arm("deep_recursion.py");
  // Python 3.11 keeps Python frames off the C stack, so this grows the heap until a limit stops it.
  EXPECT_TRUE(r.verdict == V::runtime_error || r.verdict == V::memory_limit || r.verdict == V::time_limit)
      << vc::verdict_name(r.verdict);
}

TEST_F(Hostile, FdExhaustion) { expect_contained("fd_exhaustion.py"); }
TEST_F(Hostile, FillsTheDisk) { expect_contained("fill_disk.py"); }

// crucible itself killed mid-run: nothing of the run may survive it, although no one is left to enforce limits.
TEST_F(Hostile, CrucibleKilledMidRun) {
  const unsigned uid = test_uid();  // of this process: the forked child has another pid
  // The sandbox's init outlives its killed parent for a moment: re-parent it to this test, which reaps it, rather
  // than to the host's pid 1.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    vc::SandboxSpec spec;
    spec.argv = {"/usr/bin/python3", "-I", "/work/main.py"};
    spec.files = {{"main.py", hostile("daemon.py") + "\nimport time\ntime.sleep(3600)\n"}};
    spec.limits.wall_seconds = 3600;
    spec.host_uid = uid;
    vc::run_sandboxed(spec);
    _exit(0);
  }
  for (int i = 0; i < 50 && count_processes_of(test_uid(), test_uid() + 1) < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GE(count_processes_of(test_uid(), test_uid() + 1), 3) << "the run did not start";
  kill(child, SIGKILL);
  int status;
  waitpid(child, &status, 0);
  check_host("crucible killed", "");
}

// Through the graders: the result of a functional test is compared outside, so an always-equal object fails; exiting
// before the tests finish is not a pass in any driver; the driver files cannot be changed.
TEST_F(Hostile, GraderAlwaysEqualEarlyExitAndTampering) {
  vc::CodeGradeOptions o;
  o.time_limit_s = 2;
  vc::CodeTask fn;
  fn.fn_name = "solve";
  fn.tests = {{vc::TestKind::functional, "3", "9"}};
  EXPECT_EQ(vc::grade_program(fn, hostile("always_equal.py"), o).status, V::wrong_answer);
  EXPECT_EQ(vc::grade_program(fn, hostile("early_exit.py"), o).status, V::wrong_answer);
  auto tamper = vc::grade_program(fn, hostile("tamper_driver.py") + "\nclass Solution:\n    def solve(self, x): "
                                                                    "return x * x\n", o);
  EXPECT_TRUE(tamper.correct) << tamper.tests.at(0).message;  // it ran, changed nothing, and its answer is right
  vc::CodeTask he;
  he.test_code = "assert solve(3) == 9\n";
  EXPECT_EQ(vc::grade_program(he, hostile("early_exit.py"), o).status, V::wrong_answer);
  vc::CodeTask stdin_task;
  stdin_task.tests = {{vc::TestKind::stdin_stdout, "", "CONTAINED []"}};
  EXPECT_TRUE(vc::grade_program(stdin_task, hostile("forge_verdict.py"), o).correct);
  check_host("graders", "");
}
