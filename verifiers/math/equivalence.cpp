// Equivalence of parsed answers. Structures first (lists and sets order-free, tuples and matrices ordered,
// intervals by ends and closedness, equations up to a nonzero factor, inequalities as intervals), then scalars:
//   1. both exact rationals (big integers, no floating point): equal iff equal, plus the rounding rule for decimals;
//   2. otherwise numeric evaluation (complex doubles) at random points: a clear difference decides "different";
//   3. agreement is confirmed by GiNaC (normal(a - b) == 0, or 40-digit evaluation), which also catches values that
//      agree to double precision but differ (sqrt(10^20 + 1) vs 10^10).
#include "verifiers/math/equivalence.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "verifiers/math/ginac_bridge.h"

namespace crucible::verifiers::math {
namespace {

using boost::multiprecision::denominator;
using boost::multiprecision::numerator;
using Complex = std::complex<double>;

unsigned bits_of(const BigInt& v) { return v == 0 ? 0 : static_cast<unsigned>(boost::multiprecision::msb(abs(v))) + 1; }
unsigned bits_of(const Rational& q) { return bits_of(numerator(q)) + bits_of(denominator(q)); }

void check_size(const Rational& q) {
  if (bits_of(q) > kMaxResultBits) throw BudgetExceeded{"number too large"};
}

bool is_integer(const Rational& q) { return denominator(q) == 1; }

std::optional<BigInt> integer_root(const BigInt& x, unsigned k) {
  if (x < 0) {
    if (k % 2 == 0) return std::nullopt;
    auto r = integer_root(-x, k);
    if (!r) return std::nullopt;
    return BigInt(-*r);
  }
  if (x < 2) return x;
  unsigned b = bits_of(x);
  if (b > 4000) return std::nullopt;
  BigInt lo = 0, hi = BigInt(1) << (b / k + 1);
  while (lo < hi) {
    BigInt mid = (lo + hi + 1) / 2;
    if (boost::multiprecision::pow(mid, k) <= x) lo = mid;
    else hi = mid - 1;
  }
  if (boost::multiprecision::pow(lo, k) == x) return lo;
  return std::nullopt;
}

class Exact {
 public:
  explicit Exact(Budget& budget) : budget_(budget) {}

  std::optional<Rational> eval(const Node& n) {
    budget_.check();
    switch (n.kind) {
      case Kind::number:
      case Kind::based: return n.q;
      case Kind::neg: {
        auto v = eval(n.kids[0]);
        if (!v) return std::nullopt;
        return Rational(-*v);
      }
      case Kind::add: {
        Rational s = 0;
        for (const auto& k : n.kids) {
          auto v = eval(k);
          if (!v) return std::nullopt;
          s += *v;
          check_size(s);
        }
        return s;
      }
      case Kind::mul: {
        Rational p = 1;
        for (const auto& k : n.kids) {
          auto v = eval(k);
          if (!v) return std::nullopt;
          p *= *v;
          check_size(p);
        }
        return p;
      }
      case Kind::pow: {
        auto b = eval(n.kids[0]);
        if (!b) return std::nullopt;
        auto e = eval(n.kids[1]);
        if (!e) return std::nullopt;
        return power(*b, *e);
      }
      case Kind::percent: {
        auto v = eval(n.kids[0]);
        if (!v) return std::nullopt;
        return Rational(*v / 100);
      }
      case Kind::factorial: {
        auto v = eval(n.kids[0]);
        if (!v || !is_integer(*v) || *v < 0) return std::nullopt;
        if (*v > kMaxFactorial) throw BudgetExceeded{"factorial too large"};
        BigInt f = 1;
        unsigned m = numerator(*v).convert_to<unsigned>();
        for (unsigned i = 2; i <= m; ++i) {
          f *= i;
          if ((i & 63) == 0) budget_.check_now();
        }
        return Rational(f);
      }
      case Kind::func: return function(n);
      default: return std::nullopt;
    }
  }

 private:
  std::optional<Rational> power(const Rational& b, const Rational& e) {
    if (b == 0) {
      if (e > 0) return Rational(0);
      return std::nullopt;
    }
    if (b == 1) return Rational(1);
    if (!is_integer(e)) {
      BigInt q = denominator(e);
      if (q > 12) return std::nullopt;
      unsigned k = q.convert_to<unsigned>();
      auto rn = integer_root(numerator(b), k);
      auto rd = integer_root(denominator(b), k);
      if (!rn || !rd) return std::nullopt;
      return power(Rational(*rn, *rd), Rational(numerator(e)));
    }
    BigInt ei = numerator(e);
    if (b == -1) return Rational(ei % 2 == 0 ? 1 : -1);
    BigInt mag = abs(ei);
    if (mag > 1'000'000 || static_cast<double>(bits_of(b)) * mag.convert_to<double>() > 2.0 * kMaxResultBits)
      throw BudgetExceeded{"power too large"};
    unsigned m = mag.convert_to<unsigned>();
    BigInt num = boost::multiprecision::pow(numerator(b), m);
    BigInt den = boost::multiprecision::pow(denominator(b), m);
    // Rational(n, d) wants a positive d; division normalises the sign.
    Rational r = ei < 0 ? Rational(den) / Rational(num) : Rational(num) / Rational(den);
    check_size(r);
    return r;
  }

