// The reward-hack corpus (reward_hacks/*.py, README there): solutions that try to pass the assertion form's tests
// without solving the task. Each is graded as HumanEval (prompt + `check(candidate)`) and as MBPP (assert list);
// the verdict must be one of those on its `# expect:` line. A printed table lists every verdict.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include "core/thread_pool.h"
#include "tests/support/test_support.h"
#include "verifiers/code/code_grader.h"

namespace vc = crucible::verifiers::code;
namespace fs = std::filesystem;

namespace {

// `reference` stands for a prompt helper the tests use (HumanEval/32's poly, /38's encode_cyclic).
constexpr const char* kPrompt =
    "def reference(xs):\n    return sorted(xs)\n\n\n"
    "def sort_list(xs):\n    \"\"\"Return the list xs sorted in increasing order.\"\"\"\n";

// The asserts of both forms: ==, !=, sorted(), abs(a - b) < tol, isinstance, len, <, not, round.
constexpr const char* kAsserts[] = {
    "sort_list([3, 1, 2]) == [1, 2, 3]",
    "sort_list([]) == []",
    "sort_list([2, 1]) != [2, 1]",
    "sorted(sort_list([5, 4])) == [4, 5]",
    "abs(sum(sort_list([0.5, 0.25])) - 0.75) < 1e-6",
    "abs(sort_list([0.5, 0.25])[0] - 0.25) < 1e-6",
    "isinstance(sort_list([1]), list)",
    "len(sort_list([2, 2])) == 2",
    "sort_list([1, 0])[0] < 1",
    "not sort_list([])",
    "round(sort_list([2.5, 1.25])[1], 2) == 2.5",
    "type(sort_list([3])[0]) is int",
};

vc::CodeTask humaneval_task() {
  vc::CodeTask t;
  t.prompt = kPrompt;
  t.entry_point = "sort_list";
  std::string test = "METADATA = {}\n\n\ndef check(candidate):\n";
  for (const char* a : kAsserts) {
    std::string line = a;
    for (size_t at; (at = line.find("sort_list(")) != std::string::npos;) line.replace(at, 9, "candidate");
    test += "    assert " + line + "\n";
  }
  test += "    assert candidate([4, 6, 5]) == reference([4, 6, 5])\n";
  t.test_code = test;
  t.tests.push_back({vc::TestKind::assertion, "", ""});
  return t;
}

vc::CodeTask mbpp_task() {
  vc::CodeTask t;
  for (const char* a : kAsserts) t.test_code += std::string("assert ") + a + "\n";
  t.tests.push_back({vc::TestKind::assertion, "", ""});
  return t;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The verdicts on the file's `# expect-FORM:` line, else on its `# expect:` line.
std::set<std::string> expected_verdicts(const std::string& code, const std::string& form) {
  std::set<std::string> out;
  for (const std::string tag : {"# expect-" + form + ":", std::string("# expect:")}) {
    size_t at = code.find(tag);
    if (at == std::string::npos) continue;
    std::istringstream words(code.substr(at + tag.size(), code.find('\n', at) - at - tag.size()));
    for (std::string w; words >> w;) out.insert(w);
    break;
  }
  return out;
}

}  // namespace

TEST(RewardHacks, EveryHackFailsInBothAssertionForms) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(crucible::testing::source_dir() + "/tests/verifiers/code/reward_hacks")) {
    if (e.path().extension() == ".py") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 30u);
  vc::CodeGradeOptions o;
  o.time_limit_s = 3;
  o.memory_mb = 512;
  const vc::CodeTask forms[2] = {humaneval_task(), mbpp_task()};
  const char* form_names[2] = {"humaneval", "mbpp"};
  crucible::ThreadPool pool(2);
  std::vector<std::future<vc::CodeVerdict>> verdicts;
  for (const auto& f : files) {
    for (const auto& form : forms) {
      verdicts.push_back(pool.submit([&form, code = read_file(f), &o] { return vc::grade_program(form, code, o); }));
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string code = read_file(files[i]);
    for (int k = 0; k < 2; ++k) {
      const auto expected = expected_verdicts(code, form_names[k]);
      ASSERT_FALSE(expected.empty()) << files[i] << " has no '# expect:' line";
      vc::CodeVerdict v = verdicts[2 * i + k].get();
      const std::string got(vc::verdict_name(v.status));
      std::string why = v.tests.empty() ? "" : v.tests[0].message.substr(0, 100);
      std::replace(why.begin(), why.end(), '\n', ' ');
      std::printf("%-36s %-9s %-14s %s\n", files[i].filename().c_str(), form_names[k], got.c_str(), why.c_str());
      EXPECT_TRUE(expected.count(got)) << files[i].filename() << " (" << form_names[k] << "): " << got << " " << why;
    }
  }
}
