// Which items of a global batch this rank takes (torch-free). Deterministic: every rank computes the same split from
// the same costs, with no communication. Greedy longest-first: items in order of decreasing cost (ties: earlier
// first) each go to the rank with the least cost so far (ties: the lower rank). The returned indices (into `costs`)
// keep the batch's order. A rank may get nothing when there are fewer items than ranks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crucible::trainer::dist {

std::vector<size_t> balanced_share(const std::vector<int64_t>& costs, int rank, int world_size);

// Rank `rank`'s contiguous run [first, first + count) of n equal items (GRPO's prompt groups): the first n % W ranks
// take one more. Contiguous, so the ranks' shares laid end to end in rank order are the one-process order.
struct Share {
  size_t first = 0, count = 0;
};
Share contiguous_share(size_t n, int rank, int world_size);

}  // namespace crucible::trainer::dist