  std::optional<Rational> function(const Node& n) {
    const std::string& f = n.text;
    std::vector<Rational> args;
    for (const auto& k : n.kids) {
      auto v = eval(k);
      if (!v) return std::nullopt;
      args.push_back(*v);
    }
    if (args.empty()) return std::nullopt;
    const Rational& a = args[0];
    if (f == "sqrt" && args.size() == 1) {
      if (a < 0) return std::nullopt;
      return power(a, Rational(1, 2));
    }
    if (f == "abs" && args.size() == 1) return a < 0 ? Rational(-a) : a;
    if ((f == "floor" || f == "ceil") && args.size() == 1) {
      BigInt q = numerator(a) / denominator(a);  // truncates toward zero
      Rational t(q);
      if (f == "floor" && t > a) t -= 1;
      if (f == "ceil" && t < a) t += 1;
      return t;
    }
    if (f == "binom" && args.size() == 2) {
      if (!is_integer(args[0]) || !is_integer(args[1])) return std::nullopt;
      BigInt nn = numerator(args[0]), kk = numerator(args[1]);
      if (nn < 0 || kk < 0) return std::nullopt;
      if (kk > nn) return Rational(0);
      if (nn > kMaxResultBits) throw BudgetExceeded{"binomial too large"};
      if (kk > nn - kk) kk = nn - kk;
      BigInt r = 1;
      unsigned kmax = kk.convert_to<unsigned>();
      for (unsigned i = 1; i <= kmax; ++i) {
        r = r * (nn - kmax + i) / i;
        if ((i & 63) == 0) budget_.check_now();
      }
      return Rational(r);
    }
    if ((f == "gcd" || f == "lcm") && args.size() >= 2) {
      BigInt acc = numerator(args[0]);
      for (const auto& x : args) {
        if (!is_integer(x)) return std::nullopt;
        BigInt v = numerator(x);
        if (f == "gcd") acc = boost::multiprecision::gcd(acc, v);
        else acc = boost::multiprecision::lcm(acc, v);
      }
      return Rational(abs(acc));
    }
    if (f == "max" || f == "min") {
      Rational best = args[0];
      for (const auto& x : args) best = (f == "max") ? std::max(best, x) : std::min(best, x);
      return best;
    }
    if ((f == "log" && args.size() == 2)) {
      // log_b(x) is rational when x is an integer power of b (log_2 8 = 3).
      Rational x = args[0], base = args[1];
      if (x <= 0 || base <= 0 || base == 1) return std::nullopt;
      Rational p = 1;
      int inv = 1;
      if ((x < 1) != (base < 1)) inv = -1;
      for (int k = 0; k <= 64; ++k) {
        if (p == x) return Rational(inv * k);
        if (inv > 0) p *= base;
        else p /= base;
        if (bits_of(p) > bits_of(x) + 64) break;
      }
      return std::nullopt;
    }
    return std::nullopt;
  }

  Budget& budget_;
};

// Values the free variables take in the numeric spot checks: the same for both sides, deterministic, positive
// (answers often assume a domain such as x > 0), irrational-looking so that coincidences are unlikely.
double sample_value(size_t symbol_index, int point) {
  static const double vals[] = {0.7316, 1.2843, 2.1377, 0.4529, 1.8861, 2.6412, 1.0473, 0.9158, 1.5522, 2.3907};
  return vals[(symbol_index * 3 + static_cast<size_t>(point) * 7) % 10];
}

class Numeric {
 public:
  explicit Numeric(Budget& budget) : budget_(budget) {}
  std::map<std::string, double> values;

  Complex eval(const Node& n) {
    budget_.check();
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    switch (n.kind) {
      case Kind::number:
      case Kind::based: return n.q.convert_to<double>();
      case Kind::symbol: {
        auto it = values.find(n.text);
        return it == values.end() ? Complex(nan) : Complex(it->second);
      }
      case Kind::pi: return M_PI;
      case Kind::euler: return M_E;
      case Kind::imag: return Complex(0, 1);
      case Kind::infinity: return std::numeric_limits<double>::infinity();
      case Kind::add: {
        Complex s = 0;
        for (const auto& k : n.kids) s += eval(k);
        return s;
      }
      case Kind::mul: {
        Complex p = 1;
        for (const auto& k : n.kids) p *= eval(k);
        return p;
      }
      case Kind::neg: return Complex(0.0) - eval(n.kids[0]);  // not -v: -0.0 imaginary flips sqrt's branch
      case Kind::pow: {
        Complex b = eval(n.kids[0]), e = eval(n.kids[1]);
        if (e.imag() == 0 && b.imag() == 0) {
          double er = e.real();
          if (er == std::round(er) && std::fabs(er) < 1e9) return std::pow(b.real(), er);
          if (b.real() >= 0) return std::pow(b.real(), er);
          // Odd roots of negatives are real in answers: (-8)^(1/3) = -2.
          double inv = 1.0 / er;
          if (std::fabs(inv - std::round(inv)) < 1e-9 && static_cast<long>(std::round(inv)) % 2 != 0)
            return -std::pow(-b.real(), er);
        }
        return std::pow(b, e);
      }
      case Kind::factorial: {
        Complex v = eval(n.kids[0]);
        return std::tgamma(v.real() + 1);
      }
      case Kind::percent: return eval(n.kids[0]) / 100.0;
      case Kind::degree: return eval(n.kids[0]) * (M_PI / 180.0);
      case Kind::func: return function(n);
      default: return nan;
    }
  }

 private:
  Complex function(const Node& n) {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    const std::string& f = n.text;
    if (n.kids.empty()) return nan;
    Complex a = eval(n.kids[0]);
    if (f == "log" && n.kids.size() == 2) return std::log(a) / std::log(eval(n.kids[1]));
    if (f == "binom" && n.kids.size() == 2) {
      // tgamma, not lgamma: Gamma is negative between -1 and 0, and binom(n, 2) at n = 0.73 needs that sign.
      double nn = a.real(), kk = eval(n.kids[1]).real();
      return std::tgamma(nn + 1) / (std::tgamma(kk + 1) * std::tgamma(nn - kk + 1));
    }
    if (f == "gcd" || f == "lcm" || f == "max" || f == "min") {
      double acc = a.real();
      for (size_t i = 1; i < n.kids.size(); ++i) {
        double v = eval(n.kids[i]).real();
        if (f == "max") acc = std::max(acc, v);
        else if (f == "min") acc = std::min(acc, v);
        else {
          if (acc != std::round(acc) || v != std::round(v) || std::fabs(acc) > 1e15 || std::fabs(v) > 1e15) return nan;
          long long x = static_cast<long long>(acc), y = static_cast<long long>(v);
          long long g = std::gcd(x, y);
          acc = f == "gcd" ? static_cast<double>(g) : (g == 0 ? 0.0 : static_cast<double>(x / g * y));
        }
      }
      return std::fabs(acc);
    }
    if (n.kids.size() != 1) return nan;
    if (f == "sin") return std::sin(a);
    if (f == "cos") return std::cos(a);
    if (f == "tan") return std::tan(a);
    if (f == "cot") return 1.0 / std::tan(a);
    if (f == "sec") return 1.0 / std::cos(a);
    if (f == "csc") return 1.0 / std::sin(a);
    if (f == "arcsin" || f == "asin") return std::asin(a);
    if (f == "arccos" || f == "acos") return std::acos(a);
    if (f == "arctan" || f == "atan") return std::atan(a);
    if (f == "arccot") return std::atan(1.0 / a);
    if (f == "sinh") return std::sinh(a);
    if (f == "cosh") return std::cosh(a);
    if (f == "tanh") return std::tanh(a);
    if (f == "ln" || f == "log") return std::log(a);
    if (f == "exp") return std::exp(a);
    if (f == "sqrt") return std::sqrt(a);
    if (f == "abs") return std::abs(a);
    if (f == "floor") return std::floor(a.real());
    if (f == "ceil") return std::ceil(a.real());
    return nan;
  }

