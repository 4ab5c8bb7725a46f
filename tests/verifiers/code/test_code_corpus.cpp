// The full corpora from ../shared, each problem in its own sandbox runs, 2 at a time (slow label):
//   HumanEval: every canonical solution passes (164/164);
//   MBPP: the reference code passes on the 500 test tasks (task_id 11..510);
//   LiveCodeBench: every public test runs. There are no reference solutions in the data, so each test is run with
//   an oracle program (looks the expected output up by input, in the sandbox, through the real drivers: every test
//   must pass) and a null program (prints nothing / returns None: every test with a non-empty expected output must
//   fail). The verdict counts are printed.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <regex>

#include "core/json_io.h"
#include "core/thread_pool.h"
#include "tests/support/test_support.h"
#include "verifiers/code/code_grader.h"

namespace vc = crucible::verifiers::code;
using crucible::Json;

namespace {

std::string shared(const std::string& rel) { return crucible::testing::shared_dir() + "/" + rel; }

std::string py_literal(const std::string& s) { return Json(s).dump(); }  // a JSON string is a Python string literal

template <typename Task>
std::vector<vc::CodeVerdict> grade_all(const std::vector<Task>& tasks, size_t workers) {
  crucible::ThreadPool pool(workers);
  std::vector<std::future<vc::CodeVerdict>> futures;
  for (const auto& t : tasks) {
    futures.push_back(pool.submit([&t] { return vc::grade_program(t.first, t.second, vc::CodeGradeOptions{}); }));
  }
  std::vector<vc::CodeVerdict> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

}  // namespace

TEST(CodeCorpus, HumanEvalCanonicalSolutionsAllPass) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "no ../shared data";
  std::vector<std::pair<vc::CodeTask, std::string>> tasks;
  std::vector<std::string> ids;
  for (const Json& r : crucible::read_jsonl_file(shared("data/humaneval/HumanEval.jsonl"))) {
    vc::CodeTask t;
    t.prompt = r.at("prompt");
    t.test_code = r.at("test");
    t.entry_point = r.at("entry_point");
    tasks.emplace_back(t, r.at("canonical_solution").get<std::string>());
    ids.push_back(r.at("task_id"));
  }
  ASSERT_EQ(tasks.size(), 164u);
  auto verdicts = grade_all(tasks, 2);
  int passed = 0;
  for (size_t i = 0; i < verdicts.size(); ++i) {
    if (verdicts[i].correct) ++passed;
    else ADD_FAILURE() << ids[i] << ": " << vc::verdict_name(verdicts[i].status) << " " << verdicts[i].tests[0].message;
  }
  std::printf("HumanEval canonical: %d/%zu pass\n", passed, verdicts.size());
}

TEST(CodeCorpus, MbppReferenceCodePassesOnTestTasks) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "no ../shared data";
  std::vector<std::pair<vc::CodeTask, std::string>> tasks;
  std::vector<int> ids;
  for (const Json& r : crucible::read_jsonl_file(shared("data/mbpp/mbpp.jsonl"))) {
    int id = r.at("task_id");
    if (id < 11 || id > 510) continue;
    vc::CodeTask t;
    t.test_code = r.value("test_setup_code", "") + "\n";
    for (const auto& a : r.at("test_list")) t.test_code += a.get<std::string>() + "\n";
    tasks.emplace_back(t, r.at("code").get<std::string>());
    ids.push_back(id);
  }
  ASSERT_EQ(tasks.size(), 500u);
  auto verdicts = grade_all(tasks, 2);
  int passed = 0;
  for (size_t i = 0; i < verdicts.size(); ++i) {
    if (verdicts[i].correct) ++passed;
    else ADD_FAILURE() << "MBPP " << ids[i] << ": " << vc::verdict_name(verdicts[i].status) << " "
                       << verdicts[i].tests[0].message;
  }
  std::printf("MBPP reference code on task_id 11..510: %d/%zu pass\n", passed, verdicts.size());
}

