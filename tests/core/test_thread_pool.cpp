#include <gtest/gtest.h>

#include <atomic>

#include "core/thread_pool.h"

TEST(ThreadPool, RunsEveryTaskAndReturnsResults) {
  std::atomic<int> count{0};
  std::vector<std::future<int>> results;
  {
    crucible::ThreadPool pool(3);
    for (int i = 0; i < 100; ++i) results.push_back(pool.submit([i, &count] { ++count; return i * i; }));
  }  // destructor drains the queue
  EXPECT_EQ(count.load(), 100);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(results[i].get(), i * i);
}

TEST(ThreadPool, PropagatesExceptions) {
  crucible::ThreadPool pool(1);
  auto f = pool.submit([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_THROW(f.get(), std::runtime_error);
}