  Budget& budget_;
};

bool finite(Complex v) { return std::isfinite(v.real()) && std::isfinite(v.imag()); }

bool close(Complex a, Complex b, double rel) {
  double scale = std::max({1.0, std::abs(a), std::abs(b)});
  return std::abs(a - b) <= rel * scale;
}

void collect_symbols(const Node& n, std::set<std::string>& out) {
  if (n.kind == Kind::symbol) out.insert(n.text);
  for (const auto& k : n.kids) collect_symbols(k, out);
}

bool contains(const Node& n, Kind k) {
  if (n.kind == k) return true;
  return std::any_of(n.kids.begin(), n.kids.end(), [&](const Node& c) { return contains(c, k); });
}

bool has_decimal(const Node& n) {
  if (n.kind == Kind::number && n.decimal) return true;
  return std::any_of(n.kids.begin(), n.kids.end(), [](const Node& c) { return has_decimal(c); });
}

bool is_scalar(const Node& n) {
  switch (n.kind) {
    case Kind::text:
    case Kind::tuple:
    case Kind::list:
    case Kind::set:
    case Kind::interval:
    case Kind::union_:
    case Kind::matrix:
    case Kind::relation: return false;
    default: return true;
  }
}

int infinity_sign(const Node& n) {
  if (n.kind == Kind::infinity) return 1;
  if (n.kind == Kind::neg && n.kids[0].kind == Kind::infinity) return -1;
  return 0;
}

class Comparer {
 public:
  Comparer(Budget& budget, const MathGradeOptions& options) : budget_(budget), options_(options) {}

  bool equal(const Node& a_raw, const Node& b_raw) {
    budget_.check();
    // "76 m" against 76 or "76 cm": a unit letter after a value is a unit when the other side has no such name.
    std::optional<Node> a_unit = letter_unit(a_raw, b_raw), b_unit = letter_unit(b_raw, a_raw);
    const Node& a_in = a_unit ? *a_unit : a_raw;
    const Node& b_in = b_unit ? *b_unit : b_raw;
    // Different units are never equal (5 cm vs 5 m); a bare number against a number with a unit stays comparable.
    std::string ua = unit_signature(a_in), ub = unit_signature(b_in);
    if (!ua.empty() && !ub.empty() && ua != ub) return false;
    const Node& a = unwrap(a_in);
    const Node& b = unwrap(b_in);

    // "x = 3" against "3": the value after a variable's name.
    if (const Node* v = assigned_value(a); v && !is_equation(b)) return equal(*v, b);
    if (const Node* v = assigned_value(b); v && !is_equation(a)) return equal(a, *v);
    // "x = 2 + 3 = 5", "3 \times 4 = 12", "x + y + z = 22" against a value: the value the equalities state.
    if (b.kind != Kind::relation)
      if (const Node* v = chain_value(a, b, true)) return equal(*v, b);
    if (a.kind != Kind::relation)
      if (const Node* v = chain_value(b, a, false)) return equal(a, *v);
    // "3,5" (a decimal comma) against 3.5; a list of two integers otherwise.
    if (auto d = decimal_comma(a); d && b.kind == Kind::number && b.decimal) return equal(*d, b);
    if (auto d = decimal_comma(b); d && a.kind == Kind::number && a.decimal) return equal(a, *d);

    bool pm_a = is_scalar(a) && contains(a, Kind::pm), pm_b = is_scalar(b) && contains(b, Kind::pm);
    if (pm_a || pm_b) {
      // 1 \pm \sqrt 2 is the list of its two values.
      auto list_of = [&](const Node& n, bool pm) {
        if (pm) return expand_pm(n);
        if (n.kind == Kind::list || n.kind == Kind::set) return elements(n);
        return std::vector<Node>{n};
      };
      return equal_lists(list_of(a, pm_a), list_of(b, pm_b), false);
    }
    if (is_scalar(a) && is_scalar(b)) return scalar_equal(a, b);
    // Inequalities, intervals and unions of them.
    auto ia = interval_set(a), ib = interval_set(b);
    if (ia && ib && (a.kind != Kind::tuple || b.kind != Kind::tuple)) return equal_intervals(*ia, *ib);
    if (a.kind == Kind::relation && b.kind == Kind::relation) return relations_equal(a, b);
    if (a.kind == Kind::text && b.kind == Kind::text) return squeeze(a.text) == squeeze(b.text);
    // A one-letter word against a letter: \text{C} vs C.
    if (a.kind == Kind::text && b.kind == Kind::symbol) return lower(squeeze(a.text)) == lower(b.text);
    if (b.kind == Kind::text && a.kind == Kind::symbol) return lower(squeeze(b.text)) == lower(a.text);
    if (a.kind == Kind::text || b.kind == Kind::text) return false;

    bool a_coll = a.kind == Kind::list || a.kind == Kind::set;
    bool b_coll = b.kind == Kind::list || b.kind == Kind::set;
    if (a_coll && b_coll) return equal_lists(elements(a), elements(b), false);
    if (a.kind == Kind::tuple && b.kind == Kind::tuple) return equal_lists(a.kids, b.kids, true);
    // "x = 1, y = 2" (a list of assignments) against "(1, 2)".
    if ((a.kind == Kind::list && b.kind == Kind::tuple) || (a.kind == Kind::tuple && b.kind == Kind::list))
      return equal_lists(a.kids, b.kids, true);
    if (a.kind == Kind::matrix && b.kind == Kind::matrix)
      return a.rows == b.rows && a.cols == b.cols && equal_lists(a.kids, b.kids, true);
    // A column or row vector against a tuple.
    if (a.kind == Kind::matrix && b.kind == Kind::tuple) return (a.rows == 1 || a.cols == 1) && equal_lists(a.kids, b.kids, true);
    if (b.kind == Kind::matrix && a.kind == Kind::tuple) return (b.rows == 1 || b.cols == 1) && equal_lists(a.kids, b.kids, true);
    // A single answer against a one-element set, or against one answer written several ways ("$\boxed{15\frac{39}{40}}$
    // or $\boxed{\frac{639}{40}}$"): every element must be it, so listing candidates never pays.
    auto all_equal = [&](const std::vector<Node>& xs, const Node& y) {
      // …and the elements one another: "3 cm or 3 m" is two answers, though each is 3.
      return !xs.empty() && std::all_of(xs.begin(), xs.end(), [&](const Node& x) { return equal(x, y); }) &&
             std::all_of(xs.begin() + 1, xs.end(), [&](const Node& x) { return equal(x, xs[0]); });
    };
    if (a_coll && is_scalar(b)) return all_equal(elements(a), b);
    if (b_coll && is_scalar(a)) return all_equal(elements(b), a);
    return false;
  }

