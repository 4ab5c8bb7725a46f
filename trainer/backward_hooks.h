// What a step's loop tells the data-parallel gradient sum about its backward passes (dist::GradReducer::hooks()).
// One process passes none. A loop with hooks calls plan() once, before its first backward (also when it runs none:
// with --shard it is a collective every rank makes), then before(last) and after() around every backward pass of
// the step, `last` true for the final one.
#pragma once
#include <cstdint>
#include <functional>

namespace crucible::trainer {

struct BackwardHooks {
  std::function<void(int64_t passes)> plan;  // how many backward passes this rank runs this step
  std::function<void(bool last)> before;
  std::function<void()> after;
  explicit operator bool() const { return static_cast<bool>(before); }
};

}  // namespace crucible::trainer
