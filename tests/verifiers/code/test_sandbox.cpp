// Quick sandbox and driver checks (a few seconds in all). The hostile programs live in test_hostile.cpp.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "verifiers/code/code_grader.h"
#include "verifiers/code/sandbox.h"

namespace vc = crucible::verifiers::code;

namespace {

vc::SandboxResult run_python(const std::string& code, const std::string& input = "", double cpu = 2,
                             double wall = 0) {
  vc::SandboxSpec spec;
  spec.argv = {"/usr/bin/python3", "-I", "/work/main.py"};
  spec.files = {{"main.py", code}};
  spec.stdin_data = input;
  spec.limits.cpu_seconds = cpu;
  spec.limits.wall_seconds = wall;
  return vc::run_sandboxed(spec);
}

#define REQUIRE_SANDBOX()                                                  \
  do {                                                                     \
    std::string why;                                                       \
    if (!vc::sandbox_available(&why)) GTEST_FAIL() << "no sandbox: " << why; \
  } while (0)

}  // namespace

TEST(Sandbox, RunsPythonWithStdinAndReportsUsage) {
  REQUIRE_SANDBOX();
  auto r = run_python("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n", "1 2 3\n");
  EXPECT_EQ(r.verdict, vc::Verdict::pass) << r.message << r.err;
  EXPECT_EQ(r.out, "6\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GT(r.cpu_seconds, 0);
  EXPECT_LT(r.peak_memory_kb, 200000);  // the program's own peak, not crucible's
  // Peak memory is sampled: a program that holds 100 MiB for a while is seen holding it.
  auto big = run_python("import time\nx = bytearray(100 << 20)\ntime.sleep(0.3)\n");
  EXPECT_EQ(big.verdict, vc::Verdict::pass) << big.message << big.err;
  EXPECT_GT(big.peak_memory_kb, 100 * 1024);
  EXPECT_LT(big.peak_memory_kb, 150 * 1024);
}

TEST(Sandbox, IsolatedView) {
  REQUIRE_SANDBOX();
  auto r = run_python(
      "import os\n"
      "print(os.getuid(), os.getpid(), sorted(os.environ), len([p for p in os.listdir('/proc') if p.isdigit()]))\n"
      "print(sorted(os.listdir('/dev')))\n");
  ASSERT_EQ(r.verdict, vc::Verdict::pass) << r.message << r.err;
  // uid 1000 inside, pid 2 (after the sandbox's init), only Python's own LC_CTYPE coercion in the environment,
  // two processes visible.
  EXPECT_EQ(r.out, "1000 2 ['LC_CTYPE'] 2\n['full', 'null', 'random', 'urandom', 'zero']\n");
}

TEST(Sandbox, NonZeroExitIsRuntimeError) {
  REQUIRE_SANDBOX();
  auto r = run_python("raise SystemExit(3)\n");
  EXPECT_EQ(r.verdict, vc::Verdict::runtime_error);
  EXPECT_EQ(r.exit_code, 3);
  auto missing = vc::run_sandboxed({{"/usr/bin/no-such-interpreter"}, "", {}, {}});
  EXPECT_EQ(missing.verdict, vc::Verdict::runtime_error) << missing.message;
}

TEST(Sandbox, CpuLimitIsJudgedOnCpuTime) {
  REQUIRE_SANDBOX();
  // A wall limit far above the CPU limit: on a loaded machine (CI on 2 cores, ctest -j2 and more) the default
  // 3 x 0.3 + 2 s of wall clock once ran out after 0.25 s of CPU, and the verdict came from the wall, not the CPU.
  auto r = run_python("while True: pass\n", "", 0.3, /*wall=*/60);
  EXPECT_EQ(r.verdict, vc::Verdict::time_limit);
  EXPECT_GE(r.cpu_seconds, 0.3);
  EXPECT_NE(r.message.find("CPU limit"), std::string::npos) << r.message;
}

TEST(Sandbox, MemoryAndOutputLimits) {
  REQUIRE_SANDBOX();
  vc::SandboxSpec spec;
  spec.argv = {"/usr/bin/python3", "-c", "x = bytearray(512 << 20)"};
  spec.limits.memory_mb = 256;
  EXPECT_EQ(vc::run_sandboxed(spec).verdict, vc::Verdict::memory_limit);
  spec.argv = {"/usr/bin/python3", "-c", "while True: print('y' * 1000)"};
  spec.limits.stdout_bytes = 1 << 20;
  auto r = vc::run_sandboxed(spec);
  EXPECT_EQ(r.verdict, vc::Verdict::output_limit);
  EXPECT_EQ(r.out.size(), size_t{1} << 20);
}

// A large crucible whose own executable is replaced on disk while it grades (a rebuild or an upgrade during a long
// eval): the program's memory is its own, never crucible's. Run by RunsWhileItsExecutableIsReplaced in a copy of this
// binary that it deletes; the limit is far below what that process holds resident.
TEST(Sandbox, DISABLED_InnerLargeProcessWithDeletedExecutable) {
  REQUIRE_SANDBOX();
  auto first = run_python("print(1)\n");  // the sampler learns its executable before the file goes
  ASSERT_EQ(first.verdict, vc::Verdict::pass) << first.message;
  ASSERT_EQ(unlink(std::getenv("CRUCIBLE_TEST_DELETE_ME")), 0) << std::strerror(errno);
  std::vector<char> held(1536u << 20, 1);  // resident: every page written
  vc::SandboxSpec spec;
  spec.argv = {"/usr/bin/python3", "-I", "-c", "print(sum(range(10)))"};
  spec.limits.memory_mb = 256;
  for (int i = 0; i < 20; ++i) {
    auto r = vc::run_sandboxed(spec);
    ASSERT_EQ(r.verdict, vc::Verdict::pass) << "run " << i << ": " << r.message;
    ASSERT_LT(r.peak_memory_kb, 256 * 1024);
  }
  EXPECT_EQ(held[12345], 1);
}

TEST(Sandbox, RunsWhileItsExecutableIsReplaced) {
  REQUIRE_SANDBOX();
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("crucible-exe-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path copy = dir / "test_copy";
  fs::copy_file("/proc/self/exe", copy, fs::copy_options::overwrite_existing);
  fs::permissions(copy, fs::perms::owner_all);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("CRUCIBLE_TEST_DELETE_ME", copy.c_str(), 1);
    execl(copy.c_str(), copy.c_str(), "--gtest_also_run_disabled_tests",
          "--gtest_filter=Sandbox.DISABLED_InnerLargeProcessWithDeletedExecutable", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  fs::remove_all(dir);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the inner test failed (its output is above)";
}

TEST(CodeDrivers, StdinFunctionalAndAssertion) {
  REQUIRE_SANDBOX();
  vc::CodeGradeOptions o;
  vc::CodeTask stdin_task;
  stdin_task.tests = {{vc::TestKind::stdin_stdout, "2 3\n", "5\n"}, {vc::TestKind::stdin_stdout, "1 1\n", "3\n"}};
  auto v = vc::grade_code(stdin_task, "```python\na, b = map(int, input().split())\nprint(a + b)\n```", o);
  EXPECT_TRUE(v.code_found);
  EXPECT_FALSE(v.correct);
  EXPECT_EQ(v.tests_passed, 1);
  EXPECT_EQ(v.status, vc::Verdict::wrong_answer);

  vc::CodeTask fn_task;
  fn_task.fn_name = "twoSum";
  fn_task.tests = {{vc::TestKind::functional, "[2, 7, 11, 15]\n9", "[0, 1]"}};
  const std::string solution =
      "class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
      "        seen = {}\n        for i, x in enumerate(nums):\n"
      "            if target - x in seen: return (seen[target - x], i)\n            seen[x] = i\n";
  EXPECT_TRUE(vc::grade_program(fn_task, solution, o).correct);  // tuple result compares as a list
  // Leaving before the driver prints its nonce is not a pass, even with exit code 0.
  auto early = vc::grade_program(fn_task, "import os\nos._exit(0)\n" + solution, o);
  EXPECT_EQ(early.status, vc::Verdict::wrong_answer);

  vc::CodeTask he;
  he.prompt = "def add(a, b):\n";
  he.test_code = "def check(candidate):\n    assert candidate(2, 3) == 5\n";
  he.entry_point = "add";
  EXPECT_TRUE(vc::grade_program(he, "    return a + b\n", o).correct);
  EXPECT_EQ(vc::grade_program(he, "    return a - b\n", o).status, vc::Verdict::wrong_answer);
  EXPECT_EQ(vc::grade_program(he, "    import sys; sys.exit(0)\n", o).status, vc::Verdict::wrong_answer);
  EXPECT_EQ(vc::grade_program(he, "    return a +\n", o).status, vc::Verdict::runtime_error);
}

TEST(Sandbox, ProcessCapHoldsForRootAndCountsThreads) {
  REQUIRE_SANDBOX();
  vc::SandboxSpec spec;
  spec.argv = {"/usr/bin/python3", "-I", "-c",
               "import os, threading, time\n"
               "n = 0\n"
               "try:\n"
               "    while True:\n"
               "        if os.fork() == 0:\n"
               "            time.sleep(60)\n"
               "        n += 1\n"
               "except OSError:\n"
               "    pass\n"
               "try:\n"
               "    threading.Thread(target=time.sleep, args=(60,)).start()\n"
               "    print(n, 'thread started', flush=True)\n"
               "except RuntimeError:\n"
               "    print(n, 'no thread', flush=True)\n"
               "os._exit(0)\n"};
  spec.limits.max_processes = 12;
  auto r = vc::run_sandboxed(spec);
  ASSERT_EQ(r.verdict, vc::Verdict::pass) << r.message << r.err;
  EXPECT_EQ(r.out, "11 no thread\n");  // the program itself + 11 children = 12 tasks; a thread would be the 13th
  EXPECT_LT(r.wall_seconds, 5);        // its sleeping children did not hold up the verdict
}

TEST(CodeDrivers, ConcurrentGradingFromManyThreads) {
  REQUIRE_SANDBOX();
  vc::CodeTask task;
  task.tests = {{vc::TestKind::stdin_stdout, "", ""}};
  std::vector<std::thread> threads;
  std::atomic<int> correct{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      vc::CodeTask t = task;
      t.tests[0].input = std::to_string(i) + "\n";
      t.tests[0].output = std::to_string(i * i) + "\n";
      auto v = vc::grade_program(t, "x = int(input())\nprint(x * x)\n", {});
      if (v.correct) ++correct;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(correct.load(), 8);
}