 private:
  static const Node& unwrap(const Node& n) {
    if (n.kind == Kind::list && n.kids.size() == 1) return unwrap(n.kids[0]);
    if (n.kind == Kind::mul) {
      // Units and words next to a value ("5 cm", "10 \text{ dollars}") do not change it.
      const Node* value = nullptr;
      int values = 0;
      for (const auto& k : n.kids) {
        if (is_unit(k)) continue;
        value = &k;
        ++values;
      }
      if (values == 1 && value) return unwrap(*value);
    }
    return n;
  }

  static bool is_unit(const Node& n) {
    if (n.kind == Kind::text) return true;
    if (n.kind == Kind::pow && n.kids[0].kind == Kind::text) return true;
    if (n.kind == Kind::mul) return std::all_of(n.kids.begin(), n.kids.end(), is_unit);
    return false;
  }

  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  static std::string squeeze(const std::string& s) {
    std::string out;
    for (char c : s)
      if (c != ' ') out += c;
    return out;
  }

  static bool is_equation(const Node& n) {
    return n.kind == Kind::relation && n.ops.size() == 1 && n.ops[0] == Rel::eq;
  }

  // The right-hand side of "x = value", "f(x) = value", "m_{max} = value" (a left side made of names only).
  static const Node* assigned_value(const Node& n) {
    if (!is_equation(n)) return nullptr;
    const Node& lhs = n.kids[0];
    if (!names_only(lhs)) return nullptr;
    std::set<std::string> rhs_symbols;
    collect_symbols(n.kids[1], rhs_symbols);
    if (lhs.kind == Kind::symbol && rhs_symbols.count(lhs.text)) return nullptr;  // x = 2x - 3 is an equation
    return &n.kids[1];
  }
  // A left side that only names the value: x, f(x), x_1, S_1:S_2, |PQ|, (a, b), \text{Total}.
  static bool names_only(const Node& n) {
    switch (n.kind) {
      case Kind::symbol:
      case Kind::text: return true;
      case Kind::tuple:
        return !n.kids.empty() && std::all_of(n.kids.begin(), n.kids.end(), [](const Node& k) { return names_only(k); });
      case Kind::func: return n.text == "abs" && n.kids.size() == 1 && names_only(n.kids[0]);
      case Kind::mul:
        // f(2) = 9: a function's name applied to a number.
        if (n.kids.size() == 2 && n.kids[0].kind == Kind::symbol && n.kids[1].kind == Kind::number) return true;
        return std::all_of(n.kids.begin(), n.kids.end(), [](const Node& k) {
          // f^{-1}(x) (an inverse function's name) and S_1 : S_2 (a ratio of names), only next to another name:
          // x^{-1} = 2 alone is an equation.
          bool inverse = k.kind == Kind::pow && k.kids[0].kind == Kind::symbol &&
                         (k.kids[1].kind == Kind::neg || (k.kids[1].kind == Kind::number && k.kids[1].q == -1));
          return inverse || names_only(k);
        });
      default: return false;
    }
  }

  // Letters of a written word read as a product ("so 40 + 2"): prose as likely as algebra.
  static bool has_word(const Node& n) {
    if (n.kind == Kind::mul && n.text == "word") return true;
    return std::any_of(n.kids.begin(), n.kids.end(), [](const Node& k) { return has_word(k); });
  }

  static bool has_symbols(const Node& n) {
    if (n.kind == Kind::symbol) return true;
    return std::any_of(n.kids.begin(), n.kids.end(), [](const Node& k) { return has_symbols(k); });
  }

  // The value a chain of equalities states, compared with `other` (not a relation): against a plain value, the
  // last side without unknowns (3 \times 4 = 12, 36 - 19 = 17 = x, s = 2 + 3 = 5); against an expression, the
  // last side of a derivation of three sides or more ((-k+4) + (3k-2) = -k + 4 - 2 + 3k = 2k + 2).
  // "7 = 11a + c" against "11a + c" is an equation, not a value.
  // `stated`: n is the response (the first argument of compare_answers). A response that states "x + y + z = 22"
  // against the gold 22 gives 22; a gold equation "2x + z = 1" is not matched by the bare 1.
  static const Node* chain_value(const Node& n, const Node& other, bool stated) {
    if (n.kind != Kind::relation || n.kids.size() < 2) return nullptr;
    for (Rel r : n.ops)
      if (r != Rel::eq) return nullptr;
    auto plain = [](const Node& k) { return !has_symbols(k) && k.kind != Kind::text && k.kind != Kind::relation; };
    if (!has_symbols(other) && other.kind != Kind::text) {
      // Two sides: both free of unknowns, or a name on the other side ("17 = x"); "2x + z = 1" against 1 is an
      // equation, not its right side.
      if (n.kids.size() == 2) {
        if (plain(n.kids[0]) && plain(n.kids[1])) return &n.kids[1];
        if (plain(n.kids[0]) && names_only(n.kids[1])) return &n.kids[0];
        if (stated && plain(n.kids[1]) && has_symbols(n.kids[0]) && !has_word(n.kids[0])) return &n.kids[1];
        return nullptr;
      }
      for (size_t k = n.kids.size(); k-- > 0;)
        if (plain(n.kids[k]) || letter_unit(n.kids[k], other)) return &n.kids[k];
      return nullptr;
    }
    if (n.kids.size() >= 3) return &n.kids.back();
    return nullptr;
  }

  // [3, 5] read as 3,5 = 3.5: two plain integers, the second not a group of three digits (3,500 is a thousand
  // separator the lexer already read) and not zero-padded to look like one.
  static std::optional<Node> decimal_comma(const Node& n) {
    if (n.kind != Kind::list || n.kids.size() != 2) return std::nullopt;
    const Node &x = n.kids[0], &y = n.kids[1];
    if (x.kind != Kind::number || y.kind != Kind::number || x.decimal || y.decimal) return std::nullopt;
    if (x.text.empty() || y.text.empty() || (y.text.size() == 3 && x.q != 0) || y.text.size() > 12) return std::nullopt;
    Node d = Node::num(x.q + y.q / pow10_rational(static_cast<int>(y.text.size())));
    d.decimal = true;
    d.digits = static_cast<int>(y.text.size());
    d.text = x.text + y.text;
    return d;
  }
  static Rational pow10_rational(int k) {
    BigInt p = 1;
    for (int i = 0; i < k; ++i) p *= 10;
    return Rational(p);
  }

