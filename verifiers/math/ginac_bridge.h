// Internal: the only door to GiNaC. GiNaC's reference counts (on shared constants such as 0 and 1), its symbol
// serial numbers and `Digits` are process-global and not thread-safe, so every GiNaC object is created, used and
// destroyed under one lock inside these functions; nothing GiNaC-typed escapes. The lock is taken with the
// comparison's deadline; trees that could make normal() or evalf() slow are refused before GiNaC sees them.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "verifiers/math/answer.h"

namespace crucible::verifiers::math {

// true: a - b is zero (normal() proves it, or 40-digit evaluation at several points finds it zero to 1e-25);
// false: 40-digit evaluation finds a difference; nullopt: refused (too large, unsupported function, lock not free
// before the deadline) or GiNaC could not decide.
std::optional<bool> ginac_equal(const Node& a, const Node& b, std::chrono::steady_clock::time_point deadline);

// true when f / g normalises to a nonzero number (optionally: a positive one), i.e. the equations f = 0 and g = 0
// (or the inequalities f < 0, g < 0) are the same.
std::optional<bool> ginac_proportional(const Node& f, const Node& g, bool require_positive,
                                       std::chrono::steady_clock::time_point deadline);

}  // namespace crucible::verifiers::math
