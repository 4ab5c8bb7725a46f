#include "verifiers/math/ginac_bridge.h"

#include <ginac/ginac.h>

#include <map>
#include <mutex>

namespace crucible::verifiers::math {
namespace {

std::timed_mutex& ginac_mutex() {
  static std::timed_mutex m;
  return m;
}

struct Refused {};

constexpr size_t kMaxGinacNodes = 400;
constexpr int kMaxSymbolicExponent = 24;   // normal() of (x+1)^n expands: keep n small
constexpr int kMaxNumericExponent = 512;

size_t count_nodes(const Node& n) {
  size_t c = 1;
  for (const auto& k : n.kids) c += count_nodes(k);
  return c;
}

bool is_numeric_constant(const Node& n) {
  if (n.kind == Kind::symbol) return false;
  for (const auto& k : n.kids)
    if (!is_numeric_constant(k)) return false;
  return true;
}

class Converter {
 public:
  GiNaC::ex convert(const Node& n) {
    using namespace GiNaC;
    switch (n.kind) {
      case Kind::number:
      case Kind::based: return rational(n.q);
      case Kind::symbol: {
        auto it = symbols_.find(n.text);
        if (it != symbols_.end()) return it->second;
        return symbols_.emplace(n.text, symbol(n.text)).first->second;
      }
      case Kind::pi: return Pi;
      case Kind::euler: return exp(ex(1));
      case Kind::imag: return I;
      case Kind::add: {
        ex s = 0;
        for (const auto& k : n.kids) s += convert(k);
        return s;
      }
      case Kind::mul: {
        ex p = 1;
        for (const auto& k : n.kids) p *= convert(k);
        return p;
      }
      case Kind::neg: return -convert(n.kids[0]);
      case Kind::pow: {
        ex base = convert(n.kids[0]);
        ex e = convert(n.kids[1]);
        if (is_a<numeric>(e)) {
          numeric ne = ex_to<numeric>(e);
          if (ne.is_integer()) {
            int limit = is_numeric_constant(n.kids[0]) ? kMaxNumericExponent : kMaxSymbolicExponent;
            if (abs(ne) > limit) throw Refused{};
          } else if (ne.is_rational()) {
            if (abs(ne.numer()) > kMaxSymbolicExponent || ne.denom() > kMaxSymbolicExponent) throw Refused{};
          }
        } else if (!is_numeric_constant(n.kids[1])) {
          // x^y with symbolic y is fine for normal(); numeric towers like 10^(10^10) are not.
        } else {
          throw Refused{};
        }
        return pow(base, e);
      }
      case Kind::func: return function(n);
      case Kind::factorial: {
        ex a = convert(n.kids[0]);
        if (!is_a<numeric>(a) || !ex_to<numeric>(a).is_nonneg_integer() || ex_to<numeric>(a) > 300)
          throw Refused{};
        return factorial(a);
      }
      case Kind::percent: return convert(n.kids[0]) / 100;
      case Kind::degree: return convert(n.kids[0]) * Pi / 180;
      default: throw Refused{};
    }
  }

  std::map<std::string, GiNaC::symbol>& symbols() { return symbols_; }

 private:
  static GiNaC::ex rational(const Rational& q) {
    using boost::multiprecision::denominator;
    using boost::multiprecision::numerator;
    std::string num = numerator(q).str(), den = denominator(q).str();
    if (num.size() + den.size() > 400) throw Refused{};
    return GiNaC::numeric(num.c_str()) / GiNaC::numeric(den.c_str());
  }

  GiNaC::ex function(const Node& n) {
    using namespace GiNaC;
    const std::string& f = n.text;
    if (n.kids.empty()) throw Refused{};
    ex a = convert(n.kids[0]);
    if (f == "log" && n.kids.size() == 2) return log(a) / log(convert(n.kids[1]));
    if (n.kids.size() == 2 && f == "binom") {
      ex k = convert(n.kids[1]);
      if (!is_a<numeric>(a) || !is_a<numeric>(k) || ex_to<numeric>(a) > 2000) throw Refused{};
      return binomial(a, k);
    }
    if (n.kids.size() != 1) throw Refused{};
    if (f == "sin") return sin(a);
    if (f == "cos") return cos(a);
    if (f == "tan") return tan(a);
    if (f == "cot") return 1 / tan(a);
    if (f == "sec") return 1 / cos(a);
    if (f == "csc") return 1 / sin(a);
    if (f == "arcsin" || f == "asin") return asin(a);
    if (f == "arccos" || f == "acos") return acos(a);
    if (f == "arctan" || f == "atan") return atan(a);
    if (f == "sinh") return sinh(a);
    if (f == "cosh") return cosh(a);
    if (f == "tanh") return tanh(a);
    if (f == "ln" || f == "log") return log(a);
    if (f == "exp") return exp(a);
    if (f == "sqrt") return sqrt(a);
    if (f == "abs") return abs(a);
    throw Refused{};
  }