  // ---- units ----------------------------------------------------------------------------------------------------
  // A unit factor written with letters: m, s^{-1}, \mathrm{~kg}, Hz ("566 m", "2.45e6 m^{-1}", "9.35e5 {m}/{s}").
  static bool unit_factor(const Node& k) {
    static const std::string_view letters[] = {"m", "g", "s", "h", "l", "L", "K", "N", "J", "W", "V"};
    if (k.kind == Kind::text) return true;
    if (k.kind == Kind::symbol)
      return std::find(std::begin(letters), std::end(letters), k.text) != std::end(letters);
    if (k.kind == Kind::pow) return k.kids[1].kind == Kind::number && unit_factor(k.kids[0]);
    if (k.kind == Kind::neg) return false;
    if (k.kind == Kind::mul) return std::all_of(k.kids.begin(), k.kids.end(), unit_factor);
    return false;
  }
  static void unit_symbols(const Node& k, std::set<std::string>& out) {
    if (k.kind == Kind::symbol) out.insert(k.text);
    for (const auto& c : k.kids) unit_symbols(c, out);
  }
  static Node as_text_units(const Node& k) {
    if (k.kind == Kind::symbol) return Node::make(Kind::text, {}, k.text);
    Node out = k;
    for (auto& c : out.kids) c = as_text_units(c);
    return out;
  }

  // "76 m" against 76 or "76 cm": unit letters after a plain value are units when the other side does not use
  // those names (then "5 m" against "5m" with m a variable stays a product).
  static std::optional<Node> letter_unit(const Node& n, const Node& other) {
    if (n.kind != Kind::mul || n.kids.size() < 2) return std::nullopt;
    // Flatten nested products: mul(mul(566, m), s^-1).
    std::vector<const Node*> factors;
    std::function<void(const Node&)> flat = [&](const Node& k) {
      if (k.kind == Kind::mul)
        for (const auto& c : k.kids) flat(c);
      else factors.push_back(&k);
    };
    flat(n);
    const Node* value = nullptr;
    std::vector<const Node*> units;
    for (const Node* f : factors) {
      if (unit_factor(*f)) units.push_back(f);
      else if (!value) value = f;
      else return std::nullopt;
    }
    if (!value || units.empty() || has_symbols(*value) || !is_scalar(*value)) return std::nullopt;
    std::set<std::string> mine, theirs;
    for (const Node* u : units) unit_symbols(*u, mine);
    if (mine.empty()) return std::nullopt;  // only text units: unwrap() already handles them
    collect_symbols(other, theirs);
    for (const auto& m : mine)
      if (theirs.count(m)) return std::nullopt;
    Node out = Node::make(Kind::mul, {*value});
    for (const Node* u : units) out.kids.push_back(as_text_units(*u));
    return out;
  }

  // The known units written next to a value, canonical and sorted ("cm^2", "m", "dollar"); "" when none. Words that
  // are not known units (filler, names of things: "apples") do not count, so "5 apples" vs "5" stays equal.
  static std::string unit_signature(const Node& n_in) {
    const Node* n = &n_in;
    while (n->kind == Kind::list && n->kids.size() == 1) n = &n->kids[0];
    std::vector<std::string> units;
    auto add_text = [&](const std::string& words, const std::string& power) {
      std::string pending_power;
      size_t i = 0;
      while (i < words.size()) {
        size_t j = words.find(' ', i);
        if (j == std::string::npos) j = words.size();
        std::string w = words.substr(i, j - i);
        i = j + 1;
        if (w == "square" || w == "sq") {
          pending_power = "^2";
          continue;
        }
        if (w == "cubic" || w == "cu") {
          pending_power = "^3";
          continue;
        }
        std::string c = canonical_unit(w);
        if (c.empty()) continue;
        units.push_back(c + (power.empty() ? pending_power : power));
        pending_power.clear();
      }
    };
    std::function<void(const Node&)> visit = [&](const Node& k) {
      if (k.kind == Kind::text) add_text(k.text, "");
      else if (k.kind == Kind::pow && k.kids[0].kind == Kind::text && k.kids[1].kind == Kind::number)
        add_text(k.kids[0].text, "^" + k.kids[1].q.str());
      else if (k.kind == Kind::mul)
        for (const auto& c : k.kids)
          if (is_unit(c)) visit(c);
    };
    if (n->kind == Kind::degree) return "deg ";  // 45^\circ against "45 radians"
    if (n->kind == Kind::mul) {
      bool value = std::any_of(n->kids.begin(), n->kids.end(), [](const Node& k) { return !is_unit(k); });
      if (!value) return {};
      for (const auto& k : n->kids)
        if (is_unit(k)) visit(k);
    }
    std::sort(units.begin(), units.end());
    std::string out;
    for (const auto& u : units) out += u + " ";
    return out;
  }


  std::vector<Node> expand_pm(const Node& n) {
    std::vector<Node> out{n};
    for (int round = 0; round < 4; ++round) {
      std::vector<Node> next;
      bool any = false;
      for (const auto& x : out) {
        Node plus = x, minus = x;
        if (replace_first_pm(plus, false) && replace_first_pm(minus, true)) {
          any = true;
          next.push_back(std::move(plus));
          next.push_back(std::move(minus));
        } else {
          next.push_back(x);
        }
      }
      out = std::move(next);
      if (!any) break;
    }
    return out;
  }
  static bool replace_first_pm(Node& n, bool minus) {
    if (n.kind == Kind::pm) {
      Node a = std::move(n.kids[0]), b = std::move(n.kids[1]);
      if (minus) b = Node::make(Kind::neg, {std::move(b)});
      n = Node::make(Kind::add, {std::move(a), std::move(b)});
      return true;
    }
    for (auto& k : n.kids)
      if (replace_first_pm(k, minus)) return true;
    return false;
  }

  static std::vector<Node> elements(const Node& n) {
    if (n.kind == Kind::list || n.kind == Kind::set) {
      std::vector<Node> out;
      for (const auto& k : n.kids) {
        // "x = 1 \pm 2" inside a list and plain ± items become their two values.
        out.push_back(k);
      }
      return out;
    }
    return {n};
  }