TEST(CodeCorpus, LiveCodeBenchEveryPublicTestRuns) {
  if (!crucible::testing::has_shared_data()) GTEST_SKIP() << "no ../shared data";
  const std::regex def_re(R"(def\s+(\w+)\s*\()");
  std::vector<std::pair<vc::CodeTask, std::string>> oracle, null_program;
  size_t n_tests = 0, n_stdin = 0, n_functional = 0, n_empty_expected = 0;
  for (const Json& r : crucible::read_jsonl_file(shared("data/livecodebench/lcb_v5_2408_2501_public.jsonl"))) {
    vc::CodeTask t;
    std::string table = "[";
    bool functional = false;
    for (const Json& c : r.at("public_test_cases")) {
      vc::CodeTest test;
      test.input = c.at("input");
      test.output = c.at("output");
      test.kind = c.at("testtype") == "functional" ? vc::TestKind::functional : vc::TestKind::stdin_stdout;
      functional = test.kind == vc::TestKind::functional;
      (functional ? n_functional : n_stdin)++;
      if (test.output.find_first_not_of(" \n\r\t") == std::string::npos) ++n_empty_expected;
      table += "(" + py_literal(test.input) + ", " + py_literal(test.output) + "),";
      t.tests.push_back(test);
    }
    table += "]";
    n_tests += t.tests.size();
    std::string starter = r.at("starter_code");
    std::smatch m;
    std::string fn;
    for (auto it = std::sregex_iterator(starter.begin(), starter.end(), def_re); it != std::sregex_iterator(); ++it)
      fn = (*it)[1];
    t.fn_name = fn;
    std::string oracle_code, null_code;
    if (functional) {
      ASSERT_FALSE(fn.empty()) << r.at("question_id");
      oracle_code = "_T = " + table + "\nclass Solution:\n    def " + fn + "(self, *args):\n" +
                    "        for i, o in _T:\n            if [json.loads(l) for l in i.split('\\n')] == list(args):\n"
                    "                return json.loads(o)\n";
      null_code = "class Solution:\n    def " + fn + "(self, *args):\n        return None\n";
    } else {
      oracle_code = "_T = " + table + "\n_d = sys.stdin.read()\nsys.stdout.write([o for i, o in _T if i == _d][0])\n";
      null_code = "pass\n";
    }
    oracle.emplace_back(t, oracle_code);
    null_program.emplace_back(t, null_code);
  }
  ASSERT_EQ(oracle.size(), 279u);
  auto count = [](const std::vector<vc::CodeVerdict>& vs) {
    std::map<std::string, int> by;
    for (const auto& v : vs)
      for (const auto& t : v.tests) by[std::string(vc::verdict_name(t.status))]++;
    return by;
  };
  auto ov = grade_all(oracle, 2);
  auto nv = grade_all(null_program, 2);
  auto oc = count(ov), nc = count(nv);
  std::printf("LiveCodeBench public tests: %zu problems, %zu tests (%zu stdin, %zu functional)\n", oracle.size(),
              n_tests, n_stdin, n_functional);
  for (const auto& [k, v] : oc) std::printf("  oracle program: %s %d\n", k.c_str(), v);
  for (const auto& [k, v] : nc) std::printf("  null program:   %s %d\n", k.c_str(), v);
  EXPECT_EQ(oc["pass"], static_cast<int>(n_tests));
  EXPECT_EQ(nc["pass"], static_cast<int>(n_empty_expected));
  for (size_t i = 0; i < ov.size(); ++i) {
    for (size_t k = 0; k < ov[i].tests.size(); ++k) {
      if (ov[i].tests[k].status != vc::Verdict::pass)
        ADD_FAILURE() << "LCB problem " << i << " test " << k << ": " << vc::verdict_name(ov[i].tests[k].status)
                      << " " << ov[i].tests[k].message;
    }
  }
}
