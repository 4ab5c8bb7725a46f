// Internal: structural and scalar equivalence of two parsed answers.
#pragma once
#include "verifiers/math/answer.h"
#include "verifiers/math/math_verifier.h"

namespace crucible::verifiers::math {

// Throws BudgetExceeded when the budget runs out or a number is refused as too large.
bool equivalent(const Node& a, const Node& b, Budget& budget, const MathGradeOptions& options);

// Whitespace/markup-insensitive string form, the last resort when a side cannot be parsed.
std::string loose_string(std::string_view s);

}  // namespace crucible::verifiers::math