  // Order-free: every element of each side has an equal element on the other (duplicates ignored); ordered: pairwise.
  bool equal_lists(const std::vector<Node>& a_in, const std::vector<Node>& b_in, bool ordered) {
    if (ordered) {
      if (a_in.size() != b_in.size()) return false;
      for (size_t i = 0; i < a_in.size(); ++i)
        if (!equal(a_in[i], b_in[i])) return false;
      return true;
    }
    std::vector<Node> a = flatten_pm(a_in), b = flatten_pm(b_in);
    if (a.empty() || b.empty()) return a.empty() && b.empty();
    if (a.size() * b.size() > 2500) throw BudgetExceeded{"lists too long"};
    std::vector<std::vector<signed char>> m(a.size(), std::vector<signed char>(b.size(), -1));
    auto eq = [&](size_t i, size_t j) {
      if (m[i][j] < 0) m[i][j] = equal(a[i], b[j]) ? 1 : 0;
      return m[i][j] == 1;
    };
    for (size_t i = 0; i < a.size(); ++i) {
      bool found = false;
      for (size_t j = 0; j < b.size() && !found; ++j) found = eq(i, j);
      if (!found) return false;
    }
    for (size_t j = 0; j < b.size(); ++j) {
      bool found = false;
      for (size_t i = 0; i < a.size() && !found; ++i) found = eq(i, j);
      if (!found) return false;
    }
    return true;
  }

  std::vector<Node> flatten_pm(const std::vector<Node>& in) {
    std::vector<Node> out;
    for (const auto& x : in) {
      const Node* v = assigned_value(x);
      const Node& item = v ? *v : x;
      if (is_scalar(item) && contains(item, Kind::pm)) {
        for (auto& e : expand_pm(item)) out.push_back(std::move(e));
      } else {
        out.push_back(x);
      }
    }
    return out;
  }

  // ---- intervals ----------------------------------------------------------------------------------------------
  struct Iv {
    Node lo, hi;
    bool lc, rc;
  };

  std::optional<std::vector<Iv>> interval_set(const Node& n) {
    switch (n.kind) {
      case Kind::interval: return std::vector<Iv>{{n.kids[0], n.kids[1], n.left_closed, n.right_closed}};
      case Kind::tuple:
        if (n.maybe_interval && n.kids.size() == 2) return std::vector<Iv>{{n.kids[0], n.kids[1], false, false}};
        return std::nullopt;
      case Kind::union_:
      case Kind::list: {
        std::vector<Iv> out;
        for (const auto& k : n.kids) {
          if (n.kind == Kind::union_ && k.kind == Kind::set) {
            // A set of points inside a union, (-oo, 0) U {1}: each point is the closed interval [p, p].
            for (const auto& p : k.kids) {
              if (!is_scalar(p)) return std::nullopt;
              out.push_back({p, p, true, true});
            }
            continue;
          }
          auto part = interval_set(k);
          if (!part) return std::nullopt;
          out.insert(out.end(), part->begin(), part->end());
        }
        if (out.empty()) return std::nullopt;
        return out;
      }
      case Kind::relation: return relation_interval(n);
      case Kind::symbol:
        if (n.text == "R") {
          Node inf = Node::make(Kind::infinity);
          return std::vector<Iv>{{Node::make(Kind::neg, {inf}), inf, false, false}};
        }
        return std::nullopt;
      default: return std::nullopt;
    }
  }

  // "x > 3" -> (3, oo); "-1 <= x < 2" -> [-1, 2); the variable must be a lone symbol and the bounds free of it.
  std::optional<std::vector<Iv>> relation_interval(const Node& n) {
    for (Rel r : n.ops)
      if (r == Rel::eq || r == Rel::ne) return std::nullopt;
    Node inf = Node::make(Kind::infinity);
    Node minus_inf = Node::make(Kind::neg, {inf});
    auto neg = [](const Node& x) { return Node::make(Kind::neg, {x}); };
    if (n.kids.size() == 2) {
      const Node *var = nullptr, *bound = nullptr;
      Rel r = n.ops[0];
      if (is_variable(n.kids[0]) && !mentions_any(n.kids[1], n.kids[0])) {
        var = &n.kids[0];
        bound = &n.kids[1];
      } else if (is_variable(n.kids[1]) && !mentions_any(n.kids[0], n.kids[1])) {
        var = &n.kids[1];
        bound = &n.kids[0];
        r = flip(r);
      }
      if (!var) return std::nullopt;
      if (is_abs(*var)) {
        // |t| < b is (-b, b); |t| > a is (-oo, -a) U (a, oo).
        if (r == Rel::lt || r == Rel::le) return std::vector<Iv>{{neg(*bound), *bound, r == Rel::le, r == Rel::le}};
        return std::vector<Iv>{{minus_inf, neg(*bound), false, r == Rel::ge}, {*bound, inf, r == Rel::ge, false}};
      }
      if (r == Rel::gt || r == Rel::ge) return std::vector<Iv>{{*bound, inf, r == Rel::ge, false}};
      return std::vector<Iv>{{minus_inf, *bound, false, r == Rel::le}};
    }
    if (n.kids.size() == 3 && is_variable(n.kids[1]) && !mentions_any(n.kids[0], n.kids[1]) &&
        !mentions_any(n.kids[2], n.kids[1])) {
      Rel r1 = n.ops[0], r2 = n.ops[1];
      bool up = (r1 == Rel::lt || r1 == Rel::le) && (r2 == Rel::lt || r2 == Rel::le);
      bool down = (r1 == Rel::gt || r1 == Rel::ge) && (r2 == Rel::gt || r2 == Rel::ge);
      if (!up && !down) return std::nullopt;
      const Node& lo = up ? n.kids[0] : n.kids[2];
      const Node& hi = up ? n.kids[2] : n.kids[0];
      bool lc = up ? r1 == Rel::le : r2 == Rel::ge, rc = up ? r2 == Rel::le : r1 == Rel::ge;
      if (is_abs(n.kids[1])) {
        // a <= |t| <= b for a real t: [-b, -a] U [a, b].
        return std::vector<Iv>{{neg(hi), neg(lo), rc, lc}, {lo, hi, lc, rc}};
      }
      return std::vector<Iv>{{lo, hi, lc, rc}};
    }
    return std::nullopt;
  }

  // The unknown of an inequality: x, g(x), |t|.
  static bool is_variable(const Node& n) {
    if (n.kind == Kind::symbol) return true;
    if (is_abs(n)) return n.kids[0].kind == Kind::symbol;
    // g(x): a function name applied to its argument (a product of two names).
    return n.kind == Kind::mul && n.kids.size() == 2 && n.kids[0].kind == Kind::symbol &&
           n.kids[1].kind == Kind::symbol;
  }
  static bool is_abs(const Node& n) { return n.kind == Kind::func && n.text == "abs" && n.kids.size() == 1; }
  static bool mentions_any(const Node& n, const Node& var) {
    std::set<std::string> names, here;
    collect_symbols(var, names);
    collect_symbols(n, here);
    return std::any_of(names.begin(), names.end(), [&](const std::string& s) { return here.count(s) > 0; });
  }

