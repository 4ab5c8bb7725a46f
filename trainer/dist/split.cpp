#include "trainer/dist/split.h"

#include <algorithm>
#include <numeric>

namespace crucible::trainer::dist {

std::vector<size_t> balanced_share(const std::vector<int64_t>& costs, int rank, int world_size) {
  std::vector<size_t> order(costs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<int64_t> load(static_cast<size_t>(world_size), 0);
  std::vector<size_t> mine;
  for (size_t i : order) {
    const auto r = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[r] += costs[i];
    if (static_cast<int>(r) == rank) mine.push_back(i);
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

Share contiguous_share(size_t n, int rank, int world_size) {
  const auto r = static_cast<size_t>(rank), w = static_cast<size_t>(world_size);
  const size_t base = n / w, extra = n % w;
  return {r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

}  // namespace crucible::trainer::dist
