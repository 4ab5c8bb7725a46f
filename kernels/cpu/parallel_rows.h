// Rows split into contiguous ranges over std::threads. Kernels run between two large matmuls (the torch side), so
// there is nothing to overlap with: threads are started per call, and a call with few rows stays on this thread.
#pragma once
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace crucible::kernels::detail {

// fn(begin, end) over [0, n) in at most hardware_concurrency() ranges of at least min_rows rows each.
template <typename Fn>
void parallel_rows(int64_t n, int64_t min_rows, Fn&& fn) {
  const int64_t hw = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t parts = std::clamp<int64_t>(n / std::max<int64_t>(1, min_rows), 1, hw);
  if (parts <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(parts - 1));
  const int64_t per = (n + parts - 1) / parts;
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t b = p * per, e = std::min(n, b + per);
    if (b < e) threads.emplace_back([&fn, b, e] { fn(b, e); });
  }
  fn(int64_t{0}, std::min(n, per));
  for (auto& t : threads) t.join();
}

}  // namespace crucible::kernels::detail