  std::map<std::string, GiNaC::symbol> symbols_;
};

// Points for the high-precision check: exact rationals, so evalf() sees no rounding from the substitution.
GiNaC::ex point_value(size_t symbol_index, int point) {
  static const long nums[] = {7, 11, 13, 17, 19, 23, 29, 31};
  static const long dens[] = {5, 6, 9, 7, 11, 8, 13, 10};
  size_t k = (symbol_index * 3 + static_cast<size_t>(point) * 5) % 8;
  return GiNaC::numeric(nums[k], dens[k]);
}

// 40-digit evaluation of `d` (and a scale) at a few points; true if zero everywhere it could be evaluated.
std::optional<bool> zero_at_points(const GiNaC::ex& d, const GiNaC::ex& scale,
                                   std::map<std::string, GiNaC::symbol>& symbols) {
  using namespace GiNaC;
  long saved = Digits;
  Digits = 40;
  std::optional<bool> verdict;
  int points = symbols.empty() ? 1 : 3;
  for (int p = 0; p < points; ++p) {
    exmap m;
    size_t idx = 0;
    for (auto& [name, sym] : symbols) m[sym] = point_value(idx++, p);
    try {
      ex dv = d.subs(m).evalf();
      ex sv = scale.subs(m).evalf();
      if (!is_a<numeric>(dv) || !is_a<numeric>(sv)) continue;
      numeric diff = abs(ex_to<numeric>(dv));
      numeric size = abs(ex_to<numeric>(sv)) + 1;
      if (diff > size * numeric(1, 1000000) * numeric(1, 1000000) * numeric(1, 1000000) * numeric(1, 10000000)) {
        verdict = false;
        break;
      }
      verdict = true;
    } catch (const std::exception&) {
    }
  }
  Digits = saved;
  return verdict;
}

template <typename F>
std::optional<bool> with_ginac(std::chrono::steady_clock::time_point deadline, const F& body) {
  std::unique_lock lock(ginac_mutex(), std::defer_lock);
  if (!lock.try_lock_until(deadline)) return std::nullopt;
  try {
    return body();
  } catch (const Refused&) {
    return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;  // GiNaC signals poles, division by zero and the like with exceptions
  }
}

}  // namespace

std::optional<bool> ginac_equal(const Node& a, const Node& b, std::chrono::steady_clock::time_point deadline) {
  if (count_nodes(a) + count_nodes(b) > kMaxGinacNodes) return std::nullopt;
  return with_ginac(deadline, [&]() -> std::optional<bool> {
    Converter c;
    GiNaC::ex ea = c.convert(a);
    GiNaC::ex eb = c.convert(b);
    GiNaC::ex d = ea - eb;
    if (d.is_zero()) return true;
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    if (d.normal().is_zero()) return true;
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    return zero_at_points(d, GiNaC::abs(ea) + GiNaC::abs(eb), c.symbols());
  });
}

std::optional<bool> ginac_proportional(const Node& f, const Node& g, bool require_positive,
                                       std::chrono::steady_clock::time_point deadline) {
  if (count_nodes(f) + count_nodes(g) > kMaxGinacNodes) return std::nullopt;
  return with_ginac(deadline, [&]() -> std::optional<bool> {
    Converter c;
    GiNaC::ex ef = c.convert(f);
    GiNaC::ex eg = c.convert(g);
    if (eg.is_zero() || ef.is_zero()) return ef.is_zero() && eg.is_zero();
    GiNaC::ex r = (ef / eg).normal();
    if (!GiNaC::is_a<GiNaC::numeric>(r)) return false;
    const auto& num = GiNaC::ex_to<GiNaC::numeric>(r);
    if (num.is_zero() || !num.is_real()) return false;
    return !require_positive || num.is_positive();
  });
}

}  // namespace crucible::verifiers::math
