// A fixed-size thread pool: grading workers, sandbox slots, tokenisation. submit() returns a future; the destructor
// drains the queue and joins, so no task outlives the pool. run_workers: N threads of one body, first error wins.
#pragma once
#include <atomic>
#include <condition_variable>
#include <exception>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace crucible {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads) {
    if (threads == 0) threads = 1;
    workers_.reserve(threads);
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { run(); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  size_t size() const { return workers_.size(); }

  template <typename F>
  auto submit(F&& f) -> std::future<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
    std::future<R> result = task->get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return result;
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  std::vector<std::thread> workers_;
  std::deque<std::function<void()>> queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

// `threads` threads each run `body(stop)` once (a body typically opens its own connection, then takes jobs from a
// shared atomic index until they run out or `stop` is set). The first exception sets `stop`, so the other bodies end
// at their next check, and is rethrown here once every thread has joined.
inline void run_workers(size_t threads, std::atomic<bool>& stop, const std::function<void(std::atomic<bool>&)>& body) {
  std::mutex error_mutex;
  std::exception_ptr first_error;
  std::vector<std::thread> running;
  running.reserve(threads);
  for (size_t t = 0; t < threads; ++t)
    running.emplace_back([&] {
      try {
        body(stop);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        stop.store(true);
      }
    });
  for (auto& t : running) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace crucible