  static Rel flip(Rel r) {
    switch (r) {
      case Rel::lt: return Rel::gt;
      case Rel::le: return Rel::ge;
      case Rel::gt: return Rel::lt;
      case Rel::ge: return Rel::le;
      default: return r;
    }
  }

  bool endpoint_equal(const Node& a, const Node& b) {
    int sa = infinity_sign(a), sb = infinity_sign(b);
    if (sa || sb) return sa == sb;
    return equal(a, b);
  }

  bool equal_intervals(const std::vector<Iv>& a, const std::vector<Iv>& b) {
    if (a.size() != b.size()) return false;
    auto iv_eq = [&](const Iv& x, const Iv& y) {
      bool lc_ok = x.lc == y.lc || infinity_sign(x.lo) != 0;
      bool rc_ok = x.rc == y.rc || infinity_sign(x.hi) != 0;
      return lc_ok && rc_ok && endpoint_equal(x.lo, y.lo) && endpoint_equal(x.hi, y.hi);
    };
    std::vector<bool> used(b.size(), false);
    for (const auto& x : a) {
      bool found = false;
      for (size_t j = 0; j < b.size() && !found; ++j) {
        if (!used[j] && iv_eq(x, b[j])) {
          used[j] = true;
          found = true;
        }
      }
      if (!found) return false;
    }
    return true;
  }

  // ---- equations and other relations ----------------------------------------------------------------------------
  bool relations_equal(const Node& a, const Node& b) {
    if (a.ops.size() == 1 && b.ops.size() == 1) {
      Rel ra = a.ops[0], rb = b.ops[0];
      bool eq_a = ra == Rel::eq || ra == Rel::ne, eq_b = rb == Rel::eq || rb == Rel::ne;
      if (eq_a != eq_b) return false;
      if (eq_a) {
        if (ra != rb) return false;
        // Same left name: compare the values directly (cheap, and exact for "x = 3" vs "x = 3.0").
        if (a.kids[0].kind == Kind::symbol && b.kids[0].kind == Kind::symbol && a.kids[0].text == b.kids[0].text &&
            equal(a.kids[1], b.kids[1]))
          return true;
        return proportional(difference(a), difference(b), false);
      }
      // f < 0 form: flip > into <.
      Node fa = (ra == Rel::gt || ra == Rel::ge) ? difference_rev(a) : difference(a);
      Node fb = (rb == Rel::gt || rb == Rel::ge) ? difference_rev(b) : difference(b);
      bool strict_a = ra == Rel::lt || ra == Rel::gt, strict_b = rb == Rel::lt || rb == Rel::gt;
      if (strict_a != strict_b) return false;
      return proportional(fa, fb, true);
    }
    if (a.ops != b.ops || a.kids.size() != b.kids.size()) return false;
    for (size_t i = 0; i < a.kids.size(); ++i)
      if (!equal(a.kids[i], b.kids[i])) return false;
    return true;
  }

  static Node difference(const Node& r) {
    return Node::make(Kind::add, {r.kids[0], Node::make(Kind::neg, {r.kids[1]})});
  }
  static Node difference_rev(const Node& r) {
    return Node::make(Kind::add, {r.kids[1], Node::make(Kind::neg, {r.kids[0]})});
  }

  bool proportional(const Node& f, const Node& g, bool positive) {
    if (!is_scalar(f) || !is_scalar(g)) return false;
    std::set<std::string> syms;
    collect_symbols(f, syms);
    collect_symbols(g, syms);
    Numeric num(budget_);
    std::optional<Complex> ratio;
    int valid = 0;
    for (int p = 0; p < 6; ++p) {
      size_t idx = 0;
      for (const auto& s : syms) num.values[s] = sample_value(idx++, p);
      Complex vf = num.eval(f), vg = num.eval(g);
      if (!finite(vf) || !finite(vg) || std::abs(vg) < 1e-12) continue;
      Complex r = vf / vg;
      ++valid;
      if (!ratio) ratio = r;
      else if (!close(r, *ratio, 1e-8)) return false;
    }
    if (valid > 0 && (std::abs(*ratio) < 1e-12 || (positive && ratio->real() <= 0))) return false;
    auto g_verdict = ginac_proportional(f, g, positive, budget_.deadline());
    if (g_verdict) return *g_verdict;
    return valid > 0;
  }

  // ---- scalars ------------------------------------------------------------------------------------------------
  bool scalar_equal(const Node& a, const Node& b) {
    // Percentages: "50\%" matches 50 and 0.5 (questions ask "what percent" and graders accept either).
    if (a.kind == Kind::percent && b.kind == Kind::percent) return scalar_equal(a.kids[0], b.kids[0]);
    if (a.kind == Kind::percent) return scalar_equal(a.kids[0], b) || values_equal(percent_value(a), b);
    if (b.kind == Kind::percent) return scalar_equal(a, b.kids[0]) || values_equal(a, percent_value(b));
    // Degrees: "30^\circ" matches 30 and \pi/6.
    if (a.kind == Kind::degree && b.kind == Kind::degree) return scalar_equal(a.kids[0], b.kids[0]);
    if (a.kind == Kind::degree) return scalar_equal(a.kids[0], b) || values_equal(a, b);
    if (b.kind == Kind::degree) return scalar_equal(a, b.kids[0]) || values_equal(a, b);
    // Bases: "1011_2" matches 11 and the bare digits 1011.
    if (a.kind == Kind::based && b.kind == Kind::number && !b.decimal && b.text == a.text) return true;
    if (b.kind == Kind::based && a.kind == Kind::number && !a.decimal && a.text == b.text) return true;
    return values_equal(a, b);
  }

  static Node percent_value(const Node& p) {
    return Node::make(Kind::mul, {p.kids[0], Node::num(Rational(1, 100))});
  }

