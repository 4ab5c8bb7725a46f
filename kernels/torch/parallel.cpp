// kernels/torch/parallel.h.
#include "kernels/torch/parallel.h"

#include <mutex>
#include <set>
#include <thread>

namespace crucible::kernels {

int64_t parallel_for_threads(int64_t n) {
  std::mutex m;
  std::set<std::thread::id> seen;
  at::parallel_for(0, n, 1, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(m);
    seen.insert(std::this_thread::get_id());
  });
  return static_cast<int64_t>(seen.size());
}

}  // namespace crucible::kernels
