// Internal: the parse tree of one answer, the parser, and the time budget shared by parsing and comparison.
#pragma once
#include <boost/multiprecision/cpp_int.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace crucible::verifiers::math {

using BigInt = boost::multiprecision::cpp_int;
using Rational = boost::multiprecision::cpp_rational;

// Thrown inside the grader only (caught by grade_math/compare_answers): the budget ran out or an input was refused as
// too large to handle within it.
struct BudgetExceeded {
  const char* why;
};

class Budget {
 public:
  explicit Budget(std::chrono::microseconds limit) : deadline_(std::chrono::steady_clock::now() + limit) {}
  // Cheap enough to call per token: reads the clock only every 64 calls.
  void check() {
    if ((++calls_ & 63) == 0 && std::chrono::steady_clock::now() > deadline_) throw BudgetExceeded{"time budget"};
  }
  void check_now() const {
    if (std::chrono::steady_clock::now() > deadline_) throw BudgetExceeded{"time budget"};
  }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }

 private:
  std::chrono::steady_clock::time_point deadline_;
  unsigned calls_ = 0;
};

enum class Kind {
  // scalars
  number,     // q (exact); `decimal` when written with a point or an exponent, `digits` = decimals written
  symbol,     // text = name ("x", "x_1", "\alpha")
  pi,
  euler,      // e
  imag,       // i
  infinity,   // +oo (negation gives -oo)
  add,        // kids summed
  mul,        // kids multiplied; text = "word" when the factors are the letters of one written word ("xy")
  pow,        // kids[0] ^ kids[1]
  neg,        // -kids[0]
  func,       // text = function name (sin, cos, …, log with kids[1] = base), kids = args
  factorial,  // kids[0]!
  pm,         // kids[0] ± kids[1] (a ± b); expanded into a list before comparison
  percent,    // kids[0] %
  degree,     // kids[0] °
  based,      // number written in a base: text = digits, q = value, digits = base
  text,       // words (units, names, answers like "Evelyn"); text = normalised words
  // structures
  tuple,      // ( … ) ordered; `maybe_interval` for two elements in round brackets
  list,       // a, b, c (top-level, order-free)
  set,        // \{ … \}
  interval,   // kids[0], kids[1]; left_closed/right_closed
  union_,     // kids are intervals (or sets)
  matrix,     // rows x cols, kids row-major
  relation,   // chain: kids = operands, ops = relations between them
};

enum class Rel { eq, lt, le, gt, ge, ne };

struct Node {
  Kind kind = Kind::number;
  std::string text;
  Rational q;
  bool decimal = false;
  int digits = 0;
  bool left_closed = false, right_closed = false, maybe_interval = false;
  int rows = 0, cols = 0;
  std::vector<Rel> ops;
  std::vector<Node> kids;

  static Node num(Rational v) {
    Node n;
    n.kind = Kind::number;
    n.q = std::move(v);
    return n;
  }
  static Node make(Kind k, std::vector<Node> kids = {}, std::string text = {}) {
    Node n;
    n.kind = k;
    n.kids = std::move(kids);
    n.text = std::move(text);
    return n;
  }
};

// Parses one bare answer. nullopt when the text is not an answer we can read (the caller may still compare strings).
// Throws BudgetExceeded when the budget runs out.
std::optional<Node> parse_answer(std::string_view text, Budget& budget);

// The canonical name of a unit word ("centimeters" -> "cm", "degrees" -> "deg"); "" when it is not a known unit.
std::string canonical_unit(std::string_view word);

// Canonical, human-readable rendering (tests, debugging, fuzzing).
std::string render(const Node& n);

// Limits that keep one comparison bounded in time and memory whatever the input.
inline constexpr size_t kMaxAnswerChars = 4000;
inline constexpr int kMaxDepth = 120;
inline constexpr size_t kMaxNodes = 4000;
inline constexpr unsigned kMaxResultBits = 40'000;  // ~12 000 digits: bigger exact numbers are refused (gcd cost)
inline constexpr unsigned kMaxFactorial = 1500;  // 1500! has ~13 700 bits; 1000! (the example) fits

}  // namespace crucible::verifiers::math