  // Decimals are exact rationals everywhere: a decimal equals only what it is exactly (0.5 = 1/2, 2.5\pi = 5\pi/2).
  // An approximation (1.4142 for \sqrt2, 0.333 for 1/3) matches only within options_.decimal_tolerance, off by
  // default: a policy trained against this grader must not learn that four digits of an irrational answer pay.
  bool values_equal(const Node& a, const Node& b) {
    int sa = infinity_sign(a), sb = infinity_sign(b);
    if (sa || sb) return sa == sb;
    bool floats = has_decimal(a) || has_decimal(b);
    double tol = floats ? options_.decimal_tolerance : 0.0;
    Exact exact(budget_);
    std::optional<Rational> ea = exact.eval(a), eb = exact.eval(b);
    if (ea && eb) {
      if (*ea == *eb) return true;
      return tol > 0 && close(Complex(ea->convert_to<double>()), Complex(eb->convert_to<double>()), tol);
    }
    std::set<std::string> syms;
    collect_symbols(a, syms);
    collect_symbols(b, syms);
    Numeric num(budget_);
    if (syms.empty()) {
      Complex va = num.eval(a), vb = num.eval(b);
      if (!finite(va) || !finite(vb)) {
        if (!finite(va) && !finite(vb)) return ginac_equal(a, b, budget_.deadline()).value_or(false);
        return false;
      }
      if (!close(va, vb, 1e-9)) return tol > 0 && close(va, vb, tol);
      // Agreement to double precision: GiNaC decides exactly (1.41421356237 is not \sqrt2 without a tolerance).
      auto g = ginac_equal(a, b, budget_.deadline());
      if (g && !*g) return tol > 0 && close(va, vb, tol);
      return g.value_or(!floats);
    }
    int valid = 0;
    bool loose = false;  // equal only within the decimal tolerance
    for (int p = 0; p < 6; ++p) {
      size_t idx = 0;
      for (const auto& s : syms) num.values[s] = sample_value(idx++, p);
      Complex va = num.eval(a), vb = num.eval(b);
      if (!finite(va) || !finite(vb)) continue;
      ++valid;
      if (close(va, vb, 1e-8)) continue;
      if (tol > 0 && close(va, vb, tol)) {
        loose = true;
        continue;
      }
      return false;
    }
    if (loose) return valid > 0;
    auto g = ginac_equal(a, b, budget_.deadline());
    if (g) return *g || (tol > 0 && valid > 0);
    return valid > 0;
  }

  Budget& budget_;
  const MathGradeOptions& options_;
};

}  // namespace

// The canonical name of a unit word ("centimeters" -> "cm"); "" for a word that is not a known unit.
std::string canonical_unit(std::string_view w_in) {
  static const std::map<std::string, std::string> table{
      {"mm", "mm"}, {"millimeter", "mm"}, {"millimeters", "mm"}, {"millimetre", "mm"}, {"millimetres", "mm"},
      {"cm", "cm"}, {"centimeter", "cm"}, {"centimeters", "cm"}, {"centimetre", "cm"}, {"centimetres", "cm"},
      {"m", "m"}, {"meter", "m"}, {"meters", "m"}, {"metre", "m"}, {"metres", "m"},
      {"km", "km"}, {"kilometer", "km"}, {"kilometers", "km"}, {"kilometre", "km"}, {"kilometres", "km"},
      {"in", "in"}, {"inch", "in"}, {"inches", "in"}, {"ft", "ft"}, {"foot", "ft"}, {"feet", "ft"},
      {"yd", "yd"}, {"yard", "yd"}, {"yards", "yd"}, {"mi", "mi"}, {"mile", "mi"}, {"miles", "mi"},
      {"mg", "mg"}, {"milligram", "mg"}, {"milligrams", "mg"}, {"g", "g"}, {"gram", "g"}, {"grams", "g"},
      {"kg", "kg"}, {"kilogram", "kg"}, {"kilograms", "kg"}, {"lb", "lb"}, {"lbs", "lb"}, {"pound", "lb"},
      {"pounds", "lb"}, {"oz", "oz"}, {"ounce", "oz"}, {"ounces", "oz"}, {"ton", "ton"}, {"tons", "ton"},
      {"s", "s"}, {"sec", "s"}, {"secs", "s"}, {"second", "s"}, {"seconds", "s"},
      {"min", "min"}, {"mins", "min"}, {"minute", "min"}, {"minutes", "min"},
      {"h", "h"}, {"hr", "h"}, {"hrs", "h"}, {"hour", "h"}, {"hours", "h"}, {"day", "day"}, {"days", "day"},
      {"week", "week"}, {"weeks", "week"}, {"month", "month"}, {"months", "month"}, {"yr", "yr"},
      {"yrs", "yr"}, {"year", "yr"}, {"years", "yr"},
      {"ml", "ml"}, {"milliliter", "ml"}, {"milliliters", "ml"}, {"l", "l"}, {"liter", "l"}, {"liters", "l"},
      {"litre", "l"}, {"litres", "l"}, {"gal", "gal"}, {"gallon", "gal"}, {"gallons", "gal"},
      {"dollar", "dollar"}, {"dollars", "dollar"}, {"usd", "dollar"}, {"cent", "cent"}, {"cents", "cent"},
      {"euro", "euro"}, {"euros", "euro"}, {"rad", "rad"}, {"radian", "rad"}, {"radians", "rad"},
      {"mph", "mph"}, {"kph", "kph"}, {"kmh", "kph"}, {"j", "J"}, {"joule", "J"}, {"joules", "J"},
      {"kj", "kJ"}, {"w", "W"}, {"watt", "W"}, {"watts", "W"}, {"kw", "kW"}, {"n", "N"}, {"newton", "N"},
      {"newtons", "N"}, {"pa", "Pa"}, {"hz", "Hz"}, {"ev", "eV"}, {"kev", "keV"}, {"mev", "MeV"}, {"gev", "GeV"},
      {"v", "V"}, {"volt", "V"}, {"volts", "V"}, {"k", "K"}, {"kelvin", "K"}, {"deg", "deg"},
      {"degree", "deg"}, {"degrees", "deg"}};
  std::string w;
  for (char c : w_in) w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Case carries the unit for a few: "mV" vs "MV", "Mpc"; the words above are case-free.
  auto it = table.find(w);
  return it == table.end() ? std::string() : it->second;
}

bool equivalent(const Node& a, const Node& b, Budget& budget, const MathGradeOptions& options) {
  Comparer c(budget, options);
  return c.equal(a, b);
}

std::string loose_string(std::string_view s) {
  // Braces and letter case stay: "2^{n+1}" is not "2^n+1", and "N" is not "n".
  static const std::string_view drop[] = {"\\left", "\\right", "\\displaystyle", "\\!", "\\,", "\\;", "\\ ", "$"};
  std::string out(s);
  for (auto d : drop) {
    size_t pos;
    while ((pos = out.find(d)) != std::string::npos) out.erase(pos, d.size());
  }
  // Whitespace collapses to one space but does not vanish: "58, 500" (two numbers) is not "58,500".
  std::string r;
  bool space = false;
  for (char c : out) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '~') {
      space = !r.empty();
      continue;
    }
    if (space) r += ' ';
    space = false;
    r += c;
  }
  while (!r.empty() && r.back() == '.') r.pop_back();
  return r;
}

}  // namespace crucible::verifiers::math
