// Code grading: response -> code -> one sandbox run per test -> verdict. The API the eval harness calls, from a
// worker pool: grade_code() is thread-safe and keeps no state between calls.
//
// Three kinds of test, each run by a driver crucible owns (code_grader.cpp), in a fresh sandbox per test:
//   stdin       (LiveCodeBench stdin problems) the program reads the input on stdin; its stdout is compared outside
//               the sandbox with the expected output line by line after strip(), numbers by Decimal value, as
//               LiveCodeBench's grade_stdio does. The expected output never enters the sandbox. The program runs as
//               a script (`__name__ == "__main__"`), one process per test; LCB instead wraps the code in a function
//               and feeds all tests to one process.
//   functional  (LiveCodeBench LeetCode problems) the driver loads the code as a module, calls `Solution().fn` (when
//               the code has `class Solution`, LCB's rule) or the top-level `fn` with the JSON arguments (one per
//               input line), serialises the result (tuples become lists) to JSON and prints it after a per-run
//               nonce; crucible parses and compares it outside with Python's == semantics (1 == 1.0 == true). An
//               early exit (os._exit(0)) prints no nonce and is a wrong answer; an object that overrides __eq__
//               cannot pass because only its JSON reaches the comparison.
//   assertion   (HumanEval `check(candidate)`, MBPP assert lists) the tests are Python code, so they cannot be
//               compared outside; instead they run in a second process the candidate cannot reach (driver comment in
//               code_grader.cpp). The driver forks before it reads anything: the checker makes itself non-dumpable,
//               reads the nonce and the tests from stdin, runs the prompt (HumanEval's helpers such as `poly`) and
//               the tests, with a proxy for each name of the solution the tests use; the candidate's process loads
//               prompt + code with stdin/stdout on /dev/null and answers every call with its result reduced to exact
//               built-in values (int, float, str, bytes, complex, None, bool, list/tuple/dict/set/frozenset of
//               those, by the base types' own methods: a subclass's __eq__, __iter__ or __repr__ plays no part).
//               Any other object comes back as an opaque handle that equals nothing, has no truth value and can
//               only be called or have public attributes read or set. Only the checker knows the nonce and writes
//               the "ok" line.
//   Guaranteed for the assertion form (reward_hacks/ in tests/verifiers/code, each hack graded in both forms):
//     - a returned object cannot influence a comparison: no __eq__/__ne__/__lt__/__bool__/__abs__/__sub__/__round__
//       override, subclass of int/float/str/list/tuple/dict, lying __repr__/__str__ or `__class__` property reaches
//       the checker; NaN is NaN (never equal);
//     - builtins, `__builtins__`, sys.modules, frames, gc and the `check` function patched by the candidate are its
//       own process's: the tests' `abs`, `sorted`, `isinstance`, `AssertionError` are the real ones (a solution's
//       own `def abs` is not used by the tests, except for an MBPP list whose every assert calls the same builtin
//       name directly and uses no other solution name, MBPP 126's `def sum`), and the prompt's helpers are the
//       prompt's, not the solution's redefinition;
//     - SystemExit, os._exit, KeyboardInterrupt at import or during a call, a killed checker, signals, threads and
//       atexit handlers, fake pass lines on any descriptor, forged protocol messages: not a pass (a test's bare
//       `except:` that swallows the candidate's death does not help either: the checker remembers it);
//     - the tests and expected values are never in a file, in the candidate's memory, or readable through /proc.
//   NOT covered: the candidate may learn the test inputs (it is called with them) and hard-code answers for known
//   public tests; a test that checks an argument mutated in place sees it unchanged (arguments are copied; none of
//   HumanEval's 164 or MBPP's 500 test tasks does this), one that passes a lambda or its own object to the
//   solution fails, and one that needs a returned generator or custom object to behave as a value fails (none of
//   the canonical solutions does; `crucible`'s slow corpus test holds them at 164/164 and 500/500).
// Both LCB kinds get LiveCodeBench's import prelude and sys.setrecursionlimit(50000).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "verifiers/code/sandbox.h"

namespace crucible::verifiers::code {

enum class TestKind { stdin_stdout, functional, assertion };

struct CodeTest {
  TestKind kind = TestKind::stdin_stdout;
  std::string input;   // stdin text, or one JSON argument per line (functional); unused for assertion
  std::string output;  // expected stdout, or the expected JSON value (functional); unused for assertion
};

struct CodeTask {
  std::vector<CodeTest> tests;
  std::string fn_name;       // functional tests: the method or function to call
  // Assertion form (HumanEval, MBPP): one test whose code runs after the candidate's.
  std::string prompt;        // HumanEval prompt, prepended to the code (empty for MBPP)
  std::string test_code;     // HumanEval `test` (defines check) or MBPP setup + asserts
  std::string entry_point;   // HumanEval: `check(entry_point)` is appended; empty for MBPP
};

struct CodeGradeOptions {
  double time_limit_s = 6.0;     // CPU seconds per test (LiveCodeBench's default timeout)
  int64_t memory_mb = 1024;      // address space per process
  bool assume_think_open = false;  // the prompt ended inside <think> (see verifiers/response.h)
  bool stop_at_first_failure = false;  // LCB stops at the first failing test; off: every test gets a status
  std::string python = "/usr/bin/python3";
};

struct TestOutcome {
  Verdict status = Verdict::sandbox_error;
  double wall_seconds = 0, cpu_seconds = 0;
  int64_t peak_memory_kb = 0;
  std::string message;  // short reason (first differing line, exception tail, limit hit)
};

struct CodeVerdict {
  bool correct = false;
  Verdict status = Verdict::wrong_answer;  // pass, or the status of the first test that did not pass
  bool code_found = false;                 // false: no code in the answer (unfinished thinking, no block)
  int tests_passed = 0;
  int tests_total = 0;
  std::vector<TestOutcome> tests;          // one per test, in order; skipped tests are absent
  std::string code;                        // the extracted code
};

// `response` is the full model output; only the code after the last </think> is graded.
CodeVerdict grade_code(const CodeTask& task, std::string_view response, const CodeGradeOptions& options);
// Grades code directly (no extraction): canonical solutions, references.
CodeVerdict grade_program(const CodeTask& task, const std::string& code, const CodeGradeOptions& options);

// LiveCodeBench's stdout comparison (exposed for tests): lines after strip(), equal as text or as Decimal tokens.
bool stdout_matches(std::string_view produced, std::string_view expected);
// Python == on JSON values: numbers (and booleans) by value, lists and objects element by element.
bool python_json_equal(const std::string& produced_json, const std::string& expected_json);

}  // namespace crucible::verifiers::code
